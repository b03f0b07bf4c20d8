// Recently opened notebooks, kept in this browser (localStorage): the Notebooks page lists them.
const KEY = "atrium.recent-notebooks";
const MAX = 30;

export interface RecentNotebook {
  path: string;
  openedAt: string;
}

export function listRecent(): RecentNotebook[] {
  try {
    const value = JSON.parse(localStorage.getItem(KEY) ?? "[]") as unknown;
    return Array.isArray(value) ? value.filter((r): r is RecentNotebook => typeof r?.path === "string" && typeof r?.openedAt === "string") : [];
  } catch {
    return [];
  }
}

export function addRecent(path: string) {
  try {
    const rest = listRecent().filter((r) => r.path !== path);
    localStorage.setItem(KEY, JSON.stringify([{ path, openedAt: new Date().toISOString() }, ...rest].slice(0, MAX)));
  } catch {
    // storage unavailable: the list is a convenience
  }
}

export function removeRecent(path: string) {
  try {
    localStorage.setItem(KEY, JSON.stringify(listRecent().filter((r) => r.path !== path)));
  } catch {
    // as above
  }
}

/** The page address of a notebook: each path segment encoded, slashes kept. */
export const notebookHref = (path: string) => `/notebook/${path.split("/").map(encodeURIComponent).join("/")}`;
