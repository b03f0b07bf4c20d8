import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { mergeRuns, type CellRun } from "./merge-runs";
import type { Cell } from "./nbformat";

const fileMtime = new Date("2025-01-01T12:00:00Z");
const cells: Cell[] = [
  { cell_type: "code", id: "a", source: "1", metadata: {}, outputs: [{ output_type: "stream", name: "stdout", text: "from file" }], execution_count: 1 },
  { cell_type: "code", id: "b", source: "2", metadata: {}, outputs: [], execution_count: null },
  { cell_type: "markdown", id: "m", source: "# x", metadata: {} },
];
const run = (over: Partial<CellRun>): CellRun => ({
  cellId: "a", msgId: "m1", kernelId: "k", status: "ok", executionCount: 7, clipped: false,
  outputs: [{ output_type: "stream", name: "stdout", text: ["from ", "run"] }],
  startedAt: "2025-01-01T12:01:00Z", finishedAt: "2025-01-01T12:02:00Z", ...over,
});

describe("mergeRuns", () => {
  it("a run that ended after the file was written replaces the cell's outputs", () => {
    const merged = mergeRuns(cells, [run({})], fileMtime);
    const a = merged.cells[0]!;
    assert.ok(a.cell_type === "code");
    assert.deepEqual(a.outputs, [{ output_type: "stream", name: "stdout", text: "from run" }]);
    assert.equal(a.execution_count, 7);
    assert.deepEqual(merged.replaced, ["a"]);
  });

  it("a run that ended before the last save leaves the file as it is (the user may have cleared it)", () => {
    const merged = mergeRuns(cells, [run({ startedAt: "2025-01-01T11:00:00Z", finishedAt: "2025-01-01T11:59:00Z" })], fileMtime);
    assert.equal(merged.cells[0], cells[0]);
  });

  it("a run still going shows as running, with its outputs so far, even if the file was saved meanwhile", () => {
    const merged = mergeRuns(cells, [run({ cellId: "b", msgId: "m2", status: "running", executionCount: null, finishedAt: null, startedAt: "2025-01-01T11:00:00Z", clipped: true })], fileMtime);
    assert.deepEqual(merged.running.map((r) => [r.cellId, r.msgId]), [["b", "m2"]]);
    assert.deepEqual(merged.clipped, [{ cellId: "b", msgId: "m2" }]);
    assert.equal(merged.cells[1]!.cell_type === "code" && merged.cells[1]!.outputs.length, 1);
  });

  it("takes the latest run per cell, ignores unknown cells and malformed outputs", () => {
    const merged = mergeRuns(cells, [
      run({ msgId: "old", executionCount: 2, startedAt: "2025-01-01T12:01:00Z" }),
      run({ msgId: "new", executionCount: 3, startedAt: "2025-01-01T12:05:00Z", finishedAt: "2025-01-01T12:06:00Z", outputs: [{ bogus: 1 }] }),
      run({ cellId: "gone" }),
    ], fileMtime);
    assert.ok(merged.cells[0]!.cell_type === "code");
    assert.equal(merged.cells[0]!.execution_count, 3);
    assert.deepEqual(merged.cells[0]!.outputs, []);
  });

  it("a run of an edit the file never got brings its code back with its outputs (QA: old code, new outputs)", () => {
    const merged = mergeRuns(cells, [run({ code: "total = 10 * 3\nprint(total)" })], fileMtime);
    assert.ok(merged.cells[0]!.cell_type === "code");
    assert.equal(merged.cells[0]!.source, "total = 10 * 3\nprint(total)");
    assert.deepEqual(merged.restoredCode, ["a"]);
  });

  it("an edit saved after the run began stays: the user's newer word, as on a live page", () => {
    const merged = mergeRuns(cells, [run({ code: "older", startedAt: "2025-01-01T11:59:00Z", finishedAt: "2025-01-01T12:02:00Z" })], fileMtime);
    assert.ok(merged.cells[0]!.cell_type === "code");
    assert.equal(merged.cells[0]!.source, "1");
    assert.deepEqual(merged.cells[0]!.outputs, [{ output_type: "stream", name: "stdout", text: "from run" }], "the outputs still come from the run");
    assert.deepEqual(merged.restoredCode, []);
  });

  it("the same code, no code recorded, or empty code: the cell's source is left alone", () => {
    for (const code of ["1", undefined, ""]) {
      const merged = mergeRuns(cells, [run({ code })], fileMtime);
      assert.equal(merged.cells[0]!.source, "1");
      assert.deepEqual(merged.restoredCode, []);
    }
  });
});
