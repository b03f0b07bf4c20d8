// Recorded cell runs, the kernel each notebook uses and the notebooks each user opened lately. Every read carries
// the owner.
import { and, asc, desc, eq, ne, not, notInArray, sql, type AnyColumn, type SQL } from "drizzle-orm";
import type { Database, Tx } from "../index";
import { cellRuns, kernels, notebookKernels, recentNotebooks } from "../schema";

export type CellRunRow = typeof cellRuns.$inferSelect;

/** A run's current state: the first write inserts it, later ones update it. */
export type CellRunSnapshot = Pick<
  CellRunRow,
  "msgId" | "kernelId" | "ownerId" | "notebookPath" | "cellId" | "code" | "status" | "executionCount" | "outputs" | "spilledBytes" | "clipped" | "startedAt" | "finishedAt" | "messagesSeen"
>;

/** Inserts or updates one run. */
export async function saveCellRun(db: Database, params: CellRunSnapshot) {
  await saveCellRuns(db, [params]);
}

/**
 * Inserts or updates many runs in one statement (the output recorder batches them: one write per interval,
 * however many cells ran). Each msg_id must appear once. The rows travel as one JSON parameter: on the embedded
 * database this statement is CPU on the portal's event loop, and one parameter costs half of what a VALUES list
 * of 13 parameters per row does (25 runs: ~2 ms against ~4 ms).
 */
export async function saveCellRuns(db: Database, runs: readonly CellRunSnapshot[]) {
  if (runs.length === 0) return;
  const rows = JSON.stringify(
    runs.map((r) => ({
      msg_id: r.msgId,
      kernel_id: r.kernelId,
      owner_id: r.ownerId,
      notebook_path: r.notebookPath,
      cell_id: r.cellId,
      code: r.code,
      status: r.status,
      execution_count: r.executionCount,
      outputs: r.outputs,
      spilled_bytes: r.spilledBytes,
      clipped: r.clipped,
      started_at: r.startedAt,
      finished_at: r.finishedAt,
      messages_seen: r.messagesSeen,
    })),
    wellFormed,
  );
  await db.execute(sql`
    insert into cell_runs (msg_id, kernel_id, owner_id, notebook_path, cell_id, code, status, execution_count, outputs, spilled_bytes, clipped, started_at, finished_at, messages_seen)
    select msg_id, kernel_id, owner_id, notebook_path, cell_id, code, status, execution_count, outputs, spilled_bytes, clipped, started_at, finished_at, messages_seen
    from jsonb_populate_recordset(null::cell_runs, ${rows}::jsonb)
    on conflict (msg_id) do update set
      status = excluded.status, execution_count = excluded.execution_count, outputs = excluded.outputs,
      spilled_bytes = excluded.spilled_bytes, clipped = excluded.clipped, finished_at = excluded.finished_at,
      messages_seen = excluded.messages_seen, updated_at = now()
    -- msg_id is the client's choice: a run never takes over another user's row that happens to share it. A write
    -- that saw fewer of the run's messages (another replica's, which took the kernel up late) does not replace one
    -- that saw more while the run goes on; but the first write that ends it does (the replica that saw more may
    -- be gone, as in a rolling deploy: the run must not stay "running", and its end is what the user needs).
    where cell_runs.owner_id = excluded.owner_id
      and (cell_runs.messages_seen <= excluded.messages_seen or (cell_runs.status = 'running' and excluded.status <> 'running'))`);
}

/**
 * A lone UTF-16 surrogate (a cut through a pair, or a kernel's invalid text) would be written as a `\udXXX` escape,
 * which Postgres refuses in JSON, failing the whole batch: it becomes U+FFFD, as a text parameter's would.
 */
const wellFormed = (_key: string, value: unknown) => (typeof value === "string" && !value.isWellFormed() ? value.toWellFormed() : value);

/** A kernel's runs still going when a portal stopped (a restarted portal takes their recording up again). */
export async function runningCellRunsOfKernel(db: Database, kernelId: string): Promise<CellRunRow[]> {
  return db
    .select()
    .from(cellRuns)
    .where(and(eq(cellRuns.kernelId, kernelId), eq(cellRuns.status, "running")));
}

/** Runs a dead or restarted kernel left unfinished. */
export async function abortRunningCellRuns(db: Database, kernelId: string) {
  await db
    .update(cellRuns)
    .set({ status: "aborted", finishedAt: new Date(), updatedAt: new Date() })
    .where(and(eq(cellRuns.kernelId, kernelId), eq(cellRuns.status, "running")));
}

/** The latest run of each cell of one notebook of one user. */
export async function latestRunsOfNotebook(db: Database, params: { ownerId: string; path: string }): Promise<CellRunRow[]> {
  return db
    .selectDistinctOn([cellRuns.cellId])
    .from(cellRuns)
    .where(and(eq(cellRuns.ownerId, params.ownerId), eq(cellRuns.notebookPath, params.path)))
    .orderBy(cellRuns.cellId, desc(cellRuns.startedAt));
}

export async function findCellRun(db: Database, params: { ownerId: string; msgId: string }) {
  const [row] = await db
    .select()
    .from(cellRuns)
    .where(and(eq(cellRuns.ownerId, params.ownerId), eq(cellRuns.msgId, params.msgId)))
    .limit(1);
  return row;
}

export async function bindNotebookKernel(db: Database, params: { ownerId: string; path: string; kernelId: string }) {
  await db
    .insert(notebookKernels)
    .values(params)
    .onConflictDoUpdate({ target: [notebookKernels.ownerId, notebookKernels.path], set: { kernelId: params.kernelId, updatedAt: new Date() } });
}

/** The live kernel bound to a notebook, if it is still alive and still the user's. */
export async function liveKernelOfNotebook(db: Database, params: { ownerId: string; path: string }): Promise<string | null> {
  const [row] = await db
    .select({ kernelId: notebookKernels.kernelId })
    .from(notebookKernels)
    .innerJoin(kernels, eq(kernels.id, notebookKernels.kernelId))
    .where(and(eq(notebookKernels.ownerId, params.ownerId), eq(notebookKernels.path, params.path), eq(kernels.ownerId, params.ownerId), ne(kernels.state, "dead")))
    .limit(1);
  return row?.kernelId ?? null;
}

/** The path itself or, when it is a folder, anything inside it. starts_with, not LIKE: '%' and '_' are valid in names. */
const atOrUnder = (column: AnyColumn, path: string): SQL => sql`(${column} = ${path} or starts_with(${column}, ${`${path}/`}))`;

/** `column` with its leading `from` replaced by `to` (only for rows where atOrUnder(column, from) holds). */
const movedPath = (column: AnyColumn, from: string, to: string): SQL => sql`${to} || substr(${column}, char_length(${from}) + 1)`;

/**
 * After a file or folder moved from `from` to `to` in the user's home: the notebooks in it keep their kernels,
 * their recorded runs and their place (and last-opened time) in the user's recent notebooks, all keyed by path.
 * Whatever was still recorded at the destination belonged to a file that is gone: its kernel binding and recent
 * entry are dropped and its runs detached, so the moved notebook never picks them up.
 */
export async function moveNotebookRecords(db: Database, params: { ownerId: string; from: string; to: string }) {
  const { ownerId, from, to } = params;
  if (from === to) return;
  await db.transaction(async (tx: Tx) => {
    const staleAtDestination = (column: AnyColumn) => and(atOrUnder(column, to), not(atOrUnder(column, from)));
    await tx.delete(notebookKernels).where(and(eq(notebookKernels.ownerId, ownerId), staleAtDestination(notebookKernels.path)));
    await tx.delete(recentNotebooks).where(and(eq(recentNotebooks.ownerId, ownerId), staleAtDestination(recentNotebooks.path)));
    await tx
      .update(cellRuns)
      .set({ notebookPath: null })
      .where(and(eq(cellRuns.ownerId, ownerId), staleAtDestination(cellRuns.notebookPath)));
    await tx
      .update(notebookKernels)
      .set({ path: movedPath(notebookKernels.path, from, to), updatedAt: new Date() })
      .where(and(eq(notebookKernels.ownerId, ownerId), atOrUnder(notebookKernels.path, from)));
    await tx
      .update(recentNotebooks)
      .set({ path: movedPath(recentNotebooks.path, from, to) })
      .where(and(eq(recentNotebooks.ownerId, ownerId), atOrUnder(recentNotebooks.path, from)));
    await tx
      .update(cellRuns)
      .set({ notebookPath: movedPath(cellRuns.notebookPath, from, to) })
      .where(and(eq(cellRuns.ownerId, ownerId), atOrUnder(cellRuns.notebookPath, from)));
  });
}

/** The live kernels of the user's notebooks at `path` or inside it (what deleting it leaves without a notebook). */
export async function liveKernelsOfNotebooksUnder(db: Database, params: { ownerId: string; path: string }): Promise<{ path: string; kernelId: string }[]> {
  return db
    .select({ path: notebookKernels.path, kernelId: notebookKernels.kernelId })
    .from(notebookKernels)
    .innerJoin(kernels, eq(kernels.id, notebookKernels.kernelId))
    .where(and(eq(notebookKernels.ownerId, params.ownerId), atOrUnder(notebookKernels.path, params.path), eq(kernels.ownerId, params.ownerId), ne(kernels.state, "dead")))
    .orderBy(asc(notebookKernels.path));
}

/**
 * After a file or folder was deleted from the user's home: a notebook created later at the same path starts
 * afresh. Its kernel binding and its recent entry are dropped (the kernel itself keeps running until stopped or
 * culled), and its runs
 * are detached from the path rather than deleted, so a full output still open in a tab (found by msg_id) and
 * its spill file stay reachable.
 */
export async function forgetNotebookRecords(db: Database, params: { ownerId: string; path: string }) {
  const { ownerId, path } = params;
  await db.transaction(async (tx: Tx) => {
    await tx.delete(notebookKernels).where(and(eq(notebookKernels.ownerId, ownerId), atOrUnder(notebookKernels.path, path)));
    await tx.delete(recentNotebooks).where(and(eq(recentNotebooks.ownerId, ownerId), atOrUnder(recentNotebooks.path, path)));
    await tx
      .update(cellRuns)
      .set({ notebookPath: null })
      .where(and(eq(cellRuns.ownerId, ownerId), atOrUnder(cellRuns.notebookPath, path)));
  });
}

/** How many recent notebooks are kept per user: each new entry past this drops the least recently opened. */
export const RECENT_NOTEBOOKS_KEPT = 50;

export type RecentNotebookRow = Pick<typeof recentNotebooks.$inferSelect, "path" | "openedAt">;

/** The user opened the notebook at `path` (home-relative, normalized) just now: it goes to the top of their list. */
export async function recordNotebookOpened(db: Database, params: { ownerId: string; path: string }) {
  await db.transaction(async (tx: Tx) => {
    // The database's clock, not this replica's: two portals behind one balancer order one user's opens alike. And
    // after the user's latest open, always: a clock as coarse as a millisecond (PGlite's) gave two quick opens the
    // same time, and the later one could list below the earlier (CI).
    const openedAt = sql`greatest(now(), (select max(${recentNotebooks.openedAt}) + interval '1 microsecond' from ${recentNotebooks} where ${recentNotebooks.ownerId} = ${params.ownerId}))`;
    await tx
      .insert(recentNotebooks)
      .values({ ownerId: params.ownerId, path: params.path, openedAt })
      .onConflictDoUpdate({ target: [recentNotebooks.ownerId, recentNotebooks.path], set: { openedAt } });
    await keepNewest(tx, params.ownerId);
  });
}

/**
 * Entries a browser kept before the list moved to the server (one import per browser, on upgrade). An entry the
 * account already has keeps the later of the two times, so importing never pushes a notebook down the list.
 * Paths must be home-relative and normalized, and times not in the future (the caller checks both).
 */
export async function importRecentNotebooks(db: Database, params: { ownerId: string; entries: readonly RecentNotebookRow[] }) {
  // One row per path (ON CONFLICT may not touch a row twice in one statement): the latest time of each.
  const latest = new Map<string, Date>();
  for (const { path, openedAt } of params.entries) {
    const seen = latest.get(path);
    if (!seen || seen < openedAt) latest.set(path, openedAt);
  }
  if (latest.size === 0) return;
  await db.transaction(async (tx: Tx) => {
    await tx
      .insert(recentNotebooks)
      .values([...latest].map(([path, openedAt]) => ({ ownerId: params.ownerId, path, openedAt })))
      .onConflictDoUpdate({
        target: [recentNotebooks.ownerId, recentNotebooks.path],
        set: { openedAt: sql`greatest(${recentNotebooks.openedAt}, excluded.opened_at)` },
      });
    await keepNewest(tx, params.ownerId);
  });
}

/** The user's recent notebooks, most recently opened first. */
export async function recentNotebooksOf(db: Database, params: { ownerId: string }): Promise<RecentNotebookRow[]> {
  return db
    .select({ path: recentNotebooks.path, openedAt: recentNotebooks.openedAt })
    .from(recentNotebooks)
    .where(eq(recentNotebooks.ownerId, params.ownerId))
    .orderBy(desc(recentNotebooks.openedAt), asc(recentNotebooks.path))
    .limit(RECENT_NOTEBOOKS_KEPT);
}

/** One entry off the user's list (the file itself is untouched). */
export async function forgetRecentNotebook(db: Database, params: { ownerId: string; path: string }) {
  await db.delete(recentNotebooks).where(and(eq(recentNotebooks.ownerId, params.ownerId), eq(recentNotebooks.path, params.path)));
}

async function keepNewest(tx: Tx, ownerId: string) {
  const kept = tx
    .select({ path: recentNotebooks.path })
    .from(recentNotebooks)
    .where(eq(recentNotebooks.ownerId, ownerId))
    .orderBy(desc(recentNotebooks.openedAt), asc(recentNotebooks.path))
    .limit(RECENT_NOTEBOOKS_KEPT);
  await tx.delete(recentNotebooks).where(and(eq(recentNotebooks.ownerId, ownerId), notInArray(recentNotebooks.path, kept)));
}
