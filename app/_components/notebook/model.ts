// The open notebook as the page holds it: cells, their outputs and run states, the active cell and mode.
// It lives outside React so streaming output touches only the cell it belongs to: components subscribe per
// cell (useSyncExternalStore), iopub updates are queued and applied together (stream output ten times a
// second, the rest on the next animation frame), and editors own their text (the model is told of edits but
// doesn't re-render for them).
import type { CellType, JsonObject, Notebook, NotebookBase, Output } from "@/server/notebooks/nbformat";
import { newCellId } from "@/server/notebooks/nbformat";
import { appendStream, applyIopub, updateDisplay, type LiveOutput, type OutputArea } from "@/server/notebooks/outputs";

export type RunStatus = "idle" | "queued" | "running";

export interface StdinRequest {
  prompt: string;
  password: boolean;
  /** Answers the kernel; set by the kernel session. */
  reply(value: string): void;
}

export interface CellModel {
  readonly id: string;
  readonly type: CellType;
  /** The text when the model last read it from the editor (or the file). */
  readonly source: string;
  readonly metadata: JsonObject;
  /** Fields of the file's cell the page doesn't use (attachments, ...): written back as they came. */
  readonly extra: JsonObject;
  readonly outputs: LiveOutput[];
  readonly clearPending: boolean;
  readonly executionCount: number | null;
  readonly status: RunStatus;
  readonly startedAt: number | null;
  /** How long the last run took, for the cell's quiet timing note. */
  readonly lastDurationMs: number | null;
  /** The run (msg_id) of which the server shows only part of the output; the whole is at fullOutputUrl(). */
  readonly clippedRun: string | null;
  readonly stdin: StdinRequest | null;
  /** Markdown cells: shown rendered (true) or as source being edited. */
  readonly rendered: boolean;
  /** Shift+Tab inspection text (may hold ANSI). */
  readonly inspection: string | null;
  /** Bumped when the source is replaced from outside the editor (paste, restore), so the editor reloads. */
  readonly sourceVersion: number;
}

export type Mode = "command" | "edit";

type Listener = () => void;

export function cellFromNotebook(cell: Notebook["cells"][number]): CellModel {
  const { id, cell_type, source, metadata, outputs, execution_count, ...extra } = cell as Notebook["cells"][number] & { outputs?: Output[]; execution_count?: number | null };
  return {
    id,
    type: cell_type,
    source,
    metadata,
    extra,
    outputs: (outputs ?? []) as LiveOutput[],
    clearPending: false,
    executionCount: execution_count ?? null,
    status: "idle",
    startedAt: null,
    lastDurationMs: null,
    clippedRun: null,
    stdin: null,
    rendered: cell_type === "markdown",
    inspection: null,
    sourceVersion: 0,
  };
}

/** Whether a cell's outputs are hidden (O): Jupyter's metadata.jupyter.outputs_hidden. */
export function outputsHidden(cell: CellModel): boolean {
  return (cell.metadata.jupyter as JsonObject | undefined)?.outputs_hidden === true;
}

export function newCell(type: CellType, source = ""): CellModel {
  return cellFromNotebook(
    type === "code"
      ? { cell_type: "code", id: newCellId(), source, metadata: {}, outputs: [], execution_count: null }
      : { cell_type: type, id: newCellId(), source, metadata: {} },
  );
}

/**
 * How often stream output is applied while it keeps arriving. Every frame (as before) re-rendered a long output
 * 60 times a second, and the renderer's work on those frames delayed the frames that show typing in other
 * cells (Event Timing p50 ≈ 130 ms while 100,000 lines streamed). Ten times a second still reads as live.
 */
export const STREAM_INTERVAL_MS = 100;

interface QueuedIopub {
  cellId: string;
  msgType: string;
  content: JsonObject;
}

export class NotebookModel {
  private cellsById = new Map<string, CellModel>();
  private order: string[] = [];
  private readonly structureListeners = new Set<Listener>();
  private readonly uiListeners = new Set<Listener>();
  private readonly cellListeners = new Map<string, Set<Listener>>();
  private readonly changeListeners = new Set<Listener>();
  private pending: QueuedIopub[] = [];
  private frame: number | null = null;
  private timer: ReturnType<typeof setTimeout> | null = null;
  /** A queued message other than stream output: flush on the next frame. */
  private urgent = false;
  private lastFlush = 0;
  /** What Z brings back: deleted cells at their place, and after a merge the upper cell as it was. */
  private readonly deleted: { cells: CellModel[]; index: number; mergedInto?: CellModel }[] = [];
  private clipboard: CellModel[] = [];

  activeId: string | null = null;
  mode: Mode = "command";
  /** Top-level notebook fields (nbformat, metadata, unknown ones), without the cells. */
  base: NotebookBase;

  constructor(notebook: Notebook) {
    const { cells, ...base } = notebook;
    this.base = base;
    this.order = cells.map((c) => c.id);
    for (const cell of cells) this.cellsById.set(cell.id, cellFromNotebook(cell));
    if (this.order.length === 0) this.insert(0, newCell("code"), false);
    this.activeId = this.order[0] ?? null;
  }

  // --- reading ---

  get ids(): readonly string[] {
    return this.order;
  }
  cell(id: string): CellModel | undefined {
    return this.cellsById.get(id);
  }
  indexOf(id: string): number {
    return this.order.indexOf(id);
  }
  get activeIndex(): number {
    return this.activeId ? this.order.indexOf(this.activeId) : -1;
  }

  /** The notebook to save: nbformat shape, fields the page doesn't know kept. */
  toNotebook(): Notebook {
    const cells = this.order.map((id) => {
      const c = this.cellsById.get(id)!;
      const base = { ...c.extra, id: c.id, cell_type: c.type, source: c.source, metadata: c.metadata };
      return c.type === "code" ? { ...base, outputs: c.outputs, execution_count: c.executionCount } : base;
    });
    return { ...this.base, cells } as Notebook;
  }

  // --- subscriptions (useSyncExternalStore) ---

  subscribeStructure = (listener: Listener) => add(this.structureListeners, listener);
  subscribeUi = (listener: Listener) => add(this.uiListeners, listener);
  /** Anything that should be saved changed. */
  subscribeChanges = (listener: Listener) => add(this.changeListeners, listener);
  subscribeCell(id: string, listener: Listener): () => void {
    let set = this.cellListeners.get(id);
    if (!set) this.cellListeners.set(id, (set = new Set()));
    set.add(listener);
    return () => set.delete(listener);
  }

  private emit(set: Set<Listener>) {
    for (const listener of [...set]) listener();
  }
  private changed() {
    this.emit(this.changeListeners);
  }

  // --- cell updates ---

  update(id: string, patch: Partial<CellModel>, options: { dirty?: boolean } = {}): void {
    const cell = this.cellsById.get(id);
    if (!cell) return;
    this.cellsById.set(id, { ...cell, ...patch });
    const listeners = this.cellListeners.get(id);
    if (listeners) this.emit(listeners);
    if (options.dirty) this.changed();
  }

  /** The editor's text changed: remembered for saving, no re-render. */
  setSource(id: string, source: string): void {
    const cell = this.cellsById.get(id);
    if (!cell || cell.source === source) return;
    this.cellsById.set(id, { ...cell, source });
    this.changed();
  }

  replaceSource(id: string, source: string): void {
    const cell = this.cellsById.get(id);
    if (cell) this.update(id, { source, sourceVersion: cell.sourceVersion + 1 }, { dirty: true });
  }

  setMetadata(metadata: JsonObject): void {
    this.base = { ...this.base, metadata };
    this.changed();
  }

  // --- structure ---

  insert(index: number, cell: CellModel, notify = true): CellModel {
    this.cellsById.set(cell.id, cell);
    this.order = [...this.order.slice(0, index), cell.id, ...this.order.slice(index)];
    if (notify) {
      this.emit(this.structureListeners);
      this.changed();
    }
    return cell;
  }

  insertRelative(offset: 0 | 1, type: CellType = "code"): CellModel {
    const index = Math.max(0, this.activeIndex) + offset;
    const cell = this.insert(Math.min(index, this.order.length), newCell(type));
    this.setActive(cell.id);
    return cell;
  }

  deleteActive(): void {
    const index = this.activeIndex;
    if (index < 0) return;
    const id = this.order[index]!;
    this.deleted.push({ cells: [this.cellsById.get(id)!], index });
    this.order = this.order.filter((x) => x !== id);
    this.cellsById.delete(id);
    if (this.order.length === 0) this.insert(0, newCell("code"), false);
    this.activeId = this.order[Math.min(index, this.order.length - 1)] ?? null;
    this.emit(this.structureListeners);
    this.emit(this.uiListeners);
    this.changed();
  }

  undoDelete(): void {
    const last = this.deleted.pop();
    if (!last) return;
    last.cells.forEach((cell, i) => this.insert(Math.min(last.index + i, this.order.length), cell, false));
    const merged = last.mergedInto && this.cellsById.get(last.mergedInto.id);
    if (merged) this.update(merged.id, { ...last.mergedInto, sourceVersion: merged.sourceVersion + 1 });
    this.activeId = last.cells[0]!.id;
    this.emit(this.structureListeners);
    this.emit(this.uiListeners);
    this.changed();
  }

  copyActive(cut = false): void {
    const cell = this.activeId ? this.cellsById.get(this.activeId) : undefined;
    if (!cell) return;
    this.clipboard = [cell];
    if (cut) this.deleteActive();
  }

  /** Pastes the copied cells below the active one (V), or above it (Shift+V). */
  pasteBelow(above = false): void {
    const index = Math.max(0, this.activeIndex + (above ? 0 : 1));
    let lastId: string | null = null;
    this.clipboard.forEach((cell, i) => {
      const copy = { ...newCell(cell.type, cell.source), metadata: cell.metadata, outputs: cell.outputs, executionCount: cell.executionCount };
      this.insert(index + i, copy, false);
      lastId = copy.id;
    });
    if (lastId) this.activeId = lastId;
    this.emit(this.structureListeners);
    this.emit(this.uiListeners);
    this.changed();
  }

  move(delta: -1 | 1): void {
    const index = this.activeIndex;
    const target = index + delta;
    if (index < 0 || target < 0 || target >= this.order.length) return;
    const next = [...this.order];
    [next[index], next[target]] = [next[target]!, next[index]!];
    this.order = next;
    this.emit(this.structureListeners);
    this.emit(this.uiListeners); // the active cell's place (its move buttons) changed
    this.changed();
  }

  /**
   * Merges the cell below into the active one (Shift+M, as Jupyter): sources joined by a blank line, the active
   * cell's type, outputs cleared (they belonged to the halves). Undo (Z) brings the cell below back.
   */
  mergeBelow(): void {
    const index = this.activeIndex;
    const upper = this.cellsById.get(this.order[index] ?? "");
    const lower = this.cellsById.get(this.order[index + 1] ?? "");
    if (!upper || !lower) return;
    this.deleted.push({ cells: [lower], index: index + 1, mergedInto: upper });
    this.order = this.order.filter((id) => id !== lower.id);
    this.cellsById.delete(lower.id);
    const source = [upper.source, lower.source].filter((s) => s !== "").join("\n\n");
    this.update(upper.id, { source, sourceVersion: upper.sourceVersion + 1, outputs: [], executionCount: null, rendered: false });
    this.emit(this.structureListeners);
    this.changed();
  }

  /**
   * Splits a cell at the cursor (Ctrl+Shift+-, as Jupyter): the text before stays, the text after becomes a new
   * cell of the same type below, which takes the cursor. `source` is the editor's text (newer than the model's).
   */
  splitAt(id: string, source: string, at: number): void {
    const cell = this.cellsById.get(id);
    const index = this.indexOf(id);
    if (!cell || index < 0) return;
    const before = source.slice(0, at).replace(/\n$/, "");
    const after = source.slice(at).replace(/^\n/, "");
    this.update(id, { source: before, sourceVersion: cell.sourceVersion + 1 });
    const added = this.insert(index + 1, newCell(cell.type, after));
    this.setActive(added.id, "edit");
  }

  /** Hides or shows a code cell's outputs (O), kept in the file as Jupyter keeps it (metadata.jupyter.outputs_hidden). */
  toggleOutputs(id: string): void {
    const cell = this.cellsById.get(id);
    if (!cell || cell.type !== "code") return;
    const jupyter = { ...((cell.metadata.jupyter as JsonObject | undefined) ?? {}) };
    if (jupyter.outputs_hidden === true) delete jupyter.outputs_hidden;
    else jupyter.outputs_hidden = true;
    const { jupyter: _old, ...rest } = cell.metadata;
    this.update(id, { metadata: Object.keys(jupyter).length ? { ...rest, jupyter } : rest }, { dirty: true });
  }

  changeType(id: string, type: CellType): void {
    const cell = this.cellsById.get(id);
    if (!cell || cell.type === type) return;
    this.update(id, { type, outputs: [], executionCount: null, rendered: type === "markdown" ? false : cell.rendered }, { dirty: true });
  }

  // --- active cell and mode ---

  setActive(id: string | null, mode?: Mode): void {
    if (id === this.activeId && (mode === undefined || mode === this.mode)) return;
    this.activeId = id;
    if (mode) this.mode = mode;
    this.emit(this.uiListeners);
  }
  setMode(mode: Mode): void {
    if (mode === this.mode) return;
    this.mode = mode;
    this.emit(this.uiListeners);
  }
  selectRelative(delta: number): void {
    const index = Math.min(this.order.length - 1, Math.max(0, this.activeIndex + delta));
    this.setActive(this.order[index] ?? null);
  }

  // --- outputs (live) ---

  /**
   * Queues an iopub output message for a cell. Other messages are applied with the next animation frame;
   * stream output that keeps arriving at most every STREAM_INTERVAL_MS, in order with everything else.
   */
  queueIopub(cellId: string, msgType: string, content: JsonObject): void {
    this.pending.push({ cellId, msgType, content });
    if (msgType !== "stream") this.urgent = true;
    this.scheduleFlush();
  }

  private scheduleFlush(): void {
    if (this.frame !== null) return; // the soonest flush is already due
    const visible = typeof requestAnimationFrame === "function" && typeof document !== "undefined" && document.visibilityState === "visible";
    if (!visible) {
      this.timer ??= setTimeout(() => this.flush(), 50);
      return;
    }
    const wait = this.urgent ? 0 : this.lastFlush + STREAM_INTERVAL_MS - performance.now();
    if (wait <= 0) {
      if (this.timer !== null) clearTimeout(this.timer);
      this.timer = null;
      this.frame = requestAnimationFrame(() => this.flush());
    } else {
      this.timer ??= setTimeout(() => this.flush(), wait);
    }
  }

  /** Applies queued iopub messages now (also called before saving). */
  flush(): void {
    if (this.frame !== null) cancelAnimationFrame(this.frame);
    if (this.timer !== null) clearTimeout(this.timer);
    this.frame = this.timer = null;
    this.urgent = false;
    this.lastFlush = typeof performance === "undefined" ? Date.now() : performance.now();
    const batch = this.pending;
    this.pending = [];
    if (batch.length === 0) return;
    const areas = new Map<string, OutputArea>();
    const area = (id: string) => {
      let a = areas.get(id);
      if (!a) {
        const cell = this.cellsById.get(id);
        a = { outputs: cell?.outputs ?? [], clearPending: cell?.clearPending ?? false };
        areas.set(id, a);
      }
      return a;
    };
    for (let i = 0; i < batch.length; i++) {
      const item = batch[i]!;
      if (!this.cellsById.has(item.cellId) && item.msgType !== "update_display_data") continue;
      if (item.msgType === "stream") {
        // Consecutive chunks of one stream join first, so a burst of prints costs one append.
        let text = String(item.content.text ?? "");
        const name = String(item.content.name ?? "stdout");
        while (batch[i + 1]?.msgType === "stream" && batch[i + 1]!.cellId === item.cellId && batch[i + 1]!.content.name === name) {
          text += String(batch[++i]!.content.text ?? "");
        }
        areas.set(item.cellId, appendStream(area(item.cellId), name, text));
      } else if (item.msgType === "update_display_data") {
        const displayId = (item.content.transient as { display_id?: unknown } | undefined)?.display_id;
        if (typeof displayId !== "string") continue;
        for (const id of this.order) {
          const updated = updateDisplay(area(id).outputs, displayId, item.content);
          if (updated) areas.set(id, { ...area(id), outputs: updated });
        }
      } else {
        areas.set(item.cellId, applyIopub(area(item.cellId), item.msgType, item.content));
      }
    }
    for (const [id, a] of areas) {
      const cell = this.cellsById.get(id);
      if (cell && (cell.outputs !== a.outputs || cell.clearPending !== a.clearPending)) this.update(id, { outputs: a.outputs as LiveOutput[], clearPending: a.clearPending });
    }
    this.changed();
  }

  clearOutputs(id: string): void {
    this.update(id, { outputs: [], clearPending: false, clippedRun: null }, { dirty: true });
  }
}

function add(set: Set<Listener>, listener: Listener): () => void {
  set.add(listener);
  return () => set.delete(listener);
}
