// Users' POSIX ids on a real database (PGlite and Postgres): every user gets a unique uid from the sequence
// (existing users too, by the migration), root and the system range are refused by the rules and by the table,
// an admin can set a user's ids (audited) without colliding with later users, and the configurable base moves
// the next uid up, never down.
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { sql } from "drizzle-orm";
import type { Database } from "@/db";
import { findPosixIdentity } from "@/db/queries/users";
import { openTestDatabase, testDbKind } from "@/db/testing";
import { AppError } from "@/server/errors";
import { cliActor } from "./actor";
import { applyPosixIdBase, posixIdProblem, setPosixIds } from "./posix-ids";
import { createUser } from "./users";

describe(`POSIX ids on ${testDbKind}`, () => {
  let db: Database;
  let close: () => Promise<void>;
  before(async () => ({ db, close } = await openTestDatabase()));
  after(() => close());

  it("each new user gets the next uid from 100000, and a private group numbered like it", async () => {
    const a = await createUser(db, cliActor, { email: "a@example.com", username: "a" });
    const b = await createUser(db, cliActor, { email: "b@example.com", username: "b" });
    assert.ok(a.posixUid >= 100000);
    assert.equal(b.posixUid, a.posixUid + 1);
    assert.deepEqual(await findPosixIdentity(db, "a"), { username: "a", uid: a.posixUid, gid: a.posixUid });
    assert.equal(await findPosixIdentity(db, "nobody"), undefined);
  });

  it("root and system ids are refused, by the rules and by the table itself", async () => {
    assert.match(posixIdProblem(0, "uid") ?? "", /root/);
    assert.match(posixIdProblem(999, "gid") ?? "", /between 1000/);
    assert.equal(posixIdProblem(1000, "uid"), undefined);
    await assert.rejects(setPosixIds(db, cliActor, { user: "a@example.com", uid: 0, gid: null }), (e: unknown) => e instanceof AppError && e.code === "BAD_REQUEST");
    await assert.rejects(setPosixIds(db, cliActor, { user: "a@example.com", uid: 5000, gid: 10 }), (e: unknown) => e instanceof AppError && /gid/.test(e.message));
    await assert.rejects(db.execute(sql`UPDATE users SET posix_uid = 0 WHERE username = 'a'`), (e: unknown) =>
      /users_posix_uid_range/.test(String((e as Error).cause ?? e)),
    );
  });

  it("an admin sets a user's ids (audited); a taken uid is refused; later users never collide", async () => {
    const set = await setPosixIds(db, cliActor, { user: "a@example.com", uid: 300000, gid: 5000 });
    assert.equal(set.posixUid, 300000);
    assert.deepEqual(await findPosixIdentity(db, "a"), { username: "a", uid: 300000, gid: 5000 });
    await assert.rejects(setPosixIds(db, cliActor, { user: "b@example.com", uid: 300000, gid: null }), (e: unknown) => e instanceof AppError && e.code === "ALREADY_EXISTS");
    const c = await createUser(db, cliActor, { email: "c@example.com", username: "c" });
    assert.equal(c.posixUid, 300001, "the sequence moved past the uid set by hand");
    const audit = await db.execute(sql`SELECT action FROM audit_log WHERE action = 'user.set_posix_ids'`);
    assert.ok(((audit as unknown as { rows?: unknown[] }).rows ?? (audit as unknown as unknown[])).length >= 1);
  });

  it("two admins giving the same uid at once: one wins, the other gets the clear clash message", async () => {
    const f = await createUser(db, cliActor, { email: "f@example.com", username: "f" });
    const g = await createUser(db, cliActor, { email: "g@example.com", username: "g" });
    const results = await Promise.allSettled([
      setPosixIds(db, cliActor, { user: f.id, uid: 400000, gid: null }),
      setPosixIds(db, cliActor, { user: g.id, uid: 400000, gid: null }),
    ]);
    assert.equal(results.filter((r) => r.status === "fulfilled").length, 1, JSON.stringify(results));
    const refused = results.find((r) => r.status === "rejected") as PromiseRejectedResult;
    assert.ok(refused.reason instanceof AppError && refused.reason.code === "ALREADY_EXISTS", String(refused.reason));
    assert.match(refused.reason.message, /^The uid 400000 belongs to [fg]@example\.com; each user needs their own\.$/);
  });

  it("the configured base moves the next uid up, never down", async () => {
    await applyPosixIdBase(db, 500000);
    assert.equal((await createUser(db, cliActor, { email: "d@example.com", username: "d" })).posixUid, 500000);
    await applyPosixIdBase(db, 200000);
    assert.equal((await createUser(db, cliActor, { email: "e@example.com", username: "e" })).posixUid, 500001);
    await assert.rejects(applyPosixIdBase(db, 0), /ATRIUM_POSIX_ID_BASE/);
  });
});
