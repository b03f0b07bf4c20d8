import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { accountRule, afterFailure, describeWait, lockedFor, type ThrottleState } from "./throttle-policy";

const t0 = new Date("2026-01-01T00:00:00Z");
const at = (ms: number) => new Date(t0.getTime() + ms);

describe("sign-in throttle policy", () => {
  it("locks the account at the 5th failure inside the window, so the 6th attempt is refused", () => {
    let state: ThrottleState | undefined;
    for (let i = 1; i <= 4; i++) {
      state = afterFailure(state, at(i * 1000), accountRule);
      assert.equal(lockedFor(state, at(i * 1000)), 0, `failure ${i} must not lock`);
    }
    state = afterFailure(state, at(5000), accountRule);
    assert.equal(state.failures, 5);
    assert.ok(lockedFor(state, at(6000)) > 14 * 60_000);
  });

  it("starts a new window when the old one has expired", () => {
    const old: ThrottleState = { failures: 4, windowStartedAt: t0, lockedUntil: null };
    const next = afterFailure(old, at(accountRule.windowMs + 1), accountRule);
    assert.equal(next.failures, 1);
    assert.equal(next.lockedUntil, null);
  });

  it("unlocks once the lock time has passed", () => {
    const locked: ThrottleState = { failures: 5, windowStartedAt: t0, lockedUntil: at(60_000) };
    assert.equal(lockedFor(locked, at(60_001)), 0);
    assert.equal(lockedFor(undefined, t0), 0);
  });

  it("describes waits in words", () => {
    const cases: [number, string][] = [
      [500, "1 second"],
      [40_000, "40 seconds"],
      [60_000, "1 minute"],
      [14 * 60_000 + 1, "15 minutes"],
    ];
    for (const [ms, words] of cases) assert.equal(describeWait(ms), words);
  });
});
