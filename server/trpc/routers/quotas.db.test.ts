// Regression (QA: "-2" concurrent kernels in the envelope dialog became 2 and was saved): the quota procedures
// refuse every number the forms refuse — negative, fractional where whole numbers are needed, absurdly large —
// with BAD_REQUEST in words that name the field, and nothing is saved. Values at the edges are accepted.
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { TRPCError } from "@trpc/server";
import type { Database } from "@/db";
import { findTeamCullPolicy, findTeamQuota, findUserQuota } from "@/db/queries/quotas";
import type { UserRow } from "@/db/queries/users";
import { openTestDatabase, testDbKind } from "@/db/testing";
import { readableError } from "@/app/_components/usage/refusal";
import { loadCullBounds } from "@/server/culler/bounds";
import { DEFAULT_CULL_BOUNDS } from "@/server/culler/policy";
import { cliActor } from "@/server/identity/actor";
import { createTeam, createUser, setMembership } from "@/server/identity/users";
import { testCaller, testServices } from "@/server/trpc/testing";

const unset = { maxKernels: null, maxVcores: null, maxMemoryMb: null, maxGpus: null, monthlyVcoreHours: null };

describe(`quota inputs the API refuses, on ${testDbKind}`, () => {
  let db: Database;
  let close: () => Promise<void>;
  let admin: UserRow;
  let lead: UserRow;
  let member: UserRow;
  let risk: { id: string; name: string };
  const caller = (user: UserRow) => testCaller(testServices(db), user);
  /** Refused as a bad request whose message, as the forms show it, says `words`. */
  const refused = (words: RegExp) => (e: unknown) => {
    assert.ok(e instanceof TRPCError, String(e));
    assert.equal(e.code, "BAD_REQUEST");
    assert.match(readableError(e), words);
    return true;
  };

  before(async () => {
    ({ db, close } = await openTestDatabase());
    admin = await createUser(db, cliActor, { email: "admin@example.com", password: "adminpass1", role: "admin" });
    lead = await createUser(db, cliActor, { email: "lead@example.com", password: "leadpass12" });
    member = await createUser(db, cliActor, { email: "mia@example.com", password: "memberpass" });
    risk = await createTeam(db, cliActor, { name: "Risk" });
    await setMembership(db, cliActor, { teamId: risk.id, userId: lead.id, role: "lead" });
    await setMembership(db, cliActor, { teamId: risk.id, userId: member.id, role: "member" });
    await caller(admin).quotas.setTeam({ teamId: risk.id, limits: { ...unset, maxKernels: 5 } });
  });
  after(() => close());

  const badLimits: [string, Partial<Record<keyof typeof unset, number>>, RegExp][] = [
    ["negative kernels (QA's -2)", { maxKernels: -2 }, /limits\.maxKernels: Concurrent kernels must be zero or more, not -2/],
    ["fractional kernels", { maxKernels: 2.5 }, /Concurrent kernels must be a whole number, not 2\.5/],
    ["absurdly many kernels", { maxKernels: 1e9 }, /Concurrent kernels must be at most 10,000/],
    ["negative vCores", { maxVcores: -0.5 }, /vCores must be zero or more/],
    ["absurd vCores", { maxVcores: 1e12 }, /vCores must be at most 1,000,000/],
    ["fractional MB of memory", { maxMemoryMb: 1024.5 }, /Memory must be a whole number of MB/],
    ["absurd memory", { maxMemoryMb: 2 ** 40 }, /Memory must be at most 1,073,741,824 MB/],
    ["fractional GPUs", { maxGpus: 0.5 }, /GPUs must be a whole number/],
    ["negative budget", { monthlyVcoreHours: -1 }, /Monthly vCore-hours must be zero or more/],
    ["absurd budget", { monthlyVcoreHours: 1e15 }, /Monthly vCore-hours must be at most 100,000,000/],
  ];

  for (const [name, limits, words] of badLimits) {
    it(`an envelope with ${name} is refused and nothing is saved`, async () => {
      await assert.rejects(caller(admin).quotas.setTeam({ teamId: risk.id, limits: { ...unset, ...limits } }), refused(words));
      const stored = await findTeamQuota(db, risk.id);
      assert.equal(stored?.maxKernels, 5, "the envelope is unchanged");
    });
    it(`a member quota with ${name} is refused and nothing is saved`, async () => {
      await assert.rejects(caller(lead).quotas.setMember({ teamId: risk.id, userId: member.id, limits: { ...unset, ...limits } }), refused(words));
      assert.equal((await findUserQuota(db, member.id))?.maxKernels ?? null, null);
    });
  }

  it("a grace period that is negative, fractional or longer than a week is refused", async () => {
    for (const [grace, words] of [
      [-5, /Grace period must be zero or more/],
      [2.5, /Grace period must be a whole number of minutes/],
      [1e7, /Grace period must be at most 10,080 minutes/],
    ] as const) {
      await assert.rejects(caller(admin).quotas.setTeam({ teamId: risk.id, limits: { ...unset, maxKernels: 5 }, overBudgetAction: "stop", overBudgetGraceMinutes: grace }), refused(words));
    }
    assert.equal((await findTeamQuota(db, risk.id))?.overBudgetAction, "keep");
  });

  it("values at the edges are saved: zero, whole numbers, fractions where allowed", async () => {
    await caller(admin).quotas.setTeam({ teamId: risk.id, limits: { maxKernels: 10_000, maxVcores: 0.5, maxMemoryMb: 1536, maxGpus: 0, monthlyVcoreHours: 12.5 }, overBudgetGraceMinutes: 0 });
    const stored = await findTeamQuota(db, risk.id);
    assert.deepEqual([stored?.maxKernels, stored?.maxVcores, stored?.maxMemoryMb, stored?.maxGpus, stored?.monthlyVcoreHours], [10_000, 0.5, 1536, 0, 12.5]);
    await caller(lead).quotas.setMember({ teamId: risk.id, userId: member.id, limits: { ...unset, maxKernels: 0 } });
    assert.equal((await findUserQuota(db, member.id))?.maxKernels, 0);
    await caller(admin).quotas.setTeam({ teamId: risk.id, limits: { ...unset, maxKernels: 5 } });
  });

  it("a team's culling policy with negative, fractional or absurd times is refused", async () => {
    const policy = { idleTimeoutMinutes: null, warningMinutes: null, maxLifetimeHours: null, cullBusy: null, cullConnected: null };
    for (const [fields, words] of [
      [{ idleTimeoutMinutes: -30 }, /Idle timeout must be at least 1 minute, not -30/],
      [{ warningMinutes: 2.5 }, /Warning time must be a whole number of minutes/],
      [{ maxLifetimeHours: 1e9 }, /Maximum lifetime must be at most 8,760 hours/],
    ] as const) {
      await assert.rejects(caller(lead).quotas.setCullPolicy({ teamId: risk.id, policy: { ...policy, ...fields } }), refused(words));
    }
    assert.equal(await findTeamCullPolicy(db, risk.id), undefined);
  });

  it("culling bounds with absurd times are refused (a team could then store more than its column holds)", async () => {
    const bounds = structuredClone(DEFAULT_CULL_BOUNDS);
    await assert.rejects(caller(admin).quotas.setCullBounds({ ...bounds, idleTimeoutMinutes: { min: 5, max: 1e12, default: 60 } }), refused(/Idle timeout \(max\) must be at most 525,600 minutes/));
    await assert.rejects(caller(admin).quotas.setCullBounds({ ...bounds, maxLifetimeHours: { max: 1e9, default: null } }), refused(/Maximum lifetime \(max\) must be at most 8,760 hours/));
    await assert.rejects(caller(admin).quotas.setCullBounds({ ...bounds, warningMinutes: { min: -1, max: 60, default: 10 } }), refused(/warningMinutes/));
    assert.deepEqual(await loadCullBounds(db), DEFAULT_CULL_BOUNDS);
    // The most the rules allow is saved.
    await caller(admin).quotas.setCullBounds({ ...bounds, idleTimeoutMinutes: { min: 5, max: 525_600, default: 60 } });
    assert.equal((await loadCullBounds(db)).idleTimeoutMinutes.max, 525_600);
  });
});
