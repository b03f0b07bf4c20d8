// This installation's id (db/schema/installation.ts). Made on first use, by whichever replica asks first: the
// insert is a no-op when the row exists, so replicas booting together all read the same id.
import { sql } from "drizzle-orm";
import type { Database } from "../index";
import { installation } from "../schema";

export async function installationId(db: Database): Promise<string> {
  await db.insert(installation).values({}).onConflictDoNothing();
  const [row] = await db.select({ id: installation.id }).from(installation).limit(1);
  if (!row) throw new Error("the installation row is missing right after it was made");
  return row.id;
}

/**
 * Gives this database a new installation id and returns it. For a copy of a database (staging made from a
 * production dump, a restore) that would otherwise share the original's id, and so sweep its engines as orphans.
 */
export async function renewInstallationId(db: Database): Promise<string> {
  await installationId(db);
  const [row] = await db.update(installation).set({ id: sql`gen_random_uuid()`, createdAt: new Date() }).returning({ id: installation.id });
  return row!.id;
}
