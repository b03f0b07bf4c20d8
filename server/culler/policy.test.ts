// Culling policy, by tables of cases on a fake clock.
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { boundsViolations, decideBudget, decideCull, DEFAULT_CULL_BOUNDS, effectiveCullPolicy, keepAliveUntil, NO_LIFETIME_LIMIT, policyViolations, type CullPolicy, type CullStep, type CullWarnings, type KernelFacts, type StoredCullPolicy, type WarningFacts } from "./policy";

const T0 = Date.parse("2026-11-17T08:00:00Z");
const at = (min: number) => new Date(T0 + min * 60_000);
const policy: CullPolicy = { idleTimeoutMinutes: 60, cullBusy: false, cullConnected: false, maxLifetimeHours: null, warningMinutes: 10 };
const kernel = (f: Partial<KernelFacts> = {}): KernelFacts => ({ state: "idle", lastActivityAt: at(0), startedAt: at(0), connections: 0, ...f });
const warned = (kind: WarningFacts["kind"], warnedMin: number, deadlineMin: number | null): WarningFacts => ({ kind, warnedAt: at(warnedMin), deadline: deadlineMin === null ? null : at(deadlineMin) });

describe("decideCull", () => {
  /** Warnings as the sweep passes them, by kind. */
  const shown = (...ws: WarningFacts[]): CullWarnings => ({ idle: ws.find((w) => w.kind === "idle") ?? null, lifetime: ws.find((w) => w.kind === "lifetime") ?? null });
  /** Steps in brief: "warn idle @60" (deadline in minutes after T0), "clear lifetime", "cull idle". */
  const brief = (steps: CullStep[]) => steps.map((s) => `${s.action} ${s.kind}${s.action === "warn" ? ` @${(s.deadline.getTime() - T0) / 60_000}` : ""}`);
  const cases: { name: string; k?: Partial<KernelFacts>; p?: Partial<CullPolicy>; w?: WarningFacts[]; now: number; steps: string[] }[] = [
    { name: "recently active: nothing", now: 30, steps: [] },
    { name: "inside the warning lead: warn with the idle deadline", now: 50, steps: ["warn idle @60"] },
    { name: "past the deadline without a warning: warn first, full lead time", now: 90, steps: ["warn idle @100"] },
    { name: "warned, deadline not reached: wait", w: [warned("idle", 50, 60)], now: 55, steps: [] },
    { name: "warned and deadline passed, still idle: cull", w: [warned("idle", 50, 60)], now: 61, steps: ["cull idle"] },
    { name: "activity after the warning clears it", k: { lastActivityAt: at(52) }, w: [warned("idle", 50, 60)], now: 61, steps: ["clear idle"] },
    { name: "busy and silent for hours is not idle (default)", k: { state: "busy" }, now: 600, steps: [] },
    { name: "busy warned kernel: the warning is cleared", k: { state: "busy" }, w: [warned("idle", 50, 60)], now: 61, steps: ["clear idle"] },
    { name: "busy kernels are culled when the team says so", k: { state: "busy" }, p: { cullBusy: true }, now: 55, steps: ["warn idle @65"] },
    { name: "a connected kernel is not culled by default", k: { connections: 1 }, now: 600, steps: [] },
    { name: "a connected kernel is culled when allowed", k: { connections: 2 }, p: { cullConnected: true }, now: 55, steps: ["warn idle @65"] },
    { name: "unknown connections (another replica) count as none", k: { connections: null }, now: 55, steps: ["warn idle @65"] },
    { name: "starting kernels are left alone", k: { state: "starting" }, now: 600, steps: [] },
    { name: "lifetime: warned before the end even while busy", k: { state: "busy", lastActivityAt: at(235) }, p: { maxLifetimeHours: 4 }, now: 230, steps: ["warn lifetime @240"] },
    { name: "a lifetime warning is added beside an idle one", p: { maxLifetimeHours: 1 }, w: [warned("idle", 50, 60)], now: 55, steps: ["warn lifetime @65"] },
    { name: "lifetime: cull at the deadline", k: { state: "busy" }, p: { maxLifetimeHours: 4 }, w: [warned("lifetime", 230, 240)], now: 240, steps: ["cull lifetime"] },
    { name: "lifetime: activity does not clear it", k: { lastActivityAt: at(239) }, p: { maxLifetimeHours: 4 }, w: [warned("lifetime", 230, 240)], now: 239.5, steps: [] },
    { name: "a kernel warned for its lifetime gets no idle warning (the lifetime ends it first)", p: { maxLifetimeHours: 4 }, w: [warned("lifetime", 230, 240)], now: 235, steps: [] },
    // Regressions (review finding 3): a lifetime warning followed the policy that gave it, not the one in force.
    { name: "lifetime limit removed: the warning is cleared and idle culling applies again", p: { maxLifetimeHours: null }, w: [warned("lifetime", 230, 240)], now: 600, steps: ["clear lifetime", "warn idle @610"] },
    { name: "lifetime raised beyond the warning time: the warning is cleared", k: { lastActivityAt: at(235) }, p: { maxLifetimeHours: 6 }, w: [warned("lifetime", 230, 240)], now: 239, steps: ["clear lifetime"] },
    { name: "lifetime raised within the warning time: the deadline moves to the new end", k: { state: "busy" }, p: { maxLifetimeHours: 4, warningMinutes: 90 }, w: [warned("lifetime", 90, 180)], now: 170, steps: ["warn lifetime @240"] },
    { name: "lifetime (and warning) lowered: the deadline comes earlier, the full warning time from now", k: { state: "busy" }, p: { maxLifetimeHours: 4 }, w: [warned("lifetime", 300, 360)], now: 305, steps: ["warn lifetime @315"] },
    { name: "lifetime lowered: the deadline shown stands when it is within the warning time", k: { state: "busy" }, p: { maxLifetimeHours: 4 }, w: [warned("lifetime", 350, 360)], now: 352, steps: [] },
    // Regressions (review of finding 3's fix): an idle warning followed the idle timeout that gave it.
    { name: "idle timeout raised beyond the warning time after a warning: cleared", p: { idleTimeoutMinutes: 480 }, w: [warned("idle", 50, 60)], now: 55, steps: ["clear idle"] },
    { name: "idle timeout raised within the warning time: the deadline moves to the new end", p: { idleTimeoutMinutes: 65 }, w: [warned("idle", 50, 60)], now: 58, steps: ["warn idle @65"] },
    { name: "idle timeout lowered: never less than the warning time after the warning", p: { idleTimeoutMinutes: 55 }, w: [warned("idle", 50, 60)], now: 56, steps: [] },
    { name: "an idle warning shown before the lifetime warning is still carried out", p: { maxLifetimeHours: 1 }, w: [warned("idle", 50, 60), warned("lifetime", 55, 65)], now: 61, steps: ["cull idle"] },
  ];
  for (const c of cases) {
    it(c.name, () => assert.deepEqual(brief(decideCull(kernel(c.k), { ...policy, ...c.p }, shown(...(c.w ?? [])), at(c.now))), c.steps));
  }
});

describe("team policy inside the admin's bounds", () => {
  const none: StoredCullPolicy = { idleTimeoutMinutes: null, cullBusy: null, cullConnected: null, maxLifetimeHours: null, warningMinutes: null };
  it("defaults", () => assert.deepEqual(effectiveCullPolicy(null, DEFAULT_CULL_BOUNDS), { idleTimeoutMinutes: 60, warningMinutes: 10, cullBusy: false, cullConnected: false, maxLifetimeHours: null }));
  const cases: [string, Partial<StoredCullPolicy>, Partial<typeof DEFAULT_CULL_BOUNDS>, number][] = [
    ["inside", { idleTimeoutMinutes: 30, warningMinutes: 5 }, {}, 0],
    ["idle timeout too short (and shorter than the default warning)", { idleTimeoutMinutes: 1 }, {}, 2],
    // Regressions (review finding 5): a warning longer than the timeout warned kernels used moments ago.
    ["idle timeout shorter than the default warning", { idleTimeoutMinutes: 5 }, {}, 1],
    ["idle timeout equal to the warning (warned as soon as it goes quiet)", { idleTimeoutMinutes: 15, warningMinutes: 15 }, {}, 0],
    ["warning longer than a default idle timeout", { warningMinutes: 90 }, {}, 1],
    ["lifetime above the cap", { maxLifetimeHours: 100 }, { maxLifetimeHours: { max: 72, default: 24 } }, 1],
    ["cull busy not allowed", { cullBusy: true }, { allowCullBusy: false }, 1],
    ["no lifetime limit where the admin sets no maximum", { maxLifetimeHours: NO_LIFETIME_LIMIT }, { maxLifetimeHours: { max: null, default: 24 } }, 0],
    ["no lifetime limit where the admin sets a maximum", { maxLifetimeHours: NO_LIFETIME_LIMIT }, { maxLifetimeHours: { max: 72, default: 24 } }, 1],
  ];
  for (const [name, stored, bounds, problems] of cases) {
    it(name, () => assert.equal(policyViolations({ ...none, ...stored }, { ...DEFAULT_CULL_BOUNDS, ...bounds }).length, problems));
  }
  it("says what to do about a warning longer than the idle timeout", () =>
    assert.deepEqual(policyViolations({ ...none, idleTimeoutMinutes: 5 }, DEFAULT_CULL_BOUNDS), [
      "the warning time (10 min, the default) must not be longer than the idle timeout (5 min), or kernels used moments ago would be warned and kept for the warning time: set a longer idle timeout or a shorter warning time",
    ]));
  it("a stored warning longer than the idle timeout is cut to it: the kernel is culled at the timeout, not the warning time", () => {
    const p = effectiveCullPolicy({ ...none, idleTimeoutMinutes: 5 }, DEFAULT_CULL_BOUNDS);
    assert.equal(p.warningMinutes, 5);
    const [step] = decideCull(kernel({ lastActivityAt: at(-0.5) }), p, { idle: null, lifetime: null }, at(0));
    assert.equal(step?.action, "warn");
    assert.equal(step?.action === "warn" && step.deadline.toISOString(), at(5).toISOString(), "the full (cut) warning time, not 10 min");
  });
  it("bounds whose default warning is longer than the default idle timeout are refused", () => {
    assert.equal(boundsViolations(DEFAULT_CULL_BOUNDS).length, 0);
    assert.equal(boundsViolations({ ...DEFAULT_CULL_BOUNDS, idleTimeoutMinutes: { min: 5, max: 60, default: 10 } }).length, 0, "equal is allowed");
    assert.equal(boundsViolations({ ...DEFAULT_CULL_BOUNDS, idleTimeoutMinutes: { min: 5, max: 60, default: 9 } }).length, 1);
  });
  it("bounds whose default lifetime is longer than the most a team may choose are refused (QA: they were saved)", () => {
    assert.deepEqual(boundsViolations({ ...DEFAULT_CULL_BOUNDS, maxLifetimeHours: { max: 2, default: 10 } }), [
      "the default maximum lifetime (10 h) must not be longer than the most a team may choose (2 h)",
    ]);
    assert.deepEqual(boundsViolations({ ...DEFAULT_CULL_BOUNDS, maxLifetimeHours: { max: 2, default: 2 } }), []);
    assert.deepEqual(boundsViolations({ ...DEFAULT_CULL_BOUNDS, maxLifetimeHours: { max: null, default: 10 } }), []);
    assert.deepEqual(boundsViolations({ ...DEFAULT_CULL_BOUNDS, maxLifetimeHours: { max: 2, default: null } }), [], "no default: the most applies");
  });
  it("a team's explicit no-limit overrides the admin's default lifetime; empty follows it; a maximum set later caps it", () => {
    const bounds = { ...DEFAULT_CULL_BOUNDS, maxLifetimeHours: { max: null, default: 24 } };
    assert.equal(effectiveCullPolicy({ ...none, maxLifetimeHours: NO_LIFETIME_LIMIT }, bounds).maxLifetimeHours, null);
    assert.equal(effectiveCullPolicy({ ...none }, bounds).maxLifetimeHours, 24);
    const capped = { ...DEFAULT_CULL_BOUNDS, maxLifetimeHours: { max: 72, default: 24 } };
    assert.equal(effectiveCullPolicy({ ...none, maxLifetimeHours: NO_LIFETIME_LIMIT }, capped).maxLifetimeHours, 72);
    assert.deepEqual(policyViolations({ ...none, maxLifetimeHours: NO_LIFETIME_LIMIT }, capped), ["kernels cannot run without a lifetime limit: the admin's bound is at most 72 hours"]);
  });
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
  const b = (used: number, action: "keep" | "stop" = "keep", budget: number | null = 200, graceMinutes = 30) => ({ used, budget, action, graceMinutes, renews });
  const cases: [string, ReturnType<typeof b>, WarningFacts | null, number, string, number | null | undefined][] = [
    ["under budget", b(100), null, 0, "none", undefined],
    ["no budget", b(1e9, "stop", null), null, 0, "none", undefined],
    ["at 100%, keep: warn without deadline", b(200), null, 0, "warn", null],
    ["at 100%, stop: warn with the grace deadline", b(201, "stop"), null, 0, "warn", 30],
    ["stop: grace not over", b(201, "stop"), warned("budget", 0, 30), 20, "none", undefined],
    ["stop: grace over: cull", b(201, "stop"), warned("budget", 0, 30), 30, "cull", undefined],
    ["keep: warned stays", b(250), warned("budget", 0, null), 600, "none", undefined],
    ["budget raised: clear", b(100), warned("budget", 0, null), 10, "clear", undefined],
    // Regressions (review finding 2): a budget warning kept the action and grace of the policy that gave it.
    ["keep changed to stop: a deadline, the full grace from now", b(250, "stop"), warned("budget", 0, null), 300, "warn", 330],
    ["stop changed to keep: the pending stop is called off", b(250, "keep"), warned("budget", 0, 30), 20, "warn", null],
    ["grace lengthened: the deadline moves later", b(250, "stop", 200, 60), warned("budget", 0, 30), 20, "warn", 60],
    ["grace shortened: earlier, but the new grace from now", b(250, "stop", 200, 10), warned("budget", 0, 30), 5, "warn", 15],
    ["grace shortened after that: the deadline shown stands", b(250, "stop", 200, 10), warned("budget", 5, 15), 10, "none", undefined],
    ["grace shortened, the deadline shown comes first: it stands", b(250, "stop", 200, 10), warned("budget", 0, 30), 25, "none", undefined],
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
  it("a re-issued deadline holds at the next sweeps", () => {
    const facts = b(250, "stop", 200, 10);
    const first = decideBudget(facts, warned("budget", 0, 30), at(5));
    assert.ok(first.action === "warn" && first.deadline);
    const again = { kind: "budget" as const, warnedAt: first.warnedAt, deadline: first.deadline };
    assert.equal(decideBudget(facts, again, at(6)).action, "none");
    assert.equal(decideBudget(facts, again, at(15)).action, "cull");
  });
});
