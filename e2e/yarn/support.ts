// The YARN end-to-end suite's settings and helpers (e2e/yarn/playwright.yarn.config.ts):
// - where things are: the portal's port and data dir, the mini cluster's ports (the defaults + an offset, so it
//   runs beside another engineer's default-port cluster) and work dir, the JSON file with the cluster's info;
// - the portal's environment (ATRIUM_YARN_* at the cluster, ATRIUM_HOME_STORE=webhdfs as the service user);
// - the default export, used as BOTH globalSetup and globalTeardown (Playwright wants one file per hook and
//   the suite may only own these three files): the first call provisions and starts the cluster and writes its
//   info, the second stops it;
// - what the spec needs: the CLI against this portal's data dir, signing in, RM and WebHDFS REST calls.
// Playwright starts the webServer BEFORE globalSetup (1.65: plugin setup, then global setups), so the portal
// is configured from these fixed values and the cluster comes up right after it; the portal touches HDFS and
// YARN only when an analyst signs in or starts a YARN kernel.
import { execFileSync } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { portsWithOffset, sparkSubmitSettings, startHadoopCluster } from "../clusters/hadoop/cluster.mjs";
import { ensureHadoop, ensureSparkVenv, javaHome } from "../clusters/hadoop/provision.mjs";

export const yarnPort = Number(process.env.ATRIUM_YARN_E2E_PORT ?? 3927);
/** Added to every default port of the mini cluster (19820 → 29820, 18088 → 28088, ...). */
export const portOffset = Number(process.env.ATRIUM_YARN_E2E_PORT_OFFSET ?? 10000);
export const clusterPorts = portsWithOffset(portOffset);
export const artifactsDir = path.resolve(`e2e/.artifacts/yarn-${yarnPort}`);
export const yarnDataDir = path.join(artifactsDir, "data");
/** Short and outside the repo: NodeManager container paths live under it. */
export const clusterWorkDir = path.join(os.tmpdir(), `atrium-yarn-e2e-${yarnPort}`);
export const clusterInfoFile = path.join(artifactsDir, "cluster-info.json");
export const sparkConfDir = path.join(clusterWorkDir, "spark-conf");
export const rmUrl = `http://127.0.0.1:${clusterPorts.rmWeb}`;
export const webhdfsUrl = `http://127.0.0.1:${clusterPorts.nameNodeHttp}/webhdfs/v1`;
/** The OS user running the cluster is its HDFS superuser and a configured proxy user: Atrium's service user. */
export const serviceUser = os.userInfo().username;
export const yarnAdmin = { email: "admin@yarn-e2e.test", password: "yarn-e2e-admin-password" };

/** The portal's environment: YARN kernels on the mini cluster, homes in HDFS. */
export function portalEnv(): Record<string, string> {
  const spark = ensureSparkVenv(); // cached: < 1 s
  return {
    PORT: String(yarnPort),
    ATRIUM_DATA_DIR: yarnDataDir,
    ATRIUM_ADMIN_EMAIL: yarnAdmin.email,
    ATRIUM_ADMIN_PASSWORD: yarnAdmin.password,
    NEXT_TELEMETRY_DISABLED: "1",
    ...(process.env.ATRIUM_PYTHON ? { ATRIUM_PYTHON: process.env.ATRIUM_PYTHON } : {}),
    ATRIUM_YARN_RM_URL: rmUrl,
    ATRIUM_YARN_SPARK_HOME: spark.sparkHome,
    ATRIUM_YARN_HADOOP_CONF_DIR: path.join(clusterWorkDir, "conf"), // MiniCluster's default --conf-dir
    ATRIUM_YARN_SPARK_CONF_DIR: sparkConfDir, // spark-defaults.conf, written by globalSetup
    ATRIUM_YARN_KERNEL_PYTHON: spark.python,
    ATRIUM_YARN_SERVICE_USER: serviceUser,
    ATRIUM_YARN_IMPERSONATE: "true",
    ATRIUM_YARN_POLL_INTERVAL_SECONDS: "1",
    ATRIUM_YARN_LAUNCH_TIMEOUT_SECONDS: "240",
    ATRIUM_HOME_STORE: "webhdfs",
    ATRIUM_WEBHDFS_URL: webhdfsUrl,
    ATRIUM_WEBHDFS_USER: serviceUser,
    ATRIUM_WEBHDFS_AUTH: "simple",
    JAVA_HOME: javaHome(), // spark-submit's JVM (the launcher passes JAVA_HOME through)
    PATH: `${path.dirname(spark.python)}:${process.env.PATH ?? ""}`,
  };
}

type ClusterHandle = { stop(): Promise<void> };
const state = globalThis as typeof globalThis & { __atriumYarnE2e?: { cluster?: ClusterHandle } };

/** globalSetup (first call) and globalTeardown (second call, same runner process). */
export default async function setupOrTeardown(): Promise<void> {
  if (state.__atriumYarnE2e) return teardown();
  state.__atriumYarnE2e = {};
  const started = Date.now();
  ensureHadoop();
  const spark = ensureSparkVenv();
  const provisionedMs = Date.now() - started;
  fs.rmSync(clusterWorkDir, { recursive: true, force: true }); // a fresh HDFS; a running cluster holds its ports (start fails)
  fs.mkdirSync(artifactsDir, { recursive: true });
  // Generous NodeManager memory: the default "medium" size asks for an 8 GB driver. YARN only books it (pmem
  // checks are off); the driver JVM grows to what the notebook uses (~0.5 GB here).
  const cluster = await startHadoopCluster({ workDir: clusterWorkDir, ports: clusterPorts, nmMemoryMb: 20480, nmVcores: 8, timeoutMs: 240_000 });
  state.__atriumYarnE2e.cluster = cluster;
  // Site-wide Spark settings for the portal's spark-submit: the harness's (jars in place, venv Python, loopback
  // binds) plus one small executor (2 shared cores).
  const { conf } = sparkSubmitSettings(cluster, spark);
  const defaults = { ...conf, "spark.executor.instances": "1", "spark.executor.memory": "512m", "spark.executor.cores": "1", "spark.ui.enabled": "false" };
  fs.mkdirSync(sparkConfDir, { recursive: true });
  fs.writeFileSync(path.join(sparkConfDir, "spark-defaults.conf"), Object.entries(defaults).map(([k, v]) => `${k} ${v}`).join("\n") + "\n");
  fs.writeFileSync(
    clusterInfoFile,
    JSON.stringify({ ...cluster.info, sparkConfDir, portal: `http://localhost:${yarnPort}`, provisionMs: provisionedMs, startMs: cluster.startMs }, null, 2),
  );
  console.log(`[yarn-e2e] mini cluster up in ${(cluster.startMs / 1000).toFixed(1)} s (provision ${(provisionedMs / 1000).toFixed(1)} s): RM ${cluster.rmUrl}, WebHDFS ${cluster.webhdfsUrl}`);
}

async function teardown(): Promise<void> {
  const cluster = state.__atriumYarnE2e?.cluster;
  state.__atriumYarnE2e = undefined;
  const started = Date.now();
  if (cluster) await cluster.stop(); // also kills any container process left under the work dir
  else if (fs.existsSync(path.join(clusterWorkDir, "cluster.pid"))) {
    execFileSync(process.execPath, ["e2e/clusters/hadoop/cluster.mjs", "stop", "--work-dir", clusterWorkDir], { stdio: "inherit", timeout: 90_000 });
  }
  console.log(`[yarn-e2e] mini cluster stopped in ${((Date.now() - started) / 1000).toFixed(1)} s`);
  if (!process.env.ATRIUM_KEEP_HADOOP_WORK) fs.rmSync(clusterWorkDir, { recursive: true, force: true });
  else console.log(`[yarn-e2e] kept ${clusterWorkDir}`);
}

export function readClusterInfo(): { rmUrl: string; webhdfsUrl: string; superuser: string; queues: string[]; nodeManagerLogDirs: string } {
  return JSON.parse(fs.readFileSync(clusterInfoFile, "utf8"));
}

/** `npx atrium …` against this suite's portal (same data dir and configuration). */
export function atriumCli(args: string[], stdin = ""): string {
  const { PORT: _port, ...env } = portalEnv();
  return execFileSync(process.execPath, ["server/cli/atrium.mjs", ...args], {
    env: { ...process.env, ...env },
    input: stdin,
    encoding: "utf8",
    timeout: 60_000,
  });
}

export async function rest(url: string, init: RequestInit = {}): Promise<{ status: number; text: string; json: any }> {
  const res = await fetch(url, { ...init, signal: AbortSignal.timeout(30_000) });
  const text = await res.text();
  let json: any;
  try {
    json = JSON.parse(text);
  } catch {}
  return { status: res.status, text, json };
}

/** The RM's view of one application, asked as `user`. */
export const rmApp = (id: string, user: string) => rest(`${rmUrl}/ws/v1/cluster/apps/${id}?user.name=${user}`);

/** WebHDFS OPEN as `user` (simple auth); follows the redirect to the DataNode. */
export const webhdfsOpen = (hdfsPath: string, user: string) => rest(`${webhdfsUrl}${hdfsPath}?op=OPEN&user.name=${user}`);
