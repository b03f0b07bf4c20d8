// Shared by the portal's pages and the server (no imports: safe in the browser bundle).

/**
 * The header portal pages send with every call: the id of the user the page was opened for. A browser can sign in as
 * someone else in another tab while a page stays open; that page's calls are then refused (UNAUTHORIZED), never
 * done as the other person (its save would land in their home folder).
 */
export const PAGE_USER_HEADER = "x-atrium-page-user";

/** Why a call is refused, when the page that made it was opened for another user than the one signed in now. */
export const OTHER_USER_MESSAGE = "This browser is now signed in as another user: reload the page to go on as them.";

/** The refusal for a request from a page opened for someone other than `userId`, or null (no page header: an API client). */
export function pageUserRefusal(headers: Record<string, string | string[] | undefined>, userId: string): string | null {
  const pageUser = headers[PAGE_USER_HEADER];
  return typeof pageUser === "string" && pageUser !== userId ? OTHER_USER_MESSAGE : null;
}
