// openNotebook / saveNotebook / createNotebook against a real local home store in a temp folder.
import assert from "node:assert/strict";
import fs from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { after, before, describe, it } from "node:test";
import { localHomeStoreFor } from "@/server/storage/local-store";
import type { HomeStore } from "@/server/storage/home-store";
import { MAX_NOTEBOOK_BYTES, createNotebook, openNotebook, saveNotebook, saveNotebookCopy } from "./service";

let base: string;
let store: HomeStore;

before(async () => {
  base = await fs.mkdtemp(path.join(os.tmpdir(), "atrium-notebooks-"));
  store = localHomeStoreFor(base, "ana");
  await store.ensureHome();
});
after(() => fs.rm(base, { recursive: true, force: true }));

const rejectsWithCode = async (promise: Promise<unknown>, code: string) => {
  await assert.rejects(promise, (error: { code?: string }) => error.code === code);
};

describe("notebook files", () => {
  it("creates, opens and saves, keeping fields it doesn't know", async () => {
    const created = await createNotebook(store, "A.ipynb", { name: "python3", display_name: "Python 3" });
    const opened = await openNotebook(store, "A.ipynb");
    assert.equal(opened.notebook.cells.length, 1);
    assert.equal(opened.mtime.getTime(), created.mtime.getTime());
    const edited = { ...opened.notebook, custom: { keep: true }, cells: [{ ...opened.notebook.cells[0]!, source: "1+1", tool_field: 7 }] };
    const saved = await saveNotebook(store, "A.ipynb", edited, { expectedMtime: opened.mtime });
    const onDisk = JSON.parse(await store.readText("A.ipynb"));
    assert.deepEqual(onDisk.custom, { keep: true });
    assert.equal(onDisk.cells[0].tool_field, 7);
    assert.deepEqual(onDisk.cells[0].source, ["1+1"]);
    assert.ok(saved.mtime.getTime() >= opened.mtime.getTime());
  });

  it("refuses to overwrite a file changed since it was opened, unless forced", async () => {
    await createNotebook(store, "B.ipynb");
    const opened = await openNotebook(store, "B.ipynb");
    await new Promise((r) => setTimeout(r, 5));
    const theirs = JSON.parse(await store.readText("B.ipynb"));
    theirs.cells[0].source = ["theirs"];
    await store.write("B.ipynb", JSON.stringify(theirs), { overwrite: true });
    await rejectsWithCode(saveNotebook(store, "B.ipynb", opened.notebook, { expectedMtime: opened.mtime }), "CONFLICT");
    assert.deepEqual(JSON.parse(await store.readText("B.ipynb")).cells[0].source, ["theirs"]);
    await saveNotebook(store, "B.ipynb", opened.notebook, { expectedMtime: opened.mtime, force: true });
    assert.deepEqual(JSON.parse(await store.readText("B.ipynb")).cells[0].source, []);
  });

  it("a notebook whose folder was deleted while it was open is saved there again, or as a copy, the folder made again", async () => {
    await store.mkdir("Gone/deep", { parents: true });
    const created = await createNotebook(store, "Gone/deep/N.ipynb");
    await store.delete("Gone", { recursive: true });
    const mine = { ...created.notebook, cells: [{ ...created.notebook.cells[0]!, source: "mine" }] };
    // Not forced (an autosave): the missing file is not written back unasked.
    await assert.rejects(saveNotebook(store, "Gone/deep/N.ipynb", mine, { expectedMtime: created.mtime }));
    await saveNotebook(store, "Gone/deep/N.ipynb", mine, { expectedMtime: created.mtime, force: true });
    assert.deepEqual(JSON.parse(await store.readText("Gone/deep/N.ipynb")).cells[0].source, ["mine"]);
    await store.delete("Gone", { recursive: true });
    const copy = await saveNotebookCopy(store, "Gone/deep/N.ipynb", mine);
    assert.equal(copy.path, "Gone/deep/N-Copy1.ipynb");
    assert.deepEqual(JSON.parse(await store.readText(copy.path)).cells[0].source, ["mine"]);
  });

  it("says what is wrong with paths and files that are not notebooks", async () => {
    await rejectsWithCode(openNotebook(store, "notes.txt"), "BAD_REQUEST");
    await store.write("Broken.ipynb", "{not json");
    await rejectsWithCode(openNotebook(store, "Broken.ipynb"), "BAD_REQUEST");
    await rejectsWithCode(openNotebook(store, "Missing.ipynb"), "NOT_FOUND");
    await rejectsWithCode(saveNotebook(store, "C.ipynb", { nbformat: 3 }, { expectedMtime: null }), "BAD_REQUEST");
    await rejectsWithCode(createNotebook(store, "A.ipynb"), "ALREADY_EXISTS");
  });

  it("an nbformat 3 notebook opens upgraded, and says so; saved, it is version 4", async () => {
    const v3 = { nbformat: 3, nbformat_minor: 0, metadata: {}, worksheets: [{ cells: [{ cell_type: "code", input: "1+1", language: "python", metadata: {}, outputs: [] }] }] };
    await store.write("Old.ipynb", JSON.stringify(v3));
    const opened = await openNotebook(store, "Old.ipynb");
    assert.match(opened.notice ?? "", /Old\.ipynb was written in an older notebook format \(version 3\)/);
    assert.equal(opened.notebook.cells[0]!.source, "1+1");
    await saveNotebook(store, "Old.ipynb", opened.notebook, { expectedMtime: opened.mtime });
    const again = await openNotebook(store, "Old.ipynb");
    assert.equal(again.notice, undefined);
    assert.equal(again.notebook.nbformat, 4);
  });

  // Regression: saving checked no size, so a notebook with ~70 MB of output saved fine and then could not be
  // opened again (open refuses files over MAX_NOTEBOOK_BYTES).
  it("refuses a save that would make the notebook too large to open, and keeps the file as it was", async () => {
    const created = await createNotebook(store, "Big.ipynb");
    const withOutput = (bytes: number) => ({
      ...created.notebook,
      cells: [{ ...created.notebook.cells[0]!, outputs: [{ output_type: "stream", name: "stdout", text: "x".repeat(bytes) }] }],
    });
    await assert.rejects(
      saveNotebook(store, "Big.ipynb", withOutput(MAX_NOTEBOOK_BYTES), { expectedMtime: created.mtime }),
      (error: { code?: string; message?: string }) => {
        assert.equal(error.code, "BAD_REQUEST");
        assert.match(error.message!, /^Not saved: "Big\.ipynb" would be 64\.1 MiB, over the 64 MiB limit .* Clear some outputs/);
        return true;
      },
    );
    assert.equal((await openNotebook(store, "Big.ipynb")).mtime.getTime(), created.mtime.getTime(), "the file is untouched");
    // Just under the limit saves, and opens again.
    const saved = await saveNotebook(store, "Big.ipynb", withOutput(MAX_NOTEBOOK_BYTES - 4096), { expectedMtime: created.mtime });
    assert.equal((await openNotebook(store, "Big.ipynb")).mtime.getTime(), saved.mtime.getTime());
  });
});
