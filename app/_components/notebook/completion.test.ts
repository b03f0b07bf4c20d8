import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { commonPrefix, documentationText, planCompletion, tabIndents } from "./completion";

describe("commonPrefix", () => {
  const cases: [string[], string][] = [
    [[], ""],
    [["OrderedDict"], "OrderedDict"],
    [["Counter", "ChainMap"], "C"],
    [["defaultdict", "deque"], "de"],
    [["abc", "xyz"], ""],
    [["abc", "abc"], "abc"],
    [["abc", "ab", "abcd"], "ab"],
    [["", "abc"], ""],
  ];
  for (const [words, expected] of cases) {
    it(`${JSON.stringify(words)} → ${JSON.stringify(expected)}`, () => assert.equal(commonPrefix(words), expected));
  }
});

describe("tabIndents", () => {
  const cases: [string, boolean][] = [
    ["", true],
    ["    ", true],
    ["\t", true],
    ["x", false],
    ["    collections.Ord", false],
    ["x = ", false],
  ];
  for (const [before, expected] of cases) {
    it(`${JSON.stringify(before)} → ${expected}`, () => assert.equal(tabIndents(before), expected));
  }
});

describe("planCompletion", () => {
  // Regression: a single match (collections.Ord + Tab) showed a one-item list instead of being inserted.
  it("inserts a single match at once, replacing what was typed", () => {
    const code = "import collections\ncollections.Ord";
    const start = code.length - 3;
    assert.deepEqual(planCompletion(code, { matches: ["OrderedDict"], start, end: code.length }), {
      kind: "insert",
      from: start,
      to: code.length,
      text: "OrderedDict",
    });
  });

  it("counts repeated matches once", () => {
    assert.deepEqual(planCompletion("pri", { matches: ["print", "print"], start: 0, end: 3 }), { kind: "insert", from: 0, to: 3, text: "print" });
  });

  it("inserts the common prefix of several matches when it extends what was typed, and lists them", () => {
    assert.deepEqual(planCompletion("de", { matches: ["defaultdict", "deque", "del"], start: 0, end: 2 }), {
      kind: "list",
      from: 0,
      to: 2,
      insert: null,
      options: ["defaultdict", "deque", "del"],
    });
    assert.deepEqual(planCompletion("x.is", { matches: ["isalpha", "isdigit"], start: 2, end: 4 }), {
      kind: "list",
      from: 2,
      to: 4,
      insert: null, // "is" is already typed
      options: ["isalpha", "isdigit"],
    });
    assert.deepEqual(planCompletion("x.i", { matches: ["isalpha", "isdigit"], start: 2, end: 3 }), {
      kind: "list",
      from: 2,
      to: 3,
      insert: "is",
      options: ["isalpha", "isdigit"],
    });
  });

  it("never inserts a prefix that does not start with what was typed (keys, fuzzy matches)", () => {
    const plan = planCompletion('d["', { matches: ['"alpha"', '"alps"'], start: 2, end: 3 });
    assert.deepEqual(plan, { kind: "list", from: 2, to: 3, insert: '"alp', options: ['"alpha"', '"alps"'] });
    const fuzzy = planCompletion("xyz", { matches: ["abc_xyz", "abd_xyz"], start: 0, end: 3 });
    assert.equal(fuzzy.kind === "list" && fuzzy.insert, null);
  });

  it("does nothing without matches, without a reply, or for a range outside the code", () => {
    assert.deepEqual(planCompletion("zzz", { matches: [], start: 0, end: 3 }), { kind: "none" });
    assert.deepEqual(planCompletion("zzz", null), { kind: "none" });
    assert.deepEqual(planCompletion("zzz", { matches: ["a"], start: 0, end: 9 }), { kind: "none" });
    assert.deepEqual(planCompletion("zzz", { matches: ["a"], start: 2, end: 1 }), { kind: "none" });
    assert.deepEqual(planCompletion("zzz", { matches: ["a"], start: Number.NaN, end: 1 }), { kind: "none" });
  });
});

describe("documentationText", () => {
  it("drops ANSI colours and blank edges", () => {
    const text = "\x1b[0;31mSignature:\x1b[0m print(*args, sep=' ')\n\x1b[0;31mDocstring:\x1b[0m\nPrints the values to a stream.\n\n";
    assert.equal(documentationText(text), "Signature: print(*args, sep=' ')\nDocstring:\nPrints the values to a stream.");
  });

  it("is null when the kernel has nothing to say", () => {
    assert.equal(documentationText(null), null);
    assert.equal(documentationText(undefined), null);
    assert.equal(documentationText(" \n\x1b[0m\n"), null);
  });
});
