// Shared by the portal's pages and the server (no imports: safe in the browser bundle).

/**
 * The header portal pages send with every call: the id of the user the page was opened for. A browser can sign in as
 * someone else in another tab while a page stays open; that page's calls are then refused (UNAUTHORIZED), never
 * done as the other person (its save would land in their home folder).
 */
export const PAGE_USER_HEADER = "x-atrium-page-user";
