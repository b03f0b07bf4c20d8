// Regression: the Notebooks page made a hidden ".ipynb" from an empty name, and offered Untitled.ipynb when it
// already existed (the first click failed). Names now start from the first free one, as Files' New notebook does.
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { newNotebookPath, suggestedNotebookName } from "./new-notebook-name";

describe("the Notebooks page's new notebook name", () => {
  it("refuses an empty or whitespace name, and a name that is only the extension", () => {
    for (const typed of ["", "   ", "\t", ".ipynb", "  .ipynb ", "folder/.ipynb", " .IPYNB"]) {
      assert.ok(newNotebookPath(typed).problem, JSON.stringify(typed));
    }
    assert.equal(newNotebookPath("  ").problem, "Enter a name for the notebook.");
  });

  it("adds .ipynb when it is missing, and keeps it (any case) when it is there", () => {
    assert.deepEqual(newNotebookPath(" Sales "), { path: "Sales.ipynb" });
    assert.deepEqual(newNotebookPath("Sales.ipynb"), { path: "Sales.ipynb" });
    assert.deepEqual(newNotebookPath("Sales.IPYNB"), { path: "Sales.IPYNB" });
    assert.deepEqual(newNotebookPath("reports/q3"), { path: "reports/q3.ipynb" });
  });

  it("starts from the first Untitled name the home folder does not have", () => {
    assert.equal(suggestedNotebookName([]), "Untitled.ipynb");
    assert.equal(suggestedNotebookName(["Untitled.ipynb", "data.csv"]), "Untitled1.ipynb");
    assert.equal(suggestedNotebookName(["Untitled.ipynb", "Untitled1.ipynb", "Untitled3.ipynb"]), "Untitled2.ipynb");
  });
});
