import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { readCookie, tokenFromHeader } from "./session";
import { signInErrorCode, signInErrorMessage } from "./sign-in-errors";
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
});
