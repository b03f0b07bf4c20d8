// Writes a live kernel's execution state and busy time to the database in batches. Every execute flips a
// kernel busy and back to idle; writing each flip would put several statements on the path of every reply
// (on the embedded database that is CPU on this very event loop). Instead the latest state and the busy time
// accumulated in memory are written at most once per interval, and at once when the kernel ends.
import type { Database } from "@/db";
import { setOpenInput, updateRunningKernelState } from "@/db/queries/kernels";
import type { SavedInputRequest } from "@/db/schema";
import { addBusyTime } from "@/db/queries/usage";
import { log } from "@/server/log";
import type { ExecutionState } from "./live-kernel";

export class KernelStateWriter {
  private latest: ExecutionState | undefined;
  private written: ExecutionState | undefined;
  /** Epoch ms the kernel turned busy, while it is. */
  private busySince: number | null = null;
  private busyMsPending = 0;
  private busyChanged = false;
  private timer: NodeJS.Timeout | undefined;
  private writing: Promise<void> = Promise.resolve();

  constructor(
    private readonly db: Database,
    private readonly kernelId: string,
    private readonly intervalMs = 1_000,
  ) {}

  onState(state: ExecutionState, at = Date.now()) {
    if (state === "dead") return; // the row's death is written by whoever noticed it, with the reason
    if (state === "busy" && !this.busySince) {
      this.busySince = at;
      this.busyChanged = true;
    } else if (state !== "busy" && this.busySince) {
      this.busyMsPending += at - this.busySince;
      this.busySince = null;
      this.busyChanged = true;
    }
    this.latest = state;
    this.timer ??= setTimeout(() => void this.flush(), this.intervalMs);
  }

  /** The row was just written with this state by its launcher (a restart): what differs from it is written next. */
  rowSays(state: ExecutionState) {
    this.written = state;
    if (this.latest !== undefined && this.latest !== state) this.timer ??= setTimeout(() => void this.flush(), this.intervalMs);
  }

  /**
   * The input request a cell waits on, or null once it is answered or over: written at once (it is rare, and a
   * portal that stops before the next flush must leave it for the one that reattaches), in order with the rest.
   */
  onOpenInput(openInput: SavedInputRequest | null): Promise<void> {
    this.writing = this.writing.then(() =>
      setOpenInput(this.db, this.kernelId, openInput).catch((error) => log.warn(`kernel ${this.kernelId}: could not record its input request: ${error}`)),
    );
    return this.writing;
  }

  /** Writes what is pending now (and waits for it). */
  flush(): Promise<void> {
    clearTimeout(this.timer);
    this.timer = undefined;
    const state = this.latest !== this.written ? this.latest : undefined;
    const busy = this.busyChanged ? { addMs: this.busyMsPending, busySince: this.busySince === null ? null : new Date(this.busySince) } : undefined;
    this.written = this.latest;
    this.busyMsPending = 0;
    this.busyChanged = false;
    if (!state && !busy) return this.writing;
    this.writing = this.writing.then(async () => {
      try {
        // Never revives a row another replica (or a stop) has meanwhile marked dead, nor overwrites a restart.
        if (state === "idle" || state === "busy") await updateRunningKernelState(this.db, this.kernelId, state);
        if (busy) await addBusyTime(this.db, { kernelId: this.kernelId, ...busy });
      } catch (error) {
        log.warn(`kernel ${this.kernelId}: state write failed: ${error}`);
      }
    });
    return this.writing;
  }
}
