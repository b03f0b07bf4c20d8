// Guards the stream throttle (model.ts): output is applied in order and complete, stream output that keeps
// arriving at most every STREAM_INTERVAL_MS, anything else on the next frame, and flush() (saving, a cell
// finishing) applies everything at once.
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import type { Notebook } from "@/server/notebooks/nbformat";
import { NotebookModel, STREAM_INTERVAL_MS } from "./model";

// A page that is visible, with animation frames (each one a macrotask, as in a browser).
const globals = globalThis as unknown as Record<string, unknown>;
before(() => {
  globals.document = { visibilityState: "visible" };
  globals.requestAnimationFrame = (cb: () => void) => setTimeout(cb, 16) as unknown as number;
  globals.cancelAnimationFrame = (id: number) => clearTimeout(id as unknown as ReturnType<typeof setTimeout>);
});
after(() => {
  delete globals.document;
  delete globals.requestAnimationFrame;
  delete globals.cancelAnimationFrame;
});

const notebook = (): Notebook =>
  ({
    nbformat: 4,
    nbformat_minor: 5,
    metadata: {},
    cells: [{ cell_type: "code", id: "c1", source: "", metadata: {}, outputs: [], execution_count: null }],
  }) as unknown as Notebook;

/** Resolves when `check` holds (polled each few ms), failing after `ms`. */
async function until(check: () => boolean, ms = 2_000): Promise<number> {
  const start = performance.now();
  while (!check()) {
    if (performance.now() - start > ms) throw new Error("condition not met in time");
    await new Promise((r) => setTimeout(r, 2));
  }
  return performance.now();
}

const streamText = (model: NotebookModel) => {
  const out = model.cell("c1")!.outputs[0];
  return out?.output_type === "stream" ? out.text : "";
};

describe("NotebookModel output queue", () => {
  it("a running cell deleted and brought back with Z has what it printed meanwhile, and its end (QA: lines were lost)", () => {
    const model = new NotebookModel(notebook());
    model.update("c1", { status: "running" });
    model.queueIopub("c1", "stream", { name: "stdout", text: "del 0\n" });
    model.flush();
    model.setActive("c1");
    model.deleteSelected();
    assert.equal(model.cell("c1"), undefined);
    model.queueIopub("c1", "stream", { name: "stdout", text: "del 1\n" });
    model.flush();
    model.update("c1", { status: "idle", executionCount: 4 });
    model.undoDelete();
    assert.equal(streamText(model), "del 0\ndel 1\n");
    assert.deepEqual([model.cell("c1")!.status, model.cell("c1")!.executionCount], ["idle", 4]);
  });

  it("clearing a cell's outputs clears its execution count too (QA: \"[3]:\" stayed, and was saved)", () => {
    const model = new NotebookModel(notebook());
    model.update("c1", { executionCount: 3 });
    model.queueIopub("c1", "stream", { name: "stdout", text: "x\n" });
    model.flush();
    model.clearOutputs("c1");
    assert.deepEqual([model.cell("c1")!.outputs, model.cell("c1")!.executionCount], [[], null]);
    const saved = model.toNotebook().cells[0]!;
    assert.ok(saved.cell_type === "code" && saved.execution_count === null);
  });

  it("output of a run another window started is shown, and is not a change of this page's (nothing to save here)", () => {
    const model = new NotebookModel(notebook());
    let changes = 0;
    model.subscribeChanges(() => void changes++);
    model.queueIopub("c1", "stream", { name: "stdout", text: "theirs\n" }, { quiet: true });
    model.flush();
    assert.equal(streamText(model), "theirs\n");
    assert.equal(changes, 0);
    model.queueIopub("c1", "stream", { name: "stdout", text: "mine\n" });
    model.flush();
    assert.equal(changes, 1, "this page's own run's output is a change (saved with the file)");
  });

  it("applies stream output later, joined and in order, with carriage returns applied", async () => {
    const model = new NotebookModel(notebook());
    model.queueIopub("c1", "stream", { name: "stdout", text: "a\n" });
    model.queueIopub("c1", "stream", { name: "stdout", text: "10%\r" });
    model.queueIopub("c1", "stream", { name: "stdout", text: "100%\n" });
    assert.equal(model.cell("c1")!.outputs.length, 0, "nothing is applied synchronously");
    await until(() => streamText(model) !== "");
    assert.equal(streamText(model), "a\n100%\n");
  });

  it("applies stream output that keeps arriving at most every STREAM_INTERVAL_MS", async () => {
    const model = new NotebookModel(notebook());
    const applied: number[] = [];
    model.subscribeCell("c1", () => applied.push(performance.now()));
    let n = 0;
    const start = performance.now();
    while (performance.now() - start < 4 * STREAM_INTERVAL_MS) {
      model.queueIopub("c1", "stream", { name: "stdout", text: `${n++}\n` });
      await new Promise((r) => setTimeout(r, 5));
    }
    model.flush();
    const lines = streamText(model).split("\n").filter(Boolean);
    assert.deepEqual(lines, Array.from({ length: n }, (_, i) => String(i)), "every line, in order");
    const gaps = applied.slice(1, -1).map((t, i) => t - applied[i]!);
    // timers never fire early: every gap between throttled updates is at least the interval
    for (const gap of gaps) assert.ok(gap >= STREAM_INTERVAL_MS - 2, `updates ${gap.toFixed(1)} ms apart`);
  });

  it("applies other output on the next frame, even right after a stream update", async () => {
    const model = new NotebookModel(notebook());
    model.queueIopub("c1", "stream", { name: "stdout", text: "x\n" });
    await until(() => streamText(model) === "x\n");
    model.queueIopub("c1", "stream", { name: "stdout", text: "y\n" });
    const queued = performance.now();
    model.queueIopub("c1", "execute_result", { data: { "text/plain": "2" }, metadata: {}, execution_count: 1 });
    const done = await until(() => model.cell("c1")!.outputs.length === 2);
    assert.ok(done - queued < STREAM_INTERVAL_MS, `applied after ${(done - queued).toFixed(1)} ms`);
    assert.equal(streamText(model), "x\ny\n", "the stream before the result is applied with it, first");
  });

  it("flush() applies everything queued at once (before a save, when a cell finishes)", () => {
    const model = new NotebookModel(notebook());
    model.queueIopub("c1", "stream", { name: "stderr", text: "warning\n" });
    model.flush();
    assert.equal(model.cell("c1")!.outputs.length, 1);
  });
});

describe("cell structure (Jupyter's command-mode keys)", () => {
  const three = (): Notebook =>
    ({
      nbformat: 4,
      nbformat_minor: 5,
      metadata: {},
      cells: [
        { cell_type: "code", id: "a", source: "x = 1", metadata: {}, outputs: [{ output_type: "stream", name: "stdout", text: "1\n" }], execution_count: 1 },
        { cell_type: "code", id: "b", source: "y = 2", metadata: {}, outputs: [], execution_count: 2 },
        { cell_type: "markdown", id: "m", source: "# End", metadata: {} },
      ],
    }) as unknown as Notebook;
  const sources = (model: NotebookModel) => model.ids.map((id) => model.cell(id)!.source);

  it("moves the active cell up and down, never past either end", () => {
    const model = new NotebookModel(three());
    model.setActive("b");
    model.move(-1);
    assert.deepEqual(model.ids, ["b", "a", "m"]);
    model.move(-1);
    assert.deepEqual(model.ids, ["b", "a", "m"]);
    model.setActive("m");
    model.move(1);
    assert.deepEqual(model.ids, ["b", "a", "m"]);
  });

  it("merges the cell below (Shift+M) with a blank line between, clears outputs, and Z undoes it whole", () => {
    const model = new NotebookModel(three());
    model.setActive("a");
    model.mergeSelected();
    assert.deepEqual(sources(model), ["x = 1\n\ny = 2", "# End"]);
    assert.deepEqual(model.cell("a")!.outputs, []);
    model.undoDelete();
    assert.deepEqual(sources(model), ["x = 1", "y = 2", "# End"]);
    assert.equal(model.cell("a")!.outputs.length, 1, "the upper cell is back as it was, outputs and all");
    model.setActive("m");
    model.mergeSelected(); // nothing below: nothing happens
    assert.equal(model.ids.length, 3);
  });

  it("splits at the cursor (Ctrl+Shift+-): the rest becomes a new cell below, which takes the cursor", () => {
    const model = new NotebookModel(three());
    model.splitAt("a", "import os\nx = 1", "import os\n".length);
    assert.deepEqual(sources(model).slice(0, 2), ["import os", "x = 1"]);
    assert.equal(model.cell(model.ids[1]!)!.type, "code");
    assert.equal(model.activeId, model.ids[1]);
    assert.equal(model.mode, "edit");
  });

  it("pastes above (Shift+V) and below (V), and hides outputs (O) the way Jupyter stores it", () => {
    const model = new NotebookModel(three());
    model.setActive("b");
    model.copySelected();
    model.setActive("a");
    model.pasteBelow(true);
    assert.deepEqual(sources(model), ["y = 2", "x = 1", "y = 2", "# End"]);
    model.toggleOutputs("a");
    const saved = model.toNotebook().cells.find((c) => c.id === "a")!;
    assert.deepEqual(saved.metadata, { jupyter: { outputs_hidden: true } });
    model.toggleOutputs("a");
    assert.deepEqual(model.toNotebook().cells.find((c) => c.id === "a")!.metadata, {});
  });

  it("cells copied in one notebook paste into another, as they were when copied (attachments too)", () => {
    const from = new NotebookModel(three());
    from.setActive("b");
    from.copySelected();
    from.setSource("b", "y = 3"); // edited after the copy: the copy keeps what was copied
    const to = new NotebookModel({ ...three(), cells: [{ id: "z", cell_type: "markdown", source: "# Other", metadata: {}, attachments: { "a.png": { "image/png": "iVBOR" } } }] });
    to.setActive("z");
    to.pasteBelow();
    assert.deepEqual(sources(to), ["# Other", "y = 2"]);
    to.setActive("z");
    to.copySelected();
    from.setActive("m");
    from.pasteBelow();
    assert.deepEqual(sources(from), ["x = 1", "y = 3", "# End", "# Other"]);
    assert.deepEqual(from.toNotebook().cells[3]!.attachments, { "a.png": { "image/png": "iVBOR" } });
    assert.notEqual(from.ids[3], "z", "a pasted cell gets an id of its own");
  });

  describe("several cells selected (Shift+↑/↓, Shift+click)", () => {
    const five = (): Notebook =>
      ({ nbformat: 4, nbformat_minor: 5, metadata: {}, cells: ["a", "b", "c", "d", "e"].map((id) => ({ cell_type: "code", id, source: id, metadata: {}, outputs: [], execution_count: null })) }) as unknown as Notebook;
    const selected = (model: NotebookModel) => model.ids.filter((id) => model.isSelected(id));

    it("extends from the active cell either way, and a plain move or click collapses it", () => {
      const model = new NotebookModel(five());
      model.setActive("b");
      model.extendSelection(1);
      model.extendSelection(1);
      assert.deepEqual(model.selectedIds, ["b", "c", "d"]);
      assert.deepEqual(selected(model), ["b", "c", "d"]);
      model.extendSelection(-1);
      model.extendSelection(-1);
      model.extendSelection(-1);
      assert.deepEqual(model.selectedIds, ["a", "b"], "back past the anchor: the other side of it");
      model.extendTo("e");
      assert.deepEqual(model.selectedIds, ["b", "c", "d", "e"], "Shift+click keeps the anchor");
      model.selectRelative(-1);
      assert.deepEqual(model.selectedIds, ["d"]);
      assert.equal(model.anchorId, null);
    });

    it("deletes them all with D D, and Z brings them back in place, still selected", () => {
      const model = new NotebookModel(five());
      model.setActive("b");
      model.extendSelection(1);
      model.extendSelection(1);
      model.deleteSelected();
      assert.deepEqual(model.ids, ["a", "e"]);
      assert.equal(model.activeId, "e");
      model.undoDelete();
      assert.deepEqual(model.ids, ["a", "b", "c", "d", "e"]);
      assert.deepEqual(model.selectedIds, ["b", "c", "d"]);
    });

    it("moves as a block, never past either end", () => {
      const model = new NotebookModel(five());
      model.setActive("c");
      model.extendSelection(1);
      model.move(-1);
      assert.deepEqual(model.ids, ["a", "c", "d", "b", "e"]);
      model.move(-1);
      model.move(-1);
      assert.deepEqual(model.ids, ["c", "d", "a", "b", "e"]);
      model.move(1);
      model.move(1);
      model.move(1);
      model.move(1);
      assert.deepEqual(model.ids, ["a", "b", "e", "c", "d"]);
      assert.deepEqual(model.selectedIds, ["c", "d"]);
    });

    it("merges them into the first (Shift+M), and Z restores every part", () => {
      const model = new NotebookModel(five());
      model.setActive("d");
      model.extendTo("b");
      model.mergeSelected();
      assert.deepEqual(sources(model), ["a", "b\n\nc\n\nd", "e"]);
      assert.equal(model.activeId, "b");
      model.undoDelete();
      assert.deepEqual(sources(model), ["a", "b", "c", "d", "e"]);
      assert.deepEqual(model.selectedIds, ["b", "c", "d"]);
    });

    // Regression (review): Z after a merge put the parts back at their old index, away from the moved cell, and
    // selected cells that were never merged.
    it("Z after a merge puts the parts back right after the merged cell, wherever it has moved", () => {
      const model = new NotebookModel(five());
      model.setActive("a");
      model.mergeSelected();
      model.move(1);
      model.move(1);
      assert.deepEqual(model.ids, ["c", "d", "a", "e"]);
      model.undoDelete();
      assert.deepEqual(sources(model), ["c", "d", "a", "b", "e"]);
      assert.deepEqual(model.selectedIds, ["a", "b"]);
    });

    it("Ctrl+A selects every cell, the last one active; a plain move ends it", () => {
      const model = new NotebookModel(five());
      model.setActive("c");
      model.selectAll();
      assert.deepEqual(model.selectedIds, ["a", "b", "c", "d", "e"]);
      assert.equal(model.activeId, "e");
      model.selectRelative(-1);
      assert.deepEqual(model.selectedIds, ["d"]);
    });

    it("going back to where the selection started selects that cell alone", () => {
      const model = new NotebookModel(five());
      model.setActive("b");
      model.extendSelection(1);
      model.extendSelection(-1);
      assert.equal(model.anchorId, null);
      assert.deepEqual(model.selectedIds, ["b"]);
    });

    it("copies, cuts and pastes them together, changes their type, and hides their outputs together", () => {
      const model = new NotebookModel(five());
      model.setActive("a");
      model.extendSelection(1);
      model.copySelected(true);
      assert.deepEqual(sources(model), ["c", "d", "e"]);
      model.setActive("e");
      model.pasteBelow();
      assert.deepEqual(sources(model), ["c", "d", "e", "a", "b"]);
      model.setActive("c");
      model.extendSelection(1);
      model.changeSelectedType("markdown");
      assert.deepEqual(model.ids.map((id) => model.cell(id)!.type), ["markdown", "markdown", "code", "code", "code"]);
      model.setActive("e");
      model.extendSelection(1);
      model.toggleOutputs("e"); // one of the two already hidden: O hides both
      model.toggleSelectedOutputs();
      const hidden = () => model.toNotebook().cells.slice(2, 4).map((c) => (c.metadata as { jupyter?: { outputs_hidden?: boolean } }).jupyter?.outputs_hidden ?? false);
      assert.deepEqual(hidden(), [true, true]);
      model.toggleSelectedOutputs(); // all hidden: O shows them
      assert.deepEqual(hidden(), [false, false]);
    });
  });
});
