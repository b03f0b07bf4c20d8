// Pure: what a draft keeps (no outputs: localStorage is small) and how restoring puts outputs back.
import assert from "node:assert/strict";
import { test } from "node:test";
import type { Notebook } from "@/server/notebooks/nbformat";
import { withOutputsFrom, withoutOutputs } from "./saver";

const png = { output_type: "display_data", data: { "image/png": "iVBORw0KGgo".repeat(1000) }, metadata: {} } as const;
const file: Notebook = {
  nbformat: 4,
  nbformat_minor: 5,
  metadata: {},
  cells: [
    { id: "a", cell_type: "code", source: "plot()", metadata: {}, outputs: [png], execution_count: 3 },
    { id: "m", cell_type: "markdown", source: "# Title", metadata: {} },
    { id: "b", cell_type: "code", source: "1+1", metadata: {}, outputs: [{ output_type: "execute_result", data: { "text/plain": "2" }, metadata: {}, execution_count: 4 }], execution_count: 4 },
  ],
};

test("a draft keeps sources, structure and metadata, and no outputs", () => {
  const draft = withoutOutputs(file);
  assert.deepEqual(draft.cells.map((c) => [c.id, c.cell_type, c.source]), file.cells.map((c) => [c.id, c.cell_type, c.source]));
  for (const cell of draft.cells) if (cell.cell_type === "code") assert.deepEqual([cell.outputs, cell.execution_count], [[], null]);
  assert.ok(JSON.stringify(draft).length < JSON.stringify(file).length / 10, "the PNG is not in the draft");
  assert.equal(file.cells[0]!.cell_type === "code" && file.cells[0]!.outputs.length, 1, "the file's notebook is not changed");
});

test("restoring a draft takes outputs from the file by cell id; edited and new cells keep the draft's source", () => {
  const draft = withoutOutputs(file);
  draft.cells[2] = { ...draft.cells[2]!, source: "1+2" };
  draft.cells.push({ id: "c", cell_type: "code", source: "new()", metadata: {}, outputs: [], execution_count: null });
  const restored = withOutputsFrom(draft, file);
  assert.deepEqual(restored.cells.map((c) => c.source), ["plot()", "# Title", "1+2", "new()"]);
  const [a, , b, c] = restored.cells;
  assert.ok(a?.cell_type === "code" && a.outputs[0] === png && a.execution_count === 3);
  assert.ok(b?.cell_type === "code" && b.outputs.length === 1 && b.execution_count === 4);
  assert.ok(c?.cell_type === "code" && c.outputs.length === 0);
});

test("a save that fails on the way (no answer, server error) is retried with back-off until it lands; a refusal is not", async (t) => {
  t.mock.timers.enable({ apis: ["setTimeout"] });
  const { NotebookSaver } = await import("./saver");
  let changed = () => {};
  const model = { subscribeChanges: (fn: () => void) => ((changed = fn), () => {}), flush() {}, toNotebook: () => file };
  const answers: Array<Error | "ok"> = [new Error("Failed to fetch"), Object.assign(new Error("boom"), { data: { code: "INTERNAL_SERVER_ERROR" } }), "ok"];
  let calls = 0;
  const saver = new NotebookSaver(model as never, "a.ipynb", new Date(0), async () => {
    calls++;
    const answer = answers.shift()!;
    if (answer !== "ok") throw answer;
    return { mtime: new Date(1) };
  }, { userId: "u1" });
  changed();
  const settle = async () => {
    for (let i = 0; i < 5; i++) await Promise.resolve();
  };
  t.mock.timers.tick(2_000); // the autosave after edits pause
  await settle();
  assert.equal(calls, 1);
  assert.equal(saver.state.error, "Atrium can't be reached right now. Your changes are kept on this page and saved when it is back.", "no answer, said plainly (not \"Failed to fetch\")");
  t.mock.timers.tick(2_000); // first retry after 2 s
  await settle();
  assert.equal(calls, 2);
  t.mock.timers.tick(3_999);
  await settle();
  assert.equal(calls, 2, "the second retry waits 4 s");
  t.mock.timers.tick(1);
  await settle();
  assert.equal(calls, 3);
  assert.equal(saver.state.dirty, false, "saved at last");
  assert.equal(saver.state.error, null);

  // A refusal (e.g. BAD_REQUEST) is not retried on its own.
  const refused = new NotebookSaver(model as never, "b.ipynb", new Date(0), async () => {
    calls++;
    throw Object.assign(new Error("too large"), { data: { code: "PAYLOAD_TOO_LARGE" } });
  }, { userId: "u1" });
  calls = 0;
  changed();
  t.mock.timers.tick(2_000);
  await settle();
  t.mock.timers.tick(120_000);
  await settle();
  assert.equal(calls, 1);
  assert.ok(refused.state.error);
  saver.dispose();
  refused.dispose();
});

test("a save that never answers is given up at its deadline and retried: later saves are not held behind it", async (t) => {
  t.mock.timers.enable({ apis: ["setTimeout"] });
  const { NotebookSaver, SAVE_DEADLINE_MS } = await import("./saver");
  let changed = () => {};
  const model = { subscribeChanges: (fn: () => void) => ((changed = fn), () => {}), flush() {}, toNotebook: () => file };
  let calls = 0;
  const saver = new NotebookSaver(model as never, "hung.ipynb", new Date(0), async () => {
    calls++;
    if (calls === 1) return new Promise<never>(() => {}); // a request that never answers (a laptop asleep, a hung mount)
    return { mtime: new Date(2) };
  }, { userId: "u1" });
  const settle = async () => {
    for (let i = 0; i < 5; i++) await Promise.resolve();
  };
  changed();
  t.mock.timers.tick(2_000);
  await settle();
  assert.equal(calls, 1);
  assert.equal(saver.state.saving, true);
  t.mock.timers.tick(SAVE_DEADLINE_MS);
  await settle();
  assert.equal(saver.state.saving, false, "given up at the deadline");
  assert.match(saver.state.error ?? "", /did not answer within 120 s/);
  t.mock.timers.tick(2_000); // retried like a dropped connection
  await settle();
  assert.equal(calls, 2);
  assert.equal(saver.state.dirty, false);
  assert.equal(saver.state.error, null);
  saver.dispose();
});

test("drafts are kept per user: another user of the browser never reads them, and sign-out removes the user's", async () => {
  const store = new Map<string, string>();
  const storage = {
    get length() {
      return store.size;
    },
    key: (i: number) => [...store.keys()][i] ?? null,
    getItem: (k: string) => store.get(k) ?? null,
    setItem: (k: string, v: string) => void store.set(k, v),
    removeItem: (k: string) => void store.delete(k),
  };
  (globalThis as { localStorage?: unknown }).localStorage = storage;
  try {
    const { adoptUnscopedDraft, clearDraftsOf, draftKey, readDraft } = await import("./saver");
    const ana = "6f1c2d3e-0000-4000-8000-000000000001";
    const bo = "6f1c2d3e-0000-4000-8000-000000000002";
    const draft = { baseMtime: new Date(0).toISOString(), savedAt: new Date(0).toISOString(), notebook: withoutOutputs(file) };
    storage.setItem(draftKey(ana, "Untitled.ipynb"), JSON.stringify(draft));
    storage.setItem(draftKey(bo, "Other.ipynb"), JSON.stringify(draft));
    storage.setItem("atrium.notebook-draft:Untitled.ipynb", JSON.stringify(draft)); // kept before drafts were per user
    assert.equal(readDraft(draftKey(bo, "Untitled.ipynb")), null, "bo does not see ana's draft of the same path");
    assert.ok(readDraft(draftKey(ana, "Untitled.ipynb")));
    // A draft from before drafts were per user is taken over when it was made on the file as it is now.
    storage.setItem("atrium.notebook-draft:Old.ipynb", JSON.stringify(draft));
    assert.equal(adoptUnscopedDraft(ana, "Old.ipynb", new Date(1)), null, "made on another version of the file: not offered");
    assert.ok(adoptUnscopedDraft(ana, "Old.ipynb", new Date(0)));
    assert.ok(readDraft(draftKey(ana, "Old.ipynb")), "now ana's");
    assert.equal(storage.getItem("atrium.notebook-draft:Old.ipynb"), null);
    clearDraftsOf(ana);
    assert.deepEqual([...store.keys()], [draftKey(bo, "Other.ipynb")], "ana's and the unscoped draft are gone; bo's stays");
  } finally {
    delete (globalThis as { localStorage?: unknown }).localStorage;
  }
});

test("leaving: outputs alone are not unsaved edits, a source edit is; closing the notebook saves it; discarded edits are not saved", async (t) => {
  t.mock.timers.enable({ apis: ["setTimeout"] });
  const { NotebookSaver, saveOpenDocuments } = await import("./saver");
  let current: Notebook = file;
  let changed = () => {};
  const model = { subscribeChanges: (fn: () => void) => ((changed = fn), () => {}), flush() {}, toNotebook: () => current };
  const saved: Notebook[] = [];
  const saver = new NotebookSaver(model as never, "a.ipynb", new Date(0), async ({ notebook }) => (saved.push(notebook), { mtime: new Date(1) }), { userId: "u1" });
  const settle = async () => {
    for (let i = 0; i < 5; i++) await Promise.resolve();
  };

  // A cell ran: new outputs make the page dirty, but nothing the user wrote is at stake (the server kept the outputs).
  current = { ...file, cells: file.cells.map((c) => (c.cell_type === "code" ? { ...c, execution_count: 9 } : c)) };
  changed();
  assert.equal(saver.state.dirty, true);
  assert.equal(saver.hasUnsavedEdits(), false);

  // A source edit is; closing the notebook (going elsewhere in the portal) saves it at once.
  current = { ...current, cells: [{ ...current.cells[0]!, source: "plot(2)" }, ...current.cells.slice(1)] };
  changed();
  assert.equal(saver.hasUnsavedEdits(), true);
  saver.dispose();
  await settle();
  assert.equal(saved.length, 1, "saved on the way out, without waiting for the autosave");
  assert.equal(saved[0]!.cells[0]!.source, "plot(2)");
  assert.equal(saver.hasUnsavedEdits(), false);
  t.mock.timers.tick(60_000);
  await settle();
  assert.equal(saved.length, 1, "and nothing after");

  // Edits the user chose to lose (Reload, sign out anyway) are neither saved nor asked about.
  const second = new NotebookSaver(model as never, "b.ipynb", new Date(0), async ({ notebook }) => (saved.push(notebook), { mtime: new Date(1) }), { userId: "u1" });
  current = { ...current, cells: [{ ...current.cells[0]!, source: "plot(3)" }, ...current.cells.slice(1)] };
  changed();
  second.discard();
  assert.equal(second.hasUnsavedEdits(), false);
  second.dispose();
  t.mock.timers.tick(60_000);
  await settle();
  assert.equal(saved.length, 1);
  assert.deepEqual(await saveOpenDocuments(), [], "closed savers are not open notebooks");
});

test("sign-out saves the open notebooks first, and names the ones it could not save", async (t) => {
  t.mock.timers.enable({ apis: ["setTimeout"] });
  const { NotebookSaver, saveOpenDocuments } = await import("./saver");
  const edited = (source: string): Notebook => ({ ...file, cells: [{ ...file.cells[0]!, source }, ...file.cells.slice(1)] });
  const open = (path: string, answer: () => Promise<{ mtime: Date }>) => {
    let current = file;
    let changed = () => {};
    const model = { subscribeChanges: (fn: () => void) => ((changed = fn), () => {}), flush() {}, toNotebook: () => current };
    const saver = new NotebookSaver(model as never, path, new Date(0), answer, { userId: "u1" });
    current = edited(`edit of ${path}`);
    changed();
    return saver;
  };
  let writes = 0;
  const fine = open("fine.ipynb", async () => (writes++, { mtime: new Date(1) }));
  const conflicted = open("conflict.ipynb", async () => {
    throw Object.assign(new Error("changed on disk"), { data: { code: "CONFLICT" } });
  });
  const refused = open("refused.ipynb", async () => {
    throw Object.assign(new Error("Not saved: too large"), { data: { code: "BAD_REQUEST" } });
  });
  const unsaved = await saveOpenDocuments();
  assert.equal(writes, 1);
  assert.equal(fine.hasUnsavedEdits(), false);
  assert.deepEqual(unsaved.sort(), ["conflict.ipynb", "refused.ipynb"]);
  assert.equal(conflicted.state.conflict, true);
  assert.ok(refused.state.error);
  for (const saver of [fine, conflicted, refused]) saver.discard(), saver.dispose();
});

test("the file on disk is compared with what the page last read or wrote; the page's own save is never taken for another's", async () => {
  const { NotebookSaver } = await import("./saver");
  const model = { subscribeChanges: () => () => {}, flush() {}, toNotebook: () => file };
  let release = () => {};
  const saver = new NotebookSaver(model as never, "a.ipynb", new Date(1000), () => new Promise((resolve) => (release = () => resolve({ mtime: new Date(2000) }))), { userId: "u1" });
  assert.equal(await saver.compareWithDisk(async () => new Date(1000)), "same");
  assert.equal(await saver.compareWithDisk(async () => new Date(1500)), "changed");
  assert.equal(await saver.compareWithDisk(async () => null), "gone");

  // A save under way, or one that began while the file was looked at: its own write, not someone else's.
  const saving = saver.save();
  assert.equal(await saver.compareWithDisk(async () => new Date(2000)), undefined);
  release();
  await saving;
  assert.equal(await saver.compareWithDisk(async () => new Date(2000)), "same", "the new mtime is this page's own");
  let overlapped: Promise<boolean> | undefined;
  const look = saver.compareWithDisk(async () => {
    overlapped = saver.save();
    return new Date(2000);
  });
  release = () => {};
  assert.equal(await look, undefined);
  void overlapped;
  saver.dispose();
});

test("output streaming in does not put off the save of an edit: it lands 2 s after the edit (QA: 30 s, and a closed browser lost the source)", async (t) => {
  t.mock.timers.enable({ apis: ["setTimeout"] });
  const { NotebookSaver } = await import("./saver");
  let changed = () => {};
  let current: Notebook = file;
  const model = { subscribeChanges: (fn: () => void) => ((changed = fn), () => {}), flush() {}, toNotebook: () => current };
  const saved: string[] = [];
  const saver = new NotebookSaver(model as never, "stream.ipynb", new Date(0), async ({ notebook }) => {
    saved.push(String(notebook.cells[0]!.source));
    return { mtime: new Date(1) };
  }, { userId: "u1" });
  const withFirstCell = (patch: Partial<Notebook["cells"][number]>) => ({ ...current, cells: [{ ...current.cells[0]!, ...patch } as Notebook["cells"][number], ...current.cells.slice(1)] });
  const settle = async () => {
    for (let i = 0; i < 5; i++) await Promise.resolve();
  };
  current = withFirstCell({ source: "for i in range(60): print(i)" }); // the user's edit, then the run's output
  changed();
  for (let ms = 0; ms < 1_900; ms += 250) {
    t.mock.timers.tick(250);
    current = withFirstCell({ outputs: [{ output_type: "stream", name: "stdout", text: `${ms}\n` }] } as never);
    changed();
  }
  t.mock.timers.tick(100);
  await settle();
  assert.deepEqual(saved, ["for i in range(60): print(i)"], "saved 2 s after the edit although output kept coming");
  // Typing still puts the save off until the user pauses.
  current = withFirstCell({ source: "for i in range(6): print(i)" });
  changed();
  t.mock.timers.tick(1_500);
  current = withFirstCell({ source: "for i in range(7): print(i)" });
  changed();
  t.mock.timers.tick(1_500);
  await settle();
  assert.equal(saved.length, 1, "not while typing");
  t.mock.timers.tick(500);
  await settle();
  assert.deepEqual(saved.at(-1), "for i in range(7): print(i)");
  saver.dispose();
});
