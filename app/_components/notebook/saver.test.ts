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
  });
  changed();
  const settle = async () => {
    for (let i = 0; i < 5; i++) await Promise.resolve();
  };
  t.mock.timers.tick(2_000); // the autosave after edits pause
  await settle();
  assert.equal(calls, 1);
  assert.ok(saver.state.error, "the failure is shown");
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
  });
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
