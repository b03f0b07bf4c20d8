// Regressions (review finding 1): the sweep claims a kernel before stopping it, and a claim whose stop never
// happened (the stop failed, or the replica went away between the sweep's commit and the stop) stayed for good:
// the kernel ran on, its warning was hidden, and even an admin's stop request skipped it. A failed stop is now
// tried again at the next sweep; a claim left by a replica that went away lapses; a claim still standing keeps
// a second replica from stopping the kernel too. On a fixed clock, whatever the date.
import assert from "node:assert/strict";
import { randomUUID } from "node:crypto";
import { after, before, describe, it } from "node:test";
import type { Database } from "@/db";
import { findKernel, markKernelDead, updateKernel, type KernelEndReason } from "@/db/queries/kernels";
import { upsertTeamCullPolicy } from "@/db/queries/quotas";
import { claimKernelStop } from "@/db/queries/usage";
import type { UserRow } from "@/db/queries/users";
import { openTestDatabase, testDbKind } from "@/db/testing";
import { cliActor } from "@/server/identity/actor";
import { createTeam, createUser, setMembership } from "@/server/identity/users";
import { admitKernel } from "@/server/quota/service";
import { BUILTIN_SIZES } from "@/server/quota/sizes";
import { cullWarnings, requestStop } from "./service";
import { STOP_CLAIM_EXPIRES_MS, sweep, type SweepDeps } from "./sweep";

const small = BUILTIN_SIZES.find((s) => s.name === "small")!;
const MIN = 60_000;
const T0 = Date.UTC(2026, 10, 17, 12);
const at = (min: number) => new Date(T0 + min * MIN);

describe(`culler stop claims on ${testDbKind}`, () => {
  let db: Database;
  let close: () => Promise<void>;
  let ana: UserRow;
  let team: { id: string; name: string };
  const stops: { id: string; reason: KernelEndReason }[] = [];
  /** KernelManager.stopKernel's stand-in: the row goes dead; `failures` stops fail first (a database blip). */
  const deps = (failures = 0): SweepDeps => ({
    db,
    stop: async (id, reason, detail) => {
      if (failures-- > 0) throw new Error("connection reset");
      stops.push({ id, reason });
      await markKernelDead(db, { id, reason, detail });
    },
  });
  /** An idle kernel last used 25 min before T0: warned at the sweep at T0 (idle 30, warning 10), due at T0 + 10. */
  const idleKernel = async () => {
    const id = randomUUID();
    await admitKernel(db, { kernelId: id, userId: ana.id, team, kernelspec: "python3", launcher: "local", size: small, now: at(-300) });
    await updateKernel(db, id, { state: "idle", startedAt: at(-300), lastActivityAt: at(-25) });
    assert.deepEqual((await sweep(deps(), at(0))).warned.map((w) => [w.kernelId, w.kind]), [[id, "idle"]]);
    stops.length = 0;
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

  it("a stop that failed is tried again at the next sweep, and the warning stays shown meanwhile", async () => {
    const id = await idleKernel();
    const flaky = deps(1);
    const failed = await sweep(flaky, at(11));
    assert.equal(failed.stopped.length, 0);
    assert.equal((await findKernel(db, { id }))?.state, "idle");
    assert.deepEqual((await cullWarnings(db, ana.id)).map((w) => [w.kernelId, w.kind]), [[id, "idle"]], "still shown: the claim was given back");
    const retried = await sweep(flaky, at(12));
    assert.deepEqual(retried.stopped.map((s) => [s.kernelId, s.reason]), [[id, "culled"]]);
    assert.equal((await findKernel(db, { id }))?.state, "dead");
  });

  it("a claim left by a replica that went away lapses: a later sweep stops the kernel, an admin's request included, and none stops it twice meanwhile", async () => {
    const id = await idleKernel();
    // Another replica's sweep claimed it at T0 + 11, then went away before stopping it.
    assert.equal(await claimKernelStop(db, { kernelId: id, kind: "idle", at: at(11) }), true);
    assert.equal((await sweep(deps(), at(12))).stopped.length, 0, "the claim stands: that stop may still be under way");
    await requestStop(db, cliActor, id);
    assert.equal((await sweep(deps(), at(13))).stopped.length, 0, "the admin's request waits for the claim too");
    const lapsed = await sweep(deps(), new Date(at(11).getTime() + STOP_CLAIM_EXPIRES_MS + MIN));
    assert.deepEqual(lapsed.stopped.map((s) => [s.kernelId, s.reason]), [[id, "stopped"]], "the admin's stop, once the claim lapsed");
    assert.deepEqual(stops.map((s) => s.id), [id], "stopped once");
    assert.equal((await findKernel(db, { id }))?.state, "dead");
  });

  it("a sweep whose stops outlast the claim does not stop a kernel another sweep claimed since", async () => {
    // Two kernels warned at T0 (one sweep each, as idleKernel does); replica A claims both at T0 + 11.
    const first = await idleKernel();
    const second = await idleKernel();
    await sweep(deps(), at(0)); // both warned (the second's warning is written again at T0)
    stops.length = 0;
    const byA: string[] = [];
    let release!: () => void;
    const slow = new Promise<void>((resolve) => (release = resolve));
    // A's first stop hangs (a slow kill); the other kernel waits its turn, claimed.
    const a = sweep({ db, stop: async (id, reason, detail) => void (byA.push(id), byA.length === 1 && (await slow), await markKernelDead(db, { id, reason, detail })) }, at(11));
    const deadline = Date.now() + 5_000;
    while (byA.length === 0 && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 20));
    // Meanwhile A's claims lapse, and replica B sweeps: it claims and stops what A has not got to.
    const byB: string[] = [];
    await sweep({ db, stop: async (id, reason, detail) => void (byB.push(id), await markKernelDead(db, { id, reason, detail })) }, new Date(at(11).getTime() + STOP_CLAIM_EXPIRES_MS + MIN));
    release();
    await a;
    const waiting = byA[0] === first ? second : first;
    assert.ok(byB.includes(waiting), "B stopped the kernel A had not got to");
    assert.deepEqual(byA, [byA[0]], "A, renewing its claim first, found B's and left that kernel");
  });
});
