// "Download as Python script": cells in the percent format, Markdown as comments, IPython-only lines commented out,
// and the result is Python that runs (checked by compiling it with the machine's own python3).
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { describe, it } from "node:test";
import type { Notebook } from "./nbformat";
import { notebookToScript, scriptName } from "./script";

const notebook = {
  nbformat: 4,
  nbformat_minor: 5,
  metadata: {},
  cells: [
    { cell_type: "markdown", id: "m", source: "# Sales\n\nBy *region*.", metadata: {} },
    { cell_type: "code", id: "a", source: "%matplotlib inline\n!pip list\nimport math\nmath.sqrt?\nprint(math.pi)\n\n", metadata: {}, outputs: [{ output_type: "stream", name: "stdout", text: "3.14\n" }], execution_count: 1 },
    { cell_type: "code", id: "e", source: "", metadata: {}, outputs: [], execution_count: null },
    { cell_type: "raw", id: "r", source: "raw text", metadata: {} },
    { cell_type: "code", id: "b", source: "def area(r):\n    return math.pi * r ** 2\nprint(area(2) > 12)", metadata: {}, outputs: [], execution_count: 2 },
  ],
} as unknown as Notebook;

describe("notebookToScript", () => {
  it("writes percent-format cells, Markdown as comments, IPython-only lines commented out, no outputs", () => {
    assert.equal(
      notebookToScript(notebook),
      [
        "# %% [markdown]\n# # Sales\n#\n# By *region*.",
        "# %%\n# %matplotlib inline\n# !pip list\nimport math\n# math.sqrt?\nprint(math.pi)",
        "# %%",
        "# %% [raw]\n# raw text",
        "# %%\ndef area(r):\n    return math.pi * r ** 2\nprint(area(2) > 12)",
      ].join("\n\n") + "\n",
    );
  });

  it("is Python that runs", () => {
    const out = execFileSync("python3", ["-c", "import sys; exec(compile(sys.stdin.read(), 'script.py', 'exec'))"], { input: notebookToScript(notebook), encoding: "utf8" });
    assert.equal(out, "3.141592653589793\nTrue\n");
  });

  it("names the script after the notebook", () => {
    assert.equal(scriptName("work/Q3 Analysis.ipynb"), "Q3 Analysis.py");
    assert.equal(scriptName("notes.IPYNB"), "notes.py");
  });
});
