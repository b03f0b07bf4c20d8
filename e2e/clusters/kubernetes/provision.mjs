#!/usr/bin/env node
// Builds (once, cached by version) the Kubernetes control plane binaries the test cluster runs:
//   ~/.cache/atrium/kubernetes/build-v1.37.2/bin/{kube-apiserver,kube-controller-manager,kube-scheduler}
//   ~/.cache/atrium/kubernetes/etcd-v3.6.16/bin/etcd
// Neither can be `go install`ed: k8s.io/kubernetes and go.etcd.io/etcd/server/v3 point their sibling modules at
// relative paths with `replace` directives. So each is built from a small wrapper module that requires it and
// replaces each of those siblings with its published version — the list is read from the module's own go.mod
// (fetched with `go mod download -json`), never hard-coded. Each build dir keeps go.mod, go.sum, tools.go,
// tidy.log, build.log (ends with `build-rc=N`) and time.log; `.complete` is written only once every binary
// exists and answers `--version`, so a half-finished build is redone. A lock file (<dir>.lock) keeps two test
// processes from building at once, and a `go` process already building in the dir (started by hand) is waited
// for, not duplicated: a 2-core machine can't afford two Kubernetes builds.
// `node e2e/clusters/kubernetes/provision.mjs` builds what's missing and prints the paths.
// ATRIUM_CACHE_DIR moves the cache; ATRIUM_KUBERNETES_VERSION / ATRIUM_ETCD_VERSION pick other versions;
// ATRIUM_K8S_BUILD_TIMEOUT_MIN bounds one build (default 120 minutes).
import { spawn, spawnSync } from "node:child_process";
import { createHash } from "node:crypto";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";

export const cacheDir = process.env.ATRIUM_CACHE_DIR ?? path.join(os.homedir(), ".cache", "atrium");
/** Kubernetes 1.37 is what Atrium's Kubernetes launcher is written against. */
export const kubernetesVersion = process.env.ATRIUM_KUBERNETES_VERSION ?? "v1.37.2";
/** The newest etcd 3.6 the Go proxy served when this was written (Kubernetes 1.37 supports etcd 3.6). */
export const etcdVersion = process.env.ATRIUM_ETCD_VERSION ?? "v3.6.16";

const buildTimeoutMs = Number(process.env.ATRIUM_K8S_BUILD_TIMEOUT_MIN ?? 120) * 60_000;

/**
 * @typedef {{ name: string, dir: string, module: string, version: string,
 *   siblingVersion: (modulePath: string) => string, isSibling: (target: string) => boolean,
 *   packages: Record<string, string>, versionPattern: RegExp, ldflags: string }} BuildSpec
 * packages: binary name → Go package path; versionPattern: what `<binary> --version` must print.
 */

/** @returns {BuildSpec} */
function kubernetesSpec(version = kubernetesVersion) {
  return {
    name: `Kubernetes ${version}`,
    dir: path.join(cacheDir, "kubernetes", `build-${version}`),
    module: "k8s.io/kubernetes",
    version,
    // Staging modules (k8s.io/api, client-go, ...) are published as v0.X.Y for Kubernetes v1.X.Y.
    siblingVersion: () => version.replace(/^v1\./, "v0."),
    isSibling: (target) => target.startsWith("./staging/"),
    packages: {
      "kube-apiserver": "k8s.io/kubernetes/cmd/kube-apiserver",
      "kube-controller-manager": "k8s.io/kubernetes/cmd/kube-controller-manager",
      "kube-scheduler": "k8s.io/kubernetes/cmd/kube-scheduler",
    },
    versionPattern: new RegExp(`Kubernetes ${version.replace(/\./g, "\\.")}\\b`),
    // Kubernetes' own build (hack/lib/version.sh) stamps the version in with -X; without it every binary and
    // the API server's /version say "v0.0.0-master+$Format:%H$".
    ldflags: `-s -w ${versionLdflags(version)}`,
  };
}

/** The -X flags Kubernetes' release build sets (client-go and component-base both carry the version). */
function versionLdflags(version) {
  const [, major = "", minor = ""] = /^v(\d+)\.(\d+)/.exec(version) ?? [];
  // gitCommit: the module zip has no commit; empty beats the unexpanded "$Format:%H$" placeholder.
  const values = { gitVersion: version, gitCommit: "", gitMajor: major, gitMinor: minor, gitTreeState: "clean", buildDate: "1970-01-01T00:00:00Z" };
  return ["k8s.io/client-go/pkg/version", "k8s.io/component-base/version"]
    .flatMap((pkg) => Object.entries(values).map(([k, v]) => `-X ${pkg}.${k}=${v}`))
    .join(" ");
}

/** @returns {BuildSpec} */
function etcdSpec(version = etcdVersion) {
  return {
    name: `etcd ${version}`,
    dir: path.join(cacheDir, "kubernetes", `etcd-${version}`),
    module: "go.etcd.io/etcd/server/v3",
    version,
    // api, client/pkg, client/v3, pkg are released together with the server, same version.
    siblingVersion: () => version,
    isSibling: (target) => target.startsWith("../"),
    // server/v3's main package is the etcd server binary.
    packages: { etcd: "go.etcd.io/etcd/server/v3" },
    versionPattern: new RegExp(`etcd Version: ${version.replace(/^v/, "").replace(/\./g, "\\.")}\\b`),
    ldflags: "-s -w", // etcd's version is a constant in go.etcd.io/etcd/api/v3/version
  };
}

/**
 * The control plane binaries, built when missing.
 * @param {{ log?: (line: string) => void }} [options]
 * @returns {Promise<{ kubernetesVersion: string, etcdVersion: string, kubeApiserver: string,
 *   kubeControllerManager: string, kubeScheduler: string, etcd: string }>}
 */
export async function ensureKubernetes(options = {}) {
  const log = options.log ?? ((line) => console.log(`[provision] ${line}`));
  // etcd first: it is small, and a cold run then shows a working etcd long before Kubernetes is done.
  const etcd = await ensureBuilt(etcdSpec(), log);
  const k8s = await ensureBuilt(kubernetesSpec(), log);
  return {
    kubernetesVersion,
    etcdVersion,
    kubeApiserver: k8s["kube-apiserver"],
    kubeControllerManager: k8s["kube-controller-manager"],
    kubeScheduler: k8s["kube-scheduler"],
    etcd: etcd.etcd,
  };
}

/** Just etcd (for a caller that wants only it, or to build it while Kubernetes builds elsewhere). */
export async function ensureEtcd(options = {}) {
  const log = options.log ?? ((line) => console.log(`[provision] ${line}`));
  return (await ensureBuilt(etcdSpec(), log)).etcd;
}

/**
 * @param {BuildSpec} spec
 * @param {(line: string) => void} log
 * @returns {Promise<Record<string, string>>} binary name → path
 */
async function ensureBuilt(spec, log) {
  const bin = path.join(spec.dir, "bin");
  const marker = path.join(spec.dir, ".complete");
  const paths = Object.fromEntries(Object.keys(spec.packages).map((b) => [b, path.join(bin, b)]));
  // The marker records what was built (module, version, packages, ldflags): change any and it is rebuilt.
  const key = createHash("sha256").update(JSON.stringify([spec.module, spec.version, spec.packages, spec.ldflags])).digest("hex").slice(0, 16);
  const markerKey = () => {
    try {
      return JSON.parse(fs.readFileSync(marker, "utf8")).key;
    } catch {
      return undefined;
    }
  };
  const complete = () => markerKey() === key && Object.values(paths).every((p) => fs.existsSync(p));
  if (complete()) return paths;

  fs.mkdirSync(path.dirname(spec.dir), { recursive: true });
  const release = await lock(`${spec.dir}.lock`, spec, log);
  try {
    if (complete()) return paths; // built by whoever held the lock
    // A build started by hand (or by a process that lost its lock file) in the same dir: wait for it.
    await waitForForeignBuild(spec, log);
    // Without any marker, binaries that exist and answer with the right version are adopted: that is how a
    // build started by hand in this layout is reused. A marker with another key means other flags: rebuild.
    if (markerKey() === undefined && Object.values(paths).every((p) => checkBinary(p, spec))) {
      writeMarker(marker, spec, key);
      log(`${spec.name}: found complete binaries in ${bin}`);
      return paths;
    }
    fs.rmSync(marker, { force: true });
    await build(spec, log);
    const bad = Object.values(paths).filter((p) => !checkBinary(p, spec));
    if (bad.length) throw new Error(`${spec.name}: the build finished but ${bad.join(", ")} missing or not answering --version with ${spec.version}; see ${path.join(spec.dir, "build.log")}`);
    writeMarker(marker, spec, key);
    return paths;
  } finally {
    release();
  }
}

function writeMarker(marker, spec, key) {
  fs.writeFileSync(marker, JSON.stringify({ key, module: spec.module, version: spec.version, ldflags: spec.ldflags, at: new Date().toISOString() }) + "\n");
}

/** True when `binary --version` runs and names the expected version. */
function checkBinary(binary, spec) {
  if (!fs.existsSync(binary)) return false;
  const r = spawnSync(binary, ["--version"], { encoding: "utf8", timeout: 60_000 });
  return r.status === 0 && spec.versionPattern.test(`${r.stdout}${r.stderr}`);
}

/**
 * Writes the wrapper module and runs `go mod tidy` and `go build` in spec.dir, logging to tidy.log / build.log
 * and the timings to time.log.
 * @param {BuildSpec} spec
 * @param {(line: string) => void} log
 */
async function build(spec, log) {
  const go = findGo();
  fs.mkdirSync(path.join(spec.dir, "bin"), { recursive: true });
  const env = { ...process.env, GOFLAGS: `${process.env.GOFLAGS ?? ""} -buildvcs=false`.trim() };

  // The module's own go.mod: its `go`/`godebug` lines (a dependency's godebug settings don't apply to the main
  // module, so they are copied) and the sibling modules it replaces with relative paths.
  const info = goJson(go, ["mod", "download", "-json", `${spec.module}@${spec.version}`], spec.dir, env);
  const theirs = fs.readFileSync(info.GoMod, "utf8");
  const siblings = replacedSiblings(theirs, spec);
  if (!siblings.length) throw new Error(`${spec.name}: found no sibling replace directives in ${info.GoMod}; has the module layout changed?`);
  const header = theirs.split("\n").filter((l) => /^(go|godebug)\s/.test(l));

  const goMod = [
    "// Generated by e2e/clusters/kubernetes/provision.mjs: a wrapper module that builds the binaries below.",
    "module atrium.local/kubebuild",
    "",
    ...header,
    "",
    `require ${spec.module} ${spec.version}`,
    "",
    "replace (",
    ...siblings.map((m) => `\t${m} => ${m} ${spec.siblingVersion(m)}`),
    ")",
    "",
  ].join("\n");
  fs.writeFileSync(path.join(spec.dir, "go.mod"), goMod);
  // Blank imports keep every package (and so its dependencies) in the module graph for `go mod tidy`; the
  // `tools` build tag keeps the file out of builds (it imports main packages).
  const imports = Object.values(spec.packages);
  fs.writeFileSync(path.join(spec.dir, "tools.go"), `//go:build tools\n\npackage kubebuild\n\nimport (\n${imports.map((p) => `\t_ "${p}"\n`).join("")})\n`);

  // Appended, not overwritten: the history of cold and warm builds stays in the cache dir.
  const timeLog = path.join(spec.dir, "time.log");
  fs.appendFileSync(timeLog, `# ${new Date().toISOString()} ${spec.module}@${spec.version}, ${os.cpus().length} cores\n`);
  log(`${spec.name}: go mod tidy in ${spec.dir} …`);
  let t = Date.now();
  // `-e`: test-only dependencies of the wrapped module may be unavailable; they aren't needed to build.
  await runLogged(go, ["mod", "tidy", "-e"], spec.dir, env, path.join(spec.dir, "tidy.log"), 30 * 60_000, spec.name);
  fs.appendFileSync(timeLog, `tidy ${((Date.now() - t) / 1000).toFixed(1)} s\n`);

  log(`${spec.name}: go build (cold on 2 cores: ~${spec.module === "k8s.io/kubernetes" ? "7 min" : "1 min"}; log: ${path.join(spec.dir, "build.log")}) …`);
  t = Date.now();
  const outputs = Object.entries(spec.packages);
  const buildLog = path.join(spec.dir, "build.log");
  fs.writeFileSync(buildLog, "");
  let rc = 0;
  try {
    // One `go build` for several main packages needs `-o dir/`; a single package gets an explicit name
    // (server/v3 would otherwise be named "server").
    const args = ["build", "-trimpath", "-ldflags", spec.ldflags];
    if (outputs.length === 1) args.push("-o", path.join("bin", outputs[0][0]), outputs[0][1]);
    else args.push("-o", "bin/", ...outputs.map(([, p]) => p));
    await runLogged(go, args, spec.dir, env, buildLog, buildTimeoutMs, spec.name);
  } catch (error) {
    rc = 1;
    throw error;
  } finally {
    fs.appendFileSync(buildLog, `build-rc=${rc}\n`);
    fs.appendFileSync(timeLog, `build ${((Date.now() - t) / 1000).toFixed(1)} s (rc ${rc})\n`);
  }
  log(`${spec.name}: built in ${((Date.now() - t) / 1000).toFixed(0)} s`);
}

/**
 * Module paths whose replace target is a sibling (relative) directory, from a go.mod's text: both the block
 * form `replace ( a => ./x )` and one-line `replace a => ./x`.
 * @param {string} goMod
 * @param {BuildSpec} spec
 */
export function replacedSiblings(goMod, spec) {
  const out = [];
  let inBlock = false;
  for (const raw of goMod.split("\n")) {
    const line = raw.replace(/\/\/.*$/, "").trim();
    if (/^replace\s*\($/.test(line)) inBlock = true;
    else if (inBlock && line === ")") inBlock = false;
    const body = inBlock ? line : /^replace\s+(.*)$/.exec(line)?.[1];
    const m = body && /^(\S+)(?:\s+\S+)?\s*=>\s*(\S+)\s*$/.exec(body);
    if (m && spec.isSibling(m[2])) out.push(m[1]);
  }
  return [...new Set(out)];
}

function findGo() {
  const go = process.env.ATRIUM_GO ?? "go";
  const r = spawnSync(go, ["version"], { encoding: "utf8" });
  if (r.status !== 0) throw new Error("Go is needed to build the Kubernetes test cluster (kube-apiserver, etcd): install Go 1.26 or newer (https://go.dev/dl) or set ATRIUM_GO.");
  return go;
}

function goJson(go, args, cwd, env) {
  fs.mkdirSync(cwd, { recursive: true });
  // Outside a module (GO111MODULE with no go.mod here yet is fine for `go mod download`).
  const r = spawnSync(go, args, { cwd: os.tmpdir(), env, encoding: "utf8", timeout: 10 * 60_000 });
  if (r.status !== 0) throw new Error(`go ${args.join(" ")} failed (exit ${r.status ?? r.signal}): ${(r.stderr || r.stdout || "").slice(-2000)}`);
  return JSON.parse(r.stdout);
}

/** Runs a command with its output appended to a log file, with a deadline; rejects with the log's tail. */
function runLogged(cmd, args, cwd, env, logFile, timeoutMs, what) {
  return new Promise((resolve, reject) => {
    const out = fs.openSync(logFile, "a");
    const child = spawn(cmd, args, { cwd, env, stdio: ["ignore", out, out] });
    fs.closeSync(out);
    const timer = setTimeout(() => {
      child.kill("SIGKILL");
      reject(new Error(`${what}: \`${cmd} ${args.join(" ")}\` did not finish within ${timeoutMs / 60_000} min (set ATRIUM_K8S_BUILD_TIMEOUT_MIN):\n${tail(logFile)}`));
    }, timeoutMs);
    child.on("error", (error) => {
      clearTimeout(timer);
      reject(new Error(`${what}: ${cmd}: ${error.message}`));
    });
    child.on("exit", (code, signal) => {
      clearTimeout(timer);
      if (code === 0) resolve(undefined);
      else reject(new Error(`${what}: \`${cmd} ${args.join(" ")}\` failed (exit ${code ?? signal}); ${logFile}:\n${tail(logFile)}`));
    });
  });
}

/**
 * An exclusive lock file holding our pid. A lock whose holder is dead is taken over; a live one is waited for
 * (bounded: the build timeout plus tidy).
 * @returns {Promise<() => void>} release
 */
async function lock(file, spec, log) {
  const deadline = Date.now() + buildTimeoutMs + 30 * 60_000;
  let said = false;
  for (;;) {
    try {
      fs.writeFileSync(file, `${process.pid}\n`, { flag: "wx" });
      return () => fs.rmSync(file, { force: true });
    } catch (error) {
      if (/** @type {NodeJS.ErrnoException} */ (error).code !== "EEXIST") throw error;
    }
    const holder = Number(fs.readFileSync(file, "utf8").trim() || 0);
    if (!holder || !alive(holder)) {
      fs.rmSync(file, { force: true }); // stale: its process is gone
      continue;
    }
    if (Date.now() > deadline) throw new Error(`${spec.name}: process ${holder} has held ${file} for too long; is its build stuck? (remove the file if it is)`);
    if (!said) log(`${spec.name}: process ${holder} is building it; waiting (lock ${file}) …`);
    said = true;
    await sleep(5000);
  }
}

/** Waits while a `go` process (e.g. a build started by hand) works in spec.dir. */
async function waitForForeignBuild(spec, log) {
  const deadline = Date.now() + buildTimeoutMs;
  let said = false;
  for (;;) {
    const pids = goProcessesIn(spec.dir);
    if (!pids.length) return;
    if (Date.now() > deadline) throw new Error(`${spec.name}: go process(es) ${pids.join(", ")} in ${spec.dir} still running after ${buildTimeoutMs / 60_000} min`);
    if (!said) log(`${spec.name}: a build is already running in ${spec.dir} (pid ${pids.join(", ")}); waiting for it (see build.log) …`);
    said = true;
    await sleep(10_000);
  }
}

function goProcessesIn(dir) {
  const out = [];
  for (const pid of fs.readdirSync("/proc").filter((d) => /^\d+$/.test(d))) {
    try {
      const argv0 = fs.readFileSync(`/proc/${pid}/cmdline`, "utf8").split("\0")[0] ?? "";
      if (path.basename(argv0) === "go" && fs.readlinkSync(`/proc/${pid}/cwd`) === dir) out.push(Number(pid));
    } catch {}
  }
  return out;
}

function alive(pid) {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return /** @type {NodeJS.ErrnoException} */ (error).code === "EPERM";
  }
}

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

function tail(file, lines = 30) {
  try {
    return fs.readFileSync(file, "utf8").split("\n").slice(-lines).join("\n");
  } catch {
    return "(no output)";
  }
}

if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const started = Date.now();
  const only = process.argv[2];
  try {
    const result = only === "etcd" ? { etcd: await ensureEtcd() } : await ensureKubernetes();
    console.log(JSON.stringify(result, null, 2));
    console.log(`[provision] done in ${((Date.now() - started) / 1000).toFixed(1)} s`);
  } catch (error) {
    console.error(`[provision] ${error.message}`);
    process.exit(1);
  }
}
