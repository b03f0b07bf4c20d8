// Saving what an editor holds over the file it was opened from. The store's write checks the mtime the editor
// last saw (CONFLICT when the file changed since, the file untouched); this says so in words the editor's user
// can act on. Notebooks (server/notebooks/service.ts) and text files (text-files.ts) save through it.
import { AppError } from "@/server/errors";
import type { HomeEntry, HomeStore, WriteData } from "@/server/storage/home-store";
import { isStorageError, parentPath } from "@/server/storage/paths";

export interface SaveOptions {
  /** The mtime the editor last saw; the write fails with CONFLICT if the file changed since. null: write as is. */
  expectedMtime: Date | null;
  /** Write even if the file changed on disk (the user chose Overwrite). */
  force?: boolean;
}

export async function writeChecked(store: HomeStore, file: string, data: WriteData, options: SaveOptions): Promise<HomeEntry> {
  // Forced: the user chose to put their version back (Overwrite, or Save here again after a move or delete).
  if (options.force) return writeMakingFolder(store, file, () => store.write(file, data, { overwrite: true }));
  if (!options.expectedMtime) return store.write(file, data, { overwrite: true });
  return store.write(file, data, { expectedMtime: options.expectedMtime }).catch((error: unknown) => {
    if (!isStorageError(error, "CONFLICT")) throw error;
    throw new AppError("CONFLICT", `"${file}" changed on disk since you opened it. Overwrite it with your version, or reload the file.`, { path: file });
  });
}

/**
 * Writes, and where the file's folder is gone (deleted or moved while the file was open), makes it again and writes
 * once more: the user's version is not lost for want of its folder (QA: Save here again and Save as a copy both
 * failed after the folder was deleted, leaving only "Reload and lose my changes").
 */
export async function writeMakingFolder<T>(store: HomeStore, file: string, write: () => Promise<T>): Promise<T> {
  try {
    return await write();
  } catch (error) {
    const folder = parentPath(file);
    if (!folder || !isStorageError(error, "NOT_FOUND")) throw error;
    await store.mkdir(folder, { parents: true });
    return write();
  }
}
