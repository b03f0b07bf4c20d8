// What a pod's status means for Atrium, as pure functions: the launch phase a user reads ("scheduled on
// node-1", "pulling image ...", "running on node-1 at 10.244.0.7"), and the failures that end a launch at
// once instead of at its deadline (unschedulable with the scheduler's message, image pulls, a container
// that could not start or exited, with its exit code and message). The launcher and the file-server pods
// both read pods through this; it is guarded because statuses come from another system.
// Touch this file when Kubernetes adds a waiting reason that can never recover.
import type { V1ContainerStatus, V1Pod } from '@kubernetes/client-node';

/** Waiting reasons that never recover on their own (restartPolicy Never; the image or config is wrong). */
const FATAL_WAIT_REASONS = new Set([
  'ErrImagePull',
  'ImagePullBackOff',
  'InvalidImageName',
  'ErrImageNeverPull',
  'CreateContainerConfigError',
  'CreateContainerError',
  'RunContainerError',
  'CrashLoopBackOff',
  'StartError',
]);
/** The scheduler's words for a pod waiting on its volume claims (provisioning, binding), which resolve themselves. */
const VOLUME_WAIT = /unbound immediate PersistentVolumeClaims|persistentvolumeclaim "[^"]*" not found|waiting for .*volume|volume binding|PersistentVolumeClaim is being deleted/i;
const IMAGE_REASONS = new Set(['ErrImagePull', 'ImagePullBackOff', 'InvalidImageName', 'ErrImageNeverPull']);

export type PodProgress =
  /** Not running yet; `phase` says where it is (undefined: nothing new to say). */
  | { kind: 'pending'; phase: string; unschedulable?: string }
  | { kind: 'running'; phase: string; podIP: string | undefined; node: string | undefined }
  /** It will never run (again): why, in Kubernetes' words. */
  | { kind: 'ended'; reason: string; failure: PodFailure };

export type PodFailure = 'unschedulable' | 'image' | 'config' | 'exited' | 'failed' | 'succeeded' | 'deleted';

function oneLine(text: string | undefined, max = 400): string {
  return (text ?? '').replace(/\s+/g, ' ').trim().slice(0, max);
}

function mainContainer(pod: V1Pod, name: string | undefined): V1ContainerStatus | undefined {
  const statuses = pod.status?.containerStatuses ?? [];
  return (name && statuses.find((s) => s.name === name)) || statuses[0];
}

/** "exit code 1 (Error): Traceback ..." from a terminated container state. */
export function terminatedReason(status: V1ContainerStatus): string | undefined {
  const t = status.state?.terminated;
  if (!t) return undefined;
  const how = t.signal ? `signal ${t.signal}` : `exit code ${t.exitCode}`;
  const reason = t.reason ? ` (${t.reason})` : '';
  const message = oneLine(t.message);
  return `container ${status.name} ended with ${how}${reason}${message ? `: ${message}` : ''}`;
}

/**
 * Where a pod is. `container` names the container whose state decides (the first one by default).
 * Pure: the same pod always gives the same answer, so a watcher can call it on every event.
 */
export function podProgress(pod: V1Pod, container?: string): PodProgress {
  const name = pod.metadata?.name ?? 'pod';
  const node = pod.spec?.nodeName || undefined;
  const status = mainContainer(pod, container);
  const podPhase = pod.status?.phase;

  // A container that ended, or a pod in a final phase, is the end whatever else the status says.
  const terminated = status && terminatedReason(status);
  if (terminated) {
    const clean = status?.state?.terminated?.exitCode === 0;
    return { kind: 'ended', reason: `pod ${name}: ${terminated}`, failure: clean ? 'succeeded' : 'exited' };
  }
  if (podPhase === 'Failed' || podPhase === 'Succeeded') {
    const why = [pod.status?.reason, oneLine(pod.status?.message)].filter(Boolean).join(': ');
    return {
      kind: 'ended',
      reason: `pod ${name} is ${podPhase}${why ? `: ${why}` : ''}`,
      failure: podPhase === 'Failed' ? 'failed' : 'succeeded',
    };
  }
  const waiting = status?.state?.waiting;
  if (waiting?.reason && FATAL_WAIT_REASONS.has(waiting.reason)) {
    const image = IMAGE_REASONS.has(waiting.reason);
    const what = image ? `the image ${status?.image ?? ''} could not be pulled` : 'the container could not be started';
    const message = oneLine(waiting.message);
    return {
      kind: 'ended',
      reason: `pod ${name}: ${what} (${waiting.reason})${message ? `: ${message}` : ''}. ${image ? 'The kernel image is not available to the cluster: tell an admin.' : 'The kernel pod is misconfigured: tell an admin.'}`,
      failure: image ? 'image' : 'config',
    };
  }

  if (podPhase === 'Running' && status?.state?.running) {
    const ip = pod.status?.podIP || undefined;
    return { kind: 'running', phase: `running on ${node ?? 'a node'}${ip ? ` at ${ip}` : ''}`, podIP: ip, node };
  }
  const scheduled = pod.status?.conditions?.find((c) => c.type === 'PodScheduled');
  if (!node) {
    if (scheduled?.status === 'False' && scheduled.reason === 'Unschedulable') {
      const message = oneLine(scheduled.message) || 'no node can take it';
      // A claim that is not bound yet (a volume being provisioned) passes on its own: waiting, not a failure.
      if (VOLUME_WAIT.test(message)) return { kind: 'pending', phase: 'waiting for the home volume to be ready' };
      return { kind: 'pending', phase: `waiting for a node: ${message}`, unschedulable: message };
    }
    return { kind: 'pending', phase: 'waiting for the scheduler' };
  }
  if (waiting?.reason === 'ContainerCreating' || waiting?.reason === 'PodInitializing') {
    return { kind: 'pending', phase: `pulling image ${status?.image ?? ''} and starting the container on ${node}`.replace('  ', ' ') };
  }
  if (status?.state?.running) return { kind: 'pending', phase: `starting on ${node}` };
  return { kind: 'pending', phase: `scheduled on ${node}` };
}

/** The failure of a pod that never became Unschedulable-free within its grace. */
export function unschedulableReason(podName: string, message: string): string {
  return `pod ${podName} cannot be scheduled: ${message}. Pick a smaller size, or ask an admin about the cluster's capacity.`;
}
