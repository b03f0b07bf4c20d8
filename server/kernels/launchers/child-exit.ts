// Hearing a child process die, with the last lines it wrote to stderr in the reason: shared by the local
// kernel and the local remote-launcher engine.
import type { DeadStatus, KernelStatus } from './base';

/** What is watched of a child process: a spawned ChildProcess has it, and so has a forked kernel (kernel-forker.ts). */
export interface WatchedChild {
  readonly pid?: number | undefined;
  readonly stderr: (NodeJS.ReadableStream & { readableEnded: boolean; destroy(): unknown }) | null;
  once(event: 'exit', listener: (code: number | null, signal: NodeJS.Signals | null) => void): unknown;
}

const STDERR_TAIL_LINES = 20;
/** After 'exit', how long to let stderr drain so the death reason includes the last lines. */
const STDERR_DRAIN_MS = 200;

export class ChildExitWatch {
  private readonly tail: string[] = [];
  /** How the child ended, once heard. */
  private ended: { code: number | null; signal: NodeJS.Signals | null } | undefined;

  /** `label` names the process in reasons, e.g. "process 123" or "launcher process 123". */
  constructor(private readonly label: string) {}

  /** The last lines the process wrote to stderr (tracebacks of a failed start land here). */
  get lastStderr(): string[] {
    return [...this.tail];
  }

  /** Resolves once the child exited and its stderr drained. */
  /** Alive until the watched child's exit is heard. */
  status(): KernelStatus {
    return this.ended ? this.deadStatus(this.ended.code, this.ended.signal) : { alive: true };
  }

  watch(child: WatchedChild): Promise<DeadStatus> {
    let partial = '';
    child.stderr?.setEncoding('utf8');
    child.stderr?.on('data', (chunk: string) => {
      const lines = (partial + chunk).split('\n');
      partial = lines.pop() ?? '';
      this.tail.push(...lines.filter((line) => line.trim() !== ''));
      this.tail.splice(0, Math.max(0, this.tail.length - STDERR_TAIL_LINES));
    });
    child.stderr?.on('error', () => {}); // destroyed by cleanup(); nothing to report
    return new Promise((resolve) => {
      child.once('exit', (code, signal) => {
        this.ended = { code, signal };
        const finish = () => {
          clearTimeout(timer);
          if (partial.trim()) this.tail.push(partial);
          partial = '';
          resolve(this.deadStatus(code, signal));
        };
        // Grandchildren may hold stderr open forever: drain briefly, don't wait for 'close'.
        const timer = setTimeout(finish, STDERR_DRAIN_MS);
        if (!child.stderr || child.stderr.readableEnded) finish();
        else child.stderr.once('end', finish);
      });
    });
  }

  deadStatus(exitCode: number | null, signal: NodeJS.Signals | null): DeadStatus {
    // Neither is known of a forked kernel whose forker stopped before it: /proc saw it gone. (Node reports a spawned
    // child killed by a signal it has no name for, a real-time one, as code 0 and no signal; the forker names those.)
    const how = signal ? `killed by ${signal}` : exitCode === null ? 'has ended' : `exited with code ${exitCode}`;
    const tail = this.tail.slice(-5).join('\n');
    return {
      alive: false,
      reason: tail ? `${this.label} ${how}; last stderr:\n${tail}` : `${this.label} ${how}`,
      exitCode,
      signal,
    };
  }
}
