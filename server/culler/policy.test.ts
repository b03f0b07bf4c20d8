// Culling policy, by tables of cases on a fake clock.
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { decideBudget, decideCull, DEFAULT_CULL_BOUNDS, effectiveCullPolicy, keepAliveUntil, policyViolations, type CullPolicy, type KernelFacts, type StoredCullPolicy, type WarningFacts } from "./policy";

const T0 = Date.parse("2026-11-17T08:00:00Z");
const at = (min: number) => new Date(T0 + min * 60_000);
const policy: CullPolicy = { idleTimeoutMinutes: 60, cullBusy: false, cullConnected: false, maxLifetimeHours: null, warningMinutes: 10 };
const kernel = (f: Partial<KernelFacts> = {}): KernelFacts => ({ state: "idle", lastActivityAt: at(0), startedAt: at(0), connections: 0, ...f });
const warned = (kind: WarningFacts["kind"], warnedMin: number, deadlineMin: number | null): WarningFacts => ({ kind, warnedAt: at(warnedMin), deadline: deadlineMin === null ? null : at(deadlineMin) });

describe("decideCull", () => {
  const cases: { name: string; k?: Partial<KernelFacts>; p?: Partial<CullPolicy>; w?: WarningFacts | null; now: number; action: string; kind?: string; deadline?: number }[] = [
    { name: "recently active: nothing", now: 30, action: "none" },
    { name: "inside the warning lead: warn with the idle deadline", now: 50, action: "warn", kind: "idle", deadline: 60 },
    { name: "past the deadline without a warning: warn first, full lead time", now: 90, action: "warn", kind: "idle", deadline: 100 },
    { name: "warned, deadline not reached: wait", w: warned("idle", 50, 60), now: 55, action: "none" },
    { name: "warned and deadline passed, still idle: cull", w: warned("idle", 50, 60), now: 61, action: "cull", kind: "idle" },
    { name: "activity after the warning clears it", k: { lastActivityAt: at(52) }, w: warned("idle", 50, 60), now: 61, action: "clear" },
    { name: "busy and silent for hours is not idle (default)", k: { state: "busy" }, now: 600, action: "none" },
    { name: "busy warned kernel: the warning is cleared", k: { state: "busy" }, w: warned("idle", 50, 60), now: 61, action: "clear" },
    { name: "busy kernels are culled when the team says so", k: { state: "busy" }, p: { cullBusy: true }, now: 55, action: "warn", kind: "idle" },
    { name: "a connected kernel is not culled by default", k: { connections: 1 }, now: 600, action: "none" },
    { name: "a connected kernel is culled when allowed", k: { connections: 2 }, p: { cullConnected: true }, now: 55, action: "warn" },
    { name: "unknown connections (another replica) count as none", k: { connections: null }, now: 55, action: "warn" },
    { name: "starting kernels are left alone", k: { state: "starting" }, now: 600, action: "none" },
    { name: "lifetime: warned before the end even while busy", k: { state: "busy", lastActivityAt: at(235) }, p: { maxLifetimeHours: 4 }, now: 230, action: "warn", kind: "lifetime", deadline: 240 },
    { name: "lifetime warning replaces an idle one", p: { maxLifetimeHours: 1 }, w: warned("idle", 50, 60), now: 55, action: "warn", kind: "lifetime", deadline: 65 },
    { name: "lifetime: cull at the deadline", k: { state: "busy" }, p: { maxLifetimeHours: 4 }, w: warned("lifetime", 231, 240), now: 240, action: "cull", kind: "lifetime" },
    { name: "lifetime: activity does not clear it", k: { lastActivityAt: at(239) }, p: { maxLifetimeHours: 4 }, w: warned("lifetime", 231, 240), now: 239.5, action: "none" },
  ];
  for (const c of cases) {
    it(c.name, () => {
      const d = decideCull(kernel(c.k), { ...policy, ...c.p }, c.w ?? null, at(c.now));
      assert.equal(d.action, c.action);
      if (c.kind) assert.equal((d as { kind: string }).kind, c.kind);
      if (c.deadline !== undefined) assert.equal((d as { deadline: Date }).deadline.toISOString(), at(c.deadline).toISOString());
    });
  }
});

describe("team policy inside the admin's bounds", () => {
  const none: StoredCullPolicy = { idleTimeoutMinutes: null, cullBusy: null, cullConnected: null, maxLifetimeHours: null, warningMinutes: null };
  it("defaults", () => assert.deepEqual(effectiveCullPolicy(null, DEFAULT_CULL_BOUNDS), { idleTimeoutMinutes: 60, warningMinutes: 10, cullBusy: false, cullConnected: false, maxLifetimeHours: null }));
  const cases: [string, Partial<StoredCullPolicy>, Partial<typeof DEFAULT_CULL_BOUNDS>, number][] = [
    ["inside", { idleTimeoutMinutes: 30, warningMinutes: 5 }, {}, 0],
    ["idle timeout too short", { idleTimeoutMinutes: 1 }, {}, 1],
    ["lifetime above the cap", { maxLifetimeHours: 100 }, { maxLifetimeHours: { max: 72, default: 24 } }, 1],
    ["cull busy not allowed", { cullBusy: true }, { allowCullBusy: false }, 1],
  ];
  for (const [name, stored, bounds, problems] of cases) {
    it(name, () => assert.equal(policyViolations({ ...none, ...stored }, { ...DEFAULT_CULL_BOUNDS, ...bounds }).length, problems));
  }
  it("stored values outside changed bounds are clamped", () => {
    const p = effectiveCullPolicy({ ...none, idleTimeoutMinutes: 2, maxLifetimeHours: 100 }, { ...DEFAULT_CULL_BOUNDS, maxLifetimeHours: { max: 72, default: null } });
    assert.equal(p.idleTimeoutMinutes, 5);
    assert.equal(p.maxLifetimeHours, 72);
  });
});

describe("keep running", () => {
  it("restarts the idle timeout", () => assert.equal(keepAliveUntil(policy, at(0), at(100)).idleDeadline.toISOString(), at(160).toISOString()));
  it("never past the lifetime", () => {
    const r = keepAliveUntil({ ...policy, maxLifetimeHours: 2 }, at(0), at(100));
    assert.deepEqual([r.idleDeadline.toISOString(), r.capped], [at(120).toISOString(), true]);
  });
});

describe("decideBudget", () => {
  const renews = new Date("2026-12-01T00:00:00Z");
  const b = (used: number, action: "keep" | "stop" = "keep", budget: number | null = 200) => ({ used, budget, action, graceMinutes: 30, renews });
  const cases: [string, ReturnType<typeof b>, WarningFacts | null, number, string, number | null | undefined][] = [
    ["under budget", b(100), null, 0, "none", undefined],
    ["no budget", b(1e9, "stop", null), null, 0, "none", undefined],
    ["at 100%, keep: warn without deadline", b(200), null, 0, "warn", null],
    ["at 100%, stop: warn with the grace deadline", b(201, "stop"), null, 0, "warn", 30],
    ["stop: grace not over", b(201, "stop"), warned("budget", 0, 30), 20, "none", undefined],
    ["stop: grace over: cull", b(201, "stop"), warned("budget", 0, 30), 30, "cull", undefined],
    ["keep: warned stays", b(250), warned("budget", 0, null), 600, "none", undefined],
    ["budget raised: clear", b(100), warned("budget", 0, null), 10, "clear", undefined],
  ];
  for (const [name, facts, w, now, action, deadline] of cases) {
    it(name, () => {
      const d = decideBudget(facts, w, at(now));
      assert.equal(d.action, action);
      if (deadline !== undefined) {
        const got = (d as { deadline: Date | null }).deadline;
        assert.equal(got === null ? null : got.toISOString(), deadline === null ? null : at(deadline).toISOString());
      }
      if (d.action === "warn") assert.match(d.message, /2026-12-01/);
    });
  }
});
