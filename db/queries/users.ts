// User queries: (db, params) functions, no policy. Emails are compared lower-case.
import { and, asc, eq, isNull, sql } from "drizzle-orm";
import type { Database } from "../index";
import { memberships, teams, users } from "../schema";

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
  }));
}

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
export const isUuid = (value: string) => UUID.test(value);
