// This installation's id (db/schema/installation.ts). Made on first use, by whichever replica asks first: the
// insert is a no-op when the row exists, so replicas booting together all read the same id.
import type { Database } from "../index";
import { installation } from "../schema";

export async function installationId(db: Database): Promise<string> {
  await db.insert(installation).values({}).onConflictDoNothing();
  const [row] = await db.select({ id: installation.id }).from(installation).limit(1);
  if (!row) throw new Error("the installation row is missing right after it was made");
  return row.id;
}
