// Saving: Ctrl+S and autosave (2 s after edits stop, at most 30 s after the first unsaved change), always
// against the mtime the page last saw, so a file changed on disk is never silently overwritten — the page
// asks (Overwrite / Reload) instead. Leaving the notebook inside the portal saves what is pending; closing the tab
// with edits not yet saved asks first (outputs don't count: the server keeps them); signing out saves every open
// notebook first. Every change is also kept as a draft in localStorage (keyed by user and path,
// with the mtime it was based on), so unsaved work survives a reload or a crash; a shared browser never shows one
// user's draft to another, and signing out removes the user's drafts. The draft leaves outputs out: they
// are what makes big notebooks big (localStorage holds ~5 MB), and they are not lost — the file and the
// server's durable outputs have them, and withOutputsFrom puts them back by cell id.
import type { Cell, Notebook } from "@/server/notebooks/nbformat";
import type { NotebookModel } from "./model";

export interface SaveState {
  dirty: boolean;
  saving: boolean;
  savedAt: Date | null;
  conflict: boolean;
  error: string | null;
}

export type SaveCall = (input: { path: string; notebook: Notebook; expectedMtime: Date | null; force?: boolean }) => Promise<{ mtime: Date }>;

const QUIET_MS = 2_000;
const MAX_WAIT_MS = 30_000;
const DRAFT_MS = 500;
/** A failed save is retried after 2 s, 4 s, 8 s ... at most every minute. */
const RETRY_FIRST_MS = 2_000;
const RETRY_MAX_MS = 60_000;
/** A save that has not answered by then is given up (and retried): a hung request must not hold every later save. */
export const SAVE_DEADLINE_MS = 120_000;
const RETRIED_CODES = new Set(["INTERNAL_SERVER_ERROR", "TIMEOUT", "TOO_MANY_REQUESTS", "SERVICE_UNAVAILABLE", "BAD_GATEWAY", "GATEWAY_TIMEOUT", "CLIENT_CLOSED_REQUEST"]);

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

/** The savers of the notebooks open in this page (one, or none): sign-out saves them first. */
const openSavers = new Set<NotebookSaver>();

/**
 * Saves every open notebook with edits (at sign-out), each within `deadlineMs`; answers the paths whose edits could
 * not be saved (a conflict, a refusal, no answer), which the caller asks about before they are lost.
 */
export async function saveOpenNotebooks(deadlineMs = 15_000): Promise<string[]> {
  const until = Date.now() + deadlineMs;
  const savedInTime = async (saver: NotebookSaver): Promise<boolean> => {
    while (saver.hasUnsavedEdits() && Date.now() < until) {
      if (saver.state.conflict) return false;
      if (saver.state.saving) await new Promise((resolve) => setTimeout(resolve, 200));
      else if (!(await saver.save())) return false;
    }
    return !saver.hasUnsavedEdits();
  };
  const timeUp = new Promise<false>((resolve) => setTimeout(() => resolve(false), deadlineMs));
  const results = await Promise.all([...openSavers].map(async (saver) => ((await Promise.race([savedInTime(saver), timeUp])) ? null : saver.path)));
  return results.filter((path): path is string => path !== null);
}

/** The user chose to lose what the open notebooks have not saved (sign-out anyway): no more saves, drafts or questions. */
export function discardOpenNotebooks() {
  for (const saver of openSavers) saver.discard();
}

export class NotebookSaver {
  state: SaveState = { dirty: false, saving: false, savedAt: null, conflict: false, error: null };
  private readonly listeners = new Set<() => void>();
  private quietTimer: ReturnType<typeof setTimeout> | null = null;
  private maxTimer: ReturnType<typeof setTimeout> | null = null;
  private draftTimer: ReturnType<typeof setTimeout> | null = null;
  private changeCount = 0;
  /** Failed saves in a row (for the retry back-off). */
  private failures = 0;
  private unsubscribe: () => void;
  /** The cells' types and sources as last saved (or opened): edits differ from it, new outputs don't. */
  private savedShape: string | null;
  private disposed = false;
  private discarded = false;
  /** Saves begun (compareWithDisk ignores a look that one overlapped). */
  private saveStarts = 0;

  private readonly draftKey: string;
  private readonly deadlineMs: number;

  constructor(
    private readonly model: NotebookModel,
    readonly path: string,
    private mtime: Date,
    private readonly call: SaveCall,
    options: { userId: string; deadlineMs?: number },
  ) {
    this.draftKey = draftKey(options.userId, path);
    this.deadlineMs = options.deadlineMs ?? SAVE_DEADLINE_MS;
    // As opened, the page holds the file as last written: "Saved <then>", as after a save of its own.
    this.state = { ...this.state, savedAt: mtime };
    this.unsubscribe = model.subscribeChanges(() => this.onChange());
    this.savedShape = shapeOf(model.toNotebook());
    openSavers.add(this);
  }

  /**
   * Whether leaving now would lose something the user wrote: a cell's source or type not yet saved (or waiting on
   * the conflict question). Outputs alone don't count: the server records them as they come.
   */
  hasUnsavedEdits(): boolean {
    if (this.discarded) return false;
    if (this.state.conflict) return true;
    if (!this.state.dirty && !this.state.saving && !this.state.error) return false;
    return this.savedShape === null || shapeOf(this.model.toNotebook()) !== this.savedShape;
  }

  subscribe = (listener: () => void) => {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  };
  getState = () => this.state;

  private set(patch: Partial<SaveState>) {
    this.state = { ...this.state, ...patch };
    for (const listener of [...this.listeners]) listener();
  }

  /** The model changed: mark dirty, keep a draft soon, autosave when edits pause. */
  markDirty() {
    this.savedShape = null; // what is shown (a restored draft, merged outputs) is not the file
    this.onChange();
  }

  private onChange() {
    if (this.discarded) return;
    this.changeCount++;
    if (!this.state.dirty) this.set({ dirty: true });
    if (!this.draftTimer) this.draftTimer = setTimeout(() => this.writeDraft(), DRAFT_MS);
    if (this.state.conflict) return; // waiting for the user's choice
    if (this.quietTimer) clearTimeout(this.quietTimer);
    this.quietTimer = setTimeout(() => void this.save(), QUIET_MS);
    if (!this.maxTimer) this.maxTimer = setTimeout(() => void this.save(), MAX_WAIT_MS);
  }

  private writeDraft() {
    this.draftTimer = null;
    if (!this.state.dirty || this.discarded) return;
    try {
      const draft: Draft = { baseMtime: this.mtime.toISOString(), savedAt: new Date().toISOString(), notebook: withoutOutputs(this.model.toNotebook()) };
      localStorage.setItem(this.draftKey, JSON.stringify(draft));
    } catch {
      // quota or privacy mode: the draft is a convenience, the server copy is what counts
    }
  }

  /**
   * The file on disk against what this page last read or wrote: "changed" (another window, a job or a colleague
   * wrote it), "gone" (renamed or deleted elsewhere), or "same". Undefined when it cannot be told now: a save of
   * this page's is under way or landed meanwhile (its own write is not someone else's), or the conflict question
   * is open. `stat`: the file's mtime, null when there is no such file.
   */
  async compareWithDisk(stat: () => Promise<Date | null>): Promise<"same" | "changed" | "gone" | undefined> {
    const busy = () => this.state.saving || this.state.conflict || this.discarded || this.disposed;
    if (busy()) return undefined;
    const known = this.mtime.getTime();
    const saves = this.saveStarts;
    const mtime = await stat();
    if (busy() || this.saveStarts !== saves || this.mtime.getTime() !== known) return undefined;
    if (mtime === null) return "gone";
    return mtime.getTime() === known ? "same" : "changed";
  }

  async save(options: { force?: boolean } = {}): Promise<boolean> {
    this.clearTimers();
    if (this.discarded) return false;
    if (this.state.saving) {
      // a save is in flight: save again once it lands, with whatever changed meanwhile
      this.quietTimer = setTimeout(() => void this.save(options), 300);
      return false;
    }
    this.model.flush();
    this.saveStarts++;
    const changesAtStart = this.changeCount;
    this.set({ saving: true, error: null });
    try {
      const notebook = this.model.toNotebook();
      const { mtime } = await withDeadline(
        this.call({ path: this.path, notebook, expectedMtime: this.mtime, force: options.force }),
        this.deadlineMs,
      );
      this.mtime = mtime instanceof Date ? mtime : new Date(mtime);
      this.savedShape = shapeOf(notebook);
      this.failures = 0;
      const dirty = this.changeCount !== changesAtStart;
      this.set({ saving: false, savedAt: new Date(), dirty, conflict: false });
      if (dirty) this.onChange();
      else clearDraft(this.draftKey);
      return true;
    } catch (error) {
      const code = (error as { data?: { code?: string } }).data?.code;
      if (code === "CONFLICT") {
        this.set({ saving: false, conflict: true });
      } else {
        // The server's refusals begin "Not saved: "; the page says that itself where it shows the error.
        this.set({ saving: false, error: (error as Error).message.replace(/^Not saved: /, "") || "The notebook couldn't be saved." });
        // A dropped connection or a busy server passes: try again, less and less often, without waiting for
        // another edit. A refusal (bad request, no permission) would fail the same way: the next edit or
        // Ctrl+S tries again.
        if (!this.disposed && (!code || RETRIED_CODES.has(code))) {
          const delay = Math.min(RETRY_MAX_MS, RETRY_FIRST_MS * 2 ** this.failures++);
          if (!this.quietTimer) this.quietTimer = setTimeout(() => void this.save(), delay);
        }
      }
      return false;
    }
  }

  /**
   * The notebook closes (the user went elsewhere in the portal): what is pending is kept as a draft and saved now,
   * unless the user has the conflict question to answer (the draft waits for them) or chose to discard it.
   */
  dispose() {
    this.disposed = true;
    openSavers.delete(this);
    this.clearTimers();
    if (this.draftTimer) clearTimeout(this.draftTimer);
    this.draftTimer = null;
    this.writeDraft();
    this.unsubscribe();
    if (this.state.dirty && !this.state.conflict && !this.discarded) void this.save();
  }

  /** The user chose to lose the unsaved edits (Reload, Restore a draft instead, sign out anyway): no save, no draft. */
  discard() {
    this.discarded = true;
    this.clearTimers();
    if (this.draftTimer) clearTimeout(this.draftTimer);
    this.draftTimer = null;
  }

  private clearTimers() {
    if (this.quietTimer) clearTimeout(this.quietTimer);
    if (this.maxTimer) clearTimeout(this.maxTimer);
    this.quietTimer = this.maxTimer = null;
  }
}

/** What a user writes in a notebook (cell types and sources, in order): compared to tell edits from new outputs. */
function shapeOf(notebook: Notebook): string {
  return JSON.stringify(notebook.cells.map((cell) => [cell.cell_type, cell.source]));
}

/**
 * The save's answer, or a TIMEOUT error (retried like a dropped connection) after `ms`. If the late request lands
 * after all, the retry finds the file changed and asks (Overwrite / Reload): never a silent overwrite.
 */
function withDeadline<T>(promise: Promise<T>, ms: number): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const late = new Promise<never>((_, reject) => {
    timer = setTimeout(
      () => reject(Object.assign(new Error(`the server did not answer within ${Math.round(ms / 1000)} s; trying again`), { data: { code: "TIMEOUT" } })),
      ms,
    );
  });
  return Promise.race([promise, late]).finally(() => clearTimeout(timer));
}
