// Regression: signing in lost the page the user asked for; the page now travels as callbackUrl, which must never
// lead off the site (open redirect).
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { AFTER_SIGN_IN, safeCallbackPath, signInHref } from "./callback-url";

describe("the page to return to after signing in", () => {
  it("keeps paths on this site, with their query", () => {
    const kept = [
      "/notebook/Untitled1.ipynb",
      "/files/Data%20sets%20%C3%BC",
      "/usage",
      "/usage?from=2024-01-01&to=2024-02-01",
      "/files/a/b#top",
    ];
    for (const path of kept) assert.equal(safeCallbackPath(path), path, path);
    // Characters a browser would encode are encoded, not refused.
    assert.equal(safeCallbackPath("/files/Data sets ü"), "/files/Data%20sets%20%C3%BC");
  });

  it("refuses anything that could lead to another site", () => {
    const refused = [
      undefined,
      null,
      "",
      "https://evil.example/files",
      "http://localhost:9999/files",
      "//evil.example",
      "//evil.example/files",
      "/\\evil.example",
      "/\\/evil.example",
      "\\\\evil.example",
      "/files\\..\\..\\evil",
      "/\t/evil.example",
      "/\n/evil.example",
      "/.//evil.example",
      "/%2e//evil.example",
      "javascript:alert(1)",
      "files",
      " /files",
      `/${"a".repeat(3000)}`,
    ];
    for (const raw of refused) {
      const got = safeCallbackPath(raw);
      assert.equal(got, AFTER_SIGN_IN, JSON.stringify(raw));
    }
  });

  it("never comes back to the sign-in page itself (no loop)", () => {
    assert.equal(safeCallbackPath("/signin"), AFTER_SIGN_IN);
    assert.equal(safeCallbackPath("/signin?callbackUrl=%2Ffiles"), AFTER_SIGN_IN);
    assert.equal(safeCallbackPath("/./signin"), AFTER_SIGN_IN);
  });

  it("builds the sign-in link that comes back to the page", () => {
    assert.equal(signInHref("/notebook/Untitled1.ipynb"), "/signin?callbackUrl=%2Fnotebook%2FUntitled1.ipynb");
    assert.equal(signInHref("/files/Data%20sets%20%C3%BC?x=1"), "/signin?callbackUrl=%2Ffiles%2FData%2520sets%2520%25C3%25BC%3Fx%3D1");
    assert.equal(signInHref("/files"), "/signin");
    assert.equal(signInHref("//evil.example"), "/signin");
  });
});
