// Accounts from an OpenID provider or a directory, against a real database: an account is known by issuer and subject; its first sign-in
// links it to the user with its verified email, or creates an analyst; an unverified email is refused (it could be
// anyone's); a disabled user stays out; two first sign-ins at once make one user and one link.
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import type { Database } from "@/db";
import { listAudit } from "@/db/queries/audit";
import { findUserByEmail } from "@/db/queries/users";
import { openTestDatabase, testDbKind } from "@/db/testing";
import type { AppError } from "@/server/errors";
import { cliActor } from "@/server/identity/actor";
import { changeRole, createUser, resetPassword, setDisabled, unlinkIdentities } from "@/server/identity/users";
import { signInWithExternalAccount, type ExternalAccount, type SignUpDomains } from "./external-accounts";
import { signInErrorCode, signInErrorMessage } from "./sign-in-errors";

const ISSUER = "https://sso.example.com/realms/analytics";
const signIn = (db: Database, account: Omit<ExternalAccount, "via">, domains: SignUpDomains = "*") => signInWithExternalAccount(db, { via: "oidc", ...account }, domains);

describe(`single sign-on accounts on ${testDbKind}`, () => {
  let db: Database;
  let close: () => Promise<void>;
  before(async () => {
    ({ db, close } = await openTestDatabase());
  });
  after(() => close());

  it("creates an analyst on the first sign-in, and finds the same user by subject afterwards, whatever the email says", async () => {
    const first = await signIn(db, { issuer: ISSUER, subject: "sub-olivia", email: "Olivia@Example.com", emailVerified: true, name: "Olivia Ortiz" });
    assert.equal(first.email, "olivia@example.com");
    assert.equal(first.name, "Olivia Ortiz");
    assert.equal(first.role, "analyst");
    assert.equal(first.passwordHash, null, "no password: this user signs in through the provider");
    assert.ok((await findUserByEmail(db, "olivia@example.com"))?.lastSignInAt, "the sign-in is recorded");
    const renamed = await signIn(db, { issuer: ISSUER, subject: "sub-olivia", email: "olivia.ortiz@example.com", emailVerified: true });
    assert.equal(renamed.id, first.id, "known by subject, not by email");
    const other = await signIn(db, { issuer: "https://other-idp.example.com", subject: "sub-olivia", email: "someone@example.com", emailVerified: true });
    assert.notEqual(other.id, first.id, "a subject is only unique within its issuer");
  });

  it("links the first sign-in to an existing user with the same verified email, and audits the link", async () => {
    const added = await createUser(db, cliActor, { email: "added@example.com", password: "a-long-password" });
    // Even where no one may sign up: the user was added by an admin.
    const signedIn = await signIn(db, { issuer: ISSUER, subject: "sub-added", email: "added@example.com", emailVerified: true }, []);
    assert.equal(signedIn.id, added.id);
    const audit = (await listAudit(db, { limit: 50 })).filter((e) => e.action === "user.identity.link" && e.targetId === added.id);
    assert.equal(audit.length, 1);
    assert.equal(audit[0]!.actorLabel, `oidc ${ISSUER}`);
  });

  it("never links an admin, a disabled user, or a user linked to another account of the issuer (an address handed on)", async () => {
    const refusedWith = (why: string) => (e: AppError) => e.details?.why === why && signInErrorCode(e) === "sso-conflict";
    await createUser(db, cliActor, { email: "boss@example.com", password: "a-long-password", role: "admin" });
    await assert.rejects(signIn(db, { issuer: ISSUER, subject: "sub-boss", email: "boss@example.com", emailVerified: true }), refusedWith("admin"));
    // Nor lets a linked user in as admin once they are made one: admins sign in with their own password.
    const later = await signIn(db, { issuer: ISSUER, subject: "sub-later-admin", email: "later@example.com", emailVerified: true });
    await assert.rejects(changeRole(db, cliActor, later.id, "admin"), /has no Atrium password: set one first/);
    await resetPassword(db, cliActor, later.id, "later-admin-pass");
    // Still linked: a local password the provider's sign-in set aside must not become an admin's way in.
    await assert.rejects(changeRole(db, cliActor, later.id, "admin"), /signs in through .*Unlink those accounts first/);
    await unlinkIdentities(db, cliActor, { user: later.id });
    await changeRole(db, cliActor, later.id, "admin");
    await assert.rejects(signIn(db, { issuer: ISSUER, subject: "sub-later-admin", email: "later@example.com", emailVerified: true }), refusedWith("admin"));
    await changeRole(db, cliActor, later.id, "analyst");
    assert.equal((await signIn(db, { issuer: ISSUER, subject: "sub-later-admin", email: "later@example.com", emailVerified: true })).id, later.id);
    const leaver = await signIn(db, { issuer: ISSUER, subject: "sub-leaver", email: "seat@example.com", emailVerified: true });
    await assert.rejects(signIn(db, { issuer: ISSUER, subject: "sub-new-hire", email: "seat@example.com", emailVerified: true }), refusedWith("linked"));
    assert.equal((await signIn(db, { issuer: ISSUER, subject: "sub-leaver" })).id, leaver.id, "the first account still signs in");
    // An admin ends the old link (a provider that re-issued subjects, say): the next account links, audited.
    assert.equal(await unlinkIdentities(db, cliActor, { user: "seat@example.com", issuer: ISSUER }), 1);
    assert.equal((await signIn(db, { issuer: ISSUER, subject: "sub-new-hire", email: "seat@example.com", emailVerified: true })).id, leaver.id);
    assert.ok((await listAudit(db, { limit: 100 })).some((e) => e.action === "user.identity.unlink" && e.targetId === leaver.id));
    const off = await createUser(db, cliActor, { email: "off@example.com", password: "a-long-password" });
    await setDisabled(db, cliActor, off.id, true);
    await assert.rejects(signIn(db, { issuer: ISSUER, subject: "sub-off", email: "off@example.com", emailVerified: true }), (e: AppError) => e.code === "FORBIDDEN");
    await setDisabled(db, cliActor, off.id, false);
    await assert.rejects(signIn(db, { issuer: ISSUER, subject: "sub-off" }), (e: AppError) => e.code === "UNAUTHENTICATED", "no link was made while it was disabled");
  });

  it("makes new users only for the domains that may sign up, never with a reserved service name", async () => {
    const notInvited = (e: AppError) => signInErrorCode(e) === "sso-not-invited";
    await assert.rejects(signIn(db, { issuer: ISSUER, subject: "sub-stranger", email: "stranger@elsewhere.org", emailVerified: true }, []), notInvited);
    await assert.rejects(signIn(db, { issuer: ISSUER, subject: "sub-stranger", email: "stranger@elsewhere.org", emailVerified: true }, ["example.com"]), notInvited);
    assert.equal(await findUserByEmail(db, "stranger@elsewhere.org"), undefined);
    const inDomain = await signIn(db, { issuer: ISSUER, subject: "sub-hdfs", email: "hdfs@example.com", emailVerified: true }, ["example.com"]);
    assert.notEqual(inDomain.username, "hdfs", "not the HDFS superuser's name");
    assert.match(inDomain.username, /^hdfs\d+$/);
  });

  it("refuses an account whose email the provider did not verify, and says why", async () => {
    await createUser(db, cliActor, { email: "victim@example.com", password: "a-long-password" });
    for (const emailVerified of [false, undefined, "true"]) {
      await assert.rejects(signIn(db, { issuer: ISSUER, subject: "sub-mallory", email: "victim@example.com", emailVerified }), (e: AppError) => {
        assert.equal(e.code, "UNAUTHENTICATED");
        assert.equal(signInErrorMessage(signInErrorCode(e)), e.message, "the sign-in page shows the same words");
        return true;
      });
    }
    await assert.rejects(signIn(db, { issuer: ISSUER, subject: "sub-no-email" }), (e: AppError) => e.code === "UNAUTHENTICATED");
    await assert.rejects(signIn(db, { issuer: ISSUER, subject: "", email: "x@example.com", emailVerified: true }), (e: AppError) => e.code === "UNAUTHENTICATED");
  });

  it("keeps a disabled user out", async () => {
    const user = await signIn(db, { issuer: ISSUER, subject: "sub-dora", email: "dora@example.com", emailVerified: true });
    await setDisabled(db, cliActor, user.id, true);
    await assert.rejects(signIn(db, { issuer: ISSUER, subject: "sub-dora" }), (e: AppError) => e.code === "FORBIDDEN" && signInErrorCode(e) === "disabled");
  });

  it("two first sign-ins at once make one user and one link", async () => {
    const account = { issuer: ISSUER, subject: "sub-twice", email: "twice@example.com", emailVerified: true };
    const [a, b] = await Promise.all([signIn(db, account), signIn(db, account)]);
    assert.equal(a.id, b.id);
    assert.equal((await findUserByEmail(db, "twice@example.com"))?.id, a.id);
  });
});
