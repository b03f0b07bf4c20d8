// HTTP plumbing for the Jupyter API: JSON replies, the one place errors become Jupyter's `{message, reason}`
// bodies, a size-limited JSON body reader, and the same-origin rule for cookie-authenticated requests.
// Every reply says `Cache-Control: no-store`: kernel models and specs are per-user and change by the second.
import http from "node:http";
import type { Duplex } from "node:stream";
import { asAppError, AppError, httpStatusOf } from "@/server/errors";
import { log } from "@/server/log";

/** POST bodies are a kernel name and a few KERNEL_* variables; anything bigger is refused (413). */
export const MAX_BODY_BYTES = 64 * 1024;

const baseHeaders = { "cache-control": "no-store", "x-content-type-options": "nosniff" } as const;

export function sendJson(res: http.ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}) {
  const text = JSON.stringify(body);
  res.writeHead(status, { ...baseHeaders, "content-type": "application/json; charset=utf-8", "content-length": Buffer.byteLength(text), ...headers });
  res.end(text);
}

export function sendEmpty(res: http.ServerResponse, status: number, headers: Record<string, string> = {}) {
  res.writeHead(status, { ...baseHeaders, ...headers });
  res.end();
}

/** Jupyter Server's error body: `message` says what happened, `reason` is the status's reason phrase. */
export function errorBody(status: number, message: string) {
  return { message, reason: http.STATUS_CODES[status] ?? null };
}

/**
 * The status and body for any error a handler threw. AppErrors (and storage errors) carry their own words;
 * anything else is logged here and answered with a generic 500, so internals never reach the client.
 */
export function describeError(error: unknown, context: string): { status: number; body: { message: string; reason: string | null } } {
  if (error instanceof HttpStatusError) return { status: error.status, body: errorBody(error.status, error.message) };
  const appError = asAppError(error);
  if (appError) {
    const status = httpStatusOf(appError);
    if (status >= 500) log.warn(`${context}: ${appError.message}`);
    return { status, body: errorBody(status, appError.message) };
  }
  log.error(`${context} failed`, error);
  return { status: 500, body: errorBody(500, "Something went wrong on the server; the details are in its log.") };
}

export function sendError(res: http.ServerResponse, error: unknown, context: string) {
  const { status, body } = describeError(error, context);
  if (res.headersSent) {
    res.destroy();
    return;
  }
  const headers: Record<string, string> = error instanceof HttpStatusError ? { ...error.headers } : {};
  if (status === 401) headers["www-authenticate"] = 'token realm="atrium"';
  sendJson(res, status, body, headers);
}

/** Answers a WebSocket upgrade with a plain HTTP error (the handshake never completes) and closes the socket. */
export function rejectUpgrade(socket: Duplex, error: unknown, context: string) {
  const { status, body } = describeError(error, context);
  log.debug(`${context} refused with ${status}: ${body.message}`);
  const text = JSON.stringify(body);
  if (socket.destroyed) return;
  socket.end(
    `HTTP/1.1 ${status} ${http.STATUS_CODES[status] ?? ""}\r\n` +
      `Content-Type: application/json; charset=utf-8\r\nContent-Length: ${Buffer.byteLength(text)}\r\n` +
      `Cache-Control: no-store\r\nConnection: close\r\n\r\n${text}`,
  );
}

/** Reads a JSON body of at most MAX_BODY_BYTES; an empty body is `{}` (Jupyter clients often send none). */
export async function readJsonBody(req: http.IncomingMessage): Promise<unknown> {
  const declared = Number(req.headers["content-length"] ?? 0);
  if (declared > MAX_BODY_BYTES) throw tooLarge();
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req as AsyncIterable<Buffer>) {
    size += chunk.length;
    if (size > MAX_BODY_BYTES) throw tooLarge();
    chunks.push(chunk);
  }
  const text = Buffer.concat(chunks).toString("utf8").trim();
  if (!text) return {};
  try {
    return JSON.parse(text);
  } catch {
    throw new AppError("BAD_REQUEST", "The request body is not valid JSON.");
  }
}

function tooLarge() {
  return new HttpStatusError(413, `The request body is larger than ${MAX_BODY_BYTES / 1024} KiB.`);
}

/**
 * Protocol-level refusals that are not domain errors (413 body too large, 405 wrong method), so they have no
 * AppError code; domain errors stay AppErrors and are mapped by `httpStatusOf`.
 */
export class HttpStatusError extends Error {
  constructor(
    readonly status: number,
    message: string,
    readonly headers: Record<string, string> = {},
  ) {
    super(message);
    this.name = "HttpStatusError";
  }
}

/**
 * Cookie-authenticated requests that change things, and cookie-authenticated WebSockets, must come from a page
 * of this portal: the Origin (when a browser sends one) names the host the request was sent to, or the public
 * URL. Token-authenticated requests are not subject to this (a token is not sent by the browser on its own).
 */
export function sameOrigin(headers: http.IncomingHttpHeaders, publicUrl: string | undefined): boolean {
  const origin = headers.origin;
  if (!origin) return true;
  let originUrl: URL;
  try {
    originUrl = new URL(origin);
  } catch {
    return false;
  }
  if (publicUrl && originUrl.origin === new URL(publicUrl).origin) return true;
  return originUrl.host === headers.host;
}

const READS = new Set(["GET", "HEAD", "OPTIONS"]);

/**
 * Why a request that changes things must be refused as cross-site, or undefined: one sent with the session cookie
 * (no token) from a page that is not the portal's. `jsonOnly`: also refuse bodies that are not JSON, which a plain
 * HTML form can send without the browser asking the server first (tRPC parses form bodies too).
 */
export function crossSiteWrite(req: http.IncomingMessage, publicUrl: string | undefined, options: { byToken: boolean; jsonOnly?: boolean }): string | undefined {
  if (options.byToken || READS.has(req.method ?? "GET")) return undefined;
  if (!sameOrigin(req.headers, publicUrl)) return "Cross-origin request refused: use the portal's own pages, or an API token.";
  if (options.jsonOnly && !/^application\/json\s*(;|$)/i.test(String(req.headers["content-type"] ?? ""))) {
    return "Requests that change things are sent as JSON (Content-Type: application/json).";
  }
  return undefined;
}

/**
 * Where a request came from, for throttles and the audit log. Behind a proxy of one's own (`trustProxy`), the last
 * `X-Forwarded-For` entry, which that proxy appended: the ones before it are whatever the client sent.
 */
export function clientAddressOf(req: Pick<http.IncomingMessage, "headers" | "socket">, trustProxy: boolean): string | null {
  const forwarded = trustProxy ? (String(req.headers["x-forwarded-for"] ?? "").split(",").at(-1)?.trim() ?? "") : "";
  return forwarded || req.socket.remoteAddress || null;
}
