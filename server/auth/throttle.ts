// Failed sign-in counters in Postgres, so the throttle holds across replicas and restarts.
import { and, eq, inArray, isNull, lt, or } from "drizzle-orm";
import type { Database } from "@/db";
import { signInFailures } from "@/db/schema";
import { accountRule, addressRule, afterFailure, lockedFor, withoutOneFailure, type ThrottleRule } from "./throttle-policy";

const accountKey = (email: string) => `account:${email.trim().toLowerCase()}`;
const addressKey = (address: string) => `address:${address}`;
/** One person in a directory, whichever login (uid, email) found them: the account rule holds for all of them. */
const entryKey = (entry: DirectoryEntryRef) => `entry:${entry.issuer} ${entry.subject}`;

export interface DirectoryEntryRef {
  issuer: string;
  subject: string;
}

/** The counters one try is counted against: the login typed, the address it came from, the directory entry. */
export interface TryKeys {
  login?: string;
  address?: string | null;
  entry?: DirectoryEntryRef;
}

function keysOf(keys: TryKeys): { key: string; rule: ThrottleRule }[] {
  return [
    ...(keys.login !== undefined ? [{ key: accountKey(keys.login), rule: accountRule }] : []),
    ...(keys.entry ? [{ key: entryKey(keys.entry), rule: accountRule }] : []),
    ...(keys.address ? [{ key: addressKey(keys.address), rule: addressRule }] : []),
  ].sort((a, b) => (a.key < b.key ? -1 : 1)); // one lock order for every try: no deadlock between two of them
}

/**
 * Takes a try: counted as a failure before the password is checked, so tries sent at once cannot all pass the
 * check before any is counted (forty at once got through where five may). Returns 0, or the milliseconds until these
 * keys may try again (then nothing is counted). A try that turns out right is taken back by succeeded(); one that
 * must not count (the directory did not answer) by takeBack().
 */
export async function takeTry(db: Database, keys: TryKeys, now = new Date()): Promise<number> {
  const counted = keysOf(keys);
  if (counted.length === 0) return 0;
  return db.transaction(async (tx) => {
    await tx.insert(signInFailures).values(counted.map(({ key }) => ({ key, failures: 0, windowStartedAt: now }))).onConflictDoNothing();
    const rows = await tx.select().from(signInFailures).where(inArray(signInFailures.key, counted.map((c) => c.key))).orderBy(signInFailures.key).for("update");
    const wait = Math.max(0, ...rows.map((row) => lockedFor(row, now)));
    if (wait > 0) return wait;
    for (const { key, rule } of counted) {
      const row = rows.find((r) => r.key === key);
      await tx.update(signInFailures).set(afterFailure(row && row.failures > 0 ? row : undefined, now, rule)).where(eq(signInFailures.key, key));
    }
    return 0;
  });
}

/** A try that must not count after all: its counters go back by one (and unlock if that brings them under). */
export async function takeBack(db: Database, keys: TryKeys, now = new Date()): Promise<void> {
  const counted = keysOf(keys);
  if (counted.length === 0) return;
  await db.transaction(async (tx) => {
    const rows = await tx.select().from(signInFailures).where(inArray(signInFailures.key, counted.map((c) => c.key))).orderBy(signInFailures.key).for("update");
    for (const row of rows) {
      const rule = counted.find((c) => c.key === row.key)!.rule;
      await tx.update(signInFailures).set(withoutOneFailure(row, now, rule)).where(eq(signInFailures.key, row.key));
    }
  });
}

/**
 * A try that was right: the login's and the entry's counters are cleared (and `otherLogin`'s, the same person's
 * other spelling where known); the address's goes back by one (it guards many accounts, so one person's success
 * does not clear it).
 */
export async function succeeded(db: Database, keys: TryKeys, otherLogin?: string): Promise<void> {
  const cleared = [...keysOf({ login: keys.login, entry: keys.entry }), ...keysOf({ login: otherLogin })].map((c) => c.key);
  if (cleared.length) await db.delete(signInFailures).where(inArray(signInFailures.key, cleared));
  if (keys.address) await takeBack(db, { address: keys.address });
}

/** An admin reset the account's password: its failed tries (the lockout that may have led to the reset) are forgotten. */
export async function forgetAccountFailures(db: Database, logins: string[]): Promise<void> {
  const keys = logins.map(accountKey);
  if (keys.length) await db.delete(signInFailures).where(inArray(signInFailures.key, keys));
}

/** Forgets counters nothing holds any more (window over, lock over) older than `before`; how many. */
export async function forgetStaleFailures(db: Database, before: Date): Promise<number> {
  const rows = await db
    .delete(signInFailures)
    .where(and(lt(signInFailures.windowStartedAt, before), or(isNull(signInFailures.lockedUntil), lt(signInFailures.lockedUntil, before))))
    .returning({ key: signInFailures.key });
  return rows.length;
}
