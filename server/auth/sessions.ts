// Signed-in browser sessions: a row per sign-in, named by the session cookie (see db/schema userSessions). A cookie
// lets its holder in only while its row is open, so a session can be ended for real: signing out ends it on every
// copy of the cookie, changing a password ends the others, disabling an account or an admin ends them all.
import type { Database } from "@/db";
import { appendAudit } from "@/db/queries/audit";
import { endSession, endSessionsFromProvider, endSessionsOf, findOpenSession, insertSessionUnlessEnded, refuseSignInsUnderWay, touchSession } from "@/db/queries/sessions";
import { findUserByIdentity, type UserRow } from "@/db/queries/users";
import { AppError } from "@/server/errors";
import type { Actor } from "@/server/identity/actor";
import { ACCOUNT_DISABLED, SIGN_IN_INTERRUPTED } from "./sign-in-errors";

export type SignInMethod = "password" | "ldap" | "oidc";

/** Why a session ended, as the sessions list says it. */
export const SESSION_END = {
  signedOut: "signed out",
  byUser: "ended by the user",
  passwordChanged: "password changed",
  passwordReset: "password reset by an admin",
  disabled: "account disabled",
  byAdmin: "ended by an admin",
  atProvider: "signed out at the identity provider",
} as const;

/** What a session is started with: the user, how they signed in, and what the sessions list shows of it. */
export interface SessionStart {
  userId: string;
  method: SignInMethod;
  maxAgeMs: number;
  /** The user's sessions_valid_from as the sign-in read it; undefined only where no password or account check came before (tests, tools). */
  validFromSeen?: Date | null;
  userAgent?: string | null;
  address?: string | null;
  /** The OpenID provider's session id (the ID token's `sid`), so that provider's back-channel logout can end this session. */
  providerSession?: string | null;
}

/**
 * The session of a sign-in that read the user (with its sessions_valid_from, `validFromSeen`) before checking the
 * password or provider account; undefined when the user's sessions were all ended since (a password reset or a
 * disabling that raced the sign-in) or the account is disabled: that sign-in gets no session. For tests and tools;
 * a sign-in under way uses startSignInSession, which says why.
 */
export async function startSession(db: Database, params: SessionStart): Promise<string | undefined> {
  const started = await insertSession(db, params);
  return "session" in started ? started.session.id : undefined;
}

/**
 * startSession for a sign-in under way (server/auth/config.ts): the session's id, or an AppError its user reads on
 * the sign-in page (signInErrorCode): the account was disabled, or the user's sessions were ended after the sign-in
 * read the user. Without it that sign-in would land on the sign-in page again with no word of why.
 */
export async function startSignInSession(db: Database, params: SessionStart): Promise<string> {
  const started = await insertSession(db, params);
  if ("session" in started) return started.session.id;
  if (started.refused === "disabled") throw new AppError("FORBIDDEN", ACCOUNT_DISABLED);
  throw new AppError("UNAUTHENTICATED", SIGN_IN_INTERRUPTED, { reason: "sessions-ended" });
}

function insertSession(db: Database, params: SessionStart) {
  return insertSessionUnlessEnded(db, {
    userId: params.userId,
    method: params.method,
    expiresAt: new Date(Date.now() + params.maxAgeMs),
    validFromSeen: params.validFromSeen,
    // Bounded: both come from the client (the address from the socket, or a trusted proxy).
    userAgent: params.userAgent?.slice(0, 400) ?? null,
    address: params.address?.slice(0, 100) ?? null,
    // From the provider's signed ID token, but opaque and of no fixed length: bounded like the rest.
    providerSession: params.providerSession?.slice(0, 255) ?? null,
  });
}

/**
 * "Last seen" is for the sessions list, to the minute: written at most this often per session, not on every
 * request (the embedded database has one connection, shared with the request's own queries).
 */
const TOUCH_INTERVAL_MS = 60_000;
const lastTouched = new Map<string, number>();

/** The user of an open session, when the cookie's user is the session's and the account is enabled. */
export async function sessionUser(db: Database, sessionId: string, userId: string): Promise<UserRow | undefined> {
  const found = await findOpenSession(db, sessionId);
  if (!found || found.user.id !== userId || found.user.disabledAt) return undefined;
  // Admins sign in with their Atrium password only: a provider or directory session of someone made admin since
  // does not carry the role (it ends here; they sign in again with their password).
  if (found.user.role === "admin" && found.session.method !== "password") return undefined;
  const now = Date.now();
  if ((lastTouched.get(sessionId) ?? found.session.lastSeenAt.getTime()) + TOUCH_INTERVAL_MS <= now) {
    if (lastTouched.size > 10_000) forgetOldTouches(now);
    lastTouched.set(sessionId, now);
    void touchSession(db, sessionId, new Date(now)).catch(() => {}); // best effort; never fails the request
  }
  return found.user;
}

function forgetOldTouches(now: number): void {
  for (const [id, at] of lastTouched) if (at + TOUCH_INTERVAL_MS <= now) lastTouched.delete(id);
}

/** Signing out: this session ends, on every copy of its cookie. */
export async function signOutSession(db: Database, params: { sessionId: string; userId: string }): Promise<void> {
  await endSession(db, { id: params.sessionId, userId: params.userId, reason: SESSION_END.signedOut });
}

/**
 * Ends a user's sessions (all, or all but `except`, the caller's own), audited when someone asked for it; how many
 * ended.
 */
export async function endUserSessions(
  db: Database,
  actor: Actor,
  params: { user: Pick<UserRow, "id" | "email">; reason: string; except?: string; audit?: boolean },
): Promise<number> {
  const ended = await endSessionsOf(db, { userId: params.user.id, reason: params.reason, except: params.except });
  if (params.audit !== false) {
    await appendAudit(db, {
      actorId: actor.id,
      actorLabel: actor.label,
      action: "user.end_sessions",
      targetType: "user",
      targetId: params.user.id,
      details: { email: params.user.email, reason: params.reason, ended, keptOwn: params.except !== undefined },
    });
  }
  return ended;
}

/**
 * A back-channel logout from the OpenID provider `issuer` (server/auth/backchannel-logout.ts): ends the "oidc"
 * sessions of the account `subject` there (all of them, or only those made from `providerSession` when given), or,
 * with only `providerSession`, the sessions made from that provider session. With both, the user's sessions with no
 * provider session recorded end too (signed in before Atrium recorded them, or with an ID token without `sid`): they
 * may be that session's, and keeping a session the person ended is the worse mistake. Only sessions begun by
 * `startedBy` (the logout's time): one signed in since came from a new provider session, which this logout is not
 * about, so a replayed token ends nothing new. Each user's ending is audited; how many ended.
 */
export async function endSessionsAtProviderLogout(
  db: Database,
  actor: Actor,
  params: { issuer: string; subject?: string; providerSession?: string; startedBy: Date },
): Promise<number> {
  let userId: string | undefined;
  if (params.subject !== undefined) {
    const user = await findUserByIdentity(db, { issuer: params.issuer, subject: params.subject });
    if (!user) return 0; // no Atrium user signs in with that account: nothing of theirs is open here
    userId = user.id;
    // A sign-in of theirs under way (through the provider session just ended, say) gets no session either.
    await refuseSignInsUnderWay(db, userId);
  }
  const ended = await endSessionsFromProvider(db, {
    issuer: params.issuer,
    method: "oidc" satisfies SignInMethod,
    userId,
    providerSession: params.providerSession,
    orUnrecorded: true,
    startedBy: params.startedBy,
    reason: SESSION_END.atProvider,
  });
  const perUser = new Map<string, number>();
  for (const row of ended) perUser.set(row.userId, (perUser.get(row.userId) ?? 0) + 1);
  for (const [endedUserId, count] of perUser) {
    await appendAudit(db, {
      actorId: actor.id,
      actorLabel: actor.label,
      action: "sso.backchannel_logout",
      targetType: "user",
      targetId: endedUserId,
      details: { reason: SESSION_END.atProvider, ended: count, subject: params.subject ?? null, providerSession: params.providerSession ?? null },
    });
  }
  return ended.length;
}
