// Scale bench (DESIGN budget "500 live kernels and 1,000 WebSocket clients on one replica, memory per idle
// kernel reported"): what one Atrium process spends per live kernel and per WebSocket client, and whether
// every client still gets its kernel's output when many are open.
//
//   bash bench/run-scale-bench.sh [--kernels 100] [--clients 1000] [--start-width 10] [--out FILE]
//   (or: node --import tsx bench/scale-bench.ts --atrium-url URL --atrium-token T --atrium-pid PID ...)
//
// Steps, on the portal given (its process id is read for RSS from /proc):
//   1. baseline: one kernel started and stopped (warms code paths), then the portal's memory;
//   2. --kernels kernels started through POST /api/kernels, --start-width at a time, each checked with a
//      kernel_info over its WebSocket (then that socket is closed); memory once all are idle → per kernel;
//      the kernels' own processes are summed from /proc too (they live elsewhere in production: YARN, pods);
//   3. --clients WebSockets spread evenly over the kernels; memory → per client;
//   4. broadcast: on every kernel one client runs print(); every client of that kernel must receive the
//      line (iopub goes to all); time until all have it; GET /api/kernels time with everything open;
//   5. everything closed and deleted; RSS again.
// The portal's memory is read two ways: its RSS (settled), and, with --inspect-port (run-scale-bench.sh starts the
// portal with its inspector on loopback), V8's live heap and external memory after full garbage collections
// (bench/lib/inspector.ts): RSS moves by hundreds of MiB on its own, the live heap does not.
// The kernels are local ipykernels here (~36 MB private each), so --kernels is bounded by this machine's memory,
// not by Atrium.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { PortalInspector, type PortalMemory } from './lib/inspector';
import { GatewayClient, type WsTransport } from './lib/transport';
import { firstKernelInfo, summarize } from './lib/workloads';

const here = path.dirname(fileURLToPath(import.meta.url));
const { values: args } = parseArgs({
  options: {
    'atrium-url': { type: 'string' },
    'atrium-token': { type: 'string' },
    'atrium-pid': { type: 'string' },
    'atrium-kernel': { type: 'string', default: 'python3' },
    'inspect-port': { type: 'string' },
    kernels: { type: 'string', default: '100' },
    clients: { type: 'string', default: '1000' },
    'start-width': { type: 'string', default: '10' },
    out: { type: 'string' },
  },
});
const need = (name: string) => {
  const value = args[name as keyof typeof args];
  if (typeof value !== 'string' || !value) throw new Error(`--${name} is required (bench/run-scale-bench.sh passes it)`);
  return value;
};
const count = (name: string, max: number) => {
  const n = Number(args[name as keyof typeof args]);
  if (!Number.isInteger(n) || n < 1 || n > max) throw new Error(`--${name} must be an integer in 1..${max}`);
  return n;
};
const client = new GatewayClient({ baseUrl: need('atrium-url'), token: need('atrium-token') });
const portalPid = Number(need('atrium-pid'));
const kernelName = args['atrium-kernel']!;
const kernelCount = count('kernels', 2000);
const clientCount = count('clients', 20000);
const startWidth = count('start-width', 200);
const outFile = path.resolve(args.out ?? path.join(here, 'results', `scale-${new Date().toISOString().slice(0, 10)}.json`));

const DEADLINE = 120_000;
const log = (message: string) => console.error(`[scale ${new Date().toISOString().slice(11, 19)}] ${message}`);
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
const mib = (bytes: number) => Math.round((bytes / 2 ** 20) * 10) / 10;

/** Resident memory of a process, bytes (VmRSS). */
function rss(pid: number): number {
  const status = fs.readFileSync(`/proc/${pid}/status`, 'utf8');
  const kb = Number(/^VmRSS:\s+(\d+) kB/m.exec(status)?.[1]);
  if (!Number.isFinite(kb)) throw new Error(`no VmRSS for pid ${pid}`);
  return kb * 1024;
}

/** Memory only this process holds (Private_Clean + Private_Dirty: shared libraries not counted), bytes. */
function privateBytes(pid: number): number {
  const rollup = fs.readFileSync(`/proc/${pid}/smaps_rollup`, 'utf8');
  const kb = (field: string) => Number(new RegExp(`^${field}:\\s+(\\d+) kB`, 'm').exec(rollup)?.[1] ?? 0);
  return (kb('Private_Clean') + kb('Private_Dirty')) * 1024;
}

/** RSS and private memory of the portal's descendants (its local kernels), bytes, and how many there are. */
function descendantsRss(root: number): { bytes: number; privateBytes: number; processes: number } {
  const children = new Map<number, number[]>();
  for (const entry of fs.readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = fs.readFileSync(`/proc/${entry}/stat`, 'utf8');
      const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
      children.set(ppid, [...(children.get(ppid) ?? []), Number(entry)]);
    } catch {
      // exited meanwhile
    }
  }
  let bytes = 0;
  let privateTotal = 0;
  let processes = 0;
  const stack = [...(children.get(root) ?? [])];
  while (stack.length) {
    const pid = stack.pop()!;
    try {
      bytes += rss(pid);
      privateTotal += privateBytes(pid);
      processes++;
    } catch {
      // exited meanwhile
    }
    stack.push(...(children.get(pid) ?? []));
  }
  return { bytes, privateBytes: privateTotal, processes };
}

/** The portal's RSS once it has settled (median of a few reads a moment apart). */
async function settledRss(): Promise<number> {
  await sleep(3_000);
  const reads: number[] = [];
  for (let i = 0; i < 5; i++) {
    reads.push(rss(portalPid));
    await sleep(300);
  }
  return reads.sort((a, b) => a - b)[2]!;
}

const inspectPort = args['inspect-port'] ? Number(args['inspect-port']) : undefined;
let inspector: PortalInspector | undefined;

/** The portal's memory after full collections (undefined without --inspect-port). */
async function liveMemory(): Promise<PortalMemory | undefined> {
  if (inspectPort === undefined) return undefined;
  inspector ??= await PortalInspector.connect(inspectPort);
  return inspector.memoryAfterGc();
}

const memoryMiB = (m: PortalMemory | undefined) => m && { heapUsed: mib(m.heapUsed), external: mib(m.external), arrayBuffers: mib(m.arrayBuffers), rss: mib(m.rss) };
/** Per item, KiB, from two readings after collections. */
const perItemKiB = (from: PortalMemory | undefined, to: PortalMemory | undefined, items: number) =>
  from && to && { heapUsed: Math.round((to.heapUsed - from.heapUsed) / items / 1024), external: Math.round((to.external - from.external) / items / 1024), rss: Math.round((to.rss - from.rss) / items / 1024) };

/** `width` at a time; a batch always settles completely (a failed start must not leave its neighbours' kernels untracked). */
async function inBatches<T, R>(items: readonly T[], width: number, work: (item: T, index: number) => Promise<R>): Promise<R[]> {
  const results: R[] = [];
  for (let i = 0; i < items.length; i += width) {
    const settled = await Promise.allSettled(items.slice(i, i + width).map((item, j) => work(item, i + j)));
    const failure = settled.find((r) => r.status === 'rejected');
    if (failure) throw (failure as PromiseRejectedResult).reason;
    results.push(...settled.map((r) => (r as PromiseFulfilledResult<R>).value));
  }
  return results;
}

async function startChecked(): Promise<{ id: string; ms: number }> {
  const t0 = performance.now();
  const id = await client.startKernel(kernelName, DEADLINE);
  const ws = await client.openChannels(id, 'v1', DEADLINE);
  try {
    await firstKernelInfo(ws, DEADLINE);
  } finally {
    await ws.close();
  }
  return { id, ms: performance.now() - t0 };
}

/** Runs print() through the first client of a kernel; resolves when every client of it has the line. */
function broadcast(clients: WsTransport[], marker: string): Promise<number> {
  const t0 = performance.now();
  return new Promise((resolve, reject) => {
    const waiting = new Set(clients);
    const offs = clients.map((c) =>
      c.onMessage((msg) => {
        if (msg.channel === 'iopub' && msg.header.msg_type === 'stream' && String((msg.content as { text?: string }).text).includes(marker)) {
          waiting.delete(c);
          if (waiting.size === 0) finish();
        }
      }),
    );
    const timer = setTimeout(() => finish(new Error(`${waiting.size} of ${clients.length} clients never got "${marker}"`)), DEADLINE);
    function finish(error?: Error) {
      clearTimeout(timer);
      for (const off of offs) off();
      if (error) reject(error);
      else resolve(performance.now() - t0);
    }
    const first = clients[0]!;
    first.send('shell', first.createMessage('execute_request', { code: `print(${JSON.stringify(marker)})`, silent: false, store_history: false, user_expressions: {}, allow_stdin: false, stop_on_error: true }));
  });
}

const report: Record<string, unknown> = { date: new Date().toISOString(), command: `bash bench/run-scale-bench.sh --kernels ${kernelCount} --clients ${clientCount} --start-width ${startWidth}`, nproc: os.availableParallelism(), loadAvg: [] as number[] };
const loads = report.loadAvg as number[];
const ids: string[] = [];
const sockets: WsTransport[] = [];
let failed = false;
try {
  loads.push(os.loadavg()[0]!);
  const warm = await startChecked();
  await client.deleteKernel(warm.id, DEADLINE);
  const baseline = await settledRss();
  const baselineLive = await liveMemory();
  log(`baseline RSS ${mib(baseline)} MiB; after a collection ${JSON.stringify(memoryMiB(baselineLive))}`);

  const t0 = performance.now();
  const starts = await inBatches(Array.from({ length: kernelCount }), startWidth, async () => {
    const started = await startChecked();
    ids.push(started.id);
    return started.ms;
  });
  const startAllMs = performance.now() - t0;
  log(`${ids.length} kernels started and answering in ${(startAllMs / 1000).toFixed(1)} s`);
  const withKernels = await settledRss();
  const withKernelsLive = await liveMemory();
  const kernels = descendantsRss(portalPid);
  log(`RSS with ${ids.length} idle kernels: ${mib(withKernels)} MiB; after a collection ${JSON.stringify(memoryMiB(withKernelsLive))}; the kernels' own processes: ${kernels.processes}, RSS ${mib(kernels.bytes)} MiB, private ${mib(kernels.privateBytes)} MiB`);

  const perKernel = Math.ceil(clientCount / ids.length);
  const t1 = performance.now();
  const opened = await inBatches(Array.from({ length: clientCount }), 50, (_, i) => client.openChannels(ids[i % ids.length]!, i % 2 ? 'legacy' : 'v1', DEADLINE));
  sockets.push(...opened);
  const openAllMs = performance.now() - t1;
  const withClients = await settledRss();
  const withClientsLive = await liveMemory();
  log(`${sockets.length} WebSockets open in ${(openAllMs / 1000).toFixed(1)} s; RSS ${mib(withClients)} MiB; after a collection ${JSON.stringify(memoryMiB(withClientsLive))}`);

  const byKernel = ids.map((_, k) => sockets.filter((__, i) => i % ids.length === k));
  const t2 = performance.now();
  const broadcastMs = await inBatches(byKernel, 10, (clients, k) => broadcast(clients, `atrium-scale-${k}`));
  const broadcastAllMs = performance.now() - t2;
  log(`print() on every kernel reached all ${sockets.length} clients in ${(broadcastAllMs / 1000).toFixed(1)} s`);

  const listMs: number[] = [];
  for (let i = 0; i < 20; i++) {
    const t = performance.now();
    const res = await client.request('GET', 'api/kernels', undefined, DEADLINE);
    if (res.status !== 200 || !Array.isArray(res.json) || res.json.length < ids.length) throw new Error(`GET /api/kernels: ${res.status}, ${Array.isArray(res.json) ? res.json.length : '?'} kernels`);
    listMs.push(performance.now() - t);
  }
  loads.push(os.loadavg()[0]!);

  await inBatches(sockets.splice(0), 100, (s) => s.close());
  await inBatches(ids.splice(0), 10, (id) => client.deleteKernel(id, DEADLINE));
  const after = await settledRss();
  const afterLive = await liveMemory();
  log(`all closed and deleted; RSS ${mib(after)} MiB; after a collection ${JSON.stringify(memoryMiB(afterLive))}`);

  Object.assign(report, {
    kernels: kernelCount,
    clients: sockets.length || clientCount,
    clientsPerKernel: perKernel,
    rssMiB: { baseline: mib(baseline), withKernels: mib(withKernels), withClients: mib(withClients), afterCleanup: mib(after) },
    perIdleKernelKiB: Math.round((withKernels - baseline) / kernelCount / 1024),
    perClientKiB: Math.round((withClients - withKernels) / clientCount / 1024),
    afterCollectionMiB: { baseline: memoryMiB(baselineLive), withKernels: memoryMiB(withKernelsLive), withClients: memoryMiB(withClientsLive), afterCleanup: memoryMiB(afterLive) },
    perIdleKernelAfterCollectionKiB: perItemKiB(baselineLive, withKernelsLive, kernelCount),
    perClientAfterCollectionKiB: perItemKiB(withKernelsLive, withClientsLive, clientCount),
    kernelProcesses: {
      count: kernels.processes,
      totalMiB: mib(kernels.bytes),
      perKernelMiB: mib(kernels.bytes / Math.max(1, kernelCount)),
      privatePerKernelMiB: mib(kernels.privateBytes / Math.max(1, kernelCount)),
    },
    startMs: { ...summarize(starts), all: Math.round(startAllMs), width: startWidth },
    openAllClientsMs: Math.round(openAllMs),
    broadcastMs: { ...summarize(broadcastMs), all: Math.round(broadcastAllMs) },
    listKernelsMs: summarize(listMs),
  });
  console.log(JSON.stringify(report, null, 2));
} catch (error) {
  failed = true;
  log(`FAILED: ${(error as Error).stack ?? error}`);
  report.error = String(error);
} finally {
  await inBatches(sockets, 100, (s) => s.close());
  await inBatches(ids, 10, (id) => client.deleteKernel(id, DEADLINE).catch(() => {}));
  fs.mkdirSync(path.dirname(outFile), { recursive: true });
  inspector?.close();
  fs.writeFileSync(outFile, JSON.stringify(report, null, 2) + '\n');
  log(`JSON: ${path.relative(process.cwd(), outFile)}`);
}
process.exit(failed ? 1 : 0);
