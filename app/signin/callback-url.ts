// Where signing in leads: back to the page the user asked for. The page travels in the sign-in link as
// `callbackUrl`, which anyone can write into a link, so only a path on this site is followed — never another
// site (absolute URLs, protocol-relative `//host`, backslashes browsers read as slashes, control characters
// browsers drop). Pure: the portal's layout builds the link, the sign-in page checks what comes back.

/** Where a sign-in without a (usable) page to return to leads. */
export const AFTER_SIGN_IN = "/files";

const SIGN_IN_PATH = "/signin";
const MAX_LENGTH = 2048;
// Only the origin matters: a path resolved against it must stay on it.
const BASE = "http://atrium.invalid";

/** The sign-in page's address that comes back to `pathAndQuery` (a path on this site, with its query). */
export function signInHref(pathAndQuery: string): string {
  const back = safeCallbackPath(pathAndQuery);
  return back === AFTER_SIGN_IN ? SIGN_IN_PATH : `${SIGN_IN_PATH}?callbackUrl=${encodeURIComponent(back)}`;
}

/** `raw` if it is a path on this site (query and fragment kept), else AFTER_SIGN_IN. */
export function safeCallbackPath(raw: string | null | undefined): string {
  if (typeof raw !== "string" || raw === "" || raw.length > MAX_LENGTH) return AFTER_SIGN_IN;
  // A relative path only: "/x", not "//host", "/\host", "http:…", "javascript:…" or "x".
  if (!raw.startsWith("/") || raw.startsWith("//")) return AFTER_SIGN_IN;
  // Browsers read "\" as "/" and drop tabs and newlines, so "/\evil" and "/\t/evil" would leave the site.
  // eslint-disable-next-line no-control-regex
  if (/[\\\u0000-\u001f\u007f]/.test(raw)) return AFTER_SIGN_IN;
  let parsed: URL;
  try {
    parsed = new URL(raw, BASE);
  } catch {
    return AFTER_SIGN_IN;
  }
  if (parsed.origin !== BASE) return AFTER_SIGN_IN;
  const path = parsed.pathname + parsed.search + parsed.hash;
  // Dot segments can normalize into "//host" ("/.//evil"); and back to the sign-in page would loop.
  if (path.startsWith("//") || parsed.pathname === SIGN_IN_PATH || parsed.pathname.startsWith(`${SIGN_IN_PATH}/`)) return AFTER_SIGN_IN;
  return path;
}
