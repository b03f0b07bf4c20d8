// Kernel benchmark: the direct-ZeroMQ limit, Jupyter Enterprise Gateway, Jupyter Kernel Gateway and Atrium,
// measured in one run, on one kernel interpreter (the bench's kernel venv), on this machine.
//
//   node --import tsx bench/kernel-bench.ts [--targets direct,jeg,kg,atrium[,jeg-nodelay,kg-nodelay]]
//        [--iterations 200] [--warmup 20] [--starts 5] [--lines 100000] [--output-reps 3] [--framings v1,legacy]
//        [--atrium-url URL --atrium-token T [--atrium-kernel python3]] [--concurrent N] [--paired ROUNDS]
//        [--out bench/results/<date>.json]
//
// Per target: (c) kernel start = POST /api/kernels (direct: spawn) → first kernel_info_reply on the client's
// socket, --starts times; then on the last kernel, per WebSocket framing: (a) execute round trips of
// `x = 1` and `1+1` (send → execute_reply and idle both in) after --warmup, --iterations each; (b) output
// throughput of --lines `print(i)` lines and of 100-char lines, counting what arrived.
// jeg and kg are started here on 127.0.0.1 with a free port and a token, one at a time, each stopped
// (process group) before the next; atrium is only measured when --atrium-url is given (never started here).
// jeg-nodelay / kg-nodelay (opt-in, diagnostic): the same peers with Nagle kept off on their sockets.
// --concurrent N (gateways only): then N `POST /api/kernels` sent at once; counts the answers (201 or a clear
// refusal), the time to each, and how many of the started kernels then answer kernel_info on their WebSocket;
// every kernel is deleted afterwards.
// --paired R (direct and atrium only): after the targets, the execute round trips again with a direct kernel
// and an Atrium kernel open side by side, in R rounds of --paired-block executes each, alternating ABBA
// (direct, atrium, atrium, direct, …), so both see the same machine: on a shared 2-core box the load drifts
// by more than the difference being measured between two targets run a minute apart. Kernel starts take turns
// the same way first (max(--starts, 6) rounds: a direct spawn, an Atrium start, and a JEG start when jeg is a
// target, its server running for those rounds only).
// --pin (with --paired): the paired rounds again with both kernels on the last CPU and everything else (this
// bench, the Atrium portal) on CPU 0, as on a cluster, where a kernel never shares its CPU with the gateway.
// Without it, the gateway's work on each message competes with the kernel's own threads for the 2 CPUs.
// --tag-cells: every execute carries the notebook-cell metadata Atrium's notebook page sends, so Atrium records
// its outputs (durable outputs; the peers ignore it). Without it, executes are plain API calls, which Atrium
// does not record (nothing could replay them).
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { randomBytes, randomUUID } from 'node:crypto';
import { execFileSync } from 'node:child_process';
import { performance } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { createRequire } from 'node:module';
import type { ConnectionInfo } from '../server/kernels/connection';
import type { WsFraming } from '../server/kernels/protocol/websocket';
import { ensureBenchVenvs } from './setup.mjs';
import {
  freePort,
  hasExited,
  sleep,
  startProcess,
  stopAll,
  stopProcess,
  sweepByMarker,
  tailOf,
  within,
  type Managed,
} from './lib/processes';
import { DirectTransport, GatewayClient, WsTransport, type MessageTransport } from './lib/transport';
import { execute, firstKernelInfo, summarize, type ExecuteOutcome, type ExecuteTimeline, type Summary } from './lib/workloads';

const here = path.dirname(fileURLToPath(import.meta.url));
const DEFAULT_TARGETS = ['direct', 'jeg', 'kg', 'atrium'] as const;
/** Diagnostic peers: the same server with a startup shim that keeps TCP_NODELAY on (see NODELAY_SHIM). */
const ALL_TARGETS = [...DEFAULT_TARGETS, 'jeg-nodelay', 'kg-nodelay'] as const;
type TargetName = (typeof ALL_TARGETS)[number];
type PeerName = 'jeg' | 'kg';

/**
 * Tornado turns Nagle's algorithm back on after every HTTP response, the WebSocket upgrade's 101 included
 * (strace: setsockopt(TCP_NODELAY, 0) right after it), and neither gateway turns it off again. This
 * sitecustomize makes IOStream.set_nodelay always set True, for the gateway process only (it removes
 * itself from PYTHONPATH so kernels don't load it). Diagnostic: shows what the peers cost without Nagle.
 */
const NODELAY_SHIM = `import os, tornado.iostream
os.environ.pop("PYTHONPATH", None)
_set_nodelay = tornado.iostream.IOStream.set_nodelay
tornado.iostream.IOStream.set_nodelay = lambda self, value: _set_nodelay(self, True)
`;

// deadlines (ms)
const START_DEADLINE = 90_000;
const REST_DEADLINE = 30_000;
const EXEC_DEADLINE = 30_000;
const OUTPUT_DEADLINE = 180_000;
const SERVER_READY_DEADLINE = 90_000;
/** a burst of starts on 2 cores: every kernel's spawn competes for the same CPU */
const BURST_DEADLINE = 300_000;

// --- arguments ---

const { values: args } = parseArgs({
  options: {
    targets: { type: 'string', default: DEFAULT_TARGETS.join(',') },
    iterations: { type: 'string', default: '200' },
    warmup: { type: 'string', default: '20' },
    starts: { type: 'string', default: '5' },
    lines: { type: 'string', default: '100000' },
    'output-reps': { type: 'string', default: '3' },
    framings: { type: 'string', default: 'v1,legacy' },
    'atrium-url': { type: 'string' },
    'atrium-token': { type: 'string' },
    'atrium-kernel': { type: 'string', default: 'python3' },
    out: { type: 'string' },
    concurrent: { type: 'string', default: '0' },
    paired: { type: 'string', default: '0' },
    'paired-block': { type: 'string', default: '25' },
    pin: { type: 'boolean', default: false },
    'tag-cells': { type: 'boolean', default: false },
    'keep-run-dir': { type: 'boolean', default: false },
    help: { type: 'boolean', default: false },
  },
});

if (args.help) {
  const source = fs.readFileSync(fileURLToPath(import.meta.url), 'utf8').split('\n');
  console.log(source.slice(0, source.findIndex((line) => !line.startsWith('//'))).join('\n'));
  process.exit(0);
}

function positiveInt(name: string, value: string, max: number): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n < 1 || n > max) throw new Error(`--${name} must be an integer in 1..${max}, got ${value}`);
  return n;
}

const targets = args.targets!.split(',').map((s) => s.trim()).filter(Boolean) as TargetName[];
for (const t of targets) if (!ALL_TARGETS.includes(t)) throw new Error(`unknown target "${t}" (known: ${ALL_TARGETS.join(', ')})`);
const iterations = positiveInt('iterations', args.iterations!, 100_000);
const warmup = positiveInt('warmup', args.warmup!, 10_000);
const starts = positiveInt('starts', args.starts!, 100);
const lines = positiveInt('lines', args.lines!, 10_000_000);
const outputReps = positiveInt('output-reps', args['output-reps']!, 100);
const concurrent = args.concurrent === '0' ? 0 : positiveInt('concurrent', args.concurrent!, 1000);
const pairedRounds = args.paired === '0' ? 0 : positiveInt('paired', args.paired!, 10_000);
const pairedBlock = positiveInt('paired-block', args['paired-block']!, 10_000);
const framings = args.framings!.split(',').map((s) => s.trim()) as WsFraming[];
for (const f of framings) if (f !== 'v1' && f !== 'legacy') throw new Error(`unknown framing "${f}" (v1, legacy)`);
const today = new Date().toISOString().slice(0, 10);
const outFile = path.resolve(args.out ?? path.join(here, 'results', `${today}.json`));
const commandLine = ['node', '--import', 'tsx', path.relative(process.cwd(), fileURLToPath(import.meta.url)), ...process.argv.slice(2)]
  .join(' ')
  .replace(/(--atrium-token[= ])\S+/, '$1***');

// --- workloads ---

const EXECUTE_CODES = ['x = 1', '1+1'] as const;
/** --tag-cells: the metadata Atrium's notebook page puts on its executes (app/_components/notebook/kernel-session.ts). */
const EXEC_METADATA = args['tag-cells'] ? { atrium: { notebookPath: 'bench/Bench.ipynb', cellId: 'bench-cell' } } : undefined;

interface OutputWorkload {
  name: string;
  code: string;
  expectedLines: number;
  expectedBytes: number;
}

function outputWorkloads(n: number): OutputWorkload[] {
  let printBytes = 0;
  for (let i = 0; i < n; i++) printBytes += String(i).length + 1;
  return [
    { name: 'print(i)', code: `for i in range(${n}):\n    print(i)`, expectedLines: n, expectedBytes: printBytes },
    {
      name: '100-char lines',
      code: `line = 'x' * 100\nfor i in range(${n}):\n    print(line)`,
      expectedLines: n,
      expectedBytes: n * 101,
    },
  ];
}

// --- results ---

interface ExecuteResult extends Summary {
  replyP50: number;
}

interface OutputResult {
  expectedLines: number;
  expectedBytes: number;
  /** the median rep by elapsed time */
  elapsedMs: number;
  stdoutBytes: number;
  stdoutLines: number;
  mbPerSec: number;
  linesPerSec: number;
  /** fewest lines received over all reps, and the lines missing then */
  minLinesReceived: number;
  maxLinesDropped: number;
  rateLimitNotices: number;
  stderrSample: string;
  reps: Array<Pick<ExecuteOutcome, 'elapsedMs' | 'stdoutBytes' | 'stdoutLines' | 'rateLimitNotices' | 'iopubMessages' | 'wireBytes'>>;
}

interface VariantResult {
  transport: string;
  offeredFraming?: WsFraming;
  subprotocol?: string;
  execute: Record<string, ExecuteResult>;
  output: Record<string, OutputResult>;
  decodeFailures?: number;
}

interface StartSample {
  totalMs: number;
  /** direct only: until iopub is subscribed too (KernelConnection.waitForReady), which gateways do before the WS opens */
  iopubReadyMs?: number;
  postMs?: number;
  wsOpenMs?: number;
}

interface TargetResult {
  target: TargetName;
  skipped?: string;
  error?: string;
  server?: { command: string; readyMs: number; versions?: Record<string, string> };
  kernel?: { implementation_version?: unknown; language_version?: unknown; protocol_version?: unknown; connectionIps?: string[] };
  start?: Summary & { samples: StartSample[] };
  burst?: BurstResult;
  variants: VariantResult[];
  notes: string[];
  /** 1-minute load average when the target started and ended: other work on this 2-core machine skews results */
  loadAvg?: { before: number; after: number };
}

interface BurstResult {
  requests: number;
  /** 201 with a kernel id */
  started: number;
  /** answered with an error status (e.g. a quota refusal), by status and first words of the message */
  refused: Record<string, number>;
  /** no HTTP answer within the deadline, or the connection failed */
  unanswered: number;
  /** of the started kernels, how many answered kernel_info on their WebSocket */
  answeredKernelInfo: number;
  /** send → HTTP answer, over the answered requests; ms */
  answerMs?: Summary;
  /** send → last HTTP answer; ms */
  allAnsweredMs: number;
  errors: string[];
}

// --- run context ---

const runDir = fs.mkdtempSync(path.join(os.tmpdir(), 'atrium-bench-'));
let failed = false;

function log(message: string): void {
  console.error(`[bench ${new Date().toISOString().slice(11, 19)}] ${message}`);
}

function pythonEnv(): Record<string, string | undefined> {
  const env: Record<string, string | undefined> = {};
  for (const [k, v] of Object.entries(process.env)) {
    if (/^(JUPYTER_|EG_|KG_|IPYTHONDIR$|PYTHONPATH$|PYTHONHOME$)/.test(k)) continue;
    env[k] = v;
  }
  return {
    ...env,
    JUPYTER_PATH: path.join(runDir, 'share'),
    JUPYTER_DATA_DIR: path.join(runDir, 'data'),
    JUPYTER_CONFIG_DIR: path.join(runDir, 'config'),
    JUPYTER_RUNTIME_DIR: path.join(runDir, 'runtime'),
    JUPYTER_PLATFORM_DIRS: '1',
    IPYTHONDIR: path.join(runDir, 'ipython'),
    PYTHONUNBUFFERED: '1',
  };
}

/** The `python3` kernelspec both gateways find first (JUPYTER_PATH): the bench's kernel venv, ipykernel's own argv. */
function writeKernelspec(kernelPython: string): void {
  const dir = path.join(runDir, 'share', 'kernels', 'python3');
  fs.mkdirSync(dir, { recursive: true });
  for (const d of ['data', 'config', 'runtime', 'ipython']) fs.mkdirSync(path.join(runDir, d), { recursive: true });
  fs.writeFileSync(
    path.join(dir, 'kernel.json'),
    JSON.stringify(
      {
        argv: [kernelPython, '-m', 'ipykernel_launcher', '-f', '{connection_file}'],
        display_name: 'Python 3 (ipykernel)',
        language: 'python',
        metadata: { debugger: true },
      },
      null,
      2,
    ),
  );
}

function pyPackages(python: string, names: string[]): Record<string, string> {
  const script =
    'import json, sys, importlib.metadata as m\n' +
    'out = {"python": sys.version.split()[0]}\n' +
    'for n in sys.argv[1:]:\n' +
    '    try: out[n] = m.version(n)\n' +
    '    except Exception: out[n] = "absent"\n' +
    'print(json.dumps(out))';
  return JSON.parse(execFileSync(python, ['-c', script, ...names], { encoding: 'utf8', timeout: 30_000 }));
}

/** ip of every connection file written under the run dir (kernels must listen on loopback). */
function connectionIps(): string[] {
  const ips = new Set<string>();
  const walk = (dir: string, depth: number) => {
    if (depth > 4) return;
    for (const entry of fs.readdirSync(dir, { withFileTypes: true })) {
      const p = path.join(dir, entry.name);
      if (entry.isDirectory()) walk(p, depth + 1);
      else if (/^kernel-.*\.json$/.test(entry.name)) {
        try {
          ips.add(String(JSON.parse(fs.readFileSync(p, 'utf8')).ip));
        } catch {
          // being written or removed
        }
      }
    }
  };
  walk(runDir, 0);
  return [...ips];
}

// --- measuring one open transport ---

async function measureSession(t: MessageTransport): Promise<VariantResult> {
  const result: VariantResult = { transport: t.description, execute: {}, output: {} };
  for (const code of EXECUTE_CODES) {
    for (let i = 0; i < warmup; i++) await execute(t, code, EXEC_DEADLINE, EXEC_METADATA);
    const elapsed: number[] = [];
    const reply: number[] = [];
    for (let i = 0; i < iterations; i++) {
      const r = await execute(t, code, EXEC_DEADLINE, EXEC_METADATA);
      elapsed.push(r.elapsedMs);
      reply.push(r.replyMs);
    }
    result.execute[code] = { ...summarize(elapsed), replyP50: summarize(reply).p50 };
    log(`  ${t.description} ${code}: p50 ${result.execute[code]!.p50.toFixed(2)} ms, p99 ${result.execute[code]!.p99.toFixed(2)} ms`);
  }
  for (const w of outputWorkloads(lines)) {
    const reps: ExecuteOutcome[] = [];
    for (let i = 0; i < outputReps; i++) reps.push(await execute(t, w.code, OUTPUT_DEADLINE, EXEC_METADATA));
    const median = [...reps].sort((a, b) => a.elapsedMs - b.elapsedMs)[Math.floor(reps.length / 2)]!;
    const minLines = Math.min(...reps.map((r) => r.stdoutLines));
    result.output[w.name] = {
      expectedLines: w.expectedLines,
      expectedBytes: w.expectedBytes,
      elapsedMs: round(median.elapsedMs),
      stdoutBytes: median.stdoutBytes,
      stdoutLines: median.stdoutLines,
      mbPerSec: round(median.stdoutBytes / 1e6 / (median.elapsedMs / 1000)),
      linesPerSec: Math.round(median.stdoutLines / (median.elapsedMs / 1000)),
      minLinesReceived: minLines,
      maxLinesDropped: w.expectedLines - minLines,
      rateLimitNotices: reps.reduce((a, r) => a + r.rateLimitNotices, 0),
      stderrSample: reps.map((r) => r.stderrText).find((s) => s) ?? '',
      reps: reps.map((r) => ({
        elapsedMs: round(r.elapsedMs),
        stdoutBytes: r.stdoutBytes,
        stdoutLines: r.stdoutLines,
        rateLimitNotices: r.rateLimitNotices,
        iopubMessages: r.iopubMessages,
        wireBytes: r.wireBytes,
      })),
    };
    const o = result.output[w.name]!;
    log(
      `  ${t.description} ${w.name}: ${o.mbPerSec} MB/s, ${o.stdoutLines}/${w.expectedLines} lines in ${o.elapsedMs} ms` +
        (o.maxLinesDropped > 0 ? ` — DROPPED up to ${o.maxLinesDropped} lines` : ''),
    );
  }
  if (t instanceof WsTransport) {
    result.offeredFraming = t.offered;
    result.subprotocol = t.subprotocol;
    result.decodeFailures = t.decodeFailures;
  }
  return result;
}

function round(x: number): number {
  return Math.round(x * 1000) / 1000;
}

// --- direct ---

interface DirectKernel {
  proc: Managed;
  transport: DirectTransport;
}

async function startDirectKernel(kernelPython: string, index: number): Promise<{ kernel: DirectKernel; ms: number; iopubReadyMs: number; content: Record<string, unknown> }> {
  const [shell, iopub, stdin, control, hb] = [await freePort(), await freePort(), await freePort(), await freePort(), await freePort()];
  const info: ConnectionInfo = {
    ip: '127.0.0.1',
    transport: 'tcp',
    shell_port: shell,
    iopub_port: iopub,
    stdin_port: stdin,
    control_port: control,
    hb_port: hb,
    key: randomUUID(),
    signature_scheme: 'hmac-sha256',
    kernel_name: 'python3',
  };
  const connFile = path.join(runDir, 'runtime', `kernel-direct-${index}.json`);
  fs.writeFileSync(connFile, JSON.stringify(info));
  const t0 = performance.now();
  const proc = startProcess('direct kernel', kernelPython, ['-m', 'ipykernel_launcher', '-f', connFile], {
    env: pythonEnv(),
    logFile: path.join(runDir, `direct-kernel-${index}.log`),
  });
  const transport = new DirectTransport(info);
  try {
    const first = await firstKernelInfo(transport, START_DEADLINE, t0);
    // A SUB misses what is published before its subscription reaches the kernel: wait until iopub is live.
    await transport.connection.waitForReady(START_DEADLINE);
    const iopubReadyMs = performance.now() - t0;
    return { kernel: { proc, transport }, ms: first.ms, iopubReadyMs, content: first.content };
  } catch (error) {
    await transport.close();
    await stopProcess(proc);
    throw new Error(`${(error as Error).message}\n${tailOf(proc.logFile)}`);
  }
}

async function stopDirectKernel(k: DirectKernel): Promise<void> {
  try {
    k.transport.send('control', k.transport.createMessage('shutdown_request', { restart: false }));
    await within(k.proc.exited, 5_000);
  } finally {
    await k.transport.close();
    await stopProcess(k.proc);
  }
}

async function runDirect(result: TargetResult, kernelPython: string): Promise<void> {
  const samples: StartSample[] = [];
  let kernel: DirectKernel | undefined;
  try {
    for (let i = 0; i < starts; i++) {
      if (kernel) await stopDirectKernel(kernel);
      const started = await startDirectKernel(kernelPython, i);
      kernel = started.kernel;
      samples.push({ totalMs: round(started.ms), iopubReadyMs: round(started.iopubReadyMs) });
      result.kernel = kernelFacts(started.content);
      log(`  start ${i + 1}/${starts}: ${started.ms.toFixed(0)} ms (iopub live at ${started.iopubReadyMs.toFixed(0)} ms)`);
    }
    result.start = { ...summarize(samples.map((s) => s.totalMs)), samples };
    result.kernel!.connectionIps = connectionIps();
    result.variants.push(await measureSession(kernel!.transport));
  } finally {
    if (kernel) await stopDirectKernel(kernel);
  }
}

function kernelFacts(content: Record<string, unknown>): TargetResult['kernel'] {
  const languageInfo = content.language_info as { version?: unknown } | undefined;
  return {
    implementation_version: content.implementation_version,
    language_version: languageInfo?.version,
    protocol_version: content.protocol_version,
  };
}

// --- gateways (one client for jeg, kg and atrium) ---

async function runGateway(result: TargetResult, client: GatewayClient, kernelName: string): Promise<void> {
  const samples: StartSample[] = [];
  let kernelId: string | undefined;
  let ws: WsTransport | undefined;
  const cleanupKernel = async () => {
    await ws?.close();
    ws = undefined;
    if (kernelId) await client.deleteKernel(kernelId, REST_DEADLINE).catch((e: Error) => result.notes.push(`delete: ${e.message}`));
    kernelId = undefined;
  };
  try {
    for (let i = 0; i < starts; i++) {
      await cleanupKernel();
      const t0 = performance.now();
      kernelId = await client.startKernel(kernelName, START_DEADLINE);
      const postMs = performance.now() - t0;
      ws = await client.openChannels(kernelId, framings[0]!, START_DEADLINE);
      const wsOpenMs = performance.now() - t0;
      const first = await firstKernelInfo(ws, START_DEADLINE, t0);
      samples.push({ totalMs: round(first.ms), postMs: round(postMs), wsOpenMs: round(wsOpenMs) });
      result.kernel = kernelFacts(first.content);
      log(`  start ${i + 1}/${starts}: ${first.ms.toFixed(0)} ms (POST ${postMs.toFixed(0)} ms, WS open ${wsOpenMs.toFixed(0)} ms)`);
    }
    result.start = { ...summarize(samples.map((s) => s.totalMs)), samples };
    if (result.target !== 'atrium') result.kernel!.connectionIps = connectionIps();
    for (const [i, framing] of framings.entries()) {
      if (i > 0) {
        await ws?.close();
        ws = await client.openChannels(kernelId!, framing, REST_DEADLINE);
        await firstKernelInfo(ws, REST_DEADLINE); // the new socket is live before timing starts
      }
      const variant = await measureSession(ws!);
      if (framing === 'v1' && ws!.framing !== 'v1') result.notes.push('offered v1.kernel.websocket.jupyter.org; the server chose legacy');
      result.variants.push(variant);
    }
  } finally {
    await cleanupKernel();
  }
}

/** N starts at once; then each started kernel must answer on its WebSocket; then all are deleted. */
async function runBurst(result: TargetResult, client: GatewayClient, kernelName: string, n: number): Promise<void> {
  const burst: BurstResult = { requests: n, started: 0, refused: {}, unanswered: 0, answeredKernelInfo: 0, allAnsweredMs: 0, errors: [] };
  result.burst = burst;
  const ids: string[] = [];
  const answerTimes: number[] = [];
  const t0 = performance.now();
  log(`  burst: ${n} POST /api/kernels at once`);
  await Promise.all(
    Array.from({ length: n }, async () => {
      try {
        const res = await client.request('POST', 'api/kernels', { name: kernelName, env: { KERNEL_USERNAME: 'bench' } }, BURST_DEADLINE);
        answerTimes.push(performance.now() - t0);
        const id = (res.json as { id?: unknown } | undefined)?.id;
        if (res.status === 201 && typeof id === 'string') {
          ids.push(id);
          burst.started++;
        } else {
          const message = ((res.json as { message?: unknown } | undefined)?.message ?? res.body).toString().replace(/\s+/g, ' ').slice(0, 80);
          const key = `${res.status} ${message}`;
          burst.refused[key] = (burst.refused[key] ?? 0) + 1;
        }
      } catch (error) {
        burst.unanswered++;
        if (burst.errors.length < 5) burst.errors.push((error as Error).message);
      }
    }),
  );
  burst.allAnsweredMs = round(performance.now() - t0);
  if (answerTimes.length) burst.answerMs = summarize(answerTimes.map(round));
  log(`  burst: ${burst.started} started, ${JSON.stringify(burst.refused)} refused, ${burst.unanswered} unanswered in ${burst.allAnsweredMs} ms`);
  // A 201 is only half the promise: each kernel must also work. Checked a few at a time.
  await inBatches(ids, 8, async (id) => {
    let ws: WsTransport | undefined;
    try {
      ws = await client.openChannels(id, framings[0]!, REST_DEADLINE);
      await firstKernelInfo(ws, REST_DEADLINE);
      burst.answeredKernelInfo++;
    } catch (error) {
      if (burst.errors.length < 10) burst.errors.push(`kernel ${id}: ${(error as Error).message}`);
    } finally {
      await ws?.close();
    }
  });
  log(`  burst: ${burst.answeredKernelInfo}/${burst.started} started kernels answered kernel_info`);
  await inBatches(ids, 8, (id) => client.deleteKernel(id, REST_DEADLINE).catch((e: Error) => void result.notes.push(`burst delete: ${e.message}`)));
}

async function inBatches<T>(items: readonly T[], width: number, work: (item: T) => Promise<void>): Promise<void> {
  for (let i = 0; i < items.length; i += width) await Promise.all(items.slice(i, i + width).map(work));
}

interface PeerServer {
  proc: Managed;
  client: GatewayClient;
  command: string;
  readyMs: number;
}

async function startPeer(name: PeerName, venvBin: string, kernelPython: string, nodelayShim: boolean): Promise<PeerServer> {
  const port = await freePort();
  const token = randomBytes(16).toString('hex');
  const [exe, app] =
    name === 'jeg' ? ['jupyter-enterprisegateway', 'EnterpriseGatewayApp'] : ['jupyter-kernelgateway', 'KernelGatewayApp'];
  const argv = [`--${app}.ip=127.0.0.1`, `--${app}.port=${port}`, `--${app}.port_retries=0`];
  const command = `${nodelayShim ? 'PYTHONPATH=<nodelay shim> ' : ''}${exe} ${argv.join(' ')} --${app}.auth_token=***`;
  const env = pythonEnv();
  if (nodelayShim) {
    const shimDir = path.join(runDir, 'nodelay-shim');
    fs.mkdirSync(shimDir, { recursive: true });
    fs.writeFileSync(path.join(shimDir, 'sitecustomize.py'), NODELAY_SHIM);
    env.PYTHONPATH = shimDir;
  }
  const t0 = performance.now();
  const proc = startProcess(name, path.join(venvBin, exe), [...argv, `--${app}.auth_token=${token}`], {
    env,
    logFile: path.join(runDir, `${name}.log`),
    cwd: runDir,
  });
  const client = new GatewayClient({ baseUrl: `http://127.0.0.1:${port}`, token });
  const deadline = Date.now() + SERVER_READY_DEADLINE;
  let last = '';
  for (let attempt = 0; Date.now() < deadline && attempt < 10_000; attempt++) {
    if (hasExited(proc)) throw new Error(`${name} exited (${proc.exitCode()}) before it was ready:\n${tailOf(proc.logFile)}`);
    try {
      const res = await client.kernelspecs(2_000);
      if (res.status === 200) {
        const readyMs = performance.now() - t0;
        const spec = (res.json as { kernelspecs?: Record<string, { spec?: { argv?: string[] } }> }).kernelspecs?.python3;
        if (spec?.spec?.argv?.[0] !== kernelPython) {
          throw new Error(`${name}'s python3 kernelspec is not the bench's kernel venv: ${JSON.stringify(spec?.spec?.argv)}`);
        }
        return { proc, client, command, readyMs };
      }
      last = `HTTP ${res.status}`;
    } catch (error) {
      if ((error as Error).message.includes('kernelspec is not')) {
        await stopProcess(proc);
        throw error;
      }
      last = (error as Error).message;
    }
    await sleep(200);
  }
  await stopProcess(proc);
  throw new Error(`${name} not ready within ${SERVER_READY_DEADLINE} ms (${last}):\n${tailOf(proc.logFile)}`);
}

// --- paired: direct and Atrium side by side ---

interface PairedResult {
  /** kernels on their own CPU, the bench and the portal on another (--pin) */
  pinned: boolean;
  rounds: number;
  block: number;
  framing: WsFraming;
  /** per code: both transports' summaries, the ratio of the medians, and the median of the per-round ratios */
  execute: Record<string, { direct: Summary; atrium: Summary; ratioOfMedians: number; medianRoundRatio: number; samplesMs: { direct: number[]; atrium: number[] }; timeline: { direct: TimelineMedians; atrium: TimelineMedians } }>;
  /**
   * Kernel starts taking turns (not pinned: a new kernel starts wherever the OS puts it): direct and atrium, and
   * JEG when it is among the targets (its server runs for these rounds only). ratioOfMedians: atrium / direct.
   */
  start?: { rounds: number; direct: Summary; atrium: Summary; jeg?: Summary; ratioOfMedians: number; samplesMs: Record<string, number[]> };
  loadAvg: { before: number; after: number };
}

/**
 * Where an execute's time goes, medians in ms, from the kernel's own stamps (see ExecuteTimeline): the way in (send →
 * the kernel stamps busy), the kernel (busy → idle stamped), and the way out of the idle and of the reply (stamped →
 * arrived). Atrium's minus direct's is the hop's share of each.
 */
interface TimelineMedians {
  wayIn: number;
  kernel: number;
  idleWayOut: number;
  replyWayOut: number;
}

function timelineMedians(timelines: ExecuteTimeline[]): TimelineMedians {
  const median = (pick: (t: ExecuteTimeline) => number | undefined) =>
    round(summarize(timelines.map(pick).filter((x): x is number => x !== undefined && Number.isFinite(x))).p50);
  return {
    wayIn: median((t) => t.busy && t.busy.stampedAt - t.sentAt),
    kernel: median((t) => t.busy && t.idle && t.idle.stampedAt - t.busy.stampedAt),
    idleWayOut: median((t) => t.idle && t.idle.arrivedAt - t.idle.stampedAt),
    replyWayOut: median((t) => t.reply && t.reply.arrivedAt - t.reply.stampedAt),
  };
}

/** A gateway's kernel start as a client sees it: POST, WebSocket, first kernel_info_reply; the kernel is deleted. */
async function gatewayStartMs(client: GatewayClient, kernelName: string, framing: WsFraming): Promise<number> {
  const t0 = performance.now();
  const kernelId = await client.startKernel(kernelName, START_DEADLINE);
  let ws: WsTransport | undefined;
  try {
    ws = await client.openChannels(kernelId, framing, START_DEADLINE);
    return (await firstKernelInfo(ws, START_DEADLINE, t0)).ms;
  } finally {
    await ws?.close();
    await client.deleteKernel(kernelId, REST_DEADLINE);
  }
}

/**
 * Kernel starts side by side: a direct spawn, an Atrium start and (given) a JEG start take turns, every order
 * position equally often, each kernel stopped before the next start, so all see the same machine.
 */
async function pairedStarts(
  kernelPython: string,
  client: GatewayClient,
  kernelName: string,
  framing: WsFraming,
  rounds: number,
  jeg?: GatewayClient,
): Promise<NonNullable<PairedResult['start']>> {
  const starters: Record<string, (round: number) => Promise<number>> = {
    direct: async (r) => {
      const started = await startDirectKernel(kernelPython, 200 + r);
      await stopDirectKernel(started.kernel);
      return started.ms;
    },
    atrium: () => gatewayStartMs(client, kernelName, framing),
    ...(jeg && { jeg: () => gatewayStartMs(jeg, 'python3', framing) }),
  };
  const names = Object.keys(starters);
  const samples: Record<string, number[]> = Object.fromEntries(names.map((n) => [n, []]));
  for (let r = 0; r < rounds; r++) {
    // rotate the order each round, and reverse it every other pass: each target takes each position
    const rotated = names.map((_, i) => names[(i + r) % names.length]!);
    for (const name of Math.floor(r / names.length) % 2 ? rotated.reverse() : rotated) samples[name]!.push(round(await starters[name]!(r)));
  }
  const summaries = Object.fromEntries(names.map((n) => [n, summarize(samples[n]!)]));
  const direct = summaries.direct!;
  const atrium = summaries.atrium!;
  log(`  paired starts: ${names.map((n) => `${n} p50 ${summaries[n]!.p50.toFixed(0)} ms`).join(', ')} → atrium ${(atrium.p50 / direct.p50).toFixed(2)}x direct`);
  return { rounds, direct, atrium, ...(summaries.jeg && { jeg: summaries.jeg }), ratioOfMedians: round(atrium.p50 / direct.p50), samplesMs: samples };
}

async function runPaired(kernelPython: string, client: GatewayClient, kernelName: string, pinned: boolean, startJeg?: () => Promise<PeerServer>): Promise<PairedResult> {
  const framing = framings[0]!;
  const result: PairedResult = { pinned, rounds: pairedRounds, block: pairedBlock, framing, execute: {}, loadAvg: { before: round(os.loadavg()[0]!), after: NaN } };
  log(`paired${pinned ? ' (pinned)' : ''}: direct and atrium (ws ${framing}) side by side, ${pairedRounds} rounds of ${pairedBlock}, ABBA`);
  const direct = (await startDirectKernel(kernelPython, pinned ? 98 : 99)).kernel;
  let kernelId: string | undefined;
  let ws: WsTransport | undefined;
  try {
    kernelId = await client.startKernel(kernelName, START_DEADLINE);
    ws = await client.openChannels(kernelId, framing, START_DEADLINE);
    await firstKernelInfo(ws, START_DEADLINE);
    if (!pinned && starts > 1) {
      const peer = startJeg ? await startJeg() : undefined;
      try {
        result.start = await pairedStarts(kernelPython, client, kernelName, framing, Math.max(starts, 6), peer?.client);
      } finally {
        if (peer) await stopProcess(peer.proc); // its kernels were each deleted after their start
      }
    }
    if (pinned) log(`  pinned: ${pinProcesses().join('; ')}`);
    const transports = { direct: direct.transport as MessageTransport, atrium: ws as MessageTransport };
    for (const code of EXECUTE_CODES) {
      for (const t of Object.values(transports)) for (let i = 0; i < warmup; i++) await execute(t, code, EXEC_DEADLINE, EXEC_METADATA);
      const samples = { direct: [] as number[], atrium: [] as number[] };
      const timelines = { direct: [] as ExecuteTimeline[], atrium: [] as ExecuteTimeline[] };
      const roundRatios: number[] = [];
      for (let r = 0; r < pairedRounds; r++) {
        const order = r % 2 === 0 ? (['direct', 'atrium'] as const) : (['atrium', 'direct'] as const);
        const roundP50 = { direct: NaN, atrium: NaN };
        for (const name of order) {
          const block: number[] = [];
          for (let i = 0; i < pairedBlock; i++) {
            const outcome = await execute(transports[name], code, EXEC_DEADLINE, EXEC_METADATA, true);
            block.push(outcome.elapsedMs);
            if (outcome.timeline) timelines[name].push(outcome.timeline);
          }
          samples[name].push(...block);
          roundP50[name] = summarize(block).p50;
        }
        roundRatios.push(roundP50.atrium / roundP50.direct);
      }
      const d = summarize(samples.direct);
      const a = summarize(samples.atrium);
      const hundredths = (xs: number[]) => xs.map((x) => Math.round(x * 100) / 100);
      result.execute[code] = {
        direct: d,
        atrium: a,
        ratioOfMedians: round(a.p50 / d.p50),
        medianRoundRatio: round(summarize(roundRatios).p50),
        samplesMs: { direct: hundredths(samples.direct), atrium: hundredths(samples.atrium) },
        timeline: { direct: timelineMedians(timelines.direct), atrium: timelineMedians(timelines.atrium) },
      };
      const tl = result.execute[code]!.timeline;
      log(`  paired ${code} timeline (direct / atrium ms): way in ${tl.direct.wayIn} / ${tl.atrium.wayIn}, kernel ${tl.direct.kernel} / ${tl.atrium.kernel}, idle's way out ${tl.direct.idleWayOut} / ${tl.atrium.idleWayOut}, reply's way out ${tl.direct.replyWayOut} / ${tl.atrium.replyWayOut}`);
      log(`  paired ${code}: direct p50 ${d.p50.toFixed(2)} ms, atrium p50 ${a.p50.toFixed(2)} ms → ${(a.p50 / d.p50).toFixed(2)}x (median of round ratios ${summarize(roundRatios).p50.toFixed(2)}x)`);
    }
  } finally {
    await ws?.close();
    if (kernelId) await client.deleteKernel(kernelId, REST_DEADLINE).catch((e: Error) => log(`  paired: delete failed: ${e.message}`));
    await stopDirectKernel(direct);
    if (pinned) unpinProcesses();
    result.loadAvg.after = round(os.loadavg()[0]!);
  }
  return result;
}

/** Every process whose command line matches, by pid. */
function processesMatching(pattern: RegExp): number[] {
  const pids: number[] = [];
  for (const entry of fs.readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      if (pattern.test(fs.readFileSync(`/proc/${entry}/cmdline`, 'utf8').replaceAll('\0', ' '))) pids.push(Number(entry));
    } catch {
      // gone meanwhile
    }
  }
  return pids;
}

function descendsFrom(pid: number, ancestor: number): boolean {
  for (let p = pid, depth = 0; p > 1 && depth < 32; depth++) {
    if (p === ancestor) return true;
    try {
      // /proc/<pid>/stat: "pid (comm) state ppid ..."; comm may contain spaces, so read after the last ')'
      const stat = fs.readFileSync(`/proc/${p}/stat`, 'utf8');
      p = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
    } catch {
      return false;
    }
  }
  return false;
}

const KERNEL_PROCESS = /ipykernel/;
const GATEWAY_PROCESS = /atrium\.mjs start/;

function setAffinity(pid: number, cpus: string): void {
  execFileSync('taskset', ['-a', '-pc', cpus, String(pid)], { stdio: 'ignore', timeout: 5_000 });
}

/** Kernels on the last CPU; this bench and the portal on CPU 0. Returns what was pinned, for the log. */
function pinProcesses(): string[] {
  const last = os.availableParallelism() - 1;
  if (last < 1) throw new Error('--pin needs at least 2 CPUs');
  const others = [process.pid, ...processesMatching(GATEWAY_PROCESS)];
  // only this bench's and this portal's kernels, not whatever else runs on the machine
  const kernels = processesMatching(KERNEL_PROCESS).filter((pid) => others.some((ancestor) => descendsFrom(pid, ancestor)));
  for (const pid of kernels) setAffinity(pid, String(last));
  for (const pid of others) setAffinity(pid, '0');
  return [`kernels ${kernels.join(',')} → CPU ${last}`, `bench and portal ${others.join(',')} → CPU 0`];
}

function unpinProcesses(): void {
  const all = `0-${os.availableParallelism() - 1}`;
  for (const pid of [process.pid, ...processesMatching(GATEWAY_PROCESS)]) setAffinity(pid, all);
}

function pairedTable(p: PairedResult): string {
  const rows = Object.entries(p.execute).map(
    ([code, e]) =>
      `| \`${code}\` | ${fmt(e.direct.p50)} / ${fmt(e.direct.p90)} / ${fmt(e.direct.p99)} | ${fmt(e.atrium.p50)} / ${fmt(e.atrium.p90)} / ${fmt(e.atrium.p99)} | ${e.ratioOfMedians.toFixed(2)}x | ${e.medianRoundRatio.toFixed(2)}x |`,
  );
  return [
    `Paired${p.pinned ? ', pinned (kernels on their own CPU, bench and portal on CPU 0)' : ''} (${p.rounds} rounds × ${p.block} executes each, ABBA; atrium over ws ${p.framing}; load ${p.loadAvg.before}→${p.loadAvg.after}):`,
    '',
    '| code | direct p50 / p90 / p99 ms | atrium p50 / p90 / p99 ms | ×direct (medians) | ×direct (median of rounds) |',
    '|---|---|---|---|---|',
    ...rows,
    '',
    "Where the time goes, from the kernel's own stamps (medians, ms, direct / atrium; the hop's share is the difference):",
    '',
    '| code | way in (send → busy stamped) | kernel (busy → idle stamped) | idle: stamped → arrived | reply: stamped → arrived |',
    '|---|---|---|---|---|',
    ...Object.entries(p.execute).map(([code, e]) => {
      const cell = (pick: (t: TimelineMedians) => number) => `${fmt(pick(e.timeline.direct))} / ${fmt(pick(e.timeline.atrium))}`;
      return `| \`${code}\` | ${cell((t) => t.wayIn)} | ${cell((t) => t.kernel)} | ${cell((t) => t.idleWayOut)} | ${cell((t) => t.replyWayOut)} |`;
    }),
    ...(p.start
      ? [
          '',
          `Kernel start side by side (${p.start.rounds} rounds taking turns; direct: spawn → first kernel_info_reply; gateways: POST → WebSocket → first kernel_info_reply): direct p50 ${fmt(p.start.direct.p50, 0)} ms (${fmt(p.start.direct.min, 0)}–${fmt(p.start.direct.max, 0)}), atrium p50 ${fmt(p.start.atrium.p50, 0)} ms (${fmt(p.start.atrium.min, 0)}–${fmt(p.start.atrium.max, 0)}), ${p.start.ratioOfMedians.toFixed(2)}x` +
            (p.start.jeg ? `; jeg p50 ${fmt(p.start.jeg.p50, 0)} ms (${fmt(p.start.jeg.min, 0)}–${fmt(p.start.jeg.max, 0)}), ${ratio(p.start.jeg.p50, p.start.direct.p50)}.` : '.'),
        ]
      : []),
  ].join('\n');
}

// --- report ---

function fmt(x: number | undefined, digits = 2): string {
  return x === undefined || Number.isNaN(x) ? '–' : x.toFixed(digits);
}

function ratio(a: number | undefined, b: number | undefined): string {
  return a === undefined || b === undefined || !b ? '–' : `${(a / b).toFixed(2)}x`;
}

function table(results: TargetResult[]): string {
  const direct = results.find((r) => r.target === 'direct')?.variants[0];
  const directStart = results.find((r) => r.target === 'direct')?.start?.p50;
  const header = [
    'target',
    'transport',
    '`x = 1` p50 / p90 / p99 ms',
    '×direct',
    '`1+1` p50 / p90 / p99 ms',
    '×direct',
    '`print(i)` MB/s (lines recv)',
    '×direct',
    '100-char lines MB/s (lines recv)',
    '×direct',
    'start p50 (min–max) ms',
    '×direct',
  ];
  const rows: string[][] = [];
  for (const r of results) {
    if (r.skipped || r.error) {
      rows.push([r.target, r.skipped ? `skipped: ${r.skipped}` : `FAILED: ${r.error!.split('\n')[0]}`, ...header.slice(2).map(() => '')]);
      continue;
    }
    r.variants.forEach((v, i) => {
      const e = (code: string) => v.execute[code];
      const o = (name: string) => v.output[name];
      const lat = (code: string) => {
        const s = e(code);
        return s ? `${fmt(s.p50)} / ${fmt(s.p90)} / ${fmt(s.p99)}` : '–';
      };
      const thr = (name: string) => {
        const s = o(name);
        if (!s) return '–';
        const lost = s.maxLinesDropped > 0 ? ` **${s.maxLinesDropped} lost**` : '';
        return `${fmt(s.mbPerSec)} (${s.minLinesReceived}/${s.expectedLines}${lost})`;
      };
      const start = r.start && i === 0 ? `${fmt(r.start.p50, 0)} (${fmt(r.start.min, 0)}–${fmt(r.start.max, 0)})` : '';
      rows.push([
        r.target,
        v.transport,
        lat('x = 1'),
        ratio(e('x = 1')?.p50, direct?.execute['x = 1']?.p50),
        lat('1+1'),
        ratio(e('1+1')?.p50, direct?.execute['1+1']?.p50),
        thr('print(i)'),
        ratio(o('print(i)')?.mbPerSec, direct?.output['print(i)']?.mbPerSec),
        thr('100-char lines'),
        ratio(o('100-char lines')?.mbPerSec, direct?.output['100-char lines']?.mbPerSec),
        start,
        r.start && i === 0 ? ratio(r.start.p50, directStart) : '',
      ]);
    });
  }
  const lines = [
    `| ${header.join(' | ')} |`,
    `|${header.map(() => '---').join('|')}|`,
    ...rows.map((row) => `| ${row.join(' | ')} |`),
  ];
  const bursts = results.filter((r) => r.burst);
  if (bursts.length) {
    lines.push('', '| target | starts sent at once | 201 | refused (status message) | unanswered | started kernels answering | answer p50 / max ms | all answered ms |', '|---|---|---|---|---|---|---|---|');
    for (const r of bursts) {
      const b = r.burst!;
      const refused = Object.entries(b.refused).map(([k, v]) => `${v}× ${k}`).join('; ') || '0';
      const answer = b.answerMs ? `${fmt(b.answerMs.p50, 0)} / ${fmt(b.answerMs.max, 0)}` : '–';
      lines.push(`| ${r.target} | ${b.requests} | ${b.started} | ${refused} | ${b.unanswered} | ${b.answeredKernelInfo}/${b.started} | ${answer} | ${fmt(b.allAnsweredMs, 0)} |`);
    }
  }
  return lines.join('\n');
}

// --- main ---

async function cleanup(): Promise<void> {
  await stopAll();
  const swept = sweepByMarker(runDir);
  if (swept.length) log(`killed ${swept.length} leftover process(es) started under ${runDir}:\n  ${swept.join('\n  ')}`);
}

for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.once(signal, () => {
    log(`${signal}: stopping everything the bench started`);
    void cleanup().finally(() => process.exit(130));
  });
}

async function main(): Promise<void> {
  log(`run dir ${runDir}`);
  const setup = ensureBenchVenvs({ log: (m: string) => log(`setup: ${m}`) });
  const kernelPython = setup.venvs.kernel!.python;
  writeKernelspec(kernelPython);
  const require = createRequire(import.meta.url);
  const machine = {
    nproc: os.availableParallelism(),
    cpu: os.cpus()[0]?.model,
    memGiB: round(os.totalmem() / 2 ** 30),
    os: `${os.type()} ${os.release()}`,
    node: process.version,
    zeromqJs: (require('zeromq/package.json') as { version: string }).version,
    ws: (require('ws/package.json') as { version: string }).version,
    kernelVenv: pyPackages(kernelPython, ['ipykernel', 'ipython', 'jupyter_client', 'pyzmq', 'tornado']),
  };
  log(`machine: ${JSON.stringify(machine)}`);

  const results: TargetResult[] = [];
  for (const target of targets) {
    const result: TargetResult = { target, variants: [], notes: [], loadAvg: { before: round(os.loadavg()[0]!), after: NaN } };
    results.push(result);
    log(`target ${target} (load average ${os.loadavg().map((l) => l.toFixed(2)).join(' ')})`);
    let server: PeerServer | undefined;
    try {
      if (target === 'direct') {
        await runDirect(result, kernelPython);
      } else if (target === 'atrium') {
        if (!args['atrium-url'] || !args['atrium-token']) {
          result.skipped = 'no --atrium-url/--atrium-token given (the bench never starts Atrium)';
          log(`  ${result.skipped}`);
          continue;
        }
        result.notes.push(`kernelspec "${args['atrium-kernel']}" as configured in Atrium; compare kernel.implementation_version with direct`);
        const client = new GatewayClient({ baseUrl: args['atrium-url'], token: args['atrium-token'] });
        await runGateway(result, client, args['atrium-kernel']!);
        if (concurrent) await runBurst(result, client, args['atrium-kernel']!, concurrent);
      } else {
        const peer = target.split('-')[0] as PeerName;
        const nodelayShim = target.endsWith('-nodelay');
        if (nodelayShim) result.notes.push('diagnostic: stock server plus a shim that keeps TCP_NODELAY on (not what users run)');
        const venv = setup.venvs[peer]!;
        server = await startPeer(peer, venv.bin, kernelPython, nodelayShim);
        const versions = pyPackages(venv.python, [
          peer === 'jeg' ? 'jupyter_enterprise_gateway' : 'jupyter_kernel_gateway',
          'jupyter_server',
          'jupyter_client',
          'tornado',
          'pyzmq',
        ]);
        result.server = { command: server.command, readyMs: round(server.readyMs), versions };
        log(`  ${target} ready in ${server.readyMs.toFixed(0)} ms: ${JSON.stringify(versions)}`);
        await runGateway(result, server.client, 'python3');
        if (concurrent) await runBurst(result, server.client, 'python3', concurrent);
      }
      const impl = result.kernel?.implementation_version;
      const directImpl = results[0]?.kernel?.implementation_version;
      if (directImpl && impl && impl !== directImpl) result.notes.push(`kernel ipykernel ${String(impl)} differs from direct's ${String(directImpl)}`);
    } catch (error) {
      failed = true;
      result.error = (error as Error).stack ?? String(error);
      log(`  ${target} FAILED: ${result.error}`);
    } finally {
      result.loadAvg!.after = round(os.loadavg()[0]!);
      if (server) {
        await stopProcess(server.proc);
        const swept = sweepByMarker(runDir);
        if (swept.length) result.notes.push(`${swept.length} kernel process(es) outlived the server and were killed by pid`);
      }
    }
  }

  const paired: PairedResult[] = [];
  if (pairedRounds > 0) {
    if (!args['atrium-url'] || !args['atrium-token']) throw new Error('--paired needs --atrium-url and --atrium-token');
    const client = new GatewayClient({ baseUrl: args['atrium-url'], token: args['atrium-token'] });
    for (const pinned of args.pin ? [false, true] : [false]) {
      try {
        // JEG, when it is a target, takes its turn in the paired starts (its server runs for those rounds only)
        const startJeg = targets.includes('jeg') ? () => startPeer('jeg', setup.venvs.jeg!.bin, kernelPython, false) : undefined;
        paired.push(await runPaired(kernelPython, client, args['atrium-kernel']!, pinned, startJeg));
      } catch (error) {
        failed = true;
        log(`paired FAILED: ${(error as Error).stack ?? String(error)}`);
      }
    }
  }

  const report = {
    date: new Date().toISOString(),
    command: commandLine,
    machine,
    config: { targets, iterations, warmup, starts, lines, outputReps, framings, concurrent, pairedRounds, pairedBlock, pin: args.pin, tagCells: args['tag-cells'], executeCodes: EXECUTE_CODES },
    definitions: {
      execute: 'send execute_request → both execute_reply (shell) and status idle (iopub) received; ms',
      output: 'send → reply and idle; MB/s = stdout stream text bytes received / elapsed (median rep by time)',
      start: 'POST /api/kernels (direct: spawn of ipykernel) → first kernel_info_reply on the client socket; ms',
    },
    results,
    paired,
    table: [table(results), ...paired.map(pairedTable)].join('\n\n'),
  };
  fs.mkdirSync(path.dirname(outFile), { recursive: true });
  // Sample arrays on one line each: thousands of numbers are data, not lines to read.
  const json = JSON.stringify(report, null, 2).replace(/\[\s+(-?[\d.e+]+(?:,\s+-?[\d.e+]+)*)\s+\]/g, (_, numbers: string) => `[${numbers.split(/,\s+/).join(', ')}]`);
  fs.writeFileSync(outFile, json + '\n');
  console.log(`\n${commandLine}\n${report.date} · nproc ${machine.nproc} · node ${machine.node} · python ${machine.kernelVenv.python} · ipykernel ${machine.kernelVenv.ipykernel}\n`);
  console.log(report.table);
  for (const r of results) for (const note of r.notes) console.log(`- ${r.target}: ${note}`);
  const loads = results.filter((r) => r.loadAvg && !r.skipped).map((r) => `${r.target} ${r.loadAvg!.before}→${r.loadAvg!.after}`);
  console.log(`- 1-min load average per target (nproc ${machine.nproc}; above ~1 means other work competed): ${loads.join(', ')}`);
  console.log(`\nJSON: ${path.relative(process.cwd(), outFile)}`);
}

try {
  await main();
} catch (error) {
  failed = true;
  log(`FAILED: ${(error as Error).stack ?? String(error)}`);
} finally {
  await cleanup();
  if (args['keep-run-dir'] || failed) log(`logs kept in ${runDir}`);
  else fs.rmSync(runDir, { recursive: true, force: true });
}
process.exit(failed ? 1 : 0);
