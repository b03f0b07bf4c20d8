// Users, teams, tokens and the audit trail against a real database (PGlite and PostgreSQL, see db/testing.ts).
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import type { Database } from "@/db";
import { listAudit } from "@/db/queries/audit";
import { teamsOfUser, yarnQueueOfUser } from "@/db/queries/teams";
import { listApiTokens, revokeApiToken } from "@/db/queries/tokens";
import { countActiveAdmins } from "@/db/queries/users";
import { openTestDatabase, testDbKind } from "@/db/testing";
import { createApiToken, userForToken } from "@/server/auth/tokens";
import { isAppError } from "@/server/errors";
import { cliActor } from "./actor";
import { reserveServiceUsernames } from "./names";
import { changeRole, createTeam, createUser, removeMembership, setDisabled, setMembership, setTeamQueue } from "./users";

const rejectsWith = (code: string) => (error: unknown) => isAppError(error) && error.code === code;

describe(`identity on ${testDbKind}`, () => {
  let db: Database;
  let close: () => Promise<void>;
  before(async () => {
    const opened = await openTestDatabase();
    db = opened.db;
    close = opened.close;
  });
  after(() => close());

  it("creates users with unique lower-case emails and unique derived usernames", async () => {
    const a = await createUser(db, cliActor, { email: "Ana@Example.com", password: "correct horse" });
    assert.equal(a.email, "ana@example.com");
    assert.equal(a.username, "ana");
    assert.equal(a.role, "analyst");
    assert.notEqual(a.passwordHash, "correct horse");
    const b = await createUser(db, cliActor, { email: "ana@other.org", password: "correct horse" });
    assert.equal(b.username, "ana2");
    await assert.rejects(createUser(db, cliActor, { email: "ANA@example.com", password: "whatever1" }), rejectsWith("ALREADY_EXISTS"));
    await assert.rejects(createUser(db, cliActor, { email: "not-an-email", password: "whatever1" }), rejectsWith("BAD_REQUEST"));
    await assert.rejects(createUser(db, cliActor, { email: "c@example.com", password: "short" }), rejectsWith("BAD_REQUEST"));
    await assert.rejects(createUser(db, cliActor, { email: "d@example.com", username: "Bad Name" }), rejectsWith("BAD_REQUEST"));
  });

  it("never gives a person the name of a service account, built in or configured", async () => {
    reserveServiceUsernames(["svc-atrium", undefined]);
    const derived = await createUser(db, cliActor, { email: "svc-atrium@corp.example", password: "whatever1" });
    assert.equal(derived.username, "svc-atrium2", "the configured HDFS/YARN service user");
    assert.equal((await createUser(db, cliActor, { email: "hdfs@corp.example", password: "whatever1" })).username, "hdfs2");
    await assert.rejects(createUser(db, cliActor, { email: "x@corp.example", username: "svc-atrium" }), (e: Error) => isAppError(e) && e.code === "BAD_REQUEST" && /reserved for a service account/.test(e.message));
    await assert.rejects(createUser(db, cliActor, { email: "y@corp.example", username: "yarn" }), rejectsWith("BAD_REQUEST"));
  });

  it("keeps at least one active admin", async () => {
    const admin = await createUser(db, cliActor, { email: "root@example.com", role: "admin", password: "adminpass1" });
    await assert.rejects(changeRole(db, cliActor, admin.id, "analyst"), rejectsWith("CONFLICT"));
    await assert.rejects(setDisabled(db, cliActor, admin.id, true), rejectsWith("CONFLICT"));
    const second = await createUser(db, cliActor, { email: "root2@example.com", role: "admin", password: "adminpass1" });
    await changeRole(db, cliActor, admin.id, "analyst");
    await assert.rejects(setDisabled(db, { id: second.id, label: second.email }, second.id, true), rejectsWith("CONFLICT"));
    // Two admins taking each other out at the same moment: one of them stays.
    const third = await createUser(db, cliActor, { email: "root3@example.com", role: "admin", password: "adminpass1" });
    const both = await Promise.allSettled([
      changeRole(db, { id: second.id, label: second.email }, third.id, "analyst"),
      setDisabled(db, { id: third.id, label: third.email }, second.id, true),
    ]);
    assert.deepEqual(both.map((r) => r.status).sort(), ["fulfilled", "rejected"], JSON.stringify(both.map((r) => (r.status === "rejected" ? String(r.reason) : "ok"))));
    assert.equal(await countActiveAdmins(db), 1);
  });

  it("manages teams and memberships, with team leads per team", async () => {
    const team = await createTeam(db, cliActor, { name: "Risk Models" });
    await assert.rejects(createTeam(db, cliActor, { name: "risk models" }), rejectsWith("ALREADY_EXISTS"));
    await assert.rejects(createTeam(db, cliActor, { name: "../etc" }), rejectsWith("BAD_REQUEST"));
    const lead = await createUser(db, cliActor, { email: "lead@example.com", password: "leadpass1" });
    await setMembership(db, cliActor, { teamId: team.name, userId: lead.email, role: "member" });
    await setMembership(db, cliActor, { teamId: team.id, userId: lead.id, role: "lead" });
    assert.deepEqual(await teamsOfUser(db, lead.id), [{ id: team.id, name: "Risk Models", role: "lead" }]);
    await removeMembership(db, cliActor, { teamId: team.id, userId: lead.id });
    assert.deepEqual(await teamsOfUser(db, lead.id), []);
    await assert.rejects(removeMembership(db, cliActor, { teamId: team.id, userId: lead.id }), rejectsWith("NOT_FOUND"));
  });

  it("sets a team's YARN queue, the one its members' kernels go to", async () => {
    const team = await createTeam(db, cliActor, { name: "Quants" });
    const quant = await createUser(db, cliActor, { email: "quant@example.com", password: "quantpass1" });
    await setMembership(db, cliActor, { teamId: team.id, userId: quant.id, role: "member" });
    assert.equal(await yarnQueueOfUser(db, quant.username), null);
    await setTeamQueue(db, cliActor, { teamId: team.id, queue: "root.quants" });
    assert.equal(await yarnQueueOfUser(db, quant.username), "root.quants");
    await assert.rejects(setTeamQueue(db, cliActor, { teamId: team.id, queue: "bad queue;rm" }), rejectsWith("BAD_REQUEST"));
  });

  it("stores only a hash of API tokens and honours revocation, expiry and disabled accounts", async () => {
    const user = await createUser(db, cliActor, { email: "tok@example.com", password: "tokenpass1" });
    const { token, id } = await createApiToken(db, cliActor, { userId: user.id, name: "laptop" });
    assert.match(token, /^atr_[A-Za-z0-9_-]{43}$/);
    assert.equal((await userForToken(db, token))?.id, user.id);
    assert.equal(await userForToken(db, token + "x"), undefined);
    const listed = await listApiTokens(db, user.id);
    assert.equal(listed.length, 1);
    assert.ok(!JSON.stringify(listed).includes(token), "the secret is never listed");
    await setDisabled(db, cliActor, user.id, true);
    assert.equal(await userForToken(db, token), undefined);
    await setDisabled(db, cliActor, user.id, false);
    assert.ok(await revokeApiToken(db, { userId: user.id, tokenId: id }));
    assert.equal(await userForToken(db, token), undefined);
    const expired = await createApiToken(db, cliActor, { userId: user.id, name: "old", expiresAt: new Date(Date.now() - 1000) });
    assert.equal(await userForToken(db, expired.token), undefined);
  });

  it("records admin actions in the audit log", async () => {
    const entries = await listAudit(db, { limit: 500 });
    const actions = new Set(entries.map((e) => e.action));
    for (const action of ["user.create", "user.set_role", "team.create", "team.set_member", "team.remove_member", "token.create", "user.disable"]) {
      assert.ok(actions.has(action), `audit has ${action}`);
    }
    assert.ok(entries.every((e) => e.actorLabel === "cli" || e.actorLabel.includes("@")));
  });

  it("the audit log filters by family of actions and by words in its entries, and pages newest first without gaps", async () => {
    const zoe = await createUser(db, cliActor, { email: "zoe_100%@example.com", password: "zoepass123" });
    await changeRole(db, cliActor, zoe.id, "admin");
    const users = await listAudit(db, { limit: 500, action: "user" });
    assert.ok(users.length > 0 && users.every((e) => e.action.startsWith("user.")));
    assert.ok((await listAudit(db, { limit: 500, action: "user.set_role" })).every((e) => e.action === "user.set_role"));
    assert.equal((await listAudit(db, { limit: 500, action: "use" })).length, 0, "a family is a whole word");
    // Words match the details (the email), in any case, and LIKE's wildcards in them are literal.
    const found = await listAudit(db, { limit: 500, search: "ZOE_100%" });
    assert.deepEqual(found.map((e) => e.action).sort(), ["user.create", "user.set_role"]);
    assert.equal((await listAudit(db, { limit: 500, search: "zoe_1000" })).length, 0);
    // Pages of 3, each older than the last: together the whole log, each entry once.
    const all = await listAudit(db, { limit: 500 });
    const paged = [];
    for (let page = await listAudit(db, { limit: 3 }); page.length > 0; page = await listAudit(db, { limit: 3, before: page.at(-1)!.id })) paged.push(...page);
    assert.deepEqual(paged.map((e) => e.id), all.map((e) => e.id));
  });
});
