// Personal API token queries. Tokens are looked up by their SHA-256; the secret never reaches the database.
import { and, desc, eq, gt, inArray, isNull, or } from "drizzle-orm";
import type { Database } from "../index";
import { apiTokens, users } from "../schema";

export async function insertApiToken(
  db: Database,
  params: { userId: string; name: string; tokenHash: string; prefix: string; expiresAt: Date | null },
) {
  const [row] = await db.insert(apiTokens).values(params).returning();
  return row!;
}

/** The active user behind a token hash, or undefined (unknown, revoked, expired, or user disabled). */
export async function findUserByTokenHash(db: Database, tokenHash: string) {
  const now = new Date();
  const [row] = await db
    .select({ user: users, tokenId: apiTokens.id })
    .from(apiTokens)
    .innerJoin(users, eq(users.id, apiTokens.userId))
    .where(
      and(
        eq(apiTokens.tokenHash, tokenHash),
        eq(apiTokens.revoked, false),
        or(isNull(apiTokens.expiresAt), gt(apiTokens.expiresAt, now)),
        isNull(users.disabledAt),
      ),
    )
    .limit(1);
  return row;
}

export async function touchApiToken(db: Database, tokenId: string) {
  await db.update(apiTokens).set({ lastUsedAt: new Date() }).where(eq(apiTokens.id, tokenId));
}

export async function listApiTokens(db: Database, userId: string) {
  return db
    .select({
      id: apiTokens.id,
      name: apiTokens.name,
      prefix: apiTokens.prefix,
      createdAt: apiTokens.createdAt,
      lastUsedAt: apiTokens.lastUsedAt,
      expiresAt: apiTokens.expiresAt,
      revoked: apiTokens.revoked,
    })
    .from(apiTokens)
    .where(eq(apiTokens.userId, userId))
    .orderBy(desc(apiTokens.createdAt));
}

/** Revokes one of a user's tokens; the token's name, or undefined when the user has no such token. */
export async function revokeApiToken(db: Database, params: { userId: string; tokenId: string }): Promise<{ name: string } | undefined> {
  const rows = await db
    .update(apiTokens)
    .set({ revoked: true })
    .where(and(eq(apiTokens.id, params.tokenId), eq(apiTokens.userId, params.userId)))
    .returning({ name: apiTokens.name });
  return rows[0];
}

/** Which of these tokens still let their user in (not revoked, not expired; the user is checked apart). */
export async function activeTokenIds(db: Database, ids: readonly string[], now = new Date()): Promise<Set<string>> {
  if (ids.length === 0) return new Set();
  const rows = await db
    .select({ id: apiTokens.id })
    .from(apiTokens)
    .where(and(inArray(apiTokens.id, [...ids]), eq(apiTokens.revoked, false), or(isNull(apiTokens.expiresAt), gt(apiTokens.expiresAt, now))));
  return new Set(rows.map((r) => r.id));
}
