// Issue 5's "with two portal processes, exactly one culls", with real processes: two portal processes on one
// Postgres, both sweeping every 2 s (ATRIUM_CULL_INTERVAL_SECONDS). An analyst in a team whose policy is the
// shortest the bounds allow (idle 1 min, warning 1 min) starts a kernel through replica A and leaves it idle.
// A second kernel, busy without printing for longer than the idle timeout, is left alone. The idle one is
// warned, then culled once: its row is dead with end reason `culled`, the warning came a full warning
// time before the end, the kernel process is gone, the two replicas' cull counters add up to 1, exactly one
// replica logs the stop, and neither logs a failed sweep or stop.
import assert from "node:assert/strict";
import { startPortalProcess, stopPortalProcess, type PortalProcess } from "@/e2e/support/portal-process";
import { randomBytes } from "node:crypto";
import fs from "node:fs";
import { after, before, describe, it } from "node:test";
import { eq } from "drizzle-orm";
import { openDatabase, type OpenDatabase } from "@/db";
import { upsertTeamCullPolicy } from "@/db/queries/quotas";
import { kernels, kernelWarnings } from "@/db/schema";
import { createApiToken } from "@/server/auth/tokens";
import { TestKernelSocket } from "@/server/jupyter-api/testing";
import { executeRequestContent } from "@/server/kernels/protocol/messages";
import { saveCullBounds } from "@/server/culler/bounds";
import { DEFAULT_CULL_BOUNDS } from "@/server/culler/policy";
import { systemActor } from "@/server/identity/actor";
import { createTeam, createUser, setMembership } from "@/server/identity/users";

const adminUrl = process.env.ATRIUM_TEST_POSTGRES_URL;
const python = process.env.ATRIUM_PYTHON;
if (!adminUrl || !python) throw new Error("two-replicas-cull.int.test needs ATRIUM_TEST_POSTGRES_URL and ATRIUM_PYTHON (npm test sets both).");

const CULL_INTERVAL_SECONDS = 2;

type Portal = PortalProcess;
const startPortal = (databaseUrl: string, secret: string) => startPortalProcess({ databaseUrl, secret, python: python!, env: { ATRIUM_LOG_LEVEL: "info", ATRIUM_CULL_INTERVAL_SECONDS: String(CULL_INTERVAL_SECONDS) } });
const stopPortal = stopPortalProcess;

/** Pids of processes whose command line names this kernel's connection file (the local launcher's kernel-<id>.json). */
function kernelPids(kernelId: string): number[] {
  const out: number[] = [];
  for (const entry of fs.readdirSync("/proc")) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      if (fs.readFileSync(`/proc/${entry}/cmdline`, "utf8").includes(`kernel-${kernelId}.json`)) out.push(Number(entry));
    } catch {
      // exited meanwhile
    }
  }
  return out;
}

const alive = (pid: number) => {
  try {
    process.kill(pid, 0);
    const stat = fs.readFileSync(`/proc/${pid}/stat`, "utf8");
    return !/^\d+ \(.*\) Z /.test(stat); // a zombie is gone
  } catch {
    return false;
  }
};

describe("two portal replicas on one Postgres: exactly one culls", () => {
  const dbName = `atrium_2rc_${randomBytes(5).toString("hex")}`;
  const databaseUrl = Object.assign(new URL(adminUrl), { pathname: `/${dbName}` }).toString();
  let admin: import("postgres").Sql;
  let database: OpenDatabase;
  const portals: Portal[] = [];
  let token = "";
  let adminToken = "";

  before(async () => {
    const { default: postgres } = await import("postgres");
    admin = postgres(adminUrl, { max: 1, onnotice: () => {} });
    await admin.unsafe(`create database ${dbName}`);
    database = await openDatabase({ url: databaseUrl });
    const secret = randomBytes(32).toString("hex");
    // One after the other: the first migrates, the second finds it done.
    portals.push(await startPortal(databaseUrl, secret));
    portals.push(await startPortal(databaseUrl, secret));
    const user = await createUser(database.db, systemActor, { email: "ana@example.com", password: "analyst-password-1" });
    const team = await createTeam(database.db, systemActor, { name: "Fraud" });
    await setMembership(database.db, systemActor, { teamId: team.id, userId: user.id, role: "member" });
    token = (await createApiToken(database.db, systemActor, { userId: user.id, name: "cull" })).token;
    const adminUser = await createUser(database.db, systemActor, { email: "ops@example.com", password: "ops-password-1", role: "admin" });
    adminToken = (await createApiToken(database.db, systemActor, { userId: adminUser.id, name: "prometheus" })).token;
    // The admin's bounds allow a 1-minute idle timeout and a 1-minute warning; the team's policy takes both.
    await saveCullBounds(database.db, {
      ...DEFAULT_CULL_BOUNDS,
      idleTimeoutMinutes: { ...DEFAULT_CULL_BOUNDS.idleTimeoutMinutes, min: 1 },
      warningMinutes: { ...DEFAULT_CULL_BOUNDS.warningMinutes, min: 1 },
    });
    await upsertTeamCullPolicy(database.db, { teamId: team.id, idleTimeoutMinutes: 1, warningMinutes: 1, cullBusy: false, cullConnected: false, maxLifetimeHours: null });
  });

  after(async () => {
    await Promise.all(portals.map(stopPortal));
    await database?.close();
    await admin?.unsafe(`drop database if exists ${dbName} with (force)`);
    await admin?.end({ timeout: 5 });
  });

  it("an idle kernel started through replica A is warned, then culled once by one replica; a busy silent one is left alone", async () => {
    const [a, b] = portals as [Portal, Portal];
    const response = await fetch(`${a.base}/api/kernels`, {
      method: "POST",
      headers: { authorization: `token ${token}`, "content-type": "application/json" },
      body: JSON.stringify({ name: "python3" }),
    });
    const body = (await response.json()) as { id?: string; message?: string };
    assert.equal(response.status, 201, body.message);
    const id = body.id!;

    // Beside it, through replica B, a kernel busy the whole time without printing: busy is not idle.
    const busyStart = await fetch(`${b.base}/api/kernels`, {
      method: "POST",
      headers: { authorization: `token ${token}`, "content-type": "application/json" },
      body: JSON.stringify({ name: "python3" }),
    });
    const busyId = ((await busyStart.json()) as { id: string }).id;
    assert.equal(busyStart.status, 201);
    const busySocket = await TestKernelSocket.open(b.base, busyId, { token });
    busySocket.send("shell", "execute_request", executeRequestContent("import time\ntime.sleep(170)"));

    // Its process, found by its connection file, while it runs.
    let pids: number[] = [];
    for (const until = Date.now() + 30_000; pids.length === 0 && Date.now() < until; ) {
      pids = kernelPids(id);
      if (pids.length === 0) await new Promise((r) => setTimeout(r, 200));
    }
    assert.ok(pids.length > 0, "the kernel process runs");

    // Wait for the cull, watching the warning rows (the next sweep removes those of dead kernels).
    let warning: typeof kernelWarnings.$inferSelect | undefined;
    let row: typeof kernels.$inferSelect | undefined;
    const deadline = Date.now() + 90_000;
    while (Date.now() < deadline) {
      const [w] = await database.db.select().from(kernelWarnings).where(eq(kernelWarnings.kernelId, id));
      if (w && w.kind === "idle") warning = w;
      [row] = await database.db.select().from(kernels).where(eq(kernels.id, id));
      if (row?.state === "dead") break;
      await new Promise((r) => setTimeout(r, 250));
    }
    assert.equal(row?.state, "dead", `the kernel was culled within 90 s (state ${row?.state})`);
    assert.equal(row.endReason, "culled");
    assert.match(row.stateDetail ?? "", /idle for more than 1 min/);
    assert.ok(warning, "an idle warning was recorded before the cull");
    assert.ok(warning.warnedAt.getTime() < row.endedAt!.getTime(), "warned before the end");
    assert.ok(row.endedAt!.getTime() - warning.warnedAt.getTime() >= 60_000 - 1000, "the user had the full warning time");

    // The kernel process is gone.
    for (const until = Date.now() + 10_000; pids.some(alive) && Date.now() < until; ) await new Promise((r) => setTimeout(r, 200));
    assert.deepEqual(pids.filter(alive), [], "the kernel process is gone");

    // A few more sweeps on both replicas, then: exactly one cull counted, exactly one replica logged it.
    await new Promise((r) => setTimeout(r, 3 * CULL_INTERVAL_SECONDS * 1000));
    const culls: number[] = [];
    for (const portal of [a, b]) {
      const metrics = await fetch(`${portal.base}/metrics`, { headers: { authorization: `Bearer ${adminToken}` } });
      assert.equal(metrics.status, 200);
      const text = await metrics.text();
      let n = 0;
      for (const m of text.matchAll(/^atrium_kernel_culls_total\{[^}]*\} (\d+)$/gm)) n += Number(m[1]);
      culls.push(n);
    }
    assert.equal(culls[0]! + culls[1]!, 1, `cull counters across the replicas: ${culls.join(" + ")}`);
    const logged = [a, b].map((p) => p.output().split(`kernel ${id} stopped by the culler`).length - 1);
    assert.deepEqual([...logged].sort(), [0, 1], `stop log lines per replica: ${logged.join(", ")}`);
    assert.deepEqual(logged, culls, "the replica that logged the stop is the one that counted it");
    for (const portal of [a, b]) {
      assert.doesNotMatch(portal.output(), /culling sweep failed|the culler could not stop it|could not stop it through its saved state/);
    }
    assert.equal((await database.db.select().from(kernelWarnings).where(eq(kernelWarnings.kernelId, id))).length, 0, "the dead kernel's warnings are cleared");

    // The silent, busy kernel outlived the idle timeout (and the idle one's cull) untouched.
    const [busyRow] = await database.db.select().from(kernels).where(eq(kernels.id, busyId));
    assert.equal(busyRow?.state, "busy", `the busy kernel is still running (state ${busyRow?.state}, ${busyRow?.stateDetail})`);
    assert.ok(Date.now() - busyRow!.createdAt.getTime() > 60_000, "longer than the idle timeout");
    assert.equal((await database.db.select().from(kernelWarnings).where(eq(kernelWarnings.kernelId, busyId))).length, 0, "and was never warned");
    await busySocket.close();
    const stopped = await fetch(`${b.base}/api/kernels/${busyId}`, { method: "DELETE", headers: { authorization: `token ${token}` } });
    assert.equal(stopped.status, 204);
  });
});
