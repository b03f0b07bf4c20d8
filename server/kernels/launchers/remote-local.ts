// The remote-local launcher (`metadata.atrium.launcher: "remote-local"`): the launch protocol end to end,
// with the Python launcher (kernel-launchers/python) run as a child process on this host. It exercises the
// same path YARN and Kubernetes take (payload, comm port, saved comm key) without a cluster, and lets a
// single host run kernels that are interrupted and stopped through an authenticated port.
// Only the engine step lives here; the protocol steps are in remote.ts. Process handling (own process group,
// allow-listed host env, pid + start-time checks after a restart) is shared with local.ts.
import type { ChildProcess } from 'node:child_process';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { z } from 'zod';
import type { JsonObject } from '../protocol/messages';
import { LaunchError, type DeadStatus, type KernelStatus, type SerializedKernel } from './base';
import { ChildExitWatch } from './child-exit';
import { kernelHostEnv, spawnDetached } from './local';
import { processStartTime, processState } from './proc';
import { RemoteLauncher, type EngineStart, type RemoteEngine, type RemoteLauncherOptions } from './remote';

/** The bundled Python launcher package (`atrium_launcher`), put on the launcher's PYTHONPATH. */
export const BUNDLED_LAUNCHER_PYTHONPATH = fileURLToPath(new URL('../../../kernel-launchers/python', import.meta.url));

/** How often a restored engine (no ChildProcess to hear 'exit' from) polls its pid. */
const RESTORED_POLL_MS = 250;

export interface RemoteLocalLauncherOptions extends RemoteLauncherOptions {
  /** Replaces a leading `python`/`python3` in kernelspec argv (ATRIUM_PYTHON, read by server/env.ts). */
  python?: string;
  /** Directory holding `atrium_launcher`; default the bundled kernel-launchers/python. */
  launcherPythonPath?: string;
  /** Where the allow-listed host variables (PATH, HOME, LANG...) come from. Default: this process. */
  hostEnv?: NodeJS.ProcessEnv;
}

export class RemoteLocalLauncher extends RemoteLauncher {
  readonly name = 'remote-local';
  readonly hostBound = true;
  private readonly python: string | undefined;
  private readonly launcherPythonPath: string;
  private readonly hostEnv: NodeJS.ProcessEnv;

  constructor(options: RemoteLocalLauncherOptions) {
    super(options);
    this.python = options.python || undefined;
    this.launcherPythonPath = options.launcherPythonPath ?? BUNDLED_LAUNCHER_PYTHONPATH;
    this.hostEnv = options.hostEnv ?? process.env;
  }

  protected async startEngine({ request, argv, env }: EngineStart): Promise<RemoteEngine> {
    const command = [...argv];
    if (this.python && /^python3?$/.test(command[0]!)) command[0] = this.python;
    // host basics, then the kernelspec's env + KERNEL_* (from the base), with the launcher package first on the path
    const fullEnv = kernelHostEnv(this.hostEnv, command[0]);
    Object.assign(fullEnv, env);
    fullEnv.PYTHONPATH = [this.launcherPythonPath, env.PYTHONPATH].filter(Boolean).join(path.delimiter);
    let child: ChildProcess;
    try {
      child = await spawnDetached(command, { cwd: request.cwd, env: fullEnv });
    } catch (error) {
      throw new LaunchError('LAUNCH_FAILED', `kernel ${request.kernelId}: cannot start ${command[0]}: ${(error as Error).message}`, {
        kernelId: request.kernelId,
        cause: error,
      });
    }
    return new LocalProcessEngine({ pid: child.pid!, startTime: await processStartTime(child.pid!), child });
  }

  protected async restoreEngine(state: JsonObject, saved: SerializedKernel): Promise<RemoteEngine> {
    const parsed = LocalEngineStateSchema.safeParse(state);
    if (!parsed.success) {
      throw new LaunchError('RESTORE_FAILED', `kernel ${saved.kernelId}: invalid remote-local engine state: ${z.prettifyError(parsed.error)}`, {
        kernelId: saved.kernelId,
        engineId: saved.engineId,
      });
    }
    return new LocalProcessEngine(parsed.data);
  }
}

const LocalEngineStateSchema = z.object({
  pid: z.number().int().positive(),
  /** Clock ticks since boot (/proc/<pid>/stat), to tell the launcher from a process that reused its pid. */
  startTime: z.number().nullable(),
});
type LocalEngineState = z.infer<typeof LocalEngineStateSchema>;

/**
 * The launcher as a child process in its own process group. Launched: exit is heard from the ChildProcess at
 * once. Restored: the pid is polled, and never signalled unless its start time still matches.
 */
export class LocalProcessEngine implements RemoteEngine {
  readonly pid: number;
  private readonly startTime: number | null;
  private readonly child: ChildProcess | undefined;
  private readonly exitWatch: ChildExitWatch;
  private readonly exited: Promise<DeadStatus> | undefined;

  constructor(init: LocalEngineState & { child?: ChildProcess }) {
    this.pid = init.pid;
    this.startTime = init.startTime;
    this.child = init.child;
    this.exitWatch = new ChildExitWatch(`launcher process ${this.pid}`);
    if (this.child) this.exited = this.exitWatch.watch(this.child);
  }

  get engineId(): string {
    return `pid ${this.pid}`;
  }

  /** The launcher's last log lines (its errors land here). */
  get lastStderr(): string[] {
    return this.exitWatch.lastStderr;
  }

  async poll(): Promise<KernelStatus> {
    if (this.child) {
      const { exitCode, signalCode } = this.child;
      return exitCode === null && signalCode === null ? { alive: true } : this.exitWatch.deadStatus(exitCode, signalCode);
    }
    const state = await processState(this.pid, this.startTime);
    if (state === 'running') return { alive: true };
    return { alive: false, reason: `process ${this.pid} ${state === 'zombie' ? 'has exited' : 'no longer exists'}` };
  }

  waitForExit(abort: AbortSignal): Promise<DeadStatus> {
    return new Promise((resolve) => {
      if (this.exited) {
        void this.exited.then((status) => {
          if (!abort.aborted) resolve(status);
        });
        return;
      }
      let timer: NodeJS.Timeout | undefined;
      const check = async () => {
        if (abort.aborted) return;
        const status = await this.poll();
        if (abort.aborted) return;
        if (!status.alive) resolve(status);
        else timer = setTimeout(check, RESTORED_POLL_MS);
      };
      abort.addEventListener('abort', () => clearTimeout(timer), { once: true });
      void check();
    });
  }

  async kill(): Promise<void> {
    if (!this.child && (await processState(this.pid, this.startTime)) !== 'running') return;
    if (this.child && (this.child.exitCode !== null || this.child.signalCode !== null)) return;
    try {
      process.kill(-this.pid, 'SIGKILL'); // negative pid: the launcher's whole process group
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'ESRCH') throw error;
    }
  }

  async cleanup(): Promise<void> {
    this.child?.stderr?.destroy();
  }

  serialize(): JsonObject {
    const state: LocalEngineState = { pid: this.pid, startTime: this.startTime };
    return state;
  }


}
