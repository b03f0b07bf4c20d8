// Home paths on the client: how they become URLs. The server owns the rules (server/files/home-path.ts);
// these only build what the Files page links to, from paths the server already normalized.
import { FILE_CONTENT_PREFIX } from "@/server/files/limits";

/** Each segment percent-encoded, '/' kept between them. */
export function encodePath(path: string): string {
  return path === "" ? "" : path.split("/").map(encodeURIComponent).join("/");
}

export function joinPath(dir: string, name: string): string {
  return dir === "" ? name : `${dir}/${name}`;
}

export function folderHref(path: string): string {
  return path === "" ? "/files" : `/files/${encodePath(path)}`;
}

export function notebookHref(path: string): string {
  return `/notebook/${encodePath(path)}`;
}

/** A non-notebook file's read-only viewer. */
export function viewHref(path: string): string {
  return `/view/${encodePath(path)}`;
}

/** Whether a name holds a separator: "/", or "\\", which the server reads as one too (so "..\\x" is no way out). */
export function hasSeparator(name: string): boolean {
  return /[/\\]/.test(name);
}

/** Why `name` cannot be one file's name in a folder, in the words a dialog shows; null when it can. */
export function nameProblem(name: string): string | null {
  if (name === "") return "Enter a name.";
  if (hasSeparator(name)) return 'A name cannot contain "/" or "\\". Choose a name without them.';
  if (name === "." || name === "..") return `"${name}" is not a usable name. Choose another.`;
  return null;
}

/** Home, then each folder down to `path`, each with its own path: what a breadcrumb trail shows. */
export function crumbsOf(path: string): { label: string; path: string }[] {
  const segments = path === "" ? [] : path.split("/");
  return [{ label: "Home", path: "" }, ...segments.map((name, i) => ({ label: name, path: segments.slice(0, i + 1).join("/") }))];
}

/** The folder a file is in ('' for the home folder). */
export function parentOf(path: string): string {
  const slash = path.lastIndexOf("/");
  return slash === -1 ? "" : path.slice(0, slash);
}

/** A file's time as every files-related page writes it ("Dec 2, 2026, 3:52 PM"). */
export const fileTimeFormat = new Intl.DateTimeFormat(undefined, { dateStyle: "medium", timeStyle: "short" });
const clockFormat = new Intl.DateTimeFormat(undefined, { timeStyle: "short" });

/** "12:04" today, else "Dec 1, 2026, 12:04": when a file was last written, as a footer says it. */
export function shortFileTime(when: Date, now = new Date()): string {
  return when.toDateString() === now.toDateString() ? clockFormat.format(when) : fileTimeFormat.format(when);
}

export function contentUrl(path: string, options: { overwrite?: boolean } = {}): string {
  return `${FILE_CONTENT_PREFIX}${encodePath(path)}${options.overwrite ? "?overwrite=1" : ""}`;
}

export function isNotebook(name: string): boolean {
  return name.toLowerCase().endsWith(".ipynb");
}
