import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { clipTail } from "./text-clip";

describe("clipTail", () => {
  it("shows short text whole", () => {
    assert.deepEqual(clipTail("a\nb\n"), { shown: "a\nb\n", hiddenLines: 0, hiddenChars: 0 });
  });

  it("shows the last lines of a long stream and counts the hidden ones", () => {
    const text = Array.from({ length: 100_000 }, (_, i) => `${i}\n`).join("");
    const clipped = clipTail(text, 1000);
    assert.equal(clipped.hiddenLines, 99_000);
    assert.ok(clipped.shown.startsWith("99000\n"));
    assert.ok(clipped.shown.endsWith("99999\n"));
  });

  it("clips one enormous line by characters", () => {
    const clipped = clipTail("x".repeat(500_000), 1000, 200_000);
    assert.equal(clipped.shown.length, 200_000);
    assert.equal(clipped.hiddenChars, 300_000);
  });
});
