#!/usr/bin/env node
// Provisions what the Hadoop mini cluster tests need, idempotently, outside the checkout (keyed by version):
//   ~/.cache/atrium/hadoop-<version>/lib/*.jar   hadoop-minicluster and its dependencies (Maven Central)
//   ~/.cache/atrium/spark-venv-<hash>/           pyspark (spark-submit + Spark's jars, YARN included),
//                                                ipykernel, cryptography; <hash> = requirements-spark.txt
// `node e2e/clusters/hadoop/provision.mjs` provisions both and prints the paths. ATRIUM_CACHE_DIR moves the
// cache; ATRIUM_HADOOP_VERSION picks another Hadoop (default: the pom's); ATRIUM_MAVEN_REPO a Maven local repo.
import { createHash } from "node:crypto";
import { execFileSync, spawnSync } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";

const here = path.dirname(fileURLToPath(import.meta.url));
export const cacheDir = process.env.ATRIUM_CACHE_DIR ?? path.join(os.homedir(), ".cache", "atrium");
const pomPath = path.join(here, "pom.xml");
const requirementsPath = path.join(here, "requirements-spark.txt");

/** The Hadoop version: ATRIUM_HADOOP_VERSION, else the pom's <hadoop.version>. */
export function hadoopVersion() {
  if (process.env.ATRIUM_HADOOP_VERSION) return process.env.ATRIUM_HADOOP_VERSION;
  const m = /<hadoop\.version>([^<]+)<\/hadoop\.version>/.exec(fs.readFileSync(pomPath, "utf8"));
  if (!m?.[1]) throw new Error(`No <hadoop.version> in ${pomPath}`);
  return m[1];
}

function run(cmd, args, options = {}) {
  const result = spawnSync(cmd, args, { stdio: "inherit", timeout: 30 * 60_000, ...options });
  if (result.error) throw new Error(`${cmd} ${args.join(" ")}: ${result.error.message}`);
  if (result.status !== 0) throw new Error(`${cmd} ${args.join(" ")} failed (exit ${result.status ?? result.signal})`);
}

/** JAVA_HOME of $JAVA_HOME's java or the `java` on PATH, checked to be Java 17 or newer. */
export function javaHome() {
  const candidates = [process.env.JAVA_HOME && path.join(process.env.JAVA_HOME, "bin", "java"), "java"].filter(Boolean);
  for (const java of candidates) {
    // -XshowSettings prints on stderr.
    const r = spawnSync(java, ["-XshowSettings:properties", "-version"], { encoding: "utf8", timeout: 60_000 });
    if (r.status === 0) return parseJava(r.stderr + r.stdout);
  }
  throw new Error("No Java found: install a JDK 17 or newer (Debian: `apt-get install -y openjdk-17-jdk-headless`) or set JAVA_HOME.");
}

function parseJava(text) {
  const home = /^\s*java\.home = (.+)$/m.exec(text)?.[1]?.trim();
  const spec = Number(/^\s*java\.specification\.version = (\d+)/m.exec(text)?.[1] ?? 0);
  if (!home) throw new Error(`Could not read java.home from \`java -XshowSettings:properties\``);
  if (spec < 17) throw new Error(`Java ${spec} at ${home}: Hadoop 3.5 and Spark 4 need Java 17 or newer.`);
  return home;
}

/**
 * The mini cluster's jars: resolved once per Hadoop version (and pom content) with Maven into
 * <cache>/hadoop-<version>/lib.
 * @returns {{ version: string, home: string, lib: string, classpath: string }}
 */
export function ensureHadoop() {
  const version = hadoopVersion();
  const home = path.join(cacheDir, `hadoop-${version}`);
  const lib = path.join(home, "lib");
  const marker = path.join(home, ".complete");
  const key = createHash("sha256").update(fs.readFileSync(pomPath)).update(version).digest("hex").slice(0, 12);
  const result = { version, home, lib, classpath: path.join(lib, "*") };
  if (fs.existsSync(marker) && fs.readFileSync(marker, "utf8").trim() === key) return result;
  const mvn = process.env.ATRIUM_MVN ?? "mvn";
  try {
    execFileSync(mvn, ["-v"], { stdio: "ignore" });
  } catch {
    throw new Error("Maven is needed to fetch the Hadoop mini cluster jars: install it (Debian: `apt-get install -y maven`).");
  }
  console.log(`[provision] resolving hadoop-minicluster ${version} and its dependencies with Maven into ${lib} (once; cached)…`);
  const started = Date.now();
  const staging = `${lib}.partial`;
  fs.rmSync(staging, { recursive: true, force: true });
  fs.mkdirSync(staging, { recursive: true });
  const args = ["-B", "-q", "-Dstyle.color=never", "-f", pomPath, `-Dhadoop.version=${version}`, "dependency:copy-dependencies", `-DoutputDirectory=${staging}`, "-DincludeScope=runtime"];
  if (process.env.ATRIUM_MAVEN_REPO) args.unshift(`-Dmaven.repo.local=${process.env.ATRIUM_MAVEN_REPO}`);
  run(mvn, args);
  if (!fs.readdirSync(staging).some((f) => f.startsWith("hadoop-yarn-server-tests-"))) throw new Error(`Maven finished but ${staging} has no hadoop-yarn-server-tests jar`);
  fs.rmSync(lib, { recursive: true, force: true });
  fs.renameSync(staging, lib);
  fs.writeFileSync(marker, key + "\n");
  console.log(`[provision] hadoop ${version}: ${fs.readdirSync(lib).length} jars in ${((Date.now() - started) / 1000).toFixed(1)} s`);
  return result;
}

function findPython() {
  for (const candidate of [process.env.ATRIUM_SPARK_BASE_PYTHON, "python3.11", "python3", "/usr/bin/python3"].filter(Boolean)) {
    try {
      const v = execFileSync(candidate, ["-c", "import sys, venv, ensurepip; print('%d.%d' % sys.version_info[:2])"], { encoding: "utf8", stdio: ["ignore", "pipe", "ignore"] }).trim();
      const [major, minor] = v.split(".").map(Number);
      if (major === 3 && (minor ?? 0) >= 10) return candidate;
    } catch {}
  }
  throw new Error("pyspark 4 needs Python 3.10 or newer with venv: install python3 and python3-venv.");
}

/**
 * A venv with pyspark (spark-submit, Spark's jars incl. YARN), ipykernel and cryptography, one per
 * requirements-spark.txt content. Used by spark-submit and, as PYSPARK_PYTHON, inside the YARN containers.
 * @returns {{ venv: string, python: string, sparkHome: string, sparkSubmit: string, jars: string, pysparkArchives: string[], sparkVersion: string }}
 */
export function ensureSparkVenv() {
  const key = createHash("sha256").update(fs.readFileSync(requirementsPath)).digest("hex").slice(0, 12);
  const venv = path.join(cacheDir, `spark-venv-${key}`);
  const python = path.join(venv, "bin", "python");
  const marker = path.join(venv, ".complete");
  if (!fs.existsSync(marker)) {
    const base = findPython();
    console.log(`[provision] creating the Spark venv ${venv} (pyspark is ~450 MB; once; cached)…`);
    const started = Date.now();
    fs.rmSync(venv, { recursive: true, force: true });
    fs.mkdirSync(path.dirname(venv), { recursive: true });
    run(base, ["-m", "venv", venv]);
    run(python, ["-m", "pip", "install", "-q", "--disable-pip-version-check", "-r", requirementsPath]);
    const info = describeVenv(venv, python);
    checkSparkSubmit(info);
    fs.writeFileSync(marker, JSON.stringify({ sparkVersion: info.sparkVersion, at: new Date().toISOString() }) + "\n");
    console.log(`[provision] Spark ${info.sparkVersion} venv ready in ${((Date.now() - started) / 1000).toFixed(1)} s`);
    return info;
  }
  return describeVenv(venv, python);
}

function describeVenv(venv, python) {
  const out = execFileSync(python, ["-c", "import os, pyspark; print(os.path.dirname(pyspark.__file__)); print(pyspark.__version__)"], { encoding: "utf8" }).trim().split("\n");
  const sparkHome = out[0] ?? "";
  const lib = path.join(sparkHome, "python", "lib");
  const py4j = fs.existsSync(lib) ? fs.readdirSync(lib).find((f) => /^py4j-.*-src\.zip$/.test(f)) : undefined;
  const pyspark = path.join(lib, "pyspark.zip");
  if (!py4j || !fs.existsSync(pyspark)) throw new Error(`${lib} lacks pyspark.zip or py4j-*-src.zip: spark-submit can't run Python apps on YARN`);
  return {
    venv,
    python,
    sparkHome,
    sparkSubmit: path.join(venv, "bin", "spark-submit"),
    jars: path.join(sparkHome, "jars"),
    pysparkArchives: [pyspark, path.join(lib, py4j)],
    sparkVersion: out[1] ?? "",
  };
}

function checkSparkSubmit(info) {
  const r = spawnSync(info.sparkSubmit, ["--version"], {
    encoding: "utf8",
    timeout: 120_000,
    env: { ...process.env, SPARK_HOME: info.sparkHome, PATH: `${path.dirname(info.python)}:${process.env.PATH}`, JAVA_HOME: javaHome() },
  });
  const text = (r.stdout ?? "") + (r.stderr ?? "");
  if (r.status !== 0 || !text.includes(info.sparkVersion)) throw new Error(`spark-submit --version failed (exit ${r.status}):\n${text}`);
}

/** Both, for `npm test`-style callers. */
export function provisionHadoop() {
  const java = javaHome();
  return { javaHome: java, hadoop: ensureHadoop(), spark: ensureSparkVenv() };
}

if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const started = Date.now();
  try {
    const p = provisionHadoop();
    console.log(JSON.stringify(p, null, 2));
    console.log(`[provision] done in ${((Date.now() - started) / 1000).toFixed(1)} s`);
  } catch (error) {
    console.error(`[provision] ${error.message}`);
    process.exit(1);
  }
}
