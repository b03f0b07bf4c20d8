import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { open, seal, SealError } from "./secret-box";

const secret = "s".repeat(40);

describe("secret box", () => {
  it("round-trips and never stores the plaintext", () => {
    const sealed = seal(secret, '{"key":"abc"}');
    assert.ok(!sealed.includes("abc"));
    assert.equal(open(secret, sealed), '{"key":"abc"}');
    assert.notEqual(seal(secret, "x"), seal(secret, "x"), "a fresh IV each time");
  });
  it("refuses another secret, tampering and junk", () => {
    const sealed = seal(secret, "hello");
    assert.throws(() => open("t".repeat(40), sealed), SealError);
    const flipped = sealed.slice(0, -2) + (sealed.endsWith("A") ? "B" : "A") + sealed.slice(-1);
    assert.throws(() => open(secret, flipped), SealError);
    assert.throws(() => open(secret, "hello"), SealError);
    assert.throws(() => open(secret, "v1.AAAA"), SealError);
  });
});
