// Saving a text file edited in the browser (the file viewer's editor). What the editor opens is the viewer's
// preview, whole: a text file no larger than PREVIEW_BYTES. A save is held to the same size, so a file saved
// here can always be opened here again, and to the mtime the editor last saw (save-checked.ts).
import { AppError } from "@/server/errors";
import { formatBytes } from "./format";
import { PREVIEW_BYTES } from "./file-kind";
import { toFileEntry, type FileEntry } from "./file-entry";
import { writeChecked, type SaveOptions } from "./save-checked";
import type { HomeStore } from "@/server/storage/home-store";
import { baseName } from "@/server/storage/paths";

/** The largest text file the editor opens and saves. */
export const EDITABLE_TEXT_BYTES = PREVIEW_BYTES;

export async function saveTextFile(store: HomeStore, path: string, text: string, options: SaveOptions): Promise<FileEntry> {
  if (path.toLowerCase().endsWith(".ipynb")) {
    throw new AppError("BAD_REQUEST", `"${baseName(path)}" is a notebook: open it as a notebook to change it.`, { path });
  }
  const bytes = Buffer.byteLength(text, "utf8");
  if (bytes > EDITABLE_TEXT_BYTES) {
    throw new AppError("BAD_REQUEST", `Not saved: the text is ${formatBytes(bytes)}, over the ${formatBytes(EDITABLE_TEXT_BYTES)} a file edited here may have. Upload larger files from Files instead.`, { path });
  }
  return toFileEntry(await writeChecked(store, path, text, options));
}
