// User queries: (db, params) functions, no policy. Emails are compared lower-case.
import { and, asc, eq, inArray, isNull, ne, sql } from "drizzle-orm";
import type { Database, Tx } from "../index";
import { memberships, teams, userIdentities, users } from "../schema";

export type UserRow = typeof users.$inferSelect;
export type UserRole = UserRow["role"];

export const normalizeEmail = (email: string) => email.trim().toLowerCase();

export async function findUserByEmail(db: Database, email: string): Promise<UserRow | undefined> {
  const [row] = await db.select().from(users).where(eq(users.email, normalizeEmail(email))).limit(1);
  return row;
}

export async function findUserById(db: Database, id: string): Promise<UserRow | undefined> {
  if (!isUuid(id)) return undefined;
  const [row] = await db.select().from(users).where(eq(users.id, id)).limit(1);
  return row;
}

/** The user an external provider's account (issuer and subject) signs in as, if it was linked. */
export async function findUserByIdentity(db: Database, identity: { issuer: string; subject: string }): Promise<UserRow | undefined> {
  const [row] = await db
    .select({ user: users })
    .from(userIdentities)
    .innerJoin(users, eq(users.id, userIdentities.userId))
    .where(and(eq(userIdentities.issuer, identity.issuer), eq(userIdentities.subject, identity.subject)))
    .limit(1);
  return row?.user;
}

/** Whether a user is already linked to an account of this issuer (another account there is someone else). */
/** The issuers (providers, directories) this user's accounts are linked from. */
export async function linkedIssuersOf(db: Database, userId: string): Promise<string[]> {
  const rows = await db.select({ issuer: userIdentities.issuer }).from(userIdentities).where(eq(userIdentities.userId, userId));
  return rows.map((r) => r.issuer);
}

export async function hasIdentityFrom(db: Database, params: { userId: string; issuer: string }): Promise<boolean> {
  const [row] = await db
    .select({ subject: userIdentities.subject })
    .from(userIdentities)
    .where(and(eq(userIdentities.userId, params.userId), eq(userIdentities.issuer, params.issuer)))
    .limit(1);
  return row !== undefined;
}

/** The enabled, non-admin users linked to accounts of this issuer, with their subjects there. */
export async function activeUsersLinkedTo(db: Database, issuer: string): Promise<{ userId: string; email: string; subject: string }[]> {
  return db
    .select({ userId: users.id, email: users.email, subject: userIdentities.subject })
    .from(userIdentities)
    .innerJoin(users, eq(users.id, userIdentities.userId))
    .where(and(eq(userIdentities.issuer, issuer), isNull(users.disabledAt), ne(users.role, "admin")))
    .orderBy(asc(users.email));
}

/** Removes a user's links to accounts elsewhere (of one issuer, or all); how many went. */
export async function deleteIdentities(db: Database, params: { userId: string; issuer?: string }): Promise<{ issuer: string; subject: string }[]> {
  const where = params.issuer === undefined ? eq(userIdentities.userId, params.userId) : and(eq(userIdentities.userId, params.userId), eq(userIdentities.issuer, params.issuer));
  return db.delete(userIdentities).where(where).returning({ issuer: userIdentities.issuer, subject: userIdentities.subject });
}

/** Links a provider's account to a user; false if it was already linked (to this user or, by a race, another). */
export async function linkIdentity(db: Database, identity: { issuer: string; subject: string; userId: string }): Promise<boolean> {
  const rows = await db.insert(userIdentities).values(identity).onConflictDoNothing().returning({ userId: userIdentities.userId });
  return rows.length > 0;
}

export async function usernameTaken(db: Database, username: string): Promise<boolean> {
  const [row] = await db.select({ id: users.id }).from(users).where(eq(users.username, username)).limit(1);
  return row !== undefined;
}

export async function insertUser(
  db: Database,
  params: { email: string; username: string; name: string; passwordHash: string | null; role: UserRole },
): Promise<UserRow> {
  const [row] = await db
    .insert(users)
    .values({ ...params, email: normalizeEmail(params.email) })
    .returning();
  return row!;
}

export async function setUserRole(db: Database, params: { id: string; role: UserRole }) {
  const [row] = await db
    .update(users)
    .set({ role: params.role, updatedAt: new Date() })
    .where(eq(users.id, params.id))
    .returning();
  return row;
}

export async function setUserDisabled(db: Database, params: { id: string; disabled: boolean }) {
  const [row] = await db
    .update(users)
    .set({ disabledAt: params.disabled ? new Date() : null, updatedAt: new Date() })
    .where(eq(users.id, params.id))
    .returning();
  return row;
}

export async function setUserPassword(db: Database, params: { id: string; passwordHash: string }) {
  await db.update(users).set({ passwordHash: params.passwordHash, updatedAt: new Date() }).where(eq(users.id, params.id));
}

export async function recordSignIn(db: Database, id: string) {
  await db.update(users).set({ lastSignInAt: new Date() }).where(eq(users.id, id));
}

export async function countActiveAdmins(db: Database): Promise<number> {
  const [row] = await db
    .select({ n: sql<number>`count(*)::int` })
    .from(users)
    .where(and(eq(users.role, "admin"), isNull(users.disabledAt)));
  return row?.n ?? 0;
}

/**
 * Runs `change` unless it would leave no active admin: the active admins' rows are locked meanwhile, so two admins
 * demoting or disabling each other at once cannot both pass (the second sees the first's change). `losesAdmin`
 * says whether the change takes this user out of the active admins.
 */
export async function unlessLastAdmin<T>(db: Database, userId: string, losesAdmin: boolean, change: (tx: Tx) => Promise<T>): Promise<T | "last-admin"> {
  return db.transaction(async (tx) => {
    if (losesAdmin) {
      const admins = await tx
        .select({ id: users.id })
        .from(users)
        .where(and(eq(users.role, "admin"), isNull(users.disabledAt)))
        .orderBy(users.id)
        .for("update");
      if (admins.some((a) => a.id === userId) && admins.length <= 1) return "last-admin";
    }
    return change(tx);
  });
}

export interface UserListEntry {
  id: string;
  email: string;
  username: string;
  name: string;
  role: UserRole;
  disabled: boolean;
  lastSignInAt: Date | null;
  createdAt: Date;
  teams: { id: string; name: string; role: "member" | "lead" }[];
  /** What the user's Kubernetes pods run as; a null gid is a private group numbered like the uid. */
  posixUid: number;
  posixGid: number | null;
}

export async function listUsers(db: Database): Promise<UserListEntry[]> {
  const rows = await db.select().from(users).orderBy(asc(users.email));
  const links = await db
    .select({ userId: memberships.userId, teamId: teams.id, teamName: teams.name, role: memberships.role })
    .from(memberships)
    .innerJoin(teams, eq(teams.id, memberships.teamId))
    .orderBy(asc(teams.name));
  return rows.map((u) => ({
    id: u.id,
    email: u.email,
    username: u.username,
    name: u.name,
    role: u.role,
    disabled: u.disabledAt !== null,
    lastSignInAt: u.lastSignInAt,
    createdAt: u.createdAt,
    teams: links.filter((l) => l.userId === u.id).map((l) => ({ id: l.teamId, name: l.teamName, role: l.role })),
    posixUid: u.posixUid,
    posixGid: u.posixGid,
  }));
}

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
export const isUuid = (value: string) => UUID.test(value);

/** The POSIX identity pods run as (uid; gid defaults to a private group numbered like the uid). */
export interface PosixIdentity {
  username: string;
  uid: number;
  gid: number;
}

export async function findPosixIdentity(db: Database, username: string): Promise<PosixIdentity | undefined> {
  const [row] = await db
    .select({ username: users.username, uid: users.posixUid, gid: users.posixGid })
    .from(users)
    .where(eq(users.username, username))
    .limit(1);
  return row && { username: row.username, uid: row.uid, gid: row.gid ?? row.uid };
}

/** The user holding a uid, if any (to refuse giving it to a second user with a clear message). */
export async function findUserByPosixUid(db: Database, uid: number): Promise<UserRow | undefined> {
  const [row] = await db.select().from(users).where(eq(users.posixUid, uid)).limit(1);
  return row;
}

export async function setUserPosixIds(db: Database, params: { id: string; uid: number; gid: number | null }) {
  await db.update(users).set({ posixUid: params.uid, posixGid: params.gid, updatedAt: new Date() }).where(eq(users.id, params.id));
}

/**
 * Keeps the uid sequence at or above `base` and above every uid in use (an admin may have set one by hand),
 * so the next user never collides. Never moves the sequence down.
 */
export async function raisePosixUidSequence(db: Database, base: number): Promise<void> {
  await db.execute(sql`
    SELECT setval('users_posix_uid_seq', target, false)
    FROM (SELECT GREATEST(${base}::bigint, COALESCE((SELECT MAX(posix_uid) + 1 FROM users), 0)) AS target) wanted,
         (SELECT CASE WHEN is_called THEN last_value + 1 ELSE last_value END AS next FROM users_posix_uid_seq) seq
    WHERE seq.next < wanted.target`);
}

/** Which of these users are disabled (or gone). */
export async function unableUserIds(db: Database, ids: readonly string[]): Promise<Set<string>> {
  const valid = [...new Set(ids)].filter(isUuid);
  if (valid.length === 0) return new Set(ids);
  const rows = await db.select({ id: users.id }).from(users).where(and(inArray(users.id, valid), isNull(users.disabledAt)));
  const enabled = new Set(rows.map((r) => r.id));
  return new Set(ids.filter((id) => !enabled.has(id)));
}
