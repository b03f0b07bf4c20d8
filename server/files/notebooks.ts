// "New notebook": the first free Untitled name in a folder, written without overwrite so two clicks (or two
// tabs) at once get two notebooks, never one notebook written twice.
import type { HomeEntry, HomeStore } from "@/server/storage/home-store";
import { StorageError, isStorageError, joinPath } from "@/server/storage/paths";
import { emptyNotebookJson, untitledNotebookName } from "./notebook-template";

const MAX_ATTEMPTS = 10_000;

export async function createUntitledNotebook(store: HomeStore, dir: string): Promise<HomeEntry> {
  // Listing first finds the free name in one step; the exclusive write below settles any race.
  const taken = new Set((await store.list(dir)).map((entry) => entry.name));
  for (let n = 0; n < MAX_ATTEMPTS; n++) {
    const name = untitledNotebookName(n);
    if (taken.has(name)) continue;
    try {
      return await store.write(joinPath(dir, name), emptyNotebookJson());
    } catch (error) {
      if (isStorageError(error, "ALREADY_EXISTS")) continue;
      throw error;
    }
  }
  throw new StorageError("CONFLICT", `This folder already has ${MAX_ATTEMPTS} untitled notebooks. Rename some of them, or create the notebook in another folder.`, { path: dir });
}
