// A notebook as a Python script ("Download as Python script"): the cells in order, in the percent format that
// VS Code, Spyder, PyCharm and jupytext read back as cells (`# %%`, `# %% [markdown]`). Markdown and raw cells become
// comments; IPython's magics and shell escapes (`%matplotlib`, `!pip`), which plain Python cannot run, are commented
// out as jupytext does, so the script runs with `python`. Outputs are not part of a script. Pure and browser-safe.
import type { Notebook } from "./nbformat";

/** A line plain Python cannot run: a line or cell magic, a shell escape, or help (`obj?`). */
const IPYTHON_ONLY = /^\s*(%|!)|^\s*[\w.]+\?{1,2}\s*$/;

const commented = (text: string) => text.split("\n").map((line) => (line ? `# ${line}` : "#"));

export function notebookToScript(notebook: Notebook): string {
  const blocks: string[] = [];
  for (const cell of notebook.cells) {
    const source = cell.source.replace(/\s+$/, "");
    if (cell.cell_type === "code") {
      const lines = source.split("\n").map((line) => (IPYTHON_ONLY.test(line) ? `# ${line}` : line));
      blocks.push(["# %%", ...(source ? lines : [])].join("\n"));
    } else {
      blocks.push([`# %% [${cell.cell_type}]`, ...(source ? commented(source) : [])].join("\n"));
    }
  }
  return blocks.length ? `${blocks.join("\n\n")}\n` : "";
}

/** The script's file name beside the notebook's: `Analysis.ipynb` → `Analysis.py`. */
export function scriptName(notebookPath: string): string {
  const name = notebookPath.split("/").pop() ?? notebookPath;
  return `${name.replace(/\.ipynb$/i, "") || "notebook"}.py`;
}
