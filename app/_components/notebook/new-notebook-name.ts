// The Notebooks page's "Notebook name" field: what was typed becomes a home path ending in .ipynb, or a reason it
// cannot (said in the form). The name it starts with is the Files page's: the first free Untitled name
// (server/files/notebook-template.ts), so the first click works.
import { freeUntitledNotebookName } from "@/server/files/notebook-template";

const EXTENSION = ".ipynb";

export type NewNotebookPath = { path: string; problem?: undefined } | { path?: undefined; problem: string };

export function newNotebookPath(typed: string): NewNotebookPath {
  const name = typed.trim();
  if (name === "") return { problem: "Enter a name for the notebook." };
  const path = name.toLowerCase().endsWith(EXTENSION) ? name : `${name}${EXTENSION}`;
  // ".ipynb" alone (or "folder/.ipynb") would be a hidden file with no name.
  const fileName = path.slice(path.lastIndexOf("/") + 1);
  if (fileName.slice(0, -EXTENSION.length).trim() === "") return { problem: `Enter a name before "${EXTENSION}".` };
  return { path };
}

/** The name the field starts with: the first Untitled name not in the home folder (`homeNames`: its entries). */
export function suggestedNotebookName(homeNames: Iterable<string>): string {
  return freeUntitledNotebookName(new Set(homeNames)) ?? "";
}
