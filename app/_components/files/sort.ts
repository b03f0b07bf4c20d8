// Folders first, then by the chosen column; names compare as people expect (file2 before file10).
import type { FileEntry, Sort } from "./types";

const collator = new Intl.Collator(undefined, { numeric: true, sensitivity: "base" });

export function sortEntries(entries: readonly FileEntry[], sort: Sort): FileEntry[] {
  const sign = sort.direction === "ascending" ? 1 : -1;
  const byName = (a: FileEntry, b: FileEntry) => collator.compare(a.name, b.name) || (a.name < b.name ? -1 : a.name > b.name ? 1 : 0);
  const byKey =
    sort.key === "size"
      ? (a: FileEntry, b: FileEntry) => a.size - b.size || byName(a, b)
      : sort.key === "modified"
        ? (a: FileEntry, b: FileEntry) => a.mtime.getTime() - b.mtime.getTime() || byName(a, b)
        : byName;
  return [...entries].sort((a, b) => {
    if (a.type !== b.type) return a.type === "directory" ? -1 : 1;
    // Folder sizes mean nothing to a user; folders keep name order when sorting by size.
    if (sort.key === "size" && a.type === "directory") return byName(a, b);
    return sign * byKey(a, b);
  });
}
