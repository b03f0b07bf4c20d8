// The installation id (PGlite and Postgres): made once, the same for every caller, concurrent first calls included.
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { installation } from "@/db/schema";
import { openTestDatabase } from "@/db/testing";
import type { Database } from "@/db";
import { runDbCommand } from "@/server/cli/commands";
import { checkInstallation, databaseIdentity, installationId } from "./installation";

describe("installation id", () => {
  let db: Database;
  let close: () => Promise<void>;
  before(async () => {
    ({ db, close } = await openTestDatabase());
  });
  after(() => close());

  it("is one uuid, whoever asks first and however many ask at once", async () => {
    const ids = await Promise.all(Array.from({ length: 8 }, () => installationId(db)));
    assert.match(ids[0]!, /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/);
    assert.deepEqual(new Set(ids), new Set([ids[0]]));
    assert.equal(await installationId(db), ids[0]);
    assert.equal((await db.select().from(installation)).length, 1);
  });

  it("a copied database gets its own id with `installation new-id`; `installation show` prints it", async () => {
    const before = await installationId(db);
    const renewed = await runDbCommand(db, ["installation", "new-id"]);
    assert.equal(renewed.exitCode, 0, renewed.stderr);
    const after = await installationId(db);
    assert.notEqual(after, before);
    assert.match(renewed.stdout, new RegExp(`now ${after} \\(was ${before}\\)`));
    assert.equal((await runDbCommand(db, ["installation", "show"])).stdout, `${after}\n`);
    assert.equal((await db.select().from(installation)).length, 1);
  });

  it("a database that is not the one the id was made in is noticed until told whether it keeps the id", async () => {
    assert.deepEqual(await checkInstallation(db), { id: await installationId(db), sameDatabase: true });
    const identity = await databaseIdentity(db);
    assert.match(identity, /^\d+\/\d+$/, "system identifier / database oid");
    // As a dump restored elsewhere would carry it: the identity of the database the id was made in.
    await db.update(installation).set({ databaseIdentity: "7000000000000000000/16384" });
    assert.equal((await checkInstallation(db)).sameDatabase, false);
    const shown = await runDbCommand(db, ["installation", "show"]);
    assert.match(shown.stdout, /the orphan sweep and new YARN and Kubernetes kernels are off/);
    assert.match((await runDbCommand(db, ["installation", "keep-id"])).stdout, /keeps the installation id/);
    assert.deepEqual(await checkInstallation(db), { id: await installationId(db), sameDatabase: true });
    await db.update(installation).set({ databaseIdentity: "7000000000000000000/16384" });
    const before = await installationId(db);
    await runDbCommand(db, ["installation", "new-id"]);
    const after = await checkInstallation(db);
    assert.notEqual(after.id, before);
    assert.equal(after.sameDatabase, true);
  });

  it("holds one row only", async () => {
    await assert.rejects(db.insert(installation).values({ singleton: 2 }), (error: Error) => {
      assert.match(String((error.cause as Error | undefined)?.message ?? error.message), /installation_one_row/);
      return true;
    });
  });
});
