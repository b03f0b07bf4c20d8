// Notebook page bench: how fast big notebooks open, and whether typing stays responsive while a cell streams,
// in Chromium through Playwright, against a portal this script starts (production build, fresh data dir).
//
//   node --import tsx bench/notebook/notebook-bench.ts [--out bench/notebook/results/<stamp>.json] [--reps 3]
//        [--only load-1000,load-png200,stream-burst,stream-paced] [--keystrokes 50] [--key-interval 60]
//        [--lines 100000] [--trace auto|always|never] [--skip-build]
//
// Scenarios
//   load-1000    1,000 code cells (2-line code, one small stream output each, an execute_result on every 5th)
//   load-png200  200 code cells, each with one 400×300 image/png output (~34 KB of base64 each, 6.9 MB file)
//   stream-burst `for i in range(100000): print(i)` runs in Cell 1 while the bench types into Cell 2
//   stream-paced the same 100,000 lines with a 10 ms sleep every 100 lines (≈10 s of streaming), typing meanwhile
//
// "Interactive" (load scenarios), on the page's clock (ms since the navigation started):
//   interactive = max(viewportFilled, quietFrom), where
//     viewportFilled = the first animation frame at which rendered cells fill the viewport: no placeholder of a
//                      cell the page has not rendered yet (it renders big notebooks a slice at a time) starts
//                      above the viewport's bottom
//     quietFrom      = the end of the last long task (≥ 50 ms, PerformanceObserver 'longtask') before the first
//                      1-second window, starting at viewportFilled, with no long task in it (TTI-style)
//   Also recorded: lastCellFrame, the first animation frame after the region "Cell N" (N = last cell) exists in
//   the DOM (all cells rendered). Until the page rendered big notebooks in slices (2026-11-30), that frame was
//   the first term of "interactive"; without placeholders both are the same frame.
//   then, as a check that it really is interactive, the bench clicks the first cell's editor, types a character
//   and records keydown → the next animation frame after the character is in the editor's DOM ("echo").
//   Also recorded: FCP, the longest long task and total blocking time (Σ (task − 50 ms)) up to interactive,
//   the longest task within 3 s after that first edit (draft + autosave), and the notebooks.open fetch timing.
//   Then the rep checks the autosaved file: the original notebook with exactly that edit, outputs intact.
// Each rep: a new browser context (signed-in cookies only, empty storage), one unmeasured visit to a 1-cell
// notebook (warms HTTP cache and code), then the measured navigation. Medians over --reps.
// Typing (stream scenarios): per keystroke, keydown.timeStamp → next animation frame after the character is
// in Cell 2's editor DOM; only keystrokes made while Cell 1 was running count (flag recorded per key). Also
// Chromium's Event Timing duration of each keydown (event → the frame that shows it is presented; entries
// under 16 ms are not reported and count as 16). The target (≤ 50 ms) is met when both p95s are within it.
// With --trace auto, a scenario that misses a target is run once more under a Chromium performance trace
// (not counted in the medians) and the trace is summarized (long tasks, time per event kind, hottest
// functions, forced layouts) into the results JSON.
//
// Everything started here (the portal and its kernels) runs in its own process group and is stopped by
// group at the end; every wait has a deadline.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import zlib from 'node:zlib';
import { execFileSync, spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { createRequire } from 'node:module';
import { chromium, type Browser, type BrowserContext, type Page } from 'playwright';
import { freePort, sleep, startProcess, stopAll, sweepByMarker, tailOf, hasExited, type Managed } from '../lib/processes';
import { pngCells, streamingNotebook, thousandCells, tinyNotebook } from './generate';
import { installProbe, type ProbeData, type ProbeKey } from './page-probe';
import { analyzeTrace, type TraceSummary } from './trace-analysis';

const here = path.dirname(fileURLToPath(import.meta.url));
const root = path.resolve(here, '..', '..');
const require = createRequire(import.meta.url);

const { values: args } = parseArgs({
  options: {
    out: { type: 'string' },
    reps: { type: 'string', default: '3' },
    only: { type: 'string', default: 'load-1000,load-png200,stream-burst,stream-paced' },
    keystrokes: { type: 'string', default: '50' },
    'key-interval': { type: 'string', default: '60' },
    lines: { type: 'string', default: '100000' },
    trace: { type: 'string', default: 'auto' },
    'skip-build': { type: 'boolean', default: false },
  },
});
const REPS = Number(args.reps);
const KEYSTROKES = Number(args.keystrokes);
const KEY_INTERVAL = Number(args['key-interval']);
const LINES = Number(args.lines);
const ONLY = new Set(args.only!.split(','));
const TRACE = args.trace as 'auto' | 'always' | 'never';

const TARGETS = { 'load-1000': 1000, 'load-png200': 1500, longTaskMs: 200, typingMs: 50 };

// deadlines (ms)
const BUILD_DEADLINE = 20 * 60_000;
const SERVER_READY_DEADLINE = 20 * 60_000; // `start` rebuilds if someone changed the sources since our build
const LOAD_DEADLINE = 120_000;
const QUIET_DEADLINE = 60_000;
const KERNEL_IDLE_DEADLINE = 120_000;
const STREAM_DEADLINE = 150_000;

const CHROMIUM_ARGS = ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'];
const TRACE_CATEGORIES = [
  'devtools.timeline',
  'disabled-by-default-devtools.timeline',
  'disabled-by-default-devtools.timeline.stack',
  'v8.execute',
  'disabled-by-default-v8.cpu_profiler',
  'blink.user_timing',
  'loading',
  'latencyInfo',
];

const stamp = new Date().toISOString().replace(/[:]/g, '').replace(/\..+/, 'Z');
const outFile = path.resolve(args.out ?? path.join(here, 'results', `${stamp}.json`));
const runDir = fs.mkdtempSync(path.join(os.tmpdir(), 'atrium-nbbench-'));
const dataDir = path.join(runDir, 'data');
const admin = { email: 'admin@nbbench.test', password: 'nbbench-admin-password-1' };
const analyst = { email: 'analyst@nbbench.test', password: 'nbbench-analyst-password-1' };

const log = (...m: unknown[]) => console.log(`[${new Date().toISOString().slice(11, 19)}]`, ...m);
const loadavg = () => os.loadavg().map((x) => Math.round(x * 100) / 100);

// --- helpers ---

function median(xs: number[]): number | null {
  const s = xs.filter((x) => Number.isFinite(x)).sort((a, b) => a - b);
  if (!s.length) return null;
  const m = Math.floor(s.length / 2);
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
}
function percentile(xs: number[], p: number): number | null {
  const s = [...xs].sort((a, b) => a - b);
  if (!s.length) return null;
  return s[Math.min(s.length - 1, Math.max(0, Math.ceil((p / 100) * s.length) - 1))]!;
}
const r1 = (x: number | null | undefined) => (x === null || x === undefined ? null : Math.round(x * 10) / 10);

async function deadline<T>(what: string, ms: number, p: Promise<T>): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  try {
    return await Promise.race([p, new Promise<never>((_, reject) => (timer = setTimeout(() => reject(new Error(`deadline: ${what} (${ms} ms)`)), ms)))]);
  } finally {
    clearTimeout(timer);
  }
}

function kernelPython(): string {
  if (process.env.ATRIUM_PYTHON) return process.env.ATRIUM_PYTHON;
  const venvs = path.join(os.homedir(), '.cache', 'atrium', 'venvs');
  const candidates = (fs.existsSync(venvs) ? fs.readdirSync(venvs) : [])
    .filter((d) => d.startsWith('kernel-'))
    .map((d) => path.join(venvs, d, 'bin', 'python'))
    .filter((p) => fs.existsSync(p))
    .sort((a, b) => fs.statSync(path.dirname(path.dirname(b))).mtimeMs - fs.statSync(path.dirname(path.dirname(a))).mtimeMs);
  for (const p of candidates) {
    const ok = spawnSync(p, ['-c', 'import ipykernel'], { timeout: 30_000 });
    if (ok.status === 0) return p;
  }
  throw new Error('No kernel Python: set ATRIUM_PYTHON or provision ~/.cache/atrium/venvs/kernel-*/bin/python with ipykernel.');
}

function machineFacts() {
  const cpus = os.cpus();
  let chromiumVersion = '';
  try {
    chromiumVersion = execFileSync('/usr/bin/chromium', ['--version'], { encoding: 'utf8', timeout: 20_000 }).trim();
  } catch {
    /* reported by the browser later */
  }
  return {
    nproc: cpus.length,
    cpu: cpus[0]?.model ?? '',
    memGiB: Math.round((os.totalmem() / 2 ** 30) * 10) / 10,
    os: `${os.type()} ${os.release()}`,
    node: process.version,
    playwright: require('playwright/package.json').version as string,
    chromium: chromiumVersion,
  };
}

// --- the portal ---

let server: Managed | null = null;
let baseUrl = '';

function cli(cliArgs: string[], stdin = '', env: Record<string, string> = {}): string {
  return execFileSync(process.execPath, ['server/cli/atrium.mjs', ...cliArgs], {
    cwd: root,
    env: { ...process.env, ...env, ATRIUM_DATA_DIR: dataDir, NEXT_TELEMETRY_DISABLED: '1' },
    input: stdin,
    encoding: 'utf8',
    timeout: 60_000,
  });
}

async function startPortal(python: string): Promise<void> {
  if (!args['skip-build']) {
    log('build (node server/cli/atrium.mjs build; a no-op when the build is current)…');
    const built = spawnSync(process.execPath, ['server/cli/atrium.mjs', 'build'], {
      cwd: root,
      env: { ...process.env, ATRIUM_DATA_DIR: dataDir, NEXT_TELEMETRY_DISABLED: '1' },
      stdio: 'inherit',
      timeout: BUILD_DEADLINE,
      killSignal: 'SIGKILL',
    });
    if (built.status !== 0) throw new Error(`build failed (status ${built.status}, signal ${built.signal})`);
  }
  const port = await freePort();
  baseUrl = `http://localhost:${port}`;
  const logFile = path.join(runDir, 'atrium.log');
  server = startProcess('atrium', process.execPath, ['server/cli/atrium.mjs', 'start'], {
    cwd: root,
    logFile,
    env: {
      ...process.env,
      PORT: String(port),
      ATRIUM_DATA_DIR: dataDir,
      ATRIUM_ADMIN_EMAIL: admin.email,
      ATRIUM_ADMIN_PASSWORD: admin.password,
      ATRIUM_PYTHON: python,
      NEXT_TELEMETRY_DISABLED: '1',
    },
  });
  const until = Date.now() + SERVER_READY_DEADLINE;
  while (Date.now() < until) {
    if (hasExited(server)) throw new Error(`the portal exited (${server.exitCode()}):\n${tailOf(logFile)}`);
    try {
      const res = await fetch(`${baseUrl}/signin`, { signal: AbortSignal.timeout(5_000) });
      if (res.ok) return;
    } catch {
      /* not yet */
    }
    await sleep(500);
  }
  throw new Error(`the portal did not answer within ${SERVER_READY_DEADLINE} ms:\n${tailOf(logFile)}`);
}

// --- browser ---

let browser: Browser | null = null;
let storageState: Awaited<ReturnType<BrowserContext['storageState']>> | null = null;
let homeDir = '';

async function signIn(): Promise<void> {
  const context = await browser!.newContext({ baseURL: baseUrl, viewport: { width: 1280, height: 900 } });
  try {
    const page = await context.newPage();
    page.setDefaultTimeout(60_000);
    await page.goto('/signin');
    await page.getByLabel('Email').fill(analyst.email);
    await page.getByRole('textbox', { name: 'Password' }).fill(analyst.password);
    await page.getByRole('button', { name: 'Sign in' }).click();
    await page.waitForURL(/\/files$/, { timeout: 60_000 });
    const me = await (await page.request.get('/api/trpc/me.get')).json();
    const username = me.result.data.json.username as string;
    homeDir = path.join(dataDir, 'homes', username);
    storageState = await context.storageState();
  } finally {
    await context.close();
  }
}

async function newContext(lastCell: number): Promise<{ context: BrowserContext; page: Page }> {
  const context = await browser!.newContext({ baseURL: baseUrl, viewport: { width: 1280, height: 900 }, storageState: storageState! });
  // tsx (esbuild keepNames) may wrap functions in __name(): give the page a no-op one
  await context.addInitScript({ content: 'globalThis.__name = globalThis.__name || ((f) => f);' });
  await context.addInitScript(installProbe, { lastCell });
  const page = await context.newPage();
  page.setDefaultTimeout(60_000);
  return { context, page };
}

const probe = (page: Page) => page.evaluate(() => {
  const p = (window as unknown as { __nbProbe: ProbeData }).__nbProbe;
  return { ...p, now: performance.now() } as ProbeData;
});

function writeNotebook(rel: string, nb: unknown) {
  const file = path.join(homeDir, rel);
  fs.mkdirSync(path.dirname(file), { recursive: true });
  const tmp = `${file}.tmp-${process.pid}`;
  fs.writeFileSync(tmp, JSON.stringify(nb, null, 1) + '\n');
  fs.renameSync(tmp, file);
}

/**
 * After the bench's edit (a "Q" at the end of a line of Cell 1) and the autosave: is the file on disk the
 * original notebook with exactly that edit, every cell and output intact? (Guards the page's save path.)
 */
function checkSaved(rel: string, original: any): { edited: boolean; restIntact: boolean } {
  const saved = JSON.parse(fs.readFileSync(path.join(homeDir, rel), 'utf8'));
  const text = (v: unknown) => (Array.isArray(v) ? v.join('') : v);
  // nbformat's multiline strings may be split into lines or not, and keys may come in any order
  const canonical = (v: unknown): unknown =>
    Array.isArray(v) ? v.map(canonical) : v && typeof v === 'object' ? Object.fromEntries(Object.keys(v).sort().map((k) => [k, canonical((v as any)[k])])) : v;
  const normal = (cells: any[]) => JSON.stringify(canonical(cells.map((c) => ({ source: text(c.source), outputs: (c.outputs ?? []).map((o: any) => ({ ...o, text: text(o.text), data: o.data && Object.fromEntries(Object.entries(o.data).map(([k, v]) => [k, text(v)])) })) }))));
  const before = String(text(original.cells[0].source)).split('\n');
  const after = String(text(saved.cells[0]?.source ?? '')).split('\n');
  const edited = after.length === before.length && after.filter((line, i) => line !== before[i]).length === 1 && after.some((line, i) => line === `${before[i]}Q`);
  const restIntact = saved.cells.length === original.cells.length && normal(saved.cells.slice(1)) === normal(original.cells.slice(1)) && normal([{ ...saved.cells[0], source: '' }]) === normal([{ ...original.cells[0], source: '' }]);
  return { edited, restIntact };
}

async function warmUp(page: Page) {
  await page.goto('/notebook/bench/warm.ipynb', { timeout: LOAD_DEADLINE });
  await page.locator('[role="region"][aria-label="Cell 1"] .cm-content').waitFor({ timeout: LOAD_DEADLINE });
}

/** TTI-style: end of the last long task before the first 1 s window (from `from`) without long tasks. */
function quietFrom(longTasks: { start: number; duration: number }[], from: number): number {
  let s = from;
  for (const t of [...longTasks].sort((a, b) => a.start - b.start)) {
    const end = t.start + t.duration;
    if (end <= s) continue;
    if (t.start < s + 1000) s = Math.max(s, end);
    else break;
  }
  return s;
}

// --- Chromium tracing over CDP (recordAsMuchAsPossible: Playwright's startTracing uses a buffer that a
// 30 s load of 1,000 editors overflows, dropping the end of the long task) ---

interface Tracer {
  stop(): Promise<void>;
}

async function startTrace(page: Page, file: string): Promise<Tracer> {
  const cdp = await page.context().newCDPSession(page);
  await cdp.send('Tracing.start', {
    transferMode: 'ReturnAsStream',
    traceConfig: { recordMode: 'recordAsMuchAsPossible', includedCategories: TRACE_CATEGORIES, excludedCategories: ['*'] },
  } as any);
  let stopped = false;
  return {
    async stop() {
      if (stopped) return;
      stopped = true;
      const complete = new Promise<{ stream?: string }>((resolve) => cdp.once('Tracing.tracingComplete', (e: any) => resolve(e)));
      await cdp.send('Tracing.end');
      const { stream } = await deadline('trace collection', 120_000, complete);
      if (!stream) throw new Error('no trace stream');
      const out = fs.openSync(file, 'w');
      try {
        for (;;) {
          const chunk = (await cdp.send('IO.read', { handle: stream, size: 1 << 20 })) as { data: string; eof: boolean; base64Encoded?: boolean };
          fs.writeSync(out, chunk.base64Encoded ? Buffer.from(chunk.data, 'base64') : Buffer.from(chunk.data, 'utf8'));
          if (chunk.eof) break;
        }
      } finally {
        fs.closeSync(out);
        await cdp.send('IO.close', { handle: stream }).catch(() => undefined);
        await cdp.detach().catch(() => undefined);
      }
    },
  };
}

// --- load scenarios ---

interface LoadRep {
  rep: number;
  loadavg1: number;
  fcp: number | null;
  openFetch: { start: number; responseStart: number; responseEnd: number; transferKB: number } | null;
  firstEditorInDom: number | null;
  lastCellInDom: number | null;
  lastCellFrame: number | null;
  viewportFilledFrame: number | null;
  quietFrom: number;
  interactive: number;
  longestTask: number;
  longTasksUntilInteractive: number;
  tbt: number;
  echo: { down: number; frame: number | null; latency: number | null } | null;
  imagesLoaded?: number | null;
  afterEditLongestTask: number;
  afterEditLongTasks: { start: number; duration: number }[];
  longTasks: { start: number; duration: number }[];
}

async function measureLoad(name: 'load-1000' | 'load-png200', rel: string, original: unknown, lastCell: number, rep: number, traceFile?: string): Promise<LoadRep> {
  const { context, page } = await newContext(lastCell);
  try {
    await warmUp(page);
    const tracer = traceFile ? await startTrace(page, traceFile) : null;
    const load1 = loadavg()[0]!;
    await page.goto(`/notebook/${rel}`, { waitUntil: 'commit', timeout: LOAD_DEADLINE });
    await page.waitForFunction(() => (window as any).__nbProbe?.viewportFilledFrame != null, null, { timeout: LOAD_DEADLINE, polling: 50 });
    // wait for the quiet window
    const until = Date.now() + QUIET_DEADLINE;
    let data = await probe(page);
    let quiet = quietFrom(data.longTasks, data.viewportFilledFrame!);
    while (data.now < quiet + 1000 && Date.now() < until) {
      await sleep(Math.min(250, Math.max(20, quiet + 1000 - data.now)));
      data = await probe(page);
      quiet = quietFrom(data.longTasks, data.viewportFilledFrame!);
    }
    if (data.now < quiet + 1000) throw new Error(`${name}: the main thread was not quiet for 1 s within ${QUIET_DEADLINE} ms`);
    // all cells rendered (at once, or by the page's deferred rendering in idle time)
    await page.waitForFunction(() => (window as any).__nbProbe?.lastCellFrame != null, null, { timeout: LOAD_DEADLINE, polling: 50 });
    let imagesLoaded: number | null | undefined;
    if (name === 'load-png200') {
      imagesLoaded = await page.evaluate(async (n) => {
        const imgs = [...document.querySelectorAll('img[alt="Output image"]')] as HTMLImageElement[];
        if (imgs.length < n) return null;
        await Promise.all(imgs.map((img) => (img.complete ? null : new Promise((res) => img.addEventListener('load', res, { once: true })))));
        return imgs.every((img) => img.naturalWidth > 0) ? performance.now() : null;
      }, lastCell);
    }
    // the check: the first cell's editor takes a typed character
    await page.evaluate(() => (window as any).__nbProbe.watchEditor('[role="region"][aria-label="Cell 1"] .cm-content', 'Q'));
    const editor = page.locator('[role="region"][aria-label="Cell 1"] .cm-content');
    await editor.click({ timeout: 30_000 });
    await page.keyboard.press('End');
    await page.keyboard.press('Q');
    await page.waitForFunction(() => (window as any).__nbProbe.keys[0]?.frame != null, null, { timeout: 30_000, polling: 20 });
    const typedAt = (await probe(page)).keys[0]!.down;
    // what the first edit costs shortly after (draft to localStorage after 0.5 s, autosave after 2 s)
    await sleep(3500);
    data = await probe(page);
    await tracer?.stop();
    const saved = await page.getByTestId('save-state').textContent().catch(() => null);
    const savedFile = saved?.startsWith('Saved') ? checkSaved(rel, original) : null;
    if (!savedFile?.edited || !savedFile.restIntact) throw new Error(`${name}: after the edit, the page says "${saved}" and the file on disk is ${JSON.stringify(savedFile)}`);
    const key = data.keys[0]!;
    const interactive = Math.max(data.viewportFilledFrame!, quiet);
    const before = data.longTasks.filter((t) => t.start < interactive);
    const afterEdit = data.longTasks.filter((t) => t.start >= typedAt - 1);
    const open = await page.evaluate(() => {
      const e = (performance.getEntriesByType('resource') as PerformanceResourceTiming[]).find((x) => x.name.includes('notebooks.open'));
      return e ? { start: e.startTime, responseStart: e.responseStart, responseEnd: e.responseEnd, transferKB: Math.round(e.encodedBodySize / 1024) } : null;
    });
    return {
      rep,
      loadavg1: load1,
      fcp: r1(data.fcp),
      openFetch: open && { start: r1(open.start)!, responseStart: r1(open.responseStart)!, responseEnd: r1(open.responseEnd)!, transferKB: open.transferKB },
      firstEditorInDom: r1(data.firstEditorInDom),
      lastCellInDom: r1(data.lastCellInDom),
      lastCellFrame: r1(data.lastCellFrame),
      viewportFilledFrame: r1(data.viewportFilledFrame),
      quietFrom: r1(quiet)!,
      interactive: r1(interactive)!,
      longestTask: r1(Math.max(0, ...data.longTasks.filter((t) => t.start < typedAt - 1).map((t) => t.duration)))!,
      longTasksUntilInteractive: before.length,
      tbt: r1(before.reduce((s, t) => s + Math.max(0, t.duration - 50), 0))!,
      echo: { down: r1(key.down)!, frame: r1(key.frame), latency: key.frame === null ? null : r1(key.frame - key.down) },
      imagesLoaded: imagesLoaded === undefined ? undefined : r1(imagesLoaded),
      afterEditLongestTask: r1(Math.max(0, ...afterEdit.map((t) => t.duration)))!,
      afterEditLongTasks: afterEdit.map((t) => ({ start: r1(t.start - typedAt)!, duration: r1(t.duration)! })),
      longTasks: data.longTasks.map((t) => ({ start: r1(t.start)!, duration: r1(t.duration)! })),
    };
  } finally {
    await context.close().catch(() => undefined);
  }
}

// --- streaming scenarios ---

interface StreamRep {
  rep: number;
  loadavg1: number;
  code: string;
  keys: (ProbeKey & { latency: number | null; eventTiming: number | null })[];
  /** Event Timing keydown durations of the keys typed while streaming (null → < 16 ms counted as 16). */
  eventTiming: { p50: number | null; p95: number | null; max: number | null; over50: number };
  /** Event Timing entries ≥ 16 ms for keydowns during the stream, with what they were. */
  slowEvents: { name: string; start: number; duration: number; processing: number; bench: boolean }[];
  keysWhileStreaming: number;
  latencies: number[];
  p50: number | null;
  p95: number | null;
  max: number | null;
  eventTimingKeydownMax: number | null;
  streamMs: number | null;
  longestTaskWhileStreaming: number;
  longTasksWhileStreaming: number;
  lastLineSeen: boolean;
  hiddenNote: string | null;
}

async function measureStream(name: string, code: string, rep: number, interval: number, traceFile?: string): Promise<StreamRep> {
  const rel = `bench/${name}-${rep}${traceFile ? '-trace' : ''}.ipynb`;
  writeNotebook(rel, streamingNotebook(code));
  const { context, page } = await newContext(2);
  try {
    await page.goto(`/notebook/${rel}`, { timeout: LOAD_DEADLINE });
    await page.locator('[role="region"][aria-label="Cell 2"] .cm-content').waitFor({ timeout: LOAD_DEADLINE });
    await page
      .waitForFunction(() => document.querySelector('[role="status"][aria-label="Kernel status"]')?.textContent?.trim() === 'idle', null, { timeout: KERNEL_IDLE_DEADLINE, polling: 100 })
      .catch(async (error) => {
        const status = await page.locator('[role="status"][aria-label="Kernel status"]').textContent().catch(() => '(none)');
        const shot = path.join(os.tmpdir(), `nbbench-${name}-${rep}-kernel.png`);
        await page.screenshot({ path: shot }).catch(() => undefined);
        throw new Error(`${name}: the kernel was not idle within ${KERNEL_IDLE_DEADLINE} ms (status: ${status}; screenshot ${shot})`, { cause: error });
      });
    const load1 = loadavg()[0]!;
    await page.evaluate(() => (window as any).__nbProbe.watchEditor('[role="region"][aria-label="Cell 2"] .cm-content', 'q'));
    const tracer = traceFile ? await startTrace(page, traceFile) : null;
    // run Cell 1 (Ctrl+Enter: run and stay), then click into Cell 2's editor and type while it streams
    await page.locator('[role="region"][aria-label="Cell 1"] .cm-content').click();
    await page.evaluate(() => (window as any).__nbProbe.watchStreamEnd());
    await page.keyboard.press('Control+Enter');
    const runAt = Date.now();
    await page.waitForFunction(() => ((document.querySelector('[role="region"][aria-label="Output 1"]')?.textContent ?? '').length > 0), null, { timeout: 60_000, polling: 10 });
    const streamStart = await page.evaluate(() => performance.now());
    await page.locator('[role="region"][aria-label="Cell 2"] .cm-content').click();
    // type until KEYSTROKES keys were made while Cell 1 runs (or it stops running: then at most KEYSTROKES keys)
    for (let k = 0, during = 0; during < KEYSTROKES && k < 4 * KEYSTROKES; k++) {
      await deadline('keystroke', 30_000, page.keyboard.press('q'));
      await sleep(interval);
      const state = await page.evaluate(() => ({ ended: (window as any).__nbProbe.streamEnd != null, during: (window as any).__nbProbe.keys.filter((x: ProbeKey) => x.streaming).length }));
      during = state.during;
      if ((state.ended && k + 1 >= KEYSTROKES) || Date.now() - runAt > STREAM_DEADLINE) break;
    }
    await page.waitForFunction(() => (window as any).__nbProbe.keys.every((k: ProbeKey) => k.frame != null), null, { timeout: 30_000, polling: 50 }).catch(() => undefined);
    // the stream's end: Cell 1 idle again
    await page
      .waitForFunction(() => (window as any).__nbProbe.streamEnd != null, null, { timeout: Math.max(1000, STREAM_DEADLINE - (Date.now() - runAt)), polling: 50 })
      .catch(async (error) => {
        const shot = path.join(os.tmpdir(), `nbbench-${name}-${rep}-stream.png`);
        await page.screenshot({ path: shot }).catch(() => undefined);
        throw new Error(`${name}: Cell 1 still running ${STREAM_DEADLINE} ms after it was run (screenshot ${shot})`, { cause: error });
      });
    const streamEnd = (await probe(page)).streamEnd!;
    await tracer?.stop();
    const data = await probe(page);
    const out = await page.evaluate(() => {
      const o = document.querySelector('[role="region"][aria-label="Output 1"]');
      const text = o?.textContent ?? '';
      const note = /[\d,]+ earlier (lines|characters) hidden/.exec(text)?.[0] ?? null;
      return { last: text.includes('99999'), note };
    });
    // Event Timing (keydown → next paint as Chromium presents it; only entries ≥ 16 ms are reported, so a key
    // without one took < 16 ms): matched to each keystroke by its timestamp
    const keydownTiming = (down: number) => data.eventTimings.find((e) => e.name === 'keydown' && Math.abs(e.start - down) < 0.5)?.duration ?? null;
    const keys = data.keys.map((k) => ({ ...k, down: r1(k.down)!, inDom: r1(k.inDom), frame: r1(k.frame), latency: k.frame === null ? null : r1(k.frame - k.down), eventTiming: keydownTiming(k.down) }));
    const during = keys.filter((k) => k.streaming);
    const lat = during.map((k) => k.latency).filter((x): x is number => x !== null);
    const streamingTasks = data.longTasks.filter((t) => t.start >= streamStart - 50 && t.start <= streamEnd);
    const keydownTimings = data.eventTimings.filter((e) => e.name === 'keydown' && e.start >= streamStart - 50).map((e) => e.duration);
    return {
      rep,
      loadavg1: load1,
      code,
      keys,
      keysWhileStreaming: during.length,
      latencies: lat,
      p50: percentile(lat, 50),
      p95: percentile(lat, 95),
      max: lat.length ? Math.max(...lat) : null,
      eventTimingKeydownMax: keydownTimings.length ? Math.max(...keydownTimings) : null,
      eventTiming: (() => {
        const et = during.map((k) => k.eventTiming ?? 16);
        return { p50: percentile(et, 50), p95: percentile(et, 95), max: et.length ? Math.max(...et) : null, over50: et.filter((x) => x > 50).length };
      })(),
      slowEvents: data.eventTimings
        .filter((e) => e.start >= streamStart - 50)
        .map((e) => ({ name: e.name, start: r1(e.start - streamStart)!, duration: e.duration, processing: r1(e.processingEnd - e.processingStart)!, bench: data.keys.some((k) => Math.abs(k.down - e.start) < 0.5) })),
      streamMs: r1(streamEnd - streamStart),
      longestTaskWhileStreaming: r1(Math.max(0, ...streamingTasks.map((t) => t.duration)))!,
      longTasksWhileStreaming: streamingTasks.length,
      lastLineSeen: out.last,
      hiddenNote: out.note,
    };
  } finally {
    await context.close().catch(() => undefined);
  }
}

// --- run ---

async function shutdownKernels() {
  if (!storageState || !browser) return;
  const context = await browser.newContext({ baseURL: baseUrl, storageState });
  try {
    const listed = await context.request.get('/api/kernels', { timeout: 15_000 });
    if (listed.ok()) for (const k of (await listed.json()) as { id: string }[]) await context.request.delete(`/api/kernels/${k.id}`, { timeout: 15_000 }).catch(() => undefined);
  } catch {
    /* the group kill below stops them anyway */
  } finally {
    await context.close().catch(() => undefined);
  }
}

async function cleanup() {
  await deadline('kernel shutdown', 30_000, shutdownKernels()).catch(() => undefined);
  if (browser) await deadline('browser close', 30_000, browser.close()).catch(() => undefined);
  await stopAll();
  const swept = sweepByMarker(runDir);
  if (swept.length) log('swept leftovers:', swept);
  fs.rmSync(runDir, { recursive: true, force: true });
}

let cleaning: Promise<void> | null = null;
for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.once(signal, () => {
    log(`${signal}: stopping everything…`);
    cleaning ??= cleanup();
    void cleaning.finally(() => process.exit(130));
  });
}

async function main() {
  const startedAt = new Date();
  const facts = machineFacts();
  const loadAtStart = loadavg();
  log('machine', facts, 'load', loadAtStart);
  const python = kernelPython();
  await startPortal(python);
  log('portal at', baseUrl, 'data dir', dataDir);
  cli(['users', 'add', analyst.email, '--name', 'Bench Analyst', '--password-stdin'], analyst.password + '\n');
  browser = await chromium.launch({ executablePath: '/usr/bin/chromium', args: CHROMIUM_ARGS, timeout: 60_000 });
  await signIn();
  log('home', homeDir);

  const nb1000 = thousandCells(1000);
  const png = pngCells(200);
  writeNotebook('bench/warm.ipynb', tinyNotebook());
  const results: Record<string, any> = {};
  const traces: Record<string, TraceSummary & { file: string }> = {};
  const traceDir = path.join(path.dirname(outFile), 'traces');

  const traceAndAnalyze = async (name: string, run: (traceFile: string) => Promise<unknown>) => {
    const traceFile = path.join(runDir, `${name}.trace.json`);
    log(`${name}: traced run (not counted)…`);
    const traced = await run(traceFile);
    const summary = analyzeTrace(traceFile, { chunksDir: path.join(root, '.next') });
    fs.mkdirSync(traceDir, { recursive: true });
    const kept = path.join(traceDir, `${stamp}-${name}.trace.json.gz`);
    fs.writeFileSync(kept, zlib.gzipSync(fs.readFileSync(traceFile)));
    traces[name] = { ...summary, file: path.relative(root, kept) };
    return traced;
  };

  for (const [name, rel, nb, lastCell] of [
    ['load-1000', 'bench/thousand-cells.ipynb', nb1000, 1000],
    ['load-png200', 'bench/png-200.ipynb', png.notebook, 200],
  ] as const) {
    if (!ONLY.has(name)) continue;
    const file = path.join(homeDir, rel);
    const reps: LoadRep[] = [];
    const errors: string[] = [];
    for (let rep = 1; rep <= REPS; rep++) {
      writeNotebook(rel, nb); // the bench's own edit (and autosave) of the last rep is undone
      let r: LoadRep;
      try {
        r = await measureLoad(name, rel, nb, lastCell, rep);
      } catch (error) {
        errors.push(String((error as Error).message));
        log(`${name} rep ${rep} failed:`, (error as Error).message);
        continue;
      }
      log(`${name} rep ${rep}: interactive ${r.interactive} ms (viewport filled ${r.viewportFilledFrame}, quiet from ${r.quietFrom}, all cells rendered ${r.lastCellFrame}), longest task ${r.longestTask} ms, TBT ${r.tbt} ms, echo ${r.echo?.latency} ms, load ${r.loadavg1}`);
      reps.push(r);
    }
    const summary = {
      fileBytes: fs.statSync(file).size,
      errors,
      cells: lastCell,
      ...(name === 'load-png200' ? { pngBase64Bytes: { min: Math.min(...png.base64Bytes), median: median(png.base64Bytes), max: Math.max(...png.base64Bytes) } } : {}),
      median: {
        interactive: median(reps.map((r) => r.interactive)),
        lastCellFrame: median(reps.map((r) => r.lastCellFrame ?? NaN)),
        viewportFilledFrame: median(reps.map((r) => r.viewportFilledFrame ?? NaN)),
        fcp: median(reps.map((r) => r.fcp ?? NaN)),
        openFetchEnd: median(reps.map((r) => r.openFetch?.responseEnd ?? NaN)),
        longestTask: median(reps.map((r) => r.longestTask)),
        tbt: median(reps.map((r) => r.tbt)),
        echoLatency: median(reps.map((r) => r.echo?.latency ?? NaN)),
        afterEditLongestTask: median(reps.map((r) => r.afterEditLongestTask)),
        ...(name === 'load-png200' ? { imagesLoaded: median(reps.map((r) => r.imagesLoaded ?? NaN)) } : {}),
      },
      target: { interactiveMs: TARGETS[name], longTaskMs: TARGETS.longTaskMs },
      reps,
    };
    const miss = (summary.median.interactive ?? Infinity) > TARGETS[name] || (summary.median.longestTask ?? Infinity) > TARGETS.longTaskMs;
    (summary as any).met = !miss;
    results[name] = summary;
    await deadline('kernel shutdown', 30_000, shutdownKernels()).catch(() => undefined);
    if (TRACE === 'always' || (TRACE === 'auto' && miss)) {
      writeNotebook(rel, nb);
      const traced = await traceAndAnalyze(name, (traceFile) => measureLoad(name, rel, nb, lastCell, 0, traceFile)).catch((error) => ({ error: String(error) }));
      (summary as any).tracedRun = traced;
    }
  }

  const streamCode: Record<string, string> = {
    'stream-burst': `for i in range(${LINES}):\n    print(i)`,
    'stream-paced': `import time\nfor i in range(${LINES}):\n    print(i)\n    if i % 100 == 99:\n        time.sleep(0.01)`,
  };
  const streamInterval: Record<string, number> = { 'stream-burst': 15, 'stream-paced': KEY_INTERVAL };
  for (const name of ['stream-burst', 'stream-paced']) {
    if (!ONLY.has(name)) continue;
    const reps: StreamRep[] = [];
    const errors: string[] = [];
    // the burst is over in a few seconds: more reps until KEYSTROKES keys were typed while it streamed
    for (let rep = 1; rep <= REPS || (reps.flatMap((r) => r.latencies).length < KEYSTROKES && rep <= REPS + 7); rep++) {
      let r: StreamRep;
      try {
        r = await measureStream(name, streamCode[name]!, rep, streamInterval[name]!);
      } catch (error) {
        errors.push(String((error as Error).message));
        log(`${name} rep ${rep} failed:`, (error as Error).message);
        await deadline('kernel shutdown', 30_000, shutdownKernels()).catch(() => undefined);
        if (errors.length >= 3) break;
        continue;
      }
      await deadline('kernel shutdown', 30_000, shutdownKernels()).catch(() => undefined); // stay under kernel limits
      log(`${name} rep ${rep}: ${r.keysWhileStreaming}/${r.keys.length} keys while streaming, p50 ${r.p50} p95 ${r.p95} max ${r.max} ms (Event Timing p95 ${r.eventTiming.p95} max ${r.eventTiming.max}; slow events ${JSON.stringify(r.slowEvents.filter((e) => !e.bench || e.duration > 50))}), stream ${r.streamMs} ms, longest task ${r.longestTaskWhileStreaming} ms, last line ${r.lastLineSeen}, load ${r.loadavg1}`);
      reps.push(r);
    }
    const pooled = reps.flatMap((r) => r.latencies);
    const summary = {
      code: streamCode[name],
      keyIntervalMs: streamInterval[name],
      errors,
      pooled: { keys: pooled.length, p50: percentile(pooled, 50), p95: percentile(pooled, 95), max: pooled.length ? Math.max(...pooled) : null },
      pooledEventTiming: (() => {
        const et = reps.flatMap((r) => r.keys.filter((k) => k.streaming).map((k) => k.eventTiming ?? 16));
        return { keys: et.length, p50: percentile(et, 50), p95: percentile(et, 95), max: et.length ? Math.max(...et) : null, over50: et.filter((x) => x > 50).length };
      })(),
      median: {
        p50: median(reps.map((r) => r.p50 ?? NaN)),
        p95: median(reps.map((r) => r.p95 ?? NaN)),
        max: median(reps.map((r) => r.max ?? NaN)),
        streamMs: median(reps.map((r) => r.streamMs ?? NaN)),
        longestTaskWhileStreaming: median(reps.map((r) => r.longestTaskWhileStreaming)),
      },
      target: { typingMs: TARGETS.typingMs, longTaskMs: TARGETS.longTaskMs },
      reps,
    };
    // typing must answer within 50 ms both by the page's own clock (next animation frame) and as Chromium
    // presents the frame (Event Timing)
    const miss =
      (summary.pooled.p95 ?? Infinity) > TARGETS.typingMs ||
      (summary.pooledEventTiming.p95 ?? Infinity) > TARGETS.typingMs ||
      (summary.median.longestTaskWhileStreaming ?? Infinity) > TARGETS.longTaskMs;
    (summary as any).met = !miss;
    results[name] = summary;
    if (TRACE === 'always' || (TRACE === 'auto' && miss)) {
      const traced = await traceAndAnalyze(name, (traceFile) => measureStream(name, streamCode[name]!, 0, streamInterval[name]!, traceFile)).catch((error) => ({ error: String(error) }));
      (summary as any).tracedRun = traced;
    }
  }

  const report = {
    command: `node --import tsx bench/notebook/notebook-bench.ts ${process.argv.slice(2).join(' ')}`.trim(),
    startedAt: startedAt.toISOString(),
    finishedAt: new Date().toISOString(),
    machine: facts,
    browserVersion: browser.version(),
    loadavg: { atStart: loadAtStart, atEnd: loadavg() },
    kernelPython: python,
    targets: TARGETS,
    definitions: {
      interactive: 'max(first animation frame at which rendered cells fill the viewport (no placeholder of a not-yet-rendered cell starts above its bottom), end of the last long task before the first 1 s window without long tasks after that); then checked by typing into Cell 1 (echo = keydown.timeStamp → next animation frame after the character is in the DOM). Before the page rendered big notebooks in slices (2026-11-30), the first term was the frame after the last cell ("Cell N") was in the DOM, which the page reached in one long render',
      allCellsRendered: 'lastCellFrame: first animation frame after region "Cell N" (the last cell) is in the DOM',
      longestTask: 'longest PerformanceObserver longtask entry from navigation start until the bench typed (the quiet window included)',
      tbt: 'Σ max(0, duration − 50 ms) over long tasks that started before "interactive"',
      typing: 'keydown.timeStamp → the next animation frame after the typed character is in Cell 2 editor DOM; only keystrokes made while Cell 1 showed [*]. Met when its p95 and the p95 of Chromium Event Timing keydown durations (event → frame presented; < 16 ms counted as 16) are both ≤ 50 ms',
      reps: 'each rep: a new context (cookies only), one unmeasured visit to a 1-cell notebook, then the measured navigation; medians over reps',
    },
    results,
    traces,
  };
  fs.mkdirSync(path.dirname(outFile), { recursive: true });
  fs.writeFileSync(outFile, JSON.stringify(report, null, 1) + '\n');
  log('wrote', path.relative(root, outFile));
  console.log(markdownTable(report));
}

function markdownTable(report: any): string {
  const rows: string[] = ['| scenario | target | result (median of reps) | longest main-thread task | other | met |', '|---|---|---|---|---|---|'];
  const R = report.results;
  for (const name of ['load-1000', 'load-png200']) {
    const s = R[name];
    if (!s) continue;
    const m = s.median;
    rows.push(
      `| ${name} | interactive ≤ ${s.target.interactiveMs} ms, tasks ≤ 200 ms | interactive **${m.interactive} ms** (viewport filled ${m.viewportFilledFrame} ms; all cells rendered ${m.lastCellFrame} ms; FCP ${m.fcp} ms; notebooks.open done ${m.openFetchEnd} ms) | ${m.longestTask} ms (TBT ${m.tbt} ms) | echo of first keystroke ${m.echoLatency} ms; longest task within 3 s after the first edit ${m.afterEditLongestTask} ms${m.imagesLoaded != null ? `; all images decoded ${m.imagesLoaded} ms` : ''}; reps: ${s.reps.map((r: LoadRep) => r.interactive).join(' / ')} ms | ${s.met ? 'yes' : '**no**'} |`,
    );
  }
  for (const name of ['stream-burst', 'stream-paced']) {
    const s = R[name];
    if (!s) continue;
    rows.push(
      `| ${name} | typing ≤ 50 ms, tasks ≤ 200 ms | keypress→paint p50 / p95 / max **${s.pooled.p50} / ${s.pooled.p95} / ${s.pooled.max} ms** (${s.pooled.keys} keys while streaming, pooled over reps); Event Timing keydown→presented p50 / p95 / max **${s.pooledEventTiming.p50} / ${s.pooledEventTiming.p95} / ${s.pooledEventTiming.max} ms** (${s.pooledEventTiming.over50} keys > 50 ms) (≤16 = under the API's 16 ms floor) | ${s.median.longestTaskWhileStreaming} ms | stream took ${s.median.streamMs} ms in the page; per-rep p95: ${s.reps.map((r: StreamRep) => r.p95).join(' / ')} | ${s.met ? 'yes' : '**no**'} |`,
    );
  }
  return rows.join('\n');
}

main()
  .then(
    () => (process.exitCode = 0),
    (error) => {
      console.error(error);
      if (server) console.error('portal log tail:\n' + tailOf(server.logFile, 40));
      process.exitCode = 1;
    },
  )
  .finally(async () => {
    cleaning ??= cleanup();
    await cleaning;
  });
