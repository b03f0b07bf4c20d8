// Kills engines on a cluster that no kernel owns any more. A kill can fail (the ResourceManager down, a pod
// delete refused) and the kernel's row is marked dead anyway; a portal can crash in the middle of a launch; a
// user's kernels lose their rows when the user is deleted; a restart's kill of the old engine can fail. Each leaves
// a YARN application or a pod running, holding the cluster's resources with nothing pointing to it.
//
// Every interval (and once at boot), each remote launcher lists the engines this installation launched (by the
// installation's own tag or label, so another Atrium sharing the cluster is never touched), the rows of their
// kernels are read, and judgeEngine() — the policy, pure — says which are orphans; those are killed. Every
// replica sweeps; a kill is idempotent, so two replicas killing the same orphan is harmless.
import type { Database } from "@/db";
import { engineOwnersOf, type KernelRow } from "@/db/queries/kernels";
import { log } from "@/server/log";
import { Periodic } from "@/server/periodic";
import type { ClusterEngine, Launcher } from "./launchers/base";

/** What `installation show` and the portal's log say about a database that is not the one its id was made in. */
export const COPIED_DATABASE =
  "This database is not the one this installation id was made in (a copy, a restore or an upgrade): the orphan sweep " +
  "and new YARN and Kubernetes kernels are off, and the YARN and Kubernetes kernels its rows say are running are left " +
  "as they are (not reattached, not culled).\n" +
  "A copy beside the original (staging): npx atrium installation new-id (those kernels are the original's: they are " +
  "ended in this database). The original, moved: npx atrium installation keep-id (they are reattached). " +
  "Then restart the portal.\n";

/** Engines younger than this are left alone: their launch may not have recorded them yet, and clocks drift. */
export const DEFAULT_ORPHAN_GRACE_MS = 120_000;

export type EngineOwner = Pick<KernelRow, "state" | "engineId" | "endReason">;
export type Verdict = { orphan: false } | { orphan: true; why: string };

/**
 * Whether an engine is an orphan, from its kernel's row (undefined: no row). `listed`: what the same launcher
 * listed, by engine id. A live kernel's other engine is a restart's leftover only when the engine its row names
 * is listed too and is the newer of the two: a row can name an engine by a placeholder (a YARN application whose
 * id was not known yet), which matches nothing, and a row that names the wrong one must never get the live one
 * killed.
 */
export function judgeEngine(engine: ClusterEngine, owner: EngineOwner | undefined, now: Date, graceMs: number, listed: ReadonlyMap<string, ClusterEngine>): Verdict {
  if (now.getTime() - engine.createdAt.getTime() < graceMs) return { orphan: false };
  if (!owner) return { orphan: true, why: "no kernel record names it" };
  if (owner.state === "dead") return { orphan: true, why: `its kernel ended${owner.endReason ? ` (${owner.endReason})` : ""}` };
  // A launch or restart in progress may not have recorded its new engine yet.
  if (owner.state === "starting" || owner.state === "restarting") return { orphan: false };
  const named = owner.engineId && owner.engineId !== engine.engineId ? listed.get(owner.engineId) : undefined;
  if (named && named.createdAt.getTime() > engine.createdAt.getTime()) {
    return { orphan: true, why: `its kernel now runs as ${owner.engineId} (left from a restart)` };
  }
  return { orphan: false };
}

export interface SweepReport {
  killed: string[];
  /** Engines judged orphans whose kill failed (tried again next sweep). */
  failed: string[];
  /** Launchers that could not list their engines. */
  unlisted: string[];
}

export interface OrphanSweeperOptions {
  db: Database;
  /** Set: every sweep says this and leaves the clusters alone (a copied database: the engines it does not know may be the original's). */
  offBecause?: string;
  launchers: () => readonly Launcher[];
  intervalMs: number;
  graceMs?: number;
  now?: () => Date;
}

export class OrphanSweeper {
  private readonly loop: Periodic<SweepReport>;
  /** Set by stop(): a sweep in progress ends after its current kill instead of working through every orphan. */
  private stopping = false;

  constructor(private readonly options: OrphanSweeperOptions) {
    this.loop = new Periodic("orphan sweep", options.intervalMs, () => this.sweep());
  }

  start(): void {
    this.stopping = false;
    this.loop.start();
  }

  /** Stops the loop and waits for a sweep in progress (which ends after its current kill). */
  stop(): Promise<void> {
    this.stopping = true;
    return this.loop.stop();
  }

  /** One sweep now (also what the loop runs); sweeps never overlap. */
  sweepOnce(): Promise<SweepReport> {
    return this.loop.runOnce();
  }

  private async sweep(): Promise<SweepReport> {
    const report: SweepReport = { killed: [], failed: [], unlisted: [] };
    // Off for the clusters only: a local kernel process is found by this portal's runtime folder, not by the
    // installation's id, so it cannot be the original installation's.
    if (this.options.offBecause) log.warn(this.options.offBecause.trim());
    const graceMs = this.options.graceMs ?? DEFAULT_ORPHAN_GRACE_MS;
    for (const launcher of this.options.launchers()) {
      if (this.stopping) break;
      if (!launcher.listOwnEngines || !launcher.killOrphan) continue;
      if (this.options.offBecause && !launcher.hostBound) continue;
      let engines: ClusterEngine[];
      try {
        engines = await launcher.listOwnEngines();
      } catch (error) {
        report.unlisted.push(launcher.name);
        log.warn(`orphan sweep: could not list the ${launcher.name} launcher's engines (tried again in ${Math.round(this.options.intervalMs / 1000)} s): ${(error as Error).message}`);
        continue;
      }
      if (engines.length === 0) continue;
      let owners: Awaited<ReturnType<typeof engineOwnersOf>>;
      try {
        owners = await engineOwnersOf(this.options.db, engines.map((e) => e.kernelId));
      } catch (error) {
        report.unlisted.push(launcher.name);
        log.warn(`orphan sweep: could not read the kernel records of the ${launcher.name} launcher's engines: ${(error as Error).message}`);
        continue;
      }
      const now = this.options.now?.() ?? new Date();
      const listed = new Map(engines.map((e) => [e.engineId, e]));
      for (const engine of engines) {
        if (this.stopping) break; // the next sweep (here or on another replica) kills what is left
        const verdict = judgeEngine(engine, owners.get(engine.kernelId.toLowerCase()), now, graceMs, listed);
        if (!verdict.orphan) continue;
        try {
          await launcher.killOrphan(engine);
          report.killed.push(engine.label);
          log.info(`orphan sweep: killed ${engine.label} of kernel ${engine.kernelId}: ${verdict.why}`);
        } catch (error) {
          report.failed.push(engine.label);
          log.warn(`orphan sweep: could not kill ${engine.label} of kernel ${engine.kernelId} (${verdict.why}); tried again next sweep: ${(error as Error).message}`);
        }
      }
    }
    return report;
  }
}
