// Regression: the token form clamped the days silently (100000 → 3650, -5 → 5, 0 and 1.5 → 1).
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { MAX_TOKEN_DAYS, TOKEN_DAYS_PROBLEM, tokenExpiryDays } from "./token-rules";

describe("an API token's days to expiry", () => {
  it("takes whole days from 1 to the maximum, and empty for never", () => {
    assert.deepEqual(tokenExpiryDays(""), { days: undefined });
    assert.deepEqual(tokenExpiryDays("  "), { days: undefined });
    assert.deepEqual(tokenExpiryDays("1"), { days: 1 });
    assert.deepEqual(tokenExpiryDays(" 30 "), { days: 30 });
    assert.deepEqual(tokenExpiryDays(String(MAX_TOKEN_DAYS)), { days: MAX_TOKEN_DAYS });
  });

  it("refuses anything else with the same clear message, never a changed number", () => {
    for (const typed of ["100000", String(MAX_TOKEN_DAYS + 1), "0", "00", "-5", "1.5", "1e3", "abc", "+3", "3 days"]) {
      assert.deepEqual(tokenExpiryDays(typed), { problem: TOKEN_DAYS_PROBLEM }, typed);
    }
  });
});
