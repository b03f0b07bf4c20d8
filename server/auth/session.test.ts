import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { readCookie, tokenFromHeader } from "./session";
import { ACCOUNT_DISABLED, SIGN_IN_INTERRUPTED, signInErrorCode, signInErrorMessage } from "./sign-in-errors";
import { AppError } from "@/server/errors";

describe("request identity helpers", () => {
  it("reads Jupyter-style and bearer token headers", () => {
    assert.equal(tokenFromHeader("token atr_abc"), "atr_abc");
    assert.equal(tokenFromHeader("Bearer atr_abc"), "atr_abc");
    assert.equal(tokenFromHeader("Basic Zm9vOmJhcg=="), undefined);
    assert.equal(tokenFromHeader(undefined), undefined);
  });

  it("reads plain and chunked cookies", () => {
    assert.equal(readCookie("a=1; atrium.session=xyz; b=2", "atrium.session"), "xyz");
    assert.equal(readCookie("atrium.session.0=ab; atrium.session.1=cd", "atrium.session"), "abcd");
    assert.equal(readCookie("other=1", "atrium.session"), undefined);
  });
});

describe("sign-in error words", () => {
  it("never says which of email or password was wrong", () => {
    const message = signInErrorMessage(signInErrorCode(new AppError("UNAUTHENTICATED", "x")));
    assert.equal(message, "Incorrect email or password.");
  });
  it("tells a throttled user how long to wait", () => {
    const code = signInErrorCode(new AppError("THROTTLED", "x", { retryAfterMs: 14 * 60_000 + 5 }));
    assert.equal(code, "throttled-15");
    assert.match(signInErrorMessage(code), /Too many failed sign-in attempts\. Try again in 15 minutes/);
  });
  it("tells a user whose sign-in raced the end of their sessions what happened and what to do", () => {
    // Regression: such a sign-in landed on the sign-in page with no message (server/auth/sessions.ts startSignInSession).
    const code = signInErrorCode(new AppError("UNAUTHENTICATED", SIGN_IN_INTERRUPTED, { reason: "sessions-ended" }));
    assert.equal(code, "sessions-ended");
    assert.equal(signInErrorMessage(code), SIGN_IN_INTERRUPTED);
    assert.match(SIGN_IN_INTERRUPTED, /sessions were just ended.*Sign in again\./);
  });
  it("keeps every other code's words", () => {
    const cases: [AppError, string, string][] = [
      [new AppError("FORBIDDEN", "x"), "disabled", ACCOUNT_DISABLED],
      [new AppError("UNAVAILABLE", "x"), "unavailable", "Sign-in could not check your account: the directory (LDAP) did not answer. Try again in a minute; if it goes on, tell an admin."],
      [new AppError("UNAUTHENTICATED", "x", { reason: "not-invited" }), "sso-not-invited", "Atrium has no account for your email address yet. Ask an Atrium admin to add you, then sign in again."],
      [new AppError("UNAUTHENTICATED", "x", { reason: "unverified" }), "sso-unverified", "Your identity provider or directory did not give a verified email address for your account, and Atrium needs one to know you. Ask its administrator, or an Atrium admin."],
    ];
    for (const [error, code, words] of cases) {
      assert.equal(signInErrorCode(error), code);
      assert.equal(signInErrorMessage(code), words);
    }
    assert.equal(ACCOUNT_DISABLED, "This account is disabled. Ask an admin to enable it.");
    assert.match(signInErrorMessage("sso-failed"), /^Single sign-on did not complete\./);
    assert.equal(signInErrorMessage(null), "");
    assert.equal(signInErrorMessage("something-else"), "Incorrect email or password.");
  });
});
