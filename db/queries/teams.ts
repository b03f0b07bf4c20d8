// Team and membership queries.
import { and, asc, eq, sql } from "drizzle-orm";
import type { Database } from "../index";
import { memberships, teams, users } from "../schema";
import { isUuid } from "./users";

export type TeamRow = typeof teams.$inferSelect;
export type MembershipRole = (typeof memberships.$inferSelect)["role"];

export async function insertTeam(db: Database, params: { name: string; description?: string }): Promise<TeamRow> {
  const [row] = await db.insert(teams).values({ name: params.name, description: params.description ?? "" }).returning();
  return row!;
}

export async function findTeamByName(db: Database, name: string): Promise<TeamRow | undefined> {
  const [row] = await db.select().from(teams).where(sql`lower(${teams.name}) = lower(${name})`).limit(1);
  return row;
}

export async function findTeamById(db: Database, id: string): Promise<TeamRow | undefined> {
  if (!isUuid(id)) return undefined;
  const [row] = await db.select().from(teams).where(eq(teams.id, id)).limit(1);
  return row;
}

export async function listTeams(db: Database) {
  const rows = await db.select().from(teams).orderBy(asc(teams.name));
  const members = await db
    .select({
      teamId: memberships.teamId,
      userId: users.id,
      email: users.email,
      name: users.name,
      role: memberships.role,
    })
    .from(memberships)
    .innerJoin(users, eq(users.id, memberships.userId))
    .orderBy(asc(users.email));
  return rows.map((t) => ({ ...t, members: members.filter((m) => m.teamId === t.id) }));
}

/** Adds the user to the team, or changes their role in it. */
export async function upsertMembership(db: Database, params: { userId: string; teamId: string; role: MembershipRole }) {
  await db
    .insert(memberships)
    .values(params)
    .onConflictDoUpdate({ target: [memberships.userId, memberships.teamId], set: { role: params.role } });
}

export async function deleteMembership(db: Database, params: { userId: string; teamId: string }): Promise<boolean> {
  const rows = await db
    .delete(memberships)
    .where(and(eq(memberships.userId, params.userId), eq(memberships.teamId, params.teamId)))
    .returning({ userId: memberships.userId });
  return rows.length > 0;
}

/**
 * The teams a user belongs to, with their role in each: the team they joined first comes first — the one their
 * kernels are charged to. Joining another team later never moves their kernels, quota or queue to it (QA: charging
 * the first team by name moved them silently when a team named earlier was added).
 */
export async function teamsOfUser(db: Database, userId: string) {
  return db
    .select({ id: teams.id, name: teams.name, role: memberships.role })
    .from(memberships)
    .innerJoin(teams, eq(teams.id, memberships.teamId))
    .where(eq(memberships.userId, userId))
    .orderBy(...CHARGED_FIRST);
}

/** The order that puts the charged team first: the membership made first, then the name (for one instant). */
const CHARGED_FIRST = [asc(memberships.createdAt), asc(teams.name)] as const;

/** The user's team that admission charges: the first they joined when in several (see teamsOfUser). */
async function firstTeamOfUser(db: Database, username: string) {
  const [row] = await db
    .select({ name: teams.name, queue: teams.yarnQueue })
    .from(users)
    .innerJoin(memberships, eq(memberships.userId, users.id))
    .innerJoin(teams, eq(teams.id, memberships.teamId))
    .where(eq(users.username, username))
    .orderBy(...CHARGED_FIRST)
    .limit(1);
  return row;
}

/** The YARN queue of a user's team (see firstTeamOfUser). Null: the default queue. */
export async function yarnQueueOfUser(db: Database, username: string): Promise<string | null> {
  return (await firstTeamOfUser(db, username))?.queue ?? null;
}

export async function updateTeamQueue(db: Database, params: { id: string; queue: string | null }) {
  await db.update(teams).set({ yarnQueue: params.queue }).where(eq(teams.id, params.id));
}

/** The user's team name (see firstTeamOfUser), or null: Kubernetes namespaces and labels. */
export async function teamNameOfUser(db: Database, username: string): Promise<string | null> {
  return (await firstTeamOfUser(db, username))?.name ?? null;
}
