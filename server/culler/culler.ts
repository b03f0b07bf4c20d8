// The culler's loop: one sweep every interval, explicit start()/stop(). A failed sweep is logged and the loop
// goes on. Every replica runs one; the advisory lock in sweep() makes exactly one of them act per sweep.
import { Periodic } from "@/server/periodic";
import { STOP_CLAIM_EXPIRES_MS, sweep, type SweepDeps, type SweepResult } from "./sweep";

export interface CullerOptions extends SweepDeps {
  intervalMs: number;
  now?: () => Date;
}

export class Culler {
  private readonly loop: Periodic<SweepResult>;

  constructor(options: CullerOptions) {
    // A claim lapses after two sweeps at the least, whatever the interval.
    const deps = { ...options, stopClaimExpiresAfterMs: options.stopClaimExpiresAfterMs ?? Math.max(STOP_CLAIM_EXPIRES_MS, 2 * options.intervalMs) };
    this.loop = new Periodic("culling sweep", options.intervalMs, () => sweep(deps, options.now?.() ?? new Date()));
  }

  start(): void {
    this.loop.start();
  }

  /** Stops the loop and waits for a sweep in progress to finish. */
  stop(): Promise<void> {
    return this.loop.stop();
  }

  /** Runs one sweep now (also what the loop calls). */
  sweepOnce(): Promise<SweepResult> {
    return this.loop.runOnce();
  }
}
