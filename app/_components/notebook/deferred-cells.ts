// Big notebooks open with only the cells of the first two screens rendered. The others start as placeholders
// of about their height and are rendered a slice at a time: the ones near the viewport first (as the user
// scrolls there), the rest in idle time, top to bottom. Each slice renders and commits synchronously
// (flushSync) within a small time budget, so no task renders hundreds of cells at once (rendering all 1,000
// cells of a notebook in one task took 350–450 ms).
//
// Like JupyterLab's "defer" windowing mode, a cell once rendered stays rendered: its editor keeps its undo
// history, HTML outputs keep their state, and the browser's find (Ctrl+F) sees every cell once the idle
// rendering is done — about a second for 1,000 cells. Until then find can't see the cells not yet rendered.
import { flushSync } from "react-dom";

type Wake = () => void;

/** A slice's budget: enough to render a few cells, short of a long task (50 ms) with room for the frame. */
const SLICE_MS = 12;
/** Cells within this margin of the viewport are rendered first. */
const NEAR_MARGIN = "150% 0px 150% 0px";
/** Idle rendering starts anyway after this long without an idle period (a busy page still gets there). */
const IDLE_TIMEOUT_MS = 1_000;

interface Waiting {
  element: Element;
  wake: Wake;
}

export class DeferredCells {
  private readonly deferred: Set<string>;
  private readonly waiting = new Map<string, Waiting>();
  private readonly near = new Set<string>();
  private observer: IntersectionObserver | null = null;
  private nearTimer: ReturnType<typeof setTimeout> | null = null;
  private idleScheduled = false;
  /** Measured cost of rendering one cell (ms), to size the batches. */
  private perCell = 1;
  /** Where idle rendering found the last placeholder, in `order()`. */
  private cursor = 0;

  /**
   * @param ids the notebook's cells, in order, when it opened
   * @param heights each cell's estimated height (px), to decide which fill the first screens
   * @param screen the viewport's height (px)
   * @param order the current order of the cells (idle rendering goes top to bottom)
   */
  constructor(ids: readonly string[], heights: (id: string) => number, screen: number, private readonly order: () => readonly string[]) {
    this.deferred = new Set(ids.slice(firstScreensEnd(ids, heights, screen)));
  }

  /** Whether the cell starts as a placeholder (cells added after opening never do). */
  isDeferred(id: string): boolean {
    return this.deferred.has(id);
  }

  /**
   * A placeholder is in the page: `wake` renders the cell, soon if it is near the viewport, else in idle time.
   * The returned function forgets it (it left the page); with nothing left waiting, nothing stays scheduled.
   */
  wait(id: string, element: Element, wake: Wake): () => void {
    const entry = { element, wake };
    this.waiting.set(id, entry);
    this.nearObserver()?.observe(element);
    this.scheduleIdle();
    return () => {
      if (this.waiting.get(id) !== entry) return;
      this.waiting.delete(id);
      this.near.delete(id);
      this.observer?.unobserve(element);
    };
  }

  /** The cell was rendered for another reason (it became the active cell): it is no longer deferred. */
  rendered(id: string): void {
    this.deferred.delete(id);
    const entry = this.waiting.get(id);
    if (!entry) return;
    this.waiting.delete(id);
    this.near.delete(id);
    this.observer?.unobserve(entry.element);
  }

  private nearObserver(): IntersectionObserver | null {
    if (this.observer || typeof IntersectionObserver === "undefined") return this.observer;
    this.observer = new IntersectionObserver(
      (entries) => {
        for (const entry of entries) {
          if (!entry.isIntersecting) continue;
          const id = (entry.target as HTMLElement).dataset.cellPlaceholder;
          if (id && this.waiting.has(id)) this.near.add(id);
        }
        this.scheduleNear();
      },
      { rootMargin: NEAR_MARGIN },
    );
    return this.observer;
  }

  private scheduleNear() {
    if (this.nearTimer || this.near.size === 0) return;
    this.nearTimer = setTimeout(() => {
      this.nearTimer = null;
      this.renderSlice(() => this.takeNear());
      this.scheduleNear();
    }, 0);
  }

  private scheduleIdle() {
    if (this.idleScheduled || this.waiting.size === 0) return;
    this.idleScheduled = true;
    onIdle((timeRemaining) => {
      this.idleScheduled = false;
      // near cells first: they are what the user is about to see
      this.renderSlice(() => this.takeNear() ?? this.takeNext(), Math.min(SLICE_MS, Math.max(4, timeRemaining())));
      this.scheduleIdle();
    });
  }

  private takeNear(): string | undefined {
    for (const id of this.near) {
      this.near.delete(id);
      if (this.waiting.has(id)) return id;
    }
    return undefined;
  }

  private takeNext(): string | undefined {
    // top to bottom: go on from where the last one was found (the order may have changed: wrap around once)
    const order = this.order();
    for (let n = 0; n < order.length; n++) {
      const i = (this.cursor + n) % order.length;
      if (this.waiting.has(order[i]!)) {
        this.cursor = i;
        return order[i];
      }
    }
    return undefined;
  }

  /** Renders cells from `next` in small synchronous batches until the budget is spent. */
  private renderSlice(next: () => string | undefined, budget = SLICE_MS) {
    const start = performance.now();
    for (;;) {
      const spent = performance.now() - start;
      if (spent >= budget) return;
      const batchSize = Math.max(1, Math.min(8, Math.floor((budget - spent) / this.perCell)));
      const batch: Waiting[] = [];
      for (let id = next(); id !== undefined; id = batch.length < batchSize ? next() : undefined) {
        const entry = this.waiting.get(id)!;
        this.waiting.delete(id);
        this.deferred.delete(id);
        this.observer?.unobserve(entry.element);
        batch.push(entry);
      }
      if (batch.length === 0) return;
      const t = performance.now();
      flushSync(() => batch.forEach((entry) => entry.wake()));
      this.perCell = 0.7 * this.perCell + 0.3 * Math.max(0.2, (performance.now() - t) / batch.length);
    }
  }
}

/** How many cells from the top fill two screens (at least one). */
export function firstScreensEnd(ids: readonly string[], heights: (id: string) => number, screen: number): number {
  let total = 0;
  for (let i = 0; i < ids.length; i++) {
    if (total > 2 * screen) return Math.max(1, i);
    total += heights(ids[i]!);
  }
  return ids.length;
}

function onIdle(run: (timeRemaining: () => number) => void): void {
  if (typeof requestIdleCallback === "function") requestIdleCallback((deadline) => run(() => deadline.timeRemaining()), { timeout: IDLE_TIMEOUT_MS });
  else setTimeout(() => run(() => SLICE_MS), 50);
}
