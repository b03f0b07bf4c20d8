// The names "New notebook" tries in turn (Untitled.ipynb, Untitled1.ipynb, ...), as JupyterLab does. Pure: the
// Files page's New notebook (server/files/notebooks.ts) and the Notebooks page's name field (in the browser) pick
// names with the same code. What is written is server/notebooks/nbformat.ts's emptyNotebook.

/** The n-th name to try: 0 → Untitled.ipynb, 1 → Untitled1.ipynb, ... */
export function untitledNotebookName(n: number): string {
  return n === 0 ? "Untitled.ipynb" : `Untitled${n}.ipynb`;
}

/** How many names of the series are tried before a folder counts as full of untitled notebooks. */
export const MAX_UNTITLED_NAMES = 10_000;

/** The first name of the series that `taken` (the folder's entry names) does not hold; null if all of them are taken. */
export function freeUntitledNotebookName(taken: ReadonlySet<string>): string | null {
  for (let n = 0; n < MAX_UNTITLED_NAMES; n++) {
    const name = untitledNotebookName(n);
    if (!taken.has(name)) return name;
  }
  return null;
}
