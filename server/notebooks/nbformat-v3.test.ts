// An nbformat 3 notebook, as IPython 1.x–2.x wrote them, opens as nbformat 4 (as Jupyter upgrades it).
import assert from "node:assert/strict";
import { test } from "node:test";
import { formatNotebook, parseNotebook } from "./nbformat";

const v3 = {
  metadata: { name: "analysis", signature: "sha256:0", kernel_info: { name: "python2" } },
  nbformat: 3,
  nbformat_minor: 0,
  worksheets: [
    {
      metadata: {},
      cells: [
        { cell_type: "heading", level: 2, metadata: {}, source: ["Monthly ", "totals"] },
        { cell_type: "markdown", metadata: {}, source: ["Some *text*.\n", "More."] },
        {
          cell_type: "code",
          collapsed: false,
          input: ["import math\n", "math.pi"],
          language: "python",
          metadata: {},
          prompt_number: 3,
          outputs: [
            { output_type: "stream", stream: "stdout", text: ["computing\n"] },
            { output_type: "pyout", prompt_number: 3, text: ["3.141592653589793"], html: ["<b>pi</b>"], metadata: {} },
            { output_type: "display_data", png: "iVBORw0KGgo=", metadata: { png: { width: 10 } } },
            { output_type: "pyerr", ename: "ValueError", evalue: "bad", traceback: ["Traceback", "ValueError: bad"] },
          ],
        },
        { cell_type: "code", input: "", language: "python", metadata: {}, outputs: [] },
      ],
    },
    { metadata: {}, cells: [{ cell_type: "raw", metadata: {}, source: "raw text" }] },
  ],
};

test("an nbformat 3 notebook opens as version 4: cells of every worksheet, headings as Markdown, outputs renamed", () => {
  const parsed = parseNotebook(JSON.stringify(v3));
  assert.ok(parsed.ok, parsed.ok ? "" : parsed.problem);
  assert.equal(parsed.upgradedFrom, 3);
  const nb = parsed.notebook;
  assert.equal(nb.nbformat, 4);
  assert.deepEqual(nb.metadata, { kernel_info: { name: "python2" } }, "the v3 name and signature are dropped");
  assert.deepEqual(nb.cells.map((c) => [c.cell_type, c.source]), [
    ["markdown", "## Monthly totals"],
    ["markdown", "Some *text*.\nMore."],
    ["code", "import math\nmath.pi"],
    ["code", ""],
    ["raw", "raw text"],
  ]);
  const code = nb.cells[2]!;
  assert.ok(code.cell_type === "code");
  assert.equal(code.execution_count, 3);
  assert.equal(code.metadata.collapsed, false);
  assert.deepEqual(code.outputs, [
    { output_type: "stream", name: "stdout", text: "computing\n" },
    { output_type: "execute_result", execution_count: 3, data: { "text/plain": "3.141592653589793", "text/html": "<b>pi</b>" }, metadata: {} },
    { output_type: "display_data", data: { "image/png": "iVBORw0KGgo=" }, metadata: { "image/png": { width: 10 } } },
    { output_type: "error", ename: "ValueError", evalue: "bad", traceback: ["Traceback", "ValueError: bad"] },
  ]);
  assert.equal(nb.cells[3]!.cell_type === "code" && nb.cells[3]!.execution_count, null);
  // Saved, it is an ordinary nbformat 4 file that opens again as it is.
  const again = parseNotebook(formatNotebook(nb));
  assert.ok(again.ok && again.upgradedFrom === undefined && again.notebook.cells.length === 5);
});

test("a version 4 notebook is not marked upgraded; other versions are refused with the reason", () => {
  const v4 = parseNotebook({ nbformat: 4, nbformat_minor: 5, metadata: {}, cells: [] });
  assert.ok(v4.ok && v4.upgradedFrom === undefined);
  const v2 = parseNotebook({ nbformat: 2, metadata: {}, worksheets: [] });
  assert.ok(!v2.ok && /Only nbformat 4 notebooks \(and version 3 ones/.test(v2.problem), v2.ok ? "" : v2.problem);
});
