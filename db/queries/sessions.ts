// Browser session queries: (db, params) functions, no policy (that is server/auth/sessions.ts).
import { and, desc, eq, gt, inArray, isNull, lt, lte, ne, or, sql } from "drizzle-orm";
import type { Database } from "../index";
import { userIdentities, userSessions, users } from "../schema";
import { isUuid, type UserRow } from "./users";

export type SessionRow = typeof userSessions.$inferSelect;

/** Why a sign-in gets no session: its account is disabled (or unknown), or the user's sessions were ended since it read the user. */
export type SessionRefusal = "disabled" | "sessions-ended";

/**
 * Inserts a session for a sign-in that read the user's `sessions_valid_from` as `validFromSeen`, unless the account
 * is disabled, or that value changed since (the user's sessions were all ended meanwhile: a reset, a disabling, an
 * admin's or the provider's logout): then why not, for the sign-in page to say. The user's row is locked meanwhile,
 * so an ending that runs at the same time either sees this session (and ends it) or is seen here.
 */
export async function insertSessionUnlessEnded(
  db: Database,
  params: {
    userId: string;
    method: string;
    expiresAt: Date;
    /** The user's sessions_valid_from as the sign-in read it with the user (null: never set; undefined: not read). */
    validFromSeen?: Date | null;
    userAgent?: string | null;
    address?: string | null;
    providerSession?: string | null;
  },
): Promise<{ session: SessionRow } | { refused: SessionRefusal }> {
  const { validFromSeen, ...values } = params;
  return db.transaction(async (tx) => {
    const [user] = await tx.select({ disabledAt: users.disabledAt, validFrom: users.sessionsValidFrom }).from(users).where(eq(users.id, params.userId)).for("update");
    if (!user || user.disabledAt) return { refused: "disabled" as const };
    // Compared as read, not against a clock: replicas' and the CLI's clocks may differ.
    if (validFromSeen !== undefined && (user.validFrom?.getTime() ?? null) !== (validFromSeen?.getTime() ?? null)) return { refused: "sessions-ended" as const };
    // created_at from this process's clock, which logout tokens' times are checked against (backchannel-logout.ts).
    const [row] = await tx.insert(userSessions).values({ ...values, createdAt: new Date() }).returning();
    return { session: row! };
  });
}

/** The session and its user while the session is open (not ended, not expired), whatever the user's state. */
export async function findOpenSession(db: Database, id: string, now = new Date()): Promise<{ session: SessionRow; user: UserRow } | undefined> {
  if (!isUuid(id)) return undefined;
  const [row] = await db
    .select({ session: userSessions, user: users })
    .from(userSessions)
    .innerJoin(users, eq(users.id, userSessions.userId))
    .where(and(eq(userSessions.id, id), isNull(userSessions.endedAt), gt(userSessions.expiresAt, now)))
    .limit(1);
  return row;
}

/** Which of these sessions are still open (the others ended or expired). */
export async function openSessionIds(db: Database, ids: readonly string[], now = new Date()): Promise<Set<string>> {
  const valid = ids.filter(isUuid);
  if (valid.length === 0) return new Set();
  const rows = await db
    .select({ id: userSessions.id })
    .from(userSessions)
    .where(and(inArray(userSessions.id, valid), isNull(userSessions.endedAt), gt(userSessions.expiresAt, now)));
  return new Set(rows.map((r) => r.id));
}

export async function touchSession(db: Database, id: string, at = new Date()): Promise<void> {
  await db.update(userSessions).set({ lastSeenAt: at }).where(eq(userSessions.id, id));
}

/** Ends one open session of this user; false when there is none by that id (or it had ended already). */
export async function endSession(db: Database, params: { id: string; userId: string; reason: string }): Promise<boolean> {
  if (!isUuid(params.id)) return false;
  const rows = await db
    .update(userSessions)
    .set({ endedAt: new Date(), endedReason: params.reason })
    .where(and(eq(userSessions.id, params.id), eq(userSessions.userId, params.userId), isNull(userSessions.endedAt)))
    .returning({ id: userSessions.id });
  return rows.length > 0;
}

/** Ends every open session of a user, but `except` (the caller's own, when it stays); how many ended. */
export async function endSessionsOf(db: Database, params: { userId: string; reason: string; except?: string }): Promise<number> {
  return db.transaction(async (tx) => {
    // First the user's row (locked until the end): a sign-in that read the user before gets no session after this.
    await refuseSignInsUnderWay(tx, params.userId);
    const rows = await tx
      .update(userSessions)
      .set({ endedAt: new Date(), endedReason: params.reason })
      .where(
        and(
          eq(userSessions.userId, params.userId),
          isNull(userSessions.endedAt),
          params.except && isUuid(params.except) ? ne(userSessions.id, params.except) : undefined,
        ),
      )
      .returning({ id: userSessions.id });
    return rows.length;
  });
}

/**
 * Ends the open sessions of one sign-in method that began by `startedBy`, of users linked to an account of `issuer`:
 * a user's (`userId`), or those made from one provider session (`providerSession`), or both together. The sessions
 * ended, with their users. At least one of `userId` and `providerSession` is required: never all sessions.
 * `orUnrecorded`: with both, also the user's sessions that have no provider session recorded.
 */
export async function endSessionsFromProvider(
  db: Database,
  params: { issuer: string; method: string; userId?: string; providerSession?: string; orUnrecorded?: boolean; startedBy: Date; reason: string },
): Promise<{ id: string; userId: string }[]> {
  if (params.userId === undefined && params.providerSession === undefined) throw new Error("endSessionsFromProvider: a user or a provider session is required");
  if (params.userId !== undefined && !isUuid(params.userId)) return [];
  return db
    .update(userSessions)
    .set({ endedAt: new Date(), endedReason: params.reason })
    .where(
      and(
        isNull(userSessions.endedAt),
        eq(userSessions.method, params.method),
        lte(userSessions.createdAt, params.startedBy),
        params.userId !== undefined ? eq(userSessions.userId, params.userId) : undefined,
        params.providerSession === undefined
          ? undefined
          : params.orUnrecorded && params.userId !== undefined
            ? or(eq(userSessions.providerSession, params.providerSession), isNull(userSessions.providerSession))
            : eq(userSessions.providerSession, params.providerSession),
        inArray(userSessions.userId, db.select({ userId: userIdentities.userId }).from(userIdentities).where(eq(userIdentities.issuer, params.issuer))),
      ),
    )
    .returning({ id: userSessions.id, userId: userSessions.userId });
}

/** Sign-ins of this user under way (their user row read, their session not yet made) get no session (insertSessionUnlessEnded). */
export async function refuseSignInsUnderWay(db: Database, userId: string): Promise<void> {
  await db.update(users).set({ sessionsValidFrom: new Date() }).where(eq(users.id, userId));
}

/** A user's sessions, open first then newest first: those open, and those that ended or expired since `since`. */
export async function listSessions(db: Database, params: { userId: string; since: Date }): Promise<SessionRow[]> {
  return db
    .select()
    .from(userSessions)
    .where(and(eq(userSessions.userId, params.userId), or(isNull(userSessions.endedAt), gt(userSessions.endedAt, params.since)), gt(userSessions.expiresAt, params.since)))
    .orderBy(sql`${userSessions.endedAt} is not null`, desc(userSessions.createdAt));
}

/** Forgets sessions that expired or ended before `before`; how many. */
export async function deleteSessionsEndedBefore(db: Database, before: Date): Promise<number> {
  const rows = await db
    .delete(userSessions)
    .where(or(lt(userSessions.expiresAt, before), lt(userSessions.endedAt, before)))
    .returning({ id: userSessions.id });
  return rows.length;
}
