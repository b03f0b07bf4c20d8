// Rows sign-ins leave behind that nothing reads any more: sessions that ended or expired a while ago (the sessions
// list shows a week of them) and throttle counters whose window and lock are long over (an address that failed once
// would otherwise stay for ever). Every hour, on every replica (the deletes are idempotent).
import type { Database } from "@/db";
import { deleteSessionsEndedBefore } from "@/db/queries/sessions";
import { Periodic } from "@/server/periodic";
import { forgetStaleFailures } from "./throttle";

const INTERVAL_MS = 3_600_000;
const KEEP_ENDED_SESSIONS_MS = 30 * 86_400_000;
const KEEP_STALE_FAILURES_MS = 86_400_000;

export async function tidySignInRows(db: Database, now = Date.now()): Promise<{ sessions: number; failures: number }> {
  const sessions = await deleteSessionsEndedBefore(db, new Date(now - KEEP_ENDED_SESSIONS_MS));
  const failures = await forgetStaleFailures(db, new Date(now - KEEP_STALE_FAILURES_MS));
  return { sessions, failures };
}

export function signInHousekeeping(db: Database): Periodic<unknown> {
  return new Periodic("sign-in housekeeping", INTERVAL_MS, () => tidySignInRows(db));
}
