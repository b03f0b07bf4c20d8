// Admission against a real database (PGlite and Postgres): limits hold under 50 concurrent starts, a refusal
// leaves no rows, a failed launch frees its reservation; leads stay inside the envelope and their own teams.
import assert from "node:assert/strict";
import { randomUUID } from "node:crypto";
import { after, before, describe, it } from "node:test";
import { TRPCError } from "@trpc/server";
import { eq } from "drizzle-orm";
import type { Database } from "@/db";
import { kernels, kernelSessions } from "@/db/schema";
import { bindNotebookKernel } from "@/db/queries/notebooks";
import { markKernelDead } from "@/db/queries/kernels";
import type { UserRow } from "@/db/queries/users";
import { openTestDatabase, testDbKind } from "@/db/testing";
import { isAppError } from "@/server/errors";
import { cliActor } from "@/server/identity/actor";
import { createTeam, createUser, setMembership } from "@/server/identity/users";
import { admitKernel, setUserQuotaChecked } from "./service";
import { BUILTIN_SIZES } from "./sizes";
import { testCaller, testServices } from "@/server/trpc/testing";

const medium = BUILTIN_SIZES.find((s) => s.name === "medium")!;
const small = BUILTIN_SIZES.find((s) => s.name === "small")!;
const unset = { maxKernels: null, maxVcores: null, maxMemoryMb: null, maxGpus: null, monthlyVcoreHours: null };

describe(`quota admission on ${testDbKind}`, () => {
  let db: Database;
  let close: () => Promise<void>;
  let admin: UserRow;
  let lead: UserRow;
  let member: UserRow;
  let outsider: UserRow;
  let fraud: { id: string; name: string };
  let risk: { id: string; name: string };
  const caller = (user: UserRow) => testCaller(testServices(db), user);
  const admit = (user: UserRow, team: { id: string; name: string } | null, size = medium) =>
    admitKernel(db, { kernelId: randomUUID(), userId: user.id, team, kernelspec: "python3", launcher: "local", size });
  const liveRows = async (userId: string) => (await db.select().from(kernels).where(eq(kernels.ownerId, userId))).filter((k) => k.state !== "dead");

  before(async () => {
    ({ db, close } = await openTestDatabase());
    admin = await createUser(db, cliActor, { email: "admin@example.com", password: "adminpass1", role: "admin" });
    lead = await createUser(db, cliActor, { email: "lead@example.com", password: "leadpass12" });
    member = await createUser(db, cliActor, { email: "mia@example.com", password: "memberpass" });
    outsider = await createUser(db, cliActor, { email: "otto@example.com", password: "otherpass1" });
    fraud = await createTeam(db, cliActor, { name: "Fraud" });
    risk = await createTeam(db, cliActor, { name: "Risk" });
    await setMembership(db, cliActor, { teamId: fraud.id, userId: lead.id, role: "lead" });
    await setMembership(db, cliActor, { teamId: fraud.id, userId: member.id, role: "member" });
    await setMembership(db, cliActor, { teamId: risk.id, userId: outsider.id, role: "member" });
  });
  after(() => close());

  it("50 concurrent admissions for a user whose limit is 3: exactly 3 admitted, 47 refused, no leftover rows", async () => {
    const solo = await createUser(db, cliActor, { email: "solo@example.com", password: "solopass12" });
    const results = await Promise.allSettled(Array.from({ length: 50 }, () => admit(solo, null, small)));
    const admitted = results.filter((r) => r.status === "fulfilled").length;
    const refused = results.filter((r) => r.status === "rejected" && isAppError(r.reason) && r.reason.code === "QUOTA_EXCEEDED");
    assert.equal(admitted, 3);
    assert.equal(refused.length, 47);
    const message = ((refused[0] as PromiseRejectedResult).reason as Error).message;
    assert.match(message, /3 of 3 concurrent kernels/);
    assert.match(message, /stop kernel [0-9a-f]{8} \(python3, started/);
    assert.equal((await db.select().from(kernels).where(eq(kernels.ownerId, solo.id))).length, 3, "no kernel rows for refusals");
    assert.equal((await db.select().from(kernelSessions).where(eq(kernelSessions.userId, solo.id))).length, 3, "no session rows for refusals");
  });

  it("a start that replaces a kernel is admitted as if it were gone and ends its row; a refused one leaves it running; only one of two replacements counts it out", async () => {
    const user = await createUser(db, cliActor, { email: "rhea@example.com", password: "rheapass12" });
    await setUserQuotaChecked(db, cliActor, user.id, { ...unset, maxKernels: 3 });
    for (let i = 0; i < 3; i++) await admit(user, null, small);
    const [oldest] = (await liveRows(user.id)).sort((a, b) => a.createdAt.getTime() - b.createdAt.getTime());
    const replace = (replaces: string, size = small, who = user) => admitKernel(db, { kernelId: randomUUID(), userId: who.id, team: null, kernelspec: "python3", launcher: "local", size, replaces });
    // At the limit a plain start is refused; one that replaces a kernel is not, and that kernel's row ends with it.
    await assert.rejects(admit(user, null, small), (e) => isAppError(e) && e.code === "QUOTA_EXCEEDED");
    await replace(oldest!.id);
    const [ended] = await db.select().from(kernels).where(eq(kernels.id, oldest!.id));
    assert.equal(ended!.state, "dead");
    assert.match(ended!.stateDetail ?? "", /^replaced by kernel [0-9a-f-]{36} \(python3, small\)$/);
    assert.equal((await liveRows(user.id)).length, 3);
    // Two replacements of one kernel at once: one frees it, the other is refused (the limit holds).
    const [target] = await liveRows(user.id);
    const both = await Promise.allSettled([replace(target!.id), replace(target!.id)]);
    assert.deepEqual(both.map((r) => r.status).sort(), ["fulfilled", "rejected"]);
    assert.equal((await liveRows(user.id)).length, 3);
    // Refused (a size over a limit): the kernel it would replace runs on.
    await setUserQuotaChecked(db, cliActor, user.id, { ...unset, maxKernels: 3, maxVcores: 3 });
    const [kept] = await liveRows(user.id);
    await assert.rejects(replace(kept!.id, medium), (e) => isAppError(e) && e.code === "QUOTA_EXCEEDED");
    assert.notEqual((await db.select().from(kernels).where(eq(kernels.id, kept!.id)))[0]!.state, "dead");
    // Another user's kernel is not one to replace, and is not told apart from one that does not exist.
    await assert.rejects(replace(kept!.id, small, outsider), (e) => isAppError(e) && e.code === "NOT_FOUND");
    assert.notEqual((await db.select().from(kernels).where(eq(kernels.id, kept!.id)))[0]!.state, "dead");
  });

  it("a refusal names the kernels to stop by the notebook each runs for", async () => {
    const user = await createUser(db, cliActor, { email: "nora@example.com", password: "norapass12" });
    for (let i = 0; i < 3; i++) await admit(user, null);
    const [oldest] = (await liveRows(user.id)).sort((a, b) => a.createdAt.getTime() - b.createdAt.getTime());
    await bindNotebookKernel(db, { ownerId: user.id, path: "work/Analysis.ipynb", kernelId: oldest!.id });
    await assert.rejects(admit(user, null), (e) => isAppError(e) && new RegExp(`stop kernel ${oldest!.id.slice(0, 8)} \\(work/Analysis\\.ipynb, python3, started`).test(e.message));
    // Its own refusal names its notebooks; what a lead sees of a member does not.
    await setMembership(db, cliActor, { teamId: fraud.id, userId: user.id, role: "member" });
    await db.update(kernels).set({ teamId: fraud.id }).where(eq(kernels.id, oldest!.id)); // charged to the team
    const overview = await caller(lead).quotas.team({ teamId: fraud.id });
    const nora = overview.members.find((m) => m.email === "nora@example.com")!;
    assert.ok(nora.kernels.length > 0);
    assert.ok(nora.kernels.every((k) => !("notebook" in k)), "a lead is not told what a member's notebooks are called");
  });

  it("a failed launch frees its reservation", async () => {
    const user = await createUser(db, cliActor, { email: "fail@example.com", password: "failpass12" });
    for (let i = 0; i < 3; i++) await admit(user, null);
    await assert.rejects(admit(user, null), (e) => isAppError(e) && e.code === "QUOTA_EXCEEDED");
    const [first] = await liveRows(user.id);
    await markKernelDead(db, { id: first!.id, reason: "launch_failed", detail: "test" });
    await admit(user, null);
    assert.equal((await liveRows(user.id)).length, 3);
  });

  it("the team envelope holds across members under concurrency", async () => {
    await caller(admin).quotas.setTeam({ teamId: risk.id, limits: { ...unset, maxVcores: 5 } });
    const others = await Promise.all([1, 2, 3].map((i) => createUser(db, cliActor, { email: `risk${i}@example.com`, password: "riskpass12" })));
    for (const u of others) await setMembership(db, cliActor, { teamId: risk.id, userId: u.id, role: "member" });
    // Each member may run 3 kernels alone; the team may reserve 5 vCores in all: two medium kernels (2 each).
    const results = await Promise.allSettled([...others, ...others, outsider].map((u) => admit(u, risk)));
    assert.equal(results.filter((r) => r.status === "fulfilled").length, 2);
    const refusal = results.find((r) => r.status === "rejected") as PromiseRejectedResult;
    assert.match(refusal.reason.message, /Team Risk is using 4 of 5 vCores/);
  });

  it("a lead sets member quotas inside the envelope, and only for their own team", async () => {
    await caller(admin).quotas.setTeam({ teamId: fraud.id, limits: { ...unset, maxKernels: 4, maxVcores: 16 } });
    const asLead = caller(lead);
    await asLead.quotas.setMember({ teamId: fraud.id, userId: member.id, limits: { ...unset, maxKernels: 4 } });
    await assert.rejects(
      asLead.quotas.setMember({ teamId: fraud.id, userId: member.id, limits: { ...unset, maxKernels: 5 } }),
      (e: unknown) => e instanceof TRPCError && e.code === "FORBIDDEN" && /above team Fraud's envelope of 4/.test(e.message),
    );
    // Another team, or someone who is not a member: not found, nothing changes.
    await assert.rejects(asLead.quotas.setMember({ teamId: risk.id, userId: outsider.id, limits: { ...unset, maxKernels: 1 } }), (e: unknown) => e instanceof TRPCError && e.code === "NOT_FOUND");
    await assert.rejects(asLead.quotas.setMember({ teamId: fraud.id, userId: outsider.id, limits: { ...unset, maxKernels: 1 } }), (e: unknown) => e instanceof TRPCError && e.code === "NOT_FOUND");
    await assert.rejects(asLead.quotas.team({ teamId: risk.id }), (e: unknown) => e instanceof TRPCError && e.code === "NOT_FOUND");
    await assert.rejects(asLead.quotas.setTeam({ teamId: fraud.id, limits: { ...unset, maxKernels: 100 } }), (e: unknown) => e instanceof TRPCError && e.code === "FORBIDDEN");
    await assert.rejects(caller(member).quotas.team({ teamId: fraud.id }), (e: unknown) => e instanceof TRPCError && e.code === "FORBIDDEN");
    const overview = await asLead.quotas.team({ teamId: fraud.id });
    const mia = overview.members.find((m) => m.email === "mia@example.com")!;
    assert.equal(mia.limits.maxKernels, 4);
    assert.equal(mia.limits.maxVcores, 8, "unset limits take the default");
    // The member's own view says what is left.
    await admit(member, fraud);
    const mine = await caller(member).quotas.mine();
    // Of their own 4 kernels 3 are left, but the team's 4 are shared with nora's charged there: 2 left in the team.
    assert.deepEqual([mine.use.kernels, mine.remaining.maxKernels, mine.remaining.maxVcores], [1, 2, 6]);
    assert.deepEqual(mine.limitedByTeam, ["maxKernels"]);
    assert.equal(mine.budget.renews.getUTCDate(), 1);
  });

  it("what is left to a member is the team's where teammates' kernels leave less than their own limit", async () => {
    const team = await createTeam(db, cliActor, { name: "Shared" });
    const ida = await createUser(db, cliActor, { email: "ida@example.com", password: "idapass123" });
    const jon = await createUser(db, cliActor, { email: "jon@example.com", password: "jonpass123" });
    for (const u of [ida, jon]) await setMembership(db, cliActor, { teamId: team.id, userId: u.id, role: "member" });
    await caller(admin).quotas.setTeam({ teamId: team.id, limits: { ...unset, maxKernels: 3, maxVcores: 4 } });
    await setUserQuotaChecked(db, cliActor, ida.id, { ...unset, maxKernels: 3, maxVcores: 4 });
    for (let i = 0; i < 2; i++) await admit(jon, team, small);
    const mine = await caller(ida).quotas.mine();
    assert.deepEqual([mine.remaining.maxKernels, mine.remaining.maxVcores], [1, 2], "the team's remainder, not ida's own 3 and 4");
    assert.deepEqual(mine.limitedByTeam, ["maxKernels", "maxVcores"]);
    // And admission agrees: one more small kernel fits, a second does not.
    await admit(ida, team, small);
    await assert.rejects(admit(ida, team, small), (e) => isAppError(e) && e.code === "QUOTA_EXCEEDED" && e.details?.scope === "team");
    const after = await caller(ida).quotas.mine();
    assert.equal(after.remaining.maxKernels, 0);
  });

  it("refuses new kernels once the monthly budget is used, naming the renewal date", async () => {
    const user = await createUser(db, cliActor, { email: "budget@example.com", password: "budgetpass" });
    await caller(admin).quotas.setTeam({ teamId: risk.id, limits: unset });
    const id = randomUUID();
    const monthStart = new Date(Date.UTC(new Date().getUTCFullYear(), new Date().getUTCMonth(), 1));
    await admitKernel(db, { kernelId: id, userId: user.id, team: null, kernelspec: "python3", launcher: "local", size: { name: "huge", vcores: 100, memoryMb: 1024, gpus: 0 }, now: monthStart }).catch(() => {});
    // 100 vCores don't fit 8: reserve a real one and backdate it instead.
    await admitKernel(db, { kernelId: id, userId: user.id, team: null, kernelspec: "python3", launcher: "local", size: { name: "big", vcores: 8, memoryMb: 1024, gpus: 0 } });
    await db.update(kernelSessions).set({ startedAt: monthStart }).where(eq(kernelSessions.kernelId, id));
    const now = new Date(monthStart.getTime() + 26 * 3_600_000); // 8 vCores × 26 h = 208 vCore-hours
    await markKernelDead(db, { id, reason: "stopped", detail: "test" });
    await db.update(kernels).set({ endedAt: now }).where(eq(kernels.id, id));
    await assert.rejects(
      admitKernel(db, { kernelId: randomUUID(), userId: user.id, team: null, kernelspec: "python3", launcher: "local", size: small, now }),
      (e: unknown) => isAppError(e) && e.code === "QUOTA_EXCEEDED" && /208 vCore-hours of 200 vCore-hours/.test(e.message) && /renews on \d{4}-\d{2}-01/.test(e.message),
    );
  });
});
