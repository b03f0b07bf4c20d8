// Kernel rows. Reads that serve a user carry the owner in the WHERE clause; admins pass no owner.
import { and, desc, eq, inArray, isNotNull, isNull, lt, ne, or, sql, type SQL } from "drizzle-orm";
import type { Database } from "../index";
import { kernels, notebookKernels, portalHosts, users, type SavedInputRequest } from "../schema";
import { isUuid } from "./users";

export type KernelRow = typeof kernels.$inferSelect;
export type KernelState = KernelRow["state"];
export type KernelEndReason = NonNullable<KernelRow["endReason"]>;

export async function insertKernel(
  db: Database,
  params: { id: string; ownerId: string; teamId: string | null; kernelspec: string; launcher: string; portalHost?: string | null; sizeProfile: string | null; sealedClientEnv?: string | null },
): Promise<KernelRow> {
  const [row] = await db.insert(kernels).values({ ...params, state: "starting", stateDetail: "launching", launchLeaseUntil: launchLeaseFromNow() }).returning();
  return row!;
}

/**
 * How long a launch lease lasts: the launching process renews it every third of this while the launch runs, so a
 * lease still valid means a live process is launching the kernel, and one that lapsed means it is gone.
 */
export const KERNEL_LAUNCH_LEASE_MS = 90_000; // longer than a database failover: renewals failing for a while must not lose launches
/** A lease from now, by the database's clock: every process writes and judges leases by that one clock. */
export const launchLeaseFromNow = (): SQL => sql`now() + ${sql.raw(`interval '${KERNEL_LAUNCH_LEASE_MS} milliseconds'`)}`;
type LeaseValue = Date | null | SQL;

/** Renews the leases of kernels this process is launching (still starting or restarting). */
export async function renewLaunchLeases(db: Database, ids: readonly string[]): Promise<void> {
  if (ids.length === 0) return;
  await db
    .update(kernels)
    .set({ launchLeaseUntil: launchLeaseFromNow() })
    .where(and(inArray(kernels.id, [...ids]), inArray(kernels.state, ["starting", "restarting"])));
}

/** Which of these kernels are dead now (stopped through another replica while launching here), and why. */
export async function deadAmong(db: Database, ids: readonly string[]): Promise<{ id: string; detail: string | null }[]> {
  if (ids.length === 0) return [];
  return db.select({ id: kernels.id, detail: kernels.stateDetail }).from(kernels).where(and(inArray(kernels.id, [...ids]), eq(kernels.state, "dead")));
}

/** Gives up the leases of launches this process abandons (it is stopping): the next process may take them at once. */
export async function releaseLaunchLeases(db: Database, ids: readonly string[]): Promise<void> {
  if (ids.length === 0) return;
  await db.update(kernels).set({ launchLeaseUntil: null }).where(inArray(kernels.id, [...ids]));
}

/** What the orphan sweep needs of these kernels' rows, by id (lowercase); ids that are no uuid or have no row are absent. */
export async function engineOwnersOf(db: Database, ids: readonly string[]): Promise<Map<string, Pick<KernelRow, "state" | "engineId" | "endReason">>> {
  const owners = new Map<string, Pick<KernelRow, "state" | "engineId" | "endReason">>();
  const valid = [...new Set(ids.filter(isUuid).map((id) => id.toLowerCase()))];
  for (let at = 0; at < valid.length; at += 1000) {
    const rows = await db
      .select({ id: kernels.id, state: kernels.state, engineId: kernels.engineId, endReason: kernels.endReason })
      .from(kernels)
      .where(inArray(kernels.id, valid.slice(at, at + 1000)));
    for (const { id, ...row } of rows) owners.set(id.toLowerCase(), row);
  }
  return owners;
}

/**
 * The namespaces of Kubernetes kernels (engine id `pod <namespace>/<name>`) alive or ended since `since`: where the
 * orphan sweep looks besides the teams' namespaces. Distinct in SQL, over a bounded window of rows.
 */
export async function recentPodNamespaces(db: Database, since: Date): Promise<string[]> {
  const namespace = sql<string>`split_part(split_part(${kernels.engineId}, ' ', 2), '/', 1)`;
  const rows = await db
    .selectDistinct({ namespace })
    .from(kernels)
    .where(and(eq(kernels.launcher, "kubernetes"), sql`${kernels.engineId} like 'pod %/%'`, sql`(${kernels.state} <> 'dead' or ${kernels.endedAt} > ${since.toISOString()}::timestamptz)`));
  return rows.map((r) => r.namespace).filter(Boolean);
}

/**
 * Claims for this process a kernel whose launcher is gone: still starting or restarting, its lease given up or
 * lapsed by the database's clock. The claim is a fresh lease, renewed by the claimer while it takes the kernel up, so
 * of two replicas looking at once only one gets it. The row as claimed, or undefined (not launching, or held).
 */
export async function claimAbandonedLaunch(db: Database, id: string): Promise<KernelRow | undefined> {
  const [row] = await db
    .update(kernels)
    .set({ launchLeaseUntil: launchLeaseFromNow() })
    .where(and(eq(kernels.id, id), inArray(kernels.state, ["starting", "restarting"]), sql`(${kernels.launchLeaseUntil} is null or ${kernels.launchLeaseUntil} < now())`))
    .returning();
  return row;
}

/** A kernel visible to this user: their own, or any kernel for an admin (`ownerId` undefined). */
export async function findKernel(db: Database, params: { id: string; ownerId?: string }): Promise<KernelRow | undefined> {
  if (!isUuid(params.id)) return undefined;
  const [row] = await db
    .select()
    .from(kernels)
    .where(and(eq(kernels.id, params.id), params.ownerId ? eq(kernels.ownerId, params.ownerId) : undefined))
    .limit(1);
  return row;
}

/** Kernels that are not dead, the user's own (or everyone's for admins), newest first. */
export async function listLiveKernels(db: Database, params: { ownerId?: string } = {}) {
  return db
    .select({ kernel: kernels, ownerEmail: users.email, ownerUsername: users.username })
    .from(kernels)
    .innerJoin(users, eq(users.id, kernels.ownerId))
    .where(and(ne(kernels.state, "dead"), params.ownerId ? eq(kernels.ownerId, params.ownerId) : undefined))
    .orderBy(desc(kernels.createdAt));
}

/**
 * The notebook each of these kernels is bound to (see bindNotebookKernel): the one its owner opened with it
 * last, by path in the owner's home. Only bindings by the kernel's own owner count. Kernels bound to no
 * notebook are absent from the map.
 */
export async function notebooksOfKernels(db: Database, ids: readonly string[]): Promise<Map<string, string>> {
  if (ids.length === 0) return new Map();
  const rows = await db
    .select({ kernelId: notebookKernels.kernelId, path: notebookKernels.path, updatedAt: notebookKernels.updatedAt })
    .from(notebookKernels)
    .innerJoin(kernels, and(eq(kernels.id, notebookKernels.kernelId), eq(kernels.ownerId, notebookKernels.ownerId)))
    .where(inArray(notebookKernels.kernelId, [...ids]))
    .orderBy(desc(notebookKernels.updatedAt), desc(notebookKernels.path));
  const byKernel = new Map<string, string>();
  for (const row of rows) if (!byKernel.has(row.kernelId)) byKernel.set(row.kernelId, row.path);
  return byKernel;
}

export async function updateKernel(
  db: Database,
  id: string,
  fields: Partial<Pick<KernelRow, "state" | "stateDetail" | "engineId" | "sealedLaunchState" | "sealedClientEnv" | "startedAt" | "lastActivityAt" | "endedAt" | "endReason">> & { launchLeaseUntil?: LeaseValue },
) {
  await db.update(kernels).set(fields).where(eq(kernels.id, id));
}

/**
 * Updates a kernel's row unless it is dead. False when it was: the kernel was stopped (by the culler, an admin,
 * another replica) while it was being launched, and whoever launched it must stop it rather than revive the row.
 */
export async function updateKernelUnlessDead(db: Database, id: string, fields: Parameters<typeof updateKernel>[2]): Promise<boolean> {
  const rows = await db
    .update(kernels)
    .set(fields)
    .where(and(eq(kernels.id, id), ne(kernels.state, "dead")))
    .returning({ id: kernels.id });
  return rows.length > 0;
}

/** Marks a kernel dead once; a second call (another path noticing the same death) changes nothing. */
export async function markKernelDead(db: Database, params: { id: string; reason: KernelEndReason; detail: string }): Promise<boolean> {
  const rows = await db
    .update(kernels)
    .set({ state: "dead", stateDetail: params.detail, endReason: params.reason, endedAt: new Date(), sealedLaunchState: null, sealedClientEnv: null })
    .where(and(eq(kernels.id, params.id), ne(kernels.state, "dead")))
    .returning({ id: kernels.id });
  return rows.length > 0;
}

/**
 * Writes a running kernel's execution state (idle or busy), only while its row says it runs: never over a dead row,
 * nor over a start or restart in progress (another replica holding the kernel hears its old process meanwhile).
 */
export async function updateRunningKernelState(db: Database, id: string, state: "idle" | "busy"): Promise<void> {
  await db
    .update(kernels)
    .set({ state })
    .where(and(eq(kernels.id, id), inArray(kernels.state, ["idle", "busy"])));
}

/** Records the input request a kernel's cell waits on, or that none does (null). */
export async function setOpenInput(db: Database, id: string, openInput: SavedInputRequest | null): Promise<void> {
  await db.update(kernels).set({ openInput }).where(eq(kernels.id, id));
}

/**
 * Marks a kernel dead because the engine it ran as died ("died"), if its row still names that engine and it is not
 * restarting: a replica that attached the kernel sees the old engine die when another restarts it. True if marked.
 */
export async function markEngineDead(db: Database, params: { id: string; engineId: string | null; detail: string }): Promise<boolean> {
  const rows = await db
    .update(kernels)
    .set({ state: "dead", stateDetail: params.detail, endReason: "died", endedAt: new Date(), sealedLaunchState: null, sealedClientEnv: null })
    .where(and(eq(kernels.id, params.id), inArray(kernels.state, ["starting", "idle", "busy"]), sql`${kernels.engineId} is not distinct from ${params.engineId}`))
    .returning({ id: kernels.id });
  return rows.length > 0;
}

export async function touchKernelActivity(db: Database, id: string, at: Date) {
  await db
    .update(kernels)
    .set({ lastActivityAt: sql`greatest(${kernels.lastActivityAt}, ${at.toISOString()}::timestamptz)` })
    .where(eq(kernels.id, id));
}

/** This portal host is alive now (its row in portal_hosts, by the database's clock). */
export async function notePortalHostAlive(db: Database, name: string): Promise<void> {
  await db
    .insert(portalHosts)
    .values({ name, seenAt: sql`now()` })
    .onConflictDoUpdate({ target: portalHosts.name, set: { seenAt: sql`now()` } });
}

/**
 * Live kernels of portal hosts other than `except` that have not been heard from for `silentForMs` (or never), with
 * when each host was last heard from: their processes are presumed gone with their host.
 */
export async function kernelsOfSilentHosts(db: Database, params: { except: string; silentForMs: number }) {
  return db
    .select({ id: kernels.id, engineId: kernels.engineId, portalHost: kernels.portalHost, seenAt: portalHosts.seenAt })
    .from(kernels)
    .leftJoin(portalHosts, eq(portalHosts.name, kernels.portalHost))
    .where(
      and(
        isNotNull(kernels.portalHost),
        ne(kernels.portalHost, params.except),
        ne(kernels.state, "dead"),
        or(isNull(portalHosts.seenAt), lt(portalHosts.seenAt, sql`now() - ${sql.raw(`interval '${Math.round(params.silentForMs)} milliseconds'`)}`)),
      ),
    );
}

/** Names the portal host of a local kernel whose row names none yet (started before rows named their host). */
export async function claimKernelPortalHost(db: Database, id: string, host: string): Promise<void> {
  await db
    .update(kernels)
    .set({ portalHost: host })
    .where(and(eq(kernels.id, id), isNull(kernels.portalHost)));
}

/** Which of these kernels are still running (their rows not dead, and still there). */
export async function liveKernelIdsAmong(db: Database, ids: readonly string[]): Promise<string[]> {
  if (ids.length === 0) return [];
  const rows = await db
    .select({ id: kernels.id })
    .from(kernels)
    .where(and(inArray(kernels.id, [...ids]), ne(kernels.state, "dead")));
  return rows.map((r) => r.id);
}
