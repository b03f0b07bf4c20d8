// The leases of the launches this portal process runs (starts and restarts). A kernel row carries a lease while
// it starts; this process renews the leases of its launches in one statement every third of the lease, so a
// replica booting meanwhile (a rolling deploy) leaves those kernels to this process instead of taking a launch
// it cannot see for one its portal abandoned. A quick launch (a local kernel: half a second) is never renewed.
// Each renewal also looks for launches whose kernel was stopped through another replica meanwhile (its row is
// dead): `onEnded` abandons them here (a spark-submit still running, a pod still pending) instead of finishing.
import type { Database } from "@/db";
import { deadAmong, KERNEL_LAUNCH_LEASE_MS, releaseLaunchLeases, renewLaunchLeases } from "@/db/queries/kernels";
import { log } from "@/server/log";

export class LaunchLeases {
  /** Launches per kernel held here (a take-up and a restart of the same kernel can overlap). */
  private readonly held = new Map<string, number>();
  private timer: NodeJS.Timeout | undefined;

  constructor(
    private readonly db: Database,
    private readonly renewEveryMs = KERNEL_LAUNCH_LEASE_MS / 3,
    private readonly onEnded: (id: string, detail: string | null) => void = () => {},
  ) {}

  /** A launch of this kernel runs here: its lease is renewed until release(). */
  hold(id: string): void {
    this.held.set(id, (this.held.get(id) ?? 0) + 1);
    if (!this.timer) {
      this.timer = setInterval(() => void this.renew(), this.renewEveryMs);
      this.timer.unref();
    }
  }

  release(id: string): void {
    const count = (this.held.get(id) ?? 0) - 1;
    if (count > 0) this.held.set(id, count);
    else this.held.delete(id);
    if (this.held.size === 0) this.stopTimer();
  }

  /** This process stops: the launches it leaves behind are anyone's to take at once (next process, other replica). */
  async releaseAll(): Promise<void> {
    const ids = [...this.held.keys()];
    this.held.clear();
    this.stopTimer();
    await releaseLaunchLeases(this.db, ids).catch((error) => log.warn(`could not release launch leases: ${error}`));
  }

  private async renew(): Promise<void> {
    const ids = [...this.held.keys()];
    await renewLaunchLeases(this.db, ids).catch((error) => log.warn(`could not renew launch leases: ${error}`));
    const ended = await deadAmong(this.db, ids).catch(() => []);
    for (const { id, detail } of ended) if (this.held.has(id)) this.onEnded(id, detail);
  }

  private stopTimer(): void {
    clearInterval(this.timer);
    this.timer = undefined;
  }
}
