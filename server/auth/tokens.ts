// Personal API tokens: random, shown once, stored as SHA-256 (fast to look up, and a leaked table
// yields nothing usable since the tokens carry 256 bits of entropy).
import { createHash, randomBytes } from "node:crypto";
import type { Database } from "@/db";
import { appendAudit } from "@/db/queries/audit";
import { findUserByTokenHash, insertApiToken, revokeApiToken, touchApiToken } from "@/db/queries/tokens";
import { findUserById, isUuid } from "@/db/queries/users";
import type { Actor } from "@/server/identity/actor";

const PREFIX = "atr_";
export const hashToken = (token: string) => createHash("sha256").update(token).digest("hex");

export async function createApiToken(
  db: Database,
  actor: Actor,
  input: { userId: string; name: string; expiresAt?: Date | null },
) {
  const token = PREFIX + randomBytes(32).toString("base64url");
  const row = await insertApiToken(db, {
    userId: input.userId,
    name: input.name,
    tokenHash: hashToken(token),
    prefix: token.slice(0, PREFIX.length + 6),
    expiresAt: input.expiresAt ?? null,
  });
  await appendAudit(db, {
    actorId: actor.id,
    actorLabel: actor.label,
    action: "token.create",
    targetType: "user",
    targetId: input.userId,
    details: { email: await emailOf(db, input.userId), token: input.name, tokenId: row.id },
  });
  return { token, id: row.id };
}

/**
 * Revokes one of a user's tokens, audited (by its owner, or an admin for a lost laptop); false when the user has no
 * such token. Kernel WebSockets opened with it close within the portal's recheck (channels.ts).
 */
export async function revokeToken(db: Database, actor: Actor, params: { userId: string; tokenId: string }): Promise<boolean> {
  const revoked = isUuid(params.tokenId) ? await revokeApiToken(db, params) : undefined;
  if (!revoked) return false;
  await appendAudit(db, {
    actorId: actor.id,
    actorLabel: actor.label,
    action: "token.revoke",
    targetType: "user",
    targetId: params.userId,
    details: { email: await emailOf(db, params.userId), token: revoked.name, tokenId: params.tokenId },
  });
  return true;
}

/** Whose token, as the audit log reads (and is searched): their email. */
async function emailOf(db: Database, userId: string): Promise<string | undefined> {
  return (await findUserById(db, userId))?.email;
}

/**
 * A token's "last used" is for its owner's tokens page, to the minute: written at most this often per token, not
 * on every request (a write per API call and per WebSocket is work on the embedded database's one connection,
 * queued in front of the request's own queries).
 */
const TOUCH_INTERVAL_MS = 60_000;
const lastTouched = new Map<string, number>();

/** The active user a token belongs to, or undefined. */
export async function userForToken(db: Database, token: string) {
  return (await tokenHolder(db, token))?.user;
}

/** The active user a token belongs to and the token's id, or undefined. */
export async function tokenHolder(db: Database, token: string) {
  if (!token.startsWith(PREFIX) || token.length > 200) return undefined;
  const found = await findUserByTokenHash(db, hashToken(token));
  if (!found) return undefined;
  const now = Date.now();
  if ((lastTouched.get(found.tokenId) ?? 0) + TOUCH_INTERVAL_MS <= now) {
    lastTouched.set(found.tokenId, now);
    void touchApiToken(db, found.tokenId).catch(() => {}); // best effort; never fails the request
  }
  return found;
}
