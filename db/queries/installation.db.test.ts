// The installation id (PGlite and Postgres): made once, the same for every caller, concurrent first calls included.
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { randomUUID } from "node:crypto";
import { eq, inArray } from "drizzle-orm";
import { installation, kernels, users } from "@/db/schema";
import { findKernel, insertKernel } from "./kernels";
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
    // The original (or a physical copy, which looks the same): refused unless the admin says it is a physical copy.
    const refused = await runDbCommand(db, ["installation", "new-id"]);
    assert.equal(refused.exitCode, 2);
    assert.match(refused.stderr, /would leave its running YARN and Kubernetes kernels to no one.*new-id --physical-copy/s);
    assert.equal(await installationId(db), before, "the id is kept");
    const renewed = await runDbCommand(db, ["installation", "new-id", "--physical-copy"]);
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
    assert.match(shown.stdout, /the orphan sweep and new YARN and Kubernetes kernels are off, and the YARN and Kubernetes kernels its rows say are running are left as they are/);
    assert.match((await runDbCommand(db, ["installation", "keep-id"])).stdout, /keeps the installation id/);
    assert.deepEqual(await checkInstallation(db), { id: await installationId(db), sameDatabase: true });
    await db.update(installation).set({ databaseIdentity: "7000000000000000000/16384" });
    const before = await installationId(db);
    await runDbCommand(db, ["installation", "new-id"]);
    const after = await checkInstallation(db);
    assert.notEqual(after.id, before);
    assert.equal(after.sameDatabase, true);
  });

  it("`installation new-id` ends, in this database only, the kernels its rows say run: they are the original's", async () => {
    const [owner] = await db.insert(users).values({ email: "copy-owner@example.test", username: "copyowner", name: "Copy Owner" }).returning();
    const running = randomUUID();
    const dead = randomUUID();
    const local = randomUUID(); // the copy's own: its portal may run local kernels meanwhile
    for (const id of [running, dead]) await insertKernel(db, { id, ownerId: owner!.id, teamId: null, kernelspec: "spark_python_yarn_cluster", launcher: "yarn", sizeProfile: null });
    await insertKernel(db, { id: local, ownerId: owner!.id, teamId: null, kernelspec: "python3", launcher: "local", sizeProfile: null });
    await db.update(kernels).set({ state: "idle", sealedLaunchState: "sealed", launchLeaseUntil: null }).where(inArray(kernels.id, [running, local]));
    await db.update(kernels).set({ state: "dead", stateDetail: "died long ago", endReason: "died" }).where(eq(kernels.id, dead));
    const before = await installationId(db);
    const renewed = await runDbCommand(db, ["installation", "new-id", "--physical-copy"]);
    assert.equal(renewed.exitCode, 0, renewed.stderr);
    assert.match(renewed.stdout, /YARN and Kubernetes kernels this database said were running: 1\. They are the original installation's/);
    const row = await findKernel(db, { id: running });
    assert.equal(row?.state, "dead");
    assert.equal(row?.sealedLaunchState, null, "nothing left to reattach or kill it with");
    assert.match(row?.stateDetail ?? "", new RegExp(`belongs to installation ${before}`));
    assert.equal((await findKernel(db, { id: dead }))?.stateDetail, "died long ago", "an ended kernel's record is kept as it was");
    assert.equal((await findKernel(db, { id: local }))?.state, "idle", "a local kernel is left running");
    await db.update(kernels).set({ state: "dead" }).where(eq(kernels.id, local));
  });

  it("holds one row only", async () => {
    await assert.rejects(db.insert(installation).values({ singleton: 2 }), (error: Error) => {
      assert.match(String((error.cause as Error | undefined)?.message ?? error.message), /installation_one_row/);
      return true;
    });
  });
});
