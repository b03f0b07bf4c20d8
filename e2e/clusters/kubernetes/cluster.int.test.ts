// Smoke test of the real Kubernetes control plane (etcd + kube-apiserver + controller-manager + scheduler, v1.37)
// with the node harness: RBAC and the TokenRequest API; a pod with a PVC that runs a real process as its
// runAsUser in its own network namespace and writes into its bind-mounted volume; the real scheduler refusing
// a pod too big for the node; ErrImagePull; StartError; refusing root; graceful deletion; and a stop() that
// leaves nothing behind. Builds the binaries if they aren't cached (~7 min cold). Run alone:
//   node --import tsx --test --test-timeout=900000 e2e/clusters/kubernetes/cluster.int.test.ts
// Uses instance 5 (its own ports, bridge atrium-br5, subnet 10.249.0.0/16), so a demo cluster can run beside it.
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { randomBytes } from "node:crypto";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { after, before, test } from "node:test";
import { startKubernetesCluster } from "./cluster.mjs";
import { kubeClient } from "./kube-client.mjs";
import { ensureKubernetes } from "./provision.mjs";

type Cluster = Awaited<ReturnType<typeof startKubernetesCluster>>;
type Pod = { metadata: { name: string; namespace: string; uid: string }; spec: any; status?: any };

const workDir = fs.mkdtempSync(path.join(os.tmpdir(), "atrium-k8s-test-"));
const suffix = randomBytes(3).toString("hex");
let cluster: Cluster | undefined;
const metrics: Record<string, string> = {};
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const seconds = (ms: number) => `${(ms / 1000).toFixed(1)} s`;
const isRoot = process.getuid?.() === 0;

before(
  async () => {
    if (!isRoot) return;
    let t = Date.now();
    await ensureKubernetes();
    metrics.provision = seconds(Date.now() - t);
    t = Date.now();
    cluster = await startKubernetesCluster({ workDir, instance: 5 });
    metrics.clusterStart = seconds(Date.now() - t);
  },
  { timeout: 60 * 60_000 },
);

after(async () => {
  await cluster?.stop();
  console.log(`# metrics ${JSON.stringify(metrics)}`);
  if (!process.env.ATRIUM_KEEP_K8S_WORK) fs.rmSync(workDir, { recursive: true, force: true });
  else console.log(`# kept ${workDir}`);
});

function c(): Cluster {
  assert.ok(cluster, "the cluster did not start");
  return cluster;
}

async function api(method: string, p: string, body?: unknown, token?: string) {
  return c().api.request(method, p, body, token ? { token } : {});
}

/** Polls until check(obj) holds (deadline), returning the object; the last state goes into the error. */
async function waitFor<T>(what: string, get: () => Promise<T | undefined>, check: (v: T) => boolean, timeoutMs: number): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: T | undefined;
  while (Date.now() < deadline) {
    last = await get();
    if (last !== undefined && check(last)) return last;
    await sleep(200);
  }
  throw new Error(`${what}: not within ${timeoutMs / 1000} s; last: ${JSON.stringify(last)?.slice(0, 3000)}`);
}

async function getPod(ns: string, name: string): Promise<Pod | undefined> {
  const r = await api("GET", `/api/v1/namespaces/${ns}/pods/${name}`);
  return r.status === 200 ? r.json : undefined;
}

/** A namespace whose default ServiceAccount exists (the ServiceAccount admission plugin needs it for pods). */
async function namespace(name: string) {
  const r = await api("POST", "/api/v1/namespaces", { apiVersion: "v1", kind: "Namespace", metadata: { name } });
  assert.equal(r.status, 201, r.text);
  await waitFor(`ServiceAccount ${name}/default`, async () => (await api("GET", `/api/v1/namespaces/${name}/serviceaccounts/default`)).status, (s) => s === 200, 30_000);
  return name;
}

function podSpec(name: string, container: Record<string, unknown>, extra: Record<string, unknown> = {}) {
  return {
    apiVersion: "v1",
    kind: "Pod",
    metadata: { name },
    spec: {
      restartPolicy: "Never",
      terminationGracePeriodSeconds: 5,
      securityContext: { runAsUser: 1234, runAsGroup: 1234, runAsNonRoot: true },
      containers: [{ name: "main", image: "atrium/kernel:dev", ...container }],
      ...extra,
    },
  };
}

async function createPod(ns: string, body: unknown, token?: string): Promise<Pod> {
  const r = await api("POST", `/api/v1/namespaces/${ns}/pods`, body, token);
  assert.equal(r.status, 201, r.text);
  return r.json;
}

const main = (p: Pod) => p.status?.containerStatuses?.[0];
const netnsOf = (p: Pod) => `${c().bridge}-${p.metadata.uid.slice(0, 8)}`;
const netnsList = () => (spawnSync("ip", ["netns", "list"], { encoding: "utf8" }).stdout ?? "").split("\n").map((l) => l.split(" ")[0] ?? "");

test("RBAC: a ServiceAccount token from the TokenRequest API may create pods in its namespace only", { skip: !isRoot && "needs root", timeout: 120_000 }, async () => {
  const ns = await namespace(`rbac-${suffix}`);
  const other = await namespace(`other-${suffix}`);
  let r = await api("POST", `/api/v1/namespaces/${ns}/serviceaccounts`, { apiVersion: "v1", kind: "ServiceAccount", metadata: { name: "launcher" } });
  assert.equal(r.status, 201, r.text);
  r = await api("POST", `/apis/rbac.authorization.k8s.io/v1/namespaces/${ns}/roles`, {
    apiVersion: "rbac.authorization.k8s.io/v1",
    kind: "Role",
    metadata: { name: "pods" },
    rules: [{ apiGroups: [""], resources: ["pods"], verbs: ["create", "get", "list", "watch", "delete"] }],
  });
  assert.equal(r.status, 201, r.text);
  r = await api("POST", `/apis/rbac.authorization.k8s.io/v1/namespaces/${ns}/rolebindings`, {
    apiVersion: "rbac.authorization.k8s.io/v1",
    kind: "RoleBinding",
    metadata: { name: "launcher-pods" },
    roleRef: { apiGroup: "rbac.authorization.k8s.io", kind: "Role", name: "pods" },
    subjects: [{ kind: "ServiceAccount", name: "launcher", namespace: ns }],
  });
  assert.equal(r.status, 201, r.text);

  r = await api("POST", `/api/v1/namespaces/${ns}/serviceaccounts/launcher/token`, { apiVersion: "authentication.k8s.io/v1", kind: "TokenRequest", spec: { expirationSeconds: 600 } });
  assert.equal(r.status, 201, r.text);
  const token: string = r.json.status.token;
  assert.match(token, /^ey/);
  // The token is a JWT for system:serviceaccount:<ns>:launcher, signed with the cluster's service account key.
  const claims = JSON.parse(Buffer.from(token.split(".")[1] ?? "", "base64url").toString());
  assert.equal(claims.sub, `system:serviceaccount:${ns}:launcher`);
  assert.equal(claims.iss, "https://kubernetes.default.svc.cluster.local");

  const pod = await createPod(ns, podSpec("allowed", { command: ["sleep", "600"] }), token);
  assert.equal(pod.metadata.namespace, ns);
  r = await api("POST", `/api/v1/namespaces/${other}/pods`, podSpec("refused", { command: ["sleep", "600"] }), token);
  assert.equal(r.status, 403, r.text);
  assert.match(r.json.message, new RegExp(`system:serviceaccount:${ns}:launcher.*cannot create resource "pods"`));
  r = await api("GET", `/api/v1/namespaces/${ns}/secrets`, undefined, token);
  assert.equal(r.status, 403, "pods only, not secrets");
  // An unknown token is not a user at all.
  r = await api("GET", `/api/v1/namespaces/${ns}/pods`, undefined, "not-a-token");
  assert.equal(r.status, 401);

  // A separate client with only the CA and the token (as the Kubernetes launcher will use it) works too.
  const launcher = kubeClient({ url: c().apiUrl, ca: c().caPem, token });
  const list = await launcher.get(`/api/v1/namespaces/${ns}/pods`);
  assert.deepEqual(list.items.map((p: Pod) => p.metadata.name), ["allowed"]);
  r = await launcher.request("DELETE", `/api/v1/namespaces/${ns}/pods/allowed`, { gracePeriodSeconds: 0 });
  assert.equal(r.status, 200, r.text);
});

test("a pod with a PVC runs python3 as its runAsUser in its own netns, writes into the bind-mounted volume and Succeeds", { skip: !isRoot && "needs root", timeout: 180_000 }, async () => {
  const ns = await namespace(`pvc-${suffix}`);
  let r = await api("POST", `/api/v1/namespaces/${ns}/persistentvolumeclaims`, {
    apiVersion: "v1",
    kind: "PersistentVolumeClaim",
    metadata: { name: "home" },
    spec: { accessModes: ["ReadWriteOnce"], storageClassName: "atrium-local", resources: { requests: { storage: "1Gi" } } },
  });
  assert.equal(r.status, 201, r.text);
  const t0 = Date.now();
  const pvc = await waitFor("the PVC to be Bound", async () => (await api("GET", `/api/v1/namespaces/${ns}/persistentvolumeclaims/home`)).json, (p: any) => p.status?.phase === "Bound", 60_000);
  metrics.pvcBound = seconds(Date.now() - t0);
  const pv = (await api("GET", `/api/v1/persistentvolumes/${pvc.spec.volumeName}`)).json;
  assert.equal(pv.spec.capacity.storage, "1Gi");
  const pvDir: string = pv.spec.local.path;
  assert.equal(pvDir, path.join(workDir, "volumes", pvc.metadata.uid));

  // A mount path that doesn't exist on the host: the harness creates the (empty) mount point and removes it at stop.
  const mountPath = `/mnt/atrium-k8s-test-${suffix}/home`;
  const script = [
    "import os, socket",
    `open(os.path.join(${JSON.stringify(mountPath)}, 'hello.txt'), 'w').write('written by %d' % os.getuid())`,
    "print('uid', os.getuid(), 'gid', os.getgid(), 'ip', os.environ['POD_IP'], 'host', socket.gethostname(), 'ns', os.environ['POD_NAMESPACE'], 'cwd', os.getcwd())",
  ].join("\n");
  const t1 = Date.now();
  const created = await createPod(
    ns,
    podSpec("writer", {
      command: ["python3", "-c"],
      args: [script],
      workingDir: "/tmp",
      env: [
        { name: "POD_IP", valueFrom: { fieldRef: { fieldPath: "status.podIP" } } },
        { name: "POD_NAMESPACE", valueFrom: { fieldRef: { fieldPath: "metadata.namespace" } } },
      ],
      volumeMounts: [{ name: "home", mountPath }],
    }, { volumes: [{ name: "home", persistentVolumeClaim: { claimName: "home" } }] }),
  );
  const done = await waitFor("the writer pod to finish", () => getPod(ns, "writer"), (p) => ["Succeeded", "Failed"].includes(p.status?.phase), 60_000);
  metrics.podCreateToSucceeded = seconds(Date.now() - t1);
  assert.equal(done.status.phase, "Succeeded", JSON.stringify(done.status));
  const term = main(done).state.terminated;
  assert.equal(term.reason, "Completed");
  assert.equal(term.exitCode, 0);
  assert.match(done.status.podIP, /^10\.249\.\d+\.\d+$/);
  assert.equal(done.status.hostIP, c().hostAddress);
  assert.equal(done.spec.nodeName, c().nodeName);
  assert.ok(done.status.conditions.find((x: any) => x.type === "PodScheduled" && x.status === "True"));
  const ready = done.status.conditions.find((x: any) => x.type === "Ready");
  assert.equal(ready.status, "False");
  assert.equal(ready.reason, "PodCompleted");
  assert.equal(ready.message, undefined);

  // What the process printed, from the harness's log file and through the API server's pods/log (→ the node).
  const expected = `uid 1234 gid 1234 ip ${done.status.podIP} host writer ns ${ns} cwd /tmp`;
  assert.equal(fs.readFileSync(path.join(workDir, "pods", `${ns}_writer`, "main.log"), "utf8").trim(), expected);
  const logs = await api("GET", `/api/v1/namespaces/${ns}/pods/writer/log`);
  assert.equal(logs.status, 200, logs.text);
  assert.equal(logs.text.trim(), expected);

  // The file is in the PV's folder, owned by the pod's user; the host's mount point stayed empty (private mount).
  const file = path.join(pvDir, "hello.txt");
  assert.equal(fs.readFileSync(file, "utf8"), "written by 1234");
  assert.equal(fs.statSync(file).uid, 1234);
  assert.equal(fs.statSync(file).gid, 1234);
  assert.deepEqual(fs.readdirSync(mountPath), []);
  assert.ok(!netnsList().includes(netnsOf(created)), "a finished pod's network namespace is released");
});

test("a pod asking for more CPU than the node has stays Pending: the scheduler says Unschedulable", { skip: !isRoot && "needs root", timeout: 60_000 }, async () => {
  const ns = await namespace(`big-${suffix}`);
  await createPod(ns, podSpec("huge", { command: ["sleep", "600"], resources: { requests: { cpu: "100", memory: "1Gi" } } }));
  const p = await waitFor("PodScheduled=False", () => getPod(ns, "huge"), (x) => !!x.status?.conditions?.some((k: any) => k.type === "PodScheduled" && k.status === "False"), 30_000);
  const cond = p.status.conditions.find((k: any) => k.type === "PodScheduled");
  assert.equal(cond.reason, "Unschedulable");
  assert.match(cond.message, /Insufficient cpu/);
  assert.equal(p.status.phase, "Pending");
  assert.equal(p.spec.nodeName, undefined);
});

test("an image the node doesn't have: ErrImagePull, then ImagePullBackOff", { skip: !isRoot && "needs root", timeout: 60_000 }, async () => {
  const ns = await namespace(`image-${suffix}`);
  await createPod(ns, podSpec("nosuch", { image: "registry.example/nosuch:1", command: ["sleep", "1"] }));
  const p = await waitFor("ErrImagePull", () => getPod(ns, "nosuch"), (x) => main(x)?.state?.waiting?.reason === "ErrImagePull", 30_000);
  assert.match(main(p).state.waiting.message, /registry\.example\/nosuch:1/);
  assert.equal(p.status.phase, "Pending");
  await waitFor("ImagePullBackOff", () => getPod(ns, "nosuch"), (x) => main(x)?.state?.waiting?.reason === "ImagePullBackOff", 30_000);
  const events = (await api("GET", `/api/v1/namespaces/${ns}/events?fieldSelector=involvedObject.name%3Dnosuch`)).json.items;
  assert.ok(events.some((e: any) => e.reason === "Failed" && /ErrImagePull/.test(e.message)), JSON.stringify(events.map((e: any) => e.message)));
});

test("a command that can't be started ends in StartError; a pod without runAsUser is refused root", { skip: !isRoot && "needs root", timeout: 60_000 }, async () => {
  const ns = await namespace(`bad-${suffix}`);
  await createPod(ns, podSpec("badcmd", { command: ["/nonexistent/bin/kernel", "--flag"] }));
  const p = await waitFor("the bad command to fail", () => getPod(ns, "badcmd"), (x) => x.status?.phase === "Failed", 30_000);
  const term = main(p).state.terminated;
  assert.equal(term.reason, "StartError");
  assert.equal(term.exitCode, 128);
  assert.match(term.message, /\/nonexistent\/bin\/kernel.*no such file or directory/);

  // A failing program is Error with its exit code and the tail of its stderr.
  await createPod(ns, podSpec("fails", { command: ["python3", "-c", "import sys; print('boom', file=sys.stderr); sys.exit(3)"] }));
  const f = await waitFor("the failing program", () => getPod(ns, "fails"), (x) => x.status?.phase === "Failed", 30_000);
  assert.equal(main(f).state.terminated.reason, "Error");
  assert.equal(main(f).state.terminated.exitCode, 3);
  assert.equal(main(f).state.terminated.message, "boom");

  const rootPod = podSpec("asroot", { command: ["id"] });
  rootPod.spec.securityContext = {} as any;
  await createPod(ns, rootPod);
  const rp = await waitFor("CreateContainerConfigError", () => getPod(ns, "asroot"), (x) => main(x)?.state?.waiting?.reason === "CreateContainerConfigError", 30_000);
  assert.match(main(rp).state.waiting.message, /root/);
  assert.equal(rp.status.phase, "Pending");
});

test("restartPolicy OnFailure restarts a failed container (the first time at once) until it succeeds", { skip: !isRoot && "needs root", timeout: 60_000 }, async () => {
  const ns = await namespace(`restart-${suffix}`);
  // Fails on its first run, succeeds on the second: the emptyDir outlives the container, as on a real node.
  const script = "import os, sys\nf = '/scratch/ran'\nfirst = not os.path.exists(f)\nopen(f, 'a').write('x')\nprint('first' if first else 'again')\nsys.exit(2 if first else 0)";
  await createPod(
    ns,
    podSpec("flaky", { command: ["python3", "-c", script], volumeMounts: [{ name: "scratch", mountPath: "/scratch" }] }, { restartPolicy: "OnFailure", volumes: [{ name: "scratch", emptyDir: {} }] }),
  );
  const p = await waitFor("the flaky pod to succeed", () => getPod(ns, "flaky"), (x) => ["Succeeded", "Failed"].includes(x.status?.phase), 30_000);
  assert.equal(p.status.phase, "Succeeded", JSON.stringify(p.status));
  assert.equal(main(p).restartCount, 1);
  assert.equal(main(p).lastState.terminated.exitCode, 2);
  assert.equal(main(p).state.terminated.reason, "Completed");
  const r = await api("GET", `/api/v1/namespaces/${ns}/pods/flaky/log?previous=true`);
  assert.equal(r.text.trim(), "first");
  assert.equal((await api("GET", `/api/v1/namespaces/${ns}/pods/flaky/log`)).text.trim(), "again");
});

test("deleting a running pod ends its process (SIGTERM) and the pod disappears within the grace period", { skip: !isRoot && "needs root", timeout: 60_000 }, async () => {
  const ns = await namespace(`del-${suffix}`);
  const created = await createPod(ns, podSpec("sleeper", { command: ["sleep", "600"] }));
  const t0 = Date.now();
  const running = await waitFor("Running", () => getPod(ns, "sleeper"), (x) => x.status?.phase === "Running" && main(x)?.ready === true, 30_000);
  metrics.podCreateToRunning = seconds(Date.now() - t0);
  assert.ok(main(running).state.running.startedAt);
  assert.ok(running.status.conditions.find((k: any) => k.type === "Ready" && k.status === "True"));
  const netns = netnsOf(created);
  assert.ok(netnsList().includes(netns));
  const pids = (spawnSync("ip", ["netns", "pids", netns], { encoding: "utf8" }).stdout ?? "").split(/\s+/).filter(Boolean).map(Number);
  assert.equal(pids.length, 1, `processes in ${netns}: ${pids}`);
  const pid = pids[0] ?? 0;
  assert.equal(fs.readFileSync(`/proc/${pid}/cmdline`, "utf8").replace(/\0/g, " ").trim(), "sleep 600");
  assert.match(fs.readFileSync(`/proc/${pid}/status`, "utf8"), /^Uid:\s+1234\s+1234\s+1234\s+1234$/m);

  const t1 = Date.now();
  const r = await api("DELETE", `/api/v1/namespaces/${ns}/pods/sleeper`, { gracePeriodSeconds: 5 });
  assert.equal(r.status, 200, r.text);
  await waitFor("the pod to disappear", async () => (await api("GET", `/api/v1/namespaces/${ns}/pods/sleeper`)).status, (s) => s === 404, 10_000);
  metrics.deleteToGone = seconds(Date.now() - t1);
  assert.ok(Date.now() - t1 < 5000 + 2000, `took ${Date.now() - t1} ms (grace 5 s; sleep dies on SIGTERM)`);
  assert.ok(!fs.existsSync(`/proc/${pid}`) || /^\d+ \(.*\) Z/.test(fs.readFileSync(`/proc/${pid}/stat`, "utf8")), "the process is gone");
  assert.ok(!netnsList().includes(netns), "its network namespace is gone");
});

test("stop() leaves no processes, network namespaces, bridge or mount points behind", { skip: !isRoot && "needs root", timeout: 90_000 }, async () => {
  const ns = await namespace(`stop-${suffix}`);
  await createPod(ns, podSpec("left-running", { command: ["sleep", "600"] }));
  await waitFor("Running", () => getPod(ns, "left-running"), (x) => x.status?.phase === "Running", 30_000);
  const pids = Object.values(c().pids);
  const bridge = c().bridge;
  const t0 = Date.now();
  await c().stop();
  metrics.clusterStop = seconds(Date.now() - t0);
  const alive = pids.filter((pid) => {
    try {
      return !/^\d+ \(.*\) Z/.test(fs.readFileSync(`/proc/${pid}/stat`, "utf8"));
    } catch {
      return false;
    }
  });
  assert.deepEqual(alive, [], "cluster processes still alive");
  assert.deepEqual(netnsList().filter((n) => n.startsWith(`${bridge}-`)), []);
  assert.notEqual(spawnSync("ip", ["link", "show", bridge], { stdio: "ignore" }).status, 0, `bridge ${bridge} still exists`);
  const stray = spawnSync("pgrep", ["-f", "^sleep 600$"], { encoding: "utf8" }).stdout.trim();
  assert.equal(stray, "", "a pod process survived");
  assert.ok(!fs.existsSync(`/mnt/atrium-k8s-test-${suffix}`), "the mount point created on the host was removed");
});
