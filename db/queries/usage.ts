// Kernel sessions (usage) and kernel warnings (idle, lifetime, budget, admin stop). Reads that serve a user
// carry the owner in the WHERE clause.
import { and, asc, desc, eq, gte, inArray, isNotNull, isNull, lt, ne, or, sql } from "drizzle-orm";
import type { Database, Tx } from "../index";
import { kernels, kernelSessions, kernelWarnings, teams, users } from "../schema";

type Db = Database | Tx;
export type KernelSessionRow = typeof kernelSessions.$inferSelect;
export type KernelWarningRow = typeof kernelWarnings.$inferSelect;
export type WarningKind = KernelWarningRow["kind"];

export async function insertSession(db: Db, params: typeof kernelSessions.$inferInsert) {
  await db.insert(kernelSessions).values(params);
}

/**
 * Busy accounting from execution_state: entering busy opens a period, leaving it adds the period to busy_ms.
 * One statement, so repeated or out-of-order states are harmless.
 */
export async function recordExecutionState(db: Db, params: { kernelId: string; busy: boolean; at: Date }) {
  const at = params.at.toISOString();
  if (params.busy) {
    await db
      .update(kernelSessions)
      .set({ busySince: sql`coalesce(${kernelSessions.busySince}, ${at}::timestamptz)` })
      .where(and(eq(kernelSessions.kernelId, params.kernelId), isNull(kernelSessions.endedAt)));
  } else {
    await db
      .update(kernelSessions)
      .set({
        busyMs: sql`${kernelSessions.busyMs} + greatest(floor(extract(epoch from (${at}::timestamptz - ${kernelSessions.busySince})) * 1000), 0)::bigint`,
        busySince: null,
      })
      .where(and(eq(kernelSessions.kernelId, params.kernelId), isNotNull(kernelSessions.busySince), isNull(kernelSessions.endedAt)));
  }
}

/**
 * Ends the sessions whose kernel row is dead, taking end time, reason, detail and engine id from it (and closing
 * an open busy period at the end). Every path that ends a kernel marks its row dead; this makes the usage follow.
 * Sessions whose kernel row is gone end now as "died". Returns how many were settled.
 */
export async function settleEndedSessions(db: Db, now: Date): Promise<number> {
  const settled = await db
    .update(kernelSessions)
    .set({
      endedAt: sql`coalesce(${kernels.endedAt}, ${now.toISOString()}::timestamptz)`,
      endReason: sql`coalesce(${kernels.endReason}, 'died')`,
      endDetail: kernels.stateDetail,
      engineId: sql`coalesce(${kernels.engineId}, ${kernelSessions.engineId})`,
      busyMs: sql`${kernelSessions.busyMs} + case when ${kernelSessions.busySince} is null then 0 else greatest(floor(extract(epoch from (coalesce(${kernels.endedAt}, ${now.toISOString()}::timestamptz) - ${kernelSessions.busySince})) * 1000), 0)::bigint end`,
      busySince: null,
    })
    .from(kernels)
    .where(and(eq(kernels.id, kernelSessions.kernelId), eq(kernels.state, "dead"), isNull(kernelSessions.endedAt)))
    .returning({ id: kernelSessions.kernelId });
  const orphans = await db
    .update(kernelSessions)
    .set({ endedAt: now, endReason: "died", endDetail: "the kernel record was removed", busySince: null })
    .where(and(isNull(kernelSessions.endedAt), sql`not exists (select 1 from ${kernels} where ${kernels.id} = ${kernelSessions.kernelId})`))
    .returning({ id: kernelSessions.kernelId });
  // Live sessions show the engine the kernel runs on now (pid, YARN application, pod): they learn it as soon as the
  // kernel row has it, and follow it when a restart replaces the process. A restart continues the same session
  // (same kernel, its resources reserved throughout), so only the engine id changes; the end settles the last one.
  await db
    .update(kernelSessions)
    .set({ engineId: kernels.engineId })
    .from(kernels)
    .where(
      and(
        eq(kernels.id, kernelSessions.kernelId),
        isNull(kernelSessions.endedAt),
        isNotNull(kernels.engineId),
        sql`${kernelSessions.engineId} is distinct from ${kernels.engineId}`,
      ),
    );
  return settled.length + orphans.length;
}

export interface SessionFilters {
  from: Date;
  to: Date;
  teamId?: string;
  userId?: string;
  engine?: string;
}

/** Sessions that overlap [from, to), with who ran them, for reports. */
export async function sessionsOverlapping(db: Db, f: SessionFilters) {
  return db
    .select({
      session: kernelSessions,
      userEmail: users.email,
      teamName: teams.name,
    })
    .from(kernelSessions)
    .leftJoin(users, eq(users.id, kernelSessions.userId))
    .leftJoin(teams, eq(teams.id, kernelSessions.teamId))
    .where(
      and(
        lt(kernelSessions.startedAt, f.to),
        or(isNull(kernelSessions.endedAt), gte(kernelSessions.endedAt, f.from)),
        f.teamId ? eq(kernelSessions.teamId, f.teamId) : undefined,
        f.userId ? eq(kernelSessions.userId, f.userId) : undefined,
        f.engine ? eq(kernelSessions.engine, f.engine) : undefined,
      ),
    )
    .orderBy(asc(kernelSessions.startedAt), asc(kernelSessions.kernelId));
}

// --- warnings ---

export async function upsertWarning(db: Db, params: { kernelId: string; ownerId: string; kind: WarningKind; message: string; deadline: Date | null; warnedAt: Date }) {
  await db
    .insert(kernelWarnings)
    .values(params)
    .onConflictDoUpdate({
      target: [kernelWarnings.kernelId, kernelWarnings.kind],
      set: { message: params.message, deadline: params.deadline, warnedAt: params.warnedAt },
    });
}

export async function deleteWarning(db: Db, params: { kernelId: string; ownerId?: string; kinds?: WarningKind[] }) {
  const rows = await db
    .delete(kernelWarnings)
    .where(
      and(
        eq(kernelWarnings.kernelId, params.kernelId),
        params.ownerId ? eq(kernelWarnings.ownerId, params.ownerId) : undefined,
        params.kinds ? sql`${kernelWarnings.kind} in (${sql.join(params.kinds.map((k) => sql`${k}`), sql`, `)})` : undefined,
      ),
    )
    .returning({ id: kernelWarnings.kernelId });
  return rows.length > 0;
}

/**
 * Marks a kernel as being stopped because of one of its warnings. While the claim stands only one caller gets
 * true for a kernel, whatever the kind: a kernel is stopped once (releaseStopClaims ends a claim whose stop
 * never happened).
 */
export async function claimKernelStop(db: Db, params: { kernelId: string; kind: WarningKind; at: Date }): Promise<boolean> {
  const rows = await db
    .update(kernelWarnings)
    .set({ claimedAt: params.at })
    .where(
      and(
        eq(kernelWarnings.kernelId, params.kernelId),
        eq(kernelWarnings.kind, params.kind),
        sql`not exists (select 1 from ${kernelWarnings} w where w.kernel_id = ${params.kernelId} and w.claimed_at is not null)`,
      ),
    )
    .returning({ id: kernelWarnings.kernelId });
  return rows.length > 0;
}

/**
 * Gives claims to stop back: those taken before `claimedBefore` (the stop never happened: it failed, or the
 * replica that claimed went away after its sweep), or one kernel's claim made at `claimedAt` (its stop just failed;
 * a claim another sweep made since is not touched). A later sweep decides again and claims anew. Returns the
 * kernels released.
 */
export async function releaseStopClaims(db: Db, params: { claimedBefore: Date } | { kernelId: string; claimedAt: Date }): Promise<string[]> {
  const rows = await db
    .update(kernelWarnings)
    .set({ claimedAt: null })
    .where("kernelId" in params ? and(eq(kernelWarnings.kernelId, params.kernelId), eq(kernelWarnings.claimedAt, params.claimedAt)) : lt(kernelWarnings.claimedAt, params.claimedBefore))
    .returning({ id: kernelWarnings.kernelId });
  return [...new Set(rows.map((r) => r.id))];
}

/**
 * Renews a claim just before its stop, if it is still the one made at `claimedAt` (false: it lapsed and another
 * sweep claimed the kernel, which stops it then). A sweep's stops run one after another, so a late one would
 * otherwise run on a claim that lapsed meanwhile.
 */
export async function renewStopClaim(db: Db, params: { kernelId: string; claimedAt: Date; at: Date }): Promise<boolean> {
  const rows = await db
    .update(kernelWarnings)
    .set({ claimedAt: params.at })
    .where(and(eq(kernelWarnings.kernelId, params.kernelId), eq(kernelWarnings.claimedAt, params.claimedAt)))
    .returning({ id: kernelWarnings.kernelId });
  return rows.length > 0;
}

/** A user's warnings on their live kernels, soonest deadline first. */
export async function warningsOfOwner(db: Db, ownerId: string) {
  return db
    .select({ warning: kernelWarnings, kernelspec: kernels.kernelspec })
    .from(kernelWarnings)
    .innerJoin(kernels, eq(kernels.id, kernelWarnings.kernelId))
    .where(and(eq(kernelWarnings.ownerId, ownerId), ne(kernels.state, "dead"), isNull(kernelWarnings.claimedAt)))
    .orderBy(asc(kernelWarnings.deadline));
}

export async function allWarnings(db: Db) {
  return db.select().from(kernelWarnings);
}

/** Warnings left behind by kernels that are gone. */
export async function deleteWarningsOfDeadKernels(db: Db) {
  await db
    .delete(kernelWarnings)
    .where(sql`not exists (select 1 from ${kernels} where ${kernels.id} = ${kernelWarnings.kernelId} and ${kernels.state} <> 'dead')`);
}

/** Live kernels with what the sweep needs: owner, team, state, activity, reserved resources. */
export async function liveKernelsForSweep(db: Db) {
  return db
    .select({
      id: kernels.id,
      ownerId: kernels.ownerId,
      teamId: kernels.teamId,
      state: kernels.state,
      lastActivityAt: kernels.lastActivityAt,
      startedAt: kernels.startedAt,
      createdAt: kernels.createdAt,
      kernelspec: kernels.kernelspec,
      launcher: kernels.launcher,
      clientsSeenUntil: kernels.clientsSeenUntil,
      teamName: teams.name,
      ownerDisabledAt: users.disabledAt,
    })
    .from(kernels)
    .leftJoin(teams, eq(teams.id, kernels.teamId))
    .leftJoin(users, eq(users.id, kernels.ownerId))
    .where(ne(kernels.state, "dead"))
    .orderBy(desc(kernels.createdAt));
}

/** Says that clients are attached to these kernels (on this replica), until `until`: see kernels.clientsSeenUntil. */
export async function markClientsSeen(db: Db, ids: readonly string[], until: Date): Promise<void> {
  if (ids.length === 0) return;
  await db
    .update(kernels)
    .set({ clientsSeenUntil: until })
    .where(and(inArray(kernels.id, [...ids]), ne(kernels.state, "dead"), or(isNull(kernels.clientsSeenUntil), lt(kernels.clientsSeenUntil, until))));
}

/** Kernel counts by state and team, for /metrics (team names only: no per-user labels). */
export async function kernelCountsByStateAndTeam(db: Db) {
  return db
    .select({ state: kernels.state, team: teams.name, count: sql<number>`count(*)::int` })
    .from(kernels)
    .leftJoin(teams, eq(teams.id, kernels.teamId))
    .where(ne(kernels.state, "dead"))
    .groupBy(kernels.state, teams.name);
}

/**
 * Busy accounting written in batches by the process that holds the kernel: adds completed busy time and sets
 * the open busy period (null when idle) of the kernel's live session.
 */
export async function addBusyTime(db: Db, params: { kernelId: string; addMs: number; busySince: Date | null }) {
  await db
    .update(kernelSessions)
    .set({ busyMs: sql`${kernelSessions.busyMs} + ${Math.max(0, Math.round(params.addMs))}`, busySince: params.busySince })
    .where(and(eq(kernelSessions.kernelId, params.kernelId), isNull(kernelSessions.endedAt)));
}
