// The in-page probe, installed with addInitScript before any of the page's own scripts run. It records, on
// the page's clock (performance.now(): ms since this document's navigation start):
//   - every long task (PerformanceObserver 'longtask', buffered),
//   - first contentful paint,
//   - when the region "Cell N" (N = the notebook's last cell) first exists, and the next animation frame
//     after that (≈ the frame that paints it): all cells rendered,
//   - the first animation frame at which cells fill the viewport: a cell region exists and no placeholder of a
//     cell not rendered yet (data-cell-placeholder, the page's deferred rendering) starts above the viewport's
//     bottom. Without placeholders that is the frame when the first cells are in the DOM,
//   - per keystroke typed into a watched editor: keydown.timeStamp, when the typed character is in the
//     editor's DOM (MutationObserver), and the next animation frame after that (keypress → paint),
//   - Event Timing entries (keydown/keypress/input) as a cross-check of keypress → next paint.
// Serialized into the page as a string; it must not reference anything outside itself.
export interface ProbeConfig {
  lastCell: number;
}

export interface ProbeKey {
  key: string;
  down: number;
  inDom: number | null;
  frame: number | null;
  streaming: boolean;
}

export interface ProbeData {
  longTasks: { start: number; duration: number }[];
  fcp: number | null;
  lastCellInDom: number | null;
  lastCellFrame: number | null;
  viewportFilledFrame: number | null;
  firstEditorInDom: number | null;
  keys: ProbeKey[];
  eventTimings: { name: string; start: number; duration: number; processingStart: number; processingEnd: number }[];
  streamEnd: number | null;
  now: number;
}

export function installProbe(config: ProbeConfig) {
  const w = window as unknown as { __nbProbe: ProbeData & { watchEditor(selector: string, char: string): void; isStreaming(): boolean } };
  const data: ProbeData = { longTasks: [], fcp: null, lastCellInDom: null, lastCellFrame: null, viewportFilledFrame: null, firstEditorInDom: null, keys: [], eventTimings: [], streamEnd: null, now: 0 };
  try {
    new PerformanceObserver((list) => {
      for (const e of list.getEntries()) data.longTasks.push({ start: e.startTime, duration: e.duration });
    }).observe({ type: 'longtask', buffered: true });
  } catch {
    /* no longtask support */
  }
  try {
    new PerformanceObserver((list) => {
      for (const e of list.getEntries()) if (e.name === 'first-contentful-paint') data.fcp = e.startTime;
    }).observe({ type: 'paint', buffered: true });
  } catch {
    /* ignore */
  }
  try {
    new PerformanceObserver((list) => {
      for (const e of list.getEntries() as PerformanceEventTiming[]) {
        if (e.name === 'keydown' || e.name === 'keypress' || e.name === 'input' || e.name === 'keyup')
          data.eventTimings.push({ name: e.name, start: e.startTime, duration: e.duration, processingStart: e.processingStart, processingEnd: e.processingEnd });
      }
    }).observe({ type: 'event', buffered: true, durationThreshold: 16 } as PerformanceObserverInit);
  } catch {
    /* ignore */
  }

  const lastSelector = `[role="region"][aria-label="Cell ${config.lastCell}"]`;
  const check = () => {
    if (data.firstEditorInDom === null && document.querySelector('[role="region"][aria-label="Cell 1"] .cm-content')) data.firstEditorInDom = performance.now();
    if (data.lastCellInDom === null && document.querySelector(lastSelector)) {
      data.lastCellInDom = performance.now();
      requestAnimationFrame(() => {
        data.lastCellFrame = performance.now();
      });
    }
  };
  // Checked once per frame (one layout read, which the frame needs anyway) until the viewport is filled.
  const viewportTick = () => {
    if (document.querySelector('[role="region"][data-cell-id]')) {
      const placeholder = document.querySelector('[data-cell-placeholder]');
      if (!placeholder || placeholder.getBoundingClientRect().top >= window.innerHeight) {
        data.viewportFilledFrame = performance.now();
        return;
      }
    }
    requestAnimationFrame(viewportTick);
  };
  requestAnimationFrame(viewportTick);
  const domObserver = new MutationObserver(() => {
    check();
    if (data.lastCellInDom !== null && data.firstEditorInDom !== null) domObserver.disconnect();
  });
  const startObserving = () => domObserver.observe(document.documentElement, { childList: true, subtree: true });
  if (document.documentElement) startObserving();
  else document.addEventListener('readystatechange', startObserving, { once: true });

  // --- keystroke → paint ---
  let watched: { selector: string; char: string } | null = null;
  let streamingCheck: () => boolean = () => false;
  const countIn = (selector: string, char: string) => {
    const text = document.querySelector(selector)?.textContent ?? '';
    let n = 0;
    for (let i = text.indexOf(char); i !== -1; i = text.indexOf(char, i + 1)) n++;
    return n;
  };
  document.addEventListener(
    'keydown',
    (event) => {
      if (!watched || event.key !== watched.char) return;
      const { selector, char } = watched;
      const expected = countIn(selector, char) + 1;
      const entry: ProbeKey = { key: event.key, down: event.timeStamp, inDom: null, frame: null, streaming: streamingCheck() };
      data.keys.push(entry);
      const target = document.querySelector(selector);
      if (!target) return;
      const done = () => {
        entry.inDom = performance.now();
        requestAnimationFrame(() => {
          entry.frame = performance.now();
        });
      };
      const mo = new MutationObserver(() => {
        if (countIn(selector, char) >= expected) {
          mo.disconnect();
          done();
        }
      });
      mo.observe(target, { childList: true, subtree: true, characterData: true });
    },
    true,
  );

  w.__nbProbe = Object.assign(data, {
    watchEditor(selector: string, char: string) {
      watched = { selector, char };
    },
    isStreaming() {
      return streamingCheck();
    },
  });
  // The streaming cell is Cell 1: it streams while its prompt says [*]:.
  // when Cell 1's prompt stops showing [*] (checked on every DOM change under Cell 1, and each frame)
  let sawRunning = false;
  const watchStream = () => {
    const running = streamingCheck();
    if (running) sawRunning = true;
    else if (sawRunning && data.streamEnd === null) data.streamEnd = performance.now();
  };
  const streamTick = () => {
    watchStream();
    if (data.streamEnd === null) requestAnimationFrame(streamTick);
  };
  Object.assign(w.__nbProbe, {
    watchStreamEnd() {
      const cell = document.querySelector('[role="region"][aria-label="Cell 1"]');
      if (cell) new MutationObserver(watchStream).observe(cell, { childList: true, subtree: true, characterData: true });
      requestAnimationFrame(streamTick);
    },
  });
  streamingCheck = () => {
    const prompt = document.querySelector('[role="region"][aria-label="Cell 1"] [aria-hidden]');
    return (prompt?.textContent ?? '').includes('*');
  };
}
