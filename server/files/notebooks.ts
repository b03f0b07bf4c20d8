// "New notebook": the first free Untitled name in a folder, written without overwrite so two clicks (or two
// tabs) at once get two notebooks, never one notebook written twice.
import { writeUnderFreeName, type HomeEntry, type HomeStore } from "@/server/storage/home-store";
import { StorageError, joinPath } from "@/server/storage/paths";
import { emptyNotebook, formatNotebook, type NotebookKernelspec } from "@/server/notebooks/nbformat";
import { MAX_UNTITLED_NAMES, untitledNotebookName } from "./notebook-template";

export async function createUntitledNotebook(store: HomeStore, dir: string, kernelspec?: NotebookKernelspec): Promise<HomeEntry> {
  // Listing first finds the free name in one step; the exclusive write below settles any race (a name taken
  // meanwhile counts as taken, and the next free one is tried).
  const taken = new Set((await store.list(dir)).map((entry) => entry.name));
  function* untitledPaths() {
    for (let n = 0; n < MAX_UNTITLED_NAMES; n++) {
      const name = untitledNotebookName(n);
      if (!taken.has(name)) yield joinPath(dir, name);
    }
  }
  const written = await writeUnderFreeName(store, untitledPaths(), formatNotebook(emptyNotebook(kernelspec)));
  if (written) return written;
  throw new StorageError("CONFLICT", `This folder already has ${MAX_UNTITLED_NAMES} untitled notebooks. Rename some of them, or create the notebook in another folder.`, { path: dir });
}
