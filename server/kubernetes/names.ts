// Names and labels Atrium puts on Kubernetes objects, as pure functions: what is valid where (DNS-1123 names,
// label values), the per-team namespace template, and Kubernetes quantities from size profiles.
// Every value that reaches an object comes from the server's own data through these, never from a client.
// Touch this file when a naming rule changes; objects already created keep their old names (restore reads
// the saved pod name, never recomputes it).
import { createHash } from 'node:crypto';

/** Labels on every object Atrium creates (the watchers select on the first two). */
export const LABELS = {
  managedBy: 'app.kubernetes.io/managed-by',
  component: 'atrium.io/component',
  kernelId: 'atrium.io/kernel-id',
  user: 'atrium.io/user',
  team: 'atrium.io/team',
  /**
   * The installation (db/queries/installation.ts) that made a kernel pod or launch Secret: the orphan sweep lists
   * only its own, so two installations sharing a namespace never touch each other's kernels.
   */
  installation: 'atrium.io/installation',
} as const;
export const MANAGED_BY = 'atrium';
/** Exact values that label rules may have changed (labels are for selecting, annotations for reading). */
export const ANNOTATIONS = {
  username: 'atrium.io/username',
  team: 'atrium.io/team-name',
  kernelspec: 'atrium.io/kernelspec',
  size: 'atrium.io/size',
  /** The kernel id exactly (its label is label-safe, so a 64-character or odd id is hashed there). */
  kernelId: 'atrium.io/kernel-id',
} as const;

export type Component = 'kernel' | 'fileserver';

const LABEL_VALUE = /^(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?$/;
const DNS_LABEL = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;

const shortHash = (value: string, length = 10) => createHash('sha256').update(value, 'utf8').digest('hex').slice(0, length);

/**
 * `value` as a label value (at most 63 of [A-Za-z0-9-_.], alphanumeric at both ends). A value that is valid
 * already is kept as is; any other is reduced to the allowed characters and given a hash of the original, so
 * two different values never share a label (a user label selects that user's pods and PVC).
 */
export function labelValue(value: string): string {
  if (value.length <= 63 && LABEL_VALUE.test(value)) return value;
  const cleaned = value.replace(/[^A-Za-z0-9_.-]+/g, '-').replace(/^[^A-Za-z0-9]+/, '').slice(0, 50).replace(/[^A-Za-z0-9]+$/, '');
  return `${cleaned ? `${cleaned}-` : 'x-'}${shortHash(value)}`;
}

/**
 * `value` as one DNS-1123 label (at most `max` of [a-z0-9-], alphanumeric at both ends), for object names and
 * namespaces. Lower-cased; anything changed beyond case gets a hash suffix, as in labelValue.
 */
export function dnsLabel(value: string, max = 63): string {
  // Lower-casing alone adds no hash: usernames are lower-case and team names are unique ignoring case.
  const lower = value.toLowerCase();
  if (lower.length <= max && DNS_LABEL.test(lower)) return lower;
  const cleaned = lower.replace(/[^a-z0-9-]+/g, '-').replace(/^-+/, '').slice(0, Math.max(1, max - 12)).replace(/-+$/, '');
  return `${cleaned || 'x'}-${shortHash(value)}`;
}

export const isDnsLabel = (value: string) => value.length <= 63 && DNS_LABEL.test(value);

/** The template `atrium-{team}` (or a fixed namespace) for one user's team; `shared` for users without a team. */
export function namespaceFor(template: string, team: string | null | undefined): string {
  const teamPart = team ? dnsLabel(team, 40) : 'shared';
  const namespace = template.replace(/\{team\}/g, teamPart);
  if (!isDnsLabel(namespace)) {
    throw new Error(`the namespace template ${JSON.stringify(template)} gives "${namespace}", which is not a valid namespace name`);
  }
  return namespace;
}

/** Checks a namespace template at boot: only `{team}` may be substituted, and the result must be valid. */
export function namespaceTemplateProblem(template: string): string | undefined {
  if (/\{(?!team\})[^}]*\}/.test(template)) return 'only {team} may appear in braces';
  try {
    namespaceFor(template, 'team-name');
    namespaceFor(template, null);
  } catch (error) {
    return (error as Error).message;
  }
  return undefined;
}

const KERNEL_POD_PREFIX = 'atrium-kernel-';

/** Name of a kernel's pod: one per launch (a restart gets a new suffix, so it never waits for the old name). */
export function kernelPodName(kernelId: string, suffix: string): string {
  return `${KERNEL_POD_PREFIX}${dnsLabel(kernelId, 40)}-${suffix}`;
}

/**
 * The Secret holding one launch's token, named after that launch's pod: deleting it by name (the Role may not
 * list or read Secrets) hits exactly that launch's token, never the Secret of a newer launch of the same kernel.
 */
export function launchTokenSecretName(podName: string): string {
  if (!podName.startsWith(KERNEL_POD_PREFIX) || !isDnsLabel(podName)) throw new Error(`"${podName}" is not the name of a kernel pod`);
  return `atrium-launch-${podName.slice(KERNEL_POD_PREFIX.length)}`;
}

/** The user's home volume claim. */
export const homeClaimName = (username: string) => `atrium-home-${dnsLabel(username, 50)}`;
/** The user's one file-server pod. */
export const fileServerPodName = (username: string) => `atrium-files-${dnsLabel(username, 49)}`;

/** Kubernetes quantities from a size profile: CPU in millicores when fractional, memory in Mi. */
export function cpuQuantity(vcores: number): string {
  return Number.isInteger(vcores) ? String(vcores) : `${Math.max(1, Math.round(vcores * 1000))}m`;
}
export const memoryQuantity = (memoryMb: number) => `${Math.round(memoryMb)}Mi`;

/** A label selector string from exact matches (values already valid label values). */
export function selectorOf(labels: Record<string, string>): string {
  return Object.entries(labels)
    .map(([k, v]) => `${k}=${v}`)
    .join(',');
}
