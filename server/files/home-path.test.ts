// The path rules of Atrium's own file API, as a table: what a URL tail or an input string becomes, or why
// it is refused. Guards the traversal refusals the Files page and the upload/download routes rely on.
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { isStorageError } from "@/server/storage/paths";
import { encodeHomePath, homePath, homePathFromUrl } from "./home-path";

const refused = (fn: () => unknown, message: RegExp) =>
  assert.throws(fn, (error: unknown) => isStorageError(error, "INVALID_PATH") && message.test((error as Error).message));

describe("homePath (tRPC input)", () => {
  const accepted: [string, string][] = [
    ["", ""],
    ["data.csv", "data.csv"],
    ["projects/q3/", "projects/q3"],
    ["projects//q3/./report.ipynb", "projects/q3/report.ipynb"],
    ["a:b.csv", "a:b.csv"],
    ["100%.csv", "100%.csv"],
  ];
  for (const [input, expected] of accepted) it(`accepts ${JSON.stringify(input)}`, () => assert.equal(homePath(input), expected));

  const refusals: [string, RegExp][] = [
    ["../other-user", /contains "\.\."/],
    ["projects/../../etc", /contains "\.\."/],
    ["..\\..\\etc", /contains "\.\."/],
    ["/etc/passwd", /starts with "\/", which would name a place on the server/],
    ["\\etc\\passwd", /starts with "\/"/],
    ["/", /starts with "\/"/],
    ["~/x", /starts with "~"/],
    ["C:/Windows", /Windows drive/],
    ["file:///etc/passwd", /looks like a URL/],
    ["a\u0000b", /control characters/],
    [".atrium-tmp-123", /reserved prefix/],
  ];
  for (const [input, message] of refusals) it(`refuses ${JSON.stringify(input)}`, () => refused(() => homePath(input), message));
});

describe("homePathFromUrl (upload/download URL tail)", () => {
  const accepted: [string, string][] = [
    ["", ""],
    ["data.csv", "data.csv"],
    ["my%20data/r%C3%A9sum%C3%A9.csv", "my data/résumé.csv"],
    ["a%2Fb.csv", "a/b.csv"], // an encoded slash is a separator, and stays inside the home
    ["100%25.csv", "100%.csv"], // decoded once: a literal '%' in a name survives
  ];
  for (const [input, expected] of accepted) it(`reads ${JSON.stringify(input)}`, () => assert.equal(homePathFromUrl(input), expected));

  const refusals: [string, RegExp][] = [
    ["../secret", /contains "\.\."/],
    ["%2e%2e/secret", /contains "\.\."/],
    ["%2E%2E%2F%2E%2E%2Fetc%2Fpasswd", /contains "\.\."/],
    ["..%2F..", /contains "\.\."/],
    ["a/%2e%2e%5c%2e%2e/b", /contains "\.\."/],
    ["/etc/passwd", /starts with "\/"/],
    ["%2Fetc%2Fpasswd", /starts with "\/"/],
    ["%5Cetc", /starts with "\/"/],
    ["%E0%A4%A", /malformed percent-encoding/],
    ["a%00b", /control characters/],
  ];
  for (const [input, message] of refusals) it(`refuses ${JSON.stringify(input)}`, () => refused(() => homePathFromUrl(input), message));

  it("round-trips names through encodeHomePath", () => {
    for (const path of ["a b/c#d?.csv", "100%.csv", "résumé/ü.txt", "x;y=z&w"]) assert.equal(homePathFromUrl(encodeHomePath(path)), path);
  });
});
