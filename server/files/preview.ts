// What the file viewer (/view/<path>) shows of a file, decided where the bytes are: an image (drawn by the browser
// from the download route), a known binary format (not read at all), or the first PREVIEW_BYTES of anything else,
// read with readPrefix (never the whole file) and sniffed as text, CSV or TSV, or binary. An SVG comes as its
// text: the download route serves every file as opaque bytes, which an <img> will not draw as SVG.
import type { HomeStore } from "@/server/storage/home-store";
import { baseName, isStorageError } from "@/server/storage/paths";
import { toFileEntry, type FileEntry } from "./file-entry";
import { PREVIEW_BYTES, decodeTextPrefix, isSvg, kindByName } from "./file-kind";

export type FilePreview =
  | { kind: "directory"; entry: FileEntry }
  | { kind: "image"; entry: FileEntry; svg?: string }
  | { kind: "binary"; entry: FileEntry; reason?: string }
  | { kind: "text" | "csv" | "tsv"; entry: FileEntry; text: string; truncated: boolean; previewBytes: number };

/** The preview of `path` (already through homePath) in this home. */
export async function previewFile(home: HomeStore, path: string): Promise<FilePreview> {
  const byName = kindByName(baseName(path));
  if (byName === "binary" || (byName === "image" && !isSvg(path))) {
    // The name says enough; the browser fetches an image's bytes itself, from the download route.
    const entry = toFileEntry(await home.stat(path));
    return entry.type === "directory" ? { kind: "directory", entry } : { kind: byName, entry };
  }
  const prefix = await home.readPrefix(path, PREVIEW_BYTES).catch(async (error: unknown) => {
    if (isStorageError(error, "IS_A_DIRECTORY")) return toFileEntry(await home.stat(path));
    throw error;
  });
  if (!("bytes" in prefix)) return { kind: "directory", entry: prefix };
  const entry = toFileEntry(prefix.entry);
  const text = decodeTextPrefix(prefix.bytes, prefix.truncated);
  if (byName === "image") {
    if (text !== null && !prefix.truncated) return { kind: "image", entry, svg: text };
    return { kind: "binary", entry, reason: prefix.truncated ? "This SVG image is larger than 1 MiB, too large to show here." : undefined };
  }
  if (text === null) return { kind: "binary", entry };
  return { kind: byName, entry, text, truncated: prefix.truncated, previewBytes: prefix.bytes.length };
}
