// Smoke test of the real Hadoop mini cluster (HDFS + YARN from Maven Central jars) with real Spark from PyPI:
// WebHDFS as the superuser and as the user; `spark-submit --master yarn --deploy-mode cluster --proxy-user ana
// --queue risk` of a PySpark script that finishes SUCCEEDED as ana in risk; a long-running app killed through
// the RM REST API. Provisions (cached) what it needs. Run alone:
//   node --import tsx --test --test-reporter=spec e2e/clusters/hadoop/cluster.int.test.ts
import assert from "node:assert/strict";
import { spawn, type ChildProcess } from "node:child_process";
import { randomBytes } from "node:crypto";
import fs from "node:fs";
import nodeHttp from "node:http";
import os from "node:os";
import path from "node:path";
import { after, before, test } from "node:test";
import { sparkSubmitSettings, startHadoopCluster } from "./cluster.mjs";
import { ensureHadoop, ensureSparkVenv, javaHome } from "./provision.mjs";

type Cluster = Awaited<ReturnType<typeof startHadoopCluster>>;
type YarnApp = { id: string; user: string; queue: string; state: string; finalStatus: string; diagnostics: string; applicationTags: string; startedTime: number };

const workDir = fs.mkdtempSync(path.join(os.tmpdir(), "atrium-hadoop-test-"));
let cluster: Cluster | undefined;
let spark: ReturnType<typeof sparkSubmitSettings> | undefined;
const submits: ChildProcess[] = [];
const metrics: Record<string, string> = {};

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const seconds = (ms: number) => `${(ms / 1000).toFixed(1)} s`;

before(
  async () => {
    let t = Date.now();
    javaHome();
    ensureHadoop();
    const venv = ensureSparkVenv();
    metrics.provision = seconds(Date.now() - t);
    t = Date.now();
    cluster = await startHadoopCluster({ workDir });
    metrics.clusterStart = seconds(Date.now() - t);
    metrics.clusterRssIdle = `${rssMb(cluster.info.pid)} MB`;
    spark = sparkSubmitSettings(cluster, venv);
  },
  { timeout: 20 * 60_000 },
);

after(async () => {
  for (const p of submits) if (p.exitCode === null && p.signalCode === null) p.kill("SIGKILL");
  clearInterval(sampler);
  metrics.peakRss = `${peak.total} MB (cluster ${peak.cluster} + containers ${peak.containers} + spark-submit ${peak.clients})`;
  const t = Date.now();
  await cluster?.stop();
  metrics.clusterStop = seconds(Date.now() - t);
  console.log(`# metrics ${JSON.stringify(metrics)}`);
  if (!process.env.ATRIUM_KEEP_HADOOP_WORK) fs.rmSync(workDir, { recursive: true, force: true });
  else console.log(`# kept ${workDir}`);
});

function rssMb(pid: number): number {
  try {
    const kb = Number(/VmRSS:\s+(\d+)/.exec(fs.readFileSync(`/proc/${pid}/status`, "utf8"))?.[1] ?? 0);
    return Math.round(kb / 1024);
  } catch {
    return 0;
  }
}

/** RSS of every YARN container process (their command line or cwd is under the work dir's yarn folder). */
function containersRssMb(): number {
  const marker = path.join(workDir, "yarn") + path.sep;
  let total = 0;
  for (const pid of fs.readdirSync("/proc").filter((d) => /^\d+$/.test(d))) {
    try {
      const cmd = fs.readFileSync(`/proc/${pid}/cmdline`, "utf8");
      let cwd = "";
      try {
        cwd = fs.readlinkSync(`/proc/${pid}/cwd`);
      } catch {}
      if (cmd.includes(marker) || cwd.startsWith(marker)) total += rssMb(Number(pid));
    } catch {}
  }
  return total;
}

async function http(method: string, url: string, body?: unknown): Promise<{ status: number; json: any; text: string }> {
  const res = await fetch(url, {
    method,
    redirect: "manual",
    headers: body === undefined ? {} : { "content-type": "application/json" },
    body: body === undefined ? undefined : JSON.stringify(body),
    signal: AbortSignal.timeout(30_000),
  });
  const text = await res.text();
  let json: any;
  try {
    json = JSON.parse(text);
  } catch {}
  return { status: res.status, json, text };
}

function httpRequest(method: string, url: string, body: string): Promise<{ status: number; text: string }> {
  return new Promise((resolve, reject) => {
    const req = nodeHttp.request(url, { method, timeout: 30_000 }, (res) => {
      let text = "";
      res.setEncoding("utf8");
      res.on("data", (d) => (text += d));
      res.on("end", () => resolve({ status: res.statusCode ?? 0, text }));
    });
    req.on("timeout", () => req.destroy(new Error(`${method} ${url}: no answer within 30 s`)));
    req.on("error", reject);
    req.end(body);
  });
}

function c(): Cluster {
  assert.ok(cluster, "the cluster did not start");
  return cluster;
}

async function appsByTag(tag: string): Promise<YarnApp[]> {
  const { status, json } = await http("GET", `${c().rmUrl}/ws/v1/cluster/apps?applicationTags=${tag}&user.name=${c().superuser}`);
  assert.equal(status, 200);
  return json?.apps?.app ?? [];
}

/** Polls the RM (one query per second) until the tagged app satisfies `done`, within a deadline. */
async function waitForApp(tag: string, done: (app: YarnApp) => boolean, timeoutMs: number, what: string): Promise<YarnApp> {
  const deadline = Date.now() + timeoutMs;
  let last: YarnApp | undefined;
  while (Date.now() < deadline) {
    last = (await appsByTag(tag))[0];
    if (last && done(last)) return last;
    await sleep(1000);
  }
  throw new Error(`${what}: not within ${timeoutMs / 1000} s; last report: ${JSON.stringify(last)}`);
}

/** Peak memory while the tests run: the cluster JVM, the YARN containers, and the spark-submit clients. */
const peak = { total: 0, cluster: 0, containers: 0, clients: 0 };
function sampleMemory() {
  if (!cluster) return;
  const parents = new Map<number, number>();
  for (const pid of fs.readdirSync("/proc").filter((d) => /^\d+$/.test(d))) {
    try {
      const stat = fs.readFileSync(`/proc/${pid}/stat`, "utf8");
      parents.set(Number(pid), Number(stat.slice(stat.lastIndexOf(")") + 2).split(" ")[1]));
    } catch {}
  }
  const roots = new Set(submits.map((p) => p.pid).filter((p): p is number => !!p));
  let clients = 0;
  for (const pid of parents.keys()) {
    let p: number | undefined = pid;
    for (let depth = 0; p && depth < 10; depth++, p = parents.get(p)) {
      if (roots.has(p)) {
        clients += rssMb(pid);
        break;
      }
    }
  }
  const clusterMb = rssMb(cluster.info.pid);
  const containers = containersRssMb();
  const total = clusterMb + containers + clients;
  if (total > peak.total) Object.assign(peak, { total, cluster: clusterMb, containers, clients });
}
const sampler = setInterval(sampleMemory, 1000);
sampler.unref();

/** `spark-submit --master yarn --deploy-mode cluster` of a PySpark script; resolves with its exit code and output. */
function submit(script: string, args: string[]): { child: ChildProcess; done: Promise<{ code: number | null; output: string }> } {
  assert.ok(spark);
  const file = path.join(workDir, "jobs", `${randomBytes(4).toString("hex")}.py`);
  fs.mkdirSync(path.dirname(file), { recursive: true });
  fs.writeFileSync(file, script);
  const child = spawn(
    spark.spark.sparkSubmit,
    ["--master", "yarn", "--deploy-mode", "cluster", ...spark.confArgs, "--conf", "spark.ui.enabled=false", "--driver-memory", "512m", "--executor-memory", "512m", "--num-executors", "1", "--executor-cores", "1", ...args, file],
    { cwd: workDir, env: { ...process.env, ...spark.env }, stdio: ["ignore", "pipe", "pipe"] },
  );
  submits.push(child);
  let output = "";
  child.stdout?.on("data", (d) => (output += d));
  child.stderr?.on("data", (d) => (output += d));
  const done = new Promise<{ code: number | null; output: string }>((resolve) => child.on("close", (code) => resolve({ code, output })));
  return { child, done };
}

async function withDeadline<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const t = new Promise<never>((_, reject) => (timer = setTimeout(() => reject(new Error(`${what}: no result within ${ms / 1000} s`)), ms)));
  try {
    return await Promise.race([p, t]);
  } finally {
    clearTimeout(timer);
  }
}

test("WebHDFS: the superuser creates /user/ana for ana, who reads it back; others are refused", { timeout: 60_000 }, async () => {
  const w = c().webhdfsUrl;
  const su = c().superuser;
  let r = await http("PUT", `${w}/user/ana?op=MKDIRS&permission=700&user.name=${su}`);
  assert.equal(r.status, 200, r.text);
  assert.equal(r.json.boolean, true);
  r = await http("PUT", `${w}/user/ana?op=SETOWNER&owner=ana&group=ana&user.name=${su}`);
  assert.equal(r.status, 200, r.text);

  r = await http("GET", `${w}/user/ana?op=GETFILESTATUS&user.name=ana`);
  assert.equal(r.status, 200, r.text);
  assert.equal(r.json.FileStatus.type, "DIRECTORY");
  assert.equal(r.json.FileStatus.owner, "ana");
  assert.equal(r.json.FileStatus.permission, "700");
  r = await http("GET", `${w}/user/ana?op=LISTSTATUS&user.name=ana`);
  assert.equal(r.status, 200, r.text);
  assert.deepEqual(r.json.FileStatuses.FileStatus, []);

  // Two-step CREATE and APPEND (NameNode 307 → DataNode) as ana, then OPEN: appends work on one DataNode.
  for (const [op, method, text] of [["CREATE", "PUT", "hello "], ["APPEND", "POST", "world"]] as const) {
    const step1 = await fetch(`${w}/user/ana/hello.txt?op=${op}&user.name=ana`, { method, redirect: "manual", signal: AbortSignal.timeout(30_000) });
    assert.equal(step1.status, 307, await step1.text());
    const location = step1.headers.get("location");
    assert.ok(location);
    // Not fetch(): the DataNode answers "100 Continue" before the final status even without an Expect
    // header, and undici rejects that ("bad response"). node:http skips 1xx responses.
    const step2 = await httpRequest(method, location, text);
    assert.equal(step2.status, op === "CREATE" ? 201 : 200, step2.text);
  }
  const read = await fetch(`${w}/user/ana/hello.txt?op=OPEN&user.name=ana`, { signal: AbortSignal.timeout(30_000) });
  assert.equal(await read.text(), "hello world");
  await http("DELETE", `${w}/user/ana/hello.txt?op=DELETE&user.name=ana`);

  r = await http("GET", `${w}/user/ana?op=LISTSTATUS&user.name=bob`);
  assert.equal(r.status, 403, r.text);
  assert.equal(r.json.RemoteException.exception, "AccessControlException");
  r = await http("GET", `${w}/user/ana?op=LISTSTATUS`);
  assert.equal(r.status, 401, "simple auth without anonymous access: a caller must name itself");
});

test("spark-submit in YARN cluster mode as ana (proxy user) in queue risk finishes SUCCEEDED", { timeout: 300_000 }, async () => {
  const tag = `atrium-smoke-${randomBytes(4).toString("hex")}`;
  const t0 = Date.now();
  const { done } = submit(
    'from pyspark.sql import SparkSession\nspark = SparkSession.builder.getOrCreate()\nprint("COUNT", spark.range(1000).count())\nspark.stop()\n',
    ["--name", "atrium-smoke", "--proxy-user", "ana", "--queue", "risk", "--conf", `spark.yarn.tags=${tag}`],
  );
  const running = await waitForApp(tag, (a) => a.state === "RUNNING" || a.state === "FINISHED", 180_000, "the app to run");
  metrics.submitToRunning = seconds(Date.now() - t0);
  assert.equal(running.user, "ana");

  const { code, output } = await withDeadline(done, 240_000, "spark-submit");
  metrics.submitToFinished = seconds(Date.now() - t0);
  const [app] = await appsByTag(tag);
  assert.ok(app, `no application tagged ${tag}; spark-submit said:\n${output.slice(-3000)}`);
  assert.equal(app.state, "FINISHED", app.diagnostics);
  assert.equal(app.finalStatus, "SUCCEEDED", `${app.diagnostics}\n${output.slice(-3000)}`);
  assert.equal(code, 0, output.slice(-3000));
  assert.equal(app.user, "ana");
  assert.match(app.queue, /^(root\.)?risk$/);
  // The driver ran in the AM container: its stdout is in the NodeManager's log dir.
  const amStdout = path.join(c().info.nodeManagerLogDirs, app.id, `container_${app.id.replace("application_", "")}_01_000001`, "stdout");
  assert.match(fs.readFileSync(amStdout, "utf8"), /^COUNT 1000$/m);
  // Nothing big was uploaded: Spark's jars and pyspark's zips were referenced in place.
  const uploads = [...output.matchAll(/Uploading resource (\S+)/g)].map((m) => path.basename(m[1] ?? ""));
  assert.ok(uploads.every((f) => f.endsWith(".py") || /^__spark_conf__.*\.zip$/.test(f)), `uploaded: ${uploads.join(", ")}`);
});

test("a running application is killed through the RM REST API", { timeout: 300_000 }, async () => {
  const tag = `atrium-kill-${randomBytes(4).toString("hex")}`;
  const t0 = Date.now();
  const { done } = submit(
    'import time\nfrom pyspark.sql import SparkSession\nspark = SparkSession.builder.getOrCreate()\nprint("STARTED", flush=True)\ntime.sleep(600)\n',
    ["--name", "atrium-long", "--proxy-user", "ana", "--queue", "fraud", "--conf", `spark.yarn.tags=${tag}`],
  );
  const app = await waitForApp(tag, (a) => a.state === "RUNNING", 180_000, "the long app to run");
  metrics.submitToRunning2 = seconds(Date.now() - t0);
  assert.match(app.queue, /^(root\.)?fraud$/);
  const stateUrl = `${c().rmUrl}/ws/v1/cluster/apps/${app.id}/state`;

  // Writes need a named caller (simple HTTP auth): anonymous is refused, the owner may kill.
  let r = await http("PUT", stateUrl, { state: "KILLED" });
  assert.equal(r.status, 401, r.text);
  r = await http("GET", `${stateUrl}?user.name=ana`);
  assert.equal(r.status, 200, r.text);
  assert.equal(r.json.state, "RUNNING");
  const tKill = Date.now();
  r = await http("PUT", `${stateUrl}?user.name=ana`, { state: "KILLED" });
  assert.ok(r.status === 200 || r.status === 202, `${r.status} ${r.text}`);

  const killed = await waitForApp(tag, (a) => a.state === "KILLED", 60_000, "the app to be KILLED");
  metrics.killToKilled = seconds(Date.now() - tKill);
  assert.equal(killed.finalStatus, "KILLED");
  const { code } = await withDeadline(done, 60_000, "spark-submit to notice the kill");
  assert.notEqual(code, 0);
  // Its containers are gone too (the NodeManager killed them).
  const deadline = Date.now() + 30_000;
  while (containersRssMb() > 0 && Date.now() < deadline) await sleep(500);
  assert.equal(containersRssMb(), 0, "container processes left after the kill");
});
