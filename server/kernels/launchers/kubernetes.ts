// The Kubernetes launcher (`metadata.atrium.launcher: "kubernetes"`): a kernel is a pod. Only the engine step
// lives here (remote.ts does the launch protocol): build the pod (kubernetes-pod.ts: the user's uid/gid, the
// size's requests and limits, the user's PVC, labels, the allow-listed image), create it in the user's team
// namespace, and follow it through the one pod watch of that namespace (server/kubernetes/pod-watch.ts).
// While the launch is pending, the pod's status becomes launch phases ("scheduled on node-1", "pulling image
// ...", "running on node-1 at 10.244.0.7"), and a pod that can never start (unschedulable, image pull, a
// container that exits) ends the launch at once with Kubernetes' reason instead of at the deadline.
// Deletion, culls, failed launches and launch timeouts delete the pod; a pod that ended is deleted when its
// handle is cleaned up, so nothing is left behind. serialize() keeps the namespace and pod name.
// Touch this file when the way kernels become pods changes; the pod itself is built in kubernetes-pod.ts.
import { randomBytes } from 'node:crypto';
import type { V1Pod } from '@kubernetes/client-node';
import { z } from 'zod';
import { KubeError, type KubeApi } from '../../kubernetes/api';
import { LABELS, MANAGED_BY, kernelPodName, namespaceFor } from '../../kubernetes/names';
import { podProgress, unschedulableReason } from '../../kubernetes/pod-status';
import type { PodEvent, PodWatcher, PodWatchers } from '../../kubernetes/pod-watch';
import { PodSpecError, loadPodTemplate, type PodIdentity } from '../../kubernetes/pods';
import { chooseSize, sizeTableOf } from '../../quota/sizes';
import type { KernelLogger } from '../connection';
import { launcherConfig } from '../kernelspecs';
import type { JsonObject } from '../protocol/messages';
import { LaunchError, type DeadStatus, type KernelStatus, type LaunchOptions, type LaunchRequest, type SerializedKernel } from './base';
import { BUNDLED_KERNEL_POD_TEMPLATE, KERNEL_CONTAINER, buildKernelPod, podCommand } from './kubernetes-pod';
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

/** The variable the launcher reads its one-time token from, and the key of the Secret that holds it for a pod. */
const LAUNCH_TOKEN_ENV = 'ATRIUM_LAUNCH_TOKEN';
const TOKEN_KEY = 'token';

const invalid = (kernelId: string, message: string) => new LaunchError('INVALID_REQUEST', `kernel ${kernelId}: ${message}`, { kernelId });

export class KubernetesLauncher extends RemoteLauncher {
  readonly name = 'kubernetes';
  private readonly opts: KubernetesLauncherOptions;
  private readonly template: V1Pod;
  private readonly allowedImages: string[];
  /** Launch-phase reporters of pending launches; removed when the launch settles, so phases stop there. */
  private readonly phaseReporters = new Map<string, (phase: string) => void>();
  /** The launch token Secret of each launch in progress, deleted when it settles. */
  private readonly tokenSecrets = new Map<string, { namespace: string; name: string }>();

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
      // The token is spent once the launch settled (reported, failed or cancelled): its Secret goes.
      const secret = this.tokenSecrets.get(request.kernelId);
      this.tokenSecrets.delete(request.kernelId);
      if (secret) {
        await this.opts.api.deleteSecret(secret.namespace, secret.name).catch((error: unknown) =>
          this.logger?.warn('could not delete a launch token secret (the token in it is spent)', { secret: `${secret.namespace}/${secret.name}`, error: String(error) }),
        );
      }
    }
  }

  /**
   * The one-time launch token goes to the pod through a Secret, never in the pod's spec (its command and env are
   * readable by everyone who may list pods in the namespace). Returns the env entry that refers to it.
   */
  private async tokenSecret(kernelId: string, namespace: string, token: string): Promise<{ secret: string; key: string }> {
    const name = `atrium-launch-${kernelId}`;
    const body = {
      metadata: { name, labels: { [LABELS.managedBy]: MANAGED_BY, [LABELS.component]: 'launch-token', [LABELS.kernelId]: kernelId } },
      type: 'Opaque',
      stringData: { [TOKEN_KEY]: token },
    };
    this.tokenSecrets.set(kernelId, { namespace, name });
    try {
      await this.opts.api.createSecret(namespace, body).catch(async (error: unknown) => {
        if (!(error instanceof KubeError && error.reason === 'AlreadyExists')) throw error;
        // Left by a launch of this kernel that a portal crash cut short (a restart reuses the id): its token is spent.
        await this.opts.api.deleteSecret(namespace, name);
        await this.opts.api.createSecret(namespace, body);
      });
    } catch (error) {
      const why = error instanceof KubeError ? error.message : String(error);
      throw new LaunchError('LAUNCH_FAILED', `kernel ${kernelId}: could not hand the pod its launch token (a Secret in ${namespace}): ${why}`, { kernelId, cause: error });
    }
    return { secret: name, key: TOKEN_KEY };
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
      const secretEnv = token === undefined ? undefined : { [LAUNCH_TOKEN_ENV]: await this.tokenSecret(kernelId, namespace, token) };

      pod = buildKernelPod({
        kernelId,
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
    });
    report(`creating pod ${podName} in namespace ${namespace} (${size.name}, as uid ${identity.uid})`);
    try {
      watcher.observe(await this.opts.api.createPod(namespace, pod));
    } catch (error) {
      await engine.cleanup();
      const why = error instanceof KubeError ? error.message : String(error);
      throw new LaunchError('LAUNCH_FAILED', `kernel ${kernelId}: Kubernetes refused the pod: ${why}`, { kernelId, engineId: engine.engineId, cause: error });
    }
    return engine;
  }

  /**
   * Deletes kernel pods no kernel record owns any more: launches a portal crash cut short (their rows had
   * no saved state to restore from) and pods of kernels recorded dead while this portal was down. Called
   * after restoreAll(), with the ids of every kernel not dead and the namespaces kernels can be in. Returns
   * the pods deleted.
   */
  async reapOrphans(namespaces: readonly string[], liveKernelIds: ReadonlySet<string>): Promise<string[]> {
    const reaped: string[] = [];
    for (const namespace of new Set(namespaces)) {
      let pods: V1Pod[];
      try {
        pods = (await this.opts.api.listPods(namespace, `${LABELS.managedBy}=${MANAGED_BY},${LABELS.component}=kernel`)).items;
      } catch (error) {
        this.logger?.warn('could not look for orphaned kernel pods', { namespace, error: String(error) });
        continue;
      }
      for (const pod of pods) {
        const kernelId = pod.metadata?.labels?.[LABELS.kernelId];
        const name = pod.metadata?.name;
        if (!name || !kernelId || liveKernelIds.has(kernelId)) continue;
        await this.opts.api.deletePod(namespace, name, 0).then(
          () => reaped.push(`${namespace}/${name}`),
          (error: unknown) => this.logger?.warn('could not delete an orphaned kernel pod', { pod: `${namespace}/${name}`, error: String(error) }),
        );
      }
    }
    return reaped;
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
    await watcher.synced(SYNC_DEADLINE_MS);
    const engine = new KubernetesPodEngine({
      api: this.opts.api,
      watcher,
      namespace,
      name,
      unschedulableGraceMs: this.opts.unschedulableGraceMs ?? 0,
      deleteGraceSeconds: this.opts.deleteGraceSeconds ?? 5,
      logger: this.logger,
    });
    // The watch lists only what exists: a pod it has not seen is read once, and missing means gone.
    if (!watcher.get(name)) {
      const pod = await this.opts.api.readPod(namespace, name);
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

  constructor(init: PodEngineInit) {
    this.init = init;
    this.api = init.api;
    this.watcher = init.watcher;
    this.namespace = init.namespace;
    this.name = init.name;
    this.unsubscribe = this.watcher.subscribe(this.name, (event) => this.onEvent(event));
    const known = this.watcher.get(this.name);
    if (known) this.onEvent({ type: 'updated', pod: known });
  }

  get engineId(): string {
    return `pod ${this.namespace}/${this.name}`;
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

  /** Deletes the pod (the kubelet sends SIGTERM, then SIGKILL after the grace period). */
  async kill(): Promise<void> {
    if (this.gone) return;
    this.deleteRequested = true;
    await this.api.deletePod(this.namespace, this.name, this.init.deleteGraceSeconds);
  }

  /**
   * Stops following the pod. A pod that ended (failed, exited, never scheduled) is deleted here, so its object
   * does not linger; a running pod is left running (cleanup after a restore check must not stop a kernel).
   */
  async cleanup(): Promise<void> {
    this.unsubscribe();
    this.clearUnschedulable();
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
