// The files procedures, in-process with a caller against a real database and real home folders: each does
// what it says, the user is the session's, and traversal (.., absolute paths, links out of the home) is
// refused with a clear message.
import assert from "node:assert/strict";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { after, before, describe, it } from "node:test";
import { randomUUID } from "node:crypto";
import type { Database } from "@/db";
import { insertKernel } from "@/db/queries/kernels";
import { saveCellRun } from "@/db/queries/notebooks";
import type { UserRow } from "@/db/queries/users";
import { openTestDatabase, testDbKind } from "@/db/testing";
import { cliActor } from "@/server/identity/actor";
import { createUser } from "@/server/identity/users";
import { refusedWith, testCaller, testServices } from "@/server/trpc/testing";

describe(`files procedures on ${testDbKind}`, () => {
  let db: Database;
  let close: () => Promise<void>;
  let ana: UserRow;
  let bob: UserRow;
  const homesDir = fs.mkdtempSync(path.join(os.tmpdir(), "atrium-files-"));
  const outside = fs.mkdtempSync(path.join(os.tmpdir(), "atrium-outside-"));
  const caller = (user: UserRow | null) => testCaller(testServices(db, homesDir), user);

  before(async () => {
    ({ db, close } = await openTestDatabase());
    ana = await createUser(db, cliActor, { email: "ana@example.com", password: "analystpass" });
    bob = await createUser(db, cliActor, { email: "bob@example.com", password: "analystpass" });
    fs.writeFileSync(path.join(outside, "secret.txt"), "not yours");
  });
  after(async () => {
    await close();
    fs.rmSync(homesDir, { recursive: true, force: true });
    fs.rmSync(outside, { recursive: true, force: true });
  });

  it("refuses anonymous callers", async () => {
    await assert.rejects(caller(null).files.list({ path: "" }), refusedWith("UNAUTHORIZED", /Sign in/));
  });

  it("makes, lists, stats, renames and deletes in the caller's own home", async () => {
    const c = caller(ana);
    assert.deepEqual((await c.files.list({ path: "" })).entries, []);
    const made = await c.files.mkdir({ path: "projects" });
    assert.deepEqual([made.path, made.type], ["projects", "directory"]);
    fs.writeFileSync(path.join(homesDir, ana.username, "projects", "data.csv"), "a,b\n1,2\n");

    const listed = await c.files.list({ path: "projects/" });
    assert.equal(listed.path, "projects");
    assert.deepEqual(listed.entries.map((e) => [e.name, e.path, e.type, e.size]), [["data.csv", "projects/data.csv", "file", 8]]);
    assert.ok(listed.entries[0]!.mtime instanceof Date);
    assert.equal("mode" in listed.entries[0]!, false, "no host permission bits reach the browser");

    const renamed = await c.files.rename({ from: "projects/data.csv", to: "projects/sales.csv" });
    assert.equal(renamed.path, "projects/sales.csv");
    assert.equal((await c.files.stat({ path: "projects/sales.csv" })).size, 8);
    await assert.rejects(c.files.stat({ path: "projects/data.csv" }), refusedWith("NOT_FOUND", /"projects\/data.csv" does not exist/));

    await assert.rejects(c.files.mkdir({ path: "projects" }), refusedWith("CONFLICT", /already exists/));
    await assert.rejects(c.files.delete({ path: "projects" }), refusedWith("CONFLICT", /not empty/));
    await c.files.delete({ path: "projects", recursive: true });
    assert.deepEqual((await c.files.list({ path: "" })).entries, []);
  });

  it("creates Untitled.ipynb, then Untitled1.ipynb, as nbformat 4.5", async () => {
    const c = caller(ana);
    await c.files.mkdir({ path: "nb" });
    assert.deepEqual(await c.files.newNotebook({ dir: "nb" }), { path: "nb/Untitled.ipynb" });
    assert.deepEqual(await c.files.newNotebook({ dir: "nb" }), { path: "nb/Untitled1.ipynb" });
    const both = await Promise.all([c.files.newNotebook({ dir: "nb" }), c.files.newNotebook({ dir: "nb" })]);
    assert.deepEqual(both.map((r) => r.path).sort(), ["nb/Untitled2.ipynb", "nb/Untitled3.ipynb"], "two at once get two notebooks");
    const nb = JSON.parse(fs.readFileSync(path.join(homesDir, ana.username, "nb", "Untitled.ipynb"), "utf8"));
    assert.deepEqual([nb.nbformat, nb.nbformat_minor, nb.metadata.kernelspec.name], [4, 5, "python3"], "the portal's default kernelspec, recorded");
    assert.deepEqual(nb.cells.map((cell: { cell_type: string; source: string[] }) => [cell.cell_type, cell.source]), [["code", []]]);
    await assert.rejects(c.files.newNotebook({ dir: "missing" }), refusedWith("NOT_FOUND", /"missing" does not exist/));
  });

  it("takes the home from the session: another user's files are out of reach", async () => {
    await caller(bob).files.mkdir({ path: "bobs" });
    assert.deepEqual((await caller(ana).files.list({ path: "" })).entries.map((e) => e.name).includes("bobs"), false);
    await assert.rejects(caller(ana).files.list({ path: `../${bob.username}` }), refusedWith("BAD_REQUEST", /contains "\.\."/));
  });

  it("refuses traversal with a clear message", async () => {
    const c = caller(ana);
    // Each call made when its turn comes: a call made early could fail before anyone listens (an unhandled rejection).
    const cases: [() => Promise<unknown>, string, RegExp][] = [
      [() => c.files.list({ path: "../.." }), "BAD_REQUEST", /contains "\.\.", which would leave the folder/],
      [() => c.files.list({ path: "/etc" }), "BAD_REQUEST", /starts with "\/", which would name a place on the server/],
      [() => c.files.stat({ path: "nb/../../x" }), "BAD_REQUEST", /contains "\.\."/],
      [() => c.files.mkdir({ path: "..\\evil" }), "BAD_REQUEST", /contains "\.\."/],
      [() => c.files.rename({ from: "nb", to: "../nb" }), "BAD_REQUEST", /contains "\.\."/],
      [() => c.files.rename({ from: "nb", to: "/tmp/nb" }), "BAD_REQUEST", /starts with "\/"/],
      [() => c.files.delete({ path: "../bob", recursive: true }), "BAD_REQUEST", /contains "\.\."/],
      [() => c.files.delete({ path: "", recursive: true }), "BAD_REQUEST", /home folder itself cannot be deleted/],
      [() => c.files.newNotebook({ dir: "/tmp" }), "BAD_REQUEST", /starts with "\/"/],
      [() => c.files.list({ path: "%2e%2e" }), "NOT_FOUND", /"%2e%2e" does not exist/], // input is data, never URL-decoded
    ];
    for (const [call, code, message] of cases) await assert.rejects(call(), refusedWith(code, message));
  });

  it("refuses links that lead out of the home", async () => {
    const home = path.join(homesDir, ana.username);
    fs.symlinkSync(outside, path.join(home, "escape"));
    fs.symlinkSync(path.join(outside, "secret.txt"), path.join(home, "secret-link.txt"));
    const c = caller(ana);
    await assert.rejects(c.files.list({ path: "escape" }), refusedWith("FORBIDDEN", /leads outside your home folder through a link/));
    await assert.rejects(c.files.stat({ path: "secret-link.txt" }), refusedWith("FORBIDDEN", /leads outside your home folder/));
    await assert.rejects(c.files.mkdir({ path: "escape/new" }), refusedWith("FORBIDDEN", /leads outside your home folder/));
    await assert.rejects(c.files.newNotebook({ dir: "escape" }), refusedWith("FORBIDDEN", /leads outside your home folder/));
    // The listing leaves escaping links out, and deleting one removes the link, never its target.
    assert.equal((await c.files.list({ path: "" })).entries.some((e) => e.name === "escape"), false);
    await c.files.delete({ path: "escape" });
    assert.ok(fs.existsSync(path.join(outside, "secret.txt")));
  });

  // Regression: notebook_kernels and cell_runs are keyed by path, and rename/delete left them on the old path,
  // so a new notebook at that path attached to the old kernel, and the renamed one lost its kernel and outputs.
  describe("a notebook's kernel and recorded runs follow rename and delete", () => {
    const kernelOf = async (user: UserRow) => (await insertKernel(db, { id: randomUUID(), ownerId: user.id, teamId: null, kernelspec: "python3", launcher: "local", sizeProfile: null })).id;
    const recordRun = (user: UserRow, kernelId: string, notebookPath: string) =>
      saveCellRun(db, {
        msgId: randomUUID(), kernelId, ownerId: user.id, notebookPath, cellId: "cell-1", code: "print(1)", status: "ok", executionCount: 1,
        outputs: [{ output_type: "stream", name: "stdout", text: "1\n" }], spilledBytes: 0, clipped: false, startedAt: new Date(), finishedAt: new Date(), messagesSeen: 3,
      });
    /** What the notebook page sees for a path: the kernel it reconnects to, and the kernels of the runs it lays over the file. */
    const seen = async (user: UserRow, path: string) => {
      const c = caller(user);
      return { kernelId: (await c.notebooks.kernelFor({ path })).kernelId, runs: (await c.notebooks.runs({ path })).map((run) => run.kernelId) };
    };
    const bound = async (user: UserRow, path: string) => {
      const kernelId = await kernelOf(user);
      await caller(user).notebooks.bindKernel({ path, kernelId });
      await recordRun(user, kernelId, path);
      return kernelId;
    };

    it("rename of a notebook moves them; a new notebook at the old name starts afresh", async () => {
      const c = caller(ana);
      await c.files.mkdir({ path: "rn" });
      const { path } = await c.files.newNotebook({ dir: "rn" });
      assert.equal(path, "rn/Untitled.ipynb");
      const kernelId = await bound(ana, path);
      const bobsKernel = await bound(bob, path); // bob's notebook of the same name is his own

      await c.files.rename({ from: path, to: "rn/analysis.ipynb" });
      assert.deepEqual(await seen(ana, "rn/analysis.ipynb"), { kernelId, runs: [kernelId] });
      assert.deepEqual(await seen(ana, path), { kernelId: null, runs: [] });
      assert.equal((await c.files.newNotebook({ dir: "rn" })).path, path);
      assert.deepEqual(await seen(ana, path), { kernelId: null, runs: [] }, "the new Untitled.ipynb does not attach to the old kernel");
      assert.deepEqual(await seen(bob, path), { kernelId: bobsKernel, runs: [bobsKernel] }, "another user's rows are untouched");
    });

    it("rename of a folder moves the notebooks under it, and nothing that only shares its prefix", async () => {
      const c = caller(ana);
      await c.files.mkdir({ path: "proj" });
      await c.files.mkdir({ path: "proj/deep" });
      await c.files.mkdir({ path: "proj2" });
      const inside = await bound(ana, (await c.files.newNotebook({ dir: "proj/deep" })).path);
      const beside = await bound(ana, (await c.files.newNotebook({ dir: "proj2" })).path);

      await c.files.rename({ from: "proj", to: "archive" });
      assert.deepEqual(await seen(ana, "archive/deep/Untitled.ipynb"), { kernelId: inside, runs: [inside] });
      assert.deepEqual(await seen(ana, "proj/deep/Untitled.ipynb"), { kernelId: null, runs: [] });
      assert.deepEqual(await seen(ana, "proj2/Untitled.ipynb"), { kernelId: beside, runs: [beside] });
    });

    it("delete of a notebook or a folder drops them; a notebook created there later starts afresh", async () => {
      const c = caller(ana);
      await c.files.mkdir({ path: "del" });
      const file = (await c.files.newNotebook({ dir: "del" })).path;
      await bound(ana, file);
      await c.files.mkdir({ path: "del/sub" });
      const nested = (await c.files.newNotebook({ dir: "del/sub" })).path;
      const nestedKernel = await bound(ana, nested);

      await c.files.delete({ path: file });
      assert.deepEqual(await seen(ana, file), { kernelId: null, runs: [] });
      await c.notebooks.create({ path: file });
      assert.deepEqual(await seen(ana, file), { kernelId: null, runs: [] }, "the new notebook does not attach to the old kernel");
      assert.deepEqual(await seen(ana, nested), { kernelId: nestedKernel, runs: [nestedKernel] }, "only the deleted path is forgotten");

      await c.files.delete({ path: "del/sub", recursive: true });
      assert.deepEqual(await seen(ana, nested), { kernelId: null, runs: [] });
    });

    it("a refused rename or delete changes nothing", async () => {
      const c = caller(ana);
      await c.files.mkdir({ path: "keep" });
      const { path } = await c.files.newNotebook({ dir: "keep" });
      const kernelId = await bound(ana, path);
      await c.files.newNotebook({ dir: "keep" }); // keep/Untitled1.ipynb
      // In words a rename dialog can follow (it offers no "replace").
      await assert.rejects(c.files.rename({ from: path, to: "keep/Untitled1.ipynb" }), refusedWith("CONFLICT", /^"Untitled1\.ipynb" already exists in that folder\. Choose another name\.$/));
      await assert.rejects(c.files.delete({ path: "keep" }), refusedWith("CONFLICT", /not empty/));
      assert.deepEqual(await seen(ana, path), { kernelId, runs: [kernelId] });
      assert.deepEqual(await seen(ana, "keep/Untitled1.ipynb"), { kernelId: null, runs: [] });
    });

    it("a rename onto a path with records left from a file long gone takes the moved notebook's", async () => {
      const c = caller(ana);
      await c.files.mkdir({ path: "onto" });
      const { path } = await c.files.newNotebook({ dir: "onto" });
      const kernelId = await bound(ana, path);
      await bound(ana, "onto/old.ipynb"); // recorded before deletes forgot them: no file there
      await c.files.rename({ from: path, to: "onto/old.ipynb" });
      assert.deepEqual(await seen(ana, "onto/old.ipynb"), { kernelId, runs: [kernelId] });
    });
  });
});
