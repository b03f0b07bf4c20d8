// Which viewer a file gets: decided by its name where the name is enough (images, well-known binary formats),
// else by its first bytes (a NUL, or bytes that are not UTF-8, mean binary). Pure; the files.preview procedure
// uses it on the bytes it read, the viewer page on the name. Change the lists here with file-kind.test.ts.

/** How much of a text file the viewer reads and shows. */
export const PREVIEW_BYTES = 1024 * 1024;
/** How many data rows of a CSV/TSV file the table shows. */
export const TABLE_ROWS = 1000;

/** Shown with <img>; everything else is read and sniffed. */
const IMAGES = new Set(["png", "jpg", "jpeg", "gif", "webp", "svg"]);
/** Known not to be text: not worth reading a MiB to find out. */
const BINARIES = new Set([
  "7z", "arrow", "avro", "bin", "bmp", "bz2", "class", "db", "dll", "docx", "exe", "feather", "gz", "h5", "hdf5", "ico",
  "jar", "mov", "mp3", "mp4", "npy", "npz", "orc", "parquet", "pdf", "pickle", "pkl", "pptx", "so", "sqlite", "tar",
  "tgz", "tif", "tiff", "wav", "whl", "xls", "xlsx", "xz", "zip",
]);

/** What the name alone says: an image, a known binary format, a table, or something to sniff as text. */
export type NameKind = "image" | "binary" | "csv" | "tsv" | "text";

export function extensionOf(name: string): string {
  const dot = name.lastIndexOf(".");
  return dot <= 0 ? "" : name.slice(dot + 1).toLowerCase();
}

export function kindByName(name: string): NameKind {
  const extension = extensionOf(name);
  if (IMAGES.has(extension)) return "image";
  if (BINARIES.has(extension)) return "binary";
  if (extension === "csv") return "csv";
  if (extension === "tsv" || extension === "tab") return "tsv";
  return "text";
}

export function isSvg(name: string): boolean {
  return extensionOf(name) === "svg";
}

/**
 * The text of a file's first bytes, or null when they are not text: a NUL byte, or bytes that are not UTF-8.
 * `cut`: the bytes are a prefix of a longer file, so a character split at the end is dropped rather than
 * counted as invalid. A byte-order mark is dropped.
 */
export function decodeTextPrefix(bytes: Uint8Array, cut: boolean): string | null {
  if (bytes.includes(0)) return null;
  const end = cut ? completeLength(bytes) : bytes.length;
  try {
    return new TextDecoder("utf-8", { fatal: true }).decode(bytes.subarray(0, end));
  } catch {
    return null;
  }
}

/** The length of `bytes` without a UTF-8 sequence started at the end but not finished. */
function completeLength(bytes: Uint8Array): number {
  // A sequence is at most 4 bytes: look back past at most 3 continuation bytes (10xxxxxx) for its lead byte.
  let start = bytes.length;
  while (start > 0 && bytes.length - start < 3 && ((bytes[start - 1] ?? 0) & 0xc0) === 0x80) start--;
  if (start === 0) return bytes.length;
  const lead = bytes[start - 1] ?? 0;
  const needed = lead >= 0xf0 ? 4 : lead >= 0xe0 ? 3 : lead >= 0xc0 ? 2 : 1;
  const have = bytes.length - (start - 1);
  return have < needed ? start - 1 : bytes.length;
}
