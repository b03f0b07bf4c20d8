import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { formatNotebook, parseNotebook, splitLines, type CodeCell } from "./nbformat";

const fileFromJupyterLab = {
  cells: [
    {
      cell_type: "code",
      execution_count: 1,
      id: "a1b2",
      metadata: { collapsed: false, tags: ["setup"] },
      outputs: [
        { name: "stdout", output_type: "stream", text: ["hi\n", "there\n"] },
        { data: { "image/png": "iVBORw0KGgo=\n", "text/plain": ["2"] }, execution_count: 1, metadata: {}, output_type: "execute_result" },
      ],
      source: ["print('hi')\n", "1+1"],
    },
    { attachments: { "a.png": { "image/png": "AAA" } }, cell_type: "markdown", id: "m1", metadata: {}, source: ["# Title"] },
  ],
  metadata: { custom_tool: { x: 1 }, kernelspec: { display_name: "Python 3", language: "python", name: "python3" } },
  nbformat: 4,
  nbformat_minor: 5,
  unknown_top_level: "kept",
};

describe("parseNotebook", () => {
  it("joins multi-line strings and keeps every field it does not know", () => {
    const parsed = parseNotebook(JSON.stringify(fileFromJupyterLab));
    assert.ok(parsed.ok);
    const nb = parsed.notebook;
    assert.equal(nb.unknown_top_level, "kept");
    assert.deepEqual(nb.metadata.custom_tool, { x: 1 });
    const code = nb.cells[0] as CodeCell;
    assert.equal(code.source, "print('hi')\n1+1");
    assert.equal(code.id, "a1b2");
    assert.deepEqual(code.metadata, { collapsed: false, tags: ["setup"] });
    assert.equal(code.outputs[0]!.output_type === "stream" && code.outputs[0]!.text, "hi\nthere\n");
    assert.equal(code.outputs[1]!.output_type === "execute_result" && code.outputs[1]!.data["text/plain"], "2");
    assert.deepEqual(nb.cells[1]!.attachments, { "a.png": { "image/png": "AAA" } });
  });

  it("round-trips a JupyterLab file byte for byte", () => {
    const text = JSON.stringify(fileFromJupyterLab, null, 1) + "\n";
    const parsed = parseNotebook(text);
    assert.ok(parsed.ok);
    assert.equal(formatNotebook(parsed.notebook), text);
  });

  it("gives cells of a 4.4 notebook ids and upgrades it to 4.5", () => {
    const old = { nbformat: 4, nbformat_minor: 2, metadata: {}, cells: [{ cell_type: "raw", metadata: {}, source: "x" }] };
    const parsed = parseNotebook(old);
    assert.ok(parsed.ok);
    assert.equal(parsed.notebook.nbformat_minor, 5);
    assert.match(parsed.notebook.cells[0]!.id, /^[0-9a-f]{16}$/);
  });

  it("renames duplicate cell ids", () => {
    const nb = { nbformat: 4, nbformat_minor: 5, metadata: {}, cells: [
      { cell_type: "raw", id: "same", metadata: {}, source: "" },
      { cell_type: "raw", id: "same", metadata: {}, source: "" },
    ] };
    const parsed = parseNotebook(nb);
    assert.ok(parsed.ok);
    assert.notEqual(parsed.notebook.cells[0]!.id, parsed.notebook.cells[1]!.id);
  });

  it("refuses what is not nbformat 4 (or 3, upgraded), saying where", () => {
    const bad = parseNotebook({ nbformat: 2, nbformat_minor: 0, metadata: {}, cells: [] });
    assert.ok(!bad.ok && /nbformat 4/.test(bad.problem));
    const badCell = parseNotebook({ nbformat: 4, nbformat_minor: 5, metadata: {}, cells: [{ cell_type: "code", source: "", metadata: {} }] });
    assert.ok(!badCell.ok && /cells\.0/.test(badCell.problem), !badCell.ok ? badCell.problem : "");
    const notJson = parseNotebook("{");
    assert.ok(!notJson.ok && /not valid JSON/.test(notJson.problem));
  });
});

describe("formatNotebook", () => {
  it("writes outputs in nbformat shape, without transient display ids", () => {
    const parsed = parseNotebook({ nbformat: 4, nbformat_minor: 5, metadata: {}, cells: [] });
    assert.ok(parsed.ok);
    const cell: CodeCell = {
      cell_type: "code", id: "c", metadata: {}, source: "x", execution_count: 3,
      outputs: [{ output_type: "display_data", data: { "text/plain": "a\nb" }, metadata: {}, transient: { display_id: "d" } }],
    };
    const text = formatNotebook({ ...parsed.notebook, cells: [cell] });
    const json = JSON.parse(text);
    assert.deepEqual(json.cells[0].outputs[0], { data: { "text/plain": ["a\n", "b"] }, metadata: {}, output_type: "display_data" });
    assert.deepEqual(json.cells[0].source, ["x"]);
  });

  it("splits lines as nbformat does", () => {
    assert.deepEqual(splitLines(""), []);
    assert.deepEqual(splitLines("a\n\nb"), ["a\n", "\n", "b"]);
  });
});
