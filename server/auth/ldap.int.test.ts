// Password sign-in against a real OpenLDAP directory (Debian's slapd): a directory user signs in by uid or email
// and gets an Atrium account on the first sign-in, found again by its entryUUID; a wrong password is refused and
// throttled; the login is escaped in the filter; an empty password never binds; an entry without an email is refused
// with the reason; a local account (the first admin) still signs in, also while the directory does not answer; a
// directory that does not answer is said so, not "wrong password".
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import type { Database } from "@/db";
import { findUserByEmail } from "@/db/queries/users";
import { openTestDatabase } from "@/db/testing";
import type { AppError } from "@/server/errors";
import { cliActor } from "@/server/identity/actor";
import { createUser, setDisabled } from "@/server/identity/users";
import { ldapDirectory, signInWithPassword, WRONG_CREDENTIALS } from "./credentials";
import { authenticateAgainstDirectory, escapeFilterValue, type LdapSettings } from "./ldap";
import { DIRECTORY_DOWN, signInErrorCode } from "./sign-in-errors";
import { PEOPLE, startDirectory, type TestDirectory } from "./testing-ldap";

describe("sign-in against a real LDAP directory", () => {
  let ldap: TestDirectory;
  let db: Database;
  let close: () => Promise<void>;
  let settings: LdapSettings;
  let address = 0;
  const signIn = (email: string, password: string, directory = ldapDirectory(settings), address_?: string) =>
    signInWithPassword(db, { email, password, address: address_ ?? `10.9.0.${++address % 250}` }, directory, ["dir.test"]);

  before(async () => {
    ldap = await startDirectory();
    settings = { url: ldap.url, userBase: PEOPLE, userFilter: "(|(uid={login})(mail={login}))", startTls: false, timeoutMs: 5_000 };
    await ldap.addPerson("lena", { cn: "Lena Lindqvist", mail: "lena@dir.test", userPassword: "lena-directory-pw" });
    await ldap.addPerson("nomail", { cn: "No Mail", userPassword: "nomail-directory-pw" });
    await ldap.addPerson("twin1", { cn: "Twin", mail: "twins@dir.test", userPassword: "twin-pw-1" });
    await ldap.addPerson("twin2", { cn: "Twin", mail: "twins@dir.test", userPassword: "twin-pw-2" });
    ({ db, close } = await openTestDatabase());
    await createUser(db, cliActor, { email: "admin@example.com", password: "local-admin-pw", role: "admin" });
  });
  after(async () => {
    await close?.();
    await ldap?.stop();
  });

  it("checks a password by binding as the entry found by uid or email; knows nothing of other logins", async () => {
    const byUid = await authenticateAgainstDirectory(settings, "lena", "lena-directory-pw");
    assert.equal(byUid.kind, "ok");
    if (byUid.kind !== "ok") return;
    assert.equal(byUid.entry.email, "lena@dir.test");
    assert.equal(byUid.entry.name, "Lena Lindqvist");
    assert.match(byUid.entry.subject, /^[0-9a-f-]{36}$/, "the entryUUID");
    const byMail = await authenticateAgainstDirectory(settings, "lena@dir.test", "lena-directory-pw");
    assert.deepEqual(byMail, byUid);
    assert.deepEqual(await authenticateAgainstDirectory(settings, "lena", "not-her-password"), { kind: "wrong-password", subject: byUid.entry.subject });
    // The caller may hold the entry before its password is tried (a right password then is not tried either).
    const asked: string[] = [];
    const hold = async (subject: string) => (asked.push(subject), false);
    assert.deepEqual(await authenticateAgainstDirectory(settings, "lena@dir.test", "lena-directory-pw", hold), { kind: "not-tried", subject: byUid.entry.subject });
    assert.deepEqual(asked, [byUid.entry.subject]);
    assert.deepEqual(await authenticateAgainstDirectory(settings, "nobody", "whatever"), { kind: "unknown" });
    assert.deepEqual(await authenticateAgainstDirectory(settings, "twins@dir.test", "twin-pw-1"), { kind: "unknown" }, "two entries: not one person");
  });

  it("escapes the login in the filter, and never binds with an empty password", async () => {
    assert.equal(escapeFilterValue("a*)(uid=*"), "a\\2a\\29\\28uid=\\2a");
    assert.deepEqual(await authenticateAgainstDirectory(settings, "*", "lena-directory-pw"), { kind: "unknown" });
    assert.deepEqual(await authenticateAgainstDirectory(settings, "l*", "lena-directory-pw"), { kind: "unknown" });
    // Not replacement patterns either: `$'` would copy the filter's tail into it (unbalanced: "unreachable").
    assert.deepEqual(await authenticateAgainstDirectory(settings, "lena$'", "lena-directory-pw"), { kind: "unknown" });
    assert.deepEqual(await authenticateAgainstDirectory(settings, "$&", "lena-directory-pw"), { kind: "unknown" });
    // An empty password would be an unauthenticated bind, which the directory accepts for any DN.
    assert.deepEqual(await authenticateAgainstDirectory(settings, "lena", ""), { kind: "wrong-password" });
  });

  it("a directory user's first sign-in makes the Atrium account, found again by the entry afterwards", async () => {
    const first = await signIn("lena", "lena-directory-pw");
    assert.equal(first.email, "lena@dir.test");
    assert.equal(first.role, "analyst");
    assert.equal(first.passwordHash, null);
    const again = await signIn("LENA@dir.test", "lena-directory-pw");
    assert.equal(again.id, first.id);
    await assert.rejects(signIn("lena", "wrong-pw"), (e: AppError) => e.code === "UNAUTHENTICATED" && e.message === WRONG_CREDENTIALS);
  });

  it("refuses an entry without an email, and a disabled user, with the reason", async () => {
    await assert.rejects(signIn("nomail", "nomail-directory-pw"), (e: AppError) => e.code === "UNAUTHENTICATED" && signInErrorCode(e) === "sso-unverified");
    const user = (await findUserByEmail(db, "lena@dir.test"))!;
    await setDisabled(db, cliActor, user.id, true);
    await assert.rejects(signIn("lena", "lena-directory-pw"), (e: AppError) => signInErrorCode(e) === "disabled");
    await setDisabled(db, cliActor, user.id, false);
  });

  it("throttles wrong directory passwords like local ones", async () => {
    await ldap.addPerson("tom", { cn: "Tom", mail: "tom@dir.test", userPassword: "tom-directory-pw" });
    for (let i = 0; i < 5; i++) await assert.rejects(signIn("tom", `wrong-${i}`), (e: AppError) => e.code === "UNAUTHENTICATED");
    await assert.rejects(signIn("tom", "tom-directory-pw"), (e: AppError) => e.code === "THROTTLED");
  });

  it("throttles the person, not each login: failures by uid and by email count together", async () => {
    await ldap.addPerson("uma", { cn: "Uma", mail: "uma@dir.test", userPassword: "uma-directory-pw" });
    for (let i = 0; i < 3; i++) await assert.rejects(signIn("uma", `wrong-${i}`), (e: AppError) => e.code === "UNAUTHENTICATED");
    for (let i = 0; i < 2; i++) await assert.rejects(signIn("uma@dir.test", `wrong-${i}`), (e: AppError) => e.code === "UNAUTHENTICATED");
    // Five failures for Uma: neither of her logins is let in now, even with her password.
    await assert.rejects(signIn("uma", "uma-directory-pw"), (e: AppError) => e.code === "THROTTLED" && /Try again in 15 minutes/.test(e.message));
    await assert.rejects(signIn("uma@dir.test", "uma-directory-pw"), (e: AppError) => e.code === "THROTTLED");
    // Someone else in the directory is not held by her count.
    await ldap.addPerson("vic", { cn: "Vic", mail: "vic@dir.test", userPassword: "vic-directory-pw" });
    assert.equal((await signIn("vic", "vic-directory-pw")).email, "vic@dir.test");
  });

  it("a successful sign-in clears the person's count, whichever login it used", async () => {
    await ldap.addPerson("wes", { cn: "Wes", mail: "wes@dir.test", userPassword: "wes-directory-pw" });
    for (let i = 0; i < 4; i++) await assert.rejects(signIn("wes", `wrong-${i}`), (e: AppError) => e.code === "UNAUTHENTICATED");
    assert.equal((await signIn("wes@dir.test", "wes-directory-pw")).email, "wes@dir.test");
    // The person's count was cleared: four more failures (eight in all) do not hold Wes.
    for (let i = 0; i < 4; i++) await assert.rejects(signIn("wes@dir.test", `wrong-again-${i}`), (e: AppError) => e.code === "UNAUTHENTICATED");
    assert.equal((await signIn("wes@dir.test", "wes-directory-pw")).email, "wes@dir.test");
    // Failures by email, then a success by uid: the email's own count goes too (the directory says it is Wes's).
    for (let i = 0; i < 4; i++) await assert.rejects(signIn("wes@dir.test", `by-mail-${i}`), (e: AppError) => e.code === "UNAUTHENTICATED");
    assert.equal((await signIn("wes", "wes-directory-pw")).email, "wes@dir.test");
    for (let i = 0; i < 4; i++) await assert.rejects(signIn("wes@dir.test", `by-mail-again-${i}`), (e: AppError) => e.code === "UNAUTHENTICATED");
    assert.equal((await signIn("wes@dir.test", "wes-directory-pw")).email, "wes@dir.test");
  });

  it("a local account the directory does not know signs in with its own password, also while the directory is down", async () => {
    assert.equal((await signIn("admin@example.com", "local-admin-pw")).role, "admin");
    const down = ldapDirectory({ ...settings, url: "ldap://127.0.0.1:9", timeoutMs: 2_000 });
    assert.equal((await signIn("admin@example.com", "local-admin-pw", down)).role, "admin");
    // A directory user while it is down: told the directory did not answer (not "wrong password").
    await assert.rejects(signIn("lena", "lena-directory-pw", down), (e: AppError) => e.code === "UNAVAILABLE" && e.message === DIRECTORY_DOWN && signInErrorCode(e) === "unavailable");
  });

  it("an admin the directory also knows signs in with the admin's own password, never through the directory", async () => {
    await ldap.addPerson("dir-admin", { cn: "Admin In Directory", mail: "admin@example.com", userPassword: "directory-admin-pw" });
    assert.equal((await signIn("admin@example.com", "local-admin-pw")).role, "admin");
    await assert.rejects(signIn("admin@example.com", "directory-admin-pw"), (e: AppError) => e.code === "UNAUTHENTICATED");
  });

  it("a user linked to the directory whose entry was deleted (someone who left) is not let in by an old local password", async () => {
    await createUser(db, cliActor, { email: "leaver@dir.test", password: "old-local-pw-1" });
    await ldap.addPerson("leaver", { cn: "Leaver", mail: "leaver@dir.test", userPassword: "leaver-directory-pw" });
    await signIn("leaver", "leaver-directory-pw"); // linked now
    await ldap.removePerson("leaver");
    await assert.rejects(signIn("leaver@dir.test", "old-local-pw-1"), (e: AppError) => e.code === "UNAUTHENTICATED" && e.message === WRONG_CREDENTIALS);
  });

  it("while the directory is down, wrong guesses at a local password still count: the throttle holds", async () => {
    await createUser(db, cliActor, { email: "ops@example.com", password: "local-ops-pw-1" });
    const down = ldapDirectory({ ...settings, url: "ldap://127.0.0.1:9", timeoutMs: 2_000 });
    for (let i = 0; i < 5; i++) await assert.rejects(signIn("ops@example.com", `guess-${i}`, down), (e: AppError) => e.code === "UNAVAILABLE");
    await assert.rejects(signIn("ops@example.com", "local-ops-pw-1", down), (e: AppError) => e.code === "THROTTLED");
  });

  it("a directory that accepts the connection but never answers is 'unreachable' within the deadline", async () => {
    const net = await import("node:net");
    const silent = net.createServer(() => {}); // takes the connection, says nothing
    await new Promise<void>((resolve) => silent.listen(0, "127.0.0.1", resolve));
    try {
      const { port } = silent.address() as { port: number };
      const started = Date.now();
      const outcome = await authenticateAgainstDirectory({ ...settings, url: `ldap://127.0.0.1:${port}`, bindDn: "cn=x", bindPassword: "y", timeoutMs: 1_000 }, "lena", "pw");
      assert.equal(outcome.kind, "unreachable");
      assert.ok(Date.now() - started < 3_000, `answered in ${Date.now() - started} ms`);
    } finally {
      silent.close();
    }
  });

  it("makes accounts only for the domains that may sign up", async () => {
    await ldap.addPerson("guest", { cn: "Guest", mail: "guest@partner.example", userPassword: "guest-directory-pw" });
    await assert.rejects(signIn("guest", "guest-directory-pw"), (e: AppError) => signInErrorCode(e) === "sso-not-invited");
    assert.equal(await findUserByEmail(db, "guest@partner.example"), undefined);
  });
});
