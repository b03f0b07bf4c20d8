// Renaming and deleting in a user's home, with what the database keeps by path: a notebook's kernel binding
// (notebook_kernels), its recorded runs (cell_runs.notebook_path) and its entry in the user's recent notebooks
// (recent_notebooks). Without this, a renamed notebook lost its kernel and outputs, and a new notebook created at
// the old path attached to the old, still-running kernel.
// The store acts first: the records follow only a move or delete that happened. A delete also stops the kernels of
// the notebooks it deletes, when given how.
import type { Database } from "@/db";
import { forgetNotebookRecords, liveKernelsOfNotebooksUnder, moveNotebookRecords } from "@/db/queries/notebooks";
import { log } from "@/server/log";
import { StorageError, isStorageError } from "@/server/storage/errors";
import type { HomeEntry, HomeStore } from "@/server/storage/home-store";
import { baseName } from "@/server/storage/paths";

export interface HomeOwner {
  db: Database;
  home: HomeStore;
  ownerId: string;
}

/** Moves a file or folder (paths already through homePath); the notebooks in it keep their kernels and runs. */
export async function renameInHome({ db, home, ownerId }: HomeOwner, from: string, to: string): Promise<HomeEntry> {
  const entry = await home.rename(from, to).catch((error: unknown) => {
    // A rename never replaces anything: the store's "or replace it explicitly" offers what no rename dialog has.
    if (isStorageError(error, "ALREADY_EXISTS")) {
      throw new StorageError("ALREADY_EXISTS", `"${baseName(to)}" already exists in that folder. Choose another name.`, { path: to, cause: error });
    }
    throw error;
  });
  await followUp(() => moveNotebookRecords(db, { ownerId, from, to: entry.path }), `moving user ${ownerId}'s records of "${from}" to "${entry.path}"`);
  return entry;
}

/** Stops a kernel, saying why (the kernel manager's stopKernel). */
export type StopKernel = (kernelId: string, reason: "stopped", detail: string) => Promise<void>;

/**
 * Deletes a file or folder; a notebook later created at the same path gets a new kernel and no old outputs. With
 * `stopKernel`, the kernels of the notebooks deleted are stopped with them (left running, they held quota for
 * notebooks that no longer exist, QA); returns how many were.
 */
export async function deleteFromHome(
  { db, home, ownerId }: HomeOwner,
  path: string,
  options: { recursive?: boolean; stopKernel?: StopKernel },
): Promise<{ stoppedKernels: number }> {
  // Looked up first: the delete's follow-up forgets which kernel each notebook had.
  const orphans = options.stopKernel ? await liveKernelsOfNotebooksUnder(db, { ownerId, path }) : [];
  await home.delete(path, options);
  await followUp(() => forgetNotebookRecords(db, { ownerId, path }), `forgetting user ${ownerId}'s records of "${path}"`);
  let stoppedKernels = 0;
  for (const { path: notebook, kernelId } of orphans) {
    // The files are gone already: a kernel that will not stop is logged, not reported as a failed delete.
    await followUp(async () => {
      await options.stopKernel!(kernelId, "stopped", `stopped because its notebook ${notebook} was deleted`);
      stoppedKernels++;
    }, `stopping kernel ${kernelId} of the deleted notebook "${notebook}"`);
  }
  return { stoppedKernels };
}

// The files have moved (or gone) already: failing the request now would tell the user it did not happen, and a
// retry would find nothing to move. Log it instead; the worst left behind is the old binding, as before this
// file existed.
async function followUp(update: () => Promise<void>, what: string): Promise<void> {
  try {
    await update();
  } catch (error) {
    log.error(`files: ${what} failed after the files changed`, error);
  }
}
