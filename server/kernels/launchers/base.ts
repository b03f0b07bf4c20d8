// The contract every kernel launcher implements (local now; YARN, Kubernetes and remote-local later),
// in the spirit of Jupyter Enterprise Gateway's process proxies but async and small:
// a leaf adds only its platform steps (start, is it alive, signal it, terminate it, what to save);
// the shared steps below give every launcher the same deadlines and the same typed failures.
// Every wait has a deadline; on a startup timeout the kernel is killed first, then reported.
import { z } from 'zod';
import {
  ConnectionInfoSchema,
  KernelConnection,
  KernelRequestError,
  consoleLogger,
  type ConnectionInfo,
  type KernelLogger,
} from '../connection';
import { launcherName, type Kernelspec } from '../kernelspecs';
import type { ChannelMessage, JsonObject } from '../protocol/messages';
import type { SizeProfile } from '../../quota/sizes';

export const DEFAULT_STARTUP_DEADLINE_MS = 60_000;
export const DEFAULT_KILL_DEADLINE_MS = 5_000;
export const DEFAULT_INTERRUPT_DEADLINE_MS = 5_000;

// --- requests and errors ---

export interface LaunchRequest {
  /** Atrium's kernel id; names the kernel in files, logs and errors. */
  kernelId: string;
  kernelspec: Kernelspec;
  /** The authenticated owner, from the session: never from the request body. */
  username: string;
  /** Client-supplied variables; only KERNEL_* names pass (see kernelEnv). */
  env?: Record<string, string>;
  /** Size profile name ("small", "medium"...) for launchers that size containers. */
  sizeProfile?: string;
  /** Working directory of the kernel (the user's home folder or a notebook's folder). */
  cwd?: string;
}

export interface LaunchOptions {
  /** For launchers that must wait for the engine before connection info is known. */
  deadlineMs?: number;
  /**
   * Reports a launch phase in words a user understands ("submitted", "accepted by YARN: waiting for queue
   * capacity", "pod scheduled", ...); the notebook shows it while the kernel starts.
   */
  onPhase?: (phase: string) => void;
}

export type LaunchErrorCode =
  | 'INVALID_REQUEST' // the request or kernelspec cannot be launched as given
  | 'UNKNOWN_LAUNCHER' // the kernelspec names a launcher nobody registered
  | 'LAUNCH_FAILED' // the engine refused, or the kernel died while starting
  | 'LAUNCH_TIMEOUT' // the kernel did not answer in time (it has been killed)
  | 'KERNEL_DEAD' // an operation needed a live kernel
  | 'KILL_TIMEOUT' // the kernel survived a kill for longer than the deadline
  | 'RESTORE_FAILED' // saved state could not be turned back into a handle
  | 'CLUSTER_UNREACHABLE' // the cluster's API could not say whether the engine lives: nothing is concluded
  | 'PAUSED'; // cluster kernels are paused on this portal (a copied database): their engines are not touched

export class LaunchError extends Error {
  readonly code: LaunchErrorCode;
  readonly kernelId: string | undefined;
  /** The engine's id for the kernel: pid, YARN application id, pod name. */
  readonly engineId: string | undefined;

  constructor(
    code: LaunchErrorCode,
    message: string,
    details: { kernelId?: string; engineId?: string; cause?: unknown } = {},
  ) {
    super(message, details.cause === undefined ? undefined : { cause: details.cause });
    this.name = 'LaunchError';
    this.code = code;
    this.kernelId = details.kernelId;
    this.engineId = details.engineId;
  }
}

// --- environment passed into kernels ---

const KERNEL_ENV_NAME = /^KERNEL_[A-Z0-9_]{1,64}$/;
/** Set by Atrium from trusted values; a client-sent value is ignored. */
const RESERVED_KERNEL_ENV = new Set(['KERNEL_ID', 'KERNEL_USERNAME']);
const MAX_KERNEL_ENV_VALUE = 4096;

/**
 * The KERNEL_* variables a kernel gets: the client's allow-listed ones, then Atrium's own.
 * Other names are dropped (JEG's rule). Control characters are refused, not stripped, because a value
 * may end up in a shell command line or a YAML template on remote engines.
 */
export function kernelEnv(request: LaunchRequest): Record<string, string> {
  const env: Record<string, string> = {};
  for (const [name, value] of Object.entries(request.env ?? {})) {
    if (!KERNEL_ENV_NAME.test(name) || RESERVED_KERNEL_ENV.has(name)) continue;
    if (typeof value !== 'string' || value.length > MAX_KERNEL_ENV_VALUE || /[\0-\x1f\x7f]/.test(value)) {
      throw new LaunchError('INVALID_REQUEST', `${name} must be a single line of at most ${MAX_KERNEL_ENV_VALUE} characters`, {
        kernelId: request.kernelId,
      });
    }
    env[name] = value;
  }
  env.KERNEL_ID = request.kernelId;
  env.KERNEL_USERNAME = request.username;
  return env;
}

/** Kernel ids name files and cluster objects: keep them to a safe alphabet. */
export function assertValidKernelId(kernelId: string): void {
  if (!/^[A-Za-z0-9][A-Za-z0-9_-]{0,63}$/.test(kernelId)) {
    throw new LaunchError('INVALID_REQUEST', `kernel id "${kernelId}" must be 1-64 letters, digits, _ or -`, { kernelId });
  }
}

// --- status and saved state ---

export type DeadStatus = {
  alive: false;
  reason: string;
  exitCode?: number | null;
  signal?: string | null;
};
export type KernelStatus = { alive: true } | DeadStatus;

export const SerializedKernelSchema = z.object({
  launcher: z.string().min(1),
  kernelId: z.string().min(1),
  engineId: z.string(),
  kernelspecName: z.string(),
  interruptMode: z.enum(['signal', 'message']),
  connectionInfo: ConnectionInfoSchema,
  /** Launcher-specific: pid for local, application id for YARN, pod name for Kubernetes. */
  state: z.record(z.string(), z.unknown()),
});
/** Plain JSON saved in the kernel's DB row, so a restarted portal can reattach. */
export type SerializedKernel = z.infer<typeof SerializedKernelSchema>;

// --- the handle every launcher returns ---

export interface KernelProcessInit {
  kernelId: string;
  kernelspecName: string;
  interruptMode: 'signal' | 'message';
  connectionInfo: ConnectionInfo;
  logger?: KernelLogger;
}

/**
 * A launched (or restored) kernel. Call order: launch → confirmStartup → (signal/poll)* → kill → cleanup.
 * Leaves implement the platform steps marked abstract; everything else is shared.
 */
export abstract class KernelProcess {
  abstract readonly launcher: string;
  readonly kernelId: string;
  readonly kernelspecName: string;
  readonly interruptMode: 'signal' | 'message';
  readonly connectionInfo: ConnectionInfo;
  protected readonly logger: KernelLogger;
  /** How often the default waitForExit polls; leaves with an exit event override waitForExit instead. */
  protected exitPollIntervalMs = 500;

  constructor(init: KernelProcessInit) {
    this.kernelId = init.kernelId;
    this.kernelspecName = init.kernelspecName;
    this.interruptMode = init.interruptMode;
    this.connectionInfo = init.connectionInfo;
    this.logger = init.logger ?? consoleLogger;
  }

  /** The engine's id for this kernel (pid, application id, pod name), for errors and admins. */
  abstract get engineId(): string;
  /** Is the kernel alive right now? Never throws for a dead kernel: it says why it died. */
  abstract poll(): Promise<KernelStatus>;
  /** Platform step: deliver an OS signal to the kernel (and its children). */
  protected abstract sendSignal(signal: NodeJS.Signals): Promise<void>;
  /** Platform step: make the kernel go away for good (SIGKILL, YARN kill, pod delete). */
  protected abstract terminate(): Promise<void>;
  /** Platform step: remove what launch left behind (connection files, secrets). Idempotent. */
  abstract cleanup(): Promise<void>;
  /** Platform step: what restore() needs besides the common fields. */
  protected abstract serializeState(): JsonObject;

  /**
   * Resolves when the kernel is seen dead; stops when `abort` fires (then it never resolves).
   * Default: poll. A leaf with an exit event overrides this to answer at once.
   */
  waitForExit(abort: AbortSignal): Promise<DeadStatus> {
    return new Promise<DeadStatus>((resolve) => {
      let timer: NodeJS.Timeout | undefined;
      const check = async () => {
        if (abort.aborted) return;
        const status = await this.poll().catch((): KernelStatus => ({ alive: true }));
        if (abort.aborted) return;
        if (!status.alive) resolve(status);
        else timer = setTimeout(check, this.exitPollIntervalMs);
      };
      abort.addEventListener('abort', () => clearTimeout(timer), { once: true });
      void check();
    });
  }

  /**
   * Confirms the kernel answers kernel_info_request within `deadlineMs`, and fails fast if it dies first.
   * On timeout the kernel is killed, then LAUNCH_TIMEOUT is thrown; if it died, LAUNCH_FAILED with why.
   * Resolves with the kernel_info_reply (language_info, implementation...).
   * `connection`: the caller's own connection to the kernel, opened at launch. Then ready also means heard on
   * iopub (its subscription is live), and the connection stays open for the caller; without it, a temporary
   * connection asks and is closed.
   */
  async confirmStartup(deadlineMs: number = DEFAULT_STARTUP_DEADLINE_MS, connection?: KernelConnection): Promise<ChannelMessage> {
    const abort = new AbortController();
    const temporary = connection
      ? undefined
      : new KernelConnection(this.connectionInfo, {
          heartbeat: false,
          label: this.kernelId,
          logger: this.logger,
        });
    const answered = connection ? connection.waitForReady(deadlineMs) : temporary!.kernelInfo(deadlineMs);
    try {
      const outcome = await Promise.race([
        answered.then((reply) => ({ ready: true as const, reply })),
        this.waitForExit(abort.signal).then((status) => ({ ready: false as const, status })),
      ]);
      if (outcome.ready) return outcome.reply;
      throw new LaunchError(
        'LAUNCH_FAILED',
        `kernel ${this.kernelId} (${this.launcher} ${this.engineId}) died while starting: ${outcome.status.reason}`,
        { kernelId: this.kernelId, engineId: this.engineId },
      );
    } catch (error) {
      if (error instanceof KernelRequestError && error.code === 'REQUEST_TIMEOUT') {
        await this.kill().catch((killError: unknown) =>
          this.logger.error('could not kill a kernel that failed to start', {
            kernel: this.kernelId,
            engineId: this.engineId,
            error: String(killError),
          }),
        );
        throw new LaunchError(
          'LAUNCH_TIMEOUT',
          `kernel ${this.kernelId} (${this.launcher} ${this.engineId}) did not answer kernel_info_request within ${deadlineMs} ms; it was killed`,
          { kernelId: this.kernelId, engineId: this.engineId, cause: error },
        );
      }
      throw error;
    } finally {
      abort.abort();
      answered.catch(() => {}); // lost the race to the kernel's exit: settled, never unhandled
      await temporary?.close();
    }
  }

  /**
   * Sends a signal. SIGINT is an interrupt: by OS signal, or by `interrupt_request` on the control
   * channel when the kernelspec's interrupt_mode is "message" (kernels that cannot take signals).
   */
  async signal(signal: NodeJS.Signals): Promise<void> {
    if (signal === 'SIGINT' && this.interruptMode === 'message') return this.interruptByMessage();
    const status = await this.poll();
    if (!status.alive) {
      throw new LaunchError('KERNEL_DEAD', `kernel ${this.kernelId} is not running: ${status.reason}`, {
        kernelId: this.kernelId,
        engineId: this.engineId,
      });
    }
    await this.sendSignal(signal);
  }

  interrupt(): Promise<void> {
    return this.signal('SIGINT');
  }

  /** Terminates the kernel and waits until it is seen dead. Idempotent: a dead kernel returns at once. */
  async kill(deadlineMs: number = DEFAULT_KILL_DEADLINE_MS): Promise<void> {
    if (!(await this.poll()).alive) return;
    await this.terminate();
    const abort = new AbortController();
    let timer: NodeJS.Timeout | undefined;
    try {
      const died = await Promise.race([
        this.waitForExit(abort.signal).then(() => true),
        new Promise<false>((resolve) => (timer = setTimeout(() => resolve(false), deadlineMs))),
      ]);
      if (!died) {
        throw new LaunchError('KILL_TIMEOUT', `kernel ${this.kernelId} (${this.launcher} ${this.engineId}) still alive ${deadlineMs} ms after kill`, {
          kernelId: this.kernelId,
          engineId: this.engineId,
        });
      }
    } finally {
      clearTimeout(timer);
      abort.abort();
    }
  }

  serialize(): SerializedKernel {
    return {
      launcher: this.launcher,
      kernelId: this.kernelId,
      engineId: this.engineId,
      kernelspecName: this.kernelspecName,
      interruptMode: this.interruptMode,
      connectionInfo: this.connectionInfo,
      state: this.serializeState(),
    };
  }

  private async interruptByMessage(deadlineMs: number = DEFAULT_INTERRUPT_DEADLINE_MS): Promise<void> {
    // Interrupts are rare: a short-lived connection keeps the handle free of sockets.
    const connection = new KernelConnection(this.connectionInfo, { heartbeat: false, label: this.kernelId, logger: this.logger });
    try {
      await connection.request('control', 'interrupt_request', {}, deadlineMs);
    } finally {
      await connection.close();
    }
  }
}

// --- launchers and their registry ---

export interface Launcher {
  /** The value of `metadata.atrium.launcher` this launcher serves. */
  readonly name: string;
  /** Starts the kernel; resolves once its connection info is known (not yet that it answers). */
  launch(request: LaunchRequest, options?: LaunchOptions): Promise<KernelProcess>;
  /** Turns saved state back into a handle (after a portal restart). Does not check liveness: poll() does. */
  restore(saved: SerializedKernel): Promise<KernelProcess>;
  /**
   * Its engines are processes of the portal's own host (local kernels): only a portal on that host can reach, signal
   * or judge them. Cluster launchers leave it unset: any replica serves their kernels.
   */
  readonly hostBound?: boolean;
  /**
   * Why this launcher can never run a kernel of this size (a YARN driver needs a minimum of memory), if it cannot:
   * asked before admission, so nothing is admitted, counted or launched for it, and the size is not offered.
   */
  sizeRefusal?(size: SizeProfile): string | undefined;
  /**
   * Abandons a launch still waiting for its engine (a queued YARN application, a pod not yet running): the launch
   * kills what it started and rejects. A no-op for a kernel this launcher is not launching.
   */
  cancel?(kernelId: string, reason: string): void;
  /**
   * Engines this installation launched that are still alive: on a cluster, found by the installation's own tag or
   * label, never by scanning everything; local kernel processes, by their connection files in this portal's runtime
   * folder. The orphan sweep (orphan-sweeper.ts) decides which of them no kernel owns any more and passes those to
   * killOrphan.
   */
  listOwnEngines?(): Promise<ClusterEngine[]>;
  /** Kills an engine the orphan sweep found no kernel owns (a kill that failed earlier, a launch a crash cut short). */
  killOrphan?(engine: ClusterEngine): Promise<void>;
}

/** An engine alive on a cluster, as the orphan sweep sees it. */
export interface ClusterEngine {
  /** The launcher that listed it. */
  launcher: string;
  /** From the engine's own tag or label. */
  kernelId: string;
  /** The engine id a kernel row records for it (a YARN application id, a pod name). */
  engineId: string;
  /** For logs: "YARN application application_…", "pod ns/name". */
  label: string;
  /** When the cluster says it was created or submitted. */
  createdAt: Date;
}

export const YARN_LAUNCHER = 'yarn';
export const KUBERNETES_LAUNCHER = 'kubernetes';
/** The launchers whose engines run on a shared cluster (they list their installation's engines: listOwnEngines). */
export const CLUSTER_LAUNCHERS: readonly string[] = [YARN_LAUNCHER, KUBERNETES_LAUNCHER];

/** Launchers chosen by data: the kernelspec's `metadata.atrium.launcher`. */
export class LauncherRegistry {
  private readonly launchers = new Map<string, Launcher>();
  private clusterLaunchRefusal: string | undefined;

  register(launcher: Launcher): this {
    if (this.launchers.has(launcher.name)) throw new Error(`launcher "${launcher.name}" is already registered`);
    this.launchers.set(launcher.name, launcher);
    return this;
  }

  get(name: string, kernelId?: string): Launcher {
    const launcher = this.launchers.get(name);
    if (!launcher) {
      const known = [...this.launchers.keys()].join(', ') || 'none';
      throw new LaunchError('UNKNOWN_LAUNCHER', `no launcher "${name}" is registered (registered: ${known})`, { kernelId });
    }
    return launcher;
  }

  /** Why the named launcher can never run a kernel of this size, if it cannot (see Launcher.sizeRefusal). */
  sizeRefusal(name: string, size: SizeProfile): string | undefined {
    return this.launchers.get(name)?.sizeRefusal?.(size);
  }

  /** Whether this launcher's engines are processes of the portal's own host (see Launcher.hostBound). */
  isHostBound(name: string): boolean {
    return this.launchers.get(name)?.hostBound === true;
  }

  forKernelspec(spec: Kernelspec, kernelId?: string): Launcher {
    return this.get(launcherName(spec), kernelId);
  }

  launch(request: LaunchRequest, options?: LaunchOptions): Promise<KernelProcess> {
    const refusal = this.refusalFor(request.kernelspec);
    if (refusal) return Promise.reject(new LaunchError('LAUNCH_FAILED', refusal, { kernelId: request.kernelId }));
    return this.forKernelspec(request.kernelspec, request.kernelId).launch(request, options);
  }

  /**
   * Refuses new launches on shared clusters (the launchers that list their installation's engines), saying why:
   * what they launched would carry an installation id this process cannot vouch for. Local kernels still launch.
   */
  refuseClusterLaunches(reason: string): void {
    this.clusterLaunchRefusal = reason;
  }

  /** Why a kernelspec cannot be launched here now (its launcher is a cluster's and those are refused), if so. */
  refusalFor(spec: Kernelspec): string | undefined {
    return this.pausedLauncher(launcherName(spec));
  }

  /**
   * Why the kernels of this launcher are paused here, if they are: it is a cluster's and this process cannot vouch
   * for its installation. Then nothing of them is launched, reattached or killed: the engines may be another
   * installation's (the one this database was copied from).
   */
  pausedLauncher(name: string): string | undefined {
    if (!this.clusterLaunchRefusal) return undefined;
    const launcher = this.launchers.get(name);
    return launcher?.listOwnEngines && !launcher.hostBound ? this.clusterLaunchRefusal : undefined;
  }

  /** Every registered launcher. */
  all(): Launcher[] {
    return [...this.launchers.values()];
  }

  /** Abandons the launch of a kernel, whichever launcher has it (see Launcher.cancel). */
  cancel(kernelId: string, reason: string): void {
    for (const launcher of this.launchers.values()) launcher.cancel?.(kernelId, reason);
  }

  /** Validates saved JSON (it comes from the DB) before handing it to its launcher; a paused launcher's is refused. */
  restore(saved: unknown): Promise<KernelProcess> {
    const parsed = SerializedKernelSchema.safeParse(saved);
    if (!parsed.success) {
      return Promise.reject(new LaunchError('RESTORE_FAILED', `saved kernel state is invalid: ${z.prettifyError(parsed.error)}`));
    }
    const paused = this.pausedLauncher(parsed.data.launcher);
    if (paused) return Promise.reject(new LaunchError('PAUSED', paused, { kernelId: parsed.data.kernelId }));
    return this.get(parsed.data.launcher, parsed.data.kernelId).restore(parsed.data);
  }
}

/**
 * launch + confirmStartup, the way the kernel manager starts a kernel. On a failed confirmation the
 * kernel is already killed (timeout) or dead; its leftovers are cleaned up before the error propagates.
 * `connect`: opens the connection that will carry the kernel's traffic as soon as it is launched, so its
 * iopub subscription is live by the time the kernel answers and no second connection has to be made ready.
 * `onLaunched`: runs while the kernel finishes starting (saving its launch state); a failure fails the start.
 */
export async function launchAndConfirm(
  registry: LauncherRegistry,
  request: LaunchRequest,
  options: {
    launchMs?: number;
    startupMs?: number;
    onPhase?: (phase: string) => void;
    connect?: (kernel: KernelProcess) => KernelConnection;
    onLaunched?: (kernel: KernelProcess) => Promise<unknown>;
  } = {},
): Promise<{ kernel: KernelProcess; kernelInfo: ChannelMessage; connection?: KernelConnection }> {
  options.onPhase?.("launching");
  const kernel = await registry.launch(request, { deadlineMs: options.launchMs, onPhase: options.onPhase });
  options.onPhase?.("connecting");
  let connection: KernelConnection | undefined;
  const launched = Promise.resolve().then(() => options.onLaunched?.(kernel));
  launched.catch(() => {}); // awaited below; a failure before the kernel answers must not go unhandled meanwhile
  try {
    connection = options.connect?.(kernel);
    // Either failing ends the start at once (a launch state that cannot be saved does not wait out the deadline).
    const [kernelInfo] = await Promise.all([kernel.confirmStartup(options.startupMs ?? DEFAULT_STARTUP_DEADLINE_MS, connection), launched]);
    return { kernel, kernelInfo, connection };
  } catch (error) {
    await launched.catch(() => {});
    await connection?.close();
    await kernel.kill().catch(() => {});
    await kernel.cleanup().catch(() => {});
    throw error;
  }
}
