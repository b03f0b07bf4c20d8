// Saving a notebook: DocumentSaver (saving/document-saver.ts) with the notebook's rules. What counts as the
// user's edit is the cells' types and sources (outputs are kept by the server as they come). Every change is also
// kept as a draft in localStorage (keyed by user and path, with the mtime it was based on), so unsaved work survives
// a reload or a crash; a shared browser never shows one user's draft to another, and signing out removes the
// user's drafts. The draft leaves outputs out: they are what makes big notebooks big (localStorage holds ~5 MB),
// and they are not lost — the file and the server's durable outputs have them, and withOutputsFrom puts them back
// by cell id.
import type { Cell, Notebook } from "@/server/notebooks/nbformat";
import { DocumentSaver, type SavedDocument } from "../saving/document-saver";
import type { NotebookModel } from "./model";

export { SAVE_DEADLINE_MS, saveOpenDocuments, discardOpenDocuments, type SaveState } from "../saving/document-saver";

export type SaveCall = (input: { path: string; notebook: Notebook; expectedMtime: Date | null; force?: boolean }) => Promise<{ mtime: Date }>;

export interface Draft {
  baseMtime: string;
  savedAt: string;
  notebook: Notebook;
}

const DRAFT_PREFIX = "atrium.notebook-draft:";
/** A user's draft of one notebook in this browser. */
export const draftKey = (userId: string, path: string) => `${DRAFT_PREFIX}${userId}:${path}`;

/** The notebook as a draft keeps it: sources, structure and metadata, no outputs. */
export function withoutOutputs(notebook: Notebook): Notebook {
  return { ...notebook, cells: notebook.cells.map((cell): Cell => (cell.cell_type === "code" ? { ...cell, outputs: [], execution_count: null } : cell)) };
}

/** A draft's cells with the outputs and counts the same cells (by id) have in `file`; new cells stay empty. */
export function withOutputsFrom(draft: Notebook, file: Notebook): Notebook {
  const fromFile = new Map(file.cells.filter((c) => c.cell_type === "code").map((c) => [c.id, c]));
  return {
    ...draft,
    cells: draft.cells.map((cell): Cell => {
      const saved = cell.cell_type === "code" && cell.id ? fromFile.get(cell.id) : undefined;
      return saved && saved.cell_type === "code" ? { ...cell, outputs: saved.outputs, execution_count: saved.execution_count } : cell;
    }),
  };
}

export function readDraft(key: string): Draft | null {
  try {
    const raw = localStorage.getItem(key);
    return raw ? (JSON.parse(raw) as Draft) : null;
  } catch {
    return null;
  }
}

export function clearDraft(key: string) {
  try {
    localStorage.removeItem(key);
  } catch {
    // storage unavailable: nothing to clear
  }
}

/**
 * A draft kept before drafts were per user (under the path alone), taken over by this user when it was made on the
 * file as it is now (its base mtime is the file's): then it is this file's unsaved edits, and becomes the user's.
 */
export function adoptUnscopedDraft(userId: string, path: string, fileMtime: Date): Draft | null {
  const legacy = readDraft(`${DRAFT_PREFIX}${path}`);
  if (!legacy || new Date(legacy.baseMtime).getTime() !== fileMtime.getTime()) return null;
  try {
    localStorage.setItem(draftKey(userId, path), JSON.stringify(legacy));
    localStorage.removeItem(`${DRAFT_PREFIX}${path}`);
  } catch {
    // storage unavailable: offered this once
  }
  return legacy;
}

/** At sign-out: the user's drafts, and drafts kept before they were per user (whoever's they were). */
export function clearDraftsOf(userId: string) {
  try {
    const mine = `${DRAFT_PREFIX}${userId}:`;
    const unscoped = (key: string) => !/^[0-9a-f-]{36}:/.test(key.slice(DRAFT_PREFIX.length));
    const keys = Array.from({ length: localStorage.length }, (_, i) => localStorage.key(i) ?? "");
    for (const key of keys) if (key.startsWith(mine) || (key.startsWith(DRAFT_PREFIX) && unscoped(key))) localStorage.removeItem(key);
  } catch {
    // storage unavailable: nothing to clear
  }
}

export class NotebookSaver extends DocumentSaver<Notebook> {
  constructor(model: NotebookModel, path: string, mtime: Date, call: SaveCall, options: { userId: string; deadlineMs?: number }) {
    const key = draftKey(options.userId, path);
    const notebook: SavedDocument<Notebook> = {
      subscribeChanges: model.subscribeChanges,
      current: () => model.toNotebook(),
      flush: () => model.flush(),
      shape: shapeOf,
      keepDraft: (content, baseMtime) => {
        try {
          const draft: Draft = { baseMtime: baseMtime.toISOString(), savedAt: new Date().toISOString(), notebook: withoutOutputs(content) };
          localStorage.setItem(key, JSON.stringify(draft));
        } catch {
          // quota or privacy mode: the draft is a convenience, the server copy is what counts
        }
      },
      clearDraft: () => clearDraft(key),
    };
    super(notebook, path, mtime, ({ content, ...rest }) => call({ ...rest, notebook: content }), { deadlineMs: options.deadlineMs });
  }
}

/** What a user writes in a notebook (cell types and sources, in order): compared to tell edits from new outputs. */
function shapeOf(notebook: Notebook): string {
  return JSON.stringify(notebook.cells.map((cell) => [cell.cell_type, cell.source]));
}
