// Server-side sessions on a real database: a session cookie lets its holder in only while its row is open. Signing
// out, "sign out everywhere else", a password change, an admin's reset or disable, and an admin's "sign out
// everywhere" end sessions on every copy of the cookie; a cookie from before sessions had rows is not taken.
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { encode } from "next-auth/jwt";
import type { Database } from "@/db";
import { listAudit } from "@/db/queries/audit";
import { findUserByEmail, type UserRow } from "@/db/queries/users";
import { openTestDatabase, testDbKind } from "@/db/testing";
import type { AppError } from "@/server/errors";
import { cliActor } from "@/server/identity/actor";
import { changeRole, createUser, resetPassword, setDisabled } from "@/server/identity/users";
import { testCaller, testServices } from "@/server/trpc/testing";
import { signInFailures, userSessions } from "@/db/schema";
import { signInWithExternalAccount } from "./external-accounts";
import { tidySignInRows } from "./housekeeping";
import { createApiToken } from "./tokens";
import { revocationsOf, REVOKED } from "./credential-check";
import { changeOwnPassword, signInWithPassword } from "./credentials";
import { authenticate, identify } from "./session";
import { signOutSession, startSession, startSignInSession } from "./sessions";
import { ACCOUNT_DISABLED, signInErrorCode, SIGN_IN_INTERRUPTED } from "./sign-in-errors";

const SECRET = "x".repeat(32); // testServices' secret
const COOKIE = "atrium.session";
const HOUR = 3_600_000;

describe(`server-side sessions on ${testDbKind}`, () => {
  let db: Database;
  let close: () => Promise<void>;
  let admin: UserRow;
  before(async () => {
    ({ db, close } = await openTestDatabase());
    admin = await createUser(db, cliActor, { email: "admin@example.com", password: "admin-pass-1", role: "admin" });
  });
  after(() => close());

  /** A browser's cookie header for a session of `user`, as next-auth writes it. */
  const cookieFor = async (user: UserRow, sid?: string) =>
    `${COOKIE}=${await encode({ token: { sub: user.id, ...(sid ? { sid } : {}) }, secret: SECRET, salt: COOKIE, maxAge: 12 * 3600 })}`;
  const who = async (cookie: string) => (await identify({ cookie }, { db, secret: SECRET, sessionCookieName: COOKIE }))?.email ?? null;
  const signIn = async (user: UserRow) => {
    const sid = (await startSession(db, { userId: user.id, method: "password", maxAgeMs: 12 * HOUR }))!;
    return { sid, cookie: await cookieFor(user, sid) };
  };

  it("lets a cookie in while its session is open; signing out ends it for every copy of the cookie", async () => {
    const ana = await createUser(db, cliActor, { email: "ana@example.com", password: "ana-pass-1" });
    const { sid, cookie } = await signIn(ana);
    assert.equal(await who(cookie), "ana@example.com");
    const found = await authenticate({ cookie }, { db, secret: SECRET, sessionCookieName: COOKIE });
    assert.deepEqual(found?.credential, { kind: "session", sessionId: sid });
    await signOutSession(db, { sessionId: sid, userId: ana.id });
    assert.equal(await who(cookie), null, "a copy of the cookie kept after sign-out");
  });

  it("does not take a cookie without a session row, a session of someone else, or an expired session", async () => {
    const bo = await createUser(db, cliActor, { email: "bo@example.com", password: "bo-pass-12" });
    const cy = await createUser(db, cliActor, { email: "cy@example.com", password: "cy-pass-12" });
    assert.equal(await who(await cookieFor(bo)), null, "from before sessions had rows");
    const { sid } = await signIn(bo);
    assert.equal(await who(await cookieFor(cy, sid)), null, "Bo's session id in a cookie for Cy");
    assert.equal(await who(await cookieFor(bo, "not-a-uuid")), null);
    const short = (await startSession(db, { userId: bo.id, method: "password", maxAgeMs: -1000 }))!;
    assert.equal(await who(await cookieFor(bo, short)), null, "the row's lifetime is over");
  });

  it("sign out everywhere else ends the others and keeps the caller's; the list marks the current one", async () => {
    const di = await createUser(db, cliActor, { email: "di@example.com", password: "di-pass-12" });
    const here = await signIn(di);
    const laptop = await signIn(di);
    const phone = await signIn(di);
    const c = testCaller(testServices(db), di, { kind: "session", sessionId: here.sid });
    const listed = await c.me.sessions();
    assert.equal(listed.length, 3);
    assert.deepEqual(listed.filter((s) => s.current).map((s) => s.id), [here.sid]);
    assert.deepEqual(await c.me.endOtherSessions(), { ended: 2 });
    assert.equal(await who(here.cookie), "di@example.com");
    assert.equal(await who(laptop.cookie), null);
    assert.equal(await who(phone.cookie), null);
    const after = await c.me.sessions();
    assert.deepEqual(after.map((s) => [s.current, s.open, s.endedReason]), [[true, true, null], [false, false, "ended by the user"], [false, false, "ended by the user"]]);
    // One of one's own sessions by id; someone else's is not found.
    const again = await signIn(di);
    await c.me.endSession({ id: again.sid });
    assert.equal(await who(again.cookie), null);
    const other = await signIn(admin);
    await assert.rejects(c.me.endSession({ id: other.sid }), (e: Error) => /not found/i.test(e.message));
    assert.equal(await who(other.cookie), "admin@example.com");
  });

  it("a password change checks the current password (throttled), then ends the other sessions", async () => {
    const ed = await createUser(db, cliActor, { email: "ed@example.com", password: "ed-old-pass" });
    const here = await signIn(ed);
    const elsewhere = await signIn(ed);
    const change = (current: string, next: string) =>
      changeOwnPassword(db, { id: ed.id, label: ed.email }, { user: ed, current, next, address: "10.1.2.3", keepSessionId: here.sid });
    await assert.rejects(change("wrong-pass", "ed-new-pass"), (e: AppError) => e.code === "BAD_REQUEST" && /current password is not correct/.test(e.message));
    await assert.rejects(change("ed-old-pass", "short"), (e: AppError) => e.code === "BAD_REQUEST" && /at least 8/.test(e.message));
    assert.equal(await who(elsewhere.cookie), "ed@example.com", "nothing ended by a refused change");
    assert.deepEqual(await change("ed-old-pass", "ed-new-pass"), { endedSessions: 1 });
    assert.equal(await who(here.cookie), "ed@example.com");
    assert.equal(await who(elsewhere.cookie), null);
    await assert.rejects(signInWithPassword(db, { email: "ed@example.com", password: "ed-old-pass", address: null }));
    assert.equal((await signInWithPassword(db, { email: "ed@example.com", password: "ed-new-pass", address: null })).id, ed.id);
    const audit = await listAudit(db, { limit: 20 });
    assert.ok(audit.some((a) => a.action === "user.change_password" && a.targetId === ed.id));
    // Guessing the current password is throttled like signing in.
    for (let i = 0; i < 5; i++) await assert.rejects(change(`guess-${i}`, "ed-newer-pass"), (e: AppError) => e.code === "BAD_REQUEST");
    await assert.rejects(change("ed-new-pass", "ed-newer-pass"), (e: AppError) => e.code === "THROTTLED");
  });

  it("an account without an Atrium password of its own is told to change it where it signs in", async () => {
    const sso = await createUser(db, cliActor, { email: "sso@example.com" });
    await assert.rejects(
      changeOwnPassword(db, cliActor, { user: sso, current: "x", next: "whatever-1", address: null }),
      (e: AppError) => e.code === "CONFLICT" && /directory or single sign-on/.test(e.message),
    );
    // A local password the directory sets aside (a non-admin linked to it signs in there only) is not offered either.
    const directoryUrl = "ldap://directory.test";
    const linked = await createUser(db, cliActor, { email: "nia@dir.test", password: "nia-local-pw" });
    await signInWithExternalAccount(db, { via: "ldap", issuer: directoryUrl, subject: "entry-of-nia", email: "nia@dir.test", emailVerified: true });
    const kept = await signIn(linked);
    await assert.rejects(
      changeOwnPassword(db, cliActor, { user: linked, current: "nia-local-pw", next: "nia-new-pw-1", address: null, directoryUrl }),
      (e: AppError) => e.code === "CONFLICT",
    );
    assert.equal(await who(kept.cookie), "nia@dir.test", "nothing ended");
    const services = { ...testServices(db), env: { ...testServices(db).env, ATRIUM_LDAP_URL: directoryUrl } };
    assert.equal((await testCaller(services, linked).me.get()).hasPassword, false);
    assert.equal((await testCaller(testServices(db), linked).me.get()).hasPassword, true, "no directory configured: the password is theirs");
  });

  it("an admin's reset or disable ends every session (enabling again brings none back); 'sign out everywhere' too", async () => {
    const fay = await createUser(db, cliActor, { email: "fay@example.com", password: "fay-pass-12" });
    const one = await signIn(fay);
    await resetPassword(db, { id: admin.id, label: admin.email }, fay.id, "fay-reset-pass");
    assert.equal(await who(one.cookie), null, "reset");
    const two = await signIn(fay);
    await setDisabled(db, { id: admin.id, label: admin.email }, fay.id, true);
    await setDisabled(db, { id: admin.id, label: admin.email }, fay.id, false);
    assert.equal(await who(two.cookie), null, "disabled, then enabled");
    const three = await signIn(fay);
    const four = await signIn(fay);
    const asAdmin = testCaller(testServices(db), admin);
    assert.deepEqual(await asAdmin.admin.users.endSessions({ userId: fay.id }), { ended: 2 });
    assert.equal(await who(three.cookie), null);
    assert.equal(await who(four.cookie), null);
    const audit = await listAudit(db, { limit: 50 });
    assert.ok(audit.some((a) => a.action === "user.end_sessions" && a.targetId === fay.id && a.actorId === admin.id));
    await assert.rejects(testCaller(testServices(db), fay).admin.users.endSessions({ userId: admin.id }), (e: Error) => /Only admins/.test(e.message));
  });

  it("says which held credentials (open WebSockets) no longer let their user in, and why", async () => {
    const gus = await createUser(db, cliActor, { email: "gus@example.com", password: "gus-pass-12" });
    const hal = await createUser(db, cliActor, { email: "hal@example.com", password: "hal-pass-12" });
    const open = await signIn(gus);
    const ended = await signIn(gus);
    await signOutSession(db, { sessionId: ended.sid, userId: gus.id });
    const kept = await createApiToken(db, cliActor, { userId: gus.id, name: "kept" });
    const revoked = await createApiToken(db, cliActor, { userId: gus.id, name: "revoked" });
    await testCaller(testServices(db), gus).me.revokeToken({ id: revoked.id });
    const expired = await createApiToken(db, cliActor, { userId: gus.id, name: "expired", expiresAt: new Date(Date.now() - 1000) });
    const halSession = await signIn(hal);
    await setDisabled(db, { id: admin.id, label: admin.email }, hal.id, true);
    const verdicts = await revocationsOf(db, [
      { userId: gus.id, credential: { kind: "session", sessionId: open.sid } },
      { userId: gus.id, credential: { kind: "session", sessionId: ended.sid } },
      { userId: gus.id, credential: { kind: "token", tokenId: kept.id } },
      { userId: gus.id, credential: { kind: "token", tokenId: revoked.id } },
      { userId: gus.id, credential: { kind: "token", tokenId: expired.id } },
      { userId: hal.id, credential: { kind: "session", sessionId: halSession.sid } },
    ]);
    assert.deepEqual(verdicts, [undefined, REVOKED.session, undefined, REVOKED.token, REVOKED.token, REVOKED.disabled]);
    assert.deepEqual(await revocationsOf(db, []), []);
  });

  it("housekeeping forgets sessions that ended or expired a month ago and throttle counters long over", async () => {
    const ivy = await createUser(db, cliActor, { email: "ivy@example.com", password: "ivy-pass-12" });
    const day = 86_400_000;
    const now = Date.now();
    const open = await signIn(ivy);
    await db.insert(userSessions).values([
      { userId: ivy.id, method: "password", createdAt: new Date(now - 40 * day), expiresAt: new Date(now - 31 * day) },
      { userId: ivy.id, method: "password", createdAt: new Date(now - 32 * day), expiresAt: new Date(now + day), endedAt: new Date(now - 31 * day), endedReason: "signed out" },
      { userId: ivy.id, method: "password", createdAt: new Date(now - 3 * day), expiresAt: new Date(now - 2 * day) },
    ]);
    await db.insert(signInFailures).values([
      { key: "address:203.0.113.9", failures: 1, windowStartedAt: new Date(now - 2 * day) },
      { key: "account:locked@example.com", failures: 5, windowStartedAt: new Date(now - 2 * day), lockedUntil: new Date(now + 60_000) },
      { key: "account:recent@example.com", failures: 2, windowStartedAt: new Date(now - 60_000) },
    ]);
    const tidied = await tidySignInRows(db, now);
    assert.ok(tidied.sessions >= 2 && tidied.failures >= 1, JSON.stringify(tidied));
    const left = await testCaller(testServices(db), ivy, { kind: "session", sessionId: open.sid }).me.sessions();
    // The open one, and the one that expired 2 days ago (a week of ended sessions is shown); the month-old ones are gone.
    assert.deepEqual(left.map((x) => [x.current, x.open, x.endedReason]), [[true, true, null], [false, false, "expired"]]);
    const keys = (await db.select().from(signInFailures)).map((r) => r.key);
    assert.ok(!keys.includes("address:203.0.113.9"));
    assert.ok(keys.includes("account:locked@example.com") && keys.includes("account:recent@example.com"));
    assert.equal(await who(open.cookie), "ivy@example.com");
  });

  it("a token is revoked by its owner or an admin, audited; nobody else reaches it", async () => {
    const jo = await createUser(db, cliActor, { email: "jo@example.com", password: "jo-pass-123" });
    const kim = await createUser(db, cliActor, { email: "kim@example.com", password: "kim-pass-12" });
    const one = await createApiToken(db, cliActor, { userId: jo.id, name: "one" });
    const two = await createApiToken(db, cliActor, { userId: jo.id, name: "two" });
    const asKim = testCaller(testServices(db), kim);
    await assert.rejects(asKim.me.revokeToken({ id: one.id }), (e: Error) => /not found/i.test(e.message));
    await assert.rejects(asKim.admin.users.revokeToken({ userId: jo.id, tokenId: one.id }), (e: Error) => /Only admins/.test(e.message));
    await testCaller(testServices(db), jo).me.revokeToken({ id: one.id });
    const asAdmin = testCaller(testServices(db), admin);
    assert.deepEqual((await asAdmin.admin.users.tokens({ userId: jo.id })).map((t) => [t.name, t.revoked]).sort(), [["one", true], ["two", false]]);
    await asAdmin.admin.users.revokeToken({ userId: jo.id, tokenId: two.id });
    await assert.rejects(asAdmin.admin.users.revokeToken({ userId: kim.id, tokenId: two.id }), (e: Error) => /not found/i.test(e.message), "another user's token id");
    const revokes = (await listAudit(db, { limit: 100 })).filter((a) => a.action === "token.revoke" && a.targetId === jo.id);
    assert.deepEqual(revokes.map((a) => a.actorId).sort(), [admin.id, jo.id].sort());
    // Readable and searchable in the audit log: whose token, and which (QA: only ids were recorded).
    assert.deepEqual(revokes.map((a) => [a.details.email, a.details.token]).sort(), [["jo@example.com", "one"], ["jo@example.com", "two"]]);
    const made = (await listAudit(db, { limit: 100, action: "token.create", search: "jo@example.com" })).map((a) => a.details.token).sort();
    assert.deepEqual(made, ["one", "two"]);
  });

  it("a provider or directory session of someone made admin does not carry the role: only a password session does", async () => {
    const lee = await createUser(db, cliActor, { email: "lee@example.com", password: "lee-pass-123" });
    const viaSso = (await startSession(db, { userId: lee.id, method: "oidc", maxAgeMs: HOUR }))!;
    const ssoCookie = await cookieFor(lee, viaSso);
    const { cookie: passwordCookie } = await signIn(lee);
    assert.equal(await who(ssoCookie), "lee@example.com");
    await changeRole(db, cliActor, lee.id, "admin");
    assert.equal(await who(ssoCookie), null, "made admin: the SSO session is not an admin session");
    assert.equal(await who(passwordCookie), "lee@example.com");
  });

  it("a sign-in that read the user before a reset or a disabling gets no session, even if its session comes after", async () => {
    const max = await createUser(db, cliActor, { email: "max@example.com", password: "max-pass-123" });
    const seen = async () => (await findUserByEmail(db, "max@example.com"))!.sessionsValidFrom;
    // The sign-in read the user (and checked the old password)...
    const before = await seen();
    // ...then the admin reset the password, before the sign-in's session was written.
    await resetPassword(db, { id: admin.id, label: admin.email }, max.id, "max-new-pass-1");
    assert.equal(await startSession(db, { userId: max.id, method: "password", maxAgeMs: HOUR, validFromSeen: before }), undefined);
    // A sign-in that read the user after the reset gets one (whatever this process's clock says: values, not times).
    assert.ok(await startSession(db, { userId: max.id, method: "password", maxAgeMs: HOUR, validFromSeen: await seen() }));
    // The same for a disabling (and enabling again does not bring the raced sign-in back).
    const beforeDisable = await seen();
    await setDisabled(db, { id: admin.id, label: admin.email }, max.id, true);
    assert.equal(await startSession(db, { userId: max.id, method: "password", maxAgeMs: HOUR, validFromSeen: beforeDisable }), undefined);
    await setDisabled(db, { id: admin.id, label: admin.email }, max.id, false);
    assert.equal(await startSession(db, { userId: max.id, method: "password", maxAgeMs: HOUR, validFromSeen: beforeDisable }), undefined);
    // "Sign out everywhere else" keeps the caller's own session: it was made before, and is not refused.
    const own = (await startSession(db, { userId: max.id, method: "password", maxAgeMs: HOUR, validFromSeen: await seen() }))!;
    const other = (await startSession(db, { userId: max.id, method: "password", maxAgeMs: HOUR, validFromSeen: await seen() }))!;
    await testCaller(testServices(db), max, { kind: "session", sessionId: own }).me.endOtherSessions();
    assert.equal(await who(await cookieFor(max, own)), "max@example.com");
    assert.equal(await who(await cookieFor(max, other)), null);
  });

  it("a sign-in refused its session says why, for the sign-in page: sessions ended meanwhile, or the account disabled", async () => {
    const noa = await createUser(db, cliActor, { email: "noa@example.com", password: "noa-pass-123" });
    const seen = async () => (await findUserByEmail(db, "noa@example.com"))!.sessionsValidFrom;
    const start = (validFromSeen: Date | null) => startSignInSession(db, { userId: noa.id, method: "password", maxAgeMs: HOUR, validFromSeen });
    const before = await seen();
    await resetPassword(db, { id: admin.id, label: admin.email }, noa.id, "noa-new-pass-1");
    await assert.rejects(start(before), (e: AppError) => e.message === SIGN_IN_INTERRUPTED && signInErrorCode(e) === "sessions-ended");
    assert.ok(await start(await seen()), "read after the reset: a session");
    const beforeDisable = await seen();
    await setDisabled(db, { id: admin.id, label: admin.email }, noa.id, true);
    // Disabled: that is what the user reads, whichever value the sign-in saw.
    await assert.rejects(start(beforeDisable), (e: AppError) => e.message === ACCOUNT_DISABLED && signInErrorCode(e) === "disabled");
    await assert.rejects(start(await seen()), (e: AppError) => signInErrorCode(e) === "disabled");
    await setDisabled(db, { id: admin.id, label: admin.email }, noa.id, false);
    await assert.rejects(start(beforeDisable), (e: AppError) => signInErrorCode(e) === "sessions-ended", "enabled again: still ended");
  });
});
