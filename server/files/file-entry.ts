// What the browser sees of a file or folder in a home (no host details such as permission bits).
import type { HomeEntry } from "@/server/storage/home-store";

export interface FileEntry {
  name: string;
  path: string;
  type: "file" | "directory";
  size: number;
  mtime: Date;
}

export const toFileEntry = (entry: HomeEntry): FileEntry => ({ name: entry.name, path: entry.path, type: entry.type, size: entry.size, mtime: entry.mtime });
