// The culler's sweep against a real database, on a fake clock: an idle kernel is warned, then culled and
// recorded; a busy kernel that prints nothing is not; "keep running" extends; two sweeps at once stop a
// kernel once; an admin's stop request and a "stop" budget policy are carried out.
import assert from "node:assert/strict";
import { randomUUID } from "node:crypto";
import { after, before, describe, it } from "node:test";
import { eq } from "drizzle-orm";
import type { Database } from "@/db";
import { kernels, kernelSessions } from "@/db/schema";
import { findKernel, markKernelDead, updateKernel, type KernelEndReason } from "@/db/queries/kernels";
import { upsertTeamCullPolicy } from "@/db/queries/quotas";
import type { UserRow } from "@/db/queries/users";
import { openTestDatabase, testDbKind } from "@/db/testing";
import { cliActor } from "@/server/identity/actor";
import { createTeam, createUser, setDisabled, setMembership } from "@/server/identity/users";
import { admitKernel, setTeamEnvelope } from "@/server/quota/service";
import { budgetMonth } from "@/server/quota/policy";
import { BUILTIN_SIZES } from "@/server/quota/sizes";
import { cullWarnings, keepAlive, requestStop } from "./service";
import { OWNER_DISABLED, sweep, type SweepDeps } from "./sweep";

const small = BUILTIN_SIZES.find((s) => s.name === "small")!;
const MIN = 60_000;

describe(`culling sweep on ${testDbKind}`, () => {
  let db: Database;
  let close: () => Promise<void>;
  let ana: UserRow;
  let team: { id: string; name: string };
  const stops: { id: string; reason: KernelEndReason; detail: string }[] = [];
  const deps = (): SweepDeps => ({
    db,
    // Stands in for KernelManager.stopKernel: the row goes dead with the reason (no real process here).
    stop: async (id, reason, detail) => {
      stops.push({ id, reason, detail });
      await markKernelDead(db, { id, reason, detail });
    },
  });
  /** A running kernel whose last activity was `idleMinutes` before `now`. */
  const running = async (now: Date, idleMinutes: number, state: "idle" | "busy" = "idle", user = ana, of = team) => {
    const id = randomUUID();
    await admitKernel(db, { kernelId: id, userId: user.id, team: of, kernelspec: "python3", launcher: "local", size: small, now: new Date(now.getTime() - 5 * 60 * MIN) });
    await updateKernel(db, id, { state, startedAt: new Date(now.getTime() - 5 * 60 * MIN), lastActivityAt: new Date(now.getTime() - idleMinutes * MIN) });
    return id;
  };

  before(async () => {
    ({ db, close } = await openTestDatabase());
    ana = await createUser(db, cliActor, { email: "ana@example.com", password: "analystpass" });
    team = await createTeam(db, cliActor, { name: "Fraud" });
    await setMembership(db, cliActor, { teamId: team.id, userId: ana.id, role: "member" });
    await upsertTeamCullPolicy(db, { teamId: team.id, idleTimeoutMinutes: 30, cullBusy: null, cullConnected: null, maxLifetimeHours: null, warningMinutes: 10 });
  });
  after(() => close());

  it("warns an idle kernel, culls it at the deadline, and records the cull", async () => {
    const now = new Date();
    const idle = await running(now, 20);
    const busy = await running(now, 600, "busy");
    const first = await sweep(deps(), now);
    assert.deepEqual(first.warned.map((w) => [w.kernelId, w.kind]), [[idle, "idle"]], "only the idle kernel is warned");
    const warnings = await cullWarnings(db, ana.id);
    assert.equal(warnings.length, 1);
    assert.equal(warnings[0]!.deadline!.toISOString(), new Date(now.getTime() + 10 * MIN).toISOString(), "deadline = last activity + 30 min");
    assert.equal(warnings[0]!.canKeepAlive, true);

    assert.equal((await sweep(deps(), new Date(now.getTime() + 9 * MIN))).stopped.length, 0, "not before the deadline");
    const late = await sweep(deps(), new Date(now.getTime() + 11 * MIN));
    assert.deepEqual(late.stopped.map((s) => [s.kernelId, s.reason]), [[idle, "culled"]]);
    const row = await findKernel(db, { id: idle });
    assert.equal(row?.state, "dead");
    assert.equal(row?.endReason, "culled");
    assert.match(row?.stateDetail ?? "", /idle for more than 30 min/);
    const [session] = await db.select().from(kernelSessions).where(eq(kernelSessions.kernelId, idle));
    assert.equal(session?.endReason, "culled", "the usage session records the cull");
    assert.ok(session?.endedAt);
    assert.equal((await findKernel(db, { id: busy }))?.state, "busy", "a busy kernel silent for 10 hours is not culled");
    assert.deepEqual(await cullWarnings(db, ana.id), []);
    await markKernelDead(db, { id: busy, reason: "stopped", detail: "test" });
  });

  it("spares a kernel whose client is connected to another replica: each replica's sweep says which kernels have its clients", async () => {
    const now = new Date();
    const watched = await running(now, 45); // past its idle time, with a browser attached on replica B
    // Replica B: holds the kernel with a client; another replica's sweep has the lock, so B's only says so.
    const replicaB: SweepDeps = { ...deps(), connectionsOf: () => 1, attachedHere: () => [watched], clientsSeenForMs: 90_000 };
    await sweep(replicaB, now);
    // Replica A acts, and holds no client of it (nor the kernel).
    const replicaA: SweepDeps = { ...deps(), connectionsOf: () => null, attachedHere: () => [], clientsSeenForMs: 90_000 };
    const acted = await sweep(replicaA, new Date(now.getTime() + 1_000));
    assert.deepEqual(acted.warned, [], "spared: a client is attached elsewhere");
    // Its client left B: the sighting lapses, and the kernel is culled as any idle one (warned first).
    const later = await sweep(replicaA, new Date(now.getTime() + 91_000));
    assert.deepEqual(later.warned.map((w) => w.kernelId), [watched]);
    await markKernelDead(db, { id: watched, reason: "stopped", detail: "test" });
  });

  it("keep running extends the kernel within the policy", async () => {
    const now = new Date();
    const id = await running(now, 25);
    await sweep(deps(), now);
    assert.equal((await cullWarnings(db, ana.id)).length, 1);
    const kept = await keepAlive(db, ana.id, id, new Date(now.getTime() + 1 * MIN));
    assert.equal(kept.idleDeadline.toISOString(), new Date(now.getTime() + 31 * MIN).toISOString());
    assert.deepEqual(await cullWarnings(db, ana.id), []);
    const after = await sweep(deps(), new Date(now.getTime() + 10 * MIN));
    assert.equal(after.stopped.length, 0, "not culled at the old deadline");
    assert.equal(after.warned.length, 0);
    // Someone else's kernel can't be kept alive.
    const other = await createUser(db, cliActor, { email: "other@example.com", password: "otherpass1" });
    await assert.rejects(keepAlive(db, other.id, id), /not running/);
    await markKernelDead(db, { id, reason: "stopped", detail: "test" });
  });

  it("two sweeps at once stop a kernel exactly once", async () => {
    const now = new Date();
    const id = await running(now, 25);
    await sweep(deps(), now);
    stops.length = 0;
    const later = new Date(now.getTime() + 16 * MIN);
    const results = await Promise.all([sweep(deps(), later), sweep(deps(), later), sweep(deps(), later)]);
    assert.deepEqual(stops.map((s) => s.id), [id]);
    assert.equal(results.reduce((n, r) => n + r.stopped.length, 0), 1);
  });

  it("leaves a paused launcher's kernels unwarned and uncut (a copied database hears nothing of them); an admin's stop still applies", async () => {
    const now = new Date();
    const id = await running(now, 600);
    await db.update(kernels).set({ launcher: "yarn" }).where(eq(kernels.id, id));
    const paused: SweepDeps = { ...deps(), isPaused: (launcher) => launcher === "yarn" };
    const first = await sweep(paused, now);
    assert.equal(first.warned.filter((w) => w.kernelId === id).length, 0, "not warned");
    assert.equal((await sweep(paused, new Date(now.getTime() + 60 * MIN))).stopped.length, 0, "not culled");
    assert.equal((await findKernel(db, { id }))?.state, "idle");
    await requestStop(db, cliActor, id);
    assert.deepEqual((await sweep(paused, now)).stopped.map((s) => s.kernelId), [id]);
  });

  it("carries out an admin's stop request at the next sweep", async () => {
    const now = new Date();
    const id = await running(now, 0);
    await requestStop(db, cliActor, id);
    const result = await sweep(deps(), now);
    assert.deepEqual(result.stopped.map((s) => [s.kernelId, s.reason]), [[id, "stopped"]]);
  });

  it("stops the kernels of a disabled account at the next sweep, once, however active they are", async () => {
    const now = new Date();
    const leaver = await createUser(db, cliActor, { email: "leaver@example.com", password: "leaverpass" });
    await setMembership(db, cliActor, { teamId: team.id, userId: leaver.id, role: "member" });
    const busy = await running(now, 0, "busy", leaver);
    const kept = await running(now, 0, "busy");
    await setDisabled(db, cliActor, leaver.id, true);
    const result = await sweep(deps(), now);
    assert.deepEqual(result.stopped.map((s) => [s.kernelId, s.reason, s.detail]), [[busy, "stopped", OWNER_DISABLED]]);
    assert.equal((await findKernel(db, { id: kept }))?.state, "busy", "other people's kernels are left alone");
    assert.deepEqual((await sweep(deps(), new Date(now.getTime() + MIN))).stopped, []);
  });

  it("stops running kernels after the grace time when the team's budget policy says stop", async () => {
    const spender = await createUser(db, cliActor, { email: "spender@example.com", password: "spenderpass" });
    // A team of its own: the 3 vCore-hour envelope is the team's, and the kernels of the tests above (admitted
    // 5 h before the clock) count in it when the clock is in a month's first hours.
    const spenders = await createTeam(db, cliActor, { name: "Spenders" });
    await setMembership(db, cliActor, { teamId: spenders.id, userId: spender.id, role: "member" });
    await setTeamEnvelope(db, cliActor, { teamId: spenders.id, limits: { maxKernels: null, maxVcores: null, maxMemoryMb: null, maxGpus: null, monthlyVcoreHours: 3 }, overBudgetAction: "stop", overBudgetGraceMinutes: 15 });
    // Budgets are per UTC month: in the month's first 5 hours a kernel started 5 h ago has used less than 3
    // vCore-hours of this month (CI once ran at 00:12 on the 1st), so the sweep happens at least 6 h into it.
    const clock = new Date();
    const now = new Date(Math.max(clock.getTime(), budgetMonth(clock).start.getTime() + 6 * 60 * MIN));
    const id = await running(now, 0, "busy", spender, spenders); // 1 vCore for 5 h = 5 vCore-hours > 3
    const warned = await sweep(deps(), now);
    assert.deepEqual(warned.warned.filter((w) => w.kernelId === id).map((w) => [w.kind, w.deadline?.toISOString()]), [["budget", new Date(now.getTime() + 15 * MIN).toISOString()]]);
    const stopped = await sweep(deps(), new Date(now.getTime() + 16 * MIN));
    assert.deepEqual(stopped.stopped.map((s) => [s.kernelId, s.reason]), [[id, "quota"]]);
    assert.equal((await db.select().from(kernels).where(eq(kernels.id, id)))[0]?.endReason, "quota");
  });
});
