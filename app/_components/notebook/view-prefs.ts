// How this browser shows notebooks, whatever the notebook: line numbers in code cells (L toggles them). A view
// preference, so it is kept in localStorage and never written into a notebook.
import { useSyncExternalStore } from "react";

const LINE_NUMBERS_KEY = "atrium.notebook.line-numbers";
const listeners = new Set<() => void>();
let lineNumbers: boolean | null = null;

function read(): boolean {
  if (lineNumbers === null) {
    try {
      lineNumbers = localStorage.getItem(LINE_NUMBERS_KEY) === "on";
    } catch {
      lineNumbers = false; // storage unavailable: the default
    }
  }
  return lineNumbers;
}

export function toggleLineNumbers(): void {
  lineNumbers = !read();
  try {
    localStorage.setItem(LINE_NUMBERS_KEY, lineNumbers ? "on" : "off");
  } catch {
    // storage unavailable: the choice holds until the page closes
  }
  for (const listener of listeners) listener();
}

function subscribe(listener: () => void): () => void {
  listeners.add(listener);
  return () => void listeners.delete(listener);
}

/** Whether code cells show line numbers; every cell re-renders when it is toggled. */
export function useLineNumbers(): boolean {
  return useSyncExternalStore(subscribe, read, () => false);
}
