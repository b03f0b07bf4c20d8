import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { chunkLines, clipTail } from "./text-clip";

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

  it("drops hidden lines a step at a time, so the lines on screen stay put while a stream grows", () => {
    const lines = (n: number) => Array.from({ length: n }, (_, i) => `${i}\n`).join("");
    assert.equal(clipTail(lines(1500), 1000, 200_000, 1000).hiddenLines, 0);
    const at2500 = clipTail(lines(2500), 1000, 200_000, 1000);
    assert.equal(at2500.hiddenLines, 1000);
    assert.ok(at2500.shown.startsWith("1000\n"));
    assert.equal(at2500.hiddenChars, lines(1000).length);
    const at2999 = clipTail(lines(2999), 1000, 200_000, 1000);
    assert.equal(at2999.hiddenLines, 1000);
    assert.equal(at2999.shown, lines(2999).slice(lines(1000).length));
    const at100k = clipTail(lines(100_000), 1000, 200_000, 1000);
    assert.equal(at100k.hiddenLines, 99_000);
    assert.ok(at100k.shown.startsWith("99000\n"));
  });

  it("clips one enormous line by characters", () => {
    const clipped = clipTail("x".repeat(500_000), 1000, 200_000);
    assert.equal(clipped.shown.length, 200_000);
    assert.equal(clipped.hiddenChars, 300_000);
  });
});

describe("chunkLines", () => {
  it("splits text into blocks that join back to it", () => {
    const text = Array.from({ length: 7 }, (_, i) => `${i}\n`).join("") + "partial";
    const chunks = chunkLines(text, 0, 3);
    assert.deepEqual(chunks, [
      { key: 0, text: "0\n1\n2\n" },
      { key: 1, text: "3\n4\n5\n" },
      { key: 2, text: "6\npartial" },
    ]);
    assert.equal(chunks.map((c) => c.text).join(""), text);
  });

  it("aligns blocks on the whole output's lines, so a sliding tail keeps its middle blocks", () => {
    const lines = (from: number, to: number) => Array.from({ length: to - from }, (_, i) => `${from + i}\n`).join("");
    const before = chunkLines(lines(4, 12), 4, 3);
    const after = chunkLines(lines(6, 14), 6, 3);
    assert.deepEqual(before.map((c) => c.key), [1, 2, 3]);
    assert.deepEqual(before[0], { key: 1, text: "4\n5\n" });
    assert.deepEqual(after[0], { key: 2, text: "6\n7\n8\n" });
    assert.deepEqual(after[1], before[2]); // "9\n10\n11\n": unchanged, same key
    assert.equal(after.map((c) => c.text).join(""), lines(6, 14));
  });

  it("keeps empty lines and empty text", () => {
    assert.deepEqual(chunkLines("", 0, 3), []);
    assert.deepEqual(chunkLines("\n\n\n\n", 0, 3), [{ key: 0, text: "\n\n\n" }, { key: 1, text: "\n" }]);
  });
});
