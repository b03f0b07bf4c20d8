// Recently opened notebooks are kept per account on the server: notebooks.open records each one, the Notebooks
// page lists them (notebooks.recent). Until then each browser kept its own list in localStorage, under
// `atrium.recent-notebooks:<user id>`; importBrowserRecents hands that list to the account once and removes it, so
// nobody's list empties on upgrade. Delete the import when no browser can still hold such a list.
import { createTRPCClient, httpLink } from "@trpc/client";
import superjson from "superjson";
import type { AppRouter } from "@/server/trpc/root";

const keyOf = (userId: string) => `atrium.recent-notebooks:${userId}`;
/** The list as kept before it was per user (whoever's it was, so never imported): dropped at sign-out. */
export const UNSCOPED_RECENT_KEY = "atrium.recent-notebooks";

const api = createTRPCClient<AppRouter>({ links: [httpLink({ url: "/api/trpc", transformer: superjson })] });
const importing = new Map<string, Promise<void>>();

/**
 * Imports this browser's old list of `userId` into their account, once: the key is removed only after the server
 * took the list, so a failed import is tried again on the next page. Never rejects (the list is a convenience).
 */
export function importBrowserRecents(userId: string): Promise<void> {
  let pending = importing.get(userId);
  if (!pending) {
    pending = importOnce(userId).finally(() => importing.delete(userId));
    importing.set(userId, pending);
  }
  return pending;
}

async function importOnce(userId: string): Promise<void> {
  let stored: string | null;
  try {
    stored = localStorage.getItem(keyOf(userId));
  } catch {
    return; // storage unavailable: nothing was kept either
  }
  if (stored === null) return;
  try {
    await api.notebooks.importRecent.mutate({ entries: oldEntries(stored) });
    localStorage.removeItem(keyOf(userId));
  } catch {
    // tried again next time
  }
}

/** The entries of an old list, as far as they look like one (the server checks paths and times). */
function oldEntries(stored: string): { path: string; openedAt: string }[] {
  try {
    const value = JSON.parse(stored) as unknown;
    if (!Array.isArray(value)) return [];
    return value
      .filter((r): r is { path: string; openedAt: string } => typeof r?.path === "string" && typeof r?.openedAt === "string")
      .slice(0, 100)
      .map(({ path, openedAt }) => ({ path: path.slice(0, 4096), openedAt: openedAt.slice(0, 64) }));
  } catch {
    return [];
  }
}

/**
 * Called by the notebook page once it opened `path`. The server recorded the open already (notebooks.open); what
 * is left is this browser's old list, imported here too so opening a notebook first after an upgrade keeps it.
 */
export function addRecent(userId: string, _path: string) {
  void importBrowserRecents(userId);
}

