// Saving a document edited in the browser (a notebook, a text file): Ctrl+S and autosave (2 s after edits stop, at
// most 30 s after the first unsaved change), always against the mtime the page last saw, so a file changed on disk
// is never silently overwritten — the page asks (Overwrite / Reload) instead. A failed save is retried with a
// back-off; a hung one is given up after SAVE_DEADLINE_MS. Leaving the page inside the portal saves what is
// pending; signing out saves every open document first (saveOpenDocuments). What is saved, what counts as the
// user's edit, and any draft kept meanwhile are the document's own (SavedDocument): notebook/saver.ts for
// notebooks, viewer/text-editor.tsx for text files.
import { reportSessionEnded } from "@/app/_lib/session-ended";

export interface SaveState {
  dirty: boolean;
  saving: boolean;
  savedAt: Date | null;
  conflict: boolean;
  error: string | null;
}

/** The edited document, as its saver sees it. */
export interface SavedDocument<T> {
  /** Anything that should be saved changed. */
  subscribeChanges(listener: () => void): () => void;
  /** What a save would write now. */
  current(): T;
  /** Pending edits into current() (an editor that batches its changes); called as a save begins. */
  flush?(): void;
  /** What the user wrote in it, to tell their edits from changes that need no question (a notebook's outputs). */
  shape(content: T): string;
  /** Keep unsaved content beside the file's mtime it was based on (a draft), and forget it once saved. */
  keepDraft?(content: T, baseMtime: Date): void;
  clearDraft?(): void;
}

/** A saver as pages and sign-out use it, whatever it saves. */
export interface Saver {
  readonly path: string;
  readonly state: SaveState;
  subscribe(listener: () => void): () => void;
  getState(): SaveState;
  hasUnsavedEdits(): boolean;
  save(options?: { force?: boolean }): Promise<boolean>;
  discard(): void;
}

export type SaveDocumentCall<T> = (input: { path: string; content: T; expectedMtime: Date | null; force?: boolean }) => Promise<{ mtime: Date }>;

const QUIET_MS = 2_000;
const MAX_WAIT_MS = 30_000;
const DRAFT_MS = 500;
/** A failed save is retried after 2 s, 4 s, 8 s ... at most every minute. */
const RETRY_FIRST_MS = 2_000;
const RETRY_MAX_MS = 60_000;
/** A save that has not answered by then is given up (and retried): a hung request must not hold every later save. */
export const SAVE_DEADLINE_MS = 120_000;
const RETRIED_CODES = new Set(["INTERNAL_SERVER_ERROR", "TIMEOUT", "TOO_MANY_REQUESTS", "SERVICE_UNAVAILABLE", "BAD_GATEWAY", "GATEWAY_TIMEOUT", "CLIENT_CLOSED_REQUEST"]);

/** The savers of the documents open in this page: sign-out saves them first. */
const openSavers = new Set<Saver>();

/**
 * Saves every open document with edits (at sign-out), each within `deadlineMs`; answers the paths whose edits could
 * not be saved (a conflict, a refusal, no answer), which the caller asks about before they are lost.
 */
export async function saveOpenDocuments(deadlineMs = 15_000): Promise<string[]> {
  const until = Date.now() + deadlineMs;
  const savedInTime = async (saver: Saver): Promise<boolean> => {
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

/** The user chose to lose what the open documents have not saved (sign-out anyway): no more saves, drafts or questions. */
export function discardOpenDocuments() {
  for (const saver of openSavers) saver.discard();
}

export class DocumentSaver<T> implements Saver {
  state: SaveState = { dirty: false, saving: false, savedAt: null, conflict: false, error: null };
  private readonly listeners = new Set<() => void>();
  private quietTimer: ReturnType<typeof setTimeout> | null = null;
  private maxTimer: ReturnType<typeof setTimeout> | null = null;
  private draftTimer: ReturnType<typeof setTimeout> | null = null;
  private changeCount = 0;
  /** Failed saves in a row (for the retry back-off). */
  private failures = 0;
  private unsubscribe: () => void;
  /** The user's part of the document as last saved (or opened): their edits differ from it. */
  private savedShape: string | null;
  /** The user's part as the last change left it: a change that leaves it alone (output streaming in) is no edit. */
  private changedShape: string;
  private disposed = false;
  private discarded = false;
  /** Saves begun (compareWithDisk ignores a look that one overlapped). */
  private saveStarts = 0;
  private readonly deadlineMs: number;

  constructor(
    private readonly document: SavedDocument<T>,
    readonly path: string,
    private mtime: Date,
    private readonly call: SaveDocumentCall<T>,
    options: { deadlineMs?: number } = {},
  ) {
    this.deadlineMs = options.deadlineMs ?? SAVE_DEADLINE_MS;
    // As opened, the page holds the file as last written: "Saved <then>", as after a save of its own.
    this.state = { ...this.state, savedAt: mtime };
    this.unsubscribe = document.subscribeChanges(() => this.onChange());
    this.savedShape = document.shape(document.current());
    this.changedShape = this.savedShape;
    openSavers.add(this);
  }

  /**
   * Whether leaving now would lose something the user wrote (or something waiting on the conflict question).
   * Changes that are not the user's (a notebook's outputs) don't count.
   */
  hasUnsavedEdits(): boolean {
    if (this.discarded) return false;
    if (this.state.conflict) return true;
    if (!this.state.dirty && !this.state.saving && !this.state.error) return false;
    return this.savedShape === null || this.document.shape(this.document.current()) !== this.savedShape;
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

  /** The document changed in a way the file doesn't have (a restored draft, merged outputs): save it. */
  markDirty() {
    this.savedShape = null;
    this.onChange();
  }

  private onChange() {
    if (this.discarded) return;
    this.changeCount++;
    if (!this.state.dirty) this.set({ dirty: true });
    if (this.document.keepDraft && !this.draftTimer) this.draftTimer = setTimeout(() => this.writeDraft(), DRAFT_MS);
    if (this.state.conflict) return; // waiting for the user's choice
    // Only the user's edits put the save off until they pause: output streaming in does not, or a cell that prints
    // every second would keep its own source unsaved for MAX_WAIT_MS (QA: a browser closed meanwhile lost it).
    const shape = this.document.shape(this.document.current());
    const edited = shape !== this.changedShape;
    this.changedShape = shape;
    if (edited || !this.quietTimer) {
      if (this.quietTimer) clearTimeout(this.quietTimer);
      this.quietTimer = setTimeout(() => void this.save(), QUIET_MS);
    }
    if (!this.maxTimer) this.maxTimer = setTimeout(() => void this.save(), MAX_WAIT_MS);
  }

  private writeDraft() {
    this.draftTimer = null;
    if (!this.state.dirty || this.discarded) return;
    this.document.keepDraft?.(this.document.current(), this.mtime);
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
    this.document.flush?.();
    this.saveStarts++;
    const changesAtStart = this.changeCount;
    this.set({ saving: true, error: null });
    try {
      const content = this.document.current();
      const { mtime } = await withDeadline(this.call({ path: this.path, content, expectedMtime: this.mtime, force: options.force }), this.deadlineMs);
      this.mtime = mtime instanceof Date ? mtime : new Date(mtime);
      this.savedShape = this.document.shape(content);
      this.failures = 0;
      const dirty = this.changeCount !== changesAtStart;
      this.set({ saving: false, savedAt: new Date(), dirty, conflict: false });
      if (dirty) this.onChange();
      else this.document.clearDraft?.();
      return true;
    } catch (error) {
      const code = (error as { data?: { code?: string } }).data?.code;
      if (code === "CONFLICT") {
        this.set({ saving: false, conflict: true });
      } else if (code === "UNAUTHORIZED") {
        // Kept on the page: the signed-out dialog saves again once the user has signed in again.
        reportSessionEnded();
        this.set({ saving: false, error: "You are signed out: sign in again to save." });
      } else {
        this.set({ saving: false, error: saveErrorWords(error, code) });
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
   * The document closes (the user went elsewhere in the portal): what is pending is kept as a draft and saved now,
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

/** The browser's words for a request that never reached the server, in Chromium, Firefox and Safari. */
const UNREACHABLE = /^(Failed to fetch|NetworkError when attempting to fetch resource\.?|Load failed|fetch failed)$/i;

/** Why a save failed, for the status line after "Not saved: ": the server's refusal, or plain words for no network. */
export function saveErrorWords(error: unknown, code: string | undefined): string {
  const message = error instanceof Error ? error.message : "";
  // No answer at all (offline, the portal restarting): said plainly, with what happens next (QA: "Failed to fetch").
  if (!code && UNREACHABLE.test(message.trim())) return "Atrium can't be reached right now. Your changes are kept on this page and saved when it is back.";
  // The server's refusals begin "Not saved: "; the page says that itself where it shows the error.
  return message.replace(/^Not saved: /, "") || "The file couldn't be saved.";
}
