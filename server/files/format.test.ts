// Regression: 300,000,000 bytes showed as "286 MB" (counted in 1024s, labelled in 1000s). Binary units are
// labelled as such, like the portal's other size messages.
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { formatBytes } from "./format";

describe("file sizes in words", () => {
  it("labels sizes counted in 1024s with binary units", () => {
    const cases: [number, string][] = [
      [0, "0 B"],
      [22, "22 B"],
      [1023, "1023 B"],
      [1024, "1 KiB"],
      [1536, "1.5 KiB"],
      [1024 * 1024 - 1, "1 MiB"],
      [8 * 1024 * 1024, "8 MiB"],
      [300_000_000, "286 MiB"],
      [5 * 1024 ** 3, "5 GiB"],
      [2.5 * 1024 ** 4, "2.5 TiB"],
    ];
    for (const [bytes, words] of cases) assert.equal(formatBytes(bytes), words, String(bytes));
  });

  it("says nothing sensible about nonsense", () => {
    for (const bytes of [-1, Number.NaN, Number.POSITIVE_INFINITY]) assert.equal(formatBytes(bytes), "—");
  });
});
