// "New notebook": the first free Untitled name in a folder, written without overwrite so two clicks (or two
// tabs) at once get two notebooks, never one notebook written twice.
import type { HomeEntry, HomeStore } from "@/server/storage/home-store";
import { StorageError, isStorageError, joinPath } from "@/server/storage/paths";
import { emptyNotebookJson, freeUntitledNotebookName, MAX_UNTITLED_NAMES } from "./notebook-template";

export async function createUntitledNotebook(store: HomeStore, dir: string): Promise<HomeEntry> {
  // Listing first finds the free name in one step; the exclusive write below settles any race (a name taken
  // meanwhile counts as taken, and the next free one is tried).
  const taken = new Set((await store.list(dir)).map((entry) => entry.name));
  for (let name = freeUntitledNotebookName(taken); name !== null; name = freeUntitledNotebookName(taken)) {
    try {
      return await store.write(joinPath(dir, name), emptyNotebookJson());
    } catch (error) {
      if (!isStorageError(error, "ALREADY_EXISTS")) throw error;
      taken.add(name);
    }
  }
  throw new StorageError("CONFLICT", `This folder already has ${MAX_UNTITLED_NAMES} untitled notebooks. Rename some of them, or create the notebook in another folder.`, { path: dir });
}
