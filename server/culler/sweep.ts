// One culling sweep: idle and lifetime culling, the running-budget rule, and admin stop requests. Exactly one
// replica sweeps at a time: the decisions are taken inside a transaction holding a transaction-level advisory
// lock (pg_try_advisory_xact_lock — another replica's sweep skips instead of waiting), and every kernel to stop
// is claimed in that transaction, so it is stopped once even if the next sweep starts before this one's stops
// finish. The stops themselves (manager.stopKernel) run after the commit, outside the lock. A claim whose stop
// failed is given back at once; one whose replica went away before stopping lapses after
// `stopClaimExpiresAfterMs`. Either way a later sweep decides again, so a stop is retried, never lost.
// Call sweep() directly in tests, with a fake `now`.
import { sql } from "drizzle-orm";
import type { Database, Tx } from "@/db";
import { teamCullPoliciesFor, teamQuotasFor, userQuotasFor, vcoreHoursSince } from "@/db/queries/quotas";
import type { KernelEndReason } from "@/db/queries/kernels";
import { claimKernelStop, deleteWarning, deleteWarningsOfDeadKernels, liveKernelsForSweep, allWarnings, markClientsSeen, releaseStopClaims, renewStopClaim, settleEndedSessions, upsertWarning, type KernelWarningRow } from "@/db/queries/usage";
import { log } from "@/server/log";
import { budgetMonth, effectiveUserLimits } from "@/server/quota/policy";
import { loadCullBounds } from "./bounds";
import { decideBudget, decideCull, effectiveCullPolicy, type WarningFacts } from "./policy";

export const CULL_LOCK_ID = 7_261_005;

/**
 * How long a claim to stop stands before a later sweep may claim the kernel again. Longer than one sweep's stops
 * take (they run one after another, each kill with a deadline of at most 30 s), so a stop still under way is not
 * made twice; short enough that an admin's stop or a cull is not put off for long.
 */
export const STOP_CLAIM_EXPIRES_MS = 10 * 60_000;

export interface SweepDeps {
  db: Database;
  /** Stops a kernel whoever owns it: KernelManager.stopKernel. */
  stop(id: string, reason: KernelEndReason, detail: string): Promise<void>;
  /** Clients attached to a kernel, when this process holds it; null when it does not know. */
  connectionsOf?(id: string): number | null;
  /**
   * Kernels with clients attached to this process. Every replica's sweep says so in their rows, for
   * `clientsSeenForMs`, so the replica that acts spares a kernel whose client is connected to another one.
   */
  attachedHere?(): string[];
  clientsSeenForMs?: number;
  /** Told of every stop this sweep made (metrics). */
  onStopped?(stop: PlannedStop): void;
  /**
   * True for a launcher whose kernels this process leaves alone (cluster kernels paused in a copied database):
   * they are neither warned nor culled, since nothing here hears their activity. An admin's stop still applies.
   */
  isPaused?(launcher: string): boolean;
  /** Default STOP_CLAIM_EXPIRES_MS. */
  stopClaimExpiresAfterMs?: number;
}

export interface PlannedStop {
  kernelId: string;
  teamId: string | null;
  teamName: string | null;
  reason: KernelEndReason;
  kind: KernelWarningRow["kind"];
  detail: string;
  /** When this sweep claimed it (renewed just before its stop). */
  claimedAt: Date;
}

export interface SweepResult {
  /** Another replica held the lock: this sweep did nothing. */
  skipped: boolean;
  warned: { kernelId: string; kind: string; deadline: Date | null }[];
  cleared: string[];
  stopped: PlannedStop[];
  settled: number;
}

async function tryLock(tx: Tx): Promise<boolean> {
  const result = (await tx.execute(sql.raw(`select pg_try_advisory_xact_lock(${CULL_LOCK_ID}) as locked`))) as unknown;
  const rows = (Array.isArray(result) ? result : (result as { rows: unknown[] }).rows) as { locked: boolean }[];
  return rows[0]?.locked === true;
}

const facts = (w: KernelWarningRow | undefined): WarningFacts | null => (w ? { kind: w.kind, warnedAt: w.warnedAt, deadline: w.deadline } : null);

export const OWNER_DISABLED = "stopped because its owner's account was disabled";

export async function sweep(deps: SweepDeps, now: Date = new Date()): Promise<SweepResult> {
  const result: SweepResult = { skipped: false, warned: [], cleared: [], stopped: [], settled: 0 };
  // Outside the lock: every replica says which kernels have its clients, whichever replica acts.
  if (deps.attachedHere && deps.clientsSeenForMs) await markClientsSeen(deps.db, deps.attachedHere(), new Date(now.getTime() + deps.clientsSeenForMs));
  const planned = await deps.db.transaction(async (tx) => {
    if (!(await tryLock(tx))) return null;
    result.settled = await settleEndedSessions(tx, now);
    await deleteWarningsOfDeadKernels(tx);
    const lapsed = await releaseStopClaims(tx, { claimedBefore: new Date(now.getTime() - (deps.stopClaimExpiresAfterMs ?? STOP_CLAIM_EXPIRES_MS)) });
    for (const id of lapsed) log.warn(`kernel ${id}: a stop claimed by an earlier culling sweep never happened (it failed, or its replica went away): deciding again`);
    const live = await liveKernelsForSweep(tx);
    if (live.length === 0) return [];
    const warnings = new Map<string, KernelWarningRow>();
    for (const w of await allWarnings(tx)) warnings.set(`${w.kernelId}:${w.kind}`, w);
    const teamIds = [...new Set(live.map((k) => k.teamId).filter((t): t is string => t !== null))];
    const ownerIds = [...new Set(live.map((k) => k.ownerId))];
    const bounds = await loadCullBounds(tx);
    const policies = new Map((await teamCullPoliciesFor(tx, teamIds)).map((p) => [p.teamId, p]));
    const envelopes = new Map((await teamQuotasFor(tx, teamIds)).map((q) => [q.teamId, q]));
    const quotas = new Map((await userQuotasFor(tx, ownerIds)).map((q) => [q.userId, q]));
    const month = budgetMonth(now);
    const budgetUsed = new Map<string, number>();
    for (const owner of ownerIds) budgetUsed.set(owner, await vcoreHoursSince(tx, { userId: owner, from: month.start, now }));

    const stops: PlannedStop[] = [];
    const planStop = async (k: (typeof live)[number], kind: KernelWarningRow["kind"], reason: KernelEndReason, detail: string, message: string) => {
      // The warning row is the claim: written (if it was not there) and claimed in this transaction.
      if (!warnings.has(`${k.id}:${kind}`)) await upsertWarning(tx, { kernelId: k.id, ownerId: k.ownerId, kind, message, deadline: now, warnedAt: now });
      if (await claimKernelStop(tx, { kernelId: k.id, kind, at: now })) stops.push({ kernelId: k.id, teamId: k.teamId, teamName: k.teamName, reason, kind, detail, claimedAt: now });
    };

    // Clients here, or seen lately by another replica (it says so every sweep: a sighting counts as one).
    const connectionsOf = (k: (typeof live)[number]) => {
      const here = deps.connectionsOf?.(k.id) ?? null;
      const seenElsewhere = k.clientsSeenUntil !== null && k.clientsSeenUntil.getTime() > now.getTime();
      return seenElsewhere ? Math.max(here ?? 0, 1) : here;
    };
    for (const k of live) {
      const get = (kind: KernelWarningRow["kind"]) => warnings.get(`${k.id}:${kind}`);
      const admin = get("admin");
      if (admin) {
        if (!admin.claimedAt) await planStop(k, "admin", "stopped", admin.message, admin.message);
        continue;
      }
      // A disabled account's kernels (someone who left, an account an admin shut) stop too: they would otherwise run
      // as that person, and count against the team, for as long as nothing culls them.
      if (k.ownerDisabledAt) {
        await planStop(k, "admin", "stopped", OWNER_DISABLED, OWNER_DISABLED);
        continue;
      }
      if (!k.startedAt) continue; // still launching: neither idle nor over time yet
      if (deps.isPaused?.(k.launcher)) continue;

      const envelope = k.teamId ? envelopes.get(k.teamId) : undefined;
      const own = quotas.get(k.ownerId);
      const limits = effectiveUserLimits(own ?? null, envelope ?? null);
      const budget = decideBudget(
        {
          used: budgetUsed.get(k.ownerId) ?? 0,
          budget: limits.monthlyVcoreHours,
          action: envelope?.overBudgetAction ?? "keep",
          graceMinutes: envelope?.overBudgetGraceMinutes ?? 30,
          renews: month.renews,
        },
        facts(get("budget")),
        now,
      );
      if (budget.action === "cull") {
        await planStop(k, "budget", "quota", budget.reason, budget.reason);
        continue;
      }
      if (budget.action === "warn") {
        await upsertWarning(tx, { kernelId: k.id, ownerId: k.ownerId, kind: "budget", message: budget.message, deadline: budget.deadline, warnedAt: budget.warnedAt });
        result.warned.push({ kernelId: k.id, kind: "budget", deadline: budget.deadline });
      } else if (budget.action === "clear") {
        await deleteWarning(tx, { kernelId: k.id, kinds: ["budget"] });
        result.cleared.push(k.id);
      }

      const policy = effectiveCullPolicy((k.teamId && policies.get(k.teamId)) || null, bounds);
      const steps = decideCull(
        { state: k.state, lastActivityAt: k.lastActivityAt, startedAt: k.startedAt, connections: connectionsOf(k) },
        policy,
        { idle: facts(get("idle")), lifetime: facts(get("lifetime")) },
        now,
      );
      for (const step of steps) {
        if (step.action === "warn") {
          await upsertWarning(tx, { kernelId: k.id, ownerId: k.ownerId, kind: step.kind, message: step.message, deadline: step.deadline, warnedAt: now });
          result.warned.push({ kernelId: k.id, kind: step.kind, deadline: step.deadline });
        } else if (step.action === "clear") {
          await deleteWarning(tx, { kernelId: k.id, kinds: [step.kind] });
          result.cleared.push(k.id);
        } else {
          await planStop(k, step.kind, "culled", step.reason, step.reason);
        }
      }
    }
    return stops;
  });
  if (planned === null) return { ...result, skipped: true };
  const sweepStarted = Date.now();
  for (const stop of planned) {
    // On this sweep's clock (a test's may be fake): `now` plus the time its stops have taken.
    const renewedAt = new Date(now.getTime() + (Date.now() - sweepStarted));
    const renewed = await renewStopClaim(deps.db, { kernelId: stop.kernelId, claimedAt: stop.claimedAt, at: renewedAt }).catch((error: Error) => {
      log.warn(`kernel ${stop.kernelId}: could not renew its stop claim (${error.message}); a later sweep stops it once the claim lapses`);
      return null;
    });
    if (renewed === false) log.warn(`kernel ${stop.kernelId}: its stop claim lapsed before this sweep got to it; the sweep that claimed it since stops it`);
    if (!renewed) continue;
    stop.claimedAt = renewedAt;
    try {
      await deps.stop(stop.kernelId, stop.reason, stop.detail);
      result.stopped.push(stop);
      deps.onStopped?.(stop);
      log.info(`kernel ${stop.kernelId} stopped by the culler (${stop.kind}): ${stop.detail}`);
    } catch (error) {
      // Its claim is given back so the next sweep tries again (if this fails too, the claim lapses).
      const released = await releaseStopClaims(deps.db, { kernelId: stop.kernelId, claimedAt: stop.claimedAt }).then(
        () => "the next sweep tries again",
        () => "tried again once its claim lapses",
      );
      log.error(`kernel ${stop.kernelId}: the culler could not stop it (${released}): ${(error as Error).message}`);
    }
  }
  // The usage of what was just stopped is settled now rather than at the next sweep.
  if (result.stopped.length) result.settled += await settleEndedSessions(deps.db, new Date()).catch(() => 0);
  return result;
}
