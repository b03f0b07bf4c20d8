import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { ansiStyleAfter, paletteColor, parseAnsi, stripAnsi } from "./ansi";

describe("parseAnsi", () => {
  it("keeps plain text as one unstyled segment", () => {
    assert.deepEqual(parseAnsi("hello"), [{ text: "hello", style: {} }]);
  });

  it("colours text and resets", () => {
    const segments = parseAnsi("\x1b[31mred\x1b[0m plain");
    assert.deepEqual(segments, [
      { text: "red", style: { fg: "var(--ansi-red)" } },
      { text: " plain", style: {} },
    ]);
  });

  it("reads IPython's traceback colours (bright, bold, combined codes)", () => {
    const segments = parseAnsi("\x1b[1;31mZeroDivisionError\x1b[39m: x\x1b[0m");
    assert.equal(segments[0]!.text, "ZeroDivisionError");
    assert.equal(segments[0]!.style.bold, true);
    assert.equal(segments[0]!.style.fg, "var(--ansi-red)");
    assert.deepEqual(segments[1], { text: ": x", style: { bold: true } });
  });

  it("reads 256-colour and true-colour codes", () => {
    assert.equal(parseAnsi("\x1b[38;5;196mx")[0]!.style.fg, "rgb(255, 0, 0)");
    assert.equal(parseAnsi("\x1b[48;2;1;2;3mx")[0]!.style.bg, "rgb(1, 2, 3)");
    assert.equal(paletteColor(232), "rgb(8, 8, 8)");
    assert.equal(paletteColor(9), "var(--ansi-bright-red)");
  });

  it("drops non-colour escapes (cursor moves, OSC titles) without leaking them", () => {
    assert.equal(stripAnsi("a\x1b[2Kb\x1b]0;title\x07c"), "abc");
    assert.deepEqual(parseAnsi("a\x1b[2Kb"), [{ text: "ab", style: {} }]);
  });

  it("never turns text into markup", () => {
    assert.deepEqual(parseAnsi("<script>"), [{ text: "<script>", style: {} }]);
  });

  it("continues a colour across pieces of one text (long output is rendered in blocks of lines)", () => {
    const first = "\x1b[32mgreen\n";
    const second = "still green\x1b[0m\nplain";
    const carried = ansiStyleAfter(first);
    assert.deepEqual(carried, { fg: "var(--ansi-green)" });
    assert.deepEqual(parseAnsi(second, carried), [
      { text: "still green", style: { fg: "var(--ansi-green)" } },
      { text: "\nplain", style: {} },
    ]);
    assert.deepEqual([...parseAnsi(first), ...parseAnsi(second, carried)].map((s) => s.text).join(""), stripAnsi(first + second));
  });
});
