// The kernel side of a portal's boot (bootServices: the database, then startKernels), on a database that is a copy:
// the YARN and Kubernetes kernels its rows say are running are left as they are from the first look at them on.
// YARN is configured against a ResourceManager address nothing answers: nothing here may need it.
import assert from "node:assert/strict";
import { randomUUID } from "node:crypto";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { after, describe, it } from "node:test";
import { eq } from "drizzle-orm";
import { findKernel, insertKernel } from "@/db/queries/kernels";
import { installation, kernels } from "@/db/schema";
import { bootServices } from "@/server/boot";
import { seal } from "@/server/crypto/secret-box";
import { loadEnv } from "@/server/env";
import { cliActor } from "@/server/identity/actor";
import { createUser } from "@/server/identity/users";
import { requireKernelPython } from "@/server/jupyter-api/testing";

describe("portal boot on a copied database", () => {
  const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), "atrium-boot-copy-"));
  const sparkHome = fs.mkdtempSync(path.join(os.tmpdir(), "atrium-boot-spark-"));
  after(() => {
    fs.rmSync(dataDir, { recursive: true, force: true });
    fs.rmSync(sparkHome, { recursive: true, force: true });
  });
  const env = () =>
    loadEnv({
      NODE_ENV: "production",
      ATRIUM_DATA_DIR: dataDir,
      ATRIUM_PYTHON: requireKernelPython(),
      ATRIUM_YARN_RM_URL: "http://127.0.0.1:9",
      SPARK_HOME: sparkHome,
      ATRIUM_LOG_LEVEL: process.env.ATRIUM_LOG_LEVEL ?? "error",
    });

  it("leaves a YARN kernel its rows say runs as it is: not reattached, not marked dead", async () => {
    const first = await bootServices(env());
    const id = randomUUID();
    try {
      const { db, secret } = first.services;
      const owner = await createUser(db, cliActor, { email: "boot-copy@example.com", password: "analystpass1" });
      await insertKernel(db, { id, ownerId: owner.id, teamId: null, kernelspec: "spark_python_yarn_cluster", launcher: "yarn", sizeProfile: null });
      const saved = { launcher: "yarn", kernelId: id, engineId: "application_1_0001", kernelspecName: "spark_python_yarn_cluster", interruptMode: "message", connectionInfo: { ip: "10.0.0.9", shell_port: 1, iopub_port: 2, stdin_port: 3, control_port: 4, hb_port: 5, key: "k" }, state: {} };
      await db.update(kernels).set({ state: "idle", engineId: "application_1_0001", startedAt: new Date(), sealedLaunchState: seal(secret, JSON.stringify(saved)), launchLeaseUntil: null }).where(eq(kernels.id, id));
      // As a dump restored elsewhere carries it: the identity of the database the installation id was made in.
      await db.update(installation).set({ databaseIdentity: "7000000000000000000/16384" });
    } finally {
      await first.close();
    }
    const second = await bootServices(env());
    try {
      const row = await findKernel(second.services.db, { id });
      assert.equal(row?.state, "idle", `the row is left as it was (${row?.stateDetail ?? ""})`);
      assert.ok(row?.sealedLaunchState, "its saved state is kept for when the installation is confirmed");
    } finally {
      await second.close();
    }
  });
});
