// People who left the directory, against a real OpenLDAP server (Debian's slapd): users linked by signing in are
// looked up by their entry's id; one whose entry was deleted, or who no longer matches the user filter (locked), is
// disabled with the reason in the audit log; the others, local accounts and admins are not touched. A directory that
// does not answer, or a wrong user base that would make everyone a leaver, disables no one.
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import type { Database } from "@/db";
import { listAudit } from "@/db/queries/audit";
import { findUserByEmail } from "@/db/queries/users";
import { openTestDatabase } from "@/db/testing";
import { freePort } from "@/e2e/support/postgres.mjs";
import { cliActor } from "@/server/identity/actor";
import { createUser } from "@/server/identity/users";
import { ldapDirectory, signInWithPassword } from "./credentials";
import { DirectoryLeaverCheck, judgeLeavers, LEFT_THE_DIRECTORY } from "./directory-leavers";
import { entriesStillThere, type LdapSettings } from "./ldap";
import { DIRECTORY_BASE, PEOPLE, startDirectory, type TestDirectory } from "./testing-ldap";

const PEOPLE_NAMES = ["lena", "omar", "pia", "quinn", "rita", "sven", "tove"];

describe("disabling people who left a real LDAP directory", () => {
  let ldap: TestDirectory;
  let db: Database;
  let close: () => Promise<void>;
  let settings: LdapSettings;
  const check = (s: LdapSettings) =>
    new DirectoryLeaverCheck({ db, issuer: settings.url, entriesStillThere: (subjects) => entriesStillThere(s, subjects), intervalMs: 60_000 }).runOnce();
  const disabled = async (name: string) => Boolean((await findUserByEmail(db, `${name}@dir.test`))?.disabledAt);

  before(async () => {
    ldap = await startDirectory();
    // Locked entries are out of the filter, as directories often say who may sign in.
    settings = { url: ldap.url, userBase: PEOPLE, userFilter: "(&(|(uid={login})(mail={login}))(!(description=locked)))", startTls: false, timeoutMs: 5_000 };
    ({ db, close } = await openTestDatabase());
    await createUser(db, cliActor, { email: "admin@example.com", password: "local-admin-pw", role: "admin" });
    await createUser(db, cliActor, { email: "local@example.com", password: "local-user-pw" });
    const directory = ldapDirectory(settings);
    for (const name of PEOPLE_NAMES) {
      await ldap.addPerson(name, { cn: name, mail: `${name}@dir.test`, userPassword: `${name}-pw` });
      // Signing in links the Atrium user to the entry.
      await signInWithPassword(db, { email: name, password: `${name}-pw`, address: "10.9.1.1" }, directory, ["dir.test"]);
    }
  });
  after(async () => {
    await close?.();
    await ldap?.stop();
  });

  it("the policy: a few leavers are disabled; more than 3, or 10% of many, at once is a misconfiguration", () => {
    assert.deepEqual(judgeLeavers(7, 3), { act: true });
    assert.equal(judgeLeavers(7, 4).act, false);
    assert.deepEqual(judgeLeavers(1000, 100), { act: true });
    const many = judgeLeavers(1000, 101);
    assert.ok(!many.act && /101 of the 1000 .* ATRIUM_LDAP_USER_BASE/.test(many.why));
  });

  it("while everyone is still there, no one is disabled", async () => {
    assert.deepEqual(await check(settings), { linked: PEOPLE_NAMES.length, disabled: [] });
  });

  it("a wrong user base (everyone 'gone') and a directory that does not answer disable no one", async () => {
    // A user base that does not exist says nothing about anyone (even with fewer people than the guard's 3).
    const wrongBase = await check({ ...settings, userBase: `ou=elsewhere,${DIRECTORY_BASE}` });
    assert.deepEqual(wrongBase.disabled, []);
    assert.match(wrongBase.skipped ?? "", /could not be asked who is still in it/);
    // A base that exists but holds no one (the wrong OU): everyone "gone", more than one check disables.
    const emptyBase = await check({ ...settings, userBase: DIRECTORY_BASE, userFilter: "(&(uid={login})(description=nobody-has-this))" });
    assert.deepEqual(emptyBase.disabled, []);
    assert.match(emptyBase.skipped ?? "", /7 of the 7 users linked to the directory are no longer found in it/);
    const down = await check({ ...settings, url: `ldap://127.0.0.1:${await freePort()}` });
    assert.deepEqual(down.disabled, []);
    assert.match(down.skipped ?? "", /could not be asked who is still in it/);
    for (const name of PEOPLE_NAMES) assert.equal(await disabled(name), false, name);
  });

  it("someone whose entry was deleted, or who is locked out of the filter, is disabled, with the reason in the audit log", async () => {
    await ldap.removePerson("omar");
    await ldap.setAttribute("pia", "description", "locked");
    const report = await check(settings);
    assert.deepEqual(report, { linked: PEOPLE_NAMES.length, disabled: ["omar@dir.test", "pia@dir.test"] });
    assert.equal(await disabled("omar"), true);
    assert.equal(await disabled("pia"), true);
    for (const name of ["lena", "quinn", "rita", "sven", "tove"]) assert.equal(await disabled(name), false, name);
    assert.equal((await findUserByEmail(db, "local@example.com"))?.disabledAt, null, "a local account is not the directory's");
    assert.equal((await findUserByEmail(db, "admin@example.com"))?.disabledAt, null);
    const audit = (await listAudit(db, { limit: 10 })).filter((entry) => entry.action === "user.disable");
    assert.deepEqual(
      audit.map((entry) => [entry.actorLabel, (entry.details as { email: string }).email, (entry.details as { reason?: string }).reason]).sort(),
      [
        [`ldap ${settings.url}`, "omar@dir.test", LEFT_THE_DIRECTORY],
        [`ldap ${settings.url}`, "pia@dir.test", LEFT_THE_DIRECTORY],
      ],
    );
    // Disabled users are not looked up again: the next check has nothing to do.
    assert.deepEqual(await check(settings), { linked: PEOPLE_NAMES.length - 2, disabled: [] });
  });
});
