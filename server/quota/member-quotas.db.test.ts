// Member quotas across teams, against a real database: a lead sets quotas only for members charged to a team
// they lead, and their overview counts only what is charged to their team (review finding 4); refusals name
// who can raise a limit (finding 6); an envelope lowered below a member's own quota caps it on the member's
// page, in the lead's overview, at admission and in the culler's budget rule (finding 7).
import assert from "node:assert/strict";
import { randomUUID } from "node:crypto";
import { after, before, describe, it } from "node:test";
import { TRPCError } from "@trpc/server";
import type { Database } from "@/db";
import { listAudit } from "@/db/queries/audit";
import { markKernelDead, updateKernel } from "@/db/queries/kernels";
import type { UserRow } from "@/db/queries/users";
import { openTestDatabase, testDbKind } from "@/db/testing";
import { requestStop, setTeamCullPolicy } from "@/server/culler/service";
import { sweep } from "@/server/culler/sweep";
import { isAppError } from "@/server/errors";
import { cliActor } from "@/server/identity/actor";
import { createTeam, createUser, setMembership } from "@/server/identity/users";
import { budgetMonth } from "./policy";
import { admitKernel, chargedTeamOf, quotaStatus, setTeamEnvelope, setUserQuotaChecked } from "./service";
import { BUILTIN_SIZES } from "./sizes";
import { testCaller, testServices } from "@/server/trpc/testing";

const small = BUILTIN_SIZES.find((s) => s.name === "small")!;
const unset = { maxKernels: null, maxVcores: null, maxMemoryMb: null, maxGpus: null, monthlyVcoreHours: null };
const MIN = 60_000;

describe(`member quotas across teams on ${testDbKind}`, () => {
  let db: Database;
  let close: () => Promise<void>;
  let admin: UserRow;
  const caller = (user: UserRow) => testCaller(testServices(db), user);
  const admit = (user: UserRow, team: { id: string; name: string } | null, now?: Date) =>
    admitKernel(db, { kernelId: randomUUID(), userId: user.id, team, kernelspec: "python3", launcher: "local", size: small, now });
  const user = (name: string) => createUser(db, cliActor, { email: `${name}@example.com`, password: `${name}-password` });

  before(async () => {
    ({ db, close } = await openTestDatabase());
    admin = await createUser(db, cliActor, { email: "admin@example.com", password: "adminpass1", role: "admin" });
  });
  after(() => close());

  it("joining another team later never moves a member's kernels to it, whatever its name (QA: added to Markets, charged there)", async () => {
    const risk = await createTeam(db, cliActor, { name: "Zeta Risk" });
    const markets = await createTeam(db, cliActor, { name: "Alpha Markets" });
    const ana = await user("ana-two-teams");
    await setMembership(db, cliActor, { teamId: risk.id, userId: ana.id, role: "member" });
    assert.equal((await chargedTeamOf(db, ana.id))?.name, "Zeta Risk");
    await setMembership(db, cliActor, { teamId: markets.id, userId: ana.id, role: "member" });
    assert.equal((await chargedTeamOf(db, ana.id))?.name, "Zeta Risk", "still the team she joined first");
  });

  it("a lead sets quotas only for members charged to a team they lead, and sees only kernels charged to it", async () => {
    // Uma is in Analytics and Risk: her kernels are charged to Analytics (the first team she joined).
    const analytics = await createTeam(db, cliActor, { name: "Analytics" });
    const risk = await createTeam(db, cliActor, { name: "Risk" });
    const [uma, rita, riskLead, analyticsLead] = await Promise.all([user("uma"), user("rita"), user("lena"), user("alan")]);
    await setMembership(db, cliActor, { teamId: analytics.id, userId: uma.id, role: "member" });
    await setMembership(db, cliActor, { teamId: risk.id, userId: uma.id, role: "member" });
    await setMembership(db, cliActor, { teamId: risk.id, userId: rita.id, role: "member" });
    await setMembership(db, cliActor, { teamId: risk.id, userId: riskLead.id, role: "lead" });
    await setMembership(db, cliActor, { teamId: analytics.id, userId: analyticsLead.id, role: "lead" });
    await admit(uma, analytics);
    await admit(rita, risk);

    // Risk's lead may not: Uma's quota would bind her Analytics kernels. The refusal names who can.
    await assert.rejects(
      caller(riskLead).quotas.setMember({ teamId: risk.id, userId: uma.id, limits: { ...unset, maxKernels: 0 } }),
      (e: unknown) => e instanceof TRPCError && e.code === "FORBIDDEN" && /charged to team Analytics/.test(e.message) && /the lead of team Analytics, or an admin/.test(e.message),
    );
    await admit(uma, analytics); // her limit is unchanged
    await caller(riskLead).quotas.setMember({ teamId: risk.id, userId: rita.id, limits: { ...unset, maxKernels: 2 } });
    await caller(analyticsLead).quotas.setMember({ teamId: analytics.id, userId: uma.id, limits: { ...unset, maxKernels: 2 } });
    await caller(admin).quotas.setMember({ teamId: risk.id, userId: uma.id, limits: { ...unset, maxKernels: 3 } });
    assert.equal((await quotaStatus(db, uma.id)).limits.maxKernels, 3);

    // Risk's overview: Uma's Analytics kernels are not Risk's; the members' use adds up to the team's.
    const riskView = await caller(riskLead).quotas.team({ teamId: risk.id });
    const umaInRisk = riskView.members.find((m) => m.userId === uma.id)!;
    assert.deepEqual(umaInRisk.kernels, []);
    assert.equal(umaInRisk.useHere.kernels, 0);
    // Against her own limits, all her kernels count (as admission counts them): no room shown that she does not have.
    assert.equal(umaInRisk.use.kernels, 2);
    assert.equal(umaInRisk.remaining.maxKernels, umaInRisk.limits.maxKernels === null ? null : umaInRisk.limits.maxKernels - 2);
    assert.deepEqual([umaInRisk.chargedTeam?.name, umaInRisk.canSetQuota], ["Analytics", false]);
    assert.deepEqual([riskView.members.find((m) => m.userId === rita.id)!.canSetQuota, riskView.members.find((m) => m.userId === rita.id)!.kernels.length], [true, 1]);
    assert.equal(riskView.use.kernels, 1);
    assert.equal(riskView.members.reduce((n, m) => n + m.kernels.length, 0), riskView.use.kernels);
    assert.equal(riskView.members.reduce((n, m) => n + m.useHere.kernels, 0), riskView.use.kernels);
    // Analytics' overview has them.
    const analyticsView = await caller(analyticsLead).quotas.team({ teamId: analytics.id });
    assert.equal(analyticsView.members.find((m) => m.userId === uma.id)!.kernels.length, 2);
    assert.equal(analyticsView.use.kernels, 2);
  });

  it("a refusal for a kernel count of 0 says so, and a user in no team is sent to an admin", async () => {
    const solo = await user("solo");
    await setUserQuotaChecked(db, cliActor, solo.id, { ...unset, maxKernels: 0 });
    await assert.rejects(admit(solo, null), (e: unknown) => {
      assert.ok(isAppError(e) && e.code === "QUOTA_EXCEEDED");
      assert.match(e.message, /You may not start kernels \(your limit is 0 concurrent kernels\)\. Ask an admin to raise it\. You are in no team/);
      assert.doesNotMatch(e.message, /size|team lead can/);
      assert.equal(e.details?.raisedBy, "admin");
      return true;
    });
  });

  it("an envelope lowered below a member's own quota caps it: their page, the lead's overview, admission and the culler's budget rule", async () => {
    const team = await createTeam(db, cliActor, { name: "Budgeted" });
    const [member, lead] = await Promise.all([user("bea"), user("bob")]);
    await setMembership(db, cliActor, { teamId: team.id, userId: member.id, role: "member" });
    await setMembership(db, cliActor, { teamId: team.id, userId: lead.id, role: "lead" });
    await setTeamEnvelope(db, cliActor, { teamId: team.id, limits: { ...unset, monthlyVcoreHours: 100 } });
    await caller(admin).quotas.setMember({ teamId: team.id, userId: member.id, limits: { ...unset, monthlyVcoreHours: 100 } });
    // Budgets are per UTC month: at least 6 h into it, so a kernel started 5 h before has used 5 vCore-hours.
    const clock = new Date();
    const now = new Date(Math.max(clock.getTime(), budgetMonth(clock).start.getTime() + 6 * 60 * MIN));
    const startedAt = new Date(now.getTime() - 5 * 60 * MIN);
    const id = randomUUID();
    await admitKernel(db, { kernelId: id, userId: member.id, team, kernelspec: "python3", launcher: "local", size: small, now: startedAt });
    await updateKernel(db, id, { state: "busy", startedAt, lastActivityAt: now });

    await setTeamEnvelope(db, cliActor, { teamId: team.id, limits: { ...unset, monthlyVcoreHours: 3 }, overBudgetAction: "stop", overBudgetGraceMinutes: 15 });
    const mine = await quotaStatus(db, member.id, now);
    assert.equal(mine.limits.monthlyVcoreHours, 3, "the member's page");
    assert.equal(mine.budget.raisedBy, "admin", "the envelope binds: an admin raises it, not the lead");
    assert.equal(mine.explicit?.monthlyVcoreHours, 100, "their own value is kept");
    assert.equal(mine.remaining.monthlyVcoreHours, 0);
    const overview = await caller(lead).quotas.team({ teamId: team.id });
    const row = overview.members.find((m) => m.userId === member.id)!;
    assert.equal(row.limits.monthlyVcoreHours, 3, "the lead's overview");
    assert.deepEqual(row.aboveEnvelope, ["monthlyVcoreHours"]);
    assert.deepEqual(overview.members.find((m) => m.userId === lead.id)!.aboveEnvelope, []);
    await assert.rejects(admit(member, team, now), (e: unknown) => {
      assert.ok(isAppError(e) && e.code === "QUOTA_EXCEEDED");
      assert.equal(e.details?.scope, "user");
      assert.equal(e.details?.limitValue, 3);
      assert.match(e.message, /an admin can raise it\. Team Budgeted's envelope caps this limit/);
      return true;
    });
    // The culler's "stop" rule for budgets counts against 3, not 100.
    const warned = await sweep({ db, stop: async (kernelId, reason, detail) => void (await markKernelDead(db, { id: kernelId, reason, detail })) }, now);
    assert.deepEqual(warned.warned.filter((w) => w.kernelId === id).map((w) => [w.kind, w.deadline?.toISOString()]), [["budget", new Date(now.getTime() + 15 * MIN).toISOString()]]);
    await markKernelDead(db, { id, reason: "stopped", detail: "test" });
  });

  it("the audit log names whose quota, which team's envelope and policy, and whose kernel; an unknown user or team is refused", async () => {
    const team = await createTeam(db, cliActor, { name: "Audited" });
    const ivy = await user("ivy");
    await setMembership(db, cliActor, { teamId: team.id, userId: ivy.id, role: "member" });
    await setTeamEnvelope(db, cliActor, { teamId: team.id, limits: { ...unset, maxKernels: 5 } });
    await setUserQuotaChecked(db, cliActor, ivy.id, { ...unset, maxKernels: 3 });
    await setTeamCullPolicy(db, cliActor, { isAdmin: true, ledTeamIds: [] }, team.id, { idleTimeoutMinutes: 30, warningMinutes: 10, maxLifetimeHours: null, cullBusy: null, cullConnected: null });
    const kernelId = randomUUID();
    await admitKernel(db, { kernelId, userId: ivy.id, team, kernelspec: "python3", launcher: "local", size: small });
    await requestStop(db, cliActor, kernelId);
    const details = async (action: string) => (await listAudit(db, { limit: 1, action }))[0]?.details;
    assert.equal((await details("quota.user.set"))?.email, "ivy@example.com");
    assert.equal((await details("quota.team.set"))?.team, "Audited");
    assert.equal((await details("cull.policy.set"))?.team, "Audited");
    assert.equal((await details("kernel.stop"))?.owner, "ivy@example.com");
    // Searched by those words, as an admin does on the Audit log page.
    assert.deepEqual((await listAudit(db, { limit: 10, search: "audited" })).map((e) => e.action).sort(), ["cull.policy.set", "quota.team.set", "team.create", "team.set_member"]);
    await markKernelDead(db, { id: kernelId, reason: "stopped", detail: "test" });

    const missing = randomUUID();
    const notFound = (e: unknown) => isAppError(e) && e.code === "NOT_FOUND" && e.message.includes(missing);
    await assert.rejects(setUserQuotaChecked(db, cliActor, missing, { ...unset, maxKernels: 1 }), notFound);
    await assert.rejects(setTeamEnvelope(db, cliActor, { teamId: missing, limits: unset }), notFound);
    await assert.rejects(setTeamCullPolicy(db, cliActor, { isAdmin: true, ledTeamIds: [] }, missing, { idleTimeoutMinutes: 30, warningMinutes: 10, maxLifetimeHours: null, cullBusy: null, cullConnected: null }), notFound);
  });
});
