import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { decodeTextPrefix, kindByName } from "./file-kind";

describe("kindByName", () => {
  it("knows images, tables and common binary formats by their extension, in any case", () => {
    const cases: [string, string][] = [
      ["chart.png", "image"],
      ["photo.JPG", "image"],
      ["photo.jpeg", "image"],
      ["anim.gif", "image"],
      ["pic.webp", "image"],
      ["logo.svg", "image"],
      ["sales.csv", "csv"],
      ["SALES.CSV", "csv"],
      ["export.tsv", "tsv"],
      ["data.parquet", "binary"],
      ["archive.tar.gz", "binary"],
      ["model.pkl", "binary"],
      ["notes.txt", "text"],
      ["run.log", "text"],
      ["Makefile", "text"],
      [".bashrc", "text"],
      ["weights.dat", "text"], // unknown: the bytes decide
    ];
    for (const [name, kind] of cases) assert.equal(kindByName(name), kind, name);
  });
});

describe("decodeTextPrefix", () => {
  const utf8 = (text: string) => new TextEncoder().encode(text);

  it("decodes UTF-8 text and drops a byte-order mark", () => {
    assert.equal(decodeTextPrefix(utf8("héllo, wörld ✓\n"), false), "héllo, wörld ✓\n");
    assert.equal(decodeTextPrefix(new Uint8Array([0xef, 0xbb, 0xbf, 0x61]), false), "a");
    assert.equal(decodeTextPrefix(new Uint8Array(), false), "");
  });

  it("calls bytes with a NUL, or that are not UTF-8, binary", () => {
    assert.equal(decodeTextPrefix(new Uint8Array([0x61, 0x00, 0x62]), false), null);
    assert.equal(decodeTextPrefix(new Uint8Array([0x89, 0x50, 0x4e, 0x47]), false), null); // PNG signature
    assert.equal(decodeTextPrefix(new Uint8Array([0x63, 0x61, 0x66, 0xe9]), false), null); // "café" in Latin-1
    assert.equal(decodeTextPrefix(utf8("a\u0000"), true), null);
  });

  it("in a cut prefix, drops a character split at the end instead of calling the file binary", () => {
    for (const char of ["é", "✓", "😀"]) {
      const bytes = utf8(`ab${char}`);
      for (let cutAt = 3; cutAt < bytes.length; cutAt++) {
        assert.equal(decodeTextPrefix(bytes.subarray(0, cutAt), true), "ab", `${char} cut after ${cutAt} bytes`);
      }
      assert.equal(decodeTextPrefix(bytes, true), `ab${char}`);
      // In a whole file, a split character is what it is: not UTF-8.
      assert.equal(decodeTextPrefix(bytes.subarray(0, bytes.length - 1), false), null);
    }
  });
});
