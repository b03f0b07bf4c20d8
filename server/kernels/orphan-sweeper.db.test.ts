// The orphan sweep against real kernel rows (PGlite and Postgres). The launcher here is an in-memory list of
// engines: what is tested is the sweep's reading of the rows and its decisions. Listing and killing on a real
// cluster are tested in yarn.int.test.ts and kubernetes.int.test.ts.
import assert from "node:assert/strict";
import { randomUUID } from "node:crypto";
import { after, before, describe, it } from "node:test";
import type { Database } from "@/db";
import { insertKernel, markKernelDead, updateKernel } from "@/db/queries/kernels";
import type { UserRow } from "@/db/queries/users";
import { openTestDatabase, testDbKind } from "@/db/testing";
import { cliActor } from "@/server/identity/actor";
import { createTeam, createUser } from "@/server/identity/users";
import { loadEnv } from "@/server/env";
import type { ClusterEngine, Launcher } from "./launchers/base";
import { judgeEngine, OrphanSweeper } from "./orphan-sweeper";
import { kernelNamespaces } from "./start";

const NOW = new Date("2026-11-30T12:00:00Z");
const old = new Date(NOW.getTime() - 10 * 60_000);

/** A cluster of engines in memory, with a kill that can be made to fail. */
class FakeCluster implements Launcher {
  engines: ClusterEngine[] = [];
  failKills = false;
  failList = false;
  constructor(readonly name: string) {}
  launch(): never {
    throw new Error("not used");
  }
  restore(): never {
    throw new Error("not used");
  }
  async listOwnEngines() {
    if (this.failList) throw new Error("ResourceManager unreachable");
    return [...this.engines];
  }
  async killOrphan(engine: ClusterEngine) {
    if (this.failKills) throw new Error("refused");
    this.engines = this.engines.filter((e) => e !== engine);
  }
  add(kernelId: string, engineId: string, createdAt = old) {
    this.engines.push({ launcher: this.name, kernelId, engineId, label: `engine ${engineId}`, createdAt });
  }
  has(engineId: string) {
    return this.engines.some((e) => e.engineId === engineId);
  }
}

describe(`orphan sweep on ${testDbKind}`, () => {
  let db: Database;
  let close: () => Promise<void>;
  let ana: UserRow;

  before(async () => {
    ({ db, close } = await openTestDatabase());
    ana = await createUser(db, cliActor, { email: "ana@example.com", password: "analystpass" });
  });
  after(() => close());

  async function kernelRow(state: "starting" | "idle" | "busy" | "restarting" | "dead", engineId: string | null) {
    const row = await insertKernel(db, { id: randomUUID(), ownerId: ana.id, teamId: null, kernelspec: "python_yarn", launcher: "yarn", sizeProfile: null });
    if (engineId) await updateKernel(db, row.id, { engineId });
    if (state === "dead") await markKernelDead(db, { id: row.id, reason: "stopped", detail: "stopped by ana" });
    else if (state !== "starting") await updateKernel(db, row.id, { state });
    return row.id;
  }

  it("kills what no kernel owns and leaves every owned or launching engine alone", async () => {
    const cluster = new FakeCluster("yarn");
    const idle = await kernelRow("idle", "app_1");
    const dead = await kernelRow("dead", "app_2");
    const restarted = await kernelRow("idle", "app_4");
    const restarting = await kernelRow("restarting", "app_5");
    const starting = await kernelRow("starting", null);
    const youngDead = await kernelRow("dead", "app_8");
    cluster.add(idle, "app_1"); // owned
    cluster.add(dead, "app_2"); // its kernel ended: the kill failed back then
    cluster.add(randomUUID(), "app_3"); // no row (a deleted user's kernel)
    cluster.add(restarted, "app_3b", new Date(old.getTime() - 60_000)); // the old engine of a restart whose kill failed
    cluster.add(restarted, "app_4"); // its current engine
    cluster.add(restarting, "app_6"); // a restart in progress, new engine not recorded yet
    cluster.add(starting, "app_7"); // a launch in progress
    cluster.add(youngDead, "app_8", new Date(NOW.getTime() - 5_000)); // inside the grace
    cluster.add("not-a-uuid", "app_9"); // a label Atrium never wrote: no row can own it
    const placeholder = await kernelRow("idle", "YARN application tagged atrium-kernel-x"); // id unknown when written
    cluster.add(placeholder, "app_10");
    const currentGone = await kernelRow("busy", "app_11"); // its current engine is not listed (just died)
    cluster.add(currentGone, "app_12");

    const sweeper = new OrphanSweeper({ db, launchers: () => [cluster], intervalMs: 60_000, now: () => NOW });
    const report = await sweeper.sweepOnce();
    assert.deepEqual(report.killed.sort(), ["engine app_2", "engine app_3", "engine app_3b", "engine app_9"]);
    assert.deepEqual(report.failed, []);
    for (const kept of ["app_1", "app_4", "app_6", "app_7", "app_8", "app_10", "app_12"]) assert.ok(cluster.has(kept), `${kept} kept`);
    assert.equal(cluster.engines.length, 7);
  });

  it("reports a failed kill and a launcher it could not list, sweeps the others, and tries again next time", async () => {
    const down = new FakeCluster("yarn");
    down.failList = true;
    const refusing = new FakeCluster("kubernetes");
    refusing.failKills = true;
    refusing.add(await kernelRow("dead", "pod-a"), "pod-a");
    const sweeper = new OrphanSweeper({ db, launchers: () => [down, refusing], intervalMs: 60_000, now: () => NOW });
    assert.deepEqual(await sweeper.sweepOnce(), { killed: [], failed: ["engine pod-a"], unlisted: ["yarn"] });
    refusing.failKills = false;
    down.failList = false;
    assert.deepEqual((await sweeper.sweepOnce()).killed, ["engine pod-a"]);
    assert.equal(refusing.engines.length, 0);
  });

  it("a stop ends a sweep in progress after the current kill", async () => {
    const cluster = new FakeCluster("yarn");
    for (let i = 0; i < 3; i++) cluster.add(await kernelRow("dead", `app_s${i}`), `app_s${i}`);
    const sweeper = new OrphanSweeper({ db, launchers: () => [cluster], intervalMs: 60_000, now: () => NOW });
    let stopping: Promise<void> | undefined;
    const kill = cluster.killOrphan.bind(cluster);
    cluster.killOrphan = async (engine) => {
      await kill(engine);
      stopping ??= sweeper.stop(); // stop() arrives during the first kill
    };
    const report = await sweeper.sweepOnce();
    await stopping;
    assert.equal(report.killed.length, 1);
    assert.equal(cluster.engines.length, 2, "the rest is left to the next sweep");
  });

  it("in a copied database it sweeps no cluster, and still this host's own local kernel processes (found by this portal's runtime folder, not by the installation)", async () => {
    const cluster = new FakeCluster("yarn");
    cluster.add(await kernelRow("dead", "app_copy"), "app_copy");
    const local = Object.assign(new FakeCluster("local"), { hostBound: true });
    local.add(await kernelRow("dead", "pid 4242"), "pid 4242");
    const sweeper = new OrphanSweeper({ db, launchers: () => [cluster, local], intervalMs: 60_000, now: () => NOW, offBecause: "a copy" });
    assert.deepEqual(await sweeper.sweepOnce(), { killed: ["engine pid 4242"], failed: [], unlisted: [] });
    assert.ok(cluster.has("app_copy"));
  });

  it("runs on its interval until stopped", async () => {
    const cluster = new FakeCluster("yarn");
    const sweeper = new OrphanSweeper({ db, launchers: () => [cluster], intervalMs: 50, now: () => NOW });
    sweeper.start();
    cluster.add(await kernelRow("dead", "app_late"), "app_late");
    const deadline = Date.now() + 5_000;
    while (cluster.engines.length > 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
    await sweeper.stop();
    assert.equal(cluster.engines.length, 0, "swept by the loop within 5 s");
    cluster.add(await kernelRow("dead", "app_after_stop"), "app_after_stop");
    await new Promise((r) => setTimeout(r, 200));
    assert.ok(cluster.has("app_after_stop"), "no sweep after stop()");
  });
});

describe(`where the sweep looks for kernel pods, on ${testDbKind}`, () => {
  it("the default namespace, each team's, and every namespace a kernel was recorded in", async () => {
    const { db, close } = await openTestDatabase();
    try {
      const ana = await createUser(db, cliActor, { email: "ana@example.com", password: "analystpass" });
      await createTeam(db, cliActor, { name: "risk" });
      const kernel = async (launcher: string, engineId: string) => {
        const row = await insertKernel(db, { id: randomUUID(), ownerId: ana.id, teamId: null, kernelspec: "k", launcher, sizeProfile: null });
        await updateKernel(db, row.id, { engineId, state: "idle" });
        return row.id;
      };
      await kernel("kubernetes", "pod atrium-gone/atrium-kernel-1"); // a team since renamed or deleted
      await kernel("kubernetes", "pod atrium-gone/atrium-kernel-2");
      await kernel("kubernetes", "not a pod id");
      await kernel("yarn", "pod atrium-yarn/never"); // another launcher's engine ids are not looked at
      const ended = await kernel("kubernetes", "pod atrium-ended/atrium-kernel-3");
      await markKernelDead(db, { id: ended, reason: "stopped", detail: "x" });
      const env = loadEnv({ ATRIUM_K8S_NAMESPACE: "atrium-{team}" });
      assert.deepEqual((await kernelNamespaces(env, db)).sort(), ["atrium-ended", "atrium-gone", "atrium-risk", "atrium-shared"]);
      const inAWeek = new Date(Date.now() + 8 * 24 * 3600_000);
      assert.deepEqual((await kernelNamespaces(env, db, inAWeek)).sort(), ["atrium-gone", "atrium-risk", "atrium-shared"], "a kernel ended over a week ago is not looked for");
    } finally {
      await close();
    }
  });
});

describe("judgeEngine", () => {
  const engine: ClusterEngine = { launcher: "yarn", kernelId: randomUUID(), engineId: "app_1", label: "x", createdAt: old };
  const listed = new Map([engine, { ...engine, engineId: "app_2", createdAt: new Date(old.getTime() + 1000) }, { ...engine, engineId: "app_0", createdAt: new Date(old.getTime() - 1000) }].map((e) => [e.engineId, e]));
  it("says why an engine is an orphan", () => {
    assert.deepEqual(judgeEngine(engine, { state: "dead", engineId: "app_1", endReason: "culled" }, NOW, 1000, listed), { orphan: true, why: "its kernel ended (culled)" });
    assert.deepEqual(judgeEngine(engine, { state: "busy", engineId: "app_2", endReason: null }, NOW, 1000, listed), { orphan: true, why: "its kernel now runs as app_2 (left from a restart)" });
    assert.deepEqual(judgeEngine(engine, undefined, NOW, 1000, listed), { orphan: true, why: "no kernel record names it" });
  });
  it("never judges an engine inside the grace, one whose kernel is launching, or one beside an engine it cannot see", () => {
    assert.equal(judgeEngine({ ...engine, createdAt: NOW }, undefined, NOW, 1000, listed).orphan, false);
    assert.equal(judgeEngine(engine, { state: "restarting", engineId: "app_0", endReason: null }, NOW, 1000, listed).orphan, false);
    assert.equal(judgeEngine(engine, { state: "busy", engineId: null, endReason: null }, NOW, 1000, listed).orphan, false);
    assert.equal(judgeEngine(engine, { state: "idle", engineId: "app_3", endReason: null }, NOW, 1000, listed).orphan, false);
    // the row names an older engine than this one (a wrong record): the live newer one is never killed for it
    assert.equal(judgeEngine(engine, { state: "idle", engineId: "app_0", endReason: null }, NOW, 1000, listed).orphan, false);
  });
});
