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
    // Flip one bit of the ciphertext itself (editing base64 text can land on padding bits and change nothing).
    const raw = Buffer.from(sealed.slice(3), "base64url");
    raw[raw.length - 1]! ^= 0x01;
    assert.throws(() => open(secret, "v1." + raw.toString("base64url")), SealError);
    assert.throws(() => open(secret, "hello"), SealError);
    assert.throws(() => open(secret, "v1.AAAA"), SealError);
  });
});
