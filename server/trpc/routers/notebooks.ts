// notebooks.open / save / saveCopy / create: thin procedures over server/notebooks/service.ts; recent /
// importRecent / forgetRecent: the user's recently opened notebooks (the Notebooks page), which `open` records.
// The durable-output procedures (runs, kernelFor, bindKernel) live in notebook-runs.ts; both sets form the
// `notebooks` router.
import { z } from "zod";
import type { Database } from "@/db";
import { forgetRecentNotebook, importRecentNotebooks, recentNotebooksOf, recordNotebookOpened, RECENT_NOTEBOOKS_KEPT, type RecentNotebookRow } from "@/db/queries/notebooks";
import { homePath } from "@/server/files/home-path";
import { log } from "@/server/log";
import { checkNotebookPath, createNotebook, openNotebook, saveNotebook, saveNotebookCopy } from "@/server/notebooks/service";
import { isStorageError } from "@/server/storage/errors";
import type { HomeStore } from "@/server/storage/home-store";
import { protectedProcedure, router } from "../init";
import { notebookRunProcedures } from "./notebook-runs";

// Never trimmed: " report.ipynb" is a valid name and another file than "report.ipynb". Paths go through
// homePath() as in the files procedures (absolute paths refused), then the store's own rules.
const path = z.string().min(1).max(4096);

export const notebookProcedures = {
  /**
   * The notebook at a home-relative path, validated and normalized, with the mtime to save against. Opening it
   * puts it at the top of the user's recent notebooks, here rather than in the page, so every client that opens
   * it counts and no browser can record a notebook that did not open.
   */
  open: protectedProcedure.input(z.object({ path })).query(async ({ ctx, input }) => {
    const store = await ctx.services.homes.forUser(ctx.user);
    const file = homePath(input.path);
    const opened = await openNotebook(store, file);
    await recordOpened(ctx.services.db, ctx.user.id, checkNotebookPath(file));
    return opened;
  }),
  /** The user's recently opened notebooks, newest first, each marked `missing` when its file is gone. */
  recent: protectedProcedure.query(async ({ ctx }) => {
    const rows = await recentNotebooksOf(ctx.services.db, { ownerId: ctx.user.id });
    const store = await ctx.services.homes.forUser(ctx.user).catch(() => null);
    return markMissing(store, rows);
  }),
  /**
   * The list a browser kept before it moved to the server, sent once by that browser. Malformed entries (it was
   * localStorage: anything may be in it) are skipped rather than failing the rest.
   */
  importRecent: protectedProcedure
    .input(z.object({ entries: z.array(z.object({ path: z.string().max(4096), openedAt: z.string().max(64) })).max(200) }))
    .mutation(async ({ ctx, input }) => {
      await importRecentNotebooks(ctx.services.db, { ownerId: ctx.user.id, entries: importable(input.entries, new Date()) });
    }),
  /** Takes one notebook off the user's list; the file stays. */
  forgetRecent: protectedProcedure.input(z.object({ path })).mutation(async ({ ctx, input }) => {
    await forgetRecentNotebook(ctx.services.db, { ownerId: ctx.user.id, path: homePath(input.path) });
  }),
  /** Saves atomically; CONFLICT when the file changed since `expectedMtime`, unless `force`. */
  save: protectedProcedure
    .input(z.object({ path, notebook: z.unknown(), expectedMtime: z.date().nullable(), force: z.boolean().optional() }))
    .mutation(async ({ ctx, input }) => {
      const store = await ctx.services.homes.forUser(ctx.user);
      return saveNotebook(store, homePath(input.path), input.notebook, { expectedMtime: input.expectedMtime, force: input.force });
    }),
  /** The notebook written as a new file beside `path` (name-CopyN.ipynb), never over an existing one. */
  saveCopy: protectedProcedure.input(z.object({ path, notebook: z.unknown() })).mutation(async ({ ctx, input }) => {
    const store = await ctx.services.homes.forUser(ctx.user);
    return saveNotebookCopy(store, homePath(input.path), input.notebook);
  }),
  /** A new notebook with one empty code cell; ALREADY_EXISTS when the path is taken. */
  create: protectedProcedure
    .input(z.object({ path, kernelspec: z.object({ name: z.string().max(200), display_name: z.string().max(200) }).optional() }))
    .mutation(async ({ ctx, input }) => {
      const store = await ctx.services.homes.forUser(ctx.user);
      // Recorded at once (the portal's default unless one is asked for), so that opening it writes nothing more.
      return createNotebook(store, homePath(input.path), input.kernelspec ?? ctx.services.kernels.notebookKernelspec());
    }),
};

// The list is a convenience: a notebook that opened is shown even when recording it failed.
async function recordOpened(db: Database, ownerId: string, path: string) {
  try {
    await recordNotebookOpened(db, { ownerId, path });
  } catch (error) {
    log.error(`notebooks: recording that user ${ownerId} opened "${path}" failed`, error);
  }
}

/**
 * A notebook whose file is gone is still listed, marked missing, until the user removes it: renames and deletes
 * made in Atrium already move or drop entries (server/files/moves.ts), so this is a file changed behind Atrium's
 * back (from a kernel, a terminal, a sync), and it may come back (moved back, a branch checked out again). Dropping
 * it silently would also lose entries whenever storage answers "not found" for a moment. Only a definite answer
 * marks an entry: when the home can't be asked (WebHDFS down), entries are listed as they are and opening one says
 * what is wrong. At most RECENT_NOTEBOOKS_KEPT stats, a few at a time.
 */
async function markMissing(store: HomeStore | null, rows: RecentNotebookRow[]) {
  const gone = async (path: string) => {
    if (!store) return false;
    try {
      return (await store.stat(path)).type !== "file";
    } catch (error) {
      return isStorageError(error, "NOT_FOUND") || isStorageError(error, "NOT_A_DIRECTORY");
    }
  };
  const out: (RecentNotebookRow & { missing: boolean })[] = [];
  for (let i = 0; i < rows.length; i += STATS_AT_ONCE) {
    const batch = rows.slice(i, i + STATS_AT_ONCE);
    out.push(...(await Promise.all(batch.map(async (row) => ({ ...row, missing: await gone(row.path) })))));
  }
  return out;
}
const STATS_AT_ONCE = 8;

/** The entries of a browser's old list that name a notebook in the home at a real time (a future one is now). */
export function importable(entries: readonly { path: string; openedAt: string }[], now: Date): RecentNotebookRow[] {
  const out: RecentNotebookRow[] = [];
  for (const entry of entries.slice(0, RECENT_NOTEBOOKS_KEPT * 2)) {
    const openedAt = new Date(entry.openedAt);
    if (Number.isNaN(openedAt.getTime())) continue;
    try {
      out.push({ path: checkNotebookPath(homePath(entry.path)), openedAt: openedAt > now ? now : openedAt });
    } catch {
      // not a path in the home, or not a notebook
    }
  }
  return out;
}

export const notebooksRouter = router({ ...notebookProcedures, ...notebookRunProcedures });
