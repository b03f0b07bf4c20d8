// What every pod Atrium creates has in common, as pure functions over plain objects (never text templates):
// loading and checking an admin's pod template, the user's identity in the security context (never root),
// affinity that keeps one user's pods on one node (so a ReadWriteOnce home volume can be mounted by all of
// them), and the rules for values that reach the pod spec. Used by the kernel launcher and the PVC store.
// Touch this file when a pod-wide rule changes; kernel- or file-server-specific parts live beside their users.
import { readFileSync } from 'node:fs';
import type { V1Affinity, V1EnvVar, V1Pod, V1PodSecurityContext, V1SecurityContext } from '@kubernetes/client-node';
import { LABELS, MANAGED_BY } from './names';

/** The lowest uid/gid a pod may run as (mirrors identity/posix-ids.ts; root and system ids are refused). */
export const MIN_POD_ID = 1000;
/** Nodes are told apart by this label (set by every kubelet). */
export const NODE_TOPOLOGY_KEY = 'kubernetes.io/hostname';

export class PodSpecError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'PodSpecError';
  }
}

export interface PodIdentity {
  uid: number;
  gid: number;
}

/** Refuses root and system ids: a pod as root on a shared volume could read every user's home. */
export function assertPodIdentity(ids: PodIdentity, who: string): void {
  for (const [what, id] of [
    ['uid', ids.uid],
    ['gid', ids.gid],
  ] as const) {
    if (!Number.isInteger(id) || id < MIN_POD_ID) {
      throw new PodSpecError(
        `${who}'s ${what} is ${id}; pods never run as root or a system ${what} (below ${MIN_POD_ID}). An admin can set it with \`npx atrium users set-posix\`.`,
      );
    }
  }
}

/** The pod-level security context: the user's ids, non-root enforced by the kubelet too, volumes group-owned. */
export function userSecurityContext(base: V1PodSecurityContext | undefined, ids: PodIdentity): V1PodSecurityContext {
  return {
    ...base,
    runAsUser: ids.uid,
    runAsGroup: ids.gid,
    runAsNonRoot: true,
    fsGroup: ids.gid,
    supplementalGroups: undefined,
  };
}

/**
 * The container's security context: the template's, with the user's ids (a container's runAsUser or runAsGroup
 * overrides the pod's, so a template's would run everyone as one uid, or in the root group), never root, no
 * privilege escalation.
 */
export function userContainerSecurityContext(base: V1SecurityContext | undefined, ids: PodIdentity): V1SecurityContext {
  return { ...base, runAsUser: ids.uid, runAsGroup: ids.gid, runAsNonRoot: true, allowPrivilegeEscalation: false, privileged: false };
}

/**
 * Required affinity to the user's other pods on one node. The first pod of a user matches its own term, and
 * Kubernetes schedules such a pod anywhere; later ones join it, so every pod can mount the user's RWO volume.
 */
export function sameNodeAsUser(userLabel: string): V1Affinity {
  return {
    podAffinity: {
      requiredDuringSchedulingIgnoredDuringExecution: [
        {
          labelSelector: { matchLabels: { [LABELS.managedBy]: MANAGED_BY, [LABELS.user]: userLabel } },
          topologyKey: NODE_TOPOLOGY_KEY,
        },
      ],
    },
  };
}

/**
 * A literal value for `env[].value`, `command` and `args`: Kubernetes expands `$(NAME)` there and turns `$$`
 * into `$`, so every `$` is doubled and a value can never pull in another variable.
 */
export const literal = (value: string) => value.replace(/\$/g, '$$$$');

const ENV_NAME = /^[A-Za-z_][A-Za-z0-9_]{0,127}$/;
const ENV_VALUE = /^[^\0-\x08\x0b-\x1f\x7f]{0,4096}$/;

/** Environment entries from trusted name/value pairs, each checked; throws PodSpecError naming the bad one. */
export function envEntries(env: Record<string, string>): V1EnvVar[] {
  return Object.entries(env).map(([name, value]) => {
    if (!ENV_NAME.test(name)) throw new PodSpecError(`"${name}" is not an environment variable name`);
    if (!ENV_VALUE.test(value)) throw new PodSpecError(`${name} holds control characters or is longer than 4096 characters`);
    return { name, value: literal(value) };
  });
}

/** POD_IP from the pod's own status: the address the process binds and reports. */
export const POD_IP_ENV: V1EnvVar = { name: 'POD_IP', valueFrom: { fieldRef: { fieldPath: 'status.podIP' } } };

/**
 * Checks an admin's pod template: a Pod with exactly one container, and nothing that would give the pod
 * more than the user has (host namespaces, privileged containers, host paths, a service account token).
 * Fields Atrium sets itself (identity, image, command, resources, the home volume) are overwritten anyway.
 */
export function checkPodTemplate(template: unknown, source: string): V1Pod {
  const fail = (why: string): never => {
    throw new PodSpecError(`pod template ${source}: ${why}`);
  };
  if (!template || typeof template !== 'object') fail('must be a JSON object');
  const pod = template as V1Pod;
  if (pod.kind !== 'Pod' || pod.apiVersion !== 'v1') fail('must be {"apiVersion": "v1", "kind": "Pod", ...}');
  const spec = pod.spec;
  if (!spec || !Array.isArray(spec.containers) || spec.containers.length !== 1) fail('spec.containers must hold exactly one container');
  if (spec!.hostNetwork || spec!.hostPID || spec!.hostIPC) fail('host namespaces (hostNetwork, hostPID, hostIPC) are not allowed');
  if (spec!.serviceAccountName || spec!.serviceAccount) fail('a service account is not allowed: kernels and file servers get no API credentials');
  if (spec!.automountServiceAccountToken !== false) fail('spec.automountServiceAccountToken must be false');
  for (const volume of spec!.volumes ?? []) if (volume.hostPath) fail(`volume "${volume.name}" is a hostPath, which is not allowed`);
  for (const c of [...spec!.containers, ...(spec!.initContainers ?? [])]) {
    if (c.securityContext?.privileged) fail(`container "${c.name}" is privileged, which is not allowed`);
    if (c.securityContext?.runAsUser === 0) fail(`container "${c.name}" runs as root, which is not allowed`);
  }
  if (spec!.initContainers?.length) fail('init containers are not supported (they would run before the user\'s identity is checked)');
  return pod;
}

/** Reads and checks a pod template file once (at boot, so a bad template stops the portal with its name). */
export function loadPodTemplate(file: string): V1Pod {
  let json: unknown;
  try {
    json = JSON.parse(readFileSync(file, 'utf8'));
  } catch (error) {
    throw new PodSpecError(`pod template ${file}: cannot read as JSON: ${(error as Error).message}`);
  }
  return checkPodTemplate(json, file);
}

/** A deep copy of plain JSON (templates are shared; each pod gets its own objects). */
export const cloneJson = <T>(value: T): T => JSON.parse(JSON.stringify(value)) as T;
