// One piece of work every interval, with explicit start()/stop(): the loop of the culler and of the orphan sweep.
// Runs never overlap (a run asked for while one is going joins it); a failed run of the loop's own is logged and
// the loop goes on (a run it joined is reported by whoever asked for it); stop() waits for a run in progress. The timer never keeps the process alive.
import { log } from "@/server/log";

export class Periodic<T> {
  private timer: NodeJS.Timeout | undefined;
  private running: Promise<T> | undefined;
  private stopped = true;

  constructor(
    /** For the log line of a failed run, e.g. "culling sweep". */
    private readonly what: string,
    private readonly intervalMs: number,
    private readonly work: () => Promise<T>,
  ) {}

  start(): void {
    if (!this.stopped) return;
    this.stopped = false;
    this.schedule();
  }

  /** Stops the loop and waits for a run in progress to finish. */
  async stop(): Promise<void> {
    this.stopped = true;
    clearTimeout(this.timer);
    this.timer = undefined;
    await this.running?.catch(() => {});
  }

  /** Runs the work now (also what the loop does), or joins the run in progress. */
  runOnce(): Promise<T> {
    this.running ??= this.work().finally(() => (this.running = undefined));
    return this.running;
  }

  private schedule() {
    if (this.stopped) return;
    this.timer = setTimeout(async () => {
      const joined = this.running !== undefined;
      try {
        await this.runOnce();
      } catch (error) {
        if (!joined) log.error(`${this.what} failed: ${(error as Error).message}`);
      }
      this.schedule();
    }, this.intervalMs);
    this.timer.unref();
  }
}
