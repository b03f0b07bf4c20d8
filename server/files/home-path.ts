// Paths as the Files page, the files procedures and the upload/download routes receive them. Every one goes
// through here before it reaches a HomeStore, which applies paths.ts on top (so '..', control characters and
// links that leave the home are refused there too). This file adds what is specific to Atrium's own API:
//   - an absolute path is refused instead of being read as "from the home root" (the Jupyter contents API's
//     reading, which paths.ts keeps for that API): in Atrium's UI a leading '/' can only be a mistake or a
//     probe for the server's own files, and saying so beats silently listing something else;
//   - a path taken from a URL is percent-decoded exactly once, so '%2e%2e' and '..%2F..' arrive as '..'
//     and are refused, and '%2F' inside a segment is a separator like any other.
// Pure functions; change a rule here together with the table in home-path.test.ts.
import { StorageError, decodeUserPath, normalizePath } from "@/server/storage/paths";
import { quotePath } from "@/server/storage/errors";

function refuseAbsolute(input: string): void {
  if (/^[/\\]/.test(input)) {
    throw new StorageError(
      "INVALID_PATH",
      `The path ${quotePath(input)} starts with "/", which would name a place on the server. Paths here are inside your home folder, such as "projects/data.csv".`,
      { path: input },
    );
  }
}

/** A path sent as data (tRPC input): refused when absolute, else normalized ('' is the home folder). */
export function homePath(input: string): string {
  if (typeof input !== "string") return normalizePath(input); // normalizePath says what is wrong
  refuseAbsolute(input);
  return normalizePath(input);
}

/**
 * A path as written in a URL after a route's prefix (raw, still percent-encoded, without the query).
 * Each segment is decoded once; the result is refused when absolute or when it leaves the home.
 */
export function homePathFromUrl(rawTail: string): string {
  if (rawTail === "") return "";
  const decoded = decodeUserPath(rawTail.split("/"));
  // decodeUserPath has already refused '..'; the absolute check needs the decoded text before normalizing.
  const text = rawTail.split("/").map((part) => safeDecode(part)).join("/");
  refuseAbsolute(text);
  return decoded;
}

function safeDecode(part: string): string {
  try {
    return decodeURIComponent(part);
  } catch {
    return part; // decodeUserPath has already reported a malformed encoding
  }
}

/** The URL path for a home path: each segment encoded, '/' kept between them. */
export function encodeHomePath(path: string): string {
  return path === "" ? "" : path.split("/").map(encodeURIComponent).join("/");
}
