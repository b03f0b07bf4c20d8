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
