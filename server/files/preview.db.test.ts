// The files.preview procedure behind /view/<path>, in-process with a caller against a real database and real home
// folders: each kind of file gets the right viewer, text is read only up to PREVIEW_BYTES, and the home is the
// session's (traversal and links out of it refused as every files procedure refuses them). The procedure is in
// server/trpc/routers/files.ts, its logic in preview.ts.
import assert from "node:assert/strict";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { after, before, describe, it } from "node:test";
import { PREVIEW_BYTES } from "@/server/files/file-kind";
import type { Database } from "@/db";
import type { UserRow } from "@/db/queries/users";
import { openTestDatabase, testDbKind } from "@/db/testing";
import { cliActor } from "@/server/identity/actor";
import { createUser } from "@/server/identity/users";
import { refusedWith, testCaller, testServices } from "@/server/trpc/testing";

describe(`files.preview on ${testDbKind}`, () => {
  let db: Database;
  let close: () => Promise<void>;
  let ana: UserRow;
  let bob: UserRow;
  const homesDir = fs.mkdtempSync(path.join(os.tmpdir(), "atrium-preview-"));
  const outside = fs.mkdtempSync(path.join(os.tmpdir(), "atrium-outside-"));
  const caller = (user: UserRow | null) => testCaller(testServices(db, homesDir), user);
  const write = (user: UserRow, name: string, data: string | Buffer) => fs.writeFileSync(path.join(homesDir, user.username, name), data);

  before(async () => {
    ({ db, close } = await openTestDatabase());
    ana = await createUser(db, cliActor, { email: "ana@example.com", password: "analystpass" });
    bob = await createUser(db, cliActor, { email: "bob@example.com", password: "analystpass" });
    fs.writeFileSync(path.join(outside, "secret.txt"), "not yours");
    await caller(ana).files.list({ path: "" }); // makes ana's home
    await caller(bob).files.list({ path: "" });
  });
  after(async () => {
    await close();
    fs.rmSync(homesDir, { recursive: true, force: true });
    fs.rmSync(outside, { recursive: true, force: true });
  });

  it("refuses anonymous callers", async () => {
    await assert.rejects(caller(null).files.preview({ path: "x.txt" }), refusedWith("UNAUTHORIZED", /Sign in/));
  });

  it("gives each kind of file its viewer", async () => {
    const c = caller(ana);
    write(ana, "sales.csv", 'a,b\n"x, y",2\n');
    write(ana, "export.tsv", "a\tb\n1\t2\n");
    write(ana, "notes.md", "# Notes\n");
    write(ana, "chart.png", Buffer.from([0x89, 0x50, 0x4e, 0x47]));
    write(ana, "logo.svg", '<svg xmlns="http://www.w3.org/2000/svg"/>');
    write(ana, "data.parquet", "PAR1 not read");
    write(ana, "weights.dat", Buffer.from([1, 0, 2]));
    write(ana, "latin1.txt", Buffer.from([0x63, 0x61, 0x66, 0xe9]));
    fs.mkdirSync(path.join(homesDir, ana.username, "folder.csv"));

    const csv = await c.files.preview({ path: "sales.csv" });
    assert.deepEqual(csv.kind === "csv" && [csv.text, csv.truncated, csv.previewBytes, csv.entry.size], ['a,b\n"x, y",2\n', false, 13, 13]);
    assert.equal((await c.files.preview({ path: "export.tsv" })).kind, "tsv");
    const md = await c.files.preview({ path: "notes.md" });
    assert.deepEqual(md.kind === "text" && md.text, "# Notes\n");
    const png = await c.files.preview({ path: "chart.png" });
    assert.deepEqual([png.kind, "svg" in png], ["image", false]);
    const svg = await c.files.preview({ path: "logo.svg" });
    assert.deepEqual(svg.kind === "image" && svg.svg, '<svg xmlns="http://www.w3.org/2000/svg"/>');
    for (const name of ["data.parquet", "weights.dat", "latin1.txt"]) assert.equal((await c.files.preview({ path: name })).kind, "binary", name);
    assert.deepEqual((await c.files.preview({ path: "folder.csv" })).kind, "directory");
  });

  it("reads only the first PREVIEW_BYTES of a large text file and says it was cut", async () => {
    const line = `${"x".repeat(62)}é\n`; // 65 bytes: a 2-byte character crosses the cut somewhere
    const big = line.repeat(Math.ceil((3 * PREVIEW_BYTES) / Buffer.byteLength(line)));
    write(ana, "big.log", big);
    const preview = await caller(ana).files.preview({ path: "big.log" });
    assert.equal(preview.kind, "text");
    if (preview.kind !== "text") return;
    assert.equal(preview.truncated, true);
    assert.equal(preview.previewBytes, PREVIEW_BYTES);
    assert.equal(preview.entry.size, Buffer.byteLength(big));
    assert.ok(big.startsWith(preview.text), "the text is the file's start, without a character split at the cut");
    assert.ok(Buffer.byteLength(preview.text) > PREVIEW_BYTES - 4);
  });

  it("explains a missing file, and keeps to the caller's own home", async () => {
    write(bob, "bobs.txt", "bob's");
    const c = caller(ana);
    // One call at a time: a promise made up front and refused before it is awaited is an unhandled rejection.
    const cases: [string, string, RegExp][] = [
      ["gone.csv", "NOT_FOUND", /"gone.csv" does not exist/],
      ["gone.png", "NOT_FOUND", /"gone.png" does not exist/],
      [`../${bob.username}/bobs.txt`, "BAD_REQUEST", /contains "\.\.", which would leave the folder/],
      ["../../etc/passwd", "BAD_REQUEST", /contains "\.\."/],
      ["/etc/passwd", "BAD_REQUEST", /starts with "\/"/],
      ["bobs.txt", "NOT_FOUND", /"bobs.txt" does not exist/],
    ];
    for (const [input, code, message] of cases) await assert.rejects(c.files.preview({ path: input }), refusedWith(code, message), input);
    fs.symlinkSync(path.join(outside, "secret.txt"), path.join(homesDir, ana.username, "secret-link.txt"));
    await assert.rejects(c.files.preview({ path: "secret-link.txt" }), refusedWith("FORBIDDEN", /leads outside your home folder/));
  });
});
