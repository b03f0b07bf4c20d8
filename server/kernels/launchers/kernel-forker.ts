// A warm Python that forks local ipykernels (kernel-launchers/python/kernel_forker.py): it has imported
// ipykernel once, so a kernel starts in tens of milliseconds instead of the few hundred a fresh interpreter spends
// importing. The local launcher asks it only for the plain `python -m ipykernel_launcher` kernelspecs of its
// interpreter, when nothing in the kernel's environment would change how that interpreter starts; anything
// else, or a forker that is not (yet) there, is spawned as before. A forked kernel is the same process a
// spawned one would be: its own session, the request's cwd, environment and command line, stderr relayed here.
import { spawn, type ChildProcess } from 'node:child_process';
import { EventEmitter } from 'node:events';
import { stat } from 'node:fs/promises';
import { PassThrough } from 'node:stream';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { z } from 'zod';
import { consoleLogger, type KernelLogger } from '../connection';
import type { WatchedChild } from './child-exit';
import { processStartTime, processState } from './proc';

export const KERNEL_FORKER_SCRIPT = fileURLToPath(new URL('../../../kernel-launchers/python/kernel_forker.py', import.meta.url));

/** Room for a kernel's command line, which the forked child writes over its inherited one (see the script). */
const COMMAND_LINE_SPACE = 4096;
/** A fork takes milliseconds; a forker this slow to answer is stuck and is replaced. */
const FORK_ANSWER_DEADLINE_MS = 10_000;
/** How long a forker that was asked to stop may take to answer what it was asked before it ends. */
const CLOSE_DEADLINE_MS = 5_000;
/** How often a kernel whose forker died is looked at in /proc (the forker reaped it and said how it ended before). */
const ORPHAN_POLL_MS = 250;

/** A kernel the forker made: exit and stderr come from the forker's reports, or from /proc once it is gone. */
export class ForkedKernel extends EventEmitter implements WatchedChild {
  readonly stderr = new PassThrough();
  private orphanTimer: NodeJS.Timeout | undefined;

  constructor(readonly pid: number) {
    super();
    this.stderr.on('error', () => {}); // destroyed by cleanup(); nothing to report
  }

  /** The forker reaped it (code or signal), or /proc saw it gone (neither known). */
  exited(code: number | null, signal: NodeJS.Signals | null): void {
    clearTimeout(this.orphanTimer);
    this.emit('exit', code, signal);
    this.stderr.end();
  }

  /** Its forker is gone: the kernel lives on (its own session); /proc tells when it ends. */
  orphaned(): void {
    void processStartTime(this.pid).then((startTime) => {
      const check = async () => {
        const state = await processState(this.pid, startTime).catch(() => 'running' as const);
        if (state === 'running') this.orphanTimer = setTimeout(check, ORPHAN_POLL_MS).unref();
        else this.exited(null, null);
      };
      void check();
    });
  }
}

const ForkerEvent = z.discriminatedUnion('event', [
  z.object({ event: z.literal('ready'), pid: z.number(), watch: z.array(z.string()) }),
  z.object({ event: z.literal('forked'), id: z.number(), pid: z.number().int().positive() }),
  z.object({ event: z.literal('fork_failed'), id: z.number(), error: z.string() }),
  z.object({ event: z.literal('bad_request'), error: z.string() }),
  z.object({ event: z.literal('stderr'), pid: z.number(), data: z.string() }),
  z.object({ event: z.literal('exit'), pid: z.number(), code: z.number().nullable(), signal: z.string().nullable() }),
]);

/** The forker said no, or was not serving: nothing was forked, so the kernel may be spawned instead. */
export class ForkRefused extends Error {}
/** The forker ended, or stuck and was killed, while a fork was asked of it: a kernel may have been forked. */
export class ForkUncertain extends Error {}

/**
 * One forker process for one Python interpreter. `usable()` says whether a start may ask it now: ready, alive,
 * and its interpreter's site-packages unchanged since it imported (a `pip install` there makes it stale: it is
 * replaced, and kernels spawn until the new one is ready).
 */
export class KernelForker {
  private readonly process: ChildProcess;
  private state: 'starting' | 'ready' | 'closing' | 'gone' = 'starting';
  private watched: { path: string; mtimeMs: number }[] = [];
  private nextId = 1;
  private readonly pending = new Map<number, { resolve: (kernel: ForkedKernel) => void; reject: (error: Error) => void; timer: NodeJS.Timeout }>();
  private readonly kernels = new Map<number, ForkedKernel>();
  private readonly startupLines: string[] = [];
  private settleReady!: (ready: boolean) => void;
  /** True once it has imported and serves; false if it ended first. */
  readonly ready = new Promise<boolean>((resolve) => (this.settleReady = resolve));

  constructor(
    readonly python: string,
    env: Record<string, string>,
    private readonly logger: KernelLogger = consoleLogger,
  ) {
    this.process = spawn(python, [KERNEL_FORKER_SCRIPT, ' '.repeat(COMMAND_LINE_SPACE)], { env: env as NodeJS.ProcessEnv, stdio: ['pipe', 'pipe', 'pipe'] });
    // The portal may end whenever it likes: the forker ends when its stdin closes; the kernels it made live on.
    this.process.unref();
    for (const stream of [this.process.stdin, this.process.stdout, this.process.stderr]) (stream as unknown as { unref?: () => void } | null)?.unref?.();
    this.process.on('error', (error) => this.gone(`could not start: ${error.message}`));
    this.process.on('exit', (code, signal) => this.gone(signal ? `killed by ${signal}` : `exited with code ${code}`));
    this.process.stdin!.on('error', () => {}); // a write to a forker that just died: its exit says so
    createInterface({ input: this.process.stdout! }).on('line', (line) => this.onLine(line));
    // What it prints while importing (debugpy's notes on frozen modules...) a spawned kernel prints too: kept back,
    // and told only if it ends before it serves (an import error, say).
    createInterface({ input: this.process.stderr! }).on('line', (line) => {
      if (this.state !== 'starting') return this.logger.warn('kernel forker', { python, line });
      this.startupLines.push(line);
      this.startupLines.splice(0, Math.max(0, this.startupLines.length - 20));
    });
  }

  async usable(): Promise<boolean> {
    if (this.state !== 'ready') return false;
    const current = await Promise.all(this.watched.map((w) => mtimeOf(w.path)));
    if (current.every((mtimeMs, i) => mtimeMs === this.watched[i]!.mtimeMs)) return true;
    this.logger.warn('kernel forker: packages changed since it started; replacing it', { python: this.python });
    this.close();
    return false;
  }

  get alive(): boolean {
    return this.state !== 'gone';
  }

  /** Forks a kernel running `python -m ipykernel_launcher <args>`; ForkRefused when nothing was forked. */
  fork(args: string[], env: Record<string, string>, cwd: string | undefined): Promise<ForkedKernel> {
    if (this.state !== 'ready') return Promise.reject(new ForkRefused(`the kernel forker is ${this.state}`));
    const id = this.nextId++;
    return new Promise<ForkedKernel>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.pending.delete(id);
        // Stuck (stopped, swapping...): killed, so that it forks nothing more; what it may have forked, the caller finds.
        this.process.kill('SIGKILL');
        if (this.state !== 'gone') this.state = 'closing';
        reject(new ForkUncertain(`the kernel forker did not answer within ${FORK_ANSWER_DEADLINE_MS} ms; it was killed`));
      }, FORK_ANSWER_DEADLINE_MS);
      this.pending.set(id, { resolve, reject, timer });
      this.process.stdin!.write(`${JSON.stringify({ op: 'fork', id, args, env, cwd: cwd ?? null })}\n`);
    });
  }

  /**
   * Stops the forker: it takes no new request, answers those it has (a kernel forked for a start under way is that
   * start's), and ends at the end of its input; one that does not within CLOSE_DEADLINE_MS is killed. Kernels it
   * made keep running, watched through /proc from then on.
   */
  close(): void {
    if (this.state === 'gone' || this.state === 'closing') return;
    this.state = 'closing';
    this.process.stdin?.end();
    setTimeout(() => this.process.kill('SIGKILL'), CLOSE_DEADLINE_MS).unref();
  }

  private onLine(line: string): void {
    let event: z.infer<typeof ForkerEvent>;
    try {
      event = ForkerEvent.parse(JSON.parse(line));
    } catch {
      this.logger.warn('kernel forker: unreadable line', { python: this.python, line: line.slice(0, 200) });
      return;
    }
    switch (event.event) {
      case 'ready':
        void Promise.all(event.watch.map(async (path) => ({ path, mtimeMs: await mtimeOf(path) }))).then((watched) => {
          this.watched = watched;
          if (this.state !== 'starting') return;
          this.state = 'ready';
          this.settleReady(true);
        });
        return;
      case 'forked': {
        const waiter = this.settle(event.id);
        const kernel = new ForkedKernel(event.pid);
        this.kernels.set(event.pid, kernel);
        kernel.once('exit', () => this.kernels.delete(event.pid));
        if (waiter) waiter.resolve(kernel);
        return;
      }
      case 'fork_failed':
        this.settle(event.id)?.reject(new ForkRefused(`the kernel forker could not fork: ${event.error}`));
        return;
      case 'bad_request':
        this.logger.warn('kernel forker refused a request', { python: this.python, error: event.error });
        return;
      case 'stderr':
        this.kernels.get(event.pid)?.stderr.write(event.data);
        return;
      case 'exit':
        this.kernels.get(event.pid)?.exited(event.code, event.signal as NodeJS.Signals | null);
        return;
    }
  }

  private settle(id: number) {
    const waiter = this.pending.get(id);
    if (!waiter) return undefined;
    clearTimeout(waiter.timer);
    this.pending.delete(id);
    return waiter;
  }

  private gone(why: string): void {
    const was = this.state;
    this.state = 'gone';
    this.settleReady(false);
    // Not a refusal: it may have forked the kernel before it ended.
    for (const id of [...this.pending.keys()]) this.settle(id)?.reject(new ForkUncertain(`the kernel forker ${why} while it started the kernel`));
    for (const kernel of this.kernels.values()) kernel.orphaned();
    this.kernels.clear();
    if (was === 'starting') this.logger.warn('kernel forker ended before it served', { python: this.python, why, printed: this.startupLines.join('\n') });
    else if (was === 'ready') this.logger.warn('kernel forker ended', { python: this.python, why });
  }
}

/** One forker per interpreter and environment in this process, shared by every local launcher. */
const forkers = new Map<string, KernelForker>();

export function forkerFor(python: string, env: Record<string, string>, logger?: KernelLogger): KernelForker {
  const key = `${python}\0${JSON.stringify(Object.entries(env).sort())}`;
  let forker = forkers.get(key);
  if (!forker?.alive) {
    forker = new KernelForker(python, env, logger);
    forkers.set(key, forker);
  }
  return forker;
}

/** A folder's mtime; -1 while it does not exist (a user site-packages not made yet). */
function mtimeOf(path: string): Promise<number> {
  return stat(path).then(
    (s) => s.mtimeMs,
    () => -1,
  );
}
