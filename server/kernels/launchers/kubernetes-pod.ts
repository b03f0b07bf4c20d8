// The kernel pod, built as an object from the template in kernel-launchers/kubernetes/kernel-pod.json and the
// server's own data: the user's uid/gid (never root), the size profile's requests and limits, the user's home
// volume claim, labels with kernel id, user and team, the image from the portal's allow-list, and Atrium's
// Python launcher as the command (calling back over the launch protocol, bound to the pod's IP); the Secret that
// hands a launch its token; and the way back from a listed pod to what a kernel row records (the orphan sweep).
// Pure: no I/O, so every rule is tested in kubernetes.test.ts. Touch this file when the kernel pod changes.
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { V1Pod, V1ResourceRequirements, V1Secret } from '@kubernetes/client-node';
import type { SizeProfile } from '../../quota/sizes';
import { ANNOTATIONS, LABELS, MANAGED_BY, cpuQuantity, labelValue, launchTokenSecretName, memoryQuantity } from '../../kubernetes/names';
import {
  POD_IP_ENV,
  PodSpecError,
  assertPodIdentity,
  cloneJson,
  envEntries,
  literal,
  sameNodeAsUser,
  userContainerSecurityContext,
  userSecurityContext,
  type PodIdentity,
} from '../../kubernetes/pods';
import type { ClusterEngine } from './base';

/** The bundled kernel pod template. */
export const BUNDLED_KERNEL_POD_TEMPLATE = fileURLToPath(new URL('../../../kernel-launchers/kubernetes/kernel-pod.json', import.meta.url));
export const KERNEL_CONTAINER = 'kernel';
export const HOME_VOLUME = 'home';
export const GPU_RESOURCE = 'nvidia.com/gpu';
/**
 * The scheduling gate a kernel pod is created with when it reads a launch Secret: the pod comes first, the Secret
 * (owned by the pod) second, then the gate is lifted. So a portal that dies midway leaves a pod the orphan sweep
 * finds, never a Secret nothing points to (the Role lets Atrium neither list nor read Secrets), and the kubelet
 * never looks for a Secret that does not exist yet.
 */
export const LAUNCH_TOKEN_GATE = 'atrium.io/launch-token';

export interface KernelPodPlan {
  kernelId: string;
  /** This installation's id (a label: the orphan sweep lists only its own pods). */
  installationId: string;
  kernelspecName: string;
  podName: string;
  namespace: string;
  username: string;
  team: string | null;
  ids: PodIdentity;
  image: string;
  /** Images kernels may use (the portal's configuration); `image` must be one of them. */
  allowedImages: readonly string[];
  /** [python, launcher script, launcher args...] as the container's command (no shell). */
  command: string[];
  /** The kernelspec env plus Atrium's KERNEL_* (already filtered by kernelEnv). */
  env: Record<string, string>;
  /** Variables taken from a Secret's keys (the launch token: a pod's spec is readable by all who may list pods). */
  secretEnv?: Record<string, { secret: string; key: string }>;
  size: SizeProfile;
  /** The user's PersistentVolumeClaim, mounted at homeMountPath; undefined: no home volume (emptyDir). */
  homeClaim: string | undefined;
  homeMountPath: string;
  template: V1Pod;
}

/** Requests and limits of a size profile: what the scheduler reserves is what the kernel may use. */
export function kernelResources(size: SizeProfile): V1ResourceRequirements {
  const amounts: Record<string, string> = { cpu: cpuQuantity(size.vcores), memory: memoryQuantity(size.memoryMb) };
  if (size.gpus > 0) amounts[GPU_RESOURCE] = String(size.gpus);
  return { requests: { ...amounts }, limits: { ...amounts } };
}

const IMAGE = /^[a-z0-9][a-z0-9._\-/:@]{0,254}$/i;
const MOUNT_PATH = /^\/[A-Za-z0-9._\-/]{1,255}$/;

/** The kernel's pod. Throws PodSpecError for anything that may not reach a pod (root, an unlisted image...). */
export function buildKernelPod(plan: KernelPodPlan): V1Pod {
  assertPodIdentity(plan.ids, plan.username);
  if (!IMAGE.test(plan.image) || !plan.allowedImages.includes(plan.image)) {
    throw new PodSpecError(`the image "${plan.image}" is not one kernels may use (allowed: ${plan.allowedImages.join(', ') || 'none'})`);
  }
  if (!MOUNT_PATH.test(plan.homeMountPath) || plan.homeMountPath.split('/').includes('..')) {
    throw new PodSpecError(`the home mount path "${plan.homeMountPath}" must be an absolute path`);
  }
  if (plan.command.length < 2 || plan.command.some((arg) => /[\0-\x1f\x7f]/.test(arg))) {
    throw new PodSpecError('the kernel command must be [python, script, ...] without control characters');
  }
  const pod = cloneJson(plan.template);
  const userLabel = labelValue(plan.username);
  const labels = {
    ...pod.metadata?.labels,
    [LABELS.managedBy]: MANAGED_BY,
    [LABELS.component]: 'kernel',
    [LABELS.kernelId]: labelValue(plan.kernelId),
    [LABELS.installation]: labelValue(plan.installationId),
    [LABELS.user]: userLabel,
    ...(plan.team ? { [LABELS.team]: labelValue(plan.team) } : {}),
  };
  pod.metadata = {
    ...pod.metadata,
    name: plan.podName,
    namespace: plan.namespace,
    labels,
    annotations: {
      ...pod.metadata?.annotations,
      [ANNOTATIONS.username]: plan.username,
      [ANNOTATIONS.kernelId]: plan.kernelId,
      [ANNOTATIONS.kernelspec]: plan.kernelspecName,
      [ANNOTATIONS.size]: plan.size.name,
      ...(plan.team ? { [ANNOTATIONS.team]: plan.team } : {}),
    },
  };
  const spec = pod.spec!;
  spec.restartPolicy = 'Never'; // a kernel that ends is over: the launch protocol cannot re-attach a new process
  spec.automountServiceAccountToken = false;
  spec.securityContext = userSecurityContext(spec.securityContext, plan.ids);
  spec.affinity = { ...spec.affinity, podAffinity: sameNodeAsUser(userLabel).podAffinity };
  spec.volumes = [
    ...(spec.volumes ?? []).filter((v) => v.name !== HOME_VOLUME),
    plan.homeClaim ? { name: HOME_VOLUME, persistentVolumeClaim: { claimName: plan.homeClaim } } : { name: HOME_VOLUME, emptyDir: {} },
  ];
  const container = spec.containers[0]!;
  container.name = KERNEL_CONTAINER;
  container.image = plan.image;
  container.command = plan.command.map(literal);
  container.args = undefined;
  container.workingDir = plan.homeMountPath;
  container.resources = kernelResources(plan.size);
  container.securityContext = userContainerSecurityContext(container.securityContext, plan.ids);
  const ours = [
    ...envEntries({ ...plan.env, HOME: plan.homeMountPath }),
    ...Object.entries(plan.secretEnv ?? {}).map(([name, ref]) => ({ name, valueFrom: { secretKeyRef: { name: ref.secret, key: ref.key } } })),
  ];
  const reserved = new Set([...ours.map((e) => e.name), POD_IP_ENV.name]);
  container.env = [...(container.env ?? []).filter((e) => !reserved.has(e.name)), ...ours, POD_IP_ENV];
  container.volumeMounts = [...(container.volumeMounts ?? []).filter((m) => m.name !== HOME_VOLUME), { name: HOME_VOLUME, mountPath: plan.homeMountPath }];
  // A pod that reads a launch Secret is held back from scheduling until the Secret exists (see LAUNCH_TOKEN_GATE).
  const gates = (spec.schedulingGates ?? []).filter((g) => g.name !== LAUNCH_TOKEN_GATE);
  spec.schedulingGates = plan.secretEnv && Object.keys(plan.secretEnv).length > 0 ? [...gates, { name: LAUNCH_TOKEN_GATE }] : gates.length ? gates : undefined;
  return pod;
}

/**
 * The launcher's arguments from a kernelspec argv (`[python] launch_kernel.py args...`, placeholders already
 * substituted): the pod runs them with the image's Python and launcher script, bound to the pod's IP.
 */
export function podCommand(argv: readonly string[], image: { python: string; launcherScript: string }): string[] {
  const rest = /^(python3?|.*\/python3?)$/.test(argv[0] ?? '') ? argv.slice(1) : [...argv];
  const [script, ...args] = rest;
  if (!script || path.extname(script) !== '.py') {
    throw new PodSpecError(`a Kubernetes kernelspec's argv must start with [python] <launcher>.py; got ${JSON.stringify(argv.slice(0, 2))}`);
  }
  // --ip-from-env after the kernelspec's own arguments: it wins over any --ip there.
  return [image.python, image.launcherScript, ...args, '--ip-from-env', POD_IP_ENV.name];
}

/** The key of the token in a launch's Secret. */
export const LAUNCH_TOKEN_KEY = 'token';

/** The Secret a launch's pod reads its one-time token from (see launchTokenSecretName for its name). */
export function launchTokenSecret(launch: { kernelId: string; podName: string; installationId: string; token: string; podUid?: string }): V1Secret {
  return {
    metadata: {
      name: launchTokenSecretName(launch.podName),
      // Owned by its pod: the cluster's garbage collector deletes it with the pod, whatever becomes of the portal.
      ...(launch.podUid ? { ownerReferences: [{ apiVersion: 'v1', kind: 'Pod', name: launch.podName, uid: launch.podUid }] } : {}),
      labels: {
        [LABELS.managedBy]: MANAGED_BY,
        [LABELS.component]: 'launch-token',
        [LABELS.kernelId]: labelValue(launch.kernelId),
        [LABELS.installation]: labelValue(launch.installationId),
      },
    },
    type: 'Opaque',
    stringData: { [LAUNCH_TOKEN_KEY]: launch.token },
  };
}

/** What a kernel row's `engine_id` holds for a Kubernetes kernel (the orphan sweep compares the two). */
export const podEngineId = (namespace: string, name: string) => `pod ${namespace}/${name}`;

const POD_ENGINE_ID = /^pod ([a-z0-9]([-a-z0-9]*[a-z0-9])?)\/([a-z0-9]([-a-z0-9.]*[a-z0-9])?)$/;

/** The namespace and pod name of a `pod ns/name` engine id; throws for anything else. */
export function parsePodEngineId(engineId: string): { namespace: string; name: string } {
  const match = POD_ENGINE_ID.exec(engineId);
  if (!match || match[1]!.length > 63 || match[3]!.length > 253) {
    throw new Error(`"${engineId}" is not a Kubernetes kernel's engine id (pod <namespace>/<name>)`);
  }
  return { namespace: match[1]!, name: match[3]! };
}

/**
 * A listed kernel pod as the orphan sweep sees it, or undefined for one it must leave alone: being deleted
 * already, not this installation's, or without the kernel id, name or creation time to judge it by.
 */
export function clusterEngineOf(pod: V1Pod, installationId: string): ClusterEngine | undefined {
  const meta = pod.metadata;
  if (!meta?.name || !meta.namespace || meta.deletionTimestamp) return undefined;
  const labels = meta.labels ?? {};
  if (labels[LABELS.managedBy] !== MANAGED_BY || labels[LABELS.component] !== 'kernel') return undefined;
  if (labels[LABELS.installation] !== labelValue(installationId)) return undefined;
  // The annotation has the exact id; the label only when the id is label-safe (every id Atrium makes is).
  const kernelId = meta.annotations?.[ANNOTATIONS.kernelId] ?? labels[LABELS.kernelId];
  const createdAt = meta.creationTimestamp === undefined ? undefined : new Date(meta.creationTimestamp);
  if (!kernelId || !createdAt || Number.isNaN(createdAt.getTime())) return undefined;
  const engineId = podEngineId(meta.namespace, meta.name);
  return { launcher: 'kubernetes', kernelId, engineId, label: engineId, createdAt };
}
