// Signing in against a real database: the message never tells which field was wrong, and the 6th quick
// failure is throttled even with the right password.
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import type { Database } from "@/db";
import { openTestDatabase, testDbKind } from "@/db/testing";
import { isAppError } from "@/server/errors";
import { cliActor } from "@/server/identity/actor";
import { createUser, resetPassword, setDisabled } from "@/server/identity/users";
import { eq } from "drizzle-orm";
import { signInFailures } from "@/db/schema";
import { changeOwnPassword, signInWithPassword, WRONG_CREDENTIALS, type Directory } from "./credentials";
import { signInWithExternalAccount } from "./external-accounts";
import type { DirectoryOutcome } from "./ldap";

async function attempt(db: Database, email: string, password: string, address = "10.1.2.3") {
  try {
    const user = await signInWithPassword(db, { email, password, address });
    return { ok: true as const, user };
  } catch (error) {
    assert.ok(isAppError(error), `unexpected ${error}`);
    return { ok: false as const, code: error.code, message: error.message };
  }
}

describe(`password sign-in on ${testDbKind}`, () => {
  let db: Database;
  let close: () => Promise<void>;
  before(async () => {
    ({ db, close } = await openTestDatabase());
    await createUser(db, cliActor, { email: "ana@example.com", password: "right-password" });
  });
  after(() => close());

  it("signs in with the right password, case-insensitively on the email", async () => {
    const result = await attempt(db, " ANA@example.com ", "right-password");
    assert.ok(result.ok);
    assert.equal(result.user.email, "ana@example.com");
  });

  it("gives the same message for a wrong password and an unknown email", async () => {
    const wrongPassword = await attempt(db, "ana@example.com", "nope-nope", "10.0.0.1");
    const unknownEmail = await attempt(db, "nobody@example.com", "right-password", "10.0.0.1");
    assert.deepEqual(wrongPassword, { ok: false, code: "UNAUTHENTICATED", message: WRONG_CREDENTIALS });
    assert.deepEqual(unknownEmail, { ok: false, code: "UNAUTHENTICATED", message: WRONG_CREDENTIALS });
    assert.ok((await attempt(db, "ana@example.com", "right-password", "10.0.0.1")).ok, "a success clears the account counter");
  });

  it("throttles the 6th quick failure, even with the right password", async () => {
    await createUser(db, cliActor, { email: "bob@example.com", password: "right-password" });
    for (let i = 1; i <= 5; i++) {
      const r = await attempt(db, "bob@example.com", `wrong-${i}`);
      assert.equal(r.ok ? "ok" : r.code, "UNAUTHENTICATED", `attempt ${i}`);
    }
    const sixth = await attempt(db, "bob@example.com", "right-password");
    assert.equal(sixth.ok ? "ok" : sixth.code, "THROTTLED");
    assert.match(sixth.ok ? "" : sixth.message, /Too many failed sign-in attempts\. Try again in 15 minutes/);
  });

  it("an admin's password reset ends the account's lockout, and refuses a password of spaces only", async () => {
    const ivy = await createUser(db, cliActor, { email: "ivy@example.com", password: "first-password" });
    for (let i = 1; i <= 6; i++) await attempt(db, "ivy@example.com", `wrong-${i}`, "10.9.9.9");
    const locked = await attempt(db, "ivy@example.com", "first-password", "10.9.9.9");
    assert.equal(locked.ok ? "ok" : locked.code, "THROTTLED");
    await assert.rejects(resetPassword(db, cliActor, ivy.id, "        "), (e) => isAppError(e) && e.code === "BAD_REQUEST" && /spaces only/.test(e.message));
    await resetPassword(db, cliActor, ivy.id, "second-password");
    const after = await attempt(db, "ivy@example.com", "second-password", "10.9.9.10");
    assert.equal(after.ok ? "ok" : after.code, "ok", "the reset ended the lockout");
  });

  it("counts tries sent at once: forty guesses together get five answers, the rest are throttled", async () => {
    await createUser(db, cliActor, { email: "dora@example.com", password: "right-password" });
    const results = await Promise.all(Array.from({ length: 40 }, (_, i) => attempt(db, "dora@example.com", `guess-${i}`, `198.51.100.${i + 10}`)));
    const codes = results.map((r) => (r.ok ? "ok" : r.code));
    assert.equal(codes.filter((c) => c === "UNAUTHENTICATED").length, 5, codes.join(" "));
    assert.equal(codes.filter((c) => c === "THROTTLED").length, 35);
    assert.equal((await attempt(db, "dora@example.com", "right-password", "198.51.100.99")).ok, false, "still locked");
  });

  it("a right password takes its try back from the address's count", async () => {
    const address = "192.0.2.88";
    await createUser(db, cliActor, { email: "eve@example.com", password: "right-password" });
    // An office behind one address: many people signing in rightly never lock it.
    for (let i = 0; i < 40; i++) assert.ok((await attempt(db, "eve@example.com", "right-password", address)).ok, `sign-in ${i + 1}`);
  });

  it("throttles an address that fails across many accounts", async () => {
    const address = "192.0.2.77";
    for (let i = 0; i < 30; i++) await attempt(db, `spray${i}@example.com`, "guess", address);
    const r = await attempt(db, "ana@example.com", "right-password", address);
    assert.equal(r.ok ? "ok" : r.code, "THROTTLED");
    assert.ok((await attempt(db, "ana@example.com", "right-password", "198.51.100.1")).ok, "other addresses are unaffected");
  });

  it("refuses disabled accounts", async () => {
    const carol = await createUser(db, cliActor, { email: "carol@example.com", password: "right-password" });
    await setDisabled(db, cliActor, carol.id, true);
    const r = await attempt(db, "carol@example.com", "right-password", "10.9.9.9");
    assert.equal(r.ok ? "ok" : r.code, "FORBIDDEN");
  });

  it("a directory that stops answering after it found the person takes that try back once, not twice", async () => {
    const url = "ldap://directory.test";
    const subject = "entry-of-fred";
    await createUser(db, cliActor, { email: "fred@dir.test", password: "old-local-pw" });
    await signInWithExternalAccount(db, { via: "ldap", issuer: url, subject, email: "fred@dir.test", emailVerified: true }); // linked
    // As authenticateAgainstDirectory behaves: the entry found, the caller asked, then the bind's outcome.
    const directoryAnswering = (after: DirectoryOutcome["kind"]): Directory => ({
      url,
      async authenticate(_login, _password, mayBind) {
        if (mayBind && !(await mayBind(subject))) return { kind: "not-tried", subject };
        return after === "wrong-password" ? { kind: "wrong-password", subject } : { kind: "unreachable", error: "connection reset" };
      },
    });
    const entryFailures = async () => (await db.select().from(signInFailures).where(eq(signInFailures.key, `entry:${url} ${subject}`)))[0]?.failures;
    for (let i = 0; i < 3; i++) {
      await assert.rejects(signInWithPassword(db, { email: "fred@dir.test", password: `wrong-${i}`, address: null }, directoryAnswering("wrong-password")), (e: Error) => isAppError(e) && e.code === "UNAUTHENTICATED");
    }
    assert.equal(await entryFailures(), 3);
    await assert.rejects(signInWithPassword(db, { email: "fred@dir.test", password: "whatever", address: null }, directoryAnswering("unreachable")), (e: Error) => isAppError(e) && e.code === "UNAVAILABLE");
    assert.equal(await entryFailures(), 3, "the three failures still count");
  });

  // Regression: a new password equal to the current one was accepted ("Password changed").
  it("refuses a new password that is the same as the current one, after checking the current one", async () => {
    const gil = await createUser(db, cliActor, { email: "gil@example.com", password: "gil-pass-one" });
    const actor = { id: gil.id, label: gil.email };
    const change = (current: string, next: string) => changeOwnPassword(db, actor, { user: gil, current, next, address: "10.4.4.4" });
    await assert.rejects(change("gil-pass-one", "gil-pass-one"), (e: Error) => isAppError(e) && e.code === "BAD_REQUEST" && /same as your current one/.test(e.message));
    // A wrong current password is still just that: the comparison says nothing before the current one is proven.
    await assert.rejects(change("not-gils-pass", "not-gils-pass"), (e: Error) => isAppError(e) && /current password is not correct/.test(e.message));
    assert.ok((await attempt(db, "gil@example.com", "gil-pass-one", "10.4.4.5")).ok, "the password is unchanged");
    assert.deepEqual(await change("gil-pass-one", "gil-pass-two"), { endedSessions: 0 });
    assert.ok((await attempt(db, "gil@example.com", "gil-pass-two", "10.4.4.5")).ok);
  });
});
