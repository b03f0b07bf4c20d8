// Where the main thread's time goes in a Chromium trace (devtools.timeline + v8.cpu_profiler categories):
//   - the renderer main thread's top-level tasks over 50 ms,
//   - for the longest: self time per trace event kind (script, style, layout, paint, GC, parse, ...),
//   - the CPU profile samples inside it: self and inclusive time per function (name, script, line:col),
//     with a snippet of the (minified) source at that position so a function can be recognized,
//   - forced layouts / style recalcs inside it, by the JS stack that forced them.
import fs from 'node:fs';
import path from 'node:path';
import zlib from 'node:zlib';

interface TraceEvent {
  name: string;
  cat: string;
  ph: string;
  ts: number;
  dur?: number;
  pid: number;
  tid: number;
  id?: string;
  args?: Record<string, any>;
}

export interface TaskBreakdown {
  startMs: number;
  durationMs: number;
  byEvent: { name: string; selfMs: number }[];
}

export interface FunctionCost {
  function: string;
  url: string;
  line: number;
  column: number;
  selfMs: number;
  totalMs: number;
  snippet?: string;
}

export interface TraceSummary {
  /** The trace ended inside a task (buffer full): that task's duration is a lower bound. */
  truncated: boolean;
  traceSpanMs: number;
  mainThread: { pid: number; tid: number };
  navigationStartTs: number | null;
  longTasks: { startMs: number; durationMs: number }[];
  longest: TaskBreakdown | null;
  wholeLoad: { name: string; selfMs: number }[];
  functionsInLongest: { bySelf: FunctionCost[]; byTotal: FunctionCost[] };
  /** Busy time per thread over the whole trace (top-level events), with what each spends it on: shows work
   *  off the main thread (compositor, raster workers, GPU/viz) that delays frames. */
  threads: { thread: string; pid: number; tid: number; busyMs: number; top: { name: string; selfMs: number }[] }[];
  /** Main-thread frame pipeline events (count, total and max ms): paint, layout, commit, raster on other threads. */
  frameEvents: { name: string; thread: string; count: number; totalMs: number; maxMs: number }[];
  /** The next longest tasks (up to 3 more, ≥ 200 ms): what they spend time in. */
  otherLongTasks: { startMs: number; durationMs: number; byEvent: { name: string; selfMs: number }[]; byTotal: FunctionCost[] }[];
  forcedLayouts: { count: number; totalMs: number; topStacks: { stack: string; count: number; ms: number }[] };
  layoutAndStyleInLongest: { layouts: number; layoutMs: number; styleRecalcs: number; styleMs: number };
}

const BUCKET: Record<string, string> = {
  FunctionCall: 'script: FunctionCall',
  EvaluateScript: 'script: EvaluateScript',
  'v8.compile': 'script: compile',
  'v8.compileModule': 'script: compile',
  'V8.CompileCode': 'script: compile',
  TimerFire: 'script: TimerFire',
  FireAnimationFrame: 'script: rAF',
  EventDispatch: 'script: EventDispatch',
  RunMicrotasks: 'script: microtasks',
  'V8.Execute': 'script: V8.Execute',
  MinorGC: 'GC', MajorGC: 'GC', 'V8.GCScavenger': 'GC', 'V8.GCFinalizeMC': 'GC', 'V8.GC_MC_BACKGROUND_EVACUATE_COPY': 'GC',
  BlinkGC: 'GC',
  UpdateLayoutTree: 'style: UpdateLayoutTree',
  RecalculateStyles: 'style: RecalculateStyles',
  Layout: 'layout',
  'LayoutShift': 'layout',
  Paint: 'paint', PaintImage: 'paint', 'Decode Image': 'image decode', 'ImageDecodeTask': 'image decode',
  UpdateLayer: 'paint', UpdateLayerTree: 'layer tree', PrePaint: 'pre-paint', Layerize: 'layerize', Commit: 'commit',
  ParseHTML: 'parse HTML', ParseAuthorStyleSheet: 'parse CSS', XHRReadyStateChange: 'script: XHR', ResourceReceivedData: 'network data',
  HitTest: 'hit test', IntersectionObserverController: 'intersection observers', 'ScheduleStyleRecalculation': 'style: schedule',
};

function bucketOf(name: string): string {
  return BUCKET[name] ?? name;
}

export function analyzeTrace(file: string, options: { chunksDir?: string } = {}): TraceSummary {
  const text = file.endsWith('.gz') ? zlib.gunzipSync(fs.readFileSync(file)).toString('utf8') : fs.readFileSync(file, 'utf8');
  const raw = JSON.parse(text);
  const events: TraceEvent[] = Array.isArray(raw) ? raw : raw.traceEvents;
  // B/E pairs become complete events; a B the trace never closed (Chromium's trace buffer filled up inside a
  // very long task) ends at the trace's last timestamp and is marked truncated: its duration is a lower bound.
  let lastTs = 0;
  for (const e of events) if (typeof e.ts === 'number' && e.ts > lastTs) lastTs = e.ts;
  const open = new Map<string, TraceEvent[]>();
  for (const e of [...events].filter((x) => x.ph === 'B' || x.ph === 'E').sort((a, b) => a.ts - b.ts)) {
    const key = `${e.pid}:${e.tid}`;
    const stack = open.get(key) ?? [];
    open.set(key, stack);
    if (e.ph === 'B') stack.push(e);
    else {
      const begin = stack.pop();
      if (begin) events.push({ ...begin, ph: 'X', dur: e.ts - begin.ts });
    }
  }
  let truncated = false;
  for (const stack of open.values())
    for (const begin of stack) {
      truncated = true;
      events.push({ ...begin, ph: 'X', dur: lastTs - begin.ts, args: { ...begin.args, truncated: true } });
    }

  // the renderer main thread of the page: CrRendererMain with the most complete events
  const mainThreads = new Set<string>();
  for (const e of events) if (e.ph === 'M' && e.name === 'thread_name' && e.args?.name === 'CrRendererMain') mainThreads.add(`${e.pid}:${e.tid}`);
  const counts = new Map<string, number>();
  for (const e of events) if (e.ph === 'X' && mainThreads.has(`${e.pid}:${e.tid}`)) counts.set(`${e.pid}:${e.tid}`, (counts.get(`${e.pid}:${e.tid}`) ?? 0) + 1);
  const [mainKey] = [...counts.entries()].sort((a, b) => b[1] - a[1])[0] ?? ['0:0'];
  const [pid, tid] = mainKey.split(':').map(Number) as [number, number];
  const onMain = events.filter((e) => e.pid === pid && e.tid === tid && e.ph === 'X' && typeof e.dur === 'number').sort((a, b) => a.ts - b.ts || b.dur! - a.dur!);

  // navigationStart of the last main-frame navigation in the trace (the measured page)
  const navStarts = events.filter((e) => e.name === 'navigationStart' && e.pid === pid && e.args?.data?.isLoadingMainFrame && /^https?:/.test(e.args?.data?.documentLoaderURL ?? ''));
  const navigationStartTs = navStarts.length ? navStarts[navStarts.length - 1]!.ts : null;
  const rel = (ts: number) => (navigationStartTs === null ? ts / 1000 : (ts - navigationStartTs) / 1000);

  const tasks = onMain.filter((e) => e.name === 'RunTask' || e.name === 'ThreadControllerImpl::RunTask');
  const afterNav = tasks.filter((t) => navigationStartTs === null || t.ts >= navigationStartTs);
  const long = afterNav.filter((t) => t.dur! > 50_000);
  const longest = [...long].sort((a, b) => b.dur! - a.dur!)[0] ?? null;

  // self time per event kind inside [from, to): nested X events form a tree per thread
  const selfTimes = (from: number, to: number) => {
    const inside = onMain.filter((e) => e.ts >= from && e.ts + e.dur! <= to);
    const self = new Map<string, number>();
    const stack: TraceEvent[] = [];
    const childSum = new Map<TraceEvent, number>();
    const close = (e: TraceEvent) => {
      const s = e.dur! - (childSum.get(e) ?? 0);
      const k = bucketOf(e.name);
      self.set(k, (self.get(k) ?? 0) + s);
    };
    for (const e of inside) {
      while (stack.length && stack[stack.length - 1]!.ts + stack[stack.length - 1]!.dur! <= e.ts) close(stack.pop()!);
      const parent = stack[stack.length - 1];
      if (parent) childSum.set(parent, (childSum.get(parent) ?? 0) + e.dur!);
      stack.push(e);
    }
    while (stack.length) close(stack.pop()!);
    return [...self.entries()].map(([name, us]) => ({ name, selfMs: round(us / 1000) })).filter((x) => x.selfMs >= 0.5).sort((a, b) => b.selfMs - a.selfMs);
  };

  let longestBreakdown: TaskBreakdown | null = null;
  let layoutAndStyle = { layouts: 0, layoutMs: 0, styleRecalcs: 0, styleMs: 0 };
  if (longest) {
    longestBreakdown = { startMs: round(rel(longest.ts)), durationMs: round(longest.dur! / 1000), byEvent: selfTimes(longest.ts, longest.ts + longest.dur!).slice(0, 15) };
    const inside = onMain.filter((e) => e.ts >= longest.ts && e.ts + e.dur! <= longest.ts + longest.dur!);
    for (const e of inside) {
      if (e.name === 'Layout') (layoutAndStyle.layouts++, (layoutAndStyle.layoutMs += e.dur! / 1000));
      if (e.name === 'UpdateLayoutTree') (layoutAndStyle.styleRecalcs++, (layoutAndStyle.styleMs += e.dur! / 1000));
    }
    layoutAndStyle = { ...layoutAndStyle, layoutMs: round(layoutAndStyle.layoutMs), styleMs: round(layoutAndStyle.styleMs) };
  }
  const lastEnd = afterNav.length ? Math.max(...afterNav.map((t) => t.ts + t.dur!)) : 0;
  const wholeLoad = navigationStartTs === null ? [] : selfTimes(navigationStartTs, lastEnd).slice(0, 15);

  // forced (synchronous) layouts / style recalcs: those with a JS stack (stackTrace / beginData.stackTrace)
  const forced = new Map<string, { count: number; ms: number }>();
  let forcedCount = 0;
  let forcedMs = 0;
  for (const e of onMain) {
    if (e.name !== 'Layout' && e.name !== 'UpdateLayoutTree') continue;
    if (navigationStartTs !== null && e.ts < navigationStartTs) continue;
    const st = e.args?.beginData?.stackTrace ?? e.args?.data?.stackTrace;
    if (!Array.isArray(st) || st.length === 0) continue;
    forcedCount++;
    forcedMs += e.dur! / 1000;
    const key = `${e.name} ← ` + st.slice(0, 4).map((f: any) => `${f.functionName || '(anonymous)'}@${short(f.url)}:${f.lineNumber}:${f.columnNumber}`).join(' ← ');
    const cur = forced.get(key) ?? { count: 0, ms: 0 };
    cur.count++;
    cur.ms += e.dur! / 1000;
    forced.set(key, cur);
  }

  // CPU profile: ProfileChunk events (one Profile per thread id)
  const functions = profileFunctions(events, pid, longest ? [longest.ts, longest.ts + longest.dur!] : null, options.chunksDir);

  const others = [...long].sort((a, b) => b.dur! - a.dur!).slice(1, 4).filter((t) => t.dur! >= 200_000);
  const otherLongTasks = others.map((t) => ({
    startMs: round(rel(t.ts)),
    durationMs: round(t.dur! / 1000),
    byEvent: selfTimes(t.ts, t.ts + t.dur!).slice(0, 8),
    byTotal: profileFunctions(events, pid, [t.ts, t.ts + t.dur!], options.chunksDir).byTotal.slice(0, 15),
  }));

  // --- per thread ---
  const names = new Map<string, string>();
  for (const e of events) if (e.ph === 'M' && e.name === 'thread_name') names.set(`${e.pid}:${e.tid}`, String(e.args?.name ?? ''));
  const byThread = new Map<string, TraceEvent[]>();
  for (const e of events) {
    if (e.ph !== 'X' || typeof e.dur !== 'number') continue;
    const k = `${e.pid}:${e.tid}`;
    let list = byThread.get(k);
    if (!list) byThread.set(k, (list = []));
    list.push(e);
  }
  const threads: TraceSummary['threads'] = [];
  for (const [k, list] of byThread) {
    list.sort((a, b) => a.ts - b.ts || b.dur! - a.dur!);
    const self = new Map<string, number>();
    const stack: TraceEvent[] = [];
    const childSum = new Map<TraceEvent, number>();
    let busy = 0;
    const close = (e: TraceEvent) => self.set(e.name, (self.get(e.name) ?? 0) + e.dur! - (childSum.get(e) ?? 0));
    for (const e of list) {
      while (stack.length && stack[stack.length - 1]!.ts + stack[stack.length - 1]!.dur! <= e.ts) close(stack.pop()!);
      const parent = stack[stack.length - 1];
      if (parent) childSum.set(parent, (childSum.get(parent) ?? 0) + e.dur!);
      else busy += e.dur!;
      stack.push(e);
    }
    while (stack.length) close(stack.pop()!);
    const [p, t] = k.split(':').map(Number) as [number, number];
    threads.push({
      thread: names.get(k) ?? k,
      pid: p,
      tid: t,
      busyMs: round(busy / 1000),
      top: [...self.entries()].map(([name, us]) => ({ name, selfMs: round(us / 1000) })).sort((a, b) => b.selfMs - a.selfMs).slice(0, 6),
    });
  }
  threads.sort((a, b) => b.busyMs - a.busyMs);
  const FRAME = new Set(['Paint', 'Layout', 'UpdateLayoutTree', 'PrePaint', 'Layerize', 'Commit', 'RasterTask', 'TileManager::FlushAndIssueSignals', 'Rasterize', 'ProxyMain::BeginMainFrame', 'BeginMainThreadFrame', 'Scheduler::BeginFrame', 'Display::DrawAndSwap', 'PaintImage', 'DisplayScheduler::DrawAndSwap', 'RasterBufferProvider::OrderingBarrier', 'GpuRasterization', 'SoftwareRenderer::DrawQuad', 'LayerTreeHostImpl::PrepareToDraw']);
  const frameAgg = new Map<string, { name: string; thread: string; count: number; total: number; max: number }>();
  for (const [k, list] of byThread)
    for (const e of list) {
      if (!FRAME.has(e.name)) continue;
      const key = `${e.name}@${names.get(k) ?? k}`;
      const a = frameAgg.get(key) ?? { name: e.name, thread: names.get(k) ?? k, count: 0, total: 0, max: 0 };
      a.count++;
      a.total += e.dur!;
      a.max = Math.max(a.max, e.dur!);
      frameAgg.set(key, a);
    }
  const frameEvents = [...frameAgg.values()].map((a) => ({ name: a.name, thread: a.thread, count: a.count, totalMs: round(a.total / 1000), maxMs: round(a.max / 1000) })).sort((a, b) => b.totalMs - a.totalMs).slice(0, 20);

  const firstTs = Math.min(...events.filter((e) => typeof e.ts === 'number' && e.ts > 0).map((e) => e.ts));
  return {
    truncated,
    traceSpanMs: round((lastTs - firstTs) / 1000),
    mainThread: { pid, tid },
    threads: threads.slice(0, 12),
    frameEvents,
    otherLongTasks,
    navigationStartTs,
    longTasks: long.map((t) => ({ startMs: round(rel(t.ts)), durationMs: round(t.dur! / 1000) })),
    longest: longestBreakdown,
    wholeLoad,
    functionsInLongest: functions,
    forcedLayouts: {
      count: forcedCount,
      totalMs: round(forcedMs),
      topStacks: [...forced.entries()].map(([stack, v]) => ({ stack, count: v.count, ms: round(v.ms) })).sort((a, b) => b.ms - a.ms).slice(0, 8),
    },
    layoutAndStyleInLongest: layoutAndStyle,
  };
}

function profileFunctions(events: TraceEvent[], pid: number, window: [number, number] | null, chunksDir?: string) {
  const empty = { bySelf: [] as FunctionCost[], byTotal: [] as FunctionCost[] };
  if (!window) return empty;
  const profiles = new Map<string, { start: number; nodes: Map<number, { callFrame: any; parent?: number }>; samples: number[]; deltas: number[] }>();
  for (const e of events) {
    if (e.pid !== pid) continue;
    if (e.name === 'Profile') profiles.set(String(e.id), { start: e.args?.data?.startTime ?? e.ts, nodes: new Map(), samples: [], deltas: [] });
    if (e.name === 'ProfileChunk') {
      const p = profiles.get(String(e.id));
      if (!p) continue;
      const cp = e.args?.data?.cpuProfile ?? {};
      for (const n of cp.nodes ?? []) p.nodes.set(n.id, { callFrame: n.callFrame, parent: n.parent });
      for (const s of cp.samples ?? []) p.samples.push(s);
      for (const d of e.args?.data?.timeDeltas ?? []) p.deltas.push(d);
    }
  }
  const self = new Map<string, { cf: any; us: number }>();
  const total = new Map<string, { cf: any; us: number }>();
  const keyOf = (cf: any) => `${cf.functionName}|${cf.url}|${cf.lineNumber}|${cf.columnNumber}`;
  for (const p of profiles.values()) {
    let t = p.start;
    for (let i = 0; i < p.samples.length; i++) {
      t += p.deltas[i] ?? 0;
      if (t < window[0] || t > window[1]) continue;
      const dt = p.deltas[i + 1] ?? 0; // time until the next sample is attributed to this one
      let node = p.nodes.get(p.samples[i]!);
      if (!node) continue;
      const k = keyOf(node.callFrame);
      const s = self.get(k) ?? { cf: node.callFrame, us: 0 };
      s.us += dt;
      self.set(k, s);
      const seen = new Set<string>();
      while (node) {
        const kk = keyOf(node.callFrame);
        if (!seen.has(kk)) {
          seen.add(kk);
          const tt = total.get(kk) ?? { cf: node.callFrame, us: 0 };
          tt.us += dt;
          total.set(kk, tt);
        }
        node = node.parent !== undefined ? p.nodes.get(node.parent) : undefined;
      }
    }
  }
  const toCost = (m: Map<string, { cf: any; us: number }>, other: Map<string, { cf: any; us: number }>, which: 'self' | 'total'): FunctionCost[] =>
    [...m.entries()]
      .sort((a, b) => b[1].us - a[1].us)
      .filter(([, v]) => !['(root)', '(program)', '(idle)'].includes(v.cf.functionName))
      .slice(0, 25)
      .map(([k, v]) => {
        const o = other.get(k)?.us ?? 0;
        return {
          function: v.cf.functionName || '(anonymous)',
          url: short(v.cf.url),
          line: v.cf.lineNumber + 1,
          column: v.cf.columnNumber + 1,
          selfMs: round((which === 'self' ? v.us : o) / 1000),
          totalMs: round((which === 'total' ? v.us : o) / 1000),
          snippet: snippetAt(v.cf.url, v.cf.lineNumber, v.cf.columnNumber, chunksDir),
        };
      });
  return { bySelf: toCost(self, total, 'self'), byTotal: toCost(total, self, 'total') };
}

const sourceCache = new Map<string, string[] | null>();
/** ~140 characters of the served script around a profile position (the build is minified: the snippet is
 *  how a function is recognized — e.g. CodeMirror's method names and strings survive minification). */
function snippetAt(url: string, line: number, column: number, chunksDir?: string): string | undefined {
  if (!chunksDir || !url) return undefined;
  const m = /\/_next\/(static\/.+?)(\?|$)/.exec(url);
  if (!m) return undefined;
  const file = path.join(chunksDir, m[1]!);
  let lines = sourceCache.get(file);
  if (lines === undefined) {
    try {
      lines = fs.readFileSync(file, 'utf8').split('\n');
    } catch {
      lines = null;
    }
    sourceCache.set(file, lines);
  }
  const text = lines?.[line];
  if (!text) return undefined;
  return text.slice(Math.max(0, column - 20), column + 120);
}

function short(url: string | undefined): string {
  if (!url) return '';
  const m = /\/_next\/static\/(.+)$/.exec(url);
  return m ? m[1]! : url.replace(/^https?:\/\/[^/]+/, '');
}

function round(x: number): number {
  return Math.round(x * 10) / 10;
}
