// "New notebook" names: JupyterLab's Untitled series, the first free one.
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { freeUntitledNotebookName, MAX_UNTITLED_NAMES, untitledNotebookName } from "./notebook-template";

describe("the new notebook's name", () => {
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
