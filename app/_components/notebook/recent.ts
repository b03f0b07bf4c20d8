// Recently opened notebooks, kept in this browser (localStorage) per user: the Notebooks page lists them.
const keyOf = (userId: string) => `atrium.recent-notebooks:${userId}`;
/** The list as kept before it was per user (whoever's it was): dropped at sign-out. */
export const UNSCOPED_RECENT_KEY = "atrium.recent-notebooks";
const MAX = 30;

export interface RecentNotebook {
  path: string;
  openedAt: string;
}

export function listRecent(userId: string): RecentNotebook[] {
  try {
    const value = JSON.parse(localStorage.getItem(keyOf(userId)) ?? "[]") as unknown;
    return Array.isArray(value) ? value.filter((r): r is RecentNotebook => typeof r?.path === "string" && typeof r?.openedAt === "string") : [];
  } catch {
    return [];
  }
}

export function addRecent(userId: string, path: string) {
  try {
    const rest = listRecent(userId).filter((r) => r.path !== path);
    localStorage.setItem(keyOf(userId), JSON.stringify([{ path, openedAt: new Date().toISOString() }, ...rest].slice(0, MAX)));
  } catch {
    // storage unavailable: the list is a convenience
  }
}

export function removeRecent(userId: string, path: string) {
  try {
    localStorage.setItem(keyOf(userId), JSON.stringify(listRecent(userId).filter((r) => r.path !== path)));
  } catch {
    // as above
  }
}

/** The page address of a notebook: each path segment encoded, slashes kept. */
export const notebookHref = (path: string) => `/notebook/${path.split("/").map(encodeURIComponent).join("/")}`;
