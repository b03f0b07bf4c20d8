// The Kubernetes launcher (`metadata.atrium.launcher: "kubernetes"`): a kernel is a pod. Only the engine step
// lives here (remote.ts does the launch protocol): build the pod (kubernetes-pod.ts: the user's uid/gid, the
// size's requests and limits, the user's PVC, labels, the allow-listed image), create it in the user's team
// namespace, and follow it through the one pod watch of that namespace (server/kubernetes/pod-watch.ts).
// While the launch is pending, the pod's status becomes launch phases ("scheduled on node-1", "pulling image
// ...", "running on node-1 at 10.244.0.7"), and a pod that can never start (unschedulable, image pull, a
// container that exits) ends the launch at once with Kubernetes' reason instead of at the deadline.
// Deletion, culls, failed launches and launch timeouts delete the pod; a pod that ended is deleted when its
// handle is cleaned up, so nothing is left behind. serialize() keeps the namespace and pod name.
// Pods and launch Secrets carry this installation's id: listOwnEngines() finds this installation's kernel pods
// (never another's in a shared namespace) and killOrphan() deletes a pod the orphan sweep found no kernel owns,
// with its launch Secret (by name: the Role may not list Secrets). The pod comes before its Secret (held by a
// scheduling gate until the Secret exists, which it owns): a portal that dies midway leaves a pod to sweep, never
// a Secret nothing points to.
// Touch this file when the way kernels become pods changes; the pod itself is built in kubernetes-pod.ts.
import { randomBytes } from 'node:crypto';
import type { V1Pod } from '@kubernetes/client-node';
import { z } from 'zod';
import { KubeError, type KubeApi } from '../../kubernetes/api';
import { LABELS, MANAGED_BY, kernelPodName, labelValue, launchTokenSecretName, namespaceFor, selectorOf } from '../../kubernetes/names';
import { podProgress, unschedulableReason } from '../../kubernetes/pod-status';
import type { PodEvent, PodWatcher, PodWatchers } from '../../kubernetes/pod-watch';
import { PodSpecError, loadPodTemplate, type PodIdentity } from '../../kubernetes/pods';
import { chooseSize, sizeTableOf } from '../../quota/sizes';
import type { KernelLogger } from '../connection';
import { launcherConfig } from '../kernelspecs';
import type { JsonObject } from '../protocol/messages';
import {
  KUBERNETES_LAUNCHER,
  LaunchError,
  type ClusterEngine,
  type DeadStatus,
  type KernelStatus,
  type LaunchOptions,
  type LaunchRequest,
  type SerializedKernel,
} from './base';
import {
  BUNDLED_KERNEL_POD_TEMPLATE,
  KERNEL_CONTAINER,
  LAUNCH_TOKEN_GATE,
  LAUNCH_TOKEN_KEY,
  buildKernelPod,
  clusterEngineOf,
  launchTokenSecret,
  parsePodEngineId,
  podCommand,
  podEngineId,
} from './kubernetes-pod';
import { RemoteLauncher, type EngineStart, type RemoteEngine, type RemoteKernelProcess, type RemoteLauncherOptions } from './remote';

/** Image pulls and node scale-ups take time: a launch may wait this long for its payload unless configured. */
const DEFAULT_K8S_LAUNCH_DEADLINE_MS = 300_000;
/** After a pod delete, how long to wait to see it gone (the kubelet's SIGTERM, then the object's removal). */
const DEFAULT_K8S_KILL_DEADLINE_MS = 30_000;
const SYNC_DEADLINE_MS = 30_000;

export interface KubernetesIdentity extends PodIdentity {
  /** The user's team (namespace template and labels), null without one. */
  team: string | null;
}

export interface KubernetesLauncherOptions extends RemoteLauncherOptions {
  api: KubeApi;
  /** This installation's id (db/queries/installation.ts): its pods and Secrets carry it as a label. */
  installationId: string;
  /** Every namespace kernels can be in (the default one and each team's), for the orphan sweep. */
  kernelNamespaces(): Promise<string[]>;
  /** The one watcher per namespace, shared with the PVC store's file servers. */
  watchers: PodWatchers;
  /** `atrium-{team}` or a fixed namespace (ATRIUM_K8S_NAMESPACE). */
  namespaceTemplate: string;
  /** The default kernel image (ATRIUM_K8S_KERNEL_IMAGE). */
  kernelImage: string;
  /** Images a kernelspec's `config.image` may name; the default image is always allowed. */
  allowedImages?: readonly string[];
  /** The Python inside the image (ATRIUM_K8S_KERNEL_PYTHON). */
  kernelPython: string;
  /** Atrium's launch_kernel.py inside the image (ATRIUM_K8S_LAUNCHER_SCRIPT). */
  launcherScript: string;
  /** Where the home volume is mounted in the pod (and the kernel's working directory). */
  homeMountPath?: string;
  /** The pod template; default the bundled kernel-launchers/kubernetes/kernel-pod.json. */
  template?: V1Pod;
  /** The user's POSIX ids and team, from the database; undefined for an unknown user. */
  identityOf(username: string): Promise<KubernetesIdentity | undefined>;
  /** Makes sure the user's home claim exists in `namespace`; its name, or undefined for no home volume. */
  homeClaimOf?(username: string, namespace: string): Promise<string | undefined>;
  /** How long a pod may stay unschedulable before the launch fails. Default 0: fail at the scheduler's first "no". */
  unschedulableGraceMs?: number;
  /** Grace period of a pod delete (the kernel's SIGTERM before SIGKILL). Default 5 s. */
  deleteGraceSeconds?: number;
}

/** The variable the launcher reads its one-time token from (the pod takes it from its launch Secret). */
const LAUNCH_TOKEN_ENV = 'ATRIUM_LAUNCH_TOKEN';

const invalid = (kernelId: string, message: string) => new LaunchError('INVALID_REQUEST', `kernel ${kernelId}: ${message}`, { kernelId });

export class KubernetesLauncher extends RemoteLauncher {
  readonly name = KUBERNETES_LAUNCHER;
  private readonly opts: KubernetesLauncherOptions;
  private readonly template: V1Pod;
  private readonly allowedImages: string[];
  /** Launch-phase reporters of pending launches; removed when the launch settles, so phases stop there. */
  private readonly phaseReporters = new Map<string, (phase: string) => void>();
  /** The engine of each launch in progress whose pod has a launch token Secret, deleted when the launch settles. */
  private readonly tokenSecrets = new Map<string, KubernetesPodEngine>();
  /** Set once the API server was seen dropping LAUNCH_TOKEN_GATE (said once per process). */
  private warnedUngated = false;

  constructor(options: KubernetesLauncherOptions) {
    super({
      ...options,
      launchDeadlineMs: options.launchDeadlineMs ?? DEFAULT_K8S_LAUNCH_DEADLINE_MS,
      killDeadlineMs: options.killDeadlineMs ?? DEFAULT_K8S_KILL_DEADLINE_MS,
    });
    this.opts = options;
    this.template = options.template ?? loadPodTemplate(BUNDLED_KERNEL_POD_TEMPLATE);
    this.allowedImages = [...new Set([options.kernelImage, ...(options.allowedImages ?? [])])];
    namespaceFor(options.namespaceTemplate, null); // a bad template fails at boot
    // The id is a label value and a selector: kept exactly, never hashed (a hashed one could not be read back).
    if (!options.installationId || labelValue(options.installationId) !== options.installationId) {
      throw new Error(`the installation id ${JSON.stringify(options.installationId)} must be a valid Kubernetes label value (at most 63 letters, digits, -, _ or .)`);
    }
  }

  get watchers(): PodWatchers {
    return this.opts.watchers;
  }

  override async launch(request: LaunchRequest, options: LaunchOptions = {}): Promise<RemoteKernelProcess> {
    if (options.onPhase) this.phaseReporters.set(request.kernelId, options.onPhase);
    try {
      const kernel = await super.launch(request, options);
      options.onPhase?.(`connected: the kernel in ${kernel.engineId} reported from ${kernel.connectionInfo.ip}`);
      return kernel;
    } finally {
      this.phaseReporters.delete(request.kernelId);
      // The token is spent once the launch settled (reported, failed or cancelled): its Secret goes (if that
      // fails, the engine tries again when the kernel ends).
      const engine = this.tokenSecrets.get(request.kernelId);
      this.tokenSecrets.delete(request.kernelId);
      await engine?.deleteTokenSecret();
    }
  }

  /**
   * The one-time launch token goes to the pod through a Secret, never in the pod's spec (its command and env are
   * readable by everyone who may list pods in the namespace). Made once the pod exists (held by LAUNCH_TOKEN_GATE)
   * and owned by it, so nothing is left that the orphan sweep or the garbage collector cannot find.
   */
  private async createTokenSecret(kernelId: string, namespace: string, pod: V1Pod, token: string): Promise<void> {
    const body = launchTokenSecret({ kernelId, podName: pod.metadata!.name!, podUid: pod.metadata?.uid, installationId: this.opts.installationId, token });
    try {
      await this.opts.api.createSecret(namespace, body);
    } catch (error) {
      const why = error instanceof KubeError ? error.message : String(error);
      throw new LaunchError('LAUNCH_FAILED', `kernel ${kernelId}: could not hand the pod its launch token (a Secret in ${namespace}): ${why}`, { kernelId, cause: error });
    }
  }

  /**
   * Lets the scheduler take the pod now that its Secret exists. An API server that dropped the gate (Kubernetes
   * older than 1.27 or the feature off) had the pod scheduled already: said once, and the launch goes on (the
   * Secret was made one call after the pod, well before a kubelet reads it).
   */
  private async liftLaunchTokenGate(kernelId: string, pod: V1Pod): Promise<void> {
    const { namespace, name } = pod.metadata as { namespace: string; name: string };
    const index = (pod.spec?.schedulingGates ?? []).findIndex((gate) => gate.name === LAUNCH_TOKEN_GATE);
    if (index < 0) {
      if (!this.warnedUngated) this.logger?.warn('the API server dropped the kernel pod\'s scheduling gate (Kubernetes 1.27 or later holds a pod until its launch Secret exists); launches go on without it', { pod: `${namespace}/${name}` });
      this.warnedUngated = true;
      return;
    }
    try {
      this.opts.watchers.forNamespace(namespace).observe(await this.opts.api.removeSchedulingGate(namespace, name, index, LAUNCH_TOKEN_GATE));
    } catch (error) {
      const why = error instanceof KubeError ? error.message : String(error);
      throw new LaunchError('LAUNCH_FAILED', `kernel ${kernelId}: could not release pod ${namespace}/${name} to the scheduler once its launch token was ready: ${why}`, { kernelId, cause: error });
    }
  }

  protected async startEngine({ request, argv, env }: EngineStart): Promise<RemoteEngine> {
    const { kernelId, kernelspec, username } = request;
    const identity = await this.opts.identityOf(username);
    if (!identity) throw invalid(kernelId, `the user ${username} has no POSIX identity to run a pod as`);
    const namespace = namespaceFor(this.opts.namespaceTemplate, identity.team);
    const size = chooseSize(sizeTableOf(kernelspec.spec.metadata.atrium), request.sizeProfile);
    if ('error' in size) throw invalid(kernelId, size.error);
    const configured = launcherConfig(kernelspec).image;
    const image = typeof configured === 'string' && configured ? configured : this.opts.kernelImage;
    const report = (phase: string) => this.phaseReporters.get(kernelId)?.(phase);

    let pod: V1Pod;
    const podName = kernelPodName(kernelId, randomBytes(3).toString('hex'));
    const { [LAUNCH_TOKEN_ENV]: token, ...plainEnv } = env;
    try {
      const command = podCommand(argv, { python: this.opts.kernelPython, launcherScript: this.opts.launcherScript });
      const homeClaim = await this.opts.homeClaimOf?.(username, namespace);
      const secretEnv = token === undefined ? undefined : { [LAUNCH_TOKEN_ENV]: { secret: launchTokenSecretName(podName), key: LAUNCH_TOKEN_KEY } };

      pod = buildKernelPod({
        kernelId,
        installationId: this.opts.installationId,
        kernelspecName: kernelspec.name,
        podName,
        namespace,
        username,
        team: identity.team,
        ids: identity,
        image,
        allowedImages: this.allowedImages,
        command,
        env: plainEnv,
        secretEnv,
        size,
        homeClaim,
        homeMountPath: this.opts.homeMountPath ?? '/home/atrium',
        template: this.template,
      });
    } catch (error) {
      if (error instanceof PodSpecError) throw invalid(kernelId, error.message);
      throw error;
    }

    const watcher = this.opts.watchers.forNamespace(namespace);
    await watcher.synced(SYNC_DEADLINE_MS);
    // Subscribed before the create, so no event of the new pod can be missed.
    const engine = new KubernetesPodEngine({
      api: this.opts.api,
      watcher,
      namespace,
      name: podName,
      onPhase: report,
      unschedulableGraceMs: this.opts.unschedulableGraceMs ?? 0,
      deleteGraceSeconds: this.opts.deleteGraceSeconds ?? 5,
      logger: this.logger,
      tokenSecret: token !== undefined,
    });
    report(`creating pod ${podName} in namespace ${namespace} (${size.name}, as uid ${identity.uid})`);
    let created: V1Pod | undefined;
    try {
      created = await this.opts.api.createPod(namespace, pod);
      watcher.observe(created);
      if (token !== undefined) {
        this.tokenSecrets.set(kernelId, engine); // from here on, the launch's end deletes the Secret
        await this.createTokenSecret(kernelId, namespace, created, token);
        await this.liftLaunchTokenGate(kernelId, created);
      }
    } catch (error) {
      // A pod made but not launched (its Secret or its gate failed) goes at once; the Secret goes as the launch ends.
      if (created) await this.opts.api.deletePod(namespace, podName, 0).catch((e: unknown) => this.logger?.warn('could not delete the pod of a failed launch; the orphan sweep will', { pod: engine.engineId, error: String(e) }));
      await engine.cleanup();
      if (error instanceof LaunchError) throw error;
      const why = error instanceof KubeError ? error.message : String(error);
      throw new LaunchError('LAUNCH_FAILED', `kernel ${kernelId}: Kubernetes refused the pod: ${why}`, { kernelId, engineId: engine.engineId, cause: error });
    }
    return engine;
  }

  /**
   * This installation's kernel pods, alive, in every namespace kernels can be in (the orphan sweep's input). A
   * namespace that cannot be listed (gone, or outside the Role) is skipped with a warning; pods already being
   * deleted are left out. Pods made before pods carried the installation label are never listed.
   */
  /** Namespaces the last sweeps could not list, with the error already logged. */
  private readonly unlistedNamespaces = new Map<string, string>();

  async listOwnEngines(): Promise<ClusterEngine[]> {
    const selector = selectorOf({ [LABELS.managedBy]: MANAGED_BY, [LABELS.component]: 'kernel', [LABELS.installation]: this.opts.installationId });
    const engines: ClusterEngine[] = [];
    for (const namespace of new Set(await this.opts.kernelNamespaces())) {
      let pods: V1Pod[];
      try {
        pods = (await this.opts.api.listPods(namespace, selector)).items;
        this.unlistedNamespaces.delete(namespace);
      } catch (error) {
        // Said once per namespace and error, not every sweep (a deleted team's namespace stays on the list a while).
        if (this.unlistedNamespaces.get(namespace) !== String(error)) {
          this.unlistedNamespaces.set(namespace, String(error));
          this.logger?.warn('could not list this installation\'s kernel pods in a namespace; the orphan sweep skips it', { namespace, error: String(error) });
        }
        continue;
      }
      for (const pod of pods) {
        const engine = clusterEngineOf({ ...pod, metadata: { ...pod.metadata, namespace: pod.metadata?.namespace ?? namespace } }, this.opts.installationId);
        if (engine) engines.push(engine);
      }
    }
    return engines;
  }

  /**
   * Deletes a kernel pod no kernel owns (at once: grace 0) and its launch Secret, which a launch a crash cut short
   * leaves behind. Either already gone counts as done. Throws for an engine that is not one of this launcher's
   * kernel pods, or when a delete failed (after trying both).
   */
  async killOrphan(engine: ClusterEngine): Promise<void> {
    if (engine.launcher !== this.name) throw new Error(`the ${this.name} launcher cannot kill ${engine.launcher} engine ${engine.label}`);
    const { namespace, name } = parsePodEngineId(engine.engineId);
    if (!name.startsWith(kernelPodName(engine.kernelId, ''))) throw new Error(`${engine.engineId} is not a pod of kernel ${engine.kernelId}`);
    const failures: string[] = [];
    await this.opts.api.deletePod(namespace, name, 0).catch((error: unknown) => failures.push(String(error)));
    const secret = launchTokenSecretName(name);
    await this.opts.api.deleteSecret(namespace, secret).catch((error: unknown) => failures.push(String(error)));
    if (failures.length) throw new Error(`kernel ${engine.kernelId}: could not delete all of orphaned ${engine.label}: ${failures.join('; ')}`);
  }

  protected async restoreEngine(state: JsonObject, saved: SerializedKernel): Promise<RemoteEngine> {
    const parsed = PodEngineStateSchema.safeParse(state);
    if (!parsed.success) {
      throw new LaunchError('RESTORE_FAILED', `kernel ${saved.kernelId}: invalid Kubernetes engine state: ${z.prettifyError(parsed.error)}`, {
        kernelId: saved.kernelId,
        engineId: saved.engineId,
      });
    }
    const { namespace, name } = parsed.data;
    const watcher = this.opts.watchers.forNamespace(namespace);
    // An API server that does not answer says nothing about the pod: the kernel is not taken for dead (its row
    // would be ended and the orphan sweep would delete a live pod); it is looked at again later.
    const unreachable = (error: unknown) =>
      new LaunchError('CLUSTER_UNREACHABLE', `kernel ${saved.kernelId}: the Kubernetes API server could not say whether pod ${namespace}/${parsed.data.name} runs: ${(error as Error).message}`, {
        kernelId: saved.kernelId,
        engineId: saved.engineId,
        cause: error,
      });
    await watcher.synced(SYNC_DEADLINE_MS).catch((error: unknown) => Promise.reject(unreachable(error)));
    const engine = new KubernetesPodEngine({
      api: this.opts.api,
      watcher,
      namespace,
      name,
      unschedulableGraceMs: this.opts.unschedulableGraceMs ?? 0,
      deleteGraceSeconds: this.opts.deleteGraceSeconds ?? 5,
      logger: this.logger,
      // Deleted when its launch settled, unless that delete failed: tried again (by name) when the kernel ends.
      tokenSecret: true,
      legacyTokenSecret: legacyTokenSecretName(saved.kernelId),
    });
    // The watch lists only what exists: a pod it has not seen is read once, and missing means gone.
    if (!watcher.get(name)) {
      const pod = await this.opts.api.readPod(namespace, name).catch((error: unknown) => Promise.reject(unreachable(error)));
      if (pod) watcher.observe(pod);
      else engine.markGone(`pod ${namespace}/${name} no longer exists`);
    }
    return engine;
  }
}

// --- the engine: one pod ---

const PodEngineStateSchema = z.object({
  namespace: z.string().regex(/^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/).max(63),
  name: z.string().regex(/^[a-z0-9]([-a-z0-9.]*[a-z0-9])?$/).max(253),
});

interface PodEngineInit {
  api: KubeApi;
  watcher: PodWatcher;
  namespace: string;
  name: string;
  /** Reports launch phases while the launch is pending (a no-op afterwards). */
  onPhase?: (phase: string) => void;
  unschedulableGraceMs: number;
  deleteGraceSeconds: number;
  logger?: KernelLogger;
  /** The pod reads a launch token Secret (named after it), to be deleted once the launch settled or the kernel ends. */
  tokenSecret: boolean;
  /** A restored kernel may have been launched by a version that named its Secret after the kernel: tried too. */
  legacyTokenSecret?: string;
}

/** The Secret name versions before per-pod names gave a kernel's launch token; undefined if it cannot be a name. */
function legacyTokenSecretName(kernelId: string): string | undefined {
  const name = `atrium-launch-${kernelId}`;
  return /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/.test(name) && name.length <= 253 ? name : undefined;
}

export class KubernetesPodEngine implements RemoteEngine {
  readonly namespace: string;
  readonly name: string;
  private readonly api: KubeApi;
  private readonly watcher: PodWatcher;
  private readonly init: PodEngineInit;
  private readonly unsubscribe: () => void;
  private readonly waiters = new Set<(status: DeadStatus) => void>();
  private ended: DeadStatus | undefined;
  /** Set once the pod object is known to be gone (deleted), so cleanup has nothing to delete. */
  private gone = false;
  private deleteRequested = false;
  private lastPhase: string | undefined;
  private unschedulableTimer: NodeJS.Timeout | undefined;
  /** True while the pod's launch Secret may still exist (set at launch; cleared once a delete of it succeeded). */
  private tokenSecretLeft: boolean;

  constructor(init: PodEngineInit) {
    this.init = init;
    this.api = init.api;
    this.watcher = init.watcher;
    this.namespace = init.namespace;
    this.name = init.name;
    this.tokenSecretLeft = init.tokenSecret;
    this.unsubscribe = this.watcher.subscribe(this.name, (event) => this.onEvent(event));
    const known = this.watcher.get(this.name);
    if (known) this.onEvent({ type: 'updated', pod: known });
  }

  get engineId(): string {
    return podEngineId(this.namespace, this.name);
  }

  /** The pod as the watch last saw it (for tests and admins). */
  get pod(): V1Pod | undefined {
    return this.watcher.get(this.name);
  }

  /** Restore found no pod: it ended while nobody watched. */
  markGone(reason: string): void {
    this.gone = true;
    this.end(reason);
  }

  private onEvent(event: PodEvent): void {
    if (event.type === 'deleted') {
      this.gone = true;
      // The last status may say why it ended (a container that exited before its object went away).
      const last = event.pod && podProgress(event.pod, KERNEL_CONTAINER);
      this.end(last?.kind === 'ended' ? last.reason : `pod ${this.namespace}/${this.name} was deleted`);
      return;
    }
    const progress = podProgress(event.pod, KERNEL_CONTAINER);
    if (progress.kind === 'ended') return this.end(progress.reason);
    if (progress.kind === 'pending' && progress.unschedulable !== undefined) this.unschedulable(progress.unschedulable);
    else this.clearUnschedulable();
    if (progress.phase !== this.lastPhase) {
      this.lastPhase = progress.phase;
      this.init.onPhase?.(progress.phase);
    }
  }

  /** The scheduler said no: after the grace (0 by default) that ends the launch, with its message. */
  private unschedulable(message: string): void {
    if (this.ended) return;
    const reason = unschedulableReason(`${this.namespace}/${this.name}`, message);
    if (this.init.unschedulableGraceMs <= 0) return this.end(reason);
    this.unschedulableTimer ??= setTimeout(() => this.end(reason), this.init.unschedulableGraceMs);
  }

  private clearUnschedulable(): void {
    clearTimeout(this.unschedulableTimer);
    this.unschedulableTimer = undefined;
  }

  private end(reason: string): void {
    if (this.ended) return;
    this.clearUnschedulable();
    this.ended = { alive: false, reason };
    for (const waiter of [...this.waiters]) waiter(this.ended);
    this.waiters.clear();
  }

  async poll(): Promise<KernelStatus> {
    return this.ended ?? { alive: true };
  }

  waitForExit(abort: AbortSignal): Promise<DeadStatus> {
    return new Promise((resolve) => {
      if (this.ended) return resolve(this.ended);
      const waiter = (status: DeadStatus) => {
        if (!abort.aborted) resolve(status);
      };
      this.waiters.add(waiter);
      abort.addEventListener('abort', () => this.waiters.delete(waiter), { once: true });
    });
  }

  /**
   * Deletes the pod's launch token Secret by name (a missing one is fine), once: when the launch settled, and
   * again when the kernel ends if that failed. Never throws (the token in it is spent either way).
   */
  async deleteTokenSecret(): Promise<void> {
    if (!this.tokenSecretLeft) return;
    let name = '';
    try {
      name = launchTokenSecretName(this.name);
      await this.api.deleteSecret(this.namespace, name);
      if (this.init.legacyTokenSecret) await this.api.deleteSecret(this.namespace, (name = this.init.legacyTokenSecret));
      this.tokenSecretLeft = false;
    } catch (error) {
      this.init.logger?.warn('could not delete a launch token secret (the token in it is spent); tried again when the kernel ends', {
        secret: `${this.namespace}/${name}`,
        error: String(error),
      });
    }
  }

  /** Deletes the pod (the kubelet sends SIGTERM, then SIGKILL after the grace period) and any launch Secret left. */
  async kill(): Promise<void> {
    if (!this.gone) {
      this.deleteRequested = true;
      await this.api.deletePod(this.namespace, this.name, this.init.deleteGraceSeconds);
    }
    await this.deleteTokenSecret();
  }

  /**
   * Stops following the pod. A pod that ended (failed, exited, never scheduled) is deleted here, so its object
   * does not linger; a running pod is left running (cleanup after a restore check must not stop a kernel).
   */
  async cleanup(): Promise<void> {
    this.unsubscribe();
    this.clearUnschedulable();
    if (this.ended) await this.deleteTokenSecret();
    if (this.gone || !this.ended || this.deleteRequested) return;
    this.deleteRequested = true;
    await this.api.deletePod(this.namespace, this.name, 0).catch((error: unknown) =>
      this.init.logger?.warn('could not delete the pod of an ended kernel', { pod: this.engineId, error: String(error) }),
    );
  }

  serialize(): JsonObject {
    return { namespace: this.namespace, name: this.name };
  }
}
