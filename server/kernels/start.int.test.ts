// The kernel side of a portal's boot (bootServices: the database, then startKernels), on a database that is a copy:
// the YARN kernels its rows say are running, or launching, are left as they are from the first look at them on:
// not held, not marked dead, not taken up, and the ResourceManager is never asked about them. A stand-in RM counts
// what it is asked (only what this portal does is tested here; the YARN launcher itself runs against a real RM in
// yarn.int.test.ts).
import assert from "node:assert/strict";
import { randomUUID } from "node:crypto";
import fs from "node:fs";
import http from "node:http";
import type { AddressInfo } from "node:net";
import os from "node:os";
import path from "node:path";
import { after, before, describe, it } from "node:test";
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
  const rmRequests: string[] = [];
  const rm = http.createServer((req, res) => {
    rmRequests.push(`${req.method} ${req.url}`);
    res.writeHead(200, { "content-type": "application/json" }).end(JSON.stringify({ apps: null }));
  });
  before(() => new Promise<void>((resolve) => rm.listen(0, "127.0.0.1", resolve)));
  after(async () => {
    await new Promise((resolve) => rm.close(resolve));
    fs.rmSync(dataDir, { recursive: true, force: true });
    fs.rmSync(sparkHome, { recursive: true, force: true });
  });
  const envVars = () => ({
      NODE_ENV: "production",
      ATRIUM_DATA_DIR: dataDir,
      ATRIUM_PYTHON: requireKernelPython(),
      ATRIUM_YARN_RM_URL: `http://127.0.0.1:${(rm.address() as AddressInfo).port}`,
      SPARK_HOME: sparkHome,
      ATRIUM_LOG_LEVEL: process.env.ATRIUM_LOG_LEVEL ?? "error",
    });
  const env = () => loadEnv(envVars());

  it("leaves the YARN kernels its rows name as they are: not reattached, taken up, marked dead, nor asked about", async () => {
    const running = randomUUID();
    const launching = randomUUID();
    const first = await bootServices(env());
    try {
      const { db, secret } = first.services;
      const owner = await createUser(db, cliActor, { email: "boot-copy@example.com", password: "analystpass1" });
      // As the original's database had them: one running, one mid-launch whose launcher is gone (lease lapsed).
      for (const [id, state, appId] of [[running, "idle", "application_1_0001"], [launching, "starting", "application_1_0002"]] as const) {
        await insertKernel(db, { id, ownerId: owner.id, teamId: null, kernelspec: "spark_python_yarn_cluster", launcher: "yarn", sizeProfile: null });
        const saved = {
          launcher: "yarn",
          kernelId: id,
          engineId: appId,
          kernelspecName: "spark_python_yarn_cluster",
          interruptMode: "message",
          connectionInfo: { ip: "127.0.0.1", shell_port: 1, iopub_port: 2, stdin_port: 3, control_port: 4, hb_port: 5, key: "k" },
          state: { comm: { protocolVersion: 1, host: "127.0.0.1", port: 6 }, pid: 4242, engine: { tag: `atrium-kernel-${id}`, appId } },
        };
        await db
          .update(kernels)
          .set({ state, engineId: appId, startedAt: state === "idle" ? new Date() : null, sealedLaunchState: seal(secret, JSON.stringify(saved)), launchLeaseUntil: state === "starting" ? new Date(Date.now() - 60_000) : null })
          .where(eq(kernels.id, id));
      }
      // As a dump restored elsewhere carries it: the identity of the database the installation id was made in.
      await db.update(installation).set({ databaseIdentity: "7000000000000000000/16384" });
    } finally {
      await first.close();
    }
    rmRequests.length = 0;
    const second = await bootServices(env());
    try {
      const { kernels: manager, db } = second.services;
      for (const [id, state] of [[running, "idle"], [launching, "starting"]] as const) {
        assert.equal(manager.liveKernel(id), undefined, `${state} kernel not held here`);
        const row = await findKernel(db, { id });
        assert.equal(row?.state, state, `the row is left as it was (${row?.stateDetail ?? ""})`);
        assert.ok(row?.sealedLaunchState, "its saved state is kept for when the installation is confirmed");
      }
      // The abandoned-launch scan, as it runs every 30 s, leaves the launch alone too.
      assert.equal(await manager.takeUpAbandonedLaunches(), 0);
      assert.equal((await findKernel(db, { id: launching }))?.state, "starting");
      assert.deepEqual(rmRequests.filter((r) => r.includes("application_1_") || r.includes("atrium-kernel-")), [], "the RM is not asked about them");
    } finally {
      await second.close();
    }
  });

  it("with ATRIUM_LOCAL_KERNELS=false offers only the cluster's kernels (local ones run as the portal's own user)", async () => {
    const booted = await bootServices(loadEnv({ ...envVars(), ATRIUM_LOCAL_KERNELS: "false" }));
    try {
      const offered = [...booted.services.kernels.kernelspecs.keys()];
      assert.ok(offered.includes("spark_python_yarn_cluster"), `offered: ${offered.join(", ")}`);
      assert.deepEqual(offered.filter((name) => name.startsWith("python3")), [], "no local kernels");
    } finally {
      await booted.close();
    }
  });
});
