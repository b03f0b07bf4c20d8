// Pure policy for throttling failed sign-ins: how many failures in what window lock a key, and for how long.
// The mechanism (rows in Postgres shared by every replica) is in throttle.ts.

export interface ThrottleRule {
  /** Failures allowed inside the window; the next attempt is refused. */
  maxFailures: number;
  windowMs: number;
  lockMs: number;
}

export const accountRule: ThrottleRule = { maxFailures: 5, windowMs: 15 * 60_000, lockMs: 15 * 60_000 };
/** An address may try several accounts (an office behind one NAT), so it gets more room. */
export const addressRule: ThrottleRule = { maxFailures: 30, windowMs: 15 * 60_000, lockMs: 15 * 60_000 };

export interface ThrottleState {
  failures: number;
  windowStartedAt: Date;
  lockedUntil: Date | null;
}

export function lockedFor(state: ThrottleState | undefined, now: Date): number {
  if (!state?.lockedUntil) return 0;
  return Math.max(0, state.lockedUntil.getTime() - now.getTime());
}

/** The state after one more failure. A window that has expired starts afresh. */
export function afterFailure(state: ThrottleState | undefined, now: Date, rule: ThrottleRule): ThrottleState {
  const fresh = !state || now.getTime() - state.windowStartedAt.getTime() > rule.windowMs;
  const failures = fresh ? 1 : state.failures + 1;
  const windowStartedAt = fresh ? now : state.windowStartedAt;
  const lockedUntil = failures >= rule.maxFailures ? new Date(now.getTime() + rule.lockMs) : null;
  return { failures, windowStartedAt, lockedUntil };
}

/** The state with one failure taken back (a try that did not count); a lock the rest do not reach is lifted. */
export function withoutOneFailure(state: ThrottleState, now: Date, rule: ThrottleRule): ThrottleState {
  const failures = Math.max(0, state.failures - 1);
  const lockedUntil = failures >= rule.maxFailures && state.lockedUntil && state.lockedUntil > now ? state.lockedUntil : null;
  return { failures, windowStartedAt: state.windowStartedAt, lockedUntil };
}

/** "3 minutes", "1 minute", "40 seconds": for the message a throttled user reads. */
export function describeWait(ms: number): string {
  if (ms < 60_000) {
    const s = Math.max(1, Math.ceil(ms / 1000));
    return `${s} second${s === 1 ? "" : "s"}`;
  }
  const m = Math.ceil(ms / 60_000);
  return `${m} minute${m === 1 ? "" : "s"}`;
}
