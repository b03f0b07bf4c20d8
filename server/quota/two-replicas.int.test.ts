// The must-show, with real processes: two portal processes on one Postgres, 50 simultaneous
// POST /api/kernels for a user whose limit is 3, split between them: exactly 3 kernels run, 47 clear
// refusals (403, naming the limit and a kernel to stop), no leftover rows. Then /metrics on both replicas
// counts the refusals by team without user labels. (That exactly one replica culls is shown with two real
// portals by server/culler/two-replicas-cull.int.test.ts.)
import assert from "node:assert/strict";
import { startPortalProcess, stopPortalProcess, type PortalProcess } from "@/e2e/support/portal-process";
import { randomBytes } from "node:crypto";
import { after, before, describe, it } from "node:test";
import { eq } from "drizzle-orm";
import { openDatabase, type OpenDatabase } from "@/db";
import { kernels, kernelSessions } from "@/db/schema";
import { createApiToken } from "@/server/auth/tokens";
import { systemActor } from "@/server/identity/actor";
import { createTeam, createUser, setMembership } from "@/server/identity/users";

const adminUrl = process.env.ATRIUM_TEST_POSTGRES_URL;
const python = process.env.ATRIUM_PYTHON;
if (!adminUrl || !python) throw new Error("two-replicas.int.test needs ATRIUM_TEST_POSTGRES_URL and ATRIUM_PYTHON (npm test sets both).");

type Portal = PortalProcess;
const startPortal = (databaseUrl: string, secret: string) => startPortalProcess({ databaseUrl, secret, python: python!, env: {} });
const stopPortal = stopPortalProcess;

describe("two portal replicas on one Postgres", () => {
  const dbName = `atrium_2r_${randomBytes(5).toString("hex")}`;
  const databaseUrl = Object.assign(new URL(adminUrl), { pathname: `/${dbName}` }).toString();
  let admin: import("postgres").Sql;
  let database: OpenDatabase;
  let portals: Portal[] = [];
  let token = "";
  let adminToken = "";
  let userId = "";

  before(async () => {
    const { default: postgres } = await import("postgres");
    admin = postgres(adminUrl, { max: 1, onnotice: () => {} });
    await admin.unsafe(`create database ${dbName}`);
    database = await openDatabase({ url: databaseUrl });
    const secret = randomBytes(32).toString("hex");
    // One after the other: the first migrates (and builds the web app if needed), the second finds both done.
    portals.push(await startPortal(databaseUrl, secret));
    portals.push(await startPortal(databaseUrl, secret));
    const user = await createUser(database.db, systemActor, { email: "ana@example.com", password: "analyst-password-1" });
    const team = await createTeam(database.db, systemActor, { name: "Fraud" });
    await setMembership(database.db, systemActor, { teamId: team.id, userId: user.id, role: "member" });
    userId = user.id;
    token = (await createApiToken(database.db, systemActor, { userId: user.id, name: "replicas" })).token;
    const adminUser = await createUser(database.db, systemActor, { email: "ops@example.com", password: "ops-password-1", role: "admin" });
    adminToken = (await createApiToken(database.db, systemActor, { userId: adminUser.id, name: "prometheus" })).token;
  });

  after(async () => {
    for (const portal of portals) {
      const listed = await fetch(`${portal.base}/api/kernels`, { headers: { authorization: `token ${token}` } }).catch(() => undefined);
      const ids = listed?.ok ? ((await listed.json()) as { id: string }[]).map((k) => k.id) : [];
      for (const id of ids) await fetch(`${portal.base}/api/kernels/${id}`, { method: "DELETE", headers: { authorization: `token ${token}` } }).catch(() => {});
    }
    await Promise.all(portals.map(stopPortal));
    await database?.close();
    await admin?.unsafe(`drop database if exists ${dbName} with (force)`);
    await admin?.end({ timeout: 5 });
  });

  it("50 simultaneous starts for a user whose limit is 3: exactly 3 run, 47 clear refusals, no leftover rows", async () => {
    const responses = await Promise.all(
      Array.from({ length: 50 }, (_, i) =>
        fetch(`${portals[i % 2]!.base}/api/kernels`, {
          method: "POST",
          headers: { authorization: `token ${token}`, "content-type": "application/json" },
          body: JSON.stringify({ name: "python3" }),
        }).then(async (r) => ({ status: r.status, body: (await r.json()) as { id?: string; message?: string } })),
      ),
    );
    const started = responses.filter((r) => r.status === 201);
    const refused = responses.filter((r) => r.status === 403);
    assert.equal(started.length, 3, `statuses: ${responses.map((r) => r.status).join(",")}`);
    assert.equal(refused.length, 47);
    for (const r of refused) assert.match(r.body.message ?? "", /Quota exceeded: You are using 3 of 3 concurrent kernels .*To free room, stop kernel [0-9a-f]{8} \(python3, started/);
    const rows = await database.db.select().from(kernels).where(eq(kernels.ownerId, userId));
    assert.equal(rows.length, 3, "no rows for refused starts");
    assert.ok(rows.every((k) => k.state !== "dead" && k.sizeProfile === "medium"));
    assert.equal((await database.db.select().from(kernelSessions).where(eq(kernelSessions.userId, userId))).length, 3);
  });

  it("/metrics on each replica: admins only, refusals labelled by team, no user labels", async () => {
    assert.equal((await fetch(`${portals[0]!.base}/metrics`)).status, 401);
    assert.equal((await fetch(`${portals[0]!.base}/metrics`, { headers: { authorization: `Bearer ${token}` } })).status, 403);
    let refusals = 0;
    for (const portal of portals) {
      const response = await fetch(`${portal.base}/metrics`, { headers: { authorization: `Bearer ${adminToken}` } });
      assert.equal(response.status, 200);
      const text = await response.text();
      assert.doesNotMatch(text, /ana@example\.com|user=/);
      assert.match(text, /atrium_kernels\{state="(idle|busy)",team="Fraud"\} \d+/);
      for (const m of text.matchAll(/^atrium_quota_refusals_total\{[^}]*team="Fraud"[^}]*\} (\d+)$/gm)) refusals += Number(m[1]);
    }
    assert.equal(refusals, 47, "the two replicas' refusal counters add up to 47");
  });
});
