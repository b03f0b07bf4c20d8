// "New notebook" must write a notebook Jupyter itself accepts: nbformat 4.5, python3 kernelspec.
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { emptyNotebookJson, untitledNotebookName } from "./notebook-template";

describe("the empty notebook", () => {
  it("is valid nbformat 4.5 JSON for the python3 kernel", () => {
    const nb = JSON.parse(emptyNotebookJson());
    assert.deepEqual(nb.cells, []);
    assert.equal(nb.nbformat, 4);
    assert.equal(nb.nbformat_minor, 5);
    assert.equal(nb.metadata.kernelspec.name, "python3");
    assert.equal(nb.metadata.kernelspec.language, "python");
    assert.equal(nb.metadata.language_info.name, "python");
    assert.deepEqual(Object.keys(nb).sort(), ["cells", "metadata", "nbformat", "nbformat_minor"]);
  });

  it("is named Untitled.ipynb, then Untitled1.ipynb, ...", () => {
    assert.deepEqual([0, 1, 2, 10].map(untitledNotebookName), ["Untitled.ipynb", "Untitled1.ipynb", "Untitled2.ipynb", "Untitled10.ipynb"]);
  });
});
