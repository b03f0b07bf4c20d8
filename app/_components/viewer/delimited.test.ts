import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { parseDelimited } from "./delimited";

const csv = (text: string, maxRows = 1000, cut = false) => parseDelimited(text, { delimiter: ",", maxRows, cut });

describe("parseDelimited", () => {
  it("reads fields as RFC 4180 writes them", () => {
    const cases: [string, string[][]][] = [
      ["a,b\n1,2\n", [["a", "b"], ["1", "2"]]],
      ["a,b\r\n1,2\r\n", [["a", "b"], ["1", "2"]]],
      ["a,b\r1,2", [["a", "b"], ["1", "2"]]],
      ["a,b\n1,2", [["a", "b"], ["1", "2"]]], // no line break at the end
      ['name,city\n"Smith, Jo","Paris"\n', [["name", "city"], ["Smith, Jo", "Paris"]]],
      ['q\n"she said ""hi"""\n', [["q"], ['she said "hi"']]],
      ['note,n\n"two\nlines",1\n"crlf\r\ninside",2\n', [["note", "n"], ["two\nlines", "1"], ["crlf\r\ninside", "2"]]],
      ['a\n""\n', [["a"], [""]]],
      ["a,b,c\n,,\n", [["a", "b", "c"], ["", "", ""]]],
      ["a,b\n1,\n", [["a", "b"], ["1", ""]]],
      ["a,b\n1,", [["a", "b"], ["1", ""]]],
      ["a\n\n1\n\n", [["a"], ["1"]]], // blank lines carry no row
      ['a,b\n5" screen,x\n', [["a", "b"], ['5" screen', "x"]]], // a stray quote in an unquoted field is text
      ['a\n"closed"after\n', [["a"], ["closedafter"]]],
      ['a\n"never closed, at all\n', [["a"], ["never closed, at all\n"]]],
      ["", []],
    ];
    for (const [text, expected] of cases) {
      const table = csv(text);
      assert.deepEqual([table.header, ...table.rows], expected.length ? expected : [[]], JSON.stringify(text));
    }
  });

  it("splits TSV on tabs, keeping commas inside fields", () => {
    const table = parseDelimited('id\tnote\n1\tred, green\n2\t"tab\there"\n', { delimiter: "\t", maxRows: 10 });
    assert.deepEqual(table.header, ["id", "note"]);
    assert.deepEqual(table.rows, [["1", "red, green"], ["2", "tab\there"]]);
  });

  it("counts the widest row's columns, so ragged rows still fit the table", () => {
    const table = csv("a,b\n1\n1,2,3,4\n");
    assert.equal(table.columns, 4);
    assert.deepEqual(table.rows, [["1"], ["1", "2", "3", "4"]]);
  });

  it("stops at maxRows rows after the header and says more follow", () => {
    const text = "n\n" + Array.from({ length: 1500 }, (_, i) => `${i}\n`).join("");
    const table = csv(text, 1000);
    assert.equal(table.rows.length, 1000);
    assert.deepEqual(table.rows.at(-1), ["999"]);
    assert.equal(table.moreRows, true);
    const exact = csv("n\n1\n2\n\n", 2);
    assert.deepEqual([exact.rows.length, exact.moreRows], [2, false]);
  });

  it("leaves out a last row that a cut text does not finish, even inside quotes", () => {
    const cutMidRow = csv("a,b\n1,2\n3,4", 1000, true);
    assert.deepEqual(cutMidRow.rows, [["1", "2"]]);
    assert.equal(cutMidRow.lastRowCut, true);
    const cutInQuotes = csv('a,b\n1,2\n"three,\nfo', 1000, true);
    assert.deepEqual(cutInQuotes.rows, [["1", "2"]]);
    assert.equal(cutInQuotes.lastRowCut, true);
    const cutAtLineEnd = csv("a,b\n1,2\n", 1000, true);
    assert.deepEqual([cutAtLineEnd.rows, cutAtLineEnd.lastRowCut], [[["1", "2"]], false]);
  });
});
