// Quota rows, culling policies and the counts admission needs. Admission calls these inside one transaction:
// ensure rows → lock them (team first, then user: one order everywhere, so no deadlocks) → count → insert.
import { and, asc, eq, inArray, ne, sql } from "drizzle-orm";
import type { Database, Tx } from "../index";
import { cullBounds, kernels, kernelSessions, memberships, notebookKernels, teamCullPolicies, teamQuotas, teams, userQuotas, users } from "../schema";

type Db = Database | Tx;
export type TeamQuotaRow = typeof teamQuotas.$inferSelect;
export type UserQuotaRow = typeof userQuotas.$inferSelect;
export type TeamCullPolicyRow = typeof teamCullPolicies.$inferSelect;
export interface LimitValues {
  maxKernels: number | null;
  maxVcores: number | null;
  maxMemoryMb: number | null;
  maxGpus: number | null;
  monthlyVcoreHours: number | null;
}

/** Creates missing quota rows (all limits unset) so they can be locked; a no-op when they exist. */
export async function ensureQuotaRows(db: Db, params: { userId: string; teamId: string | null }) {
  if (params.teamId) await db.insert(teamQuotas).values({ teamId: params.teamId }).onConflictDoNothing();
  await db.insert(userQuotas).values({ userId: params.userId }).onConflictDoNothing();
}

/** Locks the team's then the user's quota row until the transaction ends (SELECT ... FOR UPDATE). */
export async function lockQuotaRows(tx: Tx, params: { userId: string; teamId: string | null }) {
  const team = params.teamId ? (await tx.select().from(teamQuotas).where(eq(teamQuotas.teamId, params.teamId)).for("update"))[0] : undefined;
  const [user] = await tx.select().from(userQuotas).where(eq(userQuotas.userId, params.userId)).for("update");
  return { team: team ?? null, user: user ?? null };
}

export async function findTeamQuota(db: Db, teamId: string): Promise<TeamQuotaRow | undefined> {
  const [row] = await db.select().from(teamQuotas).where(eq(teamQuotas.teamId, teamId));
  return row;
}

export async function findUserQuota(db: Db, userId: string): Promise<UserQuotaRow | undefined> {
  const [row] = await db.select().from(userQuotas).where(eq(userQuotas.userId, userId));
  return row;
}

export async function upsertUserQuota(db: Db, params: { userId: string } & LimitValues) {
  const { userId, ...limits } = params;
  await db
    .insert(userQuotas)
    .values({ userId, ...limits })
    .onConflictDoUpdate({ target: userQuotas.userId, set: { ...limits, updatedAt: new Date() } });
}

export async function upsertTeamQuota(
  db: Db,
  params: { teamId: string } & LimitValues & { overBudgetAction?: "keep" | "stop"; overBudgetGraceMinutes?: number },
) {
  const { teamId, ...fields } = params;
  const set = Object.fromEntries(Object.entries(fields).filter(([, v]) => v !== undefined));
  await db
    .insert(teamQuotas)
    .values({ teamId, ...set })
    .onConflictDoUpdate({ target: teamQuotas.teamId, set: { ...set, updatedAt: new Date() } });
}

/**
 * Live (not dead) use of a user or a team: kernels and the resources their sessions reserved; `except`: leaving out a
 * kernel that is about to be replaced.
 */
export async function liveUse(db: Db, params: { userId?: string; teamId?: string; except?: string }) {
  const [row] = await db
    .select({
      kernels: sql<number>`count(*)::int`,
      vcores: sql<number>`coalesce(sum(${kernelSessions.vcores}), 0)::float8`,
      memoryMb: sql<number>`coalesce(sum(${kernelSessions.memoryMb}), 0)::int`,
      gpus: sql<number>`coalesce(sum(${kernelSessions.gpus}), 0)::int`,
    })
    .from(kernels)
    .innerJoin(kernelSessions, eq(kernelSessions.kernelId, kernels.id))
    .where(
      and(
        ne(kernels.state, "dead"),
        params.userId ? eq(kernels.ownerId, params.userId) : undefined,
        params.teamId ? eq(kernels.teamId, params.teamId) : undefined,
        params.except ? ne(kernels.id, params.except) : undefined,
      ),
    );
  return { kernels: Number(row?.kernels ?? 0), vcores: Number(row?.vcores ?? 0), memoryMb: Number(row?.memoryMb ?? 0), gpus: Number(row?.gpus ?? 0) };
}

/**
 * A user's live kernels with what they reserved, oldest first (for "stop kernel X to free room"); with
 * `teamId`, only those charged to that team (a lead's overview of the team).
 */
export async function liveKernelsOfUser(db: Db, userId: string, params: { teamId?: string; except?: string } = {}) {
  return db
    .select({
      id: kernels.id,
      kernelspec: kernels.kernelspec,
      notebook: sql<string | null>`(select ${notebookKernels.path} from ${notebookKernels} where ${notebookKernels.kernelId} = ${kernels.id} and ${notebookKernels.ownerId} = ${kernels.ownerId} order by ${notebookKernels.updatedAt} desc limit 1)`,
      startedAt: kernels.createdAt,
      vcores: kernelSessions.vcores,
      memoryMb: kernelSessions.memoryMb,
      gpus: kernelSessions.gpus,
      state: kernels.state,
      sizeProfile: kernelSessions.sizeProfile,
    })
    .from(kernels)
    .innerJoin(kernelSessions, eq(kernelSessions.kernelId, kernels.id))
    .where(
      and(
        eq(kernels.ownerId, userId),
        ne(kernels.state, "dead"),
        params.teamId ? eq(kernels.teamId, params.teamId) : undefined,
        params.except ? ne(kernels.id, params.except) : undefined,
      ),
    )
    .orderBy(asc(kernels.createdAt));
}

/**
 * vCore-hours of a user's or a team's sessions within [from, now): each session's vCores times the part of it
 * inside the window. A session not yet settled takes its end from the kernel row, a live one runs to now.
 */
export async function vcoreHoursSince(db: Db, params: { userId?: string; teamId?: string; from: Date; now: Date }) {
  const from = params.from.toISOString();
  const now = params.now.toISOString();
  const end = sql`least(coalesce(${kernelSessions.endedAt}, ${kernels.endedAt}, ${now}::timestamptz), ${now}::timestamptz)`;
  const start = sql`greatest(${kernelSessions.startedAt}, ${from}::timestamptz)`;
  const [row] = await db
    .select({ hours: sql<number>`coalesce(sum(${kernelSessions.vcores} * greatest(extract(epoch from (${end} - ${start})), 0)) / 3600.0, 0)::float8` })
    .from(kernelSessions)
    .leftJoin(kernels, eq(kernels.id, kernelSessions.kernelId))
    .where(
      and(
        params.userId ? eq(kernelSessions.userId, params.userId) : undefined,
        params.teamId ? eq(kernelSessions.teamId, params.teamId) : undefined,
        sql`${kernelSessions.startedAt} < ${now}::timestamptz`,
        sql`coalesce(${kernelSessions.endedAt}, ${kernels.endedAt}, ${now}::timestamptz) > ${from}::timestamptz`,
      ),
    );
  return Number(row?.hours ?? 0);
}

/** Members of a team with their quota rows (null when never set). */
export async function teamMembersWithQuotas(db: Db, teamId: string) {
  return db
    .select({
      userId: users.id,
      email: users.email,
      name: users.name,
      role: memberships.role,
      quota: userQuotas,
    })
    .from(memberships)
    .innerJoin(users, eq(users.id, memberships.userId))
    .leftJoin(userQuotas, eq(userQuotas.userId, users.id))
    .where(eq(memberships.teamId, teamId))
    .orderBy(asc(users.email));
}

export async function isMemberOf(db: Db, params: { userId: string; teamId: string }): Promise<boolean> {
  const [row] = await db
    .select({ userId: memberships.userId })
    .from(memberships)
    .where(and(eq(memberships.userId, params.userId), eq(memberships.teamId, params.teamId)))
    .limit(1);
  return row !== undefined;
}

/** Every team with its envelope (null fields where the row was never written). */
export async function listTeamQuotas(db: Db) {
  return db
    .select({ teamId: teams.id, name: teams.name, quota: teamQuotas })
    .from(teams)
    .leftJoin(teamQuotas, eq(teamQuotas.teamId, teams.id))
    .orderBy(asc(teams.name));
}

export async function findTeamCullPolicy(db: Db, teamId: string): Promise<TeamCullPolicyRow | undefined> {
  const [row] = await db.select().from(teamCullPolicies).where(eq(teamCullPolicies.teamId, teamId));
  return row;
}

export async function teamCullPoliciesFor(db: Db, teamIds: string[]): Promise<TeamCullPolicyRow[]> {
  if (teamIds.length === 0) return [];
  return db.select().from(teamCullPolicies).where(inArray(teamCullPolicies.teamId, teamIds));
}

export async function teamQuotasFor(db: Db, teamIds: string[]): Promise<TeamQuotaRow[]> {
  if (teamIds.length === 0) return [];
  return db.select().from(teamQuotas).where(inArray(teamQuotas.teamId, teamIds));
}

export async function userQuotasFor(db: Db, userIds: string[]): Promise<UserQuotaRow[]> {
  if (userIds.length === 0) return [];
  return db.select().from(userQuotas).where(inArray(userQuotas.userId, userIds));
}

export async function upsertTeamCullPolicy(
  db: Db,
  params: { teamId: string; idleTimeoutMinutes: number | null; cullBusy: boolean | null; cullConnected: boolean | null; maxLifetimeHours: number | null; warningMinutes: number | null },
) {
  const { teamId, ...fields } = params;
  await db
    .insert(teamCullPolicies)
    .values({ teamId, ...fields })
    .onConflictDoUpdate({ target: teamCullPolicies.teamId, set: { ...fields, updatedAt: new Date() } });
}

export async function readCullBounds(db: Db): Promise<string | undefined> {
  const [row] = await db.select().from(cullBounds).where(eq(cullBounds.id, 1));
  return row?.bounds;
}

export async function writeCullBounds(db: Db, json: string) {
  await db
    .insert(cullBounds)
    .values({ id: 1, bounds: json })
    .onConflictDoUpdate({ target: cullBounds.id, set: { bounds: json, updatedAt: new Date() } });
}
