// Connections that outlive their request (kernel WebSockets) were let in once, at the upgrade. This says which of
// them may stay: their session still open, or their token neither revoked nor expired, and their account enabled.
// One query per kind for all of them, so a portal with many open connections checks them in a few statements.
import type { Database } from "@/db";
import { openSessionIds } from "@/db/queries/sessions";
import { activeTokenIds } from "@/db/queries/tokens";
import { unableUserIds } from "@/db/queries/users";
import type { Credential } from "./session";

export interface HeldCredential {
  userId: string;
  credential: Credential;
}

export const REVOKED = {
  disabled: "Your Atrium account was disabled.",
  session: "Your session ended (signed out, or your password changed): sign in again.",
  token: "The API token this connection used was revoked or has expired.",
} as const;

/** Why a connection must close, in the words its user reads (one of REVOKED's); undefined while it may stay. */
export type Revocation = (typeof REVOKED)[keyof typeof REVOKED] | undefined;

/** For each held credential (same order), why it no longer lets its user in, or undefined. */
export async function revocationsOf(db: Database, held: readonly HeldCredential[]): Promise<Revocation[]> {
  if (held.length === 0) return [];
  const sessionIds = held.flatMap((h) => (h.credential.kind === "session" ? [h.credential.sessionId] : []));
  const tokenIds = held.flatMap((h) => (h.credential.kind === "token" ? [h.credential.tokenId] : []));
  const [unable, openSessions, activeTokens] = await Promise.all([
    unableUserIds(db, held.map((h) => h.userId)),
    openSessionIds(db, [...new Set(sessionIds)]),
    activeTokenIds(db, [...new Set(tokenIds)]),
  ]);
  return held.map(({ userId, credential }) => {
    if (unable.has(userId)) return REVOKED.disabled;
    if (credential.kind === "session") return openSessions.has(credential.sessionId) ? undefined : REVOKED.session;
    return activeTokens.has(credential.tokenId) ? undefined : REVOKED.token;
  });
}
