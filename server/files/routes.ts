// Raw HTTP for file bytes, served by the custom server before Next (registered in server/main.ts):
//   GET|HEAD /api/files/content/<path>          download, streamed, as an attachment
//   PUT      /api/files/content/<path>[?overwrite=1]  upload: the request body is the file, streamed into
//                                                 HomeStore.write (atomic), never held whole in memory
// tRPC is for small typed calls; bytes come here so a 5 GB upload or download costs a few chunks of memory.
//
// The user is the session's (cookie, or `Authorization: token` for scripts), never the request's. The path
// is the raw URL tail, decoded once by homePathFromUrl(): `..`, `%2e%2e`, `..%2F..` and absolute paths are
// refused with 400, links leading out of the home with 403 (by the store). Uploads are PUT on purpose: a
// page on another site cannot send a cross-origin PUT without a CORS preflight, which this route never
// grants, so a session cookie alone cannot be used to plant files (no CSRF token needed).
import type http from "node:http";
import { pipeline } from "node:stream/promises";
import { Transform, type TransformCallback } from "node:stream";
import { identify, tokenFromHeader } from "@/server/auth/session";
import { crossSiteWrite } from "@/server/jupyter-api/http";
import { AppError, asAppError, httpStatusOf } from "@/server/errors";
import { log } from "@/server/log";
import type { Services } from "@/server/services";
import { baseName, isStorageError } from "@/server/storage/paths";
import { homePathFromUrl } from "./home-path";
import { formatBytes } from "./format";
import { pageUserRefusal } from "@/server/trpc/page-user";
import { DEFAULT_MAX_UPLOAD_BYTES, FILE_CONTENT_PREFIX } from "./limits";

export interface FileRoutesOptions {
  /** Largest upload accepted, in bytes. */
  maxUploadBytes?: number;
}

type Handler = (req: http.IncomingMessage, res: http.ServerResponse, url: URL) => Promise<boolean>;

export function fileRoutes(services: Services, options: FileRoutesOptions = {}): { http: Handler } {
  const maxUploadBytes = options.maxUploadBytes ?? DEFAULT_MAX_UPLOAD_BYTES;
  return {
    async http(req, res) {
      // The raw target, not the parsed URL: WHATWG parsing would silently resolve '..' and '%2e%2e' away,
      // and a traversal attempt deserves a clear refusal rather than a request for some other page.
      const rawPath = (req.url ?? "").split("?")[0] ?? "";
      if (!rawPath.startsWith(FILE_CONTENT_PREFIX) && rawPath !== FILE_CONTENT_PREFIX.slice(0, -1)) return false;
      try {
        if (req.method !== "GET" && req.method !== "HEAD" && req.method !== "PUT") {
          res.setHeader("allow", "GET, HEAD, PUT");
          throw new HttpError(405, "Files are downloaded with GET and uploaded with PUT.");
        }
        const user = await identify(req.headers, { db: services.db, secret: services.secret, sessionCookieName: services.sessionCookieName });
        if (!user) throw new HttpError(401, "Sign in to continue.");
        const otherUser = pageUserRefusal(req.headers, user.id);
        if (otherUser) throw new HttpError(401, otherUser);
        const crossSite = crossSiteWrite(req, services.env.ATRIUM_PUBLIC_URL, { byToken: tokenFromHeader(req.headers.authorization) !== undefined });
        if (crossSite) throw new HttpError(403, crossSite);
        const path = homePathFromUrl(rawPath.slice(FILE_CONTENT_PREFIX.length));
        const home = await services.homes.forUser(user);
        if (req.method === "PUT") {
          const overwrite = new URL(req.url ?? "/", "http://localhost").searchParams.get("overwrite") === "1";
          const entry = await receiveUpload(req, (body) => home.write(path, body, { overwrite }), maxUploadBytes);
          sendJson(res, 201, { entry: { name: entry.name, path: entry.path, type: entry.type, size: entry.size, mtime: entry.mtime.toISOString() } });
        } else {
          await sendDownload(req, res, path, home);
        }
      } catch (error) {
        sendError(req, res, error);
      }
      return true;
    },
  };
}

/** An HTTP status this route chooses itself (not a storage or domain error). */
class HttpError extends Error {
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message);
  }
}

async function receiveUpload<T>(req: http.IncomingMessage, write: (body: Transform) => Promise<T>, maxBytes: number): Promise<T> {
  const tooLarge = () => new HttpError(413, `The file is larger than ${formatBytes(maxBytes)}, the largest upload allowed. Split it, or ask an administrator how to bring in large data.`);
  const declared = Number(req.headers["content-length"]);
  // Known from the header: refuse before reading a byte.
  if (Number.isFinite(declared) && declared > maxBytes) throw tooLarge();
  let received = 0;
  const limited = new Transform({
    transform(chunk: Buffer, _encoding, callback: TransformCallback) {
      received += chunk.length;
      // A chunked body has no length up front: stop as soon as it passes the limit.
      if (received > maxBytes) callback(tooLarge());
      else callback(null, chunk);
    },
  });
  // The client went away midway (a cancelled upload, a lost network): fail the write, so the store
  // removes its temp file and the old content (if any) stays.
  const abort = () => {
    if (!req.complete) limited.destroy(new HttpError(400, "The upload was interrupted before it finished. Try again."));
  };
  req.once("close", abort);
  req.once("error", abort);
  req.pipe(limited);
  try {
    return await write(limited);
  } finally {
    req.unpipe(limited);
    req.off("close", abort);
    req.off("error", abort);
  }
}

async function sendDownload(req: http.IncomingMessage, res: http.ServerResponse, path: string, home: Awaited<ReturnType<Services["homes"]["forUser"]>>) {
  // One open for both the headers and the bytes: content-length is what the body will hold, even if the file
  // grows or shrinks meanwhile (a stat, then a separate read, sent more or fewer bytes than declared).
  const { entry, body } = await home.open(path).catch((error: unknown) => {
    if (isStorageError(error, "IS_A_DIRECTORY")) {
      throw new AppError("BAD_REQUEST", `"${baseName(path) || "Your home folder"}" is a folder. Folders cannot be downloaded yet; download the files inside it.`);
    }
    throw error;
  });
  res.writeHead(200, {
    // Always a download of opaque bytes: a user's HTML or SVG must never render on Atrium's origin.
    "content-type": "application/octet-stream",
    "content-disposition": contentDisposition(baseName(path)),
    "content-length": String(entry.size),
    "last-modified": entry.mtime.toUTCString(),
    "cache-control": "private, no-store",
    "x-content-type-options": "nosniff",
    "content-security-policy": "sandbox",
  });
  if (req.method === "HEAD") {
    body.destroy();
    res.end();
    return;
  }
  try {
    await pipeline(body, res);
  } catch (error) {
    // Headers are gone, and with them the chance to answer with an error (the file shrank as it was read, the
    // store failed): cut the connection, so the client sees a failed download instead of waiting for bytes.
    log.warn(`a download ended early: ${(error as Error).message}`);
    res.destroy();
  }
}

/** RFC 6266: an ASCII fallback for old clients plus the exact UTF-8 name in filename*. */
export function contentDisposition(name: string): string {
  const fallback = name.replace(/[^\x20-\x7e]|["\\%]/g, "_") || "download";
  const exact = encodeURIComponent(name).replace(/['()*]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`);
  return `attachment; filename="${fallback}"; filename*=UTF-8''${exact}`;
}

function sendJson(res: http.ServerResponse, status: number, body: unknown) {
  const text = JSON.stringify(body);
  res.writeHead(status, { "content-type": "application/json; charset=utf-8", "content-length": String(Buffer.byteLength(text)), "cache-control": "no-store" });
  res.end(text);
}

function sendError(req: http.IncomingMessage, res: http.ServerResponse, error: unknown) {
  let status: number;
  let message: string;
  let code: string | null = null;
  const app = asAppError(error);
  if (error instanceof HttpError) {
    status = error.status;
    message = error.message;
  } else if (app) {
    status = httpStatusOf(app);
    message = app.message;
    code = app.code;
  } else {
    log.error(`${req.method} ${FILE_CONTENT_PREFIX}… failed`, error);
    status = 500;
    message = "Something went wrong on the server. Try again; if it keeps happening, tell an administrator.";
  }
  if (res.headersSent) {
    res.destroy();
    return;
  }
  // An unread request body (a refused upload) would otherwise keep the connection busy: close it after
  // answering, so the client reads our message instead of waiting to finish sending.
  const unread = req.method === "PUT" && !req.complete;
  if (unread) res.setHeader("connection", "close");
  const wantsJson = req.method === "PUT" || /json/.test(String(req.headers.accept ?? ""));
  if (wantsJson) sendJson(res, status, { error: { message, code } });
  else {
    // A download link followed in the browser: show the words, not JSON.
    res.writeHead(status, { "content-type": "text/plain; charset=utf-8", "cache-control": "no-store", "x-content-type-options": "nosniff" });
    res.end(`${message}\n`);
  }
  if (unread) res.once("finish", () => req.destroy());
}
