// Saving what an editor holds over the file it was opened from. The store's write checks the mtime the editor
// last saw (CONFLICT when the file changed since, the file untouched); this says so in words the editor's user
// can act on. Notebooks (server/notebooks/service.ts) and text files (text-files.ts) save through it.
import { AppError } from "@/server/errors";
import type { HomeEntry, HomeStore, WriteData } from "@/server/storage/home-store";
import { isStorageError } from "@/server/storage/paths";

export interface SaveOptions {
  /** The mtime the editor last saw; the write fails with CONFLICT if the file changed since. null: write as is. */
  expectedMtime: Date | null;
  /** Write even if the file changed on disk (the user chose Overwrite). */
  force?: boolean;
}

export async function writeChecked(store: HomeStore, file: string, data: WriteData, options: SaveOptions): Promise<HomeEntry> {
  if (options.force || !options.expectedMtime) return store.write(file, data, { overwrite: true });
  return store.write(file, data, { expectedMtime: options.expectedMtime }).catch((error: unknown) => {
    if (!isStorageError(error, "CONFLICT")) throw error;
    throw new AppError("CONFLICT", `"${file}" changed on disk since you opened it. Overwrite it with your version, or reload the file.`, { path: file });
  });
}
