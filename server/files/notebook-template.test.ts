// "New notebook" must write a notebook Jupyter itself accepts: nbformat 4.5, python3 kernelspec.
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { emptyNotebookJson, freeUntitledNotebookName, MAX_UNTITLED_NAMES, untitledNotebookName } from "./notebook-template";

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

  it("takes the first name of the series that the folder does not hold", () => {
    assert.equal(freeUntitledNotebookName(new Set()), "Untitled.ipynb");
    assert.equal(freeUntitledNotebookName(new Set(["Untitled.ipynb", "Untitled2.ipynb"])), "Untitled1.ipynb");
    const all = new Set(Array.from({ length: MAX_UNTITLED_NAMES }, (_, n) => untitledNotebookName(n)));
    assert.equal(freeUntitledNotebookName(all), null);
  });
});
