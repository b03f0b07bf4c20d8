#!/usr/bin/env node
// The node of the Atrium test cluster: acts as the kubelet for one Node, plus a tiny volume provisioner.
// Started by cluster.mjs as its own process (`node node-harness.mjs <config.json>`); no npm dependencies.
//
// As the kubelet (with the node's own identity, system:node:<name>, so the Node authorizer and NodeRestriction
// apply to it): registers the Node (capacity, Ready), renews its Lease in kube-node-lease, watches the pods bound
// to it and runs them. A pod's network is a real network namespace on a bridge (its own IP, lo up, a default
// route to the host side of the bridge); each container is a local process started in that namespace, in a
// private mount namespace where its volumes are really bind-mounted at their mountPaths, as the pod's
// runAsUser/runAsGroup. Statuses, events, graceful deletion and container logs (the API server's pods/log goes
// to this process's HTTPS port) are reported the way a kubelet reports them. Images are a configured list of
// names: nothing is pulled, nothing is isolated beyond the namespaces above.
//
// As the provisioner (with its own token): creates a `local` PersistentVolume under <workDir>/volumes/<pvc uid>
// for each PVC of the configured storage class, pre-bound to the claim, and deletes it again when released.
//
// On SIGTERM (and, when started with exitOnStdinEof, when its parent's pipe closes) it kills every pod's
// processes and removes their network namespaces; on stdin EOF it also ends the control plane listed in the
// pids file and removes the bridge, so a crashed test run leaves nothing behind.
import { execFile, spawn, spawnSync } from "node:child_process";
import { createHash, randomBytes } from "node:crypto";
import fs from "node:fs";
import https from "node:https";
import os from "node:os";
import path from "node:path";
import { informer, kubeClient } from "./kube-client.mjs";

/**
 * @typedef {{ env?: Record<string, string>, workingDir?: string, command?: string[], args?: string[], user?: number }} ImageConfig
 * @typedef {{ workDir: string, apiUrl: string, caFile: string, nodeToken: string, provisionerToken: string,
 *   nodeName: string, hostAddress: string, podSubnet: string, bridge: string, netnsPrefix: string,
 *   kubeletPort: number, kubeletCertFile: string, kubeletKeyFile: string, images: Record<string, ImageConfig>,
 *   capacity: Record<string, string>, storageClass: string, provisioner: string, pidsFile: string,
 *   kubernetesVersion: string, exitOnStdinEof: boolean }} HarnessConfig
 */

const configPath = process.argv[2];
if (!configPath) {
  console.error("usage: node node-harness.mjs <config.json>");
  process.exit(2);
}
/** @type {HarnessConfig} */
const cfg = JSON.parse(fs.readFileSync(configPath, "utf8"));
const ca = fs.readFileSync(cfg.caFile);
const kubelet = kubeClient({ url: cfg.apiUrl, ca, token: cfg.nodeToken, userAgent: `atrium-node-harness/${cfg.nodeName}` });
const provisionerApi = kubeClient({ url: cfg.apiUrl, ca, token: cfg.provisionerToken, userAgent: "atrium-local-provisioner" });
const stopAll = new AbortController();
const podsDir = path.join(cfg.workDir, "pods");
const volumesDir = path.join(cfg.workDir, "volumes");
const createdPathsFile = path.join(cfg.workDir, "created-paths.txt");
fs.mkdirSync(podsDir, { recursive: true });
fs.mkdirSync(volumesDir, { recursive: true });

// Absolute paths: a container's env (and so its PATH) is what spawn() sees, not ours.
const bin = Object.fromEntries(["ip", "unshare", "setpriv", "mount", "hostname", "mkdir", "sh"].map((b) => [b, which(b)]));
const subnet = parseCidr(cfg.podSubnet);

const log = (...args) => console.log(new Date().toISOString(), ...args);
process.on("unhandledRejection", (error) => log("unhandled:", error));

// ------------------------------------------------------------------------------------------------ helpers
function which(name) {
  for (const dir of ["/usr/sbin", "/usr/bin", "/sbin", "/bin", "/usr/local/bin", "/usr/local/sbin"]) {
    const p = path.join(dir, name);
    if (fs.existsSync(p)) return p;
  }
  throw new Error(`${name} not found: the node harness needs iproute2 (ip), util-linux (unshare, setpriv, mount) and coreutils`);
}

/** RFC 3339 without fractions (metav1.Time). */
const nowTime = () => new Date().toISOString().replace(/\.\d{3}Z$/, "Z");
/** RFC 3339 with exactly six fractional digits (metav1.MicroTime). */
const microTime = () => new Date().toISOString().replace(/Z$/, "000Z");
/** A timer that an abort signal ends early (its listener is removed either way: loops sleep many times). */
const sleep = (ms, signal) =>
  new Promise((resolve) => {
    if (signal?.aborted) return resolve(undefined);
    const onAbort = () => {
      clearTimeout(t);
      resolve(undefined);
    };
    const t = setTimeout(() => {
      signal?.removeEventListener("abort", onAbort);
      resolve(undefined);
    }, ms);
    signal?.addEventListener("abort", onAbort, { once: true });
  });
const q = (s) => `'${String(s).replace(/'/g, `'\\''`)}'`;

function run(cmd, args) {
  return new Promise((resolve, reject) =>
    execFile(cmd, args, { timeout: 15_000 }, (error, stdout, stderr) => (error ? reject(new Error(`${path.basename(cmd)} ${args.join(" ")}: ${stderr.trim() || error.message}`)) : resolve(stdout))),
  );
}

function parseCidr(cidr) {
  const [ip = "", bits = "24"] = cidr.split("/");
  const prefix = Number(bits);
  const base = ip.split(".").reduce((acc, o) => acc * 256 + Number(o), 0);
  const size = 2 ** (32 - prefix);
  return { base: base - (base % size), prefix, size };
}
const ipString = (n) => [24, 16, 8, 0].map((s) => Math.floor(n / 2 ** s) % 256).join(".");

/** Kubernetes quantity ("500m", "2", "16Gi", "1e3") → number. */
function parseQuantity(value) {
  const m = /^([+-]?[0-9.]+(?:[eE][+-]?\d+)?)(m|k|M|G|T|P|E|Ki|Mi|Gi|Ti|Pi|Ei)?$/.exec(String(value).trim());
  if (!m) return NaN;
  const units = { m: 1e-3, k: 1e3, M: 1e6, G: 1e9, T: 1e12, P: 1e15, E: 1e18, Ki: 2 ** 10, Mi: 2 ** 20, Gi: 2 ** 30, Ti: 2 ** 40, Pi: 2 ** 50, Ei: 2 ** 60 };
  return Number(m[1]) * (m[2] ? units[/** @type {keyof typeof units} */ (m[2])] : 1);
}

/** docker.io normalisation, so "python:3.11" and "docker.io/library/python:3.11" are the same image. */
export function normalizeImage(ref) {
  let name = ref.trim();
  let digest = "";
  const at = name.indexOf("@");
  if (at >= 0) [name, digest] = [name.slice(0, at), name.slice(at)];
  let tag = "";
  const colon = name.lastIndexOf(":");
  if (colon > name.lastIndexOf("/")) [name, tag] = [name.slice(0, colon), name.slice(colon + 1)];
  const first = name.split("/")[0] ?? "";
  if (!name.includes("/")) name = `docker.io/library/${name}`;
  else if (!first.includes(".") && !first.includes(":") && first !== "localhost") name = `docker.io/${name}`;
  return digest ? `${name}${digest}` : `${name}:${tag || "latest"}`;
}
const images = new Map(Object.entries(cfg.images).map(([name, conf]) => [normalizeImage(name), conf ?? {}]));
/** A stable made-up image ID: nothing is pulled, so there is no real digest. */
const imageId = (norm) => `${norm.replace(/[:@].*$/, "")}@sha256:${createHash("sha256").update(norm).digest("hex")}`;

/** /etc/passwd: uid → { gid, home }, for a container's default group and HOME (as a runtime reads the image's). */
function passwd() {
  const users = new Map();
  try {
    for (const line of fs.readFileSync("/etc/passwd", "utf8").split("\n")) {
      const [, , uid, gid, , home] = line.split(":");
      if (uid !== undefined && gid !== undefined) users.set(Number(uid), { gid: Number(gid), home: home || "/" });
    }
  } catch {}
  return users;
}

/** Paths the harness created on the host (mount points, working dirs), removed again when the cluster stops. */
function recordCreated(p) {
  fs.appendFileSync(createdPathsFile, `${p}\n`);
}
/** The first missing ancestor of p (what `mkdir -p p` would create first), or undefined when p exists. */
function firstMissing(p) {
  let missing;
  for (let cur = path.resolve(p); !fs.existsSync(cur); cur = path.dirname(cur)) missing = cur;
  return missing;
}

// ------------------------------------------------------------------------------------------------ events
/** A core/v1 Event about a pod (or its container), as the kubelet posts them; failures are only logged. */
function podEvent(pod, type, reason, message, container) {
  const ns = pod.metadata.namespace;
  const t = nowTime();
  const body = {
    apiVersion: "v1",
    kind: "Event",
    metadata: { name: `${pod.metadata.name}.${randomBytes(8).toString("hex")}`, namespace: ns },
    involvedObject: {
      apiVersion: "v1",
      kind: "Pod",
      namespace: ns,
      name: pod.metadata.name,
      uid: pod.metadata.uid,
      ...(container ? { fieldPath: `spec.${(pod.spec.initContainers ?? []).some((c) => c.name === container) ? "initContainers" : "containers"}{${container}}` } : {}),
    },
    reason,
    message,
    type,
    source: { component: "kubelet", host: cfg.nodeName },
    reportingComponent: "kubelet",
    reportingInstance: cfg.nodeName,
    firstTimestamp: t,
    lastTimestamp: t,
    count: 1,
  };
  // One at a time, so they are recorded in the order they happened.
  eventChain = eventChain.then(() =>
    kubelet.request("POST", `/api/v1/namespaces/${ns}/events`, body).then(
      (r) => void (r.status >= 300 && log(`event ${reason} for ${ns}/${pod.metadata.name}: HTTP ${r.status} ${r.json?.message ?? ""}`)),
      (error) => log(`event ${reason}: ${error.message}`),
    ),
  );
}
let eventChain = Promise.resolve();

// ------------------------------------------------------------------------------------------------ the node
let nodeUid = "";

function nodeConditions() {
  const t = nowTime();
  const c = (type, status, reason, message) => ({ type, status, reason, message, lastHeartbeatTime: t, lastTransitionTime: startedAt });
  return [
    c("MemoryPressure", "False", "KubeletHasSufficientMemory", "kubelet has sufficient memory available"),
    c("DiskPressure", "False", "KubeletHasNoDiskPressure", "kubelet has no disk pressure"),
    c("PIDPressure", "False", "KubeletHasSufficientPID", "kubelet has sufficient PID available"),
    c("Ready", "True", "KubeletReady", "kubelet is posting ready status (Atrium node harness)"),
  ];
}
const startedAt = nowTime();

function nodeStatus() {
  const arch = { x64: "amd64", arm64: "arm64" }[process.arch] ?? process.arch;
  return {
    capacity: cfg.capacity,
    allocatable: cfg.capacity,
    conditions: nodeConditions(),
    addresses: [
      { type: "InternalIP", address: cfg.hostAddress },
      { type: "Hostname", address: cfg.nodeName },
    ],
    daemonEndpoints: { kubeletEndpoint: { Port: cfg.kubeletPort } },
    nodeInfo: {
      machineID: createHash("md5").update(cfg.nodeName + cfg.workDir).digest("hex"),
      systemUUID: createHash("md5").update(cfg.workDir).digest("hex"),
      bootID: randomBytes(16).toString("hex"),
      kernelVersion: os.release(),
      osImage: "Atrium node harness (processes on the host)",
      containerRuntimeVersion: "atrium-node-harness://1",
      kubeletVersion: cfg.kubernetesVersion,
      kubeProxyVersion: "",
      operatingSystem: "linux",
      architecture: arch,
    },
    images: [...images.keys()].map((name) => ({ names: [name], sizeBytes: 0 })),
  };
}

async function registerNode() {
  const arch = { x64: "amd64", arm64: "arm64" }[process.arch] ?? process.arch;
  const body = {
    apiVersion: "v1",
    kind: "Node",
    metadata: {
      name: cfg.nodeName,
      labels: { "kubernetes.io/hostname": cfg.nodeName, "kubernetes.io/os": "linux", "kubernetes.io/arch": arch, "atrium.dev/node-harness": "true" },
    },
    spec: {},
    status: nodeStatus(),
  };
  let r = await kubelet.request("POST", "/api/v1/nodes", body);
  if (r.status === 409) r = await patchNodeStatus();
  if (r.status >= 300) throw new Error(`registering node ${cfg.nodeName}: HTTP ${r.status} ${r.json?.message ?? r.text}`);
  nodeUid = r.json.metadata.uid;
  log(`node ${cfg.nodeName} registered (uid ${nodeUid})`);
}

function patchNodeStatus() {
  return kubelet.request("PATCH", `/api/v1/nodes/${cfg.nodeName}/status`, { status: nodeStatus() }, { contentType: "application/strategic-merge-patch+json" });
}

/** Renews the node's Lease every 10 s (the node lifecycle controller marks a node NotReady after 50 s without). */
async function leaseLoop() {
  const leasePath = `/apis/coordination.k8s.io/v1/namespaces/kube-node-lease/leases`;
  let lease;
  while (!stopAll.signal.aborted) {
    try {
      if (!lease) {
        const got = await kubelet.request("GET", `${leasePath}/${cfg.nodeName}`);
        if (got.status === 200) lease = got.json;
        else {
          const created = await kubelet.request("POST", leasePath, {
            apiVersion: "coordination.k8s.io/v1",
            kind: "Lease",
            metadata: { name: cfg.nodeName, namespace: "kube-node-lease", ownerReferences: [{ apiVersion: "v1", kind: "Node", name: cfg.nodeName, uid: nodeUid }] },
            spec: { holderIdentity: cfg.nodeName, leaseDurationSeconds: 40, renewTime: microTime() },
          });
          if (created.status >= 300) throw new Error(`creating lease: HTTP ${created.status} ${created.json?.message ?? ""}`);
          lease = created.json;
        }
      } else {
        lease.spec.renewTime = microTime();
        const r = await kubelet.request("PUT", `${leasePath}/${cfg.nodeName}`, lease);
        if (r.status === 200) lease = r.json;
        else {
          lease = undefined; // conflict or gone: read it again
          if (r.status !== 409) throw new Error(`renewing lease: HTTP ${r.status} ${r.json?.message ?? ""}`);
          continue;
        }
      }
    } catch (error) {
      log(`lease: ${/** @type {Error} */ (error).message}`);
      lease = undefined;
    }
    await sleep(10_000, stopAll.signal);
  }
}

async function nodeStatusLoop() {
  while (!stopAll.signal.aborted) {
    await sleep(60_000, stopAll.signal);
    if (stopAll.signal.aborted) return;
    try {
      const r = await patchNodeStatus();
      if (r.status >= 300) log(`node status: HTTP ${r.status} ${r.json?.message ?? ""}`);
    } catch (error) {
      log(`node status: ${/** @type {Error} */ (error).message}`);
    }
  }
}

// ------------------------------------------------------------------------------------------------ pods
/**
 * @typedef {{ waiting?: { reason: string, message?: string }, running?: { startedAt: string },
 *   terminated?: { exitCode: number, reason: string, message?: string, startedAt?: string, finishedAt: string, containerID?: string } }} ContainerState
 * @typedef {{ name: string, spec: any, isInit: boolean, state: ContainerState, lastState: ContainerState,
 *   restartCount: number, ready: boolean, final: boolean, containerID: string, image: string, imageID: string,
 *   child?: import("node:child_process").ChildProcess, exited?: Promise<void> }} Container
 * @typedef {{ pod: any, uid: string, key: string, dir: string, containers: Map<string, Container>,
 *   init: Map<string, Container>, initDone: boolean, ip?: string, ipIndex?: number, netns?: string, veth?: string,
 *   startTime?: string, phase: string, terminal: boolean, deleting: boolean, cancel: AbortController,
 *   volumes: Map<string, { path: string, readOnly: boolean }>, conditionTimes: Record<string, { status: string, time: string }>,
 *   statusChain: Promise<void>, statusQueued: boolean, sandboxReady: boolean, teardown?: Promise<void> }} PodRuntime
 */
/** @type {Map<string, PodRuntime>} by pod uid */
const pods = new Map();
const usedIps = new Set();
/** Where the next pod IP search starts (see setupSandbox). */
let nextIpIndex = 2;

function newContainer(spec, isInit) {
  const norm = normalizeImage(spec.image ?? "");
  return /** @type {Container} */ ({
    name: spec.name,
    spec,
    isInit,
    state: { waiting: { reason: isInit ? "PodInitializing" : "ContainerCreating" } },
    lastState: {},
    restartCount: 0,
    ready: false,
    final: false,
    containerID: "",
    image: spec.image ?? "",
    imageID: images.has(norm) ? imageId(norm) : "",
  });
}

/** Called for every pod event (and every pod of a re-list) bound to this node. */
function reconcile(pod) {
  const uid = pod.metadata.uid;
  let rt = pods.get(uid);
  if (!rt) {
    const phase = pod.status?.phase;
    if (phase === "Succeeded" || phase === "Failed") {
      // Finished before this harness (re)started: nothing to run; just finish a deletion.
      if (pod.metadata.deletionTimestamp) deletePodObject(pod).catch((e) => log(e.message));
      return;
    }
    const key = `${pod.metadata.namespace}_${pod.metadata.name}`;
    rt = /** @type {PodRuntime} */ ({
      pod,
      uid,
      key,
      dir: path.join(podsDir, key),
      containers: new Map((pod.spec.containers ?? []).map((c) => [c.name, newContainer(c, false)])),
      init: new Map((pod.spec.initContainers ?? []).map((c) => [c.name, newContainer(c, true)])),
      initDone: !(pod.spec.initContainers ?? []).length,
      phase: "Pending",
      terminal: false,
      deleting: false,
      cancel: new AbortController(),
      volumes: new Map(),
      conditionTimes: {},
      statusChain: Promise.resolve(),
      statusQueued: false,
      sandboxReady: false,
    });
    pods.set(uid, rt);
    log(`pod ${pod.metadata.namespace}/${pod.metadata.name} (${uid}) bound here`);
    runPod(rt).catch((error) => log(`pod ${key}: ${error.stack ?? error}`));
  }
  rt.pod = pod;
  if (pod.metadata.deletionTimestamp && !rt.deleting) {
    rt.deleting = true;
    terminatePod(rt).catch((error) => log(`terminating ${rt?.key}: ${error.stack ?? error}`));
  }
}

/** The pod is gone from the API (force-deleted, or our own final delete): end whatever still runs. */
function forget(pod) {
  const rt = pods.get(pod.metadata.uid);
  if (!rt) return;
  pods.delete(rt.uid);
  if (!rt.cancel.signal.aborted) rt.cancel.abort();
  for (const c of [...rt.init.values(), ...rt.containers.values()]) killGroup(c, "SIGKILL");
  teardownSandbox(rt).catch((error) => log(`teardown ${rt.key}: ${error.message}`));
}

async function runPod(rt) {
  const signal = rt.cancel.signal;
  fs.mkdirSync(rt.dir, { recursive: true });
  rt.startTime = nowTime();
  // Volumes first (a pod whose volumes can't be set up stays ContainerCreating with FailedMount events, as on a
  // real node), then the sandbox (network namespace and IP), then init containers in order, then the rest.
  await retrying(rt, "FailedMount", () => prepareVolumes(rt));
  if (signal.aborted) return;
  await retrying(rt, "FailedCreatePodSandBox", () => createSandbox(rt));
  if (signal.aborted) return;
  queueStatus(rt);
  for (const c of rt.init.values()) {
    await containerLoop(rt, c);
    if (signal.aborted) return;
    if (c.state.terminated?.exitCode !== 0) {
      updatePhase(rt); // Failed: an init container failed and won't be restarted
      return;
    }
  }
  rt.initDone = true;
  for (const c of rt.containers.values()) c.state = { waiting: { reason: "ContainerCreating" } };
  queueStatus(rt);
  await Promise.all([...rt.containers.values()].map((c) => containerLoop(rt, c)));
}

/**
 * Runs fn until it succeeds or the pod is cancelled, backing off (250 ms doubling to 16 s). A failure that lasts
 * 2 s becomes a Warning event (once per distinct message): right after binding, the Node authorizer's graph and
 * NodeRestriction may not know the pod yet and refuse a moment, which is no news for the pod's owner.
 */
async function retrying(rt, reason, fn) {
  let delay = 250;
  const firstFailure = Date.now();
  let reported = "";
  while (!rt.cancel.signal.aborted) {
    try {
      return await fn();
    } catch (error) {
      const message = /** @type {Error} */ (error).message;
      log(`pod ${rt.key}: ${reason}: ${message}`);
      if (message !== reported && Date.now() - firstFailure >= 2000) {
        podEvent(rt.pod, "Warning", reason, message);
        reported = message;
      }
      await sleep(delay, rt.cancel.signal);
      delay = Math.min(delay * 2, 16_000);
    }
  }
}

// ---------------------------------------------------------------------------------------------- volumes
/** Resolves each volume of the pod to a host path (creating emptyDirs, writing configMap/secret/projected files). */
async function prepareVolumes(rt) {
  const pod = rt.pod;
  const ns = pod.metadata.namespace;
  const fsGroup = pod.spec.securityContext?.fsGroup;
  for (const v of pod.spec.volumes ?? []) {
    if (rt.volumes.has(v.name)) continue;
    const dir = path.join(rt.dir, "volumes", v.name);
    if (v.persistentVolumeClaim) {
      const pvc = await kubelet.get(`/api/v1/namespaces/${ns}/persistentvolumeclaims/${v.persistentVolumeClaim.claimName}`);
      if (!pvc.spec.volumeName || pvc.status?.phase !== "Bound") throw new Error(`persistentvolumeclaim "${pvc.metadata.name}" is not bound yet`);
      const pv = await kubelet.get(`/api/v1/persistentvolumes/${pvc.spec.volumeName}`);
      const hostPath = pv.spec.local?.path ?? pv.spec.hostPath?.path;
      if (!hostPath) throw new Error(`persistentvolume "${pv.metadata.name}" is neither local nor hostPath: the Atrium node harness mounts only host folders`);
      if (!fs.existsSync(hostPath)) throw new Error(`persistentvolume "${pv.metadata.name}": ${hostPath} does not exist on this node`);
      rt.volumes.set(v.name, { path: hostPath, readOnly: !!v.persistentVolumeClaim.readOnly });
    } else if (v.emptyDir) {
      fs.mkdirSync(dir, { recursive: true });
      fs.chmodSync(dir, 0o777); // as the kubelet creates emptyDirs (medium: Memory is a plain folder here)
      rt.volumes.set(v.name, { path: dir, readOnly: false });
    } else if (v.hostPath) {
      const type = v.hostPath.type ?? "";
      if (type === "DirectoryOrCreate" && !fs.existsSync(v.hostPath.path)) fs.mkdirSync(v.hostPath.path, { recursive: true, mode: 0o755 });
      if (type === "FileOrCreate" && !fs.existsSync(v.hostPath.path)) fs.writeFileSync(v.hostPath.path, "", { mode: 0o644 });
      if (type && !fs.existsSync(v.hostPath.path)) throw new Error(`hostPath type check failed: ${v.hostPath.path} does not exist`);
      rt.volumes.set(v.name, { path: v.hostPath.path, readOnly: false });
    } else if (v.configMap || v.secret || v.downwardAPI || v.projected) {
      const sources = v.projected?.sources ?? [v.configMap ? { configMap: v.configMap } : v.secret ? { secret: { ...v.secret, name: v.secret.secretName } } : { downwardAPI: v.downwardAPI }];
      const defaultMode = (v.projected ?? v.configMap ?? v.secret ?? v.downwardAPI).defaultMode ?? 0o644;
      /** @type {Map<string, { data: Buffer, mode: number }>} */
      const files = new Map();
      for (const s of sources) await projectSource(rt, s, defaultMode, files);
      fs.rmSync(dir, { recursive: true, force: true });
      fs.mkdirSync(dir, { recursive: true, mode: 0o755 });
      for (const [rel, { data, mode }] of files) {
        const file = path.join(dir, rel);
        if (!file.startsWith(dir + path.sep)) throw new Error(`volume ${v.name}: path ${rel} leaves the volume`);
        fs.mkdirSync(path.dirname(file), { recursive: true });
        fs.writeFileSync(file, data, { mode });
        fs.chmodSync(file, mode);
        if (fsGroup !== undefined) fs.chownSync(file, 0, fsGroup);
      }
      rt.volumes.set(v.name, { path: dir, readOnly: true });
    } else {
      const kind = Object.keys(v).find((k) => k !== "name") ?? "unknown";
      throw new Error(`volume "${v.name}": type ${kind} is not supported by the Atrium node harness (persistentVolumeClaim, emptyDir, hostPath, configMap, secret, downwardAPI and projected are)`);
    }
  }
}

/** Adds the files of one configMap/secret/downwardAPI/serviceAccountToken source to `files`. */
async function projectSource(rt, s, defaultMode, files) {
  const pod = rt.pod;
  const ns = pod.metadata.namespace;
  if (s.configMap || s.secret) {
    const isSecret = !!s.secret;
    const src = s.configMap ?? s.secret;
    const name = src.name ?? src.secretName;
    const r = await kubelet.request("GET", `/api/v1/namespaces/${ns}/${isSecret ? "secrets" : "configmaps"}/${name}`);
    if (r.status === 404 && src.optional) return;
    if (r.status !== 200) throw new Error(`${isSecret ? "secret" : "configmap"} "${name}" ${r.status === 404 ? "not found" : `: HTTP ${r.status} ${r.json?.message ?? ""}`}`);
    const data = new Map();
    for (const [k, val] of Object.entries(r.json.data ?? {})) data.set(k, isSecret ? Buffer.from(String(val), "base64") : Buffer.from(String(val)));
    for (const [k, val] of Object.entries(r.json.binaryData ?? {})) data.set(k, Buffer.from(String(val), "base64"));
    const items = src.items ?? [...data.keys()].map((key) => ({ key, path: key }));
    for (const item of items) {
      if (!data.has(item.key)) {
        if (src.optional) continue;
        throw new Error(`configmap/secret "${name}": no key ${item.key}`);
      }
      files.set(item.path, { data: /** @type {Buffer} */ (data.get(item.key)), mode: item.mode ?? defaultMode });
    }
  } else if (s.downwardAPI) {
    for (const item of s.downwardAPI.items ?? []) {
      const value = item.fieldRef ? fieldValue(rt, item.fieldRef.fieldPath) : resourceValue(rt, item.resourceFieldRef);
      files.set(item.path, { data: Buffer.from(value), mode: item.mode ?? defaultMode });
    }
  } else if (s.serviceAccountToken) {
    // TokenRequest as the node: NodeRestriction lets a node ask only for tokens bound to its own pods.
    const sa = pod.spec.serviceAccountName ?? "default";
    const t = s.serviceAccountToken;
    const r = await kubelet.request("POST", `/api/v1/namespaces/${ns}/serviceaccounts/${sa}/token`, {
      apiVersion: "authentication.k8s.io/v1",
      kind: "TokenRequest",
      spec: { audiences: t.audience ? [t.audience] : [], expirationSeconds: t.expirationSeconds ?? 3600, boundObjectRef: { apiVersion: "v1", kind: "Pod", name: pod.metadata.name, uid: pod.metadata.uid } },
    });
    if (r.status !== 201 && r.status !== 200) throw new Error(`token for service account ${ns}/${sa}: HTTP ${r.status} ${r.json?.message ?? ""}`);
    files.set(t.path, { data: Buffer.from(r.json.status.token), mode: defaultMode });
  } else {
    throw new Error(`projected source ${Object.keys(s)[0]} is not supported by the Atrium node harness`);
  }
}

/** A downward API field (env valueFrom.fieldRef or a downwardAPI volume item). */
function fieldValue(rt, fieldPath) {
  const pod = rt.pod;
  const m = /^metadata\.(labels|annotations)\['(.+)'\]$/.exec(fieldPath);
  if (m) return String(pod.metadata[/** @type {string} */ (m[1])]?.[/** @type {string} */ (m[2])] ?? "");
  switch (fieldPath) {
    case "metadata.name":
      return pod.metadata.name;
    case "metadata.namespace":
      return pod.metadata.namespace;
    case "metadata.uid":
      return pod.metadata.uid;
    case "metadata.labels":
      return Object.entries(pod.metadata.labels ?? {}).map(([k, v]) => `${k}="${v}"`).join("\n");
    case "metadata.annotations":
      return Object.entries(pod.metadata.annotations ?? {}).map(([k, v]) => `${k}="${v}"`).join("\n");
    case "spec.nodeName":
      return cfg.nodeName;
    case "spec.serviceAccountName":
      return pod.spec.serviceAccountName ?? "";
    case "status.hostIP":
    case "status.hostIPs":
      return cfg.hostAddress;
    case "status.podIP":
    case "status.podIPs":
      return rt.ip ?? "";
    default:
      throw new Error(`fieldRef ${fieldPath} is not supported`);
  }
}

/** resourceFieldRef: a container's limit (the node's allocatable when unset, as the kubelet does) or request. */
function resourceValue(rt, ref, containerName) {
  const c = (rt.pod.spec.containers ?? []).find((x) => x.name === (ref.containerName ?? containerName)) ?? rt.pod.spec.containers?.[0];
  const [kind, resource] = String(ref.resource).split(".");
  const raw = c?.resources?.[kind ?? ""]?.[resource ?? ""] ?? (kind === "limits" ? cfg.capacity[resource ?? ""] : "0");
  const divisor = parseQuantity(ref.divisor ?? "1") || 1;
  return String(Math.ceil(parseQuantity(raw ?? "0") / divisor));
}

// ---------------------------------------------------------------------------------------------- network
/** A network namespace with a veth on the bridge, the next free IP of the pod subnet, lo up, a default route. */
async function createSandbox(rt) {
  if (rt.sandboxReady) return;
  if (rt.pod.spec.hostNetwork) {
    // hostNetwork pods share the host's network: the pod IP is the node's address.
    Object.assign(rt, { ip: cfg.hostAddress, sandboxReady: true });
    return;
  }
  // Round robin, never lowest-free: a freed IP handed out again at once can meet the host's ARP entry for the
  // old pod's MAC (a pod deleted a moment ago), and traffic to the new pod then goes nowhere for a minute.
  // .0 is the network, .1 the host side.
  let index = -1;
  for (let tried = 0; tried < subnet.size - 3; tried++) {
    const candidate = 2 + ((nextIpIndex - 2 + tried) % (subnet.size - 3));
    if (!usedIps.has(candidate)) {
      index = candidate;
      break;
    }
  }
  if (index < 0) throw new Error(`pod subnet ${cfg.podSubnet} is full`);
  nextIpIndex = index + 1;
  usedIps.add(index);
  const ip = ipString(subnet.base + index);
  const netns = `${cfg.netnsPrefix}${rt.uid.slice(0, 8)}`;
  const veth = `veth${randomBytes(5).toString("hex")}`; // ≤ 15 characters (IFNAMSIZ)
  try {
    await run(bin.ip, ["netns", "add", netns]);
    await run(bin.ip, ["link", "add", veth, "type", "veth", "peer", "name", "eth0", "netns", netns]);
    await run(bin.ip, ["link", "set", veth, "master", cfg.bridge, "up"]);
    await run(bin.ip, ["-n", netns, "addr", "add", `${ip}/${subnet.prefix}`, "dev", "eth0"]);
    await run(bin.ip, ["-n", netns, "link", "set", "eth0", "up"]);
    await run(bin.ip, ["-n", netns, "link", "set", "lo", "up"]);
    await run(bin.ip, ["-n", netns, "route", "add", "default", "via", cfg.hostAddress]);
  } catch (error) {
    usedIps.delete(index);
    await run(bin.ip, ["netns", "delete", netns]).catch(() => {});
    await run(bin.ip, ["link", "delete", veth]).catch(() => {});
    throw error;
  }
  Object.assign(rt, { ip, ipIndex: index, netns, veth, sandboxReady: true });
  log(`pod ${rt.key}: netns ${netns}, IP ${ip}`);
}

/**
 * Kills whatever still runs in the namespace, then deletes it (its veth pair goes with it) and frees the IP.
 * Idempotent: a second call gets the first one's promise (shutdown waits for teardowns already under way).
 */
function teardownSandbox(rt) {
  if (!rt.teardown) rt.teardown = removeSandbox(rt);
  return rt.teardown;
}

async function removeSandbox(rt) {
  rt.sandboxReady = false;
  if (!rt.netns) return;
  const { netns, ipIndex, veth } = rt;
  try {
    const pids = (await run(bin.ip, ["netns", "pids", netns])).split(/\s+/).filter(Boolean);
    for (const pid of pids) {
      try {
        process.kill(Number(pid), "SIGKILL");
      } catch {}
    }
  } catch {}
  await run(bin.ip, ["netns", "delete", netns]).catch((error) => log(`netns delete ${netns}: ${error.message}`));
  if (veth) await run(bin.ip, ["link", "delete", veth]).catch(() => {}); // normally gone with the netns
  if (ipIndex !== undefined) usedIps.delete(ipIndex);
}

// ---------------------------------------------------------------------------------------------- containers
/**
 * One container's life: image check, config (user, env, command, mounts), the process, and restarts as the
 * pod's restartPolicy says (init containers: restarted on failure unless the policy is Never).
 */
async function containerLoop(rt, c) {
  const signal = rt.cancel.signal;
  const policy = rt.pod.spec.restartPolicy ?? "Always";
  for (;;) {
    if (signal.aborted) return;
    const norm = normalizeImage(c.spec.image ?? "");
    const image = images.get(norm);
    if (!image) return imagePullLoop(rt, c, norm);
    if (c.restartCount === 0 && !c.state.terminated) podEvent(rt.pod, "Normal", "Pulled", `Container image "${c.spec.image}" already present on machine`, c.name);

    const prepared = await prepareExec(rt, c, image);
    if (signal.aborted) return;
    if ("configError" in prepared) {
      // A kubelet keeps such a container Waiting and retries on its next sync (a missing configMap may appear).
      c.state = { waiting: { reason: "CreateContainerConfigError", message: prepared.configError } };
      podEvent(rt.pod, "Warning", "Failed", `Error: ${prepared.configError}`, c.name);
      queueStatus(rt);
      await sleep(10_000, signal);
      continue;
    }
    if ("startError" in prepared) {
      const t = nowTime();
      c.state = { terminated: { exitCode: 128, reason: "StartError", message: prepared.startError, startedAt: "1970-01-01T00:00:00Z", finishedAt: t } };
      podEvent(rt.pod, "Warning", "Failed", `Error: ${prepared.startError}`, c.name);
    } else {
      await startProcess(rt, c, prepared);
      await c.exited;
    }
    if (signal.aborted || rt.deleting) {
      c.final = true;
      return updatePhase(rt);
    }
    const failed = c.state.terminated?.exitCode !== 0;
    const restart = c.isInit ? failed && policy !== "Never" : policy === "Always" || (policy === "OnFailure" && failed);
    if (!restart) {
      c.final = true;
      return updatePhase(rt);
    }
    // As the kubelet backs off: the first restart is immediate, then CrashLoopBackOff waits 10 s, 20 s, … 5 min.
    // restartCount counts restarts done, so it grows when the next attempt starts.
    c.lastState = { terminated: /** @type {any} */ (c.state.terminated) };
    const backoff = c.restartCount === 0 ? 0 : Math.min(10 * 2 ** (c.restartCount - 1), 300);
    if (backoff) {
      c.state = { waiting: { reason: "CrashLoopBackOff", message: `back-off ${backoff}s restarting failed container=${c.name} pod=${rt.pod.metadata.name}_${rt.pod.metadata.namespace}(${rt.uid})` } };
      podEvent(rt.pod, "Warning", "BackOff", "Back-off restarting failed container", c.name);
      updatePhase(rt);
      await sleep(backoff * 1000, signal);
    }
    c.restartCount++;
  }
}

/** An image the node doesn't have: ErrImagePull, then ImagePullBackOff with growing delays, until deleted. */
async function imagePullLoop(rt, c, norm) {
  const signal = rt.cancel.signal;
  const known = [...images.keys()].join(", ") || "none";
  const reason = `failed to pull and unpack image "${norm}": the Atrium node harness pulls no images and has no "${norm}" (it has: ${known})`;
  let delay = 10;
  while (!signal.aborted) {
    c.state = { waiting: { reason: "ErrImagePull", message: reason } };
    podEvent(rt.pod, "Normal", "Pulling", `Pulling image "${c.spec.image}"`, c.name);
    podEvent(rt.pod, "Warning", "Failed", `Failed to pull image "${c.spec.image}": ${reason}`, c.name);
    podEvent(rt.pod, "Warning", "Failed", "Error: ErrImagePull", c.name);
    queueStatus(rt);
    await sleep(3000, signal);
    if (signal.aborted) return;
    c.state = { waiting: { reason: "ImagePullBackOff", message: `Back-off pulling image "${c.spec.image}": ErrImagePull: ${reason}` } };
    podEvent(rt.pod, "Normal", "BackOff", `Back-off pulling image "${c.spec.image}"`, c.name);
    queueStatus(rt);
    await sleep(delay * 1000, signal);
    delay = Math.min(delay * 2, 300);
  }
}

/** Expands $(VAR) from vars; $$ escapes, unknown references stay as written (the kubelet's rules). */
function expand(s, vars) {
  return String(s).replace(/\$\$|\$\(([A-Za-z_][A-Za-z0-9_.-]*)\)/g, (m, name) => (m === "$$" ? "$" : name in vars ? vars[name] : m));
}

/**
 * Everything to start a container: its user, env, argv, working dir and mounts — or why it can't start
 * (configError: stays Waiting; startError: terminates with StartError).
 * @returns {Promise<{ configError: string } | { startError: string } | { uid: number, gid: number, groups: number[],
 *   env: Record<string, string>, argv: string[], workingDir: string, mounts: { source: string, target: string, readOnly: boolean }[], noNewPrivs: boolean }>}
 */
async function prepareExec(rt, c, image) {
  const pod = rt.pod;
  const ns = pod.metadata.namespace;
  const psc = pod.spec.securityContext ?? {};
  const csc = c.spec.securityContext ?? {};
  const uid = csc.runAsUser ?? psc.runAsUser ?? image.user;
  const runAsNonRoot = csc.runAsNonRoot ?? psc.runAsNonRoot;
  // No user from the pod or the image means root, as for an image without USER. The harness refuses root unless
  // the pod asks for it explicitly (runAsUser: 0), the way a restricted policy refuses it.
  if (uid === undefined || uid === 0) {
    if (runAsNonRoot || uid === undefined) {
      return {
        configError:
          uid === undefined && !runAsNonRoot
            ? `container has no runAsUser and its image no user, so it would run as root: the Atrium node harness runs a container as root only when the pod sets runAsUser: 0 (pod: "${pod.metadata.name}_${ns}(${rt.uid})", container: ${c.name})`
            : `container has runAsNonRoot and image will run as root (pod: "${pod.metadata.name}_${ns}(${rt.uid})", container: ${c.name})`,
      };
    }
  }
  const users = passwd();
  const gid = csc.runAsGroup ?? psc.runAsGroup ?? users.get(uid)?.gid ?? 0;
  const groups = [...new Set([...(psc.supplementalGroups ?? []), ...(psc.fsGroup !== undefined ? [psc.fsGroup] : [])])];

  // Env: the image's, then envFrom, then env in order; $(VAR) refers to variables defined before it.
  /** @type {Record<string, string>} */
  const env = {
    PATH: "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
    HOSTNAME: pod.metadata.name.slice(0, 63),
    HOME: users.get(uid)?.home ?? "/",
    ...(image.env ?? {}),
  };
  try {
    for (const from of c.spec.envFrom ?? []) {
      const ref = from.configMapRef ?? from.secretRef;
      const data = await keyValues(ns, from.secretRef ? "secrets" : "configmaps", ref.name, ref.optional);
      for (const [k, v] of Object.entries(data)) env[`${from.prefix ?? ""}${k}`] = v;
    }
    for (const e of c.spec.env ?? []) {
      if (e.valueFrom) {
        const vf = e.valueFrom;
        if (vf.fieldRef) env[e.name] = fieldValue(rt, vf.fieldRef.fieldPath);
        else if (vf.resourceFieldRef) env[e.name] = resourceValue(rt, vf.resourceFieldRef, c.name);
        else if (vf.configMapKeyRef || vf.secretKeyRef) {
          const ref = vf.configMapKeyRef ?? vf.secretKeyRef;
          const data = await keyValues(ns, vf.secretKeyRef ? "secrets" : "configmaps", ref.name, ref.optional);
          if (ref.key in data) env[e.name] = /** @type {string} */ (data[ref.key]);
          else if (!ref.optional) throw new Error(`couldn't find key ${ref.key} in ${vf.secretKeyRef ? "Secret" : "ConfigMap"} ${ns}/${ref.name}`);
        } else throw new Error(`env ${e.name}: unsupported valueFrom ${Object.keys(vf).join(",")}`);
      } else env[e.name] = expand(e.value ?? "", env);
    }
  } catch (error) {
    return { configError: /** @type {Error} */ (error).message };
  }

  const command = c.spec.command ?? image.command ?? [];
  const args = c.spec.args ?? (c.spec.command ? [] : image.args ?? []);
  const argv = [...command, ...args].map((a) => expand(a, env));
  const workingDir = c.spec.workingDir ?? image.workingDir ?? "/";
  if (!argv.length) return { startError: "failed to start container process: no command specified (the pod gives none and the image config has none)" };
  const missing = findExecutable(argv[0] ?? "", env.PATH ?? "", workingDir);
  if (missing) return { startError: missing };

  const mounts = [];
  for (const m of c.spec.volumeMounts ?? []) {
    const vol = rt.volumes.get(m.name);
    if (!vol) return { configError: `volumeMount ${m.name}: no such volume in the pod` };
    if (!path.isAbsolute(m.mountPath)) return { configError: `volumeMount ${m.name}: mountPath ${m.mountPath} is not absolute` };
    const sub = m.subPath ? expand(m.subPath, env) : m.subPathExpr ? expand(m.subPathExpr, env) : "";
    const source = sub ? path.join(vol.path, sub) : vol.path;
    if (!source.startsWith(vol.path)) return { configError: `volumeMount ${m.name}: subPath ${sub} leaves the volume` };
    if (sub && !fs.existsSync(source)) fs.mkdirSync(source, { recursive: true, mode: 0o777 }); // as the kubelet creates a missing subPath
    mounts.push({ source, target: m.mountPath, readOnly: !!m.readOnly || vol.readOnly });
  }
  // Shallow targets first, so a mount inside another mount lands in the mounted volume (as runtimes order them).
  mounts.sort((a, b) => a.target.split("/").length - b.target.split("/").length);
  return { uid, gid, groups, env, argv, workingDir, mounts, noNewPrivs: csc.allowPrivilegeEscalation === false };
}

async function keyValues(ns, kind, name, optional) {
  const r = await kubelet.request("GET", `/api/v1/namespaces/${ns}/${kind}/${name}`);
  if (r.status === 404 && optional) return {};
  if (r.status !== 200) throw new Error(`${kind === "secrets" ? "secret" : "configmap"} "${name}" ${r.status === 404 ? "not found" : `: HTTP ${r.status}`}`);
  const out = {};
  for (const [k, v] of Object.entries(r.json.data ?? {})) out[k] = kind === "secrets" ? Buffer.from(String(v), "base64").toString("utf8") : String(v);
  return out;
}

/** Why argv[0] can't be executed (runc's wording), or undefined when it can be found. */
function findExecutable(cmd, PATH, cwd) {
  const executable = (p) => {
    try {
      const st = fs.statSync(p);
      return st.isFile() && (st.mode & 0o111) !== 0;
    } catch {
      return false;
    }
  };
  if (cmd.includes("/")) {
    const p = path.resolve(cwd, cmd);
    if (!fs.existsSync(p)) return `failed to create containerd task: OCI runtime create failed: unable to start container process: exec: "${cmd}": stat ${cmd}: no such file or directory: unknown`;
    if (!executable(p)) return `failed to create containerd task: OCI runtime create failed: unable to start container process: exec: "${cmd}": permission denied: unknown`;
    return undefined;
  }
  if (PATH.split(":").some((dir) => dir && executable(path.join(dir, cmd)))) return undefined;
  return `failed to create containerd task: OCI runtime create failed: unable to start container process: exec: "${cmd}": executable file not found in $PATH: unknown`;
}

/**
 * Starts the container's process: `ip netns exec <pod netns> unshare --mount --uts` runs a generated sh script
 * that sets the hostname, bind-mounts the volumes, changes to the working dir and `exec`s setpriv, which drops to
 * the container's uid/gid/groups and execs the command. The process is a session leader (its own process group),
 * so a signal to the group reaches everything it started.
 */
async function startProcess(rt, c, p) {
  const lines = [
    "#!/bin/sh",
    `# Generated by the Atrium node harness: pod ${rt.pod.metadata.namespace}/${rt.pod.metadata.name}, container ${c.name}`,
    'fail() { echo "atrium-node-harness: $1" >&2; exit 128; }',
    // Its own UTS namespace: the pod's name as hostname (a hostNetwork pod gets the node's, as it would).
    `${bin.hostname} ${q(rt.pod.spec.hostNetwork ? cfg.nodeName : rt.pod.metadata.name.slice(0, 63))} || fail ${q("cannot set the hostname")}`,
  ];
  const targets = [];
  for (const m of p.mounts) {
    // Missing mount points are created on the host (recorded, and removed when the cluster stops) unless they lie
    // inside an earlier mount of this container, where the script creates them in the mounted volume.
    const nested = targets.some((t) => m.target === t || m.target.startsWith(t + "/"));
    if (!nested) {
      const missing = firstMissing(m.target);
      if (missing) recordCreated(missing);
    }
    targets.push(m.target);
    const isFile = fs.existsSync(m.source) && fs.statSync(m.source).isFile();
    const make = isFile ? `{ ${bin.mkdir} -p ${q(path.dirname(m.target))} && : > ${q(m.target)}; }` : `${bin.mkdir} -p ${q(m.target)}`;
    lines.push(`[ -e ${q(m.target)} ] || ${make} || fail ${q(`cannot create the mount point ${m.target}`)}`);
    lines.push(`${bin.mount} --bind ${q(m.source)} ${q(m.target)} || fail ${q(`cannot bind-mount ${m.source} at ${m.target}`)}`);
    if (m.readOnly) lines.push(`${bin.mount} -o remount,bind,ro ${q(m.target)} || fail ${q(`cannot make ${m.target} read-only`)}`);
  }
  // runc creates a missing working directory; so does the harness (recorded like the mount points).
  const missingCwd = firstMissing(p.workingDir);
  if (missingCwd && !targets.some((t) => p.workingDir === t || p.workingDir.startsWith(t + "/"))) recordCreated(missingCwd);
  lines.push(`cd ${q(p.workingDir)} 2>/dev/null || { ${bin.mkdir} -p ${q(p.workingDir)} && cd ${q(p.workingDir)}; } || fail ${q(`cannot change to the working directory ${p.workingDir}`)}`);
  const groups = p.groups.length ? `--groups=${p.groups.join(",")}` : "--clear-groups";
  lines.push(`exec ${bin.setpriv} --reuid=${p.uid} --regid=${p.gid} ${groups}${p.noNewPrivs ? " --no-new-privs" : ""} -- ${p.argv.map(q).join(" ")}`);
  const script = path.join(rt.dir, `${c.name}.sh`);
  fs.writeFileSync(script, lines.join("\n") + "\n", { mode: 0o700 });

  // Logs: <container>.log has both streams as they arrive (what pods/log serves), <container>.stderr.log only
  // stderr; the previous attempt's log is kept as <container>.previous.log (pods/log?previous=true).
  const logFile = path.join(rt.dir, `${c.name}.log`);
  if (c.restartCount > 0 && fs.existsSync(logFile)) fs.renameSync(logFile, path.join(rt.dir, `${c.name}.previous.log`));
  const combined = fs.createWriteStream(logFile, { flags: "a" });
  const stderrLog = fs.createWriteStream(path.join(rt.dir, `${c.name}.stderr.log`), { flags: "a" });
  let stderrTail = "";

  const startedAt = nowTime();
  const inPod = [bin.unshare, "--mount", "--uts", "--propagation", "private", bin.sh, script];
  const [cmd = "", ...args] = rt.netns ? [bin.ip, "netns", "exec", rt.netns, ...inPod] : inPod; // hostNetwork: no netns
  const child = spawn(cmd, args, {
    env: p.env,
    cwd: "/",
    detached: true,
    stdio: ["ignore", "pipe", "pipe"],
  });
  c.child = child;
  c.containerID = `atrium://${randomBytes(16).toString("hex")}`;
  child.stdout?.on("data", (d) => combined.write(d));
  child.stderr?.on("data", (d) => {
    combined.write(d);
    stderrLog.write(d);
    stderrTail = (stderrTail + d.toString("utf8")).slice(-8192);
  });
  let spawnError = "";
  child.on("error", (error) => (spawnError = error.message));
  c.exited = new Promise((resolve) => {
    child.on("close", (code, signal) => {
      combined.end();
      stderrLog.end();
      const finishedAt = nowTime();
      const exitCode = code ?? 128 + (os.constants.signals[/** @type {NodeJS.Signals} */ (signal)] ?? 0);
      // The wrapper or setpriv failing (mount, exec) is a start failure, not the program's own exit.
      const setupFailure = /^atrium-node-harness: (.*)$/m.exec(stderrTail)?.[1] ?? /^setpriv: (failed to execute .*)$/m.exec(stderrTail)?.[1];
      if (spawnError || (setupFailure && (exitCode === 128 || exitCode === 126 || exitCode === 127))) {
        c.state = { terminated: { exitCode: 128, reason: "StartError", message: spawnError || `unable to start container process: ${setupFailure}`, startedAt: "1970-01-01T00:00:00Z", finishedAt, containerID: c.containerID } };
        podEvent(rt.pod, "Warning", "Failed", `Error: ${c.state.terminated?.message}`, c.name);
      } else {
        const message = exitCode === 0 ? undefined : tailMessage(stderrTail);
        c.state = { terminated: { exitCode, reason: exitCode === 0 ? "Completed" : "Error", ...(message ? { message } : {}), startedAt, finishedAt, containerID: c.containerID } };
      }
      c.ready = false;
      c.child = undefined;
      log(`pod ${rt.key}: container ${c.name} exited ${exitCode}${signal ? ` (${signal})` : ""}`);
      queueStatus(rt);
      resolve(undefined);
    });
  });
  if (child.pid) {
    c.state = { running: { startedAt } };
    // No probes are run: a started container counts as ready.
    c.ready = !c.isInit;
    podEvent(rt.pod, "Normal", "Created", `Created container: ${c.name}`, c.name);
    podEvent(rt.pod, "Normal", "Started", `Started container ${c.name}`, c.name);
    log(`pod ${rt.key}: container ${c.name} started, pid ${child.pid}, uid ${p.uid}, gid ${p.gid}`);
    updatePhase(rt);
  }
}

/** The last 80 lines / 2048 bytes, as terminationMessagePolicy FallbackToLogsOnError takes them. */
function tailMessage(text) {
  const lines = text.replace(/\n$/, "").split("\n").slice(-80).join("\n");
  return lines.length > 2048 ? lines.slice(-2048) : lines;
}

function killGroup(c, signal) {
  const pid = c.child?.pid;
  if (!pid) return;
  try {
    process.kill(-pid, signal);
  } catch {}
}

/**
 * Graceful deletion, as the kubelet does it: SIGTERM to each container's process group, SIGKILL after the grace
 * period, the final status, the network torn down, then the pod removed with gracePeriodSeconds=0.
 */
async function terminatePod(rt) {
  const pod = rt.pod;
  const grace = pod.metadata.deletionGracePeriodSeconds ?? pod.spec.terminationGracePeriodSeconds ?? 30;
  rt.cancel.abort(); // ends back-off waits and pull loops; no restarts from here on
  const running = [...rt.init.values(), ...rt.containers.values()].filter((c) => c.child);
  await Promise.all(
    running.map(async (c) => {
      podEvent(pod, "Normal", "Killing", `Stopping container ${c.name}`, c.name);
      killGroup(c, "SIGTERM");
      const timeout = sleep(grace * 1000).then(() => "timeout");
      if ((await Promise.race([c.exited, timeout])) === "timeout") {
        killGroup(c, "SIGKILL");
        await Promise.race([c.exited, sleep(5000)]);
      }
    }),
  );
  for (const c of [...rt.init.values(), ...rt.containers.values()]) {
    if (!c.state.terminated && !c.state.running) c.final = true; // never started
    c.final = true;
    c.ready = false;
  }
  updatePhase(rt, true);
  await teardownSandbox(rt);
  queueStatus(rt);
  await rt.statusChain;
  await deletePodObject(pod);
}

async function deletePodObject(pod) {
  const p = `/api/v1/namespaces/${pod.metadata.namespace}/pods/${pod.metadata.name}`;
  const r = await kubelet.request("DELETE", p, { apiVersion: "v1", kind: "DeleteOptions", gracePeriodSeconds: 0, preconditions: { uid: pod.metadata.uid } });
  if (r.status >= 300 && r.status !== 404 && r.status !== 409) log(`delete ${p}: HTTP ${r.status} ${r.json?.message ?? ""}`);
  else log(`pod ${pod.metadata.namespace}/${pod.metadata.name} removed`);
}

/** The pod phase from its containers (the kubelet's rules, simplified); a terminal phase tears the sandbox down. */
function updatePhase(rt, deleting = false) {
  if (!rt.terminal) {
    const inits = [...rt.init.values()];
    const mains = [...rt.containers.values()];
    const failedExit = (c) => (c.state.terminated?.exitCode ?? 0) !== 0;
    let phase = "Pending";
    if (inits.some((c) => c.final && failedExit(c))) phase = "Failed";
    else if (!rt.initDone && !deleting) phase = "Pending";
    else if (mains.length && mains.every((c) => c.final)) phase = mains.some(failedExit) || (deleting && !mains.every((c) => c.state.terminated)) ? "Failed" : "Succeeded";
    else if (mains.some((c) => c.state.running || c.restartCount > 0 || c.final)) phase = "Running";
    rt.phase = phase;
    if (phase === "Succeeded" || phase === "Failed") {
      rt.terminal = true;
      // The kubelet releases the sandbox of a finished pod; its status keeps the IP.
      if (!deleting) teardownSandbox(rt).catch((error) => log(`teardown ${rt.key}: ${error.message}`));
    }
  }
  queueStatus(rt);
}

function containerStatus(c) {
  return {
    name: c.name,
    state: c.state,
    lastState: c.lastState,
    ready: c.ready,
    restartCount: c.restartCount,
    image: c.image,
    imageID: c.imageID,
    ...(c.containerID ? { containerID: c.containerID } : {}),
    started: !!c.state.running,
  };
}

function condition(rt, type, status, reason, message) {
  const prev = rt.conditionTimes[type];
  if (!prev || prev.status !== status) rt.conditionTimes[type] = { status, time: nowTime() };
  // null, not absent: conditions are merged by type in a strategic merge patch, so an absent reason or message
  // would keep the previous one.
  return { type, status, lastProbeTime: null, lastTransitionTime: rt.conditionTimes[type]?.time, reason: reason ?? null, message: message ?? null };
}

function podStatus(rt) {
  const mains = [...rt.containers.values()];
  const notReady = mains.filter((c) => !c.ready).map((c) => c.name);
  const done = rt.phase === "Succeeded" || rt.phase === "Failed";
  const readyReason = done ? "PodCompleted" : notReady.length ? "ContainersNotReady" : undefined;
  const readyMessage = !done && notReady.length ? `containers with unready status: [${notReady.join(" ")}]` : undefined;
  const initPending = [...rt.init.values()].filter((c) => !(c.state.terminated?.exitCode === 0)).map((c) => c.name);
  const conditions = [
    condition(rt, "PodReadyToStartContainers", rt.sandboxReady ? "True" : "False"),
    condition(rt, "Initialized", rt.initDone ? "True" : "False", rt.initDone ? undefined : "ContainersNotInitialized", rt.initDone ? undefined : `containers with incomplete status: [${initPending.join(" ")}]`),
    condition(rt, "Ready", notReady.length || done ? "False" : "True", readyReason, readyMessage),
    condition(rt, "ContainersReady", notReady.length || done ? "False" : "True", readyReason, readyMessage),
  ];
  return {
    phase: rt.phase,
    conditions,
    hostIP: cfg.hostAddress,
    hostIPs: [{ ip: cfg.hostAddress }],
    ...(rt.ip ? { podIP: rt.ip, podIPs: [{ ip: rt.ip }] } : {}),
    startTime: rt.startTime,
    containerStatuses: mains.map(containerStatus),
    ...(rt.init.size ? { initContainerStatuses: [...rt.init.values()].map(containerStatus) } : {}),
  };
}

/** Coalesced, ordered status patches: at most one in flight per pod, the next one sends the latest state. */
function queueStatus(rt) {
  if (rt.statusQueued) return;
  rt.statusQueued = true;
  rt.statusChain = rt.statusChain.then(async () => {
    rt.statusQueued = false;
    const p = `/api/v1/namespaces/${rt.pod.metadata.namespace}/pods/${rt.pod.metadata.name}/status`;
    try {
      const r = await kubelet.request("PATCH", p, { metadata: { uid: rt.uid }, status: podStatus(rt) }, { contentType: "application/strategic-merge-patch+json" });
      if (r.status >= 300 && r.status !== 404) log(`status of ${rt.key}: HTTP ${r.status} ${r.json?.message ?? ""}`);
    } catch (error) {
      log(`status of ${rt.key}: ${/** @type {Error} */ (error).message}`);
    }
  });
}

// ---------------------------------------------------------------------------------------------- provisioner
const provisioning = new Set();

async function provision(pvc) {
  const uid = pvc.metadata.uid;
  if (pvc.spec.storageClassName !== cfg.storageClass || pvc.spec.volumeName || pvc.metadata.deletionTimestamp || provisioning.has(uid)) return;
  provisioning.add(uid);
  const ns = pvc.metadata.namespace;
  const name = `pvc-${uid}`;
  try {
    if (pvc.spec.volumeMode === "Block") throw new Error("volumeMode Block is not supported: the Atrium local provisioner makes folders");
    const dir = path.join(volumesDir, uid);
    fs.mkdirSync(dir, { recursive: true });
    // World-writable, as local-path provisioners make them: a hostPath/local volume gets no fsGroup handling,
    // and the pod's runAsUser must be able to write its home.
    fs.chmodSync(dir, 0o777);
    const pv = {
      apiVersion: "v1",
      kind: "PersistentVolume",
      metadata: { name, annotations: { "pv.kubernetes.io/provisioned-by": cfg.provisioner }, labels: { "atrium.dev/claim-namespace": ns } },
      spec: {
        capacity: { storage: pvc.spec.resources?.requests?.storage ?? "1Gi" },
        accessModes: pvc.spec.accessModes?.length ? pvc.spec.accessModes : ["ReadWriteOnce"],
        persistentVolumeReclaimPolicy: "Delete",
        storageClassName: cfg.storageClass,
        volumeMode: "Filesystem",
        // Pre-bound: the PV controller in kube-controller-manager completes the binding on both sides.
        claimRef: { apiVersion: "v1", kind: "PersistentVolumeClaim", namespace: ns, name: pvc.metadata.name, uid },
        local: { path: dir },
        nodeAffinity: { required: { nodeSelectorTerms: [{ matchExpressions: [{ key: "kubernetes.io/hostname", operator: "In", values: [cfg.nodeName] }] }] } },
      },
    };
    const r = await provisionerApi.request("POST", "/api/v1/persistentvolumes", pv);
    if (r.status >= 300 && r.status !== 409) throw new Error(`creating ${name}: HTTP ${r.status} ${r.json?.message ?? ""}`);
    log(`provisioned ${name} for ${ns}/${pvc.metadata.name} at ${dir}`);
    claimEvent(pvc, "Normal", "ProvisioningSucceeded", `Successfully provisioned volume ${name} (${dir})`);
  } catch (error) {
    provisioning.delete(uid); // retried on the next event
    log(`provisioning for ${ns}/${pvc.metadata.name}: ${/** @type {Error} */ (error).message}`);
    claimEvent(pvc, "Warning", "ProvisioningFailed", /** @type {Error} */ (error).message);
  }
}

function claimEvent(pvc, type, reason, message) {
  const t = nowTime();
  provisionerApi
    .request("POST", `/api/v1/namespaces/${pvc.metadata.namespace}/events`, {
      apiVersion: "v1",
      kind: "Event",
      metadata: { name: `${pvc.metadata.name}.${randomBytes(8).toString("hex")}`, namespace: pvc.metadata.namespace },
      involvedObject: { apiVersion: "v1", kind: "PersistentVolumeClaim", namespace: pvc.metadata.namespace, name: pvc.metadata.name, uid: pvc.metadata.uid },
      reason,
      message,
      type,
      source: { component: cfg.provisioner },
      firstTimestamp: t,
      lastTimestamp: t,
      count: 1,
    })
    .catch(() => {});
}

/** Released volumes of ours with reclaim policy Delete: remove the folder and the PV (as a provisioner does). */
async function reclaim(pv) {
  if (pv.metadata.annotations?.["pv.kubernetes.io/provisioned-by"] !== cfg.provisioner) return;
  if (pv.status?.phase !== "Released" || pv.spec.persistentVolumeReclaimPolicy !== "Delete" || pv.metadata.deletionTimestamp) return;
  const dir = pv.spec.local?.path ?? "";
  if (dir.startsWith(volumesDir + path.sep)) fs.rmSync(dir, { recursive: true, force: true });
  const r = await provisionerApi.request("DELETE", `/api/v1/persistentvolumes/${pv.metadata.name}`);
  if (r.status >= 300 && r.status !== 404) log(`deleting ${pv.metadata.name}: HTTP ${r.status} ${r.json?.message ?? ""}`);
  else log(`reclaimed ${pv.metadata.name} (${dir} removed)`);
}

// ---------------------------------------------------------------------------------------------- kubelet API
/**
 * The kubelet's HTTPS port, for what the API server forwards to it: GET /containerLogs/<ns>/<pod>/<container>
 * (pods/log: follow, tailLines, limitBytes, previous; timestamps and sinceSeconds are ignored) and /healthz.
 * Only clients with a certificate from the cluster CA (the API server's kubelet client cert) get in.
 */
function startKubeletServer() {
  const server = https.createServer(
    { key: fs.readFileSync(cfg.kubeletKeyFile), cert: fs.readFileSync(cfg.kubeletCertFile), ca, requestCert: true, rejectUnauthorized: true },
    (req, res) => {
      const url = new URL(req.url ?? "/", "https://node");
      if (url.pathname === "/healthz") return void res.end("ok");
      const m = /^\/containerLogs\/([^/]+)\/([^/]+)\/([^/]+)$/.exec(url.pathname);
      if (!m || req.method !== "GET") {
        res.writeHead(501, { "content-type": "text/plain" });
        return void res.end(`${req.method} ${url.pathname}: not supported by the Atrium node harness (only container logs are)\n`);
      }
      const [, ns, name, container] = m.map(decodeURIComponent);
      const rt = [...pods.values()].find((p) => p.pod.metadata.namespace === ns && p.pod.metadata.name === name);
      const dir = path.join(podsDir, `${ns}_${name}`);
      const previous = url.searchParams.get("previous") === "true";
      const file = path.join(dir, `${container}${previous ? ".previous" : ""}.log`);
      if (!fs.existsSync(file)) {
        // The kubelet's answers (the API server passes them on as the error message).
        const waiting = (rt?.containers.get(container) ?? rt?.init.get(container))?.state.waiting?.reason;
        res.writeHead(400, { "content-type": "text/plain" });
        return void res.end(
          previous
            ? `previous terminated container "${container}" in pod "${name}" not found\n`
            : waiting
              ? `container "${container}" in pod "${name}" is waiting to start: ${waiting}\n`
              : `container "${container}" in pod "${name}" has no log on this node\n`,
        );
      }
      const tailLines = url.searchParams.has("tailLines") ? Number(url.searchParams.get("tailLines")) : undefined;
      const limitBytes = url.searchParams.has("limitBytes") ? Number(url.searchParams.get("limitBytes")) : Infinity;
      let text = fs.readFileSync(file);
      if (tailLines !== undefined) {
        const lines = text.toString("utf8").split("\n");
        if (lines.at(-1) === "") lines.pop();
        text = Buffer.from(lines.slice(Math.max(0, lines.length - tailLines)).map((l) => l + "\n").join(""));
      }
      res.writeHead(200, { "content-type": "text/plain" });
      let sent = Math.min(text.length, limitBytes);
      res.write(text.subarray(0, sent));
      const c = rt?.containers.get(container) ?? rt?.init.get(container);
      if (url.searchParams.get("follow") !== "true" || previous || !c?.child || sent >= limitBytes) return void res.end();
      // follow: stream what the container appends until it exits (or the client goes away).
      let offset = fs.statSync(file).size;
      const timer = setInterval(() => {
        const size = fs.existsSync(file) ? fs.statSync(file).size : offset;
        if (size > offset) {
          const fd = fs.openSync(file, "r");
          const chunk = Buffer.alloc(Math.min(size - offset, limitBytes - sent));
          fs.readSync(fd, chunk, 0, chunk.length, offset);
          fs.closeSync(fd);
          offset = size;
          sent += chunk.length;
          res.write(chunk);
        }
        if (!c.child || sent >= limitBytes) {
          clearInterval(timer);
          res.end();
        }
      }, 200);
      res.on("close", () => clearInterval(timer));
    },
  );
  server.on("error", (error) => log(`kubelet server: ${error.message}`));
  server.listen(cfg.kubeletPort, cfg.hostAddress, () => log(`kubelet API on https://${cfg.hostAddress}:${cfg.kubeletPort}`));
  return server;
}

// ---------------------------------------------------------------------------------------------- shutdown
let shuttingDown = false;

async function shutdown(why) {
  if (shuttingDown) return;
  shuttingDown = true;
  log(`shutting down (${why})`);
  setTimeout(() => process.exit(1), 25_000).unref(); // bounded, whatever hangs
  stopAll.abort();
  // Pods: SIGTERM, 2 s, SIGKILL — the cluster is going away, no full grace periods.
  await Promise.all(
    [...pods.values()].map(async (rt) => {
      rt.cancel.abort();
      const running = [...rt.init.values(), ...rt.containers.values()].filter((c) => c.child);
      for (const c of running) killGroup(c, "SIGTERM");
      await Promise.race([Promise.all(running.map((c) => c.exited)), sleep(2000)]);
      for (const c of running) killGroup(c, "SIGKILL");
      await teardownSandbox(rt);
    }),
  );
  if (why === "stdin closed") endControlPlane();
  removeCreatedPaths();
  process.exit(0);
}

/** The parent died without stopping the cluster: end the control plane it started and remove the bridge. */
function endControlPlane() {
  try {
    const pids = JSON.parse(fs.readFileSync(cfg.pidsFile, "utf8"));
    for (const [name, pid] of Object.entries(pids)) {
      if (!pid || Number(pid) === process.pid) continue;
      try {
        process.kill(Number(pid), "SIGKILL");
      } catch {}
    }
  } catch {}
  spawnSync(bin.ip, ["link", "delete", cfg.bridge], { stdio: "ignore" });
}

/** Mount points and working dirs the harness created on the host, removed if still empty (never their contents). */
function removeCreatedPaths() {
  let entries = [];
  try {
    entries = [...new Set(fs.readFileSync(createdPathsFile, "utf8").split("\n").filter(Boolean))];
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
  fs.rmSync(createdPathsFile, { force: true });
}

process.on("SIGTERM", () => void shutdown("SIGTERM"));
process.on("SIGINT", () => void shutdown("SIGINT"));
if (cfg.exitOnStdinEof) {
  process.stdin.on("end", () => void shutdown("stdin closed"));
  process.stdin.on("error", () => void shutdown("stdin closed"));
  process.stdin.resume();
}

// ---------------------------------------------------------------------------------------------- main
async function waitForApi() {
  const deadline = Date.now() + 10 * 60_000;
  for (;;) {
    try {
      const r = await kubelet.request("GET", "/readyz", undefined, { timeoutMs: 5000 });
      if (r.status === 200) return;
    } catch {}
    if (Date.now() > deadline) throw new Error(`the API server at ${cfg.apiUrl} was not ready within 10 minutes`);
    await sleep(500, stopAll.signal);
    if (stopAll.signal.aborted) throw new Error("stopped");
  }
}

async function main() {
  log(`Atrium node harness for ${cfg.nodeName}: API ${cfg.apiUrl}, pods on ${cfg.bridge} ${cfg.podSubnet}`);
  await waitForApi();
  await registerNode();
  startKubeletServer();
  void leaseLoop();
  void nodeStatusLoop();
  const onError = (what) => (error) => !stopAll.signal.aborted && log(`${what}: ${error.message}`);
  void informer(kubelet, {
    path: "/api/v1/pods",
    query: `fieldSelector=${encodeURIComponent(`spec.nodeName=${cfg.nodeName}`)}`,
    signal: stopAll.signal,
    onSync: (items) => {
      const seen = new Set(items.map((p) => p.metadata.uid));
      for (const rt of [...pods.values()]) if (!seen.has(rt.uid)) forget(rt.pod); // deleted while we weren't watching
      for (const p of items) reconcile(p);
    },
    onEvent: (e) => (e.type === "DELETED" ? forget(e.object) : reconcile(e.object)),
    onError: onError("pod watch"),
  });
  void informer(provisionerApi, {
    path: "/api/v1/persistentvolumeclaims",
    signal: stopAll.signal,
    onSync: (items) => items.forEach((pvc) => void provision(pvc)),
    onEvent: (e) => e.type !== "DELETED" && void provision(e.object),
    onError: onError("pvc watch"),
  });
  void informer(provisionerApi, {
    path: "/api/v1/persistentvolumes",
    signal: stopAll.signal,
    onSync: (items) => items.forEach((pv) => void reclaim(pv).catch((e) => log(e.message))),
    onEvent: (e) => e.type !== "DELETED" && void reclaim(e.object).catch((err) => log(err.message)),
    onError: onError("pv watch"),
  });
}

main().catch((error) => {
  log(`fatal: ${error.stack ?? error}`);
  process.exit(1);
});
