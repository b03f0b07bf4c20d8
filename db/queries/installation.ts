// This installation's id (db/schema/installation.ts). Made on first use, by whichever replica asks first: the
// insert is a no-op when the row exists, so replicas booting together all read the same id.
import { and, eq, inArray, isNull, ne, sql } from "drizzle-orm";
import type { Database } from "../index";
import { installation, kernels } from "../schema";

export async function installationId(db: Database): Promise<string> {
  await db.insert(installation).values({}).onConflictDoNothing();
  const [row] = await db.select({ id: installation.id }).from(installation).limit(1);
  if (!row) throw new Error("the installation row is missing right after it was made");
  return row.id;
}

/** The physical database this is: Postgres's system identifier and this database's oid (a copy differs in one). */
export async function databaseIdentity(db: Database): Promise<string> {
  const result = (await db.execute(
    sql`select (select system_identifier::text from pg_control_system()) || '/' || (select oid::text from pg_database where datname = current_database()) as identity`,
  )) as unknown as { rows?: { identity: string }[] } | { identity: string }[];
  const rows = Array.isArray(result) ? result : (result.rows ?? []);
  if (!rows[0]?.identity) throw new Error("could not read the database's identity (pg_control_system)");
  return rows[0].identity;
}

export interface InstallationCheck {
  id: string;
  /** False when this database is a copy of the one the id was made in: its cluster engines may be another's. */
  sameDatabase: boolean;
  /** Set when the database's identity could not be read (then sameDatabase is false: nothing is assumed). */
  unreadable?: string;
}

/** The id, and whether this is the database it belongs to. The first check records the database's identity. */
export async function checkInstallation(db: Database): Promise<InstallationCheck> {
  const id = await installationId(db);
  let current: string;
  try {
    current = await databaseIdentity(db);
  } catch (error) {
    return { id, sameDatabase: false, unreadable: (error as Error).message };
  }
  await db.update(installation).set({ databaseIdentity: current }).where(isNull(installation.databaseIdentity));
  const [row] = await db.select({ recorded: installation.databaseIdentity }).from(installation).limit(1);
  return { id, sameDatabase: row?.recorded === current };
}

/**
 * Gives this database a new installation id. For a copy of a database (staging made from a production dump, a
 * restore) that would otherwise share the original's id, and so sweep its engines as orphans. The kernels of
 * `clusterLaunchers` its rows say are running are the original's: they are ended here (this database's record
 * only; their engines are not touched), so the copy never reattaches, culls or stops them. Local kernels stay: the
 * copy's portal may run its own. Returns the new id, the one it replaces, and how many kernels were ended.
 */
export async function renewInstallationId(db: Database, clusterLaunchers: readonly string[]): Promise<{ id: string; previousId: string; kernelsEnded: number }> {
  await installationId(db);
  const current = await databaseIdentity(db);
  return db.transaction(async (tx) => {
    const [previous] = await tx.select({ id: installation.id }).from(installation).for("update");
    const previousId = previous!.id;
    const [row] = await tx
      .update(installation)
      .set({ id: sql`gen_random_uuid()`, createdAt: new Date(), databaseIdentity: current })
      .where(eq(installation.singleton, 1))
      .returning({ id: installation.id });
    const ended = await tx
      .update(kernels)
      .set({
        state: "dead",
        stateDetail: `belongs to installation ${previousId}, which this database was copied from; left running there`,
        endReason: "stopped",
        endedAt: new Date(),
        sealedLaunchState: null,
        sealedClientEnv: null,
        launchLeaseUntil: null,
      })
      .where(and(ne(kernels.state, "dead"), inArray(kernels.launcher, [...clusterLaunchers])))
      .returning({ id: kernels.id });
    return { id: row!.id, previousId, kernelsEnded: ended.length };
  });
}

/** Confirms that this database keeps the id: it is the original, moved (a restore, a major upgrade), not a copy. */
export async function keepInstallationId(db: Database): Promise<string> {
  const id = await installationId(db);
  await db.update(installation).set({ databaseIdentity: await databaseIdentity(db) }).where(eq(installation.singleton, 1));
  return id;
}
