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

/**
 * The cells C or X copied, for V in any notebook of this tab (JupyterLab pastes across notebooks too): one per page,
 * not per notebook. Cells are immutable snapshots, so a later edit of the original does not change what is pasted.
 */
let copiedCells: readonly CellModel[] = [];

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
  /** Output of a run another window started (it saves it there): shown here, not a change of this page's. */
  quiet?: boolean;
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

  activeId: string | null = null;
  /**
   * The other end of a selection of several cells (Shift+↑/↓, Shift+click), or null when the active cell alone is
   * selected. The selection runs from here to the active cell; moving or clicking without Shift collapses it.
   */
  anchorId: string | null = null;
  private selectionCache: { order: readonly string[]; activeId: string | null; anchorId: string | null; ids: Set<string> } | null = null;
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
  /** The selected cells in notebook order: anchor to active cell, or the active cell alone. */
  get selectedIds(): string[] {
    const active = this.activeIndex;
    if (active < 0) return [];
    const anchor = this.anchorId ? this.order.indexOf(this.anchorId) : -1;
    if (anchor < 0) return [this.order[active]!];
    return this.order.slice(Math.min(active, anchor), Math.max(active, anchor) + 1);
  }
  /** Cheap enough to ask for every cell on every change of the selection (kept until it or the order changes). */
  isSelected(id: string): boolean {
    const c = this.selectionCache;
    if (!c || c.order !== this.order || c.activeId !== this.activeId || c.anchorId !== this.anchorId) {
      this.selectionCache = { order: this.order, activeId: this.activeId, anchorId: this.anchorId, ids: new Set(this.selectedIds) };
    }
    return this.selectionCache!.ids.has(id);
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
    if (!cell) {
      // A deleted cell that Z may bring back: it comes back as its run left it, not as it was when deleted (QA).
      this.updateDeleted(id, patch);
      return;
    }
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

  /** `dirty: false` for what the page fills in by itself (the file changes only with the user's next save). */
  setMetadata(metadata: JsonObject, options: { dirty?: boolean } = {}): void {
    this.base = { ...this.base, metadata };
    if (options.dirty ?? true) this.changed();
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

  /** Deletes the selected cells (D D); Z brings them back, still selected. */
  deleteSelected(): void {
    const ids = this.selectedIds;
    if (ids.length === 0) return;
    const index = this.order.indexOf(ids[0]!);
    this.deleted.push({ cells: ids.map((id) => this.cellsById.get(id)!), index });
    const gone = new Set(ids);
    this.order = this.order.filter((x) => !gone.has(x));
    for (const id of ids) this.cellsById.delete(id);
    if (this.order.length === 0) this.insert(0, newCell("code"), false);
    this.activeId = this.order[Math.min(index, this.order.length - 1)] ?? null;
    this.anchorId = null;
    this.emit(this.structureListeners);
    this.emit(this.uiListeners);
    this.changed();
  }

  /** The copy of a deleted cell that Z would bring back, if one is kept. */
  private deletedCell(id: string): CellModel | undefined {
    for (const entry of this.deleted) for (const cell of entry.cells) if (cell.id === id) return cell;
    return undefined;
  }

  private updateDeleted(id: string, patch: Partial<CellModel>): void {
    for (const entry of this.deleted) {
      const at = entry.cells.findIndex((c) => c.id === id);
      if (at >= 0) entry.cells[at] = { ...entry.cells[at]!, ...patch };
    }
  }

  undoDelete(): void {
    const last = this.deleted.pop();
    if (!last) return;
    // Merged cells come back right after the cell they were merged into, wherever it has moved since.
    const mergedAt = last.mergedInto ? this.order.indexOf(last.mergedInto.id) : -1;
    const at = mergedAt >= 0 ? mergedAt + 1 : last.index;
    last.cells.forEach((cell, i) => this.insert(Math.min(at + i, this.order.length), cell, false));
    const merged = last.mergedInto && this.cellsById.get(last.mergedInto.id);
    if (merged) this.update(merged.id, { ...last.mergedInto, sourceVersion: merged.sourceVersion + 1 });
    // What comes back is selected again, from its top: the cells, and after a merge the cell they were merged into.
    const several = merged || last.cells.length > 1;
    this.activeId = several ? last.cells.at(-1)!.id : last.cells[0]!.id;
    this.anchorId = several ? (merged ? merged.id : last.cells[0]!.id) : null;
    this.emit(this.structureListeners);
    this.emit(this.uiListeners);
    this.changed();
  }

  /** Copies the selected cells (C), or cuts them (X). */
  copySelected(cut = false): void {
    const ids = this.selectedIds;
    if (ids.length === 0) return;
    copiedCells = ids.map((id) => this.cellsById.get(id)!);
    if (cut) this.deleteSelected();
  }

  /** Pastes the copied cells below the selection (V), or above it (Shift+V). */
  pasteBelow(above = false): void {
    const ids = this.selectedIds;
    const index = ids.length === 0 ? 0 : this.order.indexOf(ids[above ? 0 : ids.length - 1]!) + (above ? 0 : 1);
    this.anchorId = null;
    let lastId: string | null = null;
    copiedCells.forEach((cell, i) => {
      const copy = { ...newCell(cell.type, cell.source), metadata: cell.metadata, extra: cell.extra, outputs: cell.outputs, executionCount: cell.executionCount };
      this.insert(index + i, copy, false);
      lastId = copy.id;
    });
    if (lastId) this.activeId = lastId;
    this.emit(this.structureListeners);
    this.emit(this.uiListeners);
    this.changed();
  }

  /** Moves the selected cells up or down one place, together (Ctrl+Shift+↑/↓). */
  move(delta: -1 | 1): void {
    const ids = this.selectedIds;
    if (ids.length === 0) return;
    const first = this.order.indexOf(ids[0]!);
    const last = first + ids.length - 1;
    if (delta < 0 ? first === 0 : last === this.order.length - 1) return;
    const next = [...this.order];
    // The neighbour jumps over the block: above it to below, or below it to above.
    if (delta < 0) next.splice(last, 0, ...next.splice(first - 1, 1));
    else next.splice(first, 0, ...next.splice(last + 1, 1));
    this.order = next;
    this.emit(this.structureListeners);
    this.emit(this.uiListeners); // the active cell's place (its move buttons) changed
    this.changed();
  }

  /**
   * Merges (Shift+M, as Jupyter) the selected cells into the first of them, or with one cell selected the cell
   * below into it: sources joined by a blank line, the first cell's type, outputs cleared (they belonged to the
   * parts). Undo (Z) brings the merged cells back.
   */
  mergeSelected(): void {
    const ids = this.selectedIds;
    const index = ids.length ? this.order.indexOf(ids[0]!) : -1;
    const span = ids.length > 1 ? ids : this.order.slice(index, index + 2);
    if (index < 0 || span.length < 2) return;
    const [upper, ...lower] = span.map((id) => this.cellsById.get(id)!);
    this.deleted.push({ cells: lower, index: index + 1, mergedInto: upper });
    const gone = new Set(lower.map((c) => c.id));
    this.order = this.order.filter((id) => !gone.has(id));
    for (const id of gone) this.cellsById.delete(id);
    const source = [upper!, ...lower].map((c) => c.source).filter((s) => s !== "").join("\n\n");
    this.update(upper!.id, { source, sourceVersion: upper!.sourceVersion + 1, outputs: [], executionCount: null, rendered: false });
    this.activeId = upper!.id;
    this.anchorId = null;
    this.emit(this.structureListeners);
    this.emit(this.uiListeners);
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

  /** Hides or shows a code cell's outputs, kept in the file as Jupyter keeps it (metadata.jupyter.outputs_hidden). */
  toggleOutputs(id: string): void {
    const cell = this.cellsById.get(id);
    if (cell) this.setOutputsHidden(id, !outputsHidden(cell));
  }

  /** O: hides the selected code cells' outputs, or shows them when all of them are hidden already. */
  toggleSelectedOutputs(): void {
    const code = this.selectedIds.map((id) => this.cellsById.get(id)!).filter((c) => c.type === "code");
    const hide = code.some((c) => !outputsHidden(c));
    for (const c of code) this.setOutputsHidden(c.id, hide);
  }

  private setOutputsHidden(id: string, hidden: boolean): void {
    const cell = this.cellsById.get(id);
    if (!cell || cell.type !== "code" || outputsHidden(cell) === hidden) return;
    const jupyter = { ...((cell.metadata.jupyter as JsonObject | undefined) ?? {}) };
    if (hidden) jupyter.outputs_hidden = true;
    else delete jupyter.outputs_hidden;
    const { jupyter: _old, ...rest } = cell.metadata;
    this.update(id, { metadata: Object.keys(jupyter).length ? { ...rest, jupyter } : rest }, { dirty: true });
  }

  changeType(id: string, type: CellType): void {
    const cell = this.cellsById.get(id);
    if (!cell || cell.type === type) return;
    this.update(id, { type, outputs: [], executionCount: null, rendered: type === "markdown" ? false : cell.rendered }, { dirty: true });
  }

  /** M, Y, R and the toolbar's Cell type: every selected cell. */
  changeSelectedType(type: CellType): void {
    for (const id of this.selectedIds) this.changeType(id, type);
  }

  // --- active cell and mode ---

  /** Makes `id` the active cell, alone selected. */
  setActive(id: string | null, mode?: Mode): void {
    if (id === this.activeId && this.anchorId === null && (mode === undefined || mode === this.mode)) return;
    this.activeId = id;
    this.anchorId = null;
    if (mode) this.mode = mode;
    this.emit(this.uiListeners);
  }
  /** Shift+↑/↓: the active cell moves, the selection's other end stays. */
  extendSelection(delta: -1 | 1): void {
    const target = this.activeIndex + delta;
    if (this.activeIndex < 0 || target < 0 || target >= this.order.length) return;
    this.extendTo(this.order[target]!);
  }
  /** Ctrl+A in command mode: every cell, the last one active. */
  selectAll(): void {
    if (this.order.length < 2) return;
    this.anchorId = this.order[0]!;
    this.activeId = this.order.at(-1)!;
    this.mode = "command";
    this.emit(this.uiListeners);
  }
  /** Shift+click: selects from the selection's other end to `id`. */
  extendTo(id: string): void {
    if (!this.cellsById.has(id) || this.activeId === null) return;
    this.anchorId ??= this.activeId;
    this.activeId = id;
    if (this.anchorId === id) this.anchorId = null; // back at the start: one cell again
    this.mode = "command";
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
  queueIopub(cellId: string, msgType: string, content: JsonObject, options: { quiet?: boolean } = {}): void {
    this.pending.push({ cellId, msgType, content, quiet: options.quiet });
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
        const cell = this.cellsById.get(id) ?? this.deletedCell(id);
        a = { outputs: cell?.outputs ?? [], clearPending: cell?.clearPending ?? false };
        areas.set(id, a);
      }
      return a;
    };
    for (let i = 0; i < batch.length; i++) {
      const item = batch[i]!;
      if (!this.cellsById.has(item.cellId) && !this.deletedCell(item.cellId) && item.msgType !== "update_display_data") continue;
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
      const cell = this.cellsById.get(id) ?? this.deletedCell(id);
      if (cell && (cell.outputs !== a.outputs || cell.clearPending !== a.clearPending)) this.update(id, { outputs: a.outputs as LiveOutput[], clearPending: a.clearPending });
    }
    if (batch.some((item) => !item.quiet)) this.changed();
  }

  /** Outputs and the execution count go, as in JupyterLab (an "[3]:" without its output tells nothing). */
  clearOutputs(id: string): void {
    this.update(id, { outputs: [], clearPending: false, clippedRun: null, executionCount: null }, { dirty: true });
  }
}

function add(set: Set<Listener>, listener: Listener): () => void {
  set.add(listener);
  return () => set.delete(listener);
}
