// The culler's loop: one sweep every interval, explicit start()/stop(). A failed sweep is logged and the loop
// goes on. Every replica runs one; the advisory lock in sweep() makes exactly one of them act per sweep.
import { log } from "@/server/log";
import { sweep, type SweepDeps, type SweepResult } from "./sweep";

export interface CullerOptions extends SweepDeps {
  intervalMs: number;
  now?: () => Date;
}

export class Culler {
  private timer: NodeJS.Timeout | undefined;
  private running: Promise<unknown> | undefined;
  private stopped = true;

  constructor(private readonly options: CullerOptions) {}

  start(): void {
    if (!this.stopped) return;
    this.stopped = false;
    this.schedule();
  }

  /** Stops the loop and waits for a sweep in progress to finish. */
  async stop(): Promise<void> {
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    await this.running?.catch(() => {});
  }

  /** Runs one sweep now (also what the loop calls). */
  async sweepOnce(): Promise<SweepResult> {
    const run = sweep(this.options, this.options.now?.() ?? new Date());
    this.running = run;
    try {
      return await run;
    } finally {
      this.running = undefined;
    }
  }

  private schedule() {
    if (this.stopped) return;
    this.timer = setTimeout(async () => {
      try {
        await this.sweepOnce();
      } catch (error) {
        log.error(`culling sweep failed: ${(error as Error).message}`);
      }
      this.schedule();
    }, this.options.intervalMs);
    this.timer.unref();
  }
}
