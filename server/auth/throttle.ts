// Failed sign-in counters in Postgres, so the throttle holds across replicas and restarts.
import { and, eq, inArray, isNull, lt, or } from "drizzle-orm";
import type { Database } from "@/db";
import { signInFailures } from "@/db/schema";
import { accountRule, addressRule, afterFailure, lockedFor, type ThrottleRule } from "./throttle-policy";

const accountKey = (email: string) => `account:${email.trim().toLowerCase()}`;
const addressKey = (address: string) => `address:${address}`;
/** One person in a directory, whichever login (uid, email) found them: the account rule holds for all of them. */
const entryKey = (entry: DirectoryEntryRef) => `entry:${entry.issuer} ${entry.subject}`;

export interface DirectoryEntryRef {
  issuer: string;
  subject: string;
}

/** Milliseconds until this email or address may try again; 0 when not throttled. */
export async function throttledFor(db: Database, email: string, address: string | null, now = new Date()) {
  const keys = [accountKey(email), ...(address ? [addressKey(address)] : [])];
  const rows = await db.select().from(signInFailures).where(inArray(signInFailures.key, keys));
  return Math.max(0, ...rows.map((row) => lockedFor(row, now)));
}

/** Milliseconds until this directory entry may be tried again, whichever of its logins is typed. */
export async function entryThrottledFor(db: Database, entry: DirectoryEntryRef, now = new Date()) {
  const [row] = await db.select().from(signInFailures).where(eq(signInFailures.key, entryKey(entry)));
  return lockedFor(row, now);
}

export async function recordFailure(db: Database, email: string, address: string | null, entry?: DirectoryEntryRef, now = new Date()) {
  await bump(db, accountKey(email), accountRule, now);
  if (entry) await bump(db, entryKey(entry), accountRule, now);
  if (address) await bump(db, addressKey(address), addressRule, now);
}

/** A successful sign-in clears the account's counters (not the address's: that one guards many accounts). */
export async function clearFailures(db: Database, email: string, entry?: DirectoryEntryRef) {
  await db.delete(signInFailures).where(inArray(signInFailures.key, [accountKey(email), ...(entry ? [entryKey(entry)] : [])]));
}

async function bump(db: Database, key: string, rule: ThrottleRule, now: Date) {
  await db.transaction(async (tx) => {
    await tx.insert(signInFailures).values({ key, failures: 0, windowStartedAt: now }).onConflictDoNothing();
    const [row] = await tx.select().from(signInFailures).where(eq(signInFailures.key, key)).for("update");
    const next = afterFailure(row && row.failures > 0 ? row : undefined, now, rule);
    await tx.update(signInFailures).set(next).where(eq(signInFailures.key, key));
  });
}

/** Forgets counters nothing holds any more (window over, lock over) older than `before`; how many. */
export async function forgetStaleFailures(db: Database, before: Date): Promise<number> {
  const rows = await db
    .delete(signInFailures)
    .where(and(lt(signInFailures.windowStartedAt, before), or(isNull(signInFailures.lockedUntil), lt(signInFailures.lockedUntil, before))))
    .returning({ key: signInFailures.key });
  return rows.length;
}
