// Who is making this request, for everything the custom server serves itself (tRPC, the Jupyter API, kernel
// WebSockets): a personal token (`Authorization: token …`, or `?token=` where a browser can't set headers),
// or the next-auth session cookie, decoded with the same secret and salt next-auth uses, whose session row must be
// open (sessions.ts). The user is always re-read from the database, so a disabled account, an ended session or a
// changed role takes effect at once.
import type { IncomingHttpHeaders } from "node:http";
import { decode } from "next-auth/jwt";
import type { Database } from "@/db";
import type { UserRow } from "@/db/queries/users";
import { sessionUser } from "./sessions";
import { tokenHolder } from "./tokens";

export interface IdentifyOptions {
  db: Database;
  secret: string;
  sessionCookieName: string;
  /** A `token` query parameter, accepted only where the caller allows it (WebSocket upgrades, like Jupyter). */
  queryToken?: string | null;
}

/** What a request was let in with: a personal token, or a signed-in session (its cookie names it). */
export type Credential = { kind: "token"; tokenId: string } | { kind: "session"; sessionId: string };

export async function identify(headers: IncomingHttpHeaders, options: IdentifyOptions): Promise<UserRow | null> {
  return (await authenticate(headers, options))?.user ?? null;
}

/** The user and the credential they came with; null for no credential or one that no longer lets anyone in. */
export async function authenticate(headers: IncomingHttpHeaders, options: IdentifyOptions): Promise<{ user: UserRow; credential: Credential } | null> {
  const token = tokenFromHeader(headers.authorization) ?? options.queryToken ?? null;
  if (token) {
    const holder = await tokenHolder(options.db, token);
    return holder ? { user: holder.user, credential: { kind: "token", tokenId: holder.tokenId } } : null;
  }
  const cookie = readCookie(headers.cookie, options.sessionCookieName);
  if (!cookie) return null;
  let payload: { sub?: string; sid?: unknown; exp?: number } | null = null;
  try {
    payload = await decode({ token: cookie, secret: options.secret, salt: options.sessionCookieName });
  } catch {
    return null; // tampered, or signed with an old secret
  }
  if (!payload?.sub || (payload.exp !== undefined && payload.exp * 1000 < Date.now())) return null;
  // A cookie without a session row (from before sessions had rows) cannot be ended: it is not taken.
  if (typeof payload.sid !== "string") return null;
  const user = await sessionUser(options.db, payload.sid, payload.sub);
  return user ? { user, credential: { kind: "session", sessionId: payload.sid } } : null;
}

export function tokenFromHeader(authorization: string | undefined): string | undefined {
  if (!authorization) return undefined;
  const match = /^(?:token|bearer)\s+(\S+)$/i.exec(authorization.trim());
  return match?.[1];
}

/** Reads one cookie, including next-auth's chunked form (`name.0`, `name.1`, …) used for large JWTs. */
export function readCookie(header: string | undefined, name: string): string | undefined {
  if (!header) return undefined;
  const jar = new Map<string, string>();
  for (const part of header.split(";")) {
    const eq = part.indexOf("=");
    if (eq < 0) continue;
    const key = part.slice(0, eq).trim();
    try {
      jar.set(key, decodeURIComponent(part.slice(eq + 1).trim()));
    } catch {
      jar.set(key, part.slice(eq + 1).trim());
    }
  }
  if (jar.has(name)) return jar.get(name);
  const chunks: string[] = [];
  for (let i = 0; jar.has(`${name}.${i}`); i++) chunks.push(jar.get(`${name}.${i}`)!);
  return chunks.length ? chunks.join("") : undefined;
}
