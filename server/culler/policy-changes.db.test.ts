// Regressions (review findings 2, 3 and 5): a warning followed the policy in force when it was given, not the one
// in force now. A team's over-budget action or grace, or its maximum lifetime, changed after kernels were warned
// now reaches them at the next sweep; a policy whose warning is longer than its idle timeout is refused, and one
// stored before that warns for the timeout at most. Each test has its own team and user, on a fixed clock
// in the middle of a month, whatever the date.
import assert from "node:assert/strict";
import { randomUUID } from "node:crypto";
import { after, before, describe, it } from "node:test";
import type { Database } from "@/db";
import { findKernel, markKernelDead, updateKernel } from "@/db/queries/kernels";
import { upsertTeamCullPolicy } from "@/db/queries/quotas";
import type { UserRow } from "@/db/queries/users";
import { openTestDatabase, testDbKind } from "@/db/testing";
import { cliActor } from "@/server/identity/actor";
import { createTeam, createUser, setMembership } from "@/server/identity/users";
import { admitKernel, setTeamEnvelope } from "@/server/quota/service";
import { BUILTIN_SIZES } from "@/server/quota/sizes";
import type { StoredCullPolicy } from "./policy";
import { cullWarnings, setTeamCullPolicy } from "./service";
import { sweep, type SweepDeps } from "./sweep";

const small = BUILTIN_SIZES.find((s) => s.name === "small")!;
const MIN = 60_000;
const T0 = Date.UTC(2026, 10, 17, 12);
const at = (min: number) => new Date(T0 + min * MIN);
const admin = { isAdmin: true, ledTeamIds: [] };
const noPolicy: StoredCullPolicy = { idleTimeoutMinutes: null, cullBusy: null, cullConnected: null, maxLifetimeHours: null, warningMinutes: null };
const noLimits = { maxKernels: null, maxVcores: null, maxMemoryMb: null, maxGpus: null, monthlyVcoreHours: null };

describe(`policy changes reach kernels already warned, on ${testDbKind}`, () => {
  let db: Database;
  let close: () => Promise<void>;
  let n = 0;
  const deps = (): SweepDeps => ({ db, stop: async (id, reason, detail) => void (await markKernelDead(db, { id, reason, detail })) });
  /** A fresh team with one member. */
  const teamOf = async (): Promise<{ team: { id: string; name: string }; user: UserRow }> => {
    n++;
    const user = await createUser(db, cliActor, { email: `member${n}@example.com`, password: "memberpass" });
    const team = await createTeam(db, cliActor, { name: `Team ${n}` });
    await setMembership(db, cliActor, { teamId: team.id, userId: user.id, role: "member" });
    return { team, user };
  };
  /** A kernel of 1 vCore started `ageMinutes` before T0, last used `idleMinutes` before T0. */
  const running = async (owner: { team: { id: string; name: string }; user: UserRow }, o: { ageMinutes: number; idleMinutes: number; state: "idle" | "busy" }) => {
    const id = randomUUID();
    await admitKernel(db, { kernelId: id, userId: owner.user.id, team: owner.team, kernelspec: "python3", launcher: "local", size: small, now: at(-o.ageMinutes) });
    await updateKernel(db, id, { state: o.state, startedAt: at(-o.ageMinutes), lastActivityAt: at(-o.idleMinutes) });
    return id;
  };
  const stateOf = async (id: string) => (await findKernel(db, { id }))?.state;
  const shown = async (user: UserRow) => (await cullWarnings(db, user.id)).map((w) => [w.kind, w.deadline?.toISOString() ?? null]);

  before(async () => {
    ({ db, close } = await openTestDatabase());
  });
  after(() => close());

  describe("the over-budget action and grace (finding 2)", () => {
    /** A member 5 vCore-hours into a 3 vCore-hour budget (a busy kernel: never idle-culled), warned at T0. */
    const overBudget = async (overBudgetAction: "keep" | "stop", overBudgetGraceMinutes = 15) => {
      const owner = await teamOf();
      const envelope = (action: "keep" | "stop", grace: number) =>
        setTeamEnvelope(db, cliActor, { teamId: owner.team.id, limits: { ...noLimits, monthlyVcoreHours: 3 }, overBudgetAction: action, overBudgetGraceMinutes: grace });
      await envelope(overBudgetAction, overBudgetGraceMinutes);
      const id = await running(owner, { ageMinutes: 300, idleMinutes: 0, state: "busy" });
      assert.deepEqual((await sweep(deps(), at(0))).warned.filter((w) => w.kernelId === id).map((w) => w.kind), ["budget"]);
      return { ...owner, id, envelope };
    };

    it("keep changed to stop: the kernel gets a deadline the full grace away, and is stopped at it", async () => {
      const { user, id, envelope } = await overBudget("keep");
      await envelope("stop", 15);
      await sweep(deps(), at(60));
      assert.deepEqual(await shown(user), [["budget", at(75).toISOString()]]);
      assert.equal((await sweep(deps(), at(74))).stopped.length, 0);
      assert.deepEqual((await sweep(deps(), at(76))).stopped.map((s) => [s.kernelId, s.reason]), [[id, "quota"]]);
    });

    it("stop changed to keep: the pending stop is called off", async () => {
      const { user, id, envelope } = await overBudget("stop");
      await envelope("keep", 15);
      assert.equal((await sweep(deps(), at(16))).stopped.length, 0);
      assert.equal(await stateOf(id), "busy");
      assert.deepEqual(await shown(user), [["budget", null]]);
      await markKernelDead(db, { id, reason: "stopped", detail: "test" });
    });

    it("a longer grace moves the deadline later", async () => {
      const { user, id, envelope } = await overBudget("stop", 15);
      await envelope("stop", 60);
      assert.equal((await sweep(deps(), at(16))).stopped.length, 0, "not at the old deadline");
      assert.deepEqual(await shown(user), [["budget", at(60).toISOString()]]);
      assert.deepEqual((await sweep(deps(), at(61))).stopped.map((s) => [s.kernelId, s.reason]), [[id, "quota"]]);
    });
  });

  describe("the maximum lifetime (finding 3)", () => {
    const policyOf = async (teamId: string, p: Partial<StoredCullPolicy>) => setTeamCullPolicy(db, cliActor, admin, teamId, { ...noPolicy, idleTimeoutMinutes: 30, warningMinutes: 10, ...p });

    it("removed: the lifetime warning is cleared and idle culling applies again", async () => {
      const owner = await teamOf();
      await policyOf(owner.team.id, { maxLifetimeHours: 5 });
      const id = await running(owner, { ageMinutes: 300, idleMinutes: 0, state: "idle" });
      assert.deepEqual((await sweep(deps(), at(0))).warned.map((w) => [w.kernelId, w.kind]), [[id, "lifetime"]]);
      await policyOf(owner.team.id, { maxLifetimeHours: null });
      assert.equal((await sweep(deps(), at(11))).stopped.length, 0, "not stopped for a lifetime no longer limited");
      assert.deepEqual(await shown(owner.user), [], "nor told it will be");
      // Left idle (last used at T0): warned 20 min on, culled 30 min on, as idle.
      assert.deepEqual((await sweep(deps(), at(21))).warned.map((w) => [w.kernelId, w.kind]), [[id, "idle"]]);
      const culled = await sweep(deps(), at(32));
      assert.deepEqual(culled.stopped.map((s) => [s.kernelId, s.kind]), [[id, "idle"]]);
    });

    it("raised: the kernel is not stopped at the old deadline, and is warned again before the new end", async () => {
      const owner = await teamOf();
      await policyOf(owner.team.id, { maxLifetimeHours: 5 });
      const id = await running(owner, { ageMinutes: 300, idleMinutes: 0, state: "busy" });
      await sweep(deps(), at(0));
      assert.deepEqual(await shown(owner.user), [["lifetime", at(10).toISOString()]]);
      await policyOf(owner.team.id, { maxLifetimeHours: 6 });
      assert.equal((await sweep(deps(), at(11))).stopped.length, 0, "not at the old deadline");
      assert.deepEqual(await shown(owner.user), []);
      assert.deepEqual((await sweep(deps(), at(50))).warned.map((w) => [w.kind, w.deadline?.toISOString()]), [["lifetime", at(60).toISOString()]]);
      assert.deepEqual((await sweep(deps(), at(60))).stopped.map((s) => [s.kernelId, s.kind]), [[id, "lifetime"]]);
    });

    it("lowered (with a shorter warning): the deadline comes earlier, the full new warning time away", async () => {
      const owner = await teamOf();
      await policyOf(owner.team.id, { maxLifetimeHours: 8, warningMinutes: 60, idleTimeoutMinutes: 120 });
      const id = await running(owner, { ageMinutes: 450, idleMinutes: 0, state: "busy" });
      await sweep(deps(), at(0));
      assert.deepEqual(await shown(owner.user), [["lifetime", at(60).toISOString()]], "the full hour's warning");
      await policyOf(owner.team.id, { maxLifetimeHours: 7, warningMinutes: 10 });
      await sweep(deps(), at(1));
      assert.deepEqual(await shown(owner.user), [["lifetime", at(11).toISOString()]]);
      assert.deepEqual((await sweep(deps(), at(12))).stopped.map((s) => [s.kernelId, s.kind]), [[id, "lifetime"]]);
    });
  });

  describe("a warning longer than the idle timeout (finding 5)", () => {
    it("is refused where a lead sets the policy, saying what to do; as long as it is allowed", async () => {
      const { team } = await teamOf();
      await assert.rejects(
        setTeamCullPolicy(db, cliActor, admin, team.id, { ...noPolicy, idleTimeoutMinutes: 5 }),
        (e: Error) => /the warning time \(10 min, the default\) must not be longer than the idle timeout \(5 min\).*set a longer idle timeout or a shorter warning time/.test(e.message),
      );
      await setTeamCullPolicy(db, cliActor, admin, team.id, { ...noPolicy, idleTimeoutMinutes: 5, warningMinutes: 5 });
      await setTeamCullPolicy(db, cliActor, admin, team.id, { ...noPolicy, idleTimeoutMinutes: 5, warningMinutes: 2 });
    });

    it("stored before that, the warning is cut to the timeout: kernels are culled 5 min after the warning, not 10", async () => {
      const owner = await teamOf();
      await upsertTeamCullPolicy(db, { teamId: owner.team.id, ...noPolicy, idleTimeoutMinutes: 5, warningMinutes: 10 });
      const used = await running(owner, { ageMinutes: 60, idleMinutes: 0.5, state: "idle" });
      const quiet = await running(owner, { ageMinutes: 60, idleMinutes: 3, state: "idle" });
      const swept = await sweep(deps(), at(0));
      assert.deepEqual(
        swept.warned.map((w) => [w.kernelId, w.deadline?.toISOString()]).sort(),
        [[used, at(5).toISOString()], [quiet, at(5).toISOString()]].sort(),
      );
      assert.deepEqual((await sweep(deps(), at(5))).stopped.map((s) => s.kernelId).sort(), [used, quiet].sort());
    });
  });
});
