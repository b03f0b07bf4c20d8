// Pure parts of the Kubernetes launcher: names and labels (valid, and never shared by two users), the namespace
// template, the kernel pod (uid/gid and no root, resources from the size, labels, the PVC, the allow-listed
// image, Atrium's launcher bound to the pod IP, literal env), template checks, and pod status → launch phase
// or failure (unschedulable with the scheduler's message, image pulls, exits with code and message), and the
// orphan sweep's side: this installation's pods listed (never another's, never one being deleted), and an orphan
// killed with its launch Secret, by name, against a fake API server.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { V1Pod } from '@kubernetes/client-node';
import { KubeError, type KubeApi } from '../../kubernetes/api';
import {
  LABELS,
  dnsLabel,
  homeClaimName,
  kernelPodName,
  labelValue,
  launchTokenSecretName,
  namespaceFor,
  namespaceTemplateProblem,
} from '../../kubernetes/names';
import { podProgress } from '../../kubernetes/pod-status';
import type { PodWatcher, PodWatchers } from '../../kubernetes/pod-watch';
import { PodSpecError, checkPodTemplate, loadPodTemplate } from '../../kubernetes/pods';
import type { ResponseListener } from '../launch-protocol/response-listener';
import { quietKernelLog } from '../testing';
import { KubernetesLauncher, KubernetesPodEngine, type KubernetesLauncherOptions } from './kubernetes';
import {
  BUNDLED_KERNEL_POD_TEMPLATE,
  LAUNCH_TOKEN_GATE,
  buildKernelPod,
  clusterEngineOf,
  kernelResources,
  launchTokenSecret,
  parsePodEngineId,
  podCommand,
  podEngineId,
  type KernelPodPlan,
} from './kubernetes-pod';

const template = loadPodTemplate(BUNDLED_KERNEL_POD_TEMPLATE);

const plan = (over: Partial<KernelPodPlan> = {}): KernelPodPlan => ({
  kernelId: '0b5c1f9e-2d7a-4e3b-9c1d-5f6a7b8c9d0e',
  installationId: '6f1d2c3b-4a5e-4f60-8a7b-9c0d1e2f3a4b',
  kernelspecName: 'python_kubernetes',
  podName: 'atrium-kernel-0b5c1f9e-2d7a-4e3b-9c1d-5f6a7b8c9d0e-a1b2c3',
  namespace: 'atrium-risk',
  username: 'ana',
  team: 'Risk',
  ids: { uid: 100001, gid: 100001 },
  image: 'atrium/kernel:dev',
  allowedImages: ['atrium/kernel:dev'],
  command: ['/opt/venv/bin/python', '/opt/atrium/launch_kernel.py', '--kernel-id', 'k', '--ip-from-env', 'POD_IP'],
  env: { KERNEL_ID: 'k', KERNEL_USERNAME: 'ana' },
  size: { name: 'small', vcores: 1, memoryMb: 2048, gpus: 0 },
  homeClaim: 'atrium-home-ana',
  homeMountPath: '/home/atrium',
  template,
  ...over,
});

describe('names and labels', () => {
  it('keeps valid values and hashes the rest, so two users never share a label', () => {
    assert.equal(labelValue('ana'), 'ana');
    assert.equal(labelValue('a.b_c-d'), 'a.b_c-d');
    const odd = labelValue('-ana');
    assert.match(odd, /^ana-[0-9a-f]{10}$/);
    assert.notEqual(labelValue('_ana'), labelValue('-ana'));
    const long = labelValue('x'.repeat(64));
    assert.ok(long.length <= 63 && /^[A-Za-z0-9]/.test(long) && /[A-Za-z0-9]$/.test(long));
    assert.notEqual(labelValue('x'.repeat(64)), labelValue('x'.repeat(65)));
    assert.equal(dnsLabel('Risk'), 'risk', 'team names are unique ignoring case: lower-casing is enough');
    assert.match(dnsLabel('Risk & Co'), /^risk-co-[0-9a-f]{10}$/);
    assert.match(kernelPodName('0B5C_1', 'abc123'), /^atrium-kernel-0b5c-1-[0-9a-f]{10}-abc123$/);
    // One launch, one token Secret, named after its pod: a restart's new launch never shares it.
    assert.equal(launchTokenSecretName(kernelPodName('0b5c', 'abc123')), 'atrium-launch-0b5c-abc123');
    assert.throws(() => launchTokenSecretName('atrium-files-ana'), /not the name of a kernel pod/);
    assert.throws(() => launchTokenSecretName('atrium-kernel-../x'), /not the name of a kernel pod/);
    assert.equal(homeClaimName('ana'), 'atrium-home-ana');
  });

  it('fills the namespace template with the team, or "shared"; refuses templates that cannot give a name', () => {
    assert.equal(namespaceFor('atrium-{team}', 'Risk'), 'atrium-risk');
    assert.equal(namespaceFor('atrium-{team}', null), 'atrium-shared');
    assert.equal(namespaceFor('kernels', 'Risk'), 'kernels');
    assert.equal(namespaceTemplateProblem('atrium-{team}'), undefined);
    assert.match(namespaceTemplateProblem('atrium-{user}') ?? '', /only \{team\}/);
    assert.match(namespaceTemplateProblem('Atrium_{team}') ?? '', /not a valid namespace/);
  });
});

describe('the kernel pod', () => {
  it('runs as the user, never as root, with the size as requests and limits, and the user\'s PVC as home', () => {
    const pod = buildKernelPod(plan());
    const spec = pod.spec!;
    assert.deepEqual(
      { ...spec.securityContext, seccompProfile: undefined, fsGroupChangePolicy: undefined },
      { runAsUser: 100001, runAsGroup: 100001, runAsNonRoot: true, fsGroup: 100001, supplementalGroups: undefined, seccompProfile: undefined, fsGroupChangePolicy: undefined },
    );
    assert.equal(spec.restartPolicy, 'Never');
    assert.equal(spec.automountServiceAccountToken, false);
    assert.equal(spec.serviceAccountName, undefined);
    const [c] = spec.containers;
    assert.deepEqual(c!.resources, { requests: { cpu: '1', memory: '2048Mi' }, limits: { cpu: '1', memory: '2048Mi' } });
    assert.equal(c!.image, 'atrium/kernel:dev');
    assert.equal(c!.securityContext?.allowPrivilegeEscalation, false);
    assert.equal(c!.securityContext?.runAsNonRoot, true);
    assert.deepEqual(spec.volumes, [{ name: 'home', persistentVolumeClaim: { claimName: 'atrium-home-ana' } }]);
    assert.deepEqual(c!.volumeMounts, [{ name: 'home', mountPath: '/home/atrium' }]);
    assert.equal(c!.workingDir, '/home/atrium');
    assert.deepEqual(c!.command, plan().command);
    assert.equal(c!.args, undefined);
  });

  it('a template\'s container uid or gid never replaces the user\'s (a container\'s overrides the pod\'s)', () => {
    const shared = JSON.parse(JSON.stringify(template)) as V1Pod;
    shared.spec!.containers[0]!.securityContext = { runAsUser: 1000, runAsGroup: 0, readOnlyRootFilesystem: true };
    const c = buildKernelPod(plan({ template: checkPodTemplate(shared, 'test') })).spec!.containers[0]!;
    assert.equal(c.securityContext?.runAsUser, 100001);
    assert.equal(c.securityContext?.runAsGroup, 100001);
    assert.equal(c.securityContext?.readOnlyRootFilesystem, true, 'the template\'s other settings stay');
  });

  it('is labelled with kernel id, user and team (label-safe), with exact values in annotations', () => {
    const pod = buildKernelPod(plan({ team: 'Risk & Co' }));
    const labels = pod.metadata!.labels!;
    assert.equal(labels[LABELS.managedBy], 'atrium');
    assert.equal(labels[LABELS.component], 'kernel');
    assert.equal(labels[LABELS.kernelId], plan().kernelId);
    assert.equal(labels[LABELS.installation], plan().installationId, 'the orphan sweep lists only its installation\'s pods');
    assert.equal(pod.metadata!.annotations!['atrium.io/kernel-id'], plan().kernelId);
    assert.equal(labels[LABELS.user], 'ana');
    assert.match(labels[LABELS.team]!, /^Risk-Co-[0-9a-f]{10}$/);
    assert.equal(pod.metadata!.annotations!['atrium.io/team-name'], 'Risk & Co');
    assert.equal(pod.metadata!.annotations!['atrium.io/size'], 'small');
    assert.equal(pod.metadata!.namespace, 'atrium-risk');
    // one user's pods share a node (a ReadWriteOnce home), the first one anywhere
    const term = pod.spec!.affinity!.podAffinity!.requiredDuringSchedulingIgnoredDuringExecution![0]!;
    assert.deepEqual(term.labelSelector!.matchLabels, { [LABELS.managedBy]: 'atrium', [LABELS.user]: 'ana' });
    assert.equal(term.topologyKey, 'kubernetes.io/hostname');
    assert.equal(buildKernelPod(plan({ team: null })).metadata!.labels![LABELS.team], undefined);
  });

  it('refuses root and system ids, unlisted images and bad mount paths', () => {
    for (const ids of [{ uid: 0, gid: 100001 }, { uid: 100001, gid: 0 }, { uid: 999, gid: 999 }, { uid: 1.5, gid: 2000 }]) {
      assert.throws(() => buildKernelPod(plan({ ids })), (e: unknown) => e instanceof PodSpecError && /never run as root/.test(e.message));
    }
    assert.throws(() => buildKernelPod(plan({ image: 'evil/miner:latest' })), /not one kernels may use/);
    assert.throws(() => buildKernelPod(plan({ homeMountPath: 'home' })), /absolute/);
    assert.throws(() => buildKernelPod(plan({ homeMountPath: '/home/../etc' })), /absolute/);
  });

  it('sizes: fractional vCores in millicores, GPUs as a limit', () => {
    assert.deepEqual(kernelResources({ name: 'x', vcores: 0.5, memoryMb: 512, gpus: 1 }), {
      requests: { cpu: '500m', memory: '512Mi', 'nvidia.com/gpu': '1' },
      limits: { cpu: '500m', memory: '512Mi', 'nvidia.com/gpu': '1' },
    });
  });

  it('env: the kernel\'s variables literal ($ doubled), HOME, and POD_IP from the pod\'s status', () => {
    const pod = buildKernelPod(plan({ env: { KERNEL_ID: 'k', KERNEL_NOTE: 'costs $(HOME) $5' } }));
    const env = pod.spec!.containers[0]!.env!;
    assert.deepEqual(env.find((e) => e.name === 'KERNEL_NOTE'), { name: 'KERNEL_NOTE', value: 'costs $$(HOME) $$5' });
    assert.deepEqual(env.find((e) => e.name === 'HOME'), { name: 'HOME', value: '/home/atrium' });
    assert.deepEqual(env.find((e) => e.name === 'POD_IP'), { name: 'POD_IP', valueFrom: { fieldRef: { fieldPath: 'status.podIP' } } });
    assert.equal(env.find((e) => e.name === 'PYTHONUNBUFFERED')?.value, '1', 'the template\'s own env stays');
    assert.throws(() => buildKernelPod(plan({ env: { KERNEL_X: 'a\u0000b' } })), PodSpecError);
  });

  it('a pod that reads a launch Secret is created behind a scheduling gate (lifted once the Secret exists); a template\'s own gates stay', () => {
    const secretEnv = { KERNEL_LAUNCH_TOKEN: { secret: launchTokenSecretName(plan().podName), key: 'token' } };
    const gated = buildKernelPod(plan({ secretEnv }));
    assert.deepEqual(gated.spec!.schedulingGates, [{ name: LAUNCH_TOKEN_GATE }]);
    assert.deepEqual(gated.spec!.containers[0]!.env!.find((e) => e.name === 'KERNEL_LAUNCH_TOKEN')?.valueFrom, { secretKeyRef: { name: secretEnv.KERNEL_LAUNCH_TOKEN.secret, key: 'token' } });
    assert.equal(buildKernelPod(plan()).spec!.schedulingGates, undefined, 'no Secret, no gate');
    const own = { ...template, spec: { ...template.spec!, schedulingGates: [{ name: 'example.com/quota-check' }, { name: LAUNCH_TOKEN_GATE }] } };
    assert.deepEqual(buildKernelPod(plan({ secretEnv, template: own })).spec!.schedulingGates, [{ name: 'example.com/quota-check' }, { name: LAUNCH_TOKEN_GATE }]);
    assert.deepEqual(buildKernelPod(plan({ template: own })).spec!.schedulingGates, [{ name: 'example.com/quota-check' }]);
  });

  it('the command: the image\'s python and launcher, the kernelspec\'s arguments, then --ip-from-env POD_IP', () => {
    const argv = ['python', '/portal/kernel-launchers/python/launch_kernel.py', '--kernel-id', 'k', '--ip', '127.0.0.1'];
    assert.deepEqual(podCommand(argv, { python: '/opt/conda/bin/python', launcherScript: '/opt/atrium/launch_kernel.py' }), [
      '/opt/conda/bin/python',
      '/opt/atrium/launch_kernel.py',
      '--kernel-id',
      'k',
      '--ip',
      '127.0.0.1',
      '--ip-from-env',
      'POD_IP',
    ]);
    assert.throws(() => podCommand(['python', '-m', 'ipykernel_launcher'], { python: 'p', launcherScript: 's' }), /launcher>\.py/);
  });

  it('a template may not widen what a pod can do', () => {
    const base = JSON.parse(JSON.stringify(template)) as V1Pod;
    const bad = (mutate: (pod: V1Pod) => void) => {
      const pod = JSON.parse(JSON.stringify(base)) as V1Pod;
      mutate(pod);
      return () => checkPodTemplate(pod, 'test.json');
    };
    assert.doesNotThrow(bad(() => {}));
    assert.throws(bad((p) => (p.spec!.hostNetwork = true)), /host namespaces/);
    assert.throws(bad((p) => (p.spec!.serviceAccountName = 'admin')), /service account/);
    assert.throws(bad((p) => (p.spec!.automountServiceAccountToken = true)), /automountServiceAccountToken/);
    assert.throws(bad((p) => (p.spec!.volumes = [{ name: 'h', hostPath: { path: '/' } }])), /hostPath/);
    assert.throws(bad((p) => (p.spec!.containers[0]!.securityContext = { privileged: true })), /privileged/);
    assert.throws(bad((p) => p.spec!.containers.push({ name: 'side' })), /exactly one container/);
  });
});

describe('pod status → launch phase or failure', () => {
  const pod = (status: V1Pod['status'], spec: Partial<NonNullable<V1Pod['spec']>> = {}): V1Pod => ({
    metadata: { name: 'p' },
    spec: { containers: [{ name: 'kernel' }], ...spec },
    status,
  });
  const container = (state: object) => ({ name: 'kernel', image: 'atrium/kernel:dev', imageID: '', ready: false, restartCount: 0, state });

  it('pending, scheduled, pulling, running', () => {
    assert.deepEqual(podProgress(pod({ phase: 'Pending' })), { kind: 'pending', phase: 'waiting for the scheduler' });
    assert.deepEqual(podProgress(pod({ phase: 'Pending' }, { nodeName: 'node-1' })), { kind: 'pending', phase: 'scheduled on node-1' });
    const pulling = podProgress(pod({ phase: 'Pending', containerStatuses: [container({ waiting: { reason: 'ContainerCreating' } })] }, { nodeName: 'node-1' }));
    assert.deepEqual(pulling, { kind: 'pending', phase: 'pulling image atrium/kernel:dev and starting the container on node-1' });
    const running = podProgress(pod({ phase: 'Running', podIP: '10.244.0.7', containerStatuses: [container({ running: {} })] }, { nodeName: 'node-1' }));
    assert.deepEqual(running, { kind: 'running', phase: 'running on node-1 at 10.244.0.7', podIP: '10.244.0.7', node: 'node-1' });
  });

  it('unschedulable carries the scheduler\'s message', () => {
    const p = podProgress(
      pod({
        phase: 'Pending',
        conditions: [{ type: 'PodScheduled', status: 'False', reason: 'Unschedulable', message: '0/1 nodes are available: 1 Insufficient memory.' }],
      }),
    );
    assert.equal(p.kind, 'pending');
    assert.equal(p.kind === 'pending' && p.unschedulable, '0/1 nodes are available: 1 Insufficient memory.');
  });

  it('waiting for a volume to be bound is not a failure', () => {
    const p = podProgress(
      pod({
        phase: 'Pending',
        conditions: [{ type: 'PodScheduled', status: 'False', reason: 'Unschedulable', message: '0/1 nodes are available: pod has unbound immediate PersistentVolumeClaims. preemption: 0/1 nodes are available: 1 Preemption is not helpful for scheduling.' }],
      }),
    );
    assert.deepEqual(p, { kind: 'pending', phase: 'waiting for the home volume to be ready' });
  });

  it('image pulls, config errors and exits end the launch with the reason', () => {
    const pull = podProgress(pod({ phase: 'Pending', containerStatuses: [container({ waiting: { reason: 'ErrImagePull', message: 'pull access denied' } })] }, { nodeName: 'n' }));
    assert.deepEqual(pull, { kind: 'ended', failure: 'image', reason: 'pod p: the image atrium/kernel:dev could not be pulled (ErrImagePull): pull access denied. The kernel image is not available to the cluster: tell an admin.' });
    const backoff = podProgress(pod({ phase: 'Pending', containerStatuses: [container({ waiting: { reason: 'ImagePullBackOff' } })] }, { nodeName: 'n' }));
    assert.equal(backoff.kind === 'ended' && backoff.failure, 'image');
    const config = podProgress(pod({ phase: 'Pending', containerStatuses: [container({ waiting: { reason: 'CreateContainerConfigError', message: 'secret "x" not found' } })] }, { nodeName: 'n' }));
    assert.equal(config.kind === 'ended' && config.failure, 'config');
    const exited = podProgress(
      pod({ phase: 'Failed', containerStatuses: [container({ terminated: { exitCode: 127, reason: 'StartError', message: 'exec: "pythn": executable file not found in $PATH' } })] }),
    );
    assert.deepEqual(exited, {
      kind: 'ended',
      failure: 'exited',
      reason: 'pod p: container kernel ended with exit code 127 (StartError): exec: "pythn": executable file not found in $PATH',
    });
    const evicted = podProgress(pod({ phase: 'Failed', reason: 'Evicted', message: 'The node was low on resource: memory.' }));
    assert.deepEqual(evicted, { kind: 'ended', failure: 'failed', reason: 'pod p is Failed: Evicted: The node was low on resource: memory.' });
    const done = podProgress(pod({ phase: 'Succeeded', containerStatuses: [container({ terminated: { exitCode: 0, reason: 'Completed' } })] }));
    assert.equal(done.kind === 'ended' && done.failure, 'succeeded');
  });
});

describe('the orphan sweep\'s side: own pods listed, orphans killed with their launch Secret', () => {
  const INSTALLATION = plan().installationId;
  const kernelId = plan().kernelId;
  const podName = plan().podName;
  const listed = (over: { installation?: string; deleting?: boolean; labels?: Record<string, string>; annotations?: Record<string, string> } = {}): V1Pod => {
    const pod = buildKernelPod(plan({ installationId: over.installation ?? INSTALLATION }));
    pod.metadata!.creationTimestamp = new Date('2026-11-30T10:00:00Z');
    if (over.deleting) pod.metadata!.deletionTimestamp = new Date('2026-11-30T10:05:00Z');
    Object.assign(pod.metadata!.labels!, over.labels);
    if (over.annotations) pod.metadata!.annotations = over.annotations;
    return pod;
  };

  it('a listed pod gives the engine id a kernel row records, its kernel id and creation time', () => {
    assert.deepEqual(clusterEngineOf(listed(), INSTALLATION), {
      launcher: 'kubernetes',
      kernelId,
      engineId: `pod atrium-risk/${podName}`,
      label: `pod atrium-risk/${podName}`,
      createdAt: new Date('2026-11-30T10:00:00Z'),
    });
    assert.equal(podEngineId('atrium-risk', podName), `pod atrium-risk/${podName}`);
    assert.deepEqual(parsePodEngineId(`pod atrium-risk/${podName}`), { namespace: 'atrium-risk', name: podName });
    // The exact id comes from the annotation, the label being label-safe only.
    const long = 'k'.repeat(64);
    assert.equal(clusterEngineOf(listed({ labels: { [LABELS.kernelId]: labelValue(long) }, annotations: { 'atrium.io/kernel-id': long } }), INSTALLATION)?.kernelId, long);
  });

  it('leaves alone pods of another installation, pods being deleted and pods it cannot judge', () => {
    assert.equal(clusterEngineOf(listed({ installation: 'another-installation' }), INSTALLATION), undefined);
    assert.equal(clusterEngineOf(listed({ deleting: true }), INSTALLATION), undefined);
    assert.equal(clusterEngineOf(listed({ labels: { [LABELS.component]: 'fileserver' } }), INSTALLATION), undefined);
    const noId = listed({ annotations: {} });
    delete noId.metadata!.labels![LABELS.kernelId];
    assert.equal(clusterEngineOf(noId, INSTALLATION), undefined);
    const noTime = listed();
    delete noTime.metadata!.creationTimestamp;
    assert.equal(clusterEngineOf(noTime, INSTALLATION), undefined);
  });

  it('refuses engine ids that are not a pod\'s', () => {
    for (const bad of ['application_1_0001', 'pod atrium-risk', 'pod Atrium/x', 'pod ns/x y', `pod ${'n'.repeat(64)}/x`]) {
      assert.throws(() => parsePodEngineId(bad), /not a Kubernetes kernel's engine id/, bad);
    }
  });

  it('the launch Secret carries the kernel and the installation, and the token under one key', () => {
    const secret = launchTokenSecret({ kernelId, podName, installationId: INSTALLATION, token: 't0ken' });
    assert.equal(secret.metadata!.name, launchTokenSecretName(podName));
    assert.deepEqual(secret.metadata!.labels, {
      [LABELS.managedBy]: 'atrium',
      [LABELS.component]: 'launch-token',
      [LABELS.kernelId]: kernelId,
      [LABELS.installation]: INSTALLATION,
    });
    assert.deepEqual(secret.stringData, { token: 't0ken' });
    assert.equal(secret.metadata!.ownerReferences, undefined);
    const owned = launchTokenSecret({ kernelId, podName, podUid: 'c0ffee00-0000-4000-8000-000000000001', installationId: INSTALLATION, token: 't0ken' });
    assert.deepEqual(owned.metadata!.ownerReferences, [{ apiVersion: 'v1', kind: 'Pod', name: podName, uid: 'c0ffee00-0000-4000-8000-000000000001' }], 'owned by its pod: deleted with it');
  });

  /** A launcher over a fake API server that records calls; `refuse` lists namespaces whose listing fails. */
  function fakeLauncher(pods: Record<string, V1Pod[]>, opts: { refuse?: string[]; failSecretDelete?: boolean; installationId?: string } = {}) {
    const calls: string[] = [];
    const warnings: string[] = [];
    const api = {
      listPods: async (namespace: string, selector: string) => {
        calls.push(`list ${namespace} ${selector}`);
        if (opts.refuse?.includes(namespace)) throw new KubeError(`listing pods in ${namespace}: forbidden`, 403, 'Forbidden');
        return { items: pods[namespace] ?? [] };
      },
      deletePod: async (namespace: string, name: string, grace: number) => void calls.push(`delete pod ${namespace}/${name} grace ${grace}`),
      deleteSecret: async (namespace: string, name: string) => {
        calls.push(`delete secret ${namespace}/${name}`);
        if (opts.failSecretDelete) throw new KubeError(`deleting secret ${namespace}/${name}: the API server did not answer`, 0, 'Timeout');
      },
    } as unknown as KubeApi;
    const options: KubernetesLauncherOptions = {
      responseListener: {} as ResponseListener,
      api,
      installationId: opts.installationId ?? INSTALLATION,
      kernelNamespaces: async () => ['atrium-risk', 'atrium-shared', 'atrium-risk'],
      watchers: {} as PodWatchers,
      identityOf: async () => undefined,
      namespaceTemplate: 'atrium-{team}',
      kernelImage: 'atrium/kernel:dev',
      kernelPython: '/opt/venv/bin/python',
      launcherScript: '/opt/atrium/launch_kernel.py',
      logger: { ...quietKernelLog, warn: (message, fields) => warnings.push(`${message} ${JSON.stringify(fields)}`) },
    };
    return { launcher: new KubernetesLauncher(options), calls, warnings };
  }

  it('lists by installation in each namespace once; a namespace it may not list is skipped with a warning', async () => {
    const { launcher, calls, warnings } = fakeLauncher({ 'atrium-risk': [listed(), listed({ deleting: true })] }, { refuse: ['atrium-shared'] });
    const engines = await launcher.listOwnEngines();
    assert.deepEqual(engines.map((e) => e.engineId), [`pod atrium-risk/${podName}`]);
    assert.deepEqual(calls, [
      `list atrium-risk app.kubernetes.io/managed-by=atrium,atrium.io/component=kernel,atrium.io/installation=${INSTALLATION}`,
      `list atrium-shared app.kubernetes.io/managed-by=atrium,atrium.io/component=kernel,atrium.io/installation=${INSTALLATION}`,
    ]);
    assert.equal(warnings.length, 1);
    assert.match(warnings[0]!, /atrium-shared.*forbidden/);
  });

  it('kills an orphan: its pod at once, then its own launch Secret by name; a failed delete is reported after both were tried', async () => {
    const { launcher, calls } = fakeLauncher({});
    const [engine] = [clusterEngineOf(listed(), INSTALLATION)!];
    await launcher.killOrphan(engine);
    assert.deepEqual(calls, [`delete pod atrium-risk/${podName} grace 0`, `delete secret atrium-risk/${launchTokenSecretName(podName)}`]);

    const failing = fakeLauncher({}, { failSecretDelete: true });
    await assert.rejects(failing.launcher.killOrphan(engine), /could not delete all of orphaned pod atrium-risk\/.*did not answer/);
    assert.equal(failing.calls.length, 2);
  });

  it('a restored kernel\'s end also deletes the Secret an older version named after the kernel', async () => {
    const calls: string[] = [];
    const api = {
      deletePod: async (namespace: string, name: string) => void calls.push(`delete pod ${namespace}/${name}`),
      deleteSecret: async (namespace: string, name: string) => void calls.push(`delete secret ${namespace}/${name}`),
    } as unknown as KubeApi;
    const watcher = { subscribe: () => () => {}, get: () => undefined } as unknown as PodWatcher;
    const base = { api, watcher, namespace: 'atrium-risk', name: podName, unschedulableGraceMs: 0, deleteGraceSeconds: 0, tokenSecret: true };
    await new KubernetesPodEngine({ ...base, legacyTokenSecret: `atrium-launch-${kernelId}` }).kill();
    assert.deepEqual(calls, [`delete pod atrium-risk/${podName}`, `delete secret atrium-risk/${launchTokenSecretName(podName)}`, `delete secret atrium-risk/atrium-launch-${kernelId}`]);
    calls.length = 0;
    await new KubernetesPodEngine(base).kill(); // launched by this version: its own Secret only
    assert.deepEqual(calls, [`delete pod atrium-risk/${podName}`, `delete secret atrium-risk/${launchTokenSecretName(podName)}`]);
  });

  it('refuses to kill what is not a pod of the engine\'s kernel', async () => {
    const { launcher, calls } = fakeLauncher({});
    const engine = clusterEngineOf(listed(), INSTALLATION)!;
    await assert.rejects(launcher.killOrphan({ ...engine, launcher: 'yarn' }), /cannot kill yarn engine/);
    await assert.rejects(launcher.killOrphan({ ...engine, kernelId: 'another-kernel' }), /is not a pod of kernel another-kernel/);
    await assert.rejects(launcher.killOrphan({ ...engine, engineId: 'pod atrium-risk/atrium-files-ana' }), /is not a pod of kernel/);
    await assert.rejects(launcher.killOrphan({ ...engine, engineId: 'application_1_0001' }), /not a Kubernetes kernel's engine id/);
    assert.deepEqual(calls, [], 'nothing was deleted');
  });

  it('an installation id that cannot be a label value fails at construction', () => {
    assert.throws(() => fakeLauncher({}, { installationId: '' }), /installation id "" must be a valid Kubernetes label value/);
    assert.throws(() => fakeLauncher({}, { installationId: 'has space' }), /must be a valid Kubernetes label value/);
  });
});
