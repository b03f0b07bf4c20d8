// Opening, creating and saving notebooks in a user's home store. The store makes each write atomic and
// checks the caller's expected mtime (CONFLICT when the file changed since it was read); this module adds the
// notebook rules: only .ipynb files, valid nbformat 4 in and out, written the way Jupyter writes them.
import { AppError } from "@/server/errors";
import { writeChecked, writeMakingFolder, type SaveOptions } from "@/server/files/save-checked";
import { writeUnderFreeName, type HomeStore } from "@/server/storage/home-store";
import { emptyNotebook, formatNotebook, parseNotebook, type Notebook, type NotebookKernelspec } from "./nbformat";

/**
 * Notebooks are read whole; anything bigger is refused with a message rather than freezing the page. Saving
 * checks the same limit, so no save can leave a notebook that cannot be opened again.
 */
export const MAX_NOTEBOOK_BYTES = 64 * 1024 * 1024;

export interface OpenedNotebook {
  notebook: Notebook;
  mtime: Date;
  /** Something the user should know about the file as opened (an older format, upgraded). */
  notice?: string;
}

export function checkNotebookPath(path: string): string {
  const trimmed = path.replace(/^\/+/, "");
  if (!trimmed.toLowerCase().endsWith(".ipynb")) {
    throw new AppError("BAD_REQUEST", `"${trimmed.slice(0, 120)}" is not a notebook: notebook files end in .ipynb.`);
  }
  return trimmed;
}

export async function openNotebook(store: HomeStore, path: string): Promise<OpenedNotebook> {
  const file = checkNotebookPath(path);
  const entry = await store.stat(file);
  const text = await store.readText(file, { maxBytes: MAX_NOTEBOOK_BYTES });
  const parsed = parseNotebook(text);
  if (!parsed.ok) throw new AppError("BAD_REQUEST", `${parsed.problem} Download it from Files to repair it in a text editor, then upload it again.`, { path: file });
  // stat before read: if the file changes in between, the older mtime makes the next save a CONFLICT, never
  // a silent overwrite.
  if (parsed.upgradedFrom) {
    const notice = `${file} was written in an older notebook format (version ${parsed.upgradedFrom}). It is shown, and will be saved, in the current one (version 4), which tools from before 2015 cannot open.`;
    return { notebook: parsed.notebook, mtime: entry.mtime, notice };
  }
  return { notebook: parsed.notebook, mtime: entry.mtime };
}

export async function saveNotebook(store: HomeStore, path: string, notebook: unknown, options: SaveOptions): Promise<{ mtime: Date }> {
  const file = checkNotebookPath(path);
  const parsed = parseNotebook(notebook);
  if (!parsed.ok) throw new AppError("BAD_REQUEST", `Not saved: ${parsed.problem}`);
  const text = formatNotebook(parsed.notebook);
  refuseTooLargeToOpen(file, Buffer.byteLength(text, "utf8"));
  const written = await writeChecked(store, file, text, options);
  return { mtime: written.mtime };
}

/** How many "-CopyN" names are tried before a copy gives up (a folder holding them all is a mistake to report). */
const MAX_COPY_NAMES = 100;

/**
 * Writes `notebook` as a new file beside `path`, named as Jupyter names duplicates (report-Copy1.ipynb, then
 * Copy2, ...), never over an existing file: what "Save my version as a copy" keeps when the original changed on
 * disk. Returns the copy's path.
 */
export async function saveNotebookCopy(store: HomeStore, path: string, notebook: unknown): Promise<{ path: string; mtime: Date }> {
  const file = checkNotebookPath(path);
  const parsed = parseNotebook(notebook);
  if (!parsed.ok) throw new AppError("BAD_REQUEST", `Not saved: ${parsed.problem}`);
  const text = formatNotebook(parsed.notebook);
  const stem = file.slice(0, -".ipynb".length);
  const copyName = (n: number) => `${stem}-Copy${n}.ipynb`;
  refuseTooLargeToOpen(copyName(1), Buffer.byteLength(text, "utf8"));
  const copies = Array.from({ length: MAX_COPY_NAMES }, (_, i) => copyName(i + 1));
  const written = await writeMakingFolder(store, file, () => writeUnderFreeName(store, copies, text));
  if (written) return { path: written.path, mtime: written.mtime };
  throw new AppError("CONFLICT", `Not saved: "${stem}-Copy1.ipynb" to "${stem}-Copy${MAX_COPY_NAMES}.ipynb" all exist. Delete or rename some of them, then try again.`, { path: file });
}

/** Creates a new, empty notebook; ALREADY_EXISTS when the path is taken. */
export async function createNotebook(store: HomeStore, path: string, kernelspec?: NotebookKernelspec): Promise<OpenedNotebook> {
  const file = checkNotebookPath(path);
  const notebook = emptyNotebook(kernelspec);
  const written = await store.write(file, formatNotebook(notebook));
  return { notebook, mtime: written.mtime };
}

/** A save past MAX_NOTEBOOK_BYTES would succeed, and the next open would refuse the file: refuse the save instead. */
function refuseTooLargeToOpen(file: string, bytes: number): void {
  if (bytes <= MAX_NOTEBOOK_BYTES) return;
  // Rounded up, so a notebook just over the limit never reads as "64 MiB, over the 64 MiB limit".
  const mib = (n: number) => `${Math.ceil((n / (1024 * 1024)) * 10) / 10} MiB`;
  throw new AppError(
    "BAD_REQUEST",
    `Not saved: "${file}" would be ${mib(bytes)}, over the ${mib(MAX_NOTEBOOK_BYTES)} limit for a notebook, and could not be opened again. ` +
      "Clear some outputs (long logs, many plots) and save again.",
    { path: file, bytes, maxBytes: MAX_NOTEBOOK_BYTES },
  );
}

