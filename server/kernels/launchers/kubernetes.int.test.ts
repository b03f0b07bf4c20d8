// Integration: Kubernetes kernels against a REAL API server (etcd, kube-apiserver, controller-manager and
// scheduler v1.37, e2e/clusters/kubernetes) whose one node is the test harness: it runs each pod's command as a
// process on this host, in the pod's own network namespace, as the pod's runAsUser, with its PVC bind-mounted.
// A kernel started through the KernelManager runs code as the user's uid, with the size's requests and limits and
// the user's PVC as home (a file the kernel writes there is read back through the PVC home store); launch phases
// come from the one pod watch; interrupt and restart work; stop deletes the pod; a restarted portal reattaches.
// Orphans: a pod is listed by the installation that made it and by no other sharing its namespace; killOrphan
// deletes it and the launch Secret a crash left (deleted by name, within the shipped Role).
// A bad command, a missing image and an unschedulable size each end the launch with Kubernetes' reason in
// seconds, far under the deadline, and leave no pod. RBAC: the shipped Role, bound to the shipped ServiceAccount,
// is enough for all of it with that account's token (TokenRequest), and a call outside it is refused.
// Every pod and process is stopped in after(); every wait has a deadline.
//   node --import tsx --test --test-timeout=900000 server/kernels/launchers/kubernetes.int.test.ts
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, it, type TestContext } from 'node:test';
import type { Database } from '@/db';
import { findKernel } from '@/db/queries/kernels';
import type { UserRow } from '@/db/queries/users';
import { openTestDatabase } from '@/db/testing';
import { cliActor } from '@/server/identity/actor';
import { createTeam, createUser, setMembership } from '@/server/identity/users';
import { KubeError, toKubeError } from '@/server/kubernetes/api';
import { LABELS, homeClaimName, kernelPodName, launchTokenSecretName, selectorOf } from '@/server/kubernetes/names';
import { PodWatchers } from '@/server/kubernetes/pod-watch';
import { kubernetesFor, MANAGED_PODS_SELECTOR, type Kubernetes } from '@/server/kubernetes/setup';
import {
  BUNDLED_LAUNCHER_SCRIPT,
  FILESERVER_IMAGE,
  KERNEL_IMAGE,
  apiWithToken,
  applyShippedRbac,
  createNamespace,
  isRoot,
  podsMatching,
  serviceAccountToken,
  startTestCluster,
  until,
  type TestCluster,
} from '@/server/kubernetes/testing';
import { BUNDLED_FILESERVER_SCRIPT } from '@/server/storage/pvc-fileserver';
import { PvcHomeStores } from '@/server/storage/pvc-homes';
import { loadPodTemplate } from '@/server/kubernetes/pods';
import { BUNDLED_FILESERVER_POD_TEMPLATE } from '@/server/storage/pvc-fileserver';
import { KernelConnection } from '../connection';
import { loadKernelspecs, type Kernelspec } from '../kernelspecs';
import { ResponseListener } from '../launch-protocol/response-listener';
import { KernelManager } from '../manager';
import { executeRequestContent, parentMsgId } from '../protocol/messages';
import { LaunchError, LauncherRegistry } from './base';
import { KubernetesLauncher, KubernetesPodEngine, type KubernetesLauncherOptions } from './kubernetes';
import { LAUNCH_TOKEN_GATE, launchTokenSecret, parsePodEngineId } from './kubernetes-pod';
import { connectForTest, nextMessage, quietKernelLog, runCode } from '../testing';

const LAUNCH_MS = 120_000; // pod start → kernel reports: a few seconds here; generous for a loaded machine
const FAIL_FAST_MS = 20_000; // a failed pod must end the launch well before LAUNCH_MS
const STEP_MS = 30_000;
const secret = 's'.repeat(40);

const workDir = fs.mkdtempSync(path.join(os.tmpdir(), 'atrium-k8s-launcher-it-'));
let cluster: TestCluster | undefined;
let podPython: string;
let db: Database;
let closeDb: (() => Promise<void>) | undefined;
let kube: Kubernetes;
let listener: ResponseListener;
let homes: PvcHomeStores;
let launcher: KubernetesLauncher;
let spec: Kernelspec;
let ana: UserRow;
const watchersToStop: PodWatchers[] = [];
const timings: Record<string, string> = {};
const seconds = (ms: number) => `${(ms / 1000).toFixed(1)} s`;

function c(): TestCluster {
  assert.ok(cluster, 'the test cluster did not start');
  return cluster;
}

/** This test's installation: what its launchers create carries it. */
const INSTALLATION_ID = randomUUID();

function launcherOptions(overrides: Partial<KubernetesLauncherOptions> = {}): KubernetesLauncherOptions {
  return {
    responseListener: listener,
    api: kube.api,
    installationId: INSTALLATION_ID,
    kernelNamespaces: async () => ['atrium-risk', 'atrium-shared'], // what namespaceTemplate gives this test's users
    watchers: kube.watchers,
    identityOf: kube.identityOf,
    namespaceTemplate: 'atrium-{team}',
    kernelImage: KERNEL_IMAGE,
    kernelPython: podPython,
    launcherScript: BUNDLED_LAUNCHER_SCRIPT,
    homeMountPath: '/home/atrium',
    homeClaimOf: (username, namespace) => homes.ensureClaim(username, namespace),
    deleteGraceSeconds: 2,
    logger: quietKernelLog,
    ...overrides,
  };
}

function pvcHomesConfig(k: Kubernetes): ConstructorParameters<typeof PvcHomeStores>[0] {
  return {
    api: k.api,
    watchers: k.watchers,
    identityOf: k.identityOf,
    namespaceTemplate: 'atrium-{team}',
    storageClass: c().storageClass,
    size: '1Gi',
    image: FILESERVER_IMAGE,
    python: podPython,
    script: BUNDLED_FILESERVER_SCRIPT,
    mountPath: '/home/atrium',
    template: loadPodTemplate(BUNDLED_FILESERVER_POD_TEMPLATE),
    idleMs: 60_000,
    startDeadlineMs: LAUNCH_MS,
    requestTimeoutMs: STEP_MS,
  };
}

before(
  async () => {
    if (!isRoot) return;
    const started = Date.now();
    ({ cluster, podPython } = await startTestCluster(workDir, 6));
    timings.clusterStart = seconds(Date.now() - started);
    ({ db, close: closeDb } = await openTestDatabase());
    const risk = await createTeam(db, cliActor, { name: 'Risk' });
    ana = await createUser(db, cliActor, { email: 'ana@example.com', password: 'analyst-pass', username: 'ana' });
    await setMembership(db, cliActor, { teamId: risk.id, userId: ana.id, role: 'member' });
    await createNamespace(c(), 'atrium-risk');
    await createNamespace(c(), 'atrium-shared');
    kube = kubernetesFor({ kind: 'token', server: c().apiUrl, caPem: c().caPem, token: c().adminToken }, db, { timeoutMs: STEP_MS });
    // Pods reach the portal on the bridge's host side: the listener binds there.
    listener = new ResponseListener({ host: c().hostAddress, port: 0, log: { info() {}, warn() {}, error() {} } });
    await listener.start();
    homes = new PvcHomeStores(pvcHomesConfig(kube));
    launcher = new KubernetesLauncher(launcherOptions());
    spec = (await loadKernelspecs()).get('python_kubernetes')!;
    assert.ok(spec, 'the bundled python_kubernetes kernelspec exists');
  },
  { timeout: 30 * 60_000 },
);

after(async () => {
  console.log(`# kubernetes launcher timings ${JSON.stringify(timings)}`);
  await homes?.close();
  for (const w of watchersToStop) await w.stop();
  await kube?.stop();
  await listener?.stop();
  await closeDb?.();
  await cluster?.stop(); // kills every pod's processes and removes their namespaces
  fs.rmSync(workDir, { recursive: true, force: true });
});



/** Runs `code` (see runCode). */
const run = (connection: KernelConnection, code: string, ms = STEP_MS) => runCode(connection, code, ms);

const kernelSelector = (kernelId: string) => selectorOf({ [LABELS.kernelId]: kernelId });

/** A kernelspec like the bundled one with `atrium` metadata changed (sizes, image). */
function specWith(atrium: Record<string, unknown>): Kernelspec {
  const copy = JSON.parse(JSON.stringify(spec)) as Kernelspec;
  Object.assign(copy.spec.metadata.atrium, atrium);
  return { ...copy, resourceDir: spec.resourceDir };
}

describe('Kubernetes kernels', { skip: !isRoot && 'the test cluster needs root' }, () => {
  it('through the KernelManager: runs code as the user\'s uid with the size\'s resources and the user\'s PVC; interrupt, restart, restore and stop', { timeout: 10 * 60_000 }, async (t) => {
    const manager = new KernelManager({
      db,
      secret,
      launchers: new LauncherRegistry().register(launcher),
      kernelspecs: new Map([['python_kubernetes', spec]]),
      launchDeadlineMs: LAUNCH_MS,
      startupDeadlineMs: STEP_MS,
    });
    const startedAt = Date.now();
    const model = await manager.start(ana, { name: 'python_kubernetes', size: 'small' });
    timings.managerStart = seconds(Date.now() - startedAt);
    t.after(() => manager.shutdown(ana, model.id).catch(() => {}));
    const row = await findKernel(db, { id: model.id });
    assert.equal(row?.state, 'idle');
    assert.match(row?.engineId ?? '', /^pod atrium-risk\/atrium-kernel-/);

    // The pod, as the API server has it.
    const [pod] = await podsMatching(c(), 'atrium-risk', kernelSelector(model.id));
    assert.ok(pod, 'one pod carries the kernel id label');
    assert.equal(pod.spec.securityContext.runAsUser, ana.posixUid);
    assert.equal(pod.spec.securityContext.runAsGroup, ana.posixUid, 'a private group numbered like the uid');
    assert.equal(pod.spec.securityContext.runAsNonRoot, true);
    assert.ok(ana.posixUid >= 100000, `uid ${ana.posixUid} from the sequence`);
    const container = pod.spec.containers[0];
    assert.deepEqual(container.resources, { requests: { cpu: '1', memory: '2Gi' }, limits: { cpu: '1', memory: '2Gi' } }, 'the small size (1 vCore, 2 GB)');
    assert.deepEqual(pod.spec.volumes.find((v: any) => v.name === 'home').persistentVolumeClaim, { claimName: homeClaimName('ana') });
    assert.equal(pod.metadata.labels[LABELS.user], 'ana');
    assert.equal(pod.metadata.labels[LABELS.installation], INSTALLATION_ID);
    assert.equal(pod.metadata.labels[LABELS.team], 'Risk');
    assert.equal(pod.spec.automountServiceAccountToken, false);
    assert.equal(container.image, KERNEL_IMAGE);
    // The one-time launch token is not in the pod's spec (readable by all who may list pods): it came from a
    // Secret, which is gone once the launch settled.
    assert.doesNotMatch(JSON.stringify(container.command), /launch-token/);
    const tokenEnv = container.env.find((e: any) => e.name === 'ATRIUM_LAUNCH_TOKEN');
    assert.deepEqual(tokenEnv?.valueFrom?.secretKeyRef, { name: launchTokenSecretName(pod.metadata.name), key: 'token' });
    assert.equal(tokenEnv.value, undefined);
    const tokenSecret = await c().api.request("GET", `/api/v1/namespaces/atrium-risk/secrets/${launchTokenSecretName(pod.metadata.name)}`);
    assert.equal(tokenSecret.status, 404, 'the spent token\'s Secret is deleted');
    assert.deepEqual(pod.spec.schedulingGates ?? [], [], 'the launch token gate was lifted once the Secret existed');

    // The kernel is a process running as ana's uid, in the pod's network namespace, with her home mounted.
    const live = await manager.attach(ana, model.id);
    assert.equal(live.process.connectionInfo.ip, pod.status.podIP, 'the kernel binds the pod IP');
    const connection = await connectForTest(t, live.process, STEP_MS);
    const who = await run(connection, 'import os; print(os.getuid(), os.getgid(), os.getcwd(), os.environ["KERNEL_USERNAME"])');
    assert.equal(who.out.trim(), `${ana.posixUid} ${ana.posixUid} /home/atrium ana`);
    const note = `written by kernel ${model.id}`;
    const wrote = await run(connection, `open('/home/atrium/from-kernel.txt', 'w').write(${JSON.stringify(note)}); print(os.stat('/home/atrium/from-kernel.txt').st_uid)`);
    assert.equal(wrote.out.trim(), String(ana.posixUid), 'files on the PVC belong to the user');
    const store = await homes.forUser(ana);
    assert.equal(await store.readText('from-kernel.txt'), note, 'the kernel\'s home is the PVC the home store serves');

    // Interrupt a long cell: KeyboardInterrupt promptly.
    const long = connection.createMessage('execute_request', executeRequestContent("import time\nprint('sleeping', flush=True)\ntime.sleep(120)"));
    const asleep = nextMessage(connection, (m) => parentMsgId(m) === long.header.msg_id && m.header.msg_type === 'stream', STEP_MS, 'the cell to start');
    const interruptedReply = nextMessage(connection, (m) => m.channel === 'shell' && parentMsgId(m) === long.header.msg_id, STEP_MS, 'the interrupted reply');
    await connection.send('shell', long);
    await asleep;
    const interruptAt = Date.now();
    await manager.interrupt(ana, model.id);
    const interrupted = await interruptedReply;
    timings.interruptToReply = seconds(Date.now() - interruptAt);
    assert.equal(interrupted.content.ename, 'KeyboardInterrupt');

    // A restarted portal: a second launcher (its own watches) restores the saved kernel and sees it alive.
    const saved = JSON.parse(JSON.stringify(live.process.serialize()));
    assert.deepEqual(Object.keys(saved.state.engine).sort(), ['name', 'namespace']);
    const watchers = new PodWatchers({ api: kube.api, labelSelector: MANAGED_PODS_SELECTOR, logger: quietKernelLog });
    watchersToStop.push(watchers);
    const second = new KubernetesLauncher(launcherOptions({ watchers }));
    const restored = await second.restore(saved);
    assert.deepEqual(await restored.poll(), { alive: true });
    await restored.cleanup(); // forgetting a running kernel never stops it
    assert.equal((await podsMatching(c(), 'atrium-risk', kernelSelector(model.id))).length, 1);

    // Restart: a new pod replaces the old one, which is deleted.
    const oldPod = pod.metadata.name;
    await manager.restart(ana, model.id);
    const after = await until('the restarted kernel\'s single pod', async () => {
      const pods = await podsMatching(c(), 'atrium-risk', kernelSelector(model.id));
      return pods.length === 1 && pods[0].metadata.name !== oldPod ? pods[0] : undefined;
    }, STEP_MS);
    const restartedConnection = await connectForTest(t, (await manager.attach(ana, model.id)).process, STEP_MS);
    assert.equal((await run(restartedConnection, 'print(1 + 1)')).out.trim(), '2');
    assert.notEqual(after.metadata.name, oldPod);

    // Stop: the pod is deleted, nothing is left.
    const stopAt = Date.now();
    await manager.shutdown(ana, model.id);
    await until('the kernel\'s pods to be gone', async () => (await podsMatching(c(), 'atrium-risk', kernelSelector(model.id))).length === 0, STEP_MS);
    timings.stopToPodGone = seconds(Date.now() - stopAt);
    assert.equal((await findKernel(db, { id: model.id }))?.state, 'dead');
  });

  it('reports launch phases from the one watch of the namespace (created, scheduled/pulling, running, connected)', { timeout: 5 * 60_000 }, async (t) => {
    const phases: string[] = [];
    const kernelId = randomUUID();
    const requestsBefore = kube.watchers.forNamespace('atrium-risk').requests;
    const kernel = await launcher.launch({ kernelId, kernelspec: spec, username: 'ana', sizeProfile: 'small' }, { deadlineMs: LAUNCH_MS, onPhase: (p) => phases.push(p) });
    t.after(async () => {
      await kernel.kill().catch(() => {});
      await kernel.cleanup();
    });
    await kernel.confirmStartup(STEP_MS);
    assert.match(phases[0] ?? '', /^creating pod atrium-kernel-.* in namespace atrium-risk \(small, as uid \d+\)$/);
    assert.ok(phases.some((p) => /^(scheduled on atrium-node|pulling image atrium\/kernel:dev and starting the container on atrium-node)$/.test(p)), JSON.stringify(phases));
    assert.ok(phases.some((p) => /^running on atrium-node at 10\.250\.\d+\.\d+$/.test(p)), JSON.stringify(phases));
    assert.match(phases.at(-1) ?? '', /^connected: the kernel in pod atrium-risk\/atrium-kernel-.* reported from 10\.250\./);
    // One watch serves every kernel of the namespace: launching did not add list or watch requests per kernel.
    assert.equal(kube.watchers.all.filter((w) => w.namespace === 'atrium-risk').length, 1);
    assert.ok(kube.watchers.forNamespace('atrium-risk').requests - requestsBefore <= 1, 'no per-kernel polling');
    assert.ok(kernel.engine instanceof KubernetesPodEngine);
    await kernel.kill();
    assert.equal((await kernel.poll()).alive, false);
  });

  it('orphans: a pod is listed by its own installation only; killOrphan deletes it and the launch Secret a crash left', { timeout: 3 * 60_000 }, async (t) => {
    const kernelId = randomUUID();
    const kernel = await launcher.launch({ kernelId, kernelspec: spec, username: 'ana', sizeProfile: 'small' }, { deadlineMs: LAUNCH_MS });
    t.after(async () => {
      await kernel.kill().catch(() => {});
      await kernel.cleanup();
    });
    const [engine, ...more] = (await launcher.listOwnEngines()).filter((e) => e.kernelId === kernelId);
    assert.ok(engine && more.length === 0, 'one engine for the kernel');
    assert.equal(engine.engineId, kernel.engineId, 'the engine id its kernel row records (the sweep compares them)');
    assert.equal(engine.launcher, 'kubernetes');
    assert.ok(Math.abs(Date.now() - engine.createdAt.getTime()) < 5 * 60_000, `created ${engine.createdAt.toISOString()}`);
    // Another installation sharing the namespace never sees it.
    const other = new KubernetesLauncher(launcherOptions({ installationId: randomUUID() }));
    assert.deepEqual((await other.listOwnEngines()).filter((e) => e.kernelId === kernelId), []);

    // As a portal crash mid-launch leaves it: the pod, and its token Secret (made as the launcher makes it).
    const { namespace, name } = parsePodEngineId(engine.engineId);
    const leftover = launchTokenSecret({ kernelId, podName: name, installationId: INSTALLATION_ID, token: 'spent' });
    const secretPath = `/api/v1/namespaces/${namespace}/secrets/${leftover.metadata!.name}`;
    const made = await c().api.request('POST', `/api/v1/namespaces/${namespace}/secrets`, leftover);
    assert.equal(made.status, 201, made.text);
    // Another portal process (its own launcher) kills it as the sweep does; both objects are gone.
    const sweeping = new KubernetesLauncher(launcherOptions());
    await sweeping.killOrphan(engine);
    assert.equal((await c().api.request('GET', secretPath)).status, 404, 'the leftover launch Secret is deleted');
    await until('the orphan pod to be gone', async () => (await c().api.request('GET', `/api/v1/namespaces/${namespace}/pods/${name}`)).status === 404, STEP_MS);
    await sweeping.killOrphan(engine); // already gone: done
    assert.deepEqual((await launcher.listOwnEngines()).filter((e) => e.kernelId === kernelId), []);
    const status = await until('the orphaned kernel to be seen dead', async () => {
      const s = await kernel.poll();
      return s.alive ? undefined : s;
    }, STEP_MS);
    assert.match(status.alive ? '' : status.reason, /deleted|ended/);
  });

  it('a portal that dies mid-launch leaves a gated pod the sweep lists, whose Secret the garbage collector deletes with it', { timeout: 2 * 60_000 }, async (t) => {
    // As the launcher leaves things when its process dies after the Secret, before lifting the gate.
    const kernelId = randomUUID();
    const name = kernelPodName(kernelId, 'dead00');
    const labels = { [LABELS.managedBy]: 'atrium', [LABELS.component]: 'kernel', [LABELS.kernelId]: kernelId, [LABELS.installation]: INSTALLATION_ID };
    const body = {
      apiVersion: 'v1',
      kind: 'Pod',
      metadata: { name, labels },
      spec: {
        schedulingGates: [{ name: LAUNCH_TOKEN_GATE }],
        restartPolicy: 'Never',
        containers: [{ name: 'kernel', image: KERNEL_IMAGE, command: ['/bin/true'] }],
      },
    };
    const made = await c().api.request('POST', '/api/v1/namespaces/atrium-risk/pods', body);
    assert.equal(made.status, 201, made.text);
    const podPath = `/api/v1/namespaces/atrium-risk/pods/${name}`;
    t.after(() => c().api.request('DELETE', `${podPath}?gracePeriodSeconds=0`));
    const leftover = launchTokenSecret({ kernelId, podName: name, podUid: made.json.metadata.uid, installationId: INSTALLATION_ID, token: 'spent' });
    const secretPath = `/api/v1/namespaces/atrium-risk/secrets/${leftover.metadata!.name}`;
    t.after(() => c().api.request('DELETE', secretPath));
    assert.equal((await c().api.request('POST', '/api/v1/namespaces/atrium-risk/secrets', leftover)).status, 201);

    // The scheduler holds it: never on a node, so no kernel ever runs with nobody to talk to.
    const held = await until('the scheduler to report the pod gated', async () => {
      const pod = (await c().api.request('GET', podPath)).json;
      return pod.status?.conditions?.find((cond: any) => cond.type === 'PodScheduled')?.reason === 'SchedulingGated' ? pod : undefined;
    }, STEP_MS);
    assert.equal(held.spec.nodeName, undefined);
    assert.deepEqual((await launcher.listOwnEngines()).filter((e) => e.kernelId === kernelId).map((e) => e.engineId), [`pod atrium-risk/${name}`], 'the orphan sweep sees it');

    // Deleted by anyone (here as an admin's kubectl would, not through Atrium): its Secret follows.
    assert.equal((await c().api.request('DELETE', `${podPath}?gracePeriodSeconds=0`)).status, 200);
    await until('the garbage collector to delete the pod\'s launch Secret', async () => (await c().api.request('GET', secretPath)).status === 404, STEP_MS);
  });

  async function failsFast(t: TestContext, kernelspec: Kernelspec, launcherOverride: KubernetesLauncher | undefined, size: string, pattern: RegExp, label: string) {
    const kernelId = randomUUID();
    t.after(async () => {
      for (const pod of await podsMatching(c(), 'atrium-risk', kernelSelector(kernelId))) {
        await c().api.request('DELETE', `/api/v1/namespaces/atrium-risk/pods/${pod.metadata.name}?gracePeriodSeconds=0`);
      }
    });
    const phases: string[] = [];
    const started = Date.now();
    await assert.rejects(
      (launcherOverride ?? launcher).launch({ kernelId, kernelspec, username: 'ana', sizeProfile: size }, { deadlineMs: LAUNCH_MS, onPhase: (p) => phases.push(p) }),
      (e: unknown) => {
        assert.ok(e instanceof LaunchError, String(e));
        assert.equal(e.code, 'LAUNCH_FAILED', e.message);
        assert.match(e.message, pattern);
        return true;
      },
    );
    const took = Date.now() - started;
    timings[label] = seconds(took);
    assert.ok(took < FAIL_FAST_MS, `${label} ended the launch after ${seconds(took)} (deadline ${seconds(LAUNCH_MS)})`);
    await until(`the failed ${label} pod to be deleted`, async () => (await podsMatching(c(), 'atrium-risk', kernelSelector(kernelId))).length === 0, STEP_MS);
  }

  it('a bad command ends the launch at once with the container\'s reason, and its pod is deleted', { timeout: 3 * 60_000 }, async (t) => {
    const bad = new KubernetesLauncher(launcherOptions({ kernelPython: '/opt/no-such/python3' }));
    await failsFast(t, spec, bad, 'small', /StartError.*no-such\/python3.*no such file/, 'badCommandToFailure');
    // A launcher that starts and then exits (its script is missing): the exit code and Python's message.
    const crashing = new KubernetesLauncher(launcherOptions({ launcherScript: '/opt/no-such/launch_kernel.py' }));
    await failsFast(t, spec, crashing, 'small', /exit code 2 .*can't open file/, 'crashToFailure');
  });

  it('an image the node cannot pull ends the launch with ErrImagePull', { timeout: 3 * 60_000 }, async (t) => {
    const missing = new KubernetesLauncher(launcherOptions({ allowedImages: ['atrium/missing:1.0'] }));
    await failsFast(t, specWith({ config: { image: 'atrium/missing:1.0' } }), missing, 'small', /atrium\/missing:1\.0 could not be pulled \(ErrImagePull\)/, 'imagePullToFailure');
    // An image outside the allow-list never reaches the API server.
    await assert.rejects(
      launcher.launch({ kernelId: randomUUID(), kernelspec: specWith({ config: { image: 'evil/miner:latest' } }), username: 'ana', sizeProfile: 'small' }),
      (e: unknown) => e instanceof LaunchError && e.code === 'INVALID_REQUEST' && /not one kernels may use/.test(e.message),
    );
  });

  it('an unschedulable size ends the launch with the scheduler\'s message', { timeout: 3 * 60_000 }, async (t) => {
    const huge = specWith({ sizes: { huge: { vcores: 64, memory_mb: 1024 * 1024 } }, default_size: 'huge' });
    await failsFast(t, huge, undefined, 'huge', /cannot be scheduled: 0\/1 nodes are available: .*Insufficient (cpu|memory)/, 'unschedulableToFailure');
  });

  it('a launch that times out deletes its pod, and says so', { timeout: 3 * 60_000 }, async (t) => {
    // A "launcher" that never reports: the pod runs a script that only sleeps (readable by ana's uid).
    const scripts = fs.mkdtempSync(path.join(os.tmpdir(), 'atrium-k8s-scripts-'));
    fs.chmodSync(scripts, 0o755);
    t.after(() => fs.rmSync(scripts, { recursive: true, force: true }));
    const sleeper = path.join(scripts, 'sleeps.py');
    fs.writeFileSync(sleeper, 'import time\ntime.sleep(600)\n', { mode: 0o644 });
    const silent = new KubernetesLauncher(launcherOptions({ launcherScript: sleeper }));
    const kernelId = randomUUID();
    const started = Date.now();
    await assert.rejects(silent.launch({ kernelId, kernelspec: spec, username: 'ana', sizeProfile: 'small' }, { deadlineMs: 4_000 }), (e: unknown) => {
      assert.ok(e instanceof LaunchError && e.code === 'LAUNCH_TIMEOUT', String(e));
      assert.match(e.message, /did not report its connection info within 4000 ms; it was killed/);
      assert.match(e.engineId ?? '', /^pod atrium-risk\/atrium-kernel-/);
      return true;
    });
    timings.timeoutToFailure = seconds(Date.now() - started);
    await until('the timed-out pod to be deleted', async () => (await podsMatching(c(), 'atrium-risk', kernelSelector(kernelId))).length === 0, STEP_MS);
  });

  it('RBAC: the shipped Role is enough for kernels and PVC homes with the ServiceAccount\'s token; a call outside it is refused', { timeout: 6 * 60_000 }, async (t) => {
    await createNamespace(c(), 'atrium');
    await createNamespace(c(), 'atrium-kernels');
    const account = await applyShippedRbac(c(), 'atrium', 'atrium-kernels');
    const token = await serviceAccountToken(c(), 'atrium', account);
    const scoped = kubernetesFor({ kind: 'token', server: c().apiUrl, caPem: c().caPem, token }, db, { timeoutMs: STEP_MS });
    t.after(() => scoped.stop());
    const scopedHomes = new PvcHomeStores({ ...pvcHomesConfig(scoped), namespaceTemplate: 'atrium-kernels' });
    t.after(() => scopedHomes.close());
    const warnings: string[] = [];
    const scopedLauncher = new KubernetesLauncher(
      launcherOptions({
        api: scoped.api,
        watchers: scoped.watchers,
        namespaceTemplate: 'atrium-kernels',
        // atrium-risk is outside the Role: the orphan sweep skips it with a warning.
        kernelNamespaces: async () => ['atrium-kernels', 'atrium-risk'],
        homeClaimOf: (u, ns) => scopedHomes.ensureClaim(u, ns),
        logger: { ...quietKernelLog, warn: (message, fields) => warnings.push(`${message} ${JSON.stringify(fields)}`) },
      }),
    );

    // A kernel: create, watch, run, delete — all within the Role.
    const kernelId = randomUUID();
    const kernel = await scopedLauncher.launch({ kernelId, kernelspec: spec, username: 'ana', sizeProfile: 'small' }, { deadlineMs: LAUNCH_MS });
    t.after(async () => {
      await kernel.kill().catch(() => {});
      await kernel.cleanup();
    });
    await kernel.confirmStartup(STEP_MS);
    const connection = await connectForTest(t, kernel, STEP_MS);
    assert.equal((await run(connection, 'print(6 * 7)')).out.trim(), '42');
    // The home: claim, file server, proxy — within the Role.
    const store = await scopedHomes.forUser(ana);
    await store.write('rbac.txt', 'allowed', { overwrite: true });
    assert.equal(await store.readText('rbac.txt'), 'allowed');
    // The orphan sweep: list this installation's pods, delete one and its launch Secret by name (a leftover made
    // here as the admin) — within the Role, which never lets Atrium list or read Secrets.
    const [engine] = (await scopedLauncher.listOwnEngines()).filter((e) => e.kernelId === kernelId);
    assert.equal(engine?.engineId, kernel.engineId);
    assert.ok(warnings.some((w) => /atrium-risk/.test(w) && /forbidden/i.test(w)), `a warning for the namespace outside the Role: ${warnings.join(' | ')}`);
    const leftover = launchTokenSecret({ kernelId, podName: parsePodEngineId(engine.engineId).name, installationId: INSTALLATION_ID, token: 'spent' });
    assert.equal((await c().api.request('POST', '/api/v1/namespaces/atrium-kernels/secrets', leftover)).status, 201);
    await scopedLauncher.killOrphan(engine);
    assert.equal((await c().api.request('GET', `/api/v1/namespaces/atrium-kernels/secrets/${leftover.metadata!.name}`)).status, 404);
    await until('the RBAC kernel pod to be gone', async () => (await podsMatching(c(), 'atrium-kernels', kernelSelector(kernelId))).length === 0, STEP_MS);
    await kernel.cleanup();

    // Outside the Role: secrets, another namespace, deleting claims, exec — refused by the API server.
    const api = apiWithToken(c(), token);
    const refused = async (what: string, call: () => Promise<unknown>) => {
      await assert.rejects(call(), (e: unknown) => e instanceof KubeError && e.status === 403, what);
    };
    await refused('listing secrets', () => api.core.listNamespacedSecret({ namespace: 'atrium-kernels' }).catch((e) => Promise.reject(toKubeError(e, 'test'))));
    await refused('pods in another namespace', () => api.listPods('atrium-risk', MANAGED_PODS_SELECTOR));
    await refused('deleting a home claim', () =>
      api.core.deleteNamespacedPersistentVolumeClaim({ namespace: 'atrium-kernels', name: homeClaimName('ana') }).catch((e) => Promise.reject(toKubeError(e, 'test'))),
    );
    const exec = await c().api.request('POST', `/api/v1/namespaces/atrium-kernels/pods/x/exec?command=id`, undefined, { token });
    assert.equal(exec.status, 403, 'no exec into pods');
  });
});
