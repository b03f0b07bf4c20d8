// The embedded default: ipykernel as a child process on this host.
// The kernel runs in its own process group (so signals and kill reach whatever it spawned), its
// connection file sits in a private directory, and its environment is built from an allow-list:
// the portal's own secrets (ATRIUM_SECRET, DATABASE_URL...) never reach a user's kernel.
// A handle restored after a portal restart has no ChildProcess: it polls the pid and checks the
// process start time so a recycled pid is never mistaken for (or signalled as) the kernel.
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdir, chmod, readdir, stat, unlink, writeFile, readFile } from 'node:fs/promises';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { z } from 'zod';
import { ConnectionInfoSchema, KernelConnection, type ConnectionInfo, type KernelLogger } from '../connection';
import type { JsonObject } from '../protocol/messages';
import {
  KernelProcess,
  LaunchError,
  assertValidKernelId,
  kernelEnv,
  type ClusterEngine,
  type DeadStatus,
  type KernelProcessInit,
  type KernelStatus,
  type LaunchOptions,
  type LaunchRequest,
  type Launcher,
  type SerializedKernel,
} from './base';
import { ChildExitWatch, type WatchedChild } from './child-exit';
import { ForkRefused, ForkUncertain, forkerFor } from './kernel-forker';
import { procAvailable, processStartTime, processState, readProcStat, startedAtMs } from './proc';

/** Host variables a local kernel needs to behave like a login shell's Python, and nothing else. */
export const HOST_ENV_ALLOW_LIST = ['PATH', 'HOME', 'USER', 'LOGNAME', 'LANG', 'LC_ALL', 'LC_CTYPE', 'TZ', 'TMPDIR', 'SHELL'];

/**
 * The allow-listed host variables, with the kernel interpreter's folder first on PATH, as in an activated venv: a
 * cell's `!pip install x` then installs where `import x` looks, and `!python` is the kernel's Python (QA: both were
 * the host's).
 */
export function kernelHostEnv(hostEnv: NodeJS.ProcessEnv, python: string | undefined): Record<string, string> {
  const env: Record<string, string> = {};
  for (const name of HOST_ENV_ALLOW_LIST) {
    const value = hostEnv[name];
    if (value !== undefined) env[name] = value;
  }
  if (python && path.isAbsolute(python)) {
    const folder = path.dirname(python);
    const rest = (env.PATH ?? '').split(path.delimiter).filter((entry) => entry && entry !== folder);
    env.PATH = [folder, ...rest].join(path.delimiter);
  }
  return env;
}

export interface LocalLauncherOptions {
  /** Private directory (0700) for connection files. Default: <tmpdir>/atrium-kernels-<uid>. */
  runtimeDir?: string;
  /** Replaces a leading `python`/`python3` in kernelspec argv (ATRIUM_PYTHON, read by server/env.ts). */
  python?: string;
  /** Interface the kernel binds; loopback keeps local kernels off the network. */
  ip?: string;
  /** Where the allow-listed host variables (PATH, HOME, LANG...) come from. Default: this process. */
  hostEnv?: NodeJS.ProcessEnv;
  logger?: KernelLogger;
  /**
   * Kernels starting at once (spawn until ports bound: Python's imports, most of a start's CPU). More wait their
   * turn, so a burst of starts is a queue that drains at the machine's pace instead of every kernel crawling
   * towards its deadline together. Default: twice the CPU count, at least 2.
   */
  maxConcurrentStarts?: number;
  /**
   * On stop and restart the kernel is first asked to shut down (shutdown_request, as Jupyter Server does: atexit
   * hooks run, open files are flushed; ipykernel ends its own subprocesses, in steps) and gets this long to exit
   * before it is killed, as Jupyter Server's shutdown_wait_time. Default 5 s; 0: kill at once.
   */
  shutdownGraceMs?: number;
  /**
   * Plain ipykernels (`python -m ipykernel_launcher`) are forked from a warm interpreter that imported ipykernel
   * once (kernel-forker.ts): a start takes tens of milliseconds instead of a few hundred. Default true.
   */
  forkKernels?: boolean;
}

/** See LocalLauncherOptions.shutdownGraceMs. */
export const DEFAULT_LOCAL_SHUTDOWN_GRACE_MS = 5_000;

export class LocalLauncher implements Launcher {
  readonly name = 'local';
  readonly hostBound = true;
  private readonly runtimeDir: string;
  private readonly python: string | undefined;
  private readonly ip: string;
  private readonly hostEnv: NodeJS.ProcessEnv;
  private readonly logger: KernelLogger | undefined;
  private readonly startSlots: StartSlots;
  private readonly shutdownGraceMs: number;
  private readonly forkKernels: boolean;

  constructor(options: LocalLauncherOptions = {}) {
    const uid = typeof process.getuid === 'function' ? process.getuid() : 'user';
    this.runtimeDir = options.runtimeDir ?? path.join(os.tmpdir(), `atrium-kernels-${uid}`);
    this.python = options.python || undefined;
    this.ip = options.ip ?? '127.0.0.1';
    this.hostEnv = options.hostEnv ?? process.env;
    this.logger = options.logger;
    this.startSlots = new StartSlots(options.maxConcurrentStarts ?? Math.max(2, 2 * os.availableParallelism()));
    this.shutdownGraceMs = options.shutdownGraceMs ?? DEFAULT_LOCAL_SHUTDOWN_GRACE_MS;
    this.forkKernels = options.forkKernels ?? true;
  }

  /**
   * Starts the configured interpreter's forker now (otherwise the first kernel starts it, and is spawned), so that
   * even the first kernel forks. Resolves true once it serves, false if it cannot (or not within `deadlineMs`).
   */
  async warmUp(deadlineMs = 30_000): Promise<boolean> {
    if (!this.forkKernels || !this.python) return false;
    const ready = forkerFor(this.python, this.baseEnv(this.python), this.logger).ready;
    let timer: NodeJS.Timeout | undefined;
    const late = new Promise<boolean>((resolve) => (timer = setTimeout(() => resolve(false), deadlineMs)));
    try {
      return await Promise.race([ready, late]);
    } finally {
      clearTimeout(timer);
    }
  }

  async launch(request: LaunchRequest, options?: LaunchOptions): Promise<LocalKernelProcess> {
    if (this.startSlots.full) options?.onPhase?.(`waiting for a start slot (${this.startSlots.waiting + 1} kernels queued)`);
    const release = await this.startSlots.acquire();
    try {
      return await this.launchNow(request, options);
    } finally {
      release();
    }
  }

  private async launchNow(request: LaunchRequest, options?: LaunchOptions): Promise<LocalKernelProcess> {
    const { kernelId, kernelspec } = request;
    assertValidKernelId(kernelId);
    const trustedEnv = kernelEnv(request); // validates the client's KERNEL_* values before anything starts
    if (request.cwd) await assertDirectory(request.cwd, kernelId);

    await this.ensureRuntimeDir();
    const substituteResourceDir = (value: string) => value.replaceAll('{resource_dir}', kernelspec.resourceDir);
    // ipykernel binds ports itself when the connection file says 0 (retrying on a clash) and writes the ones
    // it got back into the file: no window in which another process can take a port picked for it. Other
    // kernels get ports picked here (jupyter_client's way, with its small window).
    const kernelPicksPorts = isIpykernel(kernelspec.spec.argv.map(substituteResourceDir));
    const [shell, iopub, stdin, control, hb] = (kernelPicksPorts ? [0, 0, 0, 0, 0] : await freePorts(5, this.ip)) as [number, number, number, number, number];
    const requested: ConnectionInfo = {
      ip: this.ip,
      transport: 'tcp',
      shell_port: shell,
      iopub_port: iopub,
      stdin_port: stdin,
      control_port: control,
      hb_port: hb,
      key: randomBytes(32).toString('hex'),
      signature_scheme: 'hmac-sha256',
      kernel_name: kernelspec.name,
    };
    const connectionFile = path.join(this.runtimeDir, `kernel-${kernelId}.json`);
    const writeConnectionFile = async () => {
      await unlink(connectionFile).catch(ignoreMissing); // a restart reuses the kernel id
      await writeFile(connectionFile, JSON.stringify(requested, null, 2), { mode: 0o600, flag: 'wx' });
    };
    await writeConnectionFile();

    const substitute = (value: string) => substituteResourceDir(value.replaceAll('{connection_file}', connectionFile));
    const argv = kernelspec.spec.argv.map(substitute);
    if (this.python && /^python3?$/.test(argv[0]!)) argv[0] = this.python;
    // host basics, then the kernelspec's env, then Atrium's KERNEL_* (which nothing may override)
    const env: Record<string, string> = this.baseEnv(argv[0]!);
    for (const [name, value] of Object.entries(kernelspec.spec.env)) env[name] = substitute(value);
    Object.assign(env, trustedEnv);

    let child: WatchedChild;
    try {
      child = await this.startProcess(argv, env, request.cwd, { kernelId, writeConnectionFile });
    } catch (error) {
      await unlink(connectionFile).catch(ignoreMissing);
      throw new LaunchError('LAUNCH_FAILED', `kernel ${kernelId}: cannot start ${argv[0]}: ${(error as Error).message}`, {
        kernelId,
        cause: error,
      });
    }
    const exitWatch = new ChildExitWatch(`process ${child.pid}`);
    const exited = exitWatch.watch(child);
    const connectionInfo = kernelPicksPorts
      ? await awaitBoundPorts({ kernelId, connectionFile, requested, child, exited, deadlineMs: options?.deadlineMs ?? DEFAULT_PORTS_DEADLINE_MS })
      : requested;
    return new LocalKernelProcess({
      kernelId,
      kernelspecName: kernelspec.name,
      interruptMode: kernelspec.spec.interrupt_mode,
      connectionInfo,
      logger: this.logger,
      pid: child.pid!,
      connectionFile,
      startTime: await processStartTime(child.pid!),
      child,
      exitWatch,
      exited,
      shutdownGraceMs: this.shutdownGraceMs,
    });
  }

  async restore(saved: SerializedKernel): Promise<LocalKernelProcess> {
    const state = LocalStateSchema.safeParse(saved.state);
    if (!state.success) {
      throw new LaunchError('RESTORE_FAILED', `kernel ${saved.kernelId}: invalid local state: ${z.prettifyError(state.error)}`, {
        kernelId: saved.kernelId,
        engineId: saved.engineId,
      });
    }
    return new LocalKernelProcess({
      kernelId: saved.kernelId,
      kernelspecName: saved.kernelspecName,
      interruptMode: saved.interruptMode,
      connectionInfo: saved.connectionInfo,
      logger: this.logger,
      shutdownGraceMs: this.shutdownGraceMs,
      ...state.data,
    });
  }

  /**
   * The kernel processes on this host that this launcher started, for the orphan sweep (orphan-sweeper.ts): process
   * group leaders whose command line names a connection file of its runtime folder (a wrapper's too, as in
   * `bash -c "... -f FILE"`), whether or not the file is still there. A local kernel stopped through a replica on
   * another host while no portal here held it (this one was down) is still running then, and only a portal here can
   * end it.
   */
  async listOwnEngines(): Promise<ClusterEngine[]> {
    if (!(await procAvailable())) return [];
    const engines: ClusterEngine[] = [];
    for (const { pid, kernelId } of await this.kernelProcesses()) {
      const info = await readProcStat(pid);
      // The kernel is its process group's leader (spawnDetached); a fork of it (multiprocessing) goes with the group.
      if (!info || info === 'gone' || info.processGroup !== pid) continue;
      engines.push({
        launcher: this.name,
        kernelId,
        engineId: `pid ${pid}`,
        label: `local kernel process ${pid}`,
        createdAt: new Date(await startedAtMs(info.startTime)),
      });
    }
    return engines;
  }

  /**
   * Kills a kernel process the orphan sweep found no kernel owns, with whatever it started (its process group), if
   * it is still that process (a pid is reused once it ends): it names the same kernel and started when it was listed.
   * The connection file goes too, unless another process names it (the kernel restarted under the same id).
   */
  async killOrphan(engine: ClusterEngine): Promise<void> {
    const pid = Number(/^pid (\d+)$/.exec(engine.engineId)?.[1]);
    if (!(pid > 0) || !(await procAvailable())) return;
    const named = (await this.kernelProcesses(pid)).some((p) => p.kernelId === engine.kernelId);
    const startTime = await processStartTime(pid);
    const startedAt = startTime === null ? NaN : await startedAtMs(startTime);
    if (!named || !(Math.abs(startedAt - engine.createdAt.getTime()) < 1_000)) return;
    try {
      process.kill(-pid, 'SIGKILL');
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'ESRCH') throw error;
    }
    const stillNamed = (await this.kernelProcesses()).some((p) => p.pid !== pid && p.kernelId === engine.kernelId);
    if (!stillNamed) await unlink(path.join(this.runtimeDir, `kernel-${engine.kernelId}.json`)).catch(ignoreMissing);
  }

  /** Processes (all, or the one given) whose command line names a connection file of this runtime folder, and which kernel's. */
  private async kernelProcesses(onlyPid?: number): Promise<{ pid: number; kernelId: string }[]> {
    const connectionFile = new RegExp(`(?:^|[\\s='"])${escapeRegExp(this.runtimeDir)}/kernel-([^/\\s'"]+)\\.json(?:$|[\\s'"])`);
    const pids = onlyPid !== undefined ? [String(onlyPid)] : (await readdir('/proc')).filter((entry) => /^\d+$/.test(entry));
    const found: { pid: number; kernelId: string }[] = [];
    for (const entry of pids) {
      const argv = await readFile(`/proc/${entry}/cmdline`, 'utf8').catch(() => ''); // ended meanwhile, or not ours to read
      for (const arg of argv.split('\0')) {
        const kernelId = connectionFile.exec(arg)?.[1];
        if (kernelId) {
          found.push({ pid: Number(entry), kernelId });
          break;
        }
      }
    }
    return found;
  }

  /**
   * Forks the kernel when it is a plain ipykernel whose interpreter's forker is ready and nothing in its
   * environment changes how that interpreter starts; spawns it otherwise (and when the forker says no).
   */
  private async startProcess(
    argv: string[],
    env: Record<string, string>,
    cwd: string | undefined,
    launch: { kernelId: string; writeConnectionFile: () => Promise<void> },
  ): Promise<WatchedChild> {
    const forkerEnv = this.baseEnv(argv[0]!);
    const args = this.forkKernels ? forkableArgs(argv, env, forkerEnv) : undefined;
    if (args) {
      const forker = forkerFor(argv[0]!, forkerEnv, this.logger);
      if (await forker.usable()) {
        try {
          return await forker.fork(args, env, cwd);
        } catch (error) {
          if (error instanceof ForkUncertain) {
            // The forker ended or stuck with this fork asked of it: a kernel it made meanwhile would answer on the
            // same connection file (and write its ports into it). It goes first; the file is written afresh.
            await new Promise((resolve) => setTimeout(resolve, UNCERTAIN_FORK_SETTLE_MS));
            await this.killKernelProcesses(launch.kernelId);
            await launch.writeConnectionFile();
          } else if (!(error instanceof ForkRefused)) {
            throw error;
          }
          this.logger?.warn('the kernel forker could not fork this kernel; spawning it', { kernel: launch.kernelId, error: (error as Error).message });
        }
      }
    }
    return spawnDetached(argv, { cwd, env });
  }

  /** Kills every process (with its group) whose command line names this kernel's connection file. */
  private async killKernelProcesses(kernelId: string): Promise<void> {
    for (const { pid } of (await this.kernelProcesses()).filter((p) => p.kernelId === kernelId)) {
      for (const target of [-pid, pid]) {
        try {
          process.kill(target, 'SIGKILL');
        } catch {
          // not a group leader (yet), or gone already
        }
      }
    }
  }

  /** What every kernel of this interpreter starts from (and its forker runs with). */
  private baseEnv(python: string | undefined): Record<string, string> {
    return kernelHostEnv(this.hostEnv, python);
  }

  private async ensureRuntimeDir(): Promise<void> {
    await mkdir(this.runtimeDir, { recursive: true, mode: 0o700 });
    await chmod(this.runtimeDir, 0o700); // mkdir's mode is masked by umask and ignored if it existed
  }
}

const LocalStateSchema = z.object({
  pid: z.number().int().positive(),
  connectionFile: z.string().min(1),
  /** Clock ticks since boot from /proc/<pid>/stat, to tell the kernel from a process that reused its pid. */
  startTime: z.number().nullable(),
});
type LocalState = z.infer<typeof LocalStateSchema>;

export class LocalKernelProcess extends KernelProcess {
  readonly launcher = 'local';
  readonly pid: number;
  private readonly connectionFile: string;
  private readonly startTime: number | null;
  private readonly child: WatchedChild | undefined;
  private readonly exitWatch: ChildExitWatch;
  /** Settles once the child exited and stderr drained (children only). */
  private readonly exited: Promise<DeadStatus> | undefined;
  private cleanedUp = false;
  private readonly shutdownGraceMs: number;
  /** Whether it ever answered (confirmed started, or restored): one still starting is not asked to shut down. */
  private answered: boolean;

  constructor(init: KernelProcessInit & LocalState & { child?: WatchedChild; exitWatch?: ChildExitWatch; exited?: Promise<DeadStatus>; shutdownGraceMs?: number }) {
    super(init);
    this.shutdownGraceMs = init.shutdownGraceMs ?? DEFAULT_LOCAL_SHUTDOWN_GRACE_MS;
    this.answered = init.child === undefined;
    this.pid = init.pid;
    this.connectionFile = init.connectionFile;
    this.startTime = init.startTime;
    this.child = init.child;
    this.exitPollIntervalMs = 250;
    // A watch already started by the launcher (it listened while the kernel bound its ports) carries on here.
    this.exitWatch = init.exitWatch ?? new ChildExitWatch(`process ${this.pid}`);
    if (this.child) this.exited = init.exited ?? this.exitWatch.watch(this.child);
  }

  get engineId(): string {
    return `pid ${this.pid}`;
  }

  override async confirmStartup(...args: Parameters<KernelProcess['confirmStartup']>): ReturnType<KernelProcess['confirmStartup']> {
    const reply = await super.confirmStartup(...args);
    this.answered = true;
    return reply;
  }

  async poll(): Promise<KernelStatus> {
    if (this.child) return this.exitWatch.status();
    const state = await processState(this.pid, this.startTime);
    if (state === 'running') return { alive: true };
    return { alive: false, reason: `process ${this.pid} ${state === 'zombie' ? 'has exited' : 'no longer exists'}` };
  }

  override waitForExit(abort: AbortSignal): Promise<DeadStatus> {
    if (!this.exited) return super.waitForExit(abort);
    // Never resolving once aborted matches the base contract; the exit promise itself is shared.
    return new Promise((resolve) => {
      void this.exited!.then((status) => {
        if (!abort.aborted) resolve(status);
      });
    });
  }

  protected async sendSignal(signal: NodeJS.Signals): Promise<void> {
    if (!this.child && (await processState(this.pid, this.startTime)) !== 'running') {
      throw new LaunchError('KERNEL_DEAD', `kernel ${this.kernelId} (pid ${this.pid}) is not running`, {
        kernelId: this.kernelId,
        engineId: this.engineId,
      });
    }
    try {
      process.kill(-this.pid, signal); // negative pid: the whole process group
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'ESRCH') throw error;
      throw new LaunchError('KERNEL_DEAD', `kernel ${this.kernelId} (pid ${this.pid}) is not running`, {
        kernelId: this.kernelId,
        engineId: this.engineId,
      });
    }
  }

  protected async terminate(): Promise<void> {
    // Asking is a courtesy: whatever goes wrong with it (no sockets left, say), the kill below still happens.
    const asked = await this.exitsWhenAsked().catch((error: unknown) => {
      this.logger.warn('could not ask the kernel to shut down; killing it', { kernel: this.kernelId, error: String(error) });
      return false;
    });
    if (asked) {
      // What the kernel started and left behind (a subprocess of the user's) goes with it, as before. The group
      // outlives its leader only while members remain, and its id is not reused meanwhile.
      try {
        process.kill(-this.pid, 'SIGKILL');
      } catch (error) {
        if ((error as NodeJS.ErrnoException).code !== 'ESRCH') throw error;
      }
      return;
    }
    try {
      await this.sendSignal('SIGKILL');
    } catch (error) {
      if (!(error instanceof LaunchError && error.code === 'KERNEL_DEAD')) throw error;
    }
  }

  /** Asks the kernel to shut down (control channel); true when it exited within the grace. */
  private async exitsWhenAsked(): Promise<boolean> {
    if (this.shutdownGraceMs <= 0 || !this.answered || !(await this.poll()).alive) return false;
    const connection = new KernelConnection(this.connectionInfo, { heartbeat: false, label: this.kernelId, logger: this.logger });
    try {
      const deadline = Date.now() + this.shutdownGraceMs;
      // Its exit is what counts, not the reply, so the exit is watched from the first moment: a kernel that cannot
      // answer (hung, stopped, a restored one still starting) is killed at the deadline, and one killed meanwhile (a
      // launch cancelled) is seen gone at once. A reply that never comes is dropped with the connection.
      void connection.request('control', 'shutdown_request', { restart: false }, this.shutdownGraceMs).catch(() => {});
      // Polled, not waitForExit: that also waits for stderr to close, which a subprocess the kernel left holds open.
      while (Date.now() < deadline) {
        if (!(await this.poll()).alive) return true;
        await new Promise((resolve) => setTimeout(resolve, 50));
      }
      return false;
    } finally {
      await connection.close();
    }
  }

  async cleanup(): Promise<void> {
    if (this.cleanedUp) return;
    this.cleanedUp = true;
    await unlink(this.connectionFile).catch(ignoreMissing);
    this.child?.stderr?.destroy();
  }

  protected serializeState(): JsonObject {
    const state: LocalState = { pid: this.pid, connectionFile: this.connectionFile, startTime: this.startTime };
    return state;
  }

  /** The last lines the kernel wrote to stderr (tracebacks of a failed start land here). */
  get lastStderr(): string[] {
    return this.exitWatch.lastStderr;
  }


}

// --- helpers ---

/** A counting semaphore for kernel starts; waiters are served in arrival order. */
class StartSlots {
  private free: number;
  private readonly queue: Array<() => void> = [];
  constructor(size: number) {
    this.free = Math.max(1, Math.floor(size));
  }
  get full(): boolean {
    return this.free === 0;
  }
  get waiting(): number {
    return this.queue.length;
  }
  async acquire(): Promise<() => void> {
    if (this.free > 0) this.free--;
    else await new Promise<void>((resolve) => this.queue.push(resolve));
    let released = false;
    return () => {
      if (released) return;
      released = true;
      const next = this.queue.shift();
      if (next) next();
      else this.free++;
    };
  }
}

/** How long a kernel may take to bind its ports and write them back (ipykernel: well under a second). */
const DEFAULT_PORTS_DEADLINE_MS = 60_000;
const PORTS_POLL_FIRST_MS = 5;
/** After a forker ended mid-fork: time for a kernel it forked to write its command line (it does so at once). */
const UNCERTAIN_FORK_SETTLE_MS = 100;
const PORTS_POLL_MS = 50;

/** ipykernel (`-m ipykernel_launcher`, `-m ipykernel`, or its launcher script) binds ports given as 0 itself. */
export function isIpykernel(argv: readonly string[]): boolean {
  return argv.some((arg, i) => /(^|\/)ipykernel_launcher(\.py)?$/.test(arg) || (arg === '-m' && /^ipykernel(_launcher)?$/.test(argv[i + 1] ?? '')));
}

/**
 * Waits until the kernel has written the ports it bound into its connection file. Fails fast if it exits
 * first (with its stderr), and kills it at the deadline: nothing is left running on a failed start.
 */
async function awaitBoundPorts(w: { kernelId: string; connectionFile: string; requested: ConnectionInfo; child: WatchedChild; exited: Promise<DeadStatus>; deadlineMs: number }): Promise<ConnectionInfo> {
  let exit: DeadStatus | undefined;
  void w.exited.then((status) => (exit = status));
  const started = Date.now();
  const deadline = started + w.deadlineMs;
  const fail = async (code: 'LAUNCH_FAILED' | 'LAUNCH_TIMEOUT', message: string) => {
    if (!exit) {
      try {
        process.kill(-w.child.pid!, 'SIGKILL');
      } catch {
        // already gone
      }
    }
    await unlink(w.connectionFile).catch(ignoreMissing);
    return new LaunchError(code, message, { kernelId: w.kernelId, engineId: `pid ${w.child.pid}` });
  };
  while (Date.now() < deadline) {
    if (exit) throw await fail('LAUNCH_FAILED', `kernel ${w.kernelId} (local pid ${w.child.pid}) died while starting: ${exit.reason}`);
    const info = await readFile(w.connectionFile, 'utf8')
      .then((text) => ConnectionInfoSchema.safeParse(JSON.parse(text)))
      .catch(() => undefined); // mid-write: read again
    if (info?.success) {
      const { shell_port, iopub_port, stdin_port, control_port, hb_port } = info.data;
      // Only the ports are taken from the file: the key and address stay the ones Atrium chose.
      if ([shell_port, iopub_port, stdin_port, control_port, hb_port].every((port) => port > 0)) {
        return { ...w.requested, shell_port, iopub_port, stdin_port, control_port, hb_port };
      }
    }
    // A forked kernel binds within tens of milliseconds: looked at often at first, then at an easier pace.
    await new Promise((resolve) => setTimeout(resolve, Date.now() - started < 1_000 ? PORTS_POLL_FIRST_MS : PORTS_POLL_MS));
  }
  throw await fail('LAUNCH_TIMEOUT', `kernel ${w.kernelId} (local pid ${w.child.pid}) did not bind its ports within ${w.deadlineMs} ms; it was killed`);
}

function ignoreMissing(error: NodeJS.ErrnoException): void {
  if (error.code !== 'ENOENT') throw error;
}

async function assertDirectory(dir: string, kernelId: string): Promise<void> {
  const info = await stat(dir).catch(() => undefined);
  if (!info?.isDirectory()) {
    throw new LaunchError('INVALID_REQUEST', `kernel ${kernelId}: working directory ${dir} does not exist`, { kernelId });
  }
}

/** Resolves once the OS started the process, rejects if it could not (ENOENT, EACCES). */
export function spawnDetached(argv: string[], options: { cwd?: string; env: Record<string, string> }): Promise<ChildProcess> {
  return new Promise((resolve, reject) => {
    const child = spawn(argv[0]!, argv.slice(1), {
      cwd: options.cwd,
      // Next's types make NODE_ENV required on ProcessEnv; a kernel's env deliberately lacks it
      env: options.env as NodeJS.ProcessEnv,
      detached: true, // own process group: signals reach the kernel's children; the portal's ^C does not
      stdio: ['ignore', 'ignore', 'pipe'] as const,
    });
    child.once('spawn', () => resolve(child));
    child.once('error', reject);
  });
}

/**
 * Free TCP ports, held open together so they are distinct. Another process can still take one before
 * the kernel binds it (jupyter_client has the same window); the kernel then exits and confirmStartup
 * reports LAUNCH_FAILED with its stderr.
 */
async function freePorts(count: number, host: string): Promise<number[]> {
  const servers: net.Server[] = [];
  try {
    const ports: number[] = [];
    for (let i = 0; i < count; i++) {
      const server = net.createServer();
      servers.push(server);
      await new Promise<void>((resolve, reject) => {
        server.once('error', reject);
        server.listen(0, host, resolve);
      });
      ports.push((server.address() as net.AddressInfo).port);
    }
    return ports;
  } finally {
    await Promise.all(servers.map((server) => new Promise((resolve) => server.close(resolve))));
  }
}

/**
 * The arguments after `python -m ipykernel_launcher` when the kernel can be forked from that python's forker: its
 * environment agrees with the forker's on everything Python reads as it starts (PYTHON*, LD_*, HOME for the user
 * site-packages, the locale, the time zone) and the debugger reads as the forker imports it (PYDEVD_*). Undefined
 * when it must be spawned.
 */
const STARTUP_ENV = new Set(['HOME', 'LANG', 'TZ']);
export function forkableArgs(argv: readonly string[], env: Record<string, string>, forkerEnv: Record<string, string>): string[] | undefined {
  if (argv.length < 3 || argv[1] !== '-m' || argv[2] !== 'ipykernel_launcher') return undefined;
  const startupNames = new Set([...Object.keys(env), ...Object.keys(forkerEnv)].filter((name) => /^(PYTHON|LD_|LC_|PYDEVD_)/.test(name) || STARTUP_ENV.has(name)));
  for (const name of startupNames) if (env[name] !== forkerEnv[name]) return undefined;
  return argv.slice(3);
}

const escapeRegExp = (text: string) => text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
