#!/usr/bin/env node
// Starts and stops a real Kubernetes control plane for tests — etcd, kube-apiserver, kube-controller-manager,
// kube-scheduler (v1.37 binaries built and cached by provision.mjs) — plus node-harness.mjs as its one node.
// Library:
//   const k = await startKubernetesCluster({ workDir });  // → { apiUrl, caFile, adminToken, kubeconfigPath, ... }
//   await k.stop();
// CLI (demos):
//   node e2e/clusters/kubernetes/cluster.mjs start [--work-dir DIR] [--instance N] [--foreground]
//   node e2e/clusters/kubernetes/cluster.mjs status|stop [--work-dir DIR]
// Needs root: pods get network namespaces on a bridge, private mount namespaces with bind mounts, and run as
// their runAsUser. Every control plane server listens on 127.0.0.1; the node's port (container logs) on the
// bridge's host address. In library mode the harness ends everything when its parent's pipe closes, so a crashed
// test leaves no cluster behind.
import { spawn, spawnSync } from "node:child_process";
import { randomBytes } from "node:crypto";
import fs from "node:fs";
import https from "node:https";
import net from "node:net";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { kubeClient } from "./kube-client.mjs";
import { ensureKubernetes, kubernetesVersion } from "./provision.mjs";

const here = path.dirname(fileURLToPath(import.meta.url));

/** Default ports: below 32768, where Linux picks ephemeral ports, so no outgoing connection can hold one. */
export const defaultPorts = {
  etcdClient: 12379,
  etcdPeer: 12380,
  apiServer: 16443, // https://127.0.0.1:16443
  controllerManager: 20257, // its /healthz (HTTPS)
  scheduler: 20259, // its /healthz (HTTPS)
  kubelet: 20250, // the node harness, on the host address: pods/log goes there
};

/** Images the node has by default (nothing is pulled; any other image fails with ErrImagePull). */
export const defaultImages = { "atrium/kernel:dev": {}, "atrium/fileserver:dev": {} };
export const defaultCapacity = { cpu: "8", memory: "16Gi", pods: "110", "ephemeral-storage": "100Gi" };

/**
 * Defaults for the Nth cluster on this machine: ports shifted by 10·N, bridge atrium-brN, pod subnet
 * 10.(244+N).0.0/16, so two clusters can run side by side.
 * @param {number} instance 0..9
 */
export function instanceDefaults(instance = 0) {
  if (!Number.isInteger(instance) || instance < 0 || instance > 9) throw new Error(`instance must be 0..9, got ${instance}`);
  const ports = /** @type {typeof defaultPorts} */ (Object.fromEntries(Object.entries(defaultPorts).map(([k, v]) => [k, v + 10 * instance])));
  return { ports, bridge: `atrium-br${instance}`, podSubnet: `10.${244 + instance}.0.0/16` };
}

/**
 * @typedef {{ env?: Record<string, string>, workingDir?: string, command?: string[], args?: string[], user?: number }} ImageConfig
 * @typedef {{ workDir: string, apiUrl: string, caFile: string, kubeconfigPath: string, nodeName: string,
 *   hostAddress: string, podSubnet: string, serviceSubnet: string, bridge: string, storageClass: string,
 *   ports: typeof defaultPorts, pids: Record<string, number>, logs: Record<string, string>,
 *   kubernetesVersion: string, etcdVersion: string }} ClusterInfo
 * @typedef {ClusterInfo & { caPem: string, adminToken: string, startMs: number, env: Record<string, string>,
 *   info: ClusterInfo, api: import("./kube-client.mjs").KubeClient, stop: () => Promise<void> }} KubernetesCluster
 */

/**
 * Starts the cluster and resolves when the API server is healthy and the node is Ready and schedulable (or
 * rejects with the reason and the tail of the relevant log, after cleaning up).
 * @param {{ workDir: string, instance?: number, ports?: Partial<typeof defaultPorts>, podSubnet?: string,
 *   serviceSubnet?: string, bridge?: string, nodeName?: string, images?: Record<string, ImageConfig> | string[],
 *   capacity?: Record<string, string>, storageClass?: string, timeoutMs?: number, detached?: boolean,
 *   log?: (line: string) => void }} options
 * @returns {Promise<KubernetesCluster>}
 */
export async function startKubernetesCluster(options) {
  const started = Date.now();
  const { workDir: rawWorkDir, timeoutMs = 180_000, detached = false } = options;
  if (!rawWorkDir) throw new Error("startKubernetesCluster: workDir is required");
  const workDir = path.resolve(rawWorkDir);
  const log = options.log ?? (() => {});
  const inst = instanceDefaults(options.instance ?? 0);
  const ports = { ...inst.ports, ...(options.ports ?? {}) };
  const bridge = options.bridge ?? inst.bridge;
  const podSubnet = options.podSubnet ?? inst.podSubnet;
  const serviceSubnet = options.serviceSubnet ?? "10.96.0.0/16";
  const nodeName = options.nodeName ?? "atrium-node";
  const storageClass = options.storageClass ?? "atrium-local";
  const images = Array.isArray(options.images) ? Object.fromEntries(options.images.map((i) => [i, {}])) : (options.images ?? defaultImages);
  const hostAddress = hostAddressOf(podSubnet);
  const serviceIp = hostAddressOf(serviceSubnet); // the `kubernetes` Service's cluster IP: first of the range

  checkPrerequisites(bridge);
  const binaries = await ensureKubernetes({ log: (line) => log(`[provision] ${line}`) });
  for (const [name, port] of Object.entries(ports)) {
    if (name === "kubelet") continue; // on the host address, checked once the bridge exists
    if (!(await portFree(port, "127.0.0.1"))) {
      throw new Error(`Port ${port} (${name}) on 127.0.0.1 is in use: another cluster? (\`node e2e/clusters/kubernetes/cluster.mjs stop --work-dir …\`) or pass another instance/ports.`);
    }
  }
  reclaimStaleBridge(bridge);

  // A fresh cluster every start: nothing of a previous run's state (etcd, pods, volumes) is reused.
  for (const d of ["etcd", "pki", "kubeconfigs", "logs", "pods", "volumes"]) fs.rmSync(path.join(workDir, d), { recursive: true, force: true });
  for (const f of ["cluster.json", "pids.json", "env.sh", "harness.json"]) fs.rmSync(path.join(workDir, f), { force: true });
  const dirs = { pki: path.join(workDir, "pki"), kc: path.join(workDir, "kubeconfigs"), logs: path.join(workDir, "logs") };
  for (const d of Object.values(dirs)) fs.mkdirSync(d, { recursive: true, mode: 0o700 });

  // Identities: TLS from our own CA; static bearer tokens (--token-auth-file) for the users.
  const pki = generatePki(dirs.pki, { hostAddress, serviceIp, nodeName });
  const tokens = {
    admin: randomBytes(24).toString("hex"),
    controllerManager: randomBytes(24).toString("hex"),
    scheduler: randomBytes(24).toString("hex"),
    node: randomBytes(24).toString("hex"),
    provisioner: randomBytes(24).toString("hex"),
  };
  const tokenFile = path.join(dirs.pki, "tokens.csv");
  fs.writeFileSync(
    tokenFile,
    [
      `${tokens.admin},atrium-admin,atrium-admin,"system:masters"`,
      `${tokens.controllerManager},system:kube-controller-manager,system:kube-controller-manager`,
      `${tokens.scheduler},system:kube-scheduler,system:kube-scheduler`,
      // The node's identity: the Node authorizer and NodeRestriction limit it to its own node and pods.
      `${tokens.node},system:node:${nodeName},system:node:${nodeName},"system:nodes"`,
      `${tokens.provisioner},atrium-local-provisioner,atrium-local-provisioner,"system:masters"`,
    ].join("\n") + "\n",
    { mode: 0o600 },
  );
  const apiUrl = `https://127.0.0.1:${ports.apiServer}`;
  const caPem = fs.readFileSync(pki.ca, "utf8");
  const kubeconfigPath = path.join(workDir, "kubeconfig");
  fs.writeFileSync(kubeconfigPath, kubeconfig(apiUrl, caPem, "atrium-admin", tokens.admin), { mode: 0o600 });
  const cmKubeconfig = path.join(dirs.kc, "controller-manager.kubeconfig");
  const schedKubeconfig = path.join(dirs.kc, "scheduler.kubeconfig");
  fs.writeFileSync(cmKubeconfig, kubeconfig(apiUrl, caPem, "system:kube-controller-manager", tokens.controllerManager), { mode: 0o600 });
  fs.writeFileSync(schedKubeconfig, kubeconfig(apiUrl, caPem, "system:kube-scheduler", tokens.scheduler), { mode: 0o600 });

  /** @type {Record<string, number>} */
  const pids = {};
  const pidsFile = path.join(workDir, "pids.json");
  const writePids = () => fs.writeFileSync(pidsFile, JSON.stringify(pids, null, 2) + "\n");
  /** @type {Record<string, string>} */
  const logs = {};
  /** @type {Map<string, { child: import("node:child_process").ChildProcess, exited: Promise<void>, exit: string | null }>} */
  const procs = new Map();

  /** Spawns a component with its output in logs/<name>.log; library mode keeps it attached to us. */
  const startProcess = (name, cmd, args, extra = {}) => {
    const logFile = path.join(dirs.logs, `${name}.log`);
    logs[name] = logFile;
    const out = fs.openSync(logFile, "a");
    const child = spawn(cmd, args, { cwd: workDir, detached, stdio: [extra.stdinPipe && !detached ? "pipe" : "ignore", out, out], env: { ...process.env, ...(extra.env ?? {}) } });
    fs.closeSync(out);
    if (!child.pid) throw new Error(`could not start ${name} (${cmd})`);
    const rec = { child, exit: /** @type {string | null} */ (null), exited: /** @type {Promise<void>} */ (Promise.resolve()) };
    rec.exited = new Promise((resolve) =>
      child.on("exit", (code, signal) => {
        rec.exit = `exit ${code ?? signal}`;
        resolve(undefined);
      }),
    );
    child.on("error", () => {});
    if (detached) child.unref();
    procs.set(name, rec);
    pids[name] = child.pid;
    writePids();
    return rec;
  };

  let stopped = false;
  const stop = async () => {
    if (stopped) return;
    stopped = true;
    await stopCluster({ workDir, bridge, netnsPrefix: `${bridge}-`, pids, procs });
  };

  try {
    createBridge(bridge, hostAddress, podSubnet, workDir);
    if (!(await portFree(ports.kubelet, hostAddress))) throw new Error(`Port ${ports.kubelet} (kubelet) on ${hostAddress} is in use`);

    // The node harness first: in library mode it is also the watchdog that ends everything if we die.
    const harnessConfig = path.join(workDir, "harness.json");
    fs.writeFileSync(
      harnessConfig,
      JSON.stringify(
        {
          workDir,
          apiUrl,
          caFile: pki.ca,
          nodeToken: tokens.node,
          provisionerToken: tokens.provisioner,
          nodeName,
          hostAddress,
          podSubnet,
          bridge,
          netnsPrefix: `${bridge}-`,
          kubeletPort: ports.kubelet,
          kubeletCertFile: pki.kubeletCert,
          kubeletKeyFile: pki.kubeletKey,
          images,
          capacity: { ...defaultCapacity, ...(options.capacity ?? {}) },
          storageClass,
          provisioner: "atrium.dev/local-folder",
          pidsFile,
          kubernetesVersion: binaries.kubernetesVersion,
          exitOnStdinEof: !detached,
        },
        null,
        2,
      ),
      { mode: 0o600 },
    );
    startProcess("node-harness", process.execPath, [path.join(here, "node-harness.mjs"), harnessConfig], { stdinPipe: true });

    const deadline = started + timeoutMs;
    const etcdDir = path.join(workDir, "etcd");
    startProcess("etcd", binaries.etcd, [
      "--name=atrium",
      `--data-dir=${etcdDir}`,
      `--listen-client-urls=http://127.0.0.1:${ports.etcdClient}`,
      `--advertise-client-urls=http://127.0.0.1:${ports.etcdClient}`,
      `--listen-peer-urls=http://127.0.0.1:${ports.etcdPeer}`,
      `--initial-advertise-peer-urls=http://127.0.0.1:${ports.etcdPeer}`,
      `--initial-cluster=atrium=http://127.0.0.1:${ports.etcdPeer}`,
      "--initial-cluster-state=new",
      "--unsafe-no-fsync", // a throwaway test store: no fsync, much faster on slow disks
      "--log-level=warn",
    ]);
    await waitFor("etcd to be healthy", deadline, procs, "etcd", logs.etcd, async () => {
      const r = await fetch(`http://127.0.0.1:${ports.etcdClient}/health`, { signal: AbortSignal.timeout(2000) });
      return r.ok && (await r.json()).health === "true";
    });
    log(`etcd healthy after ${seconds(Date.now() - started)}`);

    startProcess("kube-apiserver", binaries.kubeApiserver, [
      `--etcd-servers=http://127.0.0.1:${ports.etcdClient}`,
      "--bind-address=127.0.0.1",
      `--secure-port=${ports.apiServer}`,
      // Advertised in the `kubernetes` Endpoints: must not be loopback (validation), so the bridge's host side.
      `--advertise-address=${hostAddress}`,
      `--cert-dir=${dirs.pki}`,
      `--tls-cert-file=${pki.apiserverCert}`,
      `--tls-private-key-file=${pki.apiserverKey}`,
      `--client-ca-file=${pki.ca}`,
      `--token-auth-file=${tokenFile}`,
      // Service account tokens, and the TokenRequest API (needs issuer + signing key).
      "--service-account-issuer=https://kubernetes.default.svc.cluster.local",
      `--service-account-key-file=${pki.saPub}`,
      `--service-account-signing-key-file=${pki.saKey}`,
      `--service-cluster-ip-range=${serviceSubnet}`,
      "--authorization-mode=Node,RBAC",
      "--enable-admission-plugins=NodeRestriction",
      // pods/log: the API server calls the node's port, authenticating with this client cert.
      `--kubelet-client-certificate=${pki.kubeletClientCert}`,
      `--kubelet-client-key=${pki.kubeletClientKey}`,
      `--kubelet-certificate-authority=${pki.ca}`,
      "--kubelet-preferred-address-types=InternalIP",
      "--profiling=false",
    ]);
    const admin = kubeClient({ url: apiUrl, ca: caPem, token: tokens.admin });
    await waitFor("kube-apiserver to be ready (/readyz)", deadline, procs, "kube-apiserver", logs["kube-apiserver"], async () => {
      const r = await admin.request("GET", "/readyz", undefined, { timeoutMs: 5000 });
      return r.status === 200;
    });
    log(`kube-apiserver ready after ${seconds(Date.now() - started)}`);

    // The storage class the harness provisions for (Immediate binding: the PVC is bound before the pod schedules).
    const sc = await admin.request("POST", "/apis/storage.k8s.io/v1/storageclasses", {
      apiVersion: "storage.k8s.io/v1",
      kind: "StorageClass",
      metadata: { name: storageClass, annotations: { "storageclass.kubernetes.io/is-default-class": "true" } },
      provisioner: "atrium.dev/local-folder",
      reclaimPolicy: "Delete",
      volumeBindingMode: "Immediate",
    });
    if (sc.status >= 300 && sc.status !== 409) throw new Error(`creating StorageClass ${storageClass}: HTTP ${sc.status} ${sc.json?.message ?? sc.text}`);

    startProcess("kube-controller-manager", binaries.kubeControllerManager, [
      `--kubeconfig=${cmKubeconfig}`,
      "--bind-address=127.0.0.1",
      `--secure-port=${ports.controllerManager}`,
      "--leader-elect=false",
      "--controllers=*", // incl. serviceaccount, namespace, garbagecollector, persistentvolume-binder, nodelifecycle
      "--use-service-account-credentials=true",
      `--service-account-private-key-file=${pki.saKey}`,
      `--root-ca-file=${pki.ca}`, // published as the kube-root-ca.crt ConfigMap in every namespace
      `--cluster-signing-cert-file=${pki.ca}`,
      `--cluster-signing-key-file=${pki.caKey}`,
      "--cluster-name=atrium",
      "--profiling=false",
    ]);
    startProcess("kube-scheduler", binaries.kubeScheduler, [`--kubeconfig=${schedKubeconfig}`, "--bind-address=127.0.0.1", `--secure-port=${ports.scheduler}`, "--leader-elect=false", "--profiling=false"]);

    const healthz = (port) => async () => (await insecureGet(`https://127.0.0.1:${port}/healthz`)) === 200;
    await waitFor("kube-controller-manager to be healthy", deadline, procs, "kube-controller-manager", logs["kube-controller-manager"], healthz(ports.controllerManager));
    await waitFor("kube-scheduler to be healthy", deadline, procs, "kube-scheduler", logs["kube-scheduler"], healthz(ports.scheduler));
    // Ready, and schedulable: the node lifecycle controller removes the not-ready taint new nodes get.
    await waitFor(`node ${nodeName} to be Ready and untainted`, deadline, procs, "node-harness", logs["node-harness"], async () => {
      const r = await admin.request("GET", `/api/v1/nodes/${nodeName}`);
      if (r.status !== 200) return false;
      const ready = r.json.status?.conditions?.find((c) => c.type === "Ready")?.status === "True";
      const taints = (r.json.spec?.taints ?? []).filter((t) => t.key.startsWith("node.kubernetes.io/"));
      return ready && !taints.length;
    });
    // Pods in "default" need its ServiceAccount, which the serviceaccount controller creates.
    await waitFor("the default ServiceAccount", deadline, procs, "kube-controller-manager", logs["kube-controller-manager"], async () => {
      return (await admin.request("GET", "/api/v1/namespaces/default/serviceaccounts/default")).status === 200;
    });

    /** @type {ClusterInfo} */
    const info = {
      workDir,
      apiUrl,
      caFile: pki.ca,
      kubeconfigPath,
      nodeName,
      hostAddress,
      podSubnet,
      serviceSubnet,
      bridge,
      storageClass,
      ports,
      pids,
      logs,
      kubernetesVersion: binaries.kubernetesVersion,
      etcdVersion: binaries.etcdVersion,
    };
    fs.writeFileSync(path.join(workDir, "cluster.json"), JSON.stringify(info, null, 2) + "\n");
    const env = clusterEnv(info, tokens.admin);
    fs.writeFileSync(path.join(workDir, "env.sh"), Object.entries(env).map(([k, v]) => `export ${k}='${v}'`).join("\n") + "\n", { mode: 0o600 });
    const startMs = Date.now() - started;
    log(`cluster ready after ${seconds(startMs)}`);
    return { ...info, caPem, adminToken: tokens.admin, startMs, env, info, api: admin, stop };
  } catch (error) {
    await stop();
    throw error;
  }
}

/** Environment for clients of this cluster (kubectl, Atrium's Kubernetes launcher). */
function clusterEnv(info, adminToken) {
  return {
    KUBECONFIG: info.kubeconfigPath,
    ATRIUM_K8S_API_URL: info.apiUrl,
    ATRIUM_K8S_CA_FILE: info.caFile,
    ATRIUM_K8S_TOKEN: adminToken,
    ATRIUM_K8S_STORAGE_CLASS: info.storageClass,
    ATRIUM_K8S_HOST_ADDRESS: info.hostAddress,
  };
}

// ------------------------------------------------------------------------------------------------ stopping
/**
 * Ends the node harness (it kills the pods and deletes their namespaces), then the control plane, then sweeps
 * whatever is left: processes in our network namespaces, the namespaces, veths on the bridge, the bridge, and
 * the mount points the harness created on the host. Bounded: ~40 s at worst.
 */
async function stopCluster({ workDir, bridge, netnsPrefix, pids, procs }) {
  const order = [["node-harness"], ["kube-scheduler", "kube-controller-manager"], ["kube-apiserver"], ["etcd"]];
  for (const group of order) {
    await Promise.all(group.map((name) => stopPid(pids[name] ?? 0, procs?.get(name)?.exited, name === "node-harness" ? 25_000 : 10_000)));
  }
  procs?.forEach((p) => p.child.stdin?.destroy());
  cleanupNetwork(bridge, netnsPrefix);
  removeCreatedPaths(workDir);
}

async function stopPid(pid, exited, graceMs) {
  if (!pid || !alive(pid)) return;
  try {
    process.kill(pid, "SIGTERM");
  } catch {}
  const deadline = Date.now() + graceMs;
  while (alive(pid) && Date.now() < deadline) await Promise.race([exited ?? sleep(200), sleep(200)]);
  if (alive(pid)) {
    try {
      process.kill(pid, "SIGKILL");
    } catch {}
    const killDeadline = Date.now() + 5000;
    while (alive(pid) && Date.now() < killDeadline) await sleep(100);
  }
}

/** Removes our network namespaces (killing what runs in them), veths left on the bridge, and the bridge. */
function cleanupNetwork(bridge, netnsPrefix) {
  const list = spawnSync("ip", ["netns", "list"], { encoding: "utf8" }).stdout ?? "";
  for (const ns of list.split("\n").map((l) => l.split(" ")[0] ?? "").filter((n) => n.startsWith(netnsPrefix))) {
    const pidsOut = spawnSync("ip", ["netns", "pids", ns], { encoding: "utf8" }).stdout ?? "";
    for (const pid of pidsOut.split(/\s+/).filter(Boolean)) {
      try {
        process.kill(Number(pid), "SIGKILL");
      } catch {}
    }
    spawnSync("ip", ["netns", "delete", ns], { stdio: "ignore" });
  }
  const links = spawnSync("ip", ["-o", "link", "show", "master", bridge], { encoding: "utf8" }).stdout ?? "";
  for (const m of links.matchAll(/^\d+: ([^@:\s]+)/gm)) spawnSync("ip", ["link", "delete", m[1] ?? ""], { stdio: "ignore" });
  spawnSync("ip", ["link", "delete", bridge], { stdio: "ignore" });
}

/** The harness's created-paths list: empty mount points / working dirs it made on the host. */
function removeCreatedPaths(workDir) {
  const file = path.join(workDir, "created-paths.txt");
  let entries = [];
  try {
    entries = [...new Set(fs.readFileSync(file, "utf8").split("\n").filter(Boolean))];
  } catch {
    return;
  }
  const removeEmpty = (p) => {
    try {
      const st = fs.lstatSync(p);
      if (st.isDirectory()) {
        for (const e of fs.readdirSync(p)) removeEmpty(path.join(p, e));
        fs.rmdirSync(p);
      } else if (st.isFile() && st.size === 0) fs.unlinkSync(p);
    } catch {}
  };
  for (const p of entries.sort((a, b) => b.length - a.length)) removeEmpty(p);
  fs.rmSync(file, { force: true });
}

// ------------------------------------------------------------------------------------------------ network
function hostAddressOf(cidr) {
  const m = /^(\d+)\.(\d+)\.(\d+)\.(\d+)\/(\d+)$/.exec(cidr);
  if (!m) throw new Error(`not an IPv4 CIDR: ${cidr}`);
  const prefix = Number(m[5]);
  if (prefix > 30 || prefix < 8) throw new Error(`${cidr}: use a prefix between /8 and /30`);
  if (m[1] === "127") throw new Error(`${cidr}: pod IPs can't be loopback addresses (the API server refuses to proxy to them)`);
  const n = m.slice(1, 5).reduce((acc, o) => acc * 256 + Number(o), 0);
  const size = 2 ** (32 - prefix);
  const host = n - (n % size) + 1;
  return [24, 16, 8, 0].map((s) => Math.floor(host / 2 ** s) % 256).join(".");
}

/** The bridge pods attach to, with the host side of the pod subnet; its alias names the owning work dir. */
function createBridge(bridge, hostAddress, podSubnet, workDir) {
  const prefix = podSubnet.split("/")[1];
  for (const args of [
    ["link", "add", bridge, "type", "bridge"],
    ["addr", "add", `${hostAddress}/${prefix}`, "dev", bridge],
    ["link", "set", bridge, "alias", `atrium-k8s ${workDir}`],
    ["link", "set", bridge, "up"],
  ]) {
    const r = spawnSync("ip", args, { encoding: "utf8" });
    if (r.status !== 0) throw new Error(`ip ${args.join(" ")}: ${r.stderr.trim()}`);
  }
}

/**
 * A bridge of the same name left by a cluster that died (its pids are gone) is removed with its namespaces; one
 * whose cluster still runs is an error.
 */
function reclaimStaleBridge(bridge) {
  const r = spawnSync("ip", ["-d", "link", "show", bridge], { encoding: "utf8" });
  if (r.status !== 0) return; // no such bridge
  const owner = /alias atrium-k8s (\S+)/.exec(r.stdout)?.[1];
  if (!owner) throw new Error(`A network interface named ${bridge} exists and is not an Atrium test bridge: pass another bridge (or instance).`);
  if (clusterAlive(owner)) throw new Error(`Bridge ${bridge} belongs to a running cluster in ${owner}: stop it (\`node e2e/clusters/kubernetes/cluster.mjs stop --work-dir ${owner}\`) or use another instance.`);
  cleanupNetwork(bridge, `${bridge}-`);
}

function clusterAlive(workDir) {
  try {
    const pids = JSON.parse(fs.readFileSync(path.join(workDir, "pids.json"), "utf8"));
    return Object.values(pids).some((pid) => alive(Number(pid)) && cmdline(Number(pid)).includes(workDir));
  } catch {
    return false;
  }
}

function checkPrerequisites(bridge) {
  if (process.getuid?.() !== 0) throw new Error("The Kubernetes test cluster needs root: pods get network namespaces, bind mounts and their own uid/gid.");
  for (const [cmd, args, pkg] of [["ip", ["-V"], "iproute2"], ["unshare", ["--version"], "util-linux"], ["setpriv", ["--version"], "util-linux"], ["openssl", ["version"], "openssl"]]) {
    if (spawnSync(cmd, args, { stdio: "ignore" }).status !== 0) throw new Error(`${cmd} is needed (Debian: \`apt-get install -y ${pkg}\`).`);
  }
  if (bridge.length > 15) throw new Error(`bridge name ${bridge} is longer than 15 characters`);
}

// ------------------------------------------------------------------------------------------------ PKI
/** A CA and the certificates the cluster needs (EC P-256, made with openssl), plus the service account key pair. */
function generatePki(dir, { hostAddress, serviceIp, nodeName }) {
  const p = (f) => path.join(dir, f);
  const ssl = (...args) => {
    const r = spawnSync("openssl", args, { cwd: dir, encoding: "utf8" });
    if (r.status !== 0) throw new Error(`openssl ${args.join(" ")}: ${r.stderr}`);
  };
  ssl("genpkey", "-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-256", "-out", p("ca.key"));
  ssl("req", "-x509", "-new", "-key", p("ca.key"), "-subj", "/CN=atrium-kubernetes-ca", "-days", "3650", "-out", p("ca.crt"));
  const leaf = (name, subject, usage, sans) => {
    ssl("genpkey", "-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-256", "-out", p(`${name}.key`));
    ssl("req", "-new", "-key", p(`${name}.key`), "-subj", subject, "-out", p(`${name}.csr`));
    const ext = ["basicConstraints=CA:FALSE", "keyUsage=critical,digitalSignature,keyEncipherment", `extendedKeyUsage=${usage}`];
    if (sans.length) ext.push(`subjectAltName=${sans.join(",")}`);
    fs.writeFileSync(p(`${name}.ext`), ext.join("\n") + "\n");
    ssl("x509", "-req", "-in", p(`${name}.csr`), "-CA", p("ca.crt"), "-CAkey", p("ca.key"), "-set_serial", `0x${randomBytes(8).toString("hex")}`, "-days", "3650", "-extfile", p(`${name}.ext`), "-out", p(`${name}.crt`));
    fs.rmSync(p(`${name}.csr`));
    fs.rmSync(p(`${name}.ext`));
  };
  leaf("apiserver", "/CN=kube-apiserver", "serverAuth", [
    "IP:127.0.0.1",
    `IP:${hostAddress}`,
    `IP:${serviceIp}`,
    "DNS:localhost",
    "DNS:kubernetes",
    "DNS:kubernetes.default",
    "DNS:kubernetes.default.svc",
    "DNS:kubernetes.default.svc.cluster.local",
  ]);
  leaf("apiserver-kubelet-client", "/O=system:masters/CN=kube-apiserver-kubelet-client", "clientAuth", []);
  leaf("kubelet", `/O=system:nodes/CN=system:node:${nodeName}`, "serverAuth", [`IP:${hostAddress}`, `DNS:${nodeName}`]);
  ssl("genpkey", "-algorithm", "RSA", "-pkeyopt", "rsa_keygen_bits:2048", "-out", p("sa.key"));
  ssl("pkey", "-in", p("sa.key"), "-pubout", "-out", p("sa.pub"));
  for (const f of fs.readdirSync(dir)) if (f.endsWith(".key")) fs.chmodSync(p(f), 0o600);
  return {
    ca: p("ca.crt"),
    caKey: p("ca.key"),
    apiserverCert: p("apiserver.crt"),
    apiserverKey: p("apiserver.key"),
    kubeletClientCert: p("apiserver-kubelet-client.crt"),
    kubeletClientKey: p("apiserver-kubelet-client.key"),
    kubeletCert: p("kubelet.crt"),
    kubeletKey: p("kubelet.key"),
    saKey: p("sa.key"),
    saPub: p("sa.pub"),
  };
}

function kubeconfig(server, caPem, user, token) {
  return `apiVersion: v1
kind: Config
clusters:
- name: atrium
  cluster:
    server: ${server}
    certificate-authority-data: ${Buffer.from(caPem).toString("base64")}
users:
- name: ${user}
  user:
    token: ${token}
contexts:
- name: atrium
  context:
    cluster: atrium
    user: ${user}
current-context: atrium
`;
}

// ------------------------------------------------------------------------------------------------ waiting
/**
 * Polls check() every 250 ms until it is true; rejects when the deadline passes or the named process exits, with
 * the last error and the tail of its log.
 */
async function waitFor(what, deadline, procs, procName, logFile, check) {
  let lastError = "";
  for (;;) {
    const proc = procs.get(procName);
    if (proc?.exit) throw new Error(`${procName} exited (${proc.exit}) while waiting for ${what}; ${logFile}:\n${tail(logFile)}`);
    try {
      if (await check()) return;
    } catch (error) {
      lastError = /** @type {Error} */ (error).message;
    }
    if (Date.now() > deadline) throw new Error(`Timed out waiting for ${what}${lastError ? ` (last error: ${lastError})` : ""}; ${logFile}:\n${tail(logFile)}`);
    await sleep(250);
  }
}

/** GET with TLS verification off: only for the /healthz of components with self-signed serving certs. */
function insecureGet(url) {
  return new Promise((resolve, reject) => {
    const req = https.get(url, { rejectUnauthorized: false, timeout: 2000 }, (res) => {
      res.resume();
      resolve(res.statusCode);
    });
    req.on("timeout", () => req.destroy(new Error(`${url}: timeout`)));
    req.on("error", reject);
  });
}

function portFree(port, host) {
  return new Promise((resolve) => {
    const s = net.createServer();
    s.once("error", () => resolve(false));
    s.listen(port, host, () => s.close(() => resolve(true)));
  });
}

function alive(pid) {
  try {
    process.kill(pid, 0);
    const stat = fs.readFileSync(`/proc/${pid}/stat`, "utf8");
    return !/^\d+ \(.*\) Z/.test(stat); // a zombie has exited
  } catch {
    return false;
  }
}

function cmdline(pid) {
  try {
    return fs.readFileSync(`/proc/${pid}/cmdline`, "utf8").replace(/\0/g, " ");
  } catch {
    return "";
  }
}

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const seconds = (ms) => `${(ms / 1000).toFixed(1)} s`;

function tail(file, lines = 40) {
  try {
    return fs.readFileSync(file, "utf8").split("\n").slice(-lines).join("\n");
  } catch {
    return "(no output)";
  }
}

/** Stops a cluster started detached (CLI) from its work dir; also cleans up after one that died. */
export async function stopClusterInWorkDir(workDir) {
  const dir = path.resolve(workDir);
  let info;
  try {
    info = JSON.parse(fs.readFileSync(path.join(dir, "harness.json"), "utf8"));
  } catch {
    throw new Error(`${dir} has no harness.json: not a Kubernetes test cluster work dir`);
  }
  let pids = {};
  try {
    pids = JSON.parse(fs.readFileSync(path.join(dir, "pids.json"), "utf8"));
  } catch {}
  // Only pids that still belong to this cluster (a recycled pid runs something else).
  const own = Object.fromEntries(Object.entries(pids).filter(([, pid]) => alive(Number(pid)) && cmdline(Number(pid)).includes(dir)));
  await stopCluster({ workDir: dir, bridge: info.bridge, netnsPrefix: info.netnsPrefix, pids: own, procs: undefined });
  return Object.keys(own);
}

// ---------------------------------------------------------------------------------------------------- CLI
if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const [command = "help", ...rest] = process.argv.slice(2);
  const flag = (name) => {
    const i = rest.indexOf(`--${name}`);
    return i >= 0 ? (rest[i + 1] && !rest[i + 1].startsWith("--") ? rest[i + 1] : "true") : undefined;
  };
  const workDir = path.resolve(flag("work-dir") ?? path.join(os.tmpdir(), "atrium-kubernetes-demo"));
  try {
    if (command === "start") {
      const foreground = flag("foreground") === "true";
      if (clusterAlive(workDir) && fs.existsSync(path.join(workDir, "cluster.json"))) {
        console.log(`Already running from ${workDir}.`);
        printInfo(JSON.parse(fs.readFileSync(path.join(workDir, "cluster.json"), "utf8")));
      } else {
        console.log(`Starting Kubernetes ${kubernetesVersion} (etcd, API server, controller manager, scheduler, node harness) in ${workDir} …`);
        const cluster = await startKubernetesCluster({ workDir, instance: Number(flag("instance") ?? 0), detached: !foreground, log: (l) => console.log(l) });
        console.log(`Ready in ${seconds(cluster.startMs)}.`);
        printInfo(cluster.info);
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
      const stoppedNames = await stopClusterInWorkDir(workDir);
      console.log(stoppedNames.length ? `Stopped ${stoppedNames.join(", ")}; network and mount points cleaned up.` : `Nothing was running from ${workDir}; network and mount points cleaned up.`);
    } else if (command === "status") {
      if (clusterAlive(workDir) && fs.existsSync(path.join(workDir, "cluster.json"))) printInfo(JSON.parse(fs.readFileSync(path.join(workDir, "cluster.json"), "utf8")));
      else {
        console.log(`Not running (work dir ${workDir}).`);
        process.exitCode = 1;
      }
    } else {
      console.log("usage: node e2e/clusters/kubernetes/cluster.mjs start [--work-dir DIR] [--instance N] [--foreground] | status | stop [--work-dir DIR]");
      process.exitCode = command === "help" ? 0 : 2;
    }
  } catch (error) {
    console.error(/** @type {Error} */ (error).message);
    process.exit(1);
  }
}

/** @param {ClusterInfo} info */
function printInfo(info) {
  console.log(`  API server   ${info.apiUrl}   (Kubernetes ${info.kubernetesVersion}, etcd ${info.etcdVersion})`);
  console.log(`  kubeconfig   ${info.kubeconfigPath}   (admin: system:masters, static token)`);
  console.log(`  env          source ${path.join(info.workDir, "env.sh")}   (KUBECONFIG, ATRIUM_K8S_*)`);
  console.log(`  node         ${info.nodeName}   pods on ${info.bridge} ${info.podSubnet}, host side ${info.hostAddress}`);
  console.log(`  storage      StorageClass ${info.storageClass} (default) → folders under ${path.join(info.workDir, "volumes")}`);
  console.log(`  logs         ${path.join(info.workDir, "logs")}/*.log   containers: ${path.join(info.workDir, "pods")}/<ns>_<pod>/<container>.log`);
}
