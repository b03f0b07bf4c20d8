#!/usr/bin/env node
// Starts and stops the real HDFS + YARN mini cluster (MiniCluster.java on the Maven Central jars that
// provision.mjs caches). Library:
//   const c = await startHadoopCluster({ workDir });  // → { confDir, webhdfsUrl, rmUrl, defaultFS, info, stop() }
//   await c.stop();
// CLI (demos):
//   node e2e/clusters/hadoop/cluster.mjs start [--work-dir DIR] [--foreground]   prints URLs and an env file
//   node e2e/clusters/hadoop/cluster.mjs status|stop [--work-dir DIR]
// Every server listens on 127.0.0.1. The Java process exits when its parent's pipe closes (library mode), so a
// crashed test leaves no cluster behind; stop() also ends any YARN container process left under the work dir.
import { spawn } from "node:child_process";
import fs from "node:fs";
import net from "node:net";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { ensureHadoop, ensureSparkVenv, javaHome } from "./provision.mjs";

const here = path.dirname(fileURLToPath(import.meta.url));
const READY = "ATRIUM-HADOOP-READY ";

/** Default ports; all on 127.0.0.1. */
export const defaultPorts = {
  nameNode: 19820, // hdfs://127.0.0.1:19820
  nameNodeHttp: 19870, // WebHDFS and the NameNode UI
  resourceManager: 18032, // yarn.resourcemanager.address
  scheduler: 18030,
  resourceTracker: 18031,
  rmAdmin: 18033,
  rmWeb: 18088, // RM REST /ws/v1/cluster and UI
};

/**
 * The default ports shifted by `offset`, for a second cluster beside the first. Keep the results below 32768
 * (Linux's ephemeral range), where no outgoing connection can be holding them.
 * @param {number} offset
 * @returns {typeof defaultPorts}
 */
export function portsWithOffset(offset) {
  const shifted = /** @type {typeof defaultPorts} */ (Object.fromEntries(Object.entries(defaultPorts).map(([k, v]) => [k, v + offset])));
  return shifted;
}

/**
 * @typedef {{ pid: number, workDir: string, confDir: string, defaultFS: string, nameNodeHttpUrl: string,
 *   webhdfsUrl: string, rmUrl: string, rmAddress: string, superuser: string, proxyUsers: string[], queues: string[],
 *   anonymousHttp: boolean, nodeManagerMemoryMb: number, nodeManagerVcores: number, nodeManagerLogDirs: string,
 *   clusterLog: string, javaHome: string, hadoopVersion: string, hdfsStartMs: number, yarnStartMs: number }} ClusterInfo
 * @typedef {{ confDir: string, webhdfsUrl: string, rmUrl: string, defaultFS: string, superuser: string,
 *   info: ClusterInfo, startMs: number, env: Record<string, string>, stop: () => Promise<void> }} HadoopCluster
 */

/**
 * Starts the mini cluster and resolves once HDFS and YARN are up (or rejects with the reason and the log tail).
 * @param {{ workDir: string, ports?: Partial<typeof defaultPorts>, nmMemoryMb?: number, nmVcores?: number,
 *   queues?: Record<string, number>, proxyUsers?: string[], anonymousHttp?: boolean, heapMb?: number,
 *   timeoutMs?: number, detached?: boolean }} options
 * @returns {Promise<HadoopCluster>}
 */
export async function startHadoopCluster(options) {
  const { workDir, timeoutMs = 180_000, detached = false } = options;
  if (!workDir) throw new Error("startHadoopCluster: workDir is required");
  const ports = { ...defaultPorts, ...(options.ports ?? {}) };
  const started = Date.now();
  const hadoop = ensureHadoop();
  const java = javaHome();
  for (const [name, port] of Object.entries(ports)) {
    if (!(await portFree(port))) {
      throw new Error(`Port ${port} (${name}) on 127.0.0.1 is in use: another mini cluster? (\`node e2e/clusters/hadoop/cluster.mjs stop --work-dir …\`) or pass other ports.`);
    }
  }
  fs.mkdirSync(path.join(workDir, "logs"), { recursive: true });
  fs.rmSync(path.join(workDir, "cluster.json"), { force: true });
  const args = [
    `-Xmx${options.heapMb ?? 1024}m`,
    "-XX:+UseSerialGC", // 2 shared cores: no parallel GC threads fighting the containers
    "-XX:TieredStopAtLevel=1", // C1 only: starts faster and the cluster itself is never the hot path
    "-Djava.net.preferIPv4Stack=true",
    "-cp",
    hadoop.classpath,
    path.join(here, "MiniCluster.java"),
    "--work-dir", workDir,
    "--nn-port", String(ports.nameNode),
    "--nn-http-port", String(ports.nameNodeHttp),
    "--rm-port", String(ports.resourceManager),
    "--rm-scheduler-port", String(ports.scheduler),
    "--rm-tracker-port", String(ports.resourceTracker),
    "--rm-admin-port", String(ports.rmAdmin),
    "--rm-web-port", String(ports.rmWeb),
    "--nm-memory-mb", String(options.nmMemoryMb ?? 8192),
    "--nm-vcores", String(options.nmVcores ?? 8),
    "--anonymous-http", String(options.anonymousHttp ?? false),
  ];
  if (options.queues) args.push("--queues", Object.entries(options.queues).map(([q, c]) => `${q}:${c}`).join(","));
  if (options.proxyUsers) args.push("--proxy-users", options.proxyUsers.join(","));
  if (!detached) args.push("--exit-on-stdin-eof");

  const out = fs.openSync(path.join(workDir, "logs", "stdout.log"), "w");
  const env = { ...process.env, JAVA_HOME: java };
  const child = detached
    ? spawn(path.join(java, "bin", "java"), args, { cwd: workDir, env, detached: true, stdio: ["ignore", out, out] })
    : spawn(path.join(java, "bin", "java"), args, { cwd: workDir, env, stdio: ["pipe", "pipe", "pipe"] });
  if (!child.pid) throw new Error("could not start java");
  fs.writeFileSync(path.join(workDir, "cluster.pid"), `${child.pid}\n`);
  let exited = /** @type {null | string} */ (null);
  const exitPromise = new Promise((resolve) =>
    child.on("exit", (code, signal) => {
      exited = `exit ${code ?? signal}`;
      resolve(undefined);
    }),
  );
  if (!detached) {
    child.stdout?.on("data", (d) => fs.writeSync(out, d));
    child.stderr?.on("data", (d) => fs.writeSync(out, d));
  } else {
    child.unref();
  }

  const stop = async () => {
    await stopPid(child.pid ?? 0, exitPromise);
    if (!detached) child.stdin?.end();
    killStrays(workDir);
  };

  // Wait for the ready line (cluster.json is written just before it).
  const deadline = Date.now() + timeoutMs;
  const infoPath = path.join(workDir, "cluster.json");
  while (!fs.existsSync(infoPath)) {
    if (exited) throw new Error(`The mini cluster exited (${exited}) before it was ready:\n${tail(path.join(workDir, "logs", "stdout.log"))}`);
    if (Date.now() > deadline) {
      await stop();
      throw new Error(`The mini cluster was not ready within ${timeoutMs / 1000} s:\n${tail(path.join(workDir, "logs", "stdout.log"))}`);
    }
    await sleep(250);
  }
  /** @type {ClusterInfo} */
  const info = JSON.parse(fs.readFileSync(infoPath, "utf8"));
  return {
    confDir: info.confDir,
    webhdfsUrl: info.webhdfsUrl,
    rmUrl: info.rmUrl,
    defaultFS: info.defaultFS,
    superuser: info.superuser,
    info,
    startMs: Date.now() - started,
    env: { HADOOP_CONF_DIR: info.confDir, YARN_CONF_DIR: info.confDir, JAVA_HOME: java },
    stop,
  };
}

/**
 * The environment and --conf settings for `spark-submit --master yarn --deploy-mode cluster` against the
 * cluster with the cached Spark venv: Spark's jars and pyspark's zips referenced in place (`local:`), so a launch
 * uploads only the app file and Spark's small conf zip; the venv's Python in the AM and executors; every Spark
 * server on the loopback interface.
 * @param {{ confDir: string }} cluster
 * @param {ReturnType<typeof ensureSparkVenv>} [spark]
 */
export function sparkSubmitSettings(cluster, spark = ensureSparkVenv()) {
  const env = {
    SPARK_HOME: spark.sparkHome,
    HADOOP_CONF_DIR: cluster.confDir,
    YARN_CONF_DIR: cluster.confDir,
    JAVA_HOME: javaHome(),
    PATH: `${path.dirname(spark.python)}:${process.env.PATH ?? ""}`,
    PYSPARK_PYTHON: spark.python,
    // spark-submit needs pyspark.zip and py4j's zip for a Python app on YARN; `local:` uses them in place
    // instead of uploading them to HDFS on every launch.
    PYSPARK_ARCHIVES_PATH: spark.pysparkArchives.map((p) => `local:${p}`).join(","),
    SPARK_LOCAL_IP: "127.0.0.1",
  };
  const conf = {
    "spark.yarn.jars": `local:${spark.jars}/*`,
    "spark.yarn.populateHadoopClasspath": "false", // Hadoop classes come from Spark's own hadoop-client jars
    "spark.yarn.appMasterEnv.PYSPARK_PYTHON": spark.python,
    "spark.executorEnv.PYSPARK_PYTHON": spark.python,
    // The driver (in the AM) binds to SPARK_LOCAL_IP; executors inherit SPARK_* from the AM. Without it Spark
    // sees the host name resolve to loopback and binds to the first non-loopback interface instead.
    "spark.yarn.appMasterEnv.SPARK_LOCAL_IP": "127.0.0.1",
    "spark.yarn.maxAppAttempts": "1",
  };
  return { env, conf, spark, confArgs: Object.entries(conf).flatMap(([k, v]) => ["--conf", `${k}=${v}`]) };
}

async function stopPid(pid, exitPromise) {
  if (!pid || !alive(pid)) return;
  try {
    process.kill(pid, "SIGTERM");
  } catch {}
  const deadline = Date.now() + 40_000;
  while (alive(pid) && Date.now() < deadline) {
    if (exitPromise) await Promise.race([exitPromise, sleep(250)]);
    else await sleep(250);
  }
  if (alive(pid)) {
    try {
      process.kill(pid, "SIGKILL");
    } catch {}
  }
}

/** YARN containers run in their own sessions; if the NodeManager died without killing them, end them here. */
function killStrays(workDir) {
  const marker = path.resolve(workDir) + path.sep;
  let entries = [];
  try {
    entries = fs.readdirSync("/proc").filter((d) => /^\d+$/.test(d));
  } catch {
    return;
  }
  for (const pid of entries) {
    if (Number(pid) === process.pid) continue;
    try {
      const containers = `${marker}yarn${path.sep}`;
      const cmd = fs.readFileSync(`/proc/${pid}/cmdline`, "utf8").replace(/\0/g, " ");
      let cwd = "";
      try {
        cwd = fs.readlinkSync(`/proc/${pid}/cwd`);
      } catch {}
      if (cmd.includes(containers) || cwd.startsWith(containers)) process.kill(Number(pid), "SIGKILL");
    } catch {}
  }
}

function alive(pid) {
  try {
    process.kill(pid, 0);
    // A zombie (exited, not yet reaped) still answers signal 0.
    const stat = fs.readFileSync(`/proc/${pid}/stat`, "utf8");
    return !/^\d+ \(.*\) Z/.test(stat);
  } catch {
    return false;
  }
}

function portFree(port) {
  return new Promise((resolve) => {
    const s = net.createServer();
    s.once("error", () => resolve(false));
    s.listen(port, "127.0.0.1", () => s.close(() => resolve(true)));
  });
}

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

function tail(file, lines = 40) {
  try {
    return fs.readFileSync(file, "utf8").split("\n").slice(-lines).join("\n");
  } catch {
    return "(no output)";
  }
}

// ---------------------------------------------------------------------------------------------------- CLI
if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const [command = "help", ...rest] = process.argv.slice(2);
  const flag = (name) => {
    const i = rest.indexOf(`--${name}`);
    return i >= 0 ? (rest[i + 1] && !rest[i + 1].startsWith("--") ? rest[i + 1] : "true") : undefined;
  };
  const workDir = path.resolve(flag("work-dir") ?? path.join(os.tmpdir(), "atrium-hadoop-demo"));
  const infoPath = path.join(workDir, "cluster.json");
  const pidPath = path.join(workDir, "cluster.pid");
  try {
    if (command === "start") {
      const foreground = flag("foreground") === "true";
      const pid = fs.existsSync(pidPath) ? Number(fs.readFileSync(pidPath, "utf8")) : 0;
      if (pid && alive(pid) && fs.existsSync(infoPath)) {
        console.log(`Already running (pid ${pid}).`);
        printInfo(JSON.parse(fs.readFileSync(infoPath, "utf8")), workDir);
      } else {
        console.log(`Starting the Hadoop mini cluster in ${workDir} …`);
        const cluster = await startHadoopCluster({ workDir, detached: !foreground });
        console.log(`Ready in ${(cluster.startMs / 1000).toFixed(1)} s (pid ${cluster.info.pid}).`);
        printInfo(cluster.info, workDir);
        if (foreground) {
          console.log("Ctrl-C stops it.");
          const end = async () => {
            await cluster.stop();
            process.exit(0);
          };
          process.on("SIGINT", end);
          process.on("SIGTERM", end);
        }
      }
    } else if (command === "stop") {
      const pid = fs.existsSync(pidPath) ? Number(fs.readFileSync(pidPath, "utf8")) : 0;
      if (!pid || !alive(pid)) console.log(`No mini cluster running from ${workDir}.`);
      else {
        await stopPid(pid);
        console.log(`Stopped (pid ${pid}).`);
      }
      killStrays(workDir);
      fs.rmSync(pidPath, { force: true });
    } else if (command === "status") {
      const pid = fs.existsSync(pidPath) ? Number(fs.readFileSync(pidPath, "utf8")) : 0;
      if (pid && alive(pid) && fs.existsSync(infoPath)) printInfo(JSON.parse(fs.readFileSync(infoPath, "utf8")), workDir);
      else {
        console.log(`Not running (work dir ${workDir}).`);
        process.exitCode = 1;
      }
    } else {
      console.log("usage: node e2e/clusters/hadoop/cluster.mjs start [--work-dir DIR] [--foreground] | status | stop [--work-dir DIR]");
      process.exitCode = command === "help" ? 0 : 2;
    }
  } catch (error) {
    console.error(error.message);
    process.exit(1);
  }
}

/** Prints the URLs and writes <workDir>/env.sh for spark-submit by hand. */
function printInfo(info, workDir) {
  const { env, conf } = sparkSubmitSettings(info);
  const envFile = path.join(workDir, "env.sh");
  const sparkConfDir = path.join(workDir, "spark-conf");
  fs.mkdirSync(sparkConfDir, { recursive: true });
  fs.writeFileSync(path.join(sparkConfDir, "spark-defaults.conf"), Object.entries(conf).map(([k, v]) => `${k} ${v}`).join("\n") + "\n");
  const { PATH: _path, ...rest } = env;
  const lines = Object.entries({ ...rest, SPARK_CONF_DIR: sparkConfDir }).map(([k, v]) => `export ${k}='${v}'`);
  lines.push(`export PATH='${path.dirname(sparkSubmitSettings(info).spark.python)}':"$PATH"`);
  fs.writeFileSync(envFile, lines.join("\n") + "\n");
  console.log(`  HDFS        ${info.defaultFS}   (superuser: ${info.superuser})`);
  console.log(`  WebHDFS     ${info.webhdfsUrl}/user?op=LISTSTATUS&user.name=${info.superuser}`);
  console.log(`  YARN RM     ${info.rmUrl}/cluster?user.name=${info.superuser}   REST: ${info.rmUrl}/ws/v1/cluster/apps?user.name=${info.superuser}`);
  console.log(`  queues      ${info.queues.join(", ")}    proxy users: ${info.proxyUsers.join(", ")}`);
  console.log(`  conf dir    ${info.confDir}`);
  console.log(`  logs        ${info.clusterLog}  (containers: ${info.nodeManagerLogDirs})`);
  console.log(`  spark-submit: source ${envFile}   (HADOOP_CONF_DIR, SPARK_HOME, spark-defaults.conf for this cluster)`);
}
