// The Kubernetes end-to-end suite's settings and helpers (e2e/kubernetes/playwright.k8s.config.ts):
// - where things are: the portal's port and data dir, the test cluster's instance (its own ports, bridge and pod
//   subnet, so it runs beside the integration tests' instances 5–7) and work dir, the JSON file with what the
//   spec needs to ask the API server (URL, CA, admin token);
// - the default export, used as BOTH globalSetup and globalTeardown (one file per hook, and the suite owns only
//   these three files): the first call starts the cluster (e2e/clusters/kubernetes), makes the kernel
//   namespaces with the shipped Role bound to the shipped ServiceAccount, and starts the portal (`atrium start`,
//   the production build) with Kubernetes kernels and PVC homes, as that ServiceAccount; the second call ends
//   the kernels, stops the portal and the cluster, and checks that nothing is left (processes, pod network
//   namespaces, the bridge);
// - what the spec needs: the CLI against this portal, signing in, API server requests as the cluster admin.
// Unlike the YARN suite, the portal is started here and not by Playwright's webServer: Playwright starts the
// webServer before globalSetup, and this portal needs the cluster first (its response listener binds on the
// pod network's host address, which exists once the cluster's bridge does; its credentials come from the
// cluster). A small watchdog process owns the portal, so a runner that dies (SIGKILL) cannot leave it behind:
// the cluster's harness does the same for the cluster.
import { execFileSync, spawn, spawnSync, type ChildProcess } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { instanceDefaults, startKubernetesCluster } from "../clusters/kubernetes/cluster.mjs";
import { kubeClient } from "../clusters/kubernetes/kube-client.mjs";
import { ensurePodKernelPython } from "../support/pod-python.mjs";

export const k8sPort = Number(process.env.ATRIUM_K8S_E2E_PORT ?? 3937);
/** The test cluster's instance: 5, 6 and 7 are the integration tests' (cluster, launcher, PVC store). */
export const clusterInstance = Number(process.env.ATRIUM_K8S_E2E_INSTANCE ?? 8);
export const artifactsDir = path.resolve(`e2e/.artifacts/k8s-${k8sPort}`);
export const k8sDataDir = path.join(artifactsDir, "data");
/** Outside the repo: the harness keeps pods' folders and the volumes' host folders under it. */
export const clusterWorkDir = path.join(os.tmpdir(), `atrium-k8s-e2e-${k8sPort}`);
export const clusterInfoFile = path.join(artifactsDir, "cluster-info.json");
const portalEnvFile = path.join(artifactsDir, "portal-env.json");
const portalLogFile = path.join(artifactsDir, "portal.log");
const kubeconfigFile = path.join(artifactsDir, "kubeconfig.json");
export const k8sAdmin = { email: "admin@k8s-e2e.test", password: "k8s-e2e-admin-password" };
export const isRoot = process.getuid?.() === 0;

/** Namespaces: the ServiceAccount's, and one per team (ATRIUM_K8S_NAMESPACE=atrium-{team}; no team: shared). */
export const ATRIUM_NAMESPACE = "atrium";
export const KERNEL_NAMESPACES = ["atrium-risk", "atrium-shared"];
/** The images the harness "has" (any other fails with ErrImagePull). */
const KERNEL_IMAGE = "atrium/kernel:dev";
const FILESERVER_IMAGE = "atrium/fileserver:dev";
/**
 * The node's CPUs: the built-in "medium" size (2 vCores) fits beside the user's file server (50m), "large"
 * (4 vCores) does not — a size the scheduler refuses with "Insufficient cpu", inside the user's quota (8 vCores).
 */
export const NODE_CPUS = 3;
/** The portal's launch deadline for kernel pods; failures must be reported far sooner. */
export const LAUNCH_TIMEOUT_SECONDS = 180;
const PORTAL_START_MS = 8 * 60_000; // includes a production build when the sources changed
const STEP_MS = 30_000;

export interface ClusterInfo {
  apiUrl: string;
  caPem: string;
  adminToken: string;
  hostAddress: string;
  nodeName: string;
  storageClass: string;
  workDir: string;
  portal: string;
  startMs: number;
}

type ClusterHandle = Awaited<ReturnType<typeof startKubernetesCluster>>;
const state = globalThis as typeof globalThis & {
  __atriumK8sE2e?: { cluster?: ClusterHandle; portal?: ChildProcess; netnsPrefix?: string; bridge?: string };
};

/** globalSetup (first call) and globalTeardown (second call, same runner process). */
export default async function setupOrTeardown(): Promise<void> {
  if (state.__atriumK8sE2e) return teardown();
  state.__atriumK8sE2e = {};
  if (!isRoot) {
    console.log("[k8s-e2e] not root: the test cluster's node runs pods as users' uids in network namespaces; the suite is skipped");
    return;
  }
  const started = Date.now();
  // A fresh portal every run (Playwright has emptied test-results already). Local kernels a killed run left
  // behind (its teardown never ran; the watchdogs ended its portal and cluster) are ended first.
  for (const pid of pidsWithArgument(path.join(k8sDataDir, "runtime"))) killGroup(pid);
  for (const stale of [k8sDataDir, clusterInfoFile, portalEnvFile, portalLogFile, kubeconfigFile]) fs.rmSync(stale, { recursive: true, force: true });
  fs.mkdirSync(artifactsDir, { recursive: true });
  const podPython = ensurePodKernelPython() as string; // cached: < 1 s
  const expected = instanceDefaults(clusterInstance);
  const cluster = await startKubernetesCluster({
    workDir: clusterWorkDir,
    instance: clusterInstance,
    capacity: { cpu: String(NODE_CPUS) },
    timeoutMs: 300_000,
    log: (line: string) => console.log(`[k8s-e2e] ${line}`),
  });
  state.__atriumK8sE2e = { cluster, bridge: expected.bridge, netnsPrefix: `${expected.bridge}-` };
  console.log(`[k8s-e2e] cluster up in ${seconds(cluster.startMs)}: API ${cluster.apiUrl}, node ${cluster.nodeName} (${NODE_CPUS} CPUs), pods reach this host at ${cluster.hostAddress}`);

  // The portal's own identity, as in production: the shipped ServiceAccount, with the shipped Role in each kernel
  // namespace; its token from the TokenRequest API, in a kubeconfig.
  for (const namespace of [ATRIUM_NAMESPACE, ...KERNEL_NAMESPACES]) await createNamespace(cluster, namespace);
  const account = await applyShippedRbac(cluster);
  const token = await serviceAccountToken(cluster, account);
  fs.writeFileSync(kubeconfigFile, JSON.stringify(kubeconfig(cluster.apiUrl, cluster.caPem, token), null, 2), { mode: 0o600 });

  const env = portalEnv(cluster.hostAddress, cluster.storageClass, podPython);
  fs.writeFileSync(portalEnvFile, JSON.stringify(env, null, 2), { mode: 0o600 });
  const info: ClusterInfo = {
    apiUrl: cluster.apiUrl,
    caPem: cluster.caPem,
    adminToken: cluster.adminToken,
    hostAddress: cluster.hostAddress,
    nodeName: cluster.nodeName,
    storageClass: cluster.storageClass,
    workDir: cluster.workDir,
    portal: `http://localhost:${k8sPort}`,
    startMs: cluster.startMs,
  };
  fs.writeFileSync(clusterInfoFile, JSON.stringify(info, null, 2), { mode: 0o600 });

  const portalStarted = Date.now();
  state.__atriumK8sE2e.portal = await startPortal(env);
  console.log(`[k8s-e2e] portal up at http://localhost:${k8sPort} in ${seconds(Date.now() - portalStarted)} (as ServiceAccount ${ATRIUM_NAMESPACE}/${account}); setup ${seconds(Date.now() - started)}`);
}

/** The portal's environment: Kubernetes kernels and PVC homes on the test cluster (README's table). */
function portalEnv(hostAddress: string, storageClass: string, podPython: string): Record<string, string> {
  return {
    PORT: String(k8sPort),
    ATRIUM_DATA_DIR: k8sDataDir,
    ATRIUM_ADMIN_EMAIL: k8sAdmin.email,
    ATRIUM_ADMIN_PASSWORD: k8sAdmin.password,
    NEXT_TELEMETRY_DISABLED: "1",
    ...(process.env.ATRIUM_PYTHON ? { ATRIUM_PYTHON: process.env.ATRIUM_PYTHON } : {}),
    // Pods call back (the launch protocol) on the pod network's host side.
    ATRIUM_LAUNCH_RESPONSE_HOST: hostAddress,
    ATRIUM_K8S_KUBECONFIG: kubeconfigFile,
    ATRIUM_K8S_NAMESPACE: "atrium-{team}",
    ATRIUM_K8S_KERNEL_IMAGE: KERNEL_IMAGE,
    // The node runs the "image" with this host's files: a Python and launcher any uid can read.
    ATRIUM_K8S_KERNEL_PYTHON: podPython,
    ATRIUM_K8S_LAUNCHER_SCRIPT: path.resolve("kernel-launchers/python/launch_kernel.py"),
    ATRIUM_K8S_HOME_MOUNT: "/home/atrium",
    ATRIUM_K8S_STORAGE_CLASS: storageClass,
    ATRIUM_K8S_HOME_SIZE: "1Gi",
    ATRIUM_K8S_FILESERVER_IMAGE: FILESERVER_IMAGE,
    ATRIUM_K8S_FILESERVER_PYTHON: podPython,
    ATRIUM_K8S_FILESERVER_SCRIPT: path.resolve("kernel-launchers/kubernetes/fileserver.py"),
    ATRIUM_K8S_LAUNCH_TIMEOUT_SECONDS: String(LAUNCH_TIMEOUT_SECONDS),
    ATRIUM_HOME_STORE: "pvc",
  };
}

/**
 * `atrium start` under a watchdog: a node process that owns the portal and ends it (SIGTERM, then SIGKILL)
 * when its stdin — a pipe from this runner — closes, whether teardown closes it or the runner died.
 * A concurrent `next build` in this checkout (another engineer's) fails ours: wait and try again.
 */
async function startPortal(env: Record<string, string>): Promise<ChildProcess> {
  const deadline = Date.now() + PORTAL_START_MS;
  for (let attempt = 1; ; attempt++) {
    const log = fs.openSync(portalLogFile, "a");
    const from = fs.fstatSync(log).size;
    const watchdog = spawn(process.execPath, ["-e", WATCHDOG, process.execPath, path.resolve("server/cli/atrium.mjs")], {
      cwd: process.cwd(),
      env: { ...process.env, ...env },
      stdio: ["pipe", log, log],
    });
    fs.closeSync(log);
    const exited = new Promise<void>((resolve) => watchdog.once("exit", () => resolve()));
    let gone = false;
    void exited.then(() => (gone = true));
    for (;;) {
      const output = readFrom(portalLogFile, from);
      if (output.includes("Atrium is running at") && (await signInPageAnswers())) return watchdog;
      if (gone) {
        if (/Another next build process is already running/.test(output) && Date.now() + 60_000 < deadline) {
          console.log(`[k8s-e2e] another next build is running in this checkout; trying again in 20 s (attempt ${attempt})`);
          await sleep(20_000);
          break;
        }
        throw new Error(`the portal exited before it served (log ${portalLogFile}):\n${tailOf(output, 60)}`);
      }
      if (Date.now() > deadline) {
        await stopPortal(watchdog);
        throw new Error(`the portal did not serve within ${PORTAL_START_MS / 1000} s (log ${portalLogFile}):\n${tailOf(output, 60)}`);
      }
      await sleep(500);
    }
  }
}

// The watchdog: argv = [node, atrium.mjs]; the portal gets its own process group (its build and children too).
const WATCHDOG = `
const { spawn } = require("node:child_process");
const [node, cli] = process.argv.slice(1);
const portal = spawn(node, [cli, "start"], { stdio: ["ignore", "inherit", "inherit"], detached: true });
let ending = false;
const end = () => {
  if (ending) return;
  ending = true;
  const signal = (s) => { try { process.kill(-portal.pid, s); } catch {} };
  signal("SIGTERM");
  setTimeout(() => signal("SIGKILL"), 20000).unref();
};
process.stdin.on("end", end);
process.stdin.on("error", end);
process.stdin.resume();
process.on("SIGTERM", end);
process.on("SIGINT", end);
portal.on("exit", (code, sig) => {
  try { process.kill(-portal.pid, "SIGKILL"); } catch {}
  process.exit(code ?? (sig ? 1 : 0));
});
`;

async function signInPageAnswers(): Promise<boolean> {
  try {
    const res = await fetch(`http://localhost:${k8sPort}/signin`, { signal: AbortSignal.timeout(10_000) });
    return res.ok;
  } catch {
    return false;
  }
}

/** Closes the watchdog's stdin (it stops the portal: SIGTERM, SIGKILL after 20 s) and waits, bounded. */
async function stopPortal(watchdog: ChildProcess): Promise<void> {
  if (watchdog.exitCode !== null || watchdog.signalCode !== null) return;
  const exited = new Promise((resolve) => watchdog.once("exit", resolve));
  watchdog.stdin?.end();
  const timer = setTimeout(() => watchdog.kill("SIGKILL"), 30_000);
  await exited;
  clearTimeout(timer);
}

async function teardown(): Promise<void> {
  const { cluster, portal, bridge, netnsPrefix } = state.__atriumK8sE2e ?? {};
  state.__atriumK8sE2e = undefined;
  if (!cluster && !portal) return;
  const started = Date.now();
  if (portal) {
    // Kernels outlive a portal by design (a restarted one reattaches them): end them first, as the admin.
    await endAllKernels().catch((error: Error) => console.log(`[k8s-e2e] could not end the kernels through the API: ${error.message}`));
    await stopPortal(portal);
    // Local kernels (the notebook's first kernel) this portal started and the API could not end.
    for (const pid of pidsWithArgument(path.join(k8sDataDir, "runtime"))) killGroup(pid);
  }
  if (cluster) await cluster.stop(); // kills every pod's processes, deletes their network namespaces and the bridge
  console.log(`[k8s-e2e] portal and cluster stopped in ${seconds(Date.now() - started)}`);

  // Nothing left: no process of the cluster or the portal, no pod network namespace, no bridge.
  const left: string[] = [];
  const processes = [...pidsWithArgument(clusterWorkDir), ...pidsWithArgument(k8sDataDir)];
  if (processes.length) left.push(`processes ${processes.join(", ")}`);
  const netns = (spawnSync("ip", ["netns", "list"], { encoding: "utf8" }).stdout ?? "").split("\n").map((l) => l.split(" ")[0] ?? "");
  const ours = netnsPrefix ? netns.filter((n) => n.startsWith(netnsPrefix)) : [];
  if (ours.length) left.push(`network namespaces ${ours.join(", ")}`);
  if (bridge && spawnSync("ip", ["link", "show", bridge], { stdio: "ignore" }).status === 0) left.push(`bridge ${bridge}`);
  if (left.length) throw new Error(`[k8s-e2e] left behind after teardown: ${left.join("; ")}`);
  console.log(`[k8s-e2e] nothing left: no processes under ${clusterWorkDir} or ${k8sDataDir}, no ${netnsPrefix}* network namespace, no bridge ${bridge}`);
  if (!process.env.ATRIUM_KEEP_K8S_WORK) fs.rmSync(clusterWorkDir, { recursive: true, force: true });
  else console.log(`[k8s-e2e] kept ${clusterWorkDir}`);
}

/** Every live kernel, ended through the Jupyter API with an admin's token (admins see all kernels). */
async function endAllKernels(): Promise<void> {
  const token = atriumCli(["tokens", "create", "--user", k8sAdmin.email, "--name", "k8s-e2e-teardown"]).trim();
  const headers = { authorization: `token ${token}` };
  const base = `http://localhost:${k8sPort}`;
  const listed = await fetch(`${base}/api/kernels`, { headers, signal: AbortSignal.timeout(STEP_MS) });
  if (!listed.ok) throw new Error(`GET /api/kernels: ${listed.status}`);
  const kernels = (await listed.json()) as { id: string; name: string }[];
  for (const k of kernels) await fetch(`${base}/api/kernels/${k.id}`, { method: "DELETE", headers, signal: AbortSignal.timeout(STEP_MS) });
  if (kernels.length) console.log(`[k8s-e2e] ended ${kernels.length} kernel(s) left running: ${kernels.map((k) => `${k.name} ${k.id.slice(0, 8)}`).join(", ")}`);
}

/** Pids whose command line has an argument under `dir` (this suite's own processes, found by their paths). */
function pidsWithArgument(dir: string): number[] {
  const found: number[] = [];
  for (const entry of fs.readdirSync("/proc")) {
    if (!/^\d+$/.test(entry) || Number(entry) === process.pid) continue;
    try {
      const args = fs.readFileSync(`/proc/${entry}/cmdline`, "utf8").split("\0");
      if (args.some((a) => a === dir || a.startsWith(`${dir}/`))) found.push(Number(entry));
    } catch {
      // gone meanwhile
    }
  }
  return found;
}

function killGroup(pid: number): void {
  for (const target of [-pid, pid]) {
    try {
      process.kill(target, "SIGKILL");
      return;
    } catch {
      // not a group leader, or gone
    }
  }
}

// --- Kubernetes objects for the portal's identity ---

async function createNamespace(cluster: ClusterHandle, name: string): Promise<void> {
  const r = await cluster.api.request("POST", "/api/v1/namespaces", { apiVersion: "v1", kind: "Namespace", metadata: { name } });
  if (r.status !== 201 && r.status !== 409) throw new Error(`namespace ${name}: ${r.status} ${r.text}`);
  // Pods are refused in a namespace until the controller made its default ServiceAccount.
  await until(`the default ServiceAccount of ${name}`, async () => (await cluster.api.request("GET", `/api/v1/namespaces/${name}/serviceaccounts/default`)).status === 200, STEP_MS);
}

const PLURAL: Record<string, string> = { ServiceAccount: "serviceaccounts", Role: "roles", RoleBinding: "rolebindings" };

/** The deploy folder's ServiceAccount (in `atrium`) and its Role and RoleBinding in every kernel namespace. */
async function applyShippedRbac(cluster: ClusterHandle): Promise<string> {
  const { loadAllYaml } = await import("@kubernetes/client-node");
  const load = (file: string) => (loadAllYaml(fs.readFileSync(path.resolve("kernel-launchers/kubernetes/deploy", file), "utf8")) as Record<string, any>[]).filter(Boolean)[0]!;
  const account = load("serviceaccount.yaml");
  account.metadata.namespace = ATRIUM_NAMESPACE;
  const objects = [account];
  for (const namespace of KERNEL_NAMESPACES) {
    const role = load("role.yaml");
    const binding = load("rolebinding.yaml");
    role.metadata.namespace = binding.metadata.namespace = namespace;
    for (const subject of binding.subjects) subject.namespace = ATRIUM_NAMESPACE;
    objects.push(role, binding);
  }
  for (const object of objects) {
    const group = object.apiVersion === "v1" ? "/api/v1" : `/apis/${object.apiVersion}`;
    const r = await cluster.api.request("POST", `${group}/namespaces/${object.metadata.namespace}/${PLURAL[object.kind]}`, object);
    if (r.status !== 201 && r.status !== 409) throw new Error(`${object.kind} ${object.metadata.namespace}/${object.metadata.name}: ${r.status} ${r.text}`);
  }
  return account.metadata.name as string;
}

async function serviceAccountToken(cluster: ClusterHandle, account: string): Promise<string> {
  const r = await cluster.api.request("POST", `/api/v1/namespaces/${ATRIUM_NAMESPACE}/serviceaccounts/${account}/token`, {
    apiVersion: "authentication.k8s.io/v1",
    kind: "TokenRequest",
    spec: { expirationSeconds: 6 * 3600 },
  });
  if (r.status !== 201) throw new Error(`TokenRequest for ${account}: ${r.status} ${r.text}`);
  return r.json.status.token as string;
}

function kubeconfig(server: string, caPem: string, token: string) {
  return {
    apiVersion: "v1",
    kind: "Config",
    clusters: [{ name: "k8s-e2e", cluster: { server, "certificate-authority-data": Buffer.from(caPem).toString("base64") } }],
    users: [{ name: "atrium", user: { token } }],
    contexts: [{ name: "atrium", context: { cluster: "k8s-e2e", user: "atrium", namespace: ATRIUM_NAMESPACE } }],
    "current-context": "atrium",
  };
}

// --- for the spec ---

export function readClusterInfo(): ClusterInfo {
  return JSON.parse(fs.readFileSync(clusterInfoFile, "utf8"));
}

/** The API server as the cluster admin (the portal itself runs as its ServiceAccount). */
export function adminApi(info = readClusterInfo()) {
  return kubeClient({ url: info.apiUrl, ca: info.caPem, token: info.adminToken, userAgent: "atrium-k8s-e2e" });
}

/** `npx atrium …` against this suite's portal (same data dir and configuration). */
export function atriumCli(args: string[], stdin = ""): string {
  const { PORT: _port, ...env } = JSON.parse(fs.readFileSync(portalEnvFile, "utf8")) as Record<string, string>;
  return execFileSync(process.execPath, ["server/cli/atrium.mjs", ...args], {
    env: { ...process.env, ...env },
    input: stdin,
    encoding: "utf8",
    timeout: 60_000,
  });
}

/** Waits for `check` to give a truthy value, polling every `everyMs`, failing after `ms` with `what`. */
export async function until<T>(what: string, check: () => Promise<T | undefined | false | null>, ms: number, everyMs = 200): Promise<T> {
  const end = Date.now() + ms;
  for (;;) {
    const value = await check();
    if (value) return value;
    if (Date.now() > end) throw new Error(`timed out after ${ms} ms waiting for ${what}`);
    await sleep(everyMs);
  }
}

export const seconds = (ms: number) => `${(ms / 1000).toFixed(1)} s`;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const tailOf = (text: string, lines: number) => text.split("\n").slice(-lines).join("\n");

function readFrom(file: string, offset: number): string {
  try {
    const fd = fs.openSync(file, "r");
    try {
      const size = fs.fstatSync(fd).size;
      const buffer = Buffer.alloc(Math.max(0, size - offset));
      fs.readSync(fd, buffer, 0, buffer.length, offset);
      return buffer.toString("utf8");
    } finally {
      fs.closeSync(fd);
    }
  } catch {
    return "";
  }
}
