// files.saveText, behind the viewer's editor, in-process with a caller against a real database and real home
// folders: a save lands over the version the editor opened and nowhere else, a file changed on disk since is
// refused untouched (until the user chooses Overwrite), and what could not be opened here again is refused.
import assert from "node:assert/strict";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { after, before, describe, it } from "node:test";
import type { Database } from "@/db";
import type { UserRow } from "@/db/queries/users";
import { openTestDatabase, testDbKind } from "@/db/testing";
import { EDITABLE_TEXT_BYTES } from "@/server/files/text-files";
import { cliActor } from "@/server/identity/actor";
import { createUser } from "@/server/identity/users";
import { refusedWith, testCaller, testServices } from "@/server/trpc/testing";

describe(`files.saveText on ${testDbKind}`, () => {
  let db: Database;
  let close: () => Promise<void>;
  let ana: UserRow;
  let bob: UserRow;
  const homesDir = fs.mkdtempSync(path.join(os.tmpdir(), "atrium-text-"));
  const caller = (user: UserRow | null) => testCaller(testServices(db, homesDir), user);
  const file = (user: UserRow, name: string) => path.join(homesDir, user.username, name);

  before(async () => {
    ({ db, close } = await openTestDatabase());
    ana = await createUser(db, cliActor, { email: "ana@example.com", password: "analystpass" });
    bob = await createUser(db, cliActor, { email: "bob@example.com", password: "analystpass" });
    await caller(ana).files.list({ path: "" }); // makes the homes
    await caller(bob).files.list({ path: "" });
  });
  after(async () => {
    await close();
    fs.rmSync(homesDir, { recursive: true, force: true });
  });

  it("saves over the version the editor opened, and the next save follows on from it", async () => {
    const c = caller(ana);
    fs.writeFileSync(file(ana, "helpers.py"), "def f():\n    return 1\n");
    const opened = await c.files.preview({ path: "helpers.py" });
    const saved = await c.files.saveText({ path: "helpers.py", text: "def f():\n    return 2\n", expectedMtime: opened.entry.mtime });
    assert.equal(fs.readFileSync(file(ana, "helpers.py"), "utf8"), "def f():\n    return 2\n");
    assert.deepEqual([saved.path, saved.size, saved.mtime.getTime()], ["helpers.py", 22, fs.statSync(file(ana, "helpers.py")).mtime.getTime()]);
    await c.files.saveText({ path: "helpers.py", text: "é\n", expectedMtime: saved.mtime });
    assert.equal(fs.readFileSync(file(ana, "helpers.py"), "utf8"), "é\n");
  });

  it("refuses a save over a file changed on disk since, leaving it untouched, until the user overwrites", async () => {
    const c = caller(ana);
    fs.writeFileSync(file(ana, "notes.md"), "# mine\n");
    const opened = await c.files.preview({ path: "notes.md" });
    await new Promise((resolve) => setTimeout(resolve, 15));
    fs.writeFileSync(file(ana, "notes.md"), "# theirs\n");
    await assert.rejects(
      c.files.saveText({ path: "notes.md", text: "# edited\n", expectedMtime: opened.entry.mtime }),
      refusedWith("CONFLICT", /"notes.md" changed on disk since you opened it\. Overwrite it with your version, or reload the file\./),
    );
    assert.equal(fs.readFileSync(file(ana, "notes.md"), "utf8"), "# theirs\n");
    await c.files.saveText({ path: "notes.md", text: "# edited\n", expectedMtime: opened.entry.mtime, force: true });
    assert.equal(fs.readFileSync(file(ana, "notes.md"), "utf8"), "# edited\n");
    // A file deleted meanwhile is a conflict too: the save does not bring it back unasked.
    const now = fs.statSync(file(ana, "notes.md")).mtime;
    fs.rmSync(file(ana, "notes.md"));
    await assert.rejects(c.files.saveText({ path: "notes.md", text: "x", expectedMtime: now }), refusedWith("CONFLICT", /changed on disk/));
    assert.equal(fs.existsSync(file(ana, "notes.md")), false);
  });

  it("refuses what could not be opened here again: notebooks, text over the limit; and keeps to the caller's home", async () => {
    const c = caller(ana);
    fs.writeFileSync(file(ana, "big.txt"), "small\n");
    const mtime = fs.statSync(file(ana, "big.txt")).mtime;
    // 2-byte characters: under the limit in characters, over it in bytes.
    await assert.rejects(
      c.files.saveText({ path: "big.txt", text: "é".repeat(EDITABLE_TEXT_BYTES / 2 + 1), expectedMtime: mtime }),
      refusedWith("BAD_REQUEST", /^Not saved: the text is 1(\.0)? MiB, over the 1(\.0)? MiB a file edited here may have/),
    );
    assert.equal(fs.readFileSync(file(ana, "big.txt"), "utf8"), "small\n");
    await assert.rejects(c.files.saveText({ path: "Analysis.IPYNB", text: "{}", expectedMtime: mtime }), refusedWith("BAD_REQUEST", /is a notebook: open it as a notebook/));
    await assert.rejects(c.files.saveText({ path: `../${bob.username}/x.txt`, text: "x", expectedMtime: mtime }), refusedWith("BAD_REQUEST", /contains "\.\."/));
    await assert.rejects(caller(null).files.saveText({ path: "big.txt", text: "x", expectedMtime: mtime }), refusedWith("UNAUTHORIZED", /Sign in/));
  });
});
