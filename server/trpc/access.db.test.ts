// Who may call what: procedures tested in-process with a caller, against a real database.
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { TRPCError } from "@trpc/server";
import type { Database } from "@/db";
import type { UserRow } from "@/db/queries/users";
import { openTestDatabase, testDbKind } from "@/db/testing";
import { cliActor } from "@/server/identity/actor";
import { createUser } from "@/server/identity/users";
import { testCaller, testServices } from "@/server/trpc/testing";

const codeOf = (code: string) => (error: unknown) => error instanceof TRPCError && error.code === code;

describe(`tRPC access on ${testDbKind}`, () => {
  let db: Database;
  let close: () => Promise<void>;
  let admin: UserRow;
  let analyst: UserRow;
  const caller = (user: UserRow | null) => testCaller(testServices(db), user);
  before(async () => {
    ({ db, close } = await openTestDatabase());
    admin = await createUser(db, cliActor, { email: "admin@example.com", password: "adminpass1", role: "admin" });
    analyst = await createUser(db, cliActor, { email: "ana@example.com", password: "analystpass" });
  });
  after(() => close());

  it("refuses anonymous callers", async () => {
    await assert.rejects(caller(null).me.get(), codeOf("UNAUTHORIZED"));
  });

  it("refuses a page's call once its browser is signed in as someone else (the page sends whom it was opened for)", async () => {
    const asPageOf = (pageUser: string) => testCaller(testServices(db), analyst, null, pageUser);
    await assert.rejects(asPageOf(admin.id).me.get(), codeOf("UNAUTHORIZED"));
    assert.equal((await asPageOf(analyst.id).me.get()).id, analyst.id);
  });

  it("refuses analysts on every admin procedure", async () => {
    const c = caller(analyst);
    await assert.rejects(c.admin.users.list(), codeOf("FORBIDDEN"));
    await assert.rejects(c.admin.users.add({ email: "x@example.com", password: "password1", role: "admin" }), codeOf("FORBIDDEN"));
    await assert.rejects(c.admin.users.setRole({ userId: analyst.id, role: "admin" }), codeOf("FORBIDDEN"));
    await assert.rejects(c.admin.teams.add({ name: "sneaky" }), codeOf("FORBIDDEN"));
    await assert.rejects(c.admin.audit(), codeOf("FORBIDDEN"));
  });

  it("lets admins manage users and maps domain errors to tRPC codes", async () => {
    const c = caller(admin);
    const added = await c.admin.users.add({ email: "new@example.com", password: "password1", role: "analyst" });
    assert.equal(added.username, "new");
    await assert.rejects(c.admin.users.add({ email: "new@example.com", password: "password1", role: "analyst" }), codeOf("CONFLICT"));
    await assert.rejects(c.admin.users.add({ email: "bad", password: "password1", role: "analyst" }), codeOf("BAD_REQUEST"));
    const users = await c.admin.users.list();
    assert.deepEqual(users.map((u) => u.email).sort(), ["admin@example.com", "ana@example.com", "new@example.com"]);
    const team = await c.admin.teams.add({ name: "Fraud" });
    await c.admin.teams.setMember({ teamId: team.id, userId: analyst.id, role: "lead" });
    assert.deepEqual((await caller(analyst).me.get()).teams.map((t) => [t.name, t.role]), [["Fraud", "lead"]]);
  });

  it("lets admins set a user's POSIX ids (audited), refusing root, the system range and a uid another user holds", async () => {
    await assert.rejects(caller(analyst).admin.users.setPosixIds({ userId: analyst.id, uid: 424242, gid: null }), codeOf("FORBIDDEN"));
    const c = caller(admin);
    assert.deepEqual(await c.admin.users.setPosixIds({ userId: analyst.id, uid: 424242, gid: null }), { uid: 424242, gid: 424242 });
    assert.deepEqual(await c.admin.users.setPosixIds({ userId: analyst.id, uid: 424242, gid: 5000 }), { uid: 424242, gid: 5000 });
    const listed = (await c.admin.users.list()).find((u) => u.id === analyst.id);
    assert.deepEqual([listed?.posixUid, listed?.posixGid], [424242, 5000]);

    await assert.rejects(c.admin.users.setPosixIds({ userId: admin.id, uid: 0, gid: null }), (e: unknown) => codeOf("BAD_REQUEST")(e) && /root/.test((e as Error).message));
    await assert.rejects(c.admin.users.setPosixIds({ userId: admin.id, uid: 999, gid: null }), (e: unknown) => codeOf("BAD_REQUEST")(e) && /between 1000/.test((e as Error).message));
    await assert.rejects(c.admin.users.setPosixIds({ userId: admin.id, uid: 5001, gid: 0 }), (e: unknown) => codeOf("BAD_REQUEST")(e) && /gid 0 is root/.test((e as Error).message));
    await assert.rejects(c.admin.users.setPosixIds({ userId: admin.id, uid: -5, gid: null }), codeOf("BAD_REQUEST"));
    await assert.rejects(c.admin.users.setPosixIds({ userId: admin.id, uid: 424242, gid: null }), (e: unknown) =>
      codeOf("CONFLICT")(e) && (e as Error).message === "The uid 424242 belongs to ana@example.com; each user needs their own.",
    );

    const [entry] = (await c.admin.audit({ limit: 200 })).filter((a) => a.action === "user.set_posix_ids");
    assert.equal(entry?.actorId, admin.id, "audited as the admin who did it");
    assert.deepEqual(entry?.details, { email: "ana@example.com", uid: 424242, gid: 5000, previousUid: 424242, previousGid: null });
  });

  // Regression: setCullBounds stored the bounds without an audit entry, unlike every other admin setting.
  it("lets admins set the culling bounds, audited with the bounds they replace; analysts may not", async () => {
    const bounds = {
      idleTimeoutMinutes: { min: 10, max: 480, default: 90 },
      warningMinutes: { min: 2, max: 60, default: 15 },
      maxLifetimeHours: { max: 72, default: 24 },
      allowCullBusy: false,
      cullConnectedDefault: true,
    };
    await assert.rejects(caller(analyst).quotas.setCullBounds(bounds), codeOf("FORBIDDEN"));
    const c = caller(admin);
    const previous = await c.quotas.cullBounds();
    await c.quotas.setCullBounds(bounds);
    assert.deepEqual(await c.quotas.cullBounds(), bounds);

    const entries = (await c.admin.audit({ limit: 200 })).filter((a) => a.action === "cull.bounds.set");
    assert.equal(entries.length, 1, "one audit entry for the one change");
    assert.equal(entries[0]?.actorId, admin.id, "audited as the admin who did it");
    assert.deepEqual(entries[0]?.details, { ...bounds, previous });
  });

  it("takes identity from the session, never from input", async () => {
    const me = await caller(analyst).me.get();
    assert.equal(me.email, "ana@example.com");
    const { token } = await caller(analyst).me.createToken({ name: "jupyter" });
    assert.match(token, /^atr_/);
  });
});
