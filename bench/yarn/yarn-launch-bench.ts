// YARN launch benchmark: Atrium's `spark_python_yarn_cluster` kernel against Jupyter Enterprise Gateway 3.3.0's
// own `spark_python_yarn_cluster` kernelspec and launcher, in ONE run, on ONE Hadoop mini cluster.
//
//   bash bench/yarn/run-yarn-bench.sh [--reps 5] [--warmup 1] [--order AJ|JA|ABBA] [--port-offset 7000]
//        [--out FILE] [--keep-work] [--atrium-dir DIR] [--run-deadline-min 100]
//   (= node --import tsx bench/yarn/yarn-launch-bench.ts ...; results: bench/yarn/results/<time>.json)
//
// Per launch, from the moment POST /api/kernels is sent (t0):
//   post        → the gateway answered 201 (both block until their launch step is done, see below)
//   kernel_info → first kernel_info_reply over the channels WebSocket (requests re-sent every 500 ms)
//   `1+1`       → its execute_reply and idle are in: THE launch time (the kernel is usable)
//   Spark       → `spark.range(10**6).count()` answered 1000000: time to the first Spark result
//   spark-submit→ when the gateway's spark-submit process appeared and was gone (/proc, 100 ms poll)
//   RM          → the ResourceManager's own timestamps (startedTime = submitted, launchTime = AM launch sent
//                 to the NodeManager) and what a 250 ms poll of the RM saw first (ACCEPTED, AM host, RUNNING)
//   container   → landmark lines in the AM container's logs (container-logs.ts)
//   Atrium only → its launch phases (the notebook's "submitted → accepted → running → connected"), read every
//                 400 ms from its own status procedure while the POST is pending
//   CPU         → per launch: the gateway's own process, the other (idle) gateway, spark-submit's JVMs (and
//                 how long their threads waited in the run queue), the cluster JVM, this bench, the machine;
//                 plus a census of every process that appeared during the launch
// The targets alternate (A, J, A, J, ...; --warmup pairs first, not counted) so load drifts hit both; the
// 1-minute load average is recorded per launch. After each launch the kernel is deleted through the gateway,
// the application must reach a final state (else it is killed through the RM), and nothing may be live in
// the RM before the next launch; the next launch also waits (bounded) until the previous one's container
// processes have exited. At the end every live application is killed and everything stopped.
// Same for both: cluster, queue (risk), analyst (ana, through --proxy-user: impersonation on for both), driver
// size (Atrium's default "medium": 7372m + 820m overhead, 2 cores), spark-defaults.conf (Spark's jars and
// pyspark's zips referenced in place with local:, nothing uploaded but the app and conf; the venv's Python in
// the AM; 1 small executor; UI off), the Spark venv's Python in the AM, spark-submit from the same SPARK_HOME.
// Atrium runs from a snapshot of the committed tree (git archive HEAD) with a copy of the existing production
// build (.next): `atrium start` rebuilds when any source is newer than .next, and this bench never builds.
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { randomBytes } from 'node:crypto';
import { performance } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { portsWithOffset, sparkSubmitSettings, startHadoopCluster } from '../../e2e/clusters/hadoop/cluster.mjs';
import { ensureHadoop, ensureSparkVenv, javaHome } from '../../e2e/clusters/hadoop/provision.mjs';
import { executeRequestContent, parentMsgId, type ChannelMessage } from '../../server/kernels/protocol/messages';
import { ensureBenchVenvs } from '../setup.mjs';
import { freePort, hasExited, sleep, startProcess, stopProcess, sweepByMarker, tailOf, type Managed } from '../lib/processes';
import { GatewayClient, type WsTransport } from '../lib/transport';
import { firstKernelInfo, summarize, type Summary } from '../lib/workloads';
import { amContainerTimeline, LANDMARKS, type ContainerTimeline } from './container-logs';
import { JEG_VERSION, ensureAmCryptodome, ensureJegSdist, installJegKernelspec } from './jeg-yarn';

const here = path.dirname(fileURLToPath(import.meta.url));
const repoRoot = path.resolve(here, '..', '..');

const { values: opts } = parseArgs({
  options: {
    reps: { type: 'string', default: '5' },
    warmup: { type: 'string', default: '1' },
    'port-offset': { type: 'string', default: '7000' },
    out: { type: 'string' },
    'keep-work': { type: 'boolean', default: false },
    'atrium-dir': { type: 'string' },
    'run-deadline-min': { type: 'string', default: '100' },
    /**
     * AJ (default): A, J, A, J, ...; JA: J, A, J, A, ...; ABBA: A, J, J, A, A, J, ... (each target follows
     * itself half the time and the other half the time: checks that what ran just before does not matter).
     */
    order: { type: 'string', default: 'AJ' },
  },
});
const REPS = Number(opts.reps);
const WARMUP = Number(opts.warmup);
const PORT_OFFSET = Number(opts['port-offset']);
const RUN_DEADLINE_MS = Number(opts['run-deadline-min']) * 60_000;
if (!(REPS >= 1 && WARMUP >= 0 && PORT_OFFSET >= 0)) throw new Error('--reps >= 1, --warmup >= 0, --port-offset >= 0');
if (!['AJ', 'JA', 'ABBA'].includes(opts.order!)) throw new Error('--order AJ, JA or ABBA');
/** The targets of pair i (0-based). */
const pairOf = (i: number): ('atrium' | 'jeg')[] =>
  opts.order === 'JA' || (opts.order === 'ABBA' && i % 2 === 1) ? ['jeg', 'atrium'] : ['atrium', 'jeg'];

const KERNELSPEC = 'spark_python_yarn_cluster';
const ANALYST = 'ana';
const QUEUE = 'risk';
/** Atrium's default size ("medium": 2 vCores, 8192 MB) split as its YARN launcher does (driverResources()). */
const DRIVER = { memoryMb: 7372, overheadMb: 820, cores: 2 };
const LAUNCH_TIMEOUT_S = 240; // both gateways' launch deadline
const POST_DEADLINE = 300_000;
const WS_DEADLINE = 60_000;
const KERNEL_INFO_DEADLINE = 120_000;
const CELL_DEADLINE = 60_000;
const SPARK_DEADLINE = 300_000;
const RM_POLL_MS = 250;
const PHASE_POLL_MS = 400;
const LIVE_STATES = ['NEW', 'NEW_SAVING', 'SUBMITTED', 'ACCEPTED', 'RUNNING'];
const FINAL_STATES = ['FINISHED', 'FAILED', 'KILLED'];
const SPARK_CELL = 'spark.range(10**6).count()';
/** JEG's stock launcher fails to bind `spark` on Spark >= 3.3 (see the report); the session it created is fetched instead. */
const SPARK_CELL_FALLBACK = 'from pyspark.sql import SparkSession\nSparkSession.builder.getOrCreate().range(10**6).count()';
const IDENT_CELL = 'from pyspark.sql import SparkSession as _S\n_c = _S.builder.getOrCreate().sparkContext\nprint(_c.applicationId, _c.sparkUser())';

type Target = 'atrium' | 'jeg';

const runDir = fs.mkdtempSync(path.join(os.tmpdir(), 'atrium-yarn-bench-'));
const runStarted = Date.now();
function log(message: string): void {
  console.error(`[yarn-bench ${new Date().toISOString().slice(11, 19)}] ${message}`);
}
const now = () => performance.now();
const round = (x: number | undefined) => (x === undefined ? undefined : Math.round(x));

// --- small HTTP helpers (RM, WebHDFS) ---

async function http(method: string, url: string, body?: unknown, timeoutMs = 15_000): Promise<{ status: number; json: any; text: string }> {
  const res = await fetch(url, {
    method,
    headers: body === undefined ? {} : { 'content-type': 'application/json' },
    body: body === undefined ? undefined : JSON.stringify(body),
    signal: AbortSignal.timeout(timeoutMs),
  });
  const text = await res.text();
  let json: any;
  try {
    json = JSON.parse(text);
  } catch {}
  return { status: res.status, json, text };
}

interface RmApp {
  id: string;
  user: string;
  name: string;
  queue: string;
  state: string;
  finalStatus: string;
  diagnostics?: string;
  applicationTags?: string;
  amHostHttpAddress?: string;
  startedTime?: number;
  launchTime?: number;
  finishedTime?: number;
  allocatedMB?: number;
  allocatedVCores?: number;
}

class Rm {
  constructor(
    readonly url: string,
    readonly user: string,
  ) {}
  async apps(query: Record<string, string>): Promise<RmApp[]> {
    const q = new URLSearchParams({ ...query, deSelects: 'resourceRequests', 'user.name': this.user });
    const r = await http('GET', `${this.url}/ws/v1/cluster/apps?${q}`, undefined, 10_000);
    if (r.status !== 200) throw new Error(`RM apps: ${r.status} ${r.text.slice(0, 200)}`);
    return r.json?.apps?.app ?? [];
  }
  async app(id: string): Promise<RmApp | undefined> {
    const r = await http('GET', `${this.url}/ws/v1/cluster/apps/${id}?user.name=${this.user}`, undefined, 10_000);
    return r.status === 200 ? r.json?.app : undefined;
  }
  async kill(id: string): Promise<void> {
    await http('PUT', `${this.url}/ws/v1/cluster/apps/${id}/state?user.name=${this.user}`, { state: 'KILLED' }, 15_000).catch(() => undefined);
  }
  live(): Promise<RmApp[]> {
    return this.apps({ states: LIVE_STATES.join(',') });
  }
  /** Kills every live application and waits (bounded) until none is live. Returns what was still live at the end. */
  async killAllLive(deadlineMs = 60_000): Promise<RmApp[]> {
    const end = Date.now() + deadlineMs;
    let live = await this.live().catch(() => [] as RmApp[]);
    while (live.length && Date.now() < end) {
      for (const app of live) await this.kill(app.id);
      await sleep(1_000);
      live = await this.live().catch(() => live);
    }
    return live;
  }
}

/** Polls the RM every 250 ms for the application started after the launch began (one launch at a time here). */
class RmWatcher {
  app: RmApp | undefined;
  readonly firstSeen: Record<string, number> = {};
  amHostSeenMs: number | undefined;
  polls = 0;
  errors = 0;
  private stopped = false;
  private loop: Promise<void> | undefined;

  constructor(
    private readonly rm: Rm,
    private readonly sinceWall: number,
    private readonly t0: number,
  ) {}

  start(): void {
    this.loop = (async () => {
      while (!this.stopped) {
        await this.poll();
        await sleep(RM_POLL_MS);
      }
    })();
  }

  async poll(): Promise<void> {
    this.polls++;
    try {
      const apps = await this.rm.apps({ startedTimeBegin: String(this.sinceWall) });
      const newest = apps.sort((a, b) => (a.id < b.id ? 1 : -1))[0];
      if (!newest) return;
      const at = now() - this.t0;
      this.app = newest;
      this.firstSeen[newest.state] ??= at;
      if (newest.amHostHttpAddress && this.amHostSeenMs === undefined) this.amHostSeenMs = at;
    } catch {
      this.errors++;
    }
  }

  async stop(): Promise<void> {
    this.stopped = true;
    await this.loop;
  }
}

/** Atrium's launch phases, from its status procedure (the notebook page's source), while the POST is pending. */
class AtriumPhaseWatcher {
  readonly phases: { ms: number; state: string; detail: string | null }[] = [];
  kernelId: string | undefined;
  private stopped = false;
  private loop: Promise<void> | undefined;

  constructor(
    private readonly client: GatewayClient,
    private readonly known: Set<string>,
    private readonly t0: number,
  ) {}

  start(): void {
    this.loop = (async () => {
      while (!this.stopped) {
        await this.poll().catch(() => undefined);
        await sleep(PHASE_POLL_MS);
      }
    })();
  }

  private async poll(): Promise<void> {
    if (!this.kernelId) {
      const list = await this.client.request('GET', 'api/kernels', undefined, 5_000);
      const fresh = ((list.json as { id: string }[] | undefined) ?? []).find((k) => !this.known.has(k.id));
      if (!fresh) return;
      this.kernelId = fresh.id;
    }
    const input = encodeURIComponent(JSON.stringify({ json: { id: this.kernelId } }));
    const r = await this.client.request('GET', `api/trpc/kernels.status?input=${input}`, undefined, 5_000);
    const data = (r.json as { result?: { data?: { json?: { state: string; detail: string | null } } } } | undefined)?.result?.data?.json;
    if (!data) return;
    const last = this.phases.at(-1);
    if (!last || last.detail !== data.detail || last.state !== data.state) this.phases.push({ ms: Math.round(now() - this.t0), state: data.state, detail: data.detail });
  }

  async stop(): Promise<void> {
    this.stopped = true;
    await this.loop;
  }
}

const CLK_TCK = 100; // Linux's USER_HZ for /proc/<pid>/stat times
/** A process's own CPU time (utime + stime), ms, or undefined when it is gone. */
function processCpuMs(pid: number): number | undefined {
  try {
    const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return ((Number(fields[11]) + Number(fields[12])) * 1000) / CLK_TCK;
  } catch {
    return undefined;
  }
}

/** Run-queue wait (ms) summed over a process's threads, from /proc/<pid>/task/<tid>/schedstat (cpu, wait, slices). */
function processRunDelayMs(pid: number): number | undefined {
  try {
    let ns = 0;
    for (const tid of fs.readdirSync(`/proc/${pid}/task`)) {
      try {
        ns += Number(fs.readFileSync(`/proc/${pid}/task/${tid}/schedstat`, 'utf8').split(' ')[1] ?? 0);
      } catch {
        // thread gone
      }
    }
    return ns / 1e6;
  } catch {
    return undefined;
  }
}

/** Processes of YARN containers (AM, executors, kernels) still alive: command line or cwd under <work>/yarn/. */
function containerProcesses(clusterWorkDir: string): number[] {
  const marker = path.join(clusterWorkDir, 'yarn') + path.sep;
  const found: number[] = [];
  for (const entry of fs.readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = fs.readFileSync(`/proc/${entry}/stat`, 'utf8');
      if (/^\d+ \(.*\) Z/.test(stat)) continue;
      const cmd = fs.readFileSync(`/proc/${entry}/cmdline`, 'utf8');
      let cwd = '';
      try {
        cwd = fs.readlinkSync(`/proc/${entry}/cwd`);
      } catch {}
      if (cmd.includes(marker) || cwd.startsWith(marker)) found.push(Number(entry));
    } catch {
      // gone
    }
  }
  return found;
}

/**
 * When the gateway spawned spark-submit and when it was gone, from /proc (every 100 ms): splits "submitted"
 * into the gateway's own work before it runs spark-submit and the spark-submit client (bash → Spark's
 * launcher JVM → SparkSubmit JVM → YARN client → exit; waitAppCompletion=false for both). A process counts
 * when its command line names spark-submit or SparkSubmit and this run's directory (both gateways' launcher
 * scripts live under it). New pids are re-read for 2 s: a fresh child shows its parent's command line
 * until it execs.
 */
class ProcWatcher {
  spawnMs: number | undefined;
  goneMs: number | undefined;
  /** CPU (user + system) of the spark-submit processes, last seen: the launcher Main JVM and SparkSubmit JVM. */
  readonly cpuMs = new Map<number, number>();
  /** Time the spark-submit processes' threads spent runnable but waiting for a CPU, last seen. */
  readonly runDelayMs = new Map<number, number>();
  /** The SparkSubmit JVM's arguments (secrets redacted) and environment (names; a few values), for comparing. */
  jvm: { argv: string[]; env: Record<string, string> } | undefined;
  /** Every other process that appeared during the launch (first 30 s): its command and last CPU, to see who competed. */
  readonly census = new Map<number, { cmd: string; cpuMs: number; firstMs: number }>();
  private readonly pids = new Set<number>();
  private readonly young = new Map<number, number>();
  private readonly old = new Set<number>();
  private stopped = false;
  private loop: Promise<void> | undefined;

  constructor(
    private readonly marker: string,
    private readonly t0: number,
  ) {
    // Whatever runs now is not this launch's.
    for (const e of this.list()) this.old.add(e);
  }

  private list(): number[] {
    try {
      return fs.readdirSync('/proc').filter((d) => /^\d+$/.test(d)).map(Number);
    } catch {
      return [];
    }
  }

  private tick(): void {
    const at = now();
    for (const pid of this.list()) {
      if (this.old.has(pid) || this.pids.has(pid)) continue;
      const since = this.young.get(pid) ?? at;
      this.young.set(pid, since);
      let cmd = '';
      try {
        cmd = fs.readFileSync(`/proc/${pid}/cmdline`, 'utf8');
      } catch {
        continue;
      }
      if (!this.census.has(pid) && at - this.t0 < 30_000) this.census.set(pid, { cmd: cmd.replaceAll('\0', ' ').slice(0, 160), cpuMs: 0, firstMs: Math.round(at - this.t0) });
      if (/spark-submit|org\.apache\.spark\.deploy\.SparkSubmit/.test(cmd) && cmd.includes(this.marker)) {
        this.pids.add(pid);
        this.young.delete(pid);
        this.spawnMs ??= at - this.t0;
      } else if (at - since > 2_000) {
        this.young.delete(pid);
        this.old.add(pid);
      }
    }
    if (this.spawnMs !== undefined && this.goneMs === undefined) {
      const alive = [...this.pids].some((pid) => {
        try {
          return !/^\d+ \(.*\) Z/.test(fs.readFileSync(`/proc/${pid}/stat`, 'utf8'));
        } catch {
          return false;
        }
      });
      if (!alive) this.goneMs = at - this.t0;
    }
    for (const [pid, entry] of this.census) {
      const cpu = processCpuMs(pid);
      if (cpu !== undefined) entry.cpuMs = cpu;
      if (entry.cmd.length < 5) {
        try {
          entry.cmd = fs.readFileSync(`/proc/${pid}/cmdline`, 'utf8').replaceAll('\0', ' ').slice(0, 160);
        } catch {}
      }
    }
    for (const pid of this.pids) {
      // A zombie (JEG reaps its spark-submit only when the kernel is deleted) keeps only its dead main
      // thread in /proc/<pid>/task: its numbers are read while it runs, never after.
      let zombie = true;
      try {
        zombie = /^\d+ \(.*\) Z/.test(fs.readFileSync(`/proc/${pid}/stat`, 'utf8'));
      } catch {}
      if (zombie) continue;
      const cpu = processCpuMs(pid);
      if (cpu !== undefined) this.cpuMs.set(pid, cpu);
      const wait = processRunDelayMs(pid);
      if (wait !== undefined) this.runDelayMs.set(pid, wait);
      if (!this.jvm) this.readJvm(pid);
    }
  }

  private readJvm(pid: number): void {
    try {
      const argv = fs.readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0').filter(Boolean);
      if (!argv.includes('org.apache.spark.deploy.SparkSubmit') || argv.includes('org.apache.spark.launcher.Main')) return;
      const keep = /^(SPARK_|PYSPARK_|HADOOP_|YARN_|JAVA_HOME$|HOME$|PATH$|PYTHONPATH$|LANG$|SHELL$|USER$)/;
      const env: Record<string, string> = {};
      for (const kv of fs.readFileSync(`/proc/${pid}/environ`, 'utf8').split('\0').filter(Boolean)) {
        const i = kv.indexOf('=');
        env[kv.slice(0, i)] = keep.test(kv.slice(0, i)) ? kv.slice(i + 1) : '…';
      }
      const redacted = argv.map((a, i) => (/^--(RemoteProcessProxy\.)?(public-key|launch-token)$/.test(argv[i - 1] ?? '') ? '<redacted>' : a));
      this.jvm = { argv: redacted, env };
    } catch {
      // gone or not readable yet
    }
  }

  start(): void {
    this.loop = (async () => {
      const end = now() + 120_000;
      while (!this.stopped && now() < end && (this.goneMs === undefined || now() - this.t0 < 30_000)) {
        this.tick();
        await sleep(100);
      }
    })();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    await this.loop;
  }
}

// --- a cell, with its result text or error ---

interface CellOutcome {
  status: string;
  text: string;
  error?: string;
  ms: number;
}

function runCell(t: WsTransport, code: string, deadlineMs: number): Promise<CellOutcome> {
  const msg = t.createMessage('execute_request', executeRequestContent(code));
  const id = msg.header.msg_id;
  const started = now();
  let text = '';
  let error: string | undefined;
  let status = '';
  let replied = false;
  let idle = false;
  return new Promise((resolve, reject) => {
    const finish = (e?: Error) => {
      clearTimeout(timer);
      off();
      offClose();
      if (e) reject(e);
      else resolve({ status, text: text.trim(), error, ms: now() - started });
    };
    const timer = setTimeout(() => finish(new Error(`cell ${JSON.stringify(code.slice(0, 50))}: no reply within ${deadlineMs} ms`)), deadlineMs);
    const offClose = t.onClose((reason) => finish(new Error(`cell ${JSON.stringify(code.slice(0, 50))}: ${reason}`)));
    const off = t.onMessage((m: ChannelMessage) => {
      if (parentMsgId(m) !== id) return;
      const type = m.header.msg_type;
      if (type === 'stream' && m.content.name === 'stdout') text += String(m.content.text);
      else if (type === 'execute_result') text += String((m.content.data as Record<string, unknown>)['text/plain']);
      else if (type === 'error') error = `${m.content.ename}: ${m.content.evalue}`;
      else if (type === 'status' && m.content.execution_state === 'idle') idle = true;
      else if (m.channel === 'shell' && type === 'execute_reply') {
        replied = true;
        status = String(m.content.status);
        if (!error && m.content.status === 'error') error = `${m.content.ename}: ${m.content.evalue}`;
      }
      if (replied && idle) finish();
    });
    try {
      t.send('shell', msg);
    } catch (e) {
      finish(e as Error);
    }
  });
}

// --- the Atrium build (never built here) ---

function newestSourceMtime(root: string): { ms: number; file: string } {
  let best = { ms: 0, file: '' };
  const walk = (dir: string) => {
    for (const entry of fs.readdirSync(dir, { withFileTypes: true })) {
      if (entry.name.startsWith('.') || entry.name === 'node_modules') continue;
      const full = path.join(dir, entry.name);
      if (entry.isDirectory()) walk(full);
      else if (/\.(tsx?|css|json|mjs)$/.test(entry.name)) {
        const ms = fs.statSync(full).mtimeMs;
        if (ms > best.ms) best = { ms, file: full };
      }
    }
  };
  for (const dir of ['app', 'server', 'db', 'public']) if (fs.existsSync(path.join(root, dir))) walk(path.join(root, dir));
  return best;
}

/**
 * The directory Atrium runs from. Default: `git archive HEAD` of this checkout + a copy of its .next (without
 * the cache and dev folders) + a node_modules link, with the copy's BUILD_ID dated now so `atrium start` serves
 * it as is. The server side (Jupyter API, kernel manager, YARN launcher, Python launcher) runs from the
 * snapshot's sources through tsx, so what is measured is exactly the commit; the .next only serves web pages.
 */
function prepareAtriumDir(): { dir: string; commit: string; buildId: string; buildAt: string; note: string } {
  const nextDir = path.join(repoRoot, '.next');
  const buildIdFile = path.join(nextDir, 'BUILD_ID');
  if (opts['atrium-dir']) {
    const dir = path.resolve(opts['atrium-dir']);
    const id = path.join(dir, '.next', 'BUILD_ID');
    if (!fs.existsSync(id)) throw new Error(`${dir} has no production build (.next/BUILD_ID); this bench never builds.`);
    const newest = newestSourceMtime(dir);
    if (newest.ms > fs.statSync(id).mtimeMs) {
      throw new Error(`${newest.file} is newer than ${id}: \`atrium start\` would rebuild, and this bench never builds. Build first, or leave out --atrium-dir.`);
    }
    return { dir, commit: '(working tree)', buildId: fs.readFileSync(id, 'utf8').trim(), buildAt: fs.statSync(id).mtime.toISOString(), note: 'in place' };
  }
  if (!fs.existsSync(buildIdFile)) {
    throw new Error(`No production build: ${buildIdFile} is missing. This bench never runs \`next build\`; ask whoever builds to run \`node server/cli/atrium.mjs build\` first.`);
  }
  const dir = path.join(runDir, 'atrium');
  fs.mkdirSync(dir, { recursive: true });
  const commit = execFileSync('git', ['-C', repoRoot, 'rev-parse', 'HEAD'], { encoding: 'utf8' }).trim();
  const tar = path.join(runDir, 'atrium-head.tar');
  execFileSync('git', ['-C', repoRoot, 'archive', '--format=tar', '-o', tar, 'HEAD'], { timeout: 120_000 });
  execFileSync('tar', ['-xf', tar, '-C', dir], { timeout: 120_000 });
  fs.rmSync(tar);
  for (let attempt = 1; ; attempt++) {
    const before = fs.readFileSync(buildIdFile, 'utf8');
    const builtAt = fs.statSync(buildIdFile).mtime;
    fs.rmSync(path.join(dir, '.next'), { recursive: true, force: true });
    fs.cpSync(nextDir, path.join(dir, '.next'), {
      recursive: true,
      preserveTimestamps: true,
      filter: (src) => !/[/\\]\.next[/\\](cache|dev)([/\\]|$)/.test(src),
    });
    if (fs.readFileSync(buildIdFile, 'utf8') === before) {
      const copied = path.join(dir, '.next', 'BUILD_ID');
      const t = new Date();
      fs.utimesSync(copied, t, t);
      fs.symlinkSync(path.join(repoRoot, 'node_modules'), path.join(dir, 'node_modules'));
      return { dir, commit, buildId: before.trim(), buildAt: builtAt.toISOString(), note: `git archive ${commit.slice(0, 12)} + copy of .next (BUILD_ID ${before.trim()}, built ${builtAt.toISOString()})` };
    }
    if (attempt >= 3) throw new Error('.next kept changing while it was copied (someone is building): try again when the build is done.');
    log('.next changed while it was copied (a build in progress?): waiting 60 s and copying again');
    execFileSync('sleep', ['60']);
  }
}

// --- servers ---

async function waitFor<T>(what: string, check: () => Promise<T | undefined>, deadlineMs: number, everyMs = 500, proc?: Managed): Promise<T> {
  const end = Date.now() + deadlineMs;
  let lastError = '';
  while (Date.now() < end) {
    if (proc && hasExited(proc)) throw new Error(`${proc.label} exited (${proc.exitCode()}) while waiting for ${what}:\n${tailOf(proc.logFile, 40)}`);
    try {
      const v = await check();
      if (v !== undefined) return v;
    } catch (e) {
      lastError = (e as Error).message;
    }
    await sleep(everyMs);
  }
  throw new Error(`timed out after ${deadlineMs} ms waiting for ${what}${lastError ? ` (${lastError})` : ''}${proc ? `:\n${tailOf(proc.logFile, 40)}` : ''}`);
}

function baseEnv(): Record<string, string | undefined> {
  const env: Record<string, string | undefined> = {};
  for (const [k, v] of Object.entries(process.env)) {
    if (/^(ATRIUM_|EG_|KG_|JUPYTER_|DATABASE_URL$|PORT$|HOST$|PYTHONPATH$|PYTHONHOME$|IPYTHONDIR$|SPARK_|HADOOP_|YARN_|PYSPARK_)/.test(k)) continue;
    env[k] = v;
  }
  return env;
}

// --- one launch ---

interface LaunchResult {
  target: Target;
  rep: number;
  warmup: boolean;
  /** The target launched just before this one (its teardown preceded this launch). */
  after?: Target;
  loadBefore: number;
  loadAfter?: number;
  kernelId?: string;
  appId?: string;
  appUser?: string;
  appQueue?: string;
  /** ms from t0 (POST sent) */
  ms: Record<string, number | undefined>;
  rm?: { polls: number; errors: number; firstSeen: Record<string, number>; finalState?: string; startedTime?: number; launchTime?: number };
  phases?: { ms: number; state: string; detail: string | null }[];
  container?: { rel: Record<string, number>; lines: Record<string, string>; note?: string };
  spark?: { stockCell: { status: string; text: string; error?: string; ms: number }; fallback?: { status: string; text: string; error?: string; ms: number }; ident?: string };
  stop?: { deleteMs?: number; toFinalMs?: number; finalState?: string; killedByBench?: boolean; error?: string };
  /** CPU ms: the gateway process's own and the other gateway's (idle) from POST to `1+1`; the whole machine's; spark-submit's */
  cpu?: {
    gatewayToUsableMs?: number;
    otherGatewayToUsableMs?: number;
    systemToUsableMs?: number;
    clusterToUsableMs?: number;
    benchToUsableMs?: number;
    sparkSubmitMs?: number;
    sparkSubmitRunDelayMs?: number;
  };
  /** Container processes of the previous launch still alive when this one was due, and how long the bench waited. */
  quiesce?: { leftoverProcesses: number; waitedMs: number; stillThere: number };
  submitJvm?: { argv: string[]; env: Record<string, string> };
  /** The processes that appeared during the launch's first 30 s, by CPU. */
  census?: { cmd: string; cpuMs: number; firstMs: number }[];
  error?: string;
}

const delta = (a: number | undefined, b: number | undefined) => (a === undefined || b === undefined ? undefined : Math.round(b - a));

/** CPU time of the whole machine (all cores, non-idle), ms, from /proc/stat. */
function systemCpuMs(): number | undefined {
  try {
    const cpu = fs.readFileSync('/proc/stat', 'utf8').split('\n')[0]!.trim().split(/\s+/).slice(1).map(Number);
    const idle = (cpu[3] ?? 0) + (cpu[4] ?? 0);
    return ((cpu.reduce((a, b) => a + b, 0) - idle) * 1000) / CLK_TCK;
  } catch {
    return undefined;
  }
}

interface Ctx {
  rm: Rm;
  clients: Record<Target, GatewayClient>;
  nodeManagerLogDirs: string;
  /** The gateway server processes (Atrium's node, JEG's python): their own CPU per launch is recorded. */
  gatewayPids: Record<Target, number>;
  clusterWorkDir: string;
  /** The mini cluster's JVM (NameNode, DataNode, RM, NodeManager): its CPU per launch is recorded too. */
  clusterPid: number;
}

async function measureLaunch(ctx: Ctx, target: Target, rep: number, warmup: boolean): Promise<LaunchResult> {
  const client = ctx.clients[target];
  // The previous launch's containers (AM, executor, kernel) may still be exiting after the RM reported the
  // application final: wait (bounded) until none is left, so no launch starts beside the other's teardown.
  const quiesceStart = now();
  const leftover = containerProcesses(ctx.clusterWorkDir).length;
  while (containerProcesses(ctx.clusterWorkDir).length && now() - quiesceStart < 60_000) await sleep(250);
  const quiesce = { leftoverProcesses: leftover, waitedMs: Math.round(now() - quiesceStart), stillThere: containerProcesses(ctx.clusterWorkDir).length };
  const result: LaunchResult = { target, rep, warmup, loadBefore: os.loadavg()[0]!, ms: {}, quiesce };
  const benchCpu0 = process.cpuUsage();
  const known = new Set<string>();
  if (target === 'atrium') {
    const list = await client.request('GET', 'api/kernels', undefined, 10_000);
    for (const k of (list.json as { id: string }[] | undefined) ?? []) known.add(k.id);
  }
  const t0Wall = Date.now();
  const t0 = now();
  const watcher = new RmWatcher(ctx.rm, t0Wall - 1_000, t0);
  watcher.start();
  const phases = target === 'atrium' ? new AtriumPhaseWatcher(client, known, t0) : undefined;
  phases?.start();
  const submitProc = new ProcWatcher(runDir, t0);
  submitProc.start();
  const gatewayCpu0 = processCpuMs(ctx.gatewayPids[target]);
  const cpuOf = (t: Target) => processCpuMs(ctx.gatewayPids[t]);
  const otherCpu0 = cpuOf(target === 'atrium' ? 'jeg' : 'atrium');
  const systemCpu0 = systemCpuMs();
  const clusterCpu0 = processCpuMs(ctx.clusterPid);
  let ws: WsTransport | undefined;
  try {
    const res = await client.request('POST', 'api/kernels', { name: KERNELSPEC, env: { KERNEL_USERNAME: ANALYST } }, POST_DEADLINE);
    result.ms.post = now() - t0;
    const id = (res.json as { id?: string } | undefined)?.id;
    if (res.status !== 201 || !id) throw new Error(`POST /api/kernels answered ${res.status}: ${res.body.slice(0, 500)}`);
    result.kernelId = id;
    await phases?.stop();
    ws = await client.openChannels(id, 'v1', WS_DEADLINE);
    result.ms.wsOpen = now() - t0;
    const info = await firstKernelInfo(ws, KERNEL_INFO_DEADLINE, t0, 500);
    result.ms.kernelInfo = info.ms;
    const two = await runCell(ws, '1+1', CELL_DEADLINE);
    result.ms.exec11 = now() - t0;
    result.cpu = {
      gatewayToUsableMs: delta(gatewayCpu0, cpuOf(target)),
      otherGatewayToUsableMs: delta(otherCpu0, cpuOf(target === 'atrium' ? 'jeg' : 'atrium')),
      systemToUsableMs: delta(systemCpu0, systemCpuMs()),
      clusterToUsableMs: delta(clusterCpu0, processCpuMs(ctx.clusterPid)),
      benchToUsableMs: Math.round((process.cpuUsage(benchCpu0).user + process.cpuUsage(benchCpu0).system) / 1000),
    };
    if (two.status !== 'ok' || two.text !== '2') throw new Error(`1+1 gave ${two.status} ${JSON.stringify(two.text)} ${two.error ?? ''}`);
    const stock = await runCell(ws, SPARK_CELL, SPARK_DEADLINE);
    let fallback: CellOutcome | undefined;
    if (stock.status !== 'ok') fallback = await runCell(ws, SPARK_CELL_FALLBACK, SPARK_DEADLINE);
    result.ms.sparkResult = now() - t0;
    result.ms.sparkCells = stock.ms + (fallback?.ms ?? 0);
    const answer = fallback ?? stock;
    result.spark = { stockCell: stock, fallback };
    if (answer.status !== 'ok' || answer.text !== '1000000') throw new Error(`Spark cell gave ${answer.status} ${JSON.stringify(answer.text)} ${answer.error ?? ''}`);
    const ident = await runCell(ws, IDENT_CELL, CELL_DEADLINE);
    result.spark.ident = ident.text || ident.error;
    // The RM poll has seen RUNNING by now (the driver runs Spark jobs), unless the app ended: one more look.
    await watcher.poll();
  } catch (error) {
    result.error = (error as Error).message;
    log(`  ${target} #${rep}: FAILED: ${result.error.split('\n')[0]}`);
  } finally {
    await phases?.stop();
    await watcher.stop();
    await submitProc.stop();
  }
  result.ms.submitSpawned = submitProc.spawnMs;
  result.ms.submitExited = submitProc.goneMs;
  const sum = (m: Map<number, number>) => Math.round([...m.values()].reduce((a, b) => a + b, 0));
  result.cpu = { ...result.cpu, sparkSubmitMs: sum(submitProc.cpuMs), sparkSubmitRunDelayMs: sum(submitProc.runDelayMs) };
  result.submitJvm = submitProc.jvm;
  result.census = [...submitProc.census.values()].sort((a, b) => b.cpuMs - a.cpuMs).slice(0, 12).map((c) => ({ ...c, cpuMs: Math.round(c.cpuMs) }));
  const app = watcher.app;
  result.phases = phases?.phases;
  if (app) {
    result.appId = app.id;
    result.appUser = app.user;
    result.appQueue = app.queue;
    const rel = (wall?: number) => (wall ? wall - t0Wall : undefined);
    result.ms.rmSubmitted = rel(app.startedTime);
    result.ms.rmAmLaunched = rel(app.launchTime);
    result.ms.rmAccepted = watcher.firstSeen.ACCEPTED;
    result.ms.rmAmHost = watcher.amHostSeenMs;
    result.ms.rmRunning = watcher.firstSeen.RUNNING;
    result.rm = { polls: watcher.polls, errors: watcher.errors, firstSeen: watcher.firstSeen, startedTime: app.startedTime, launchTime: app.launchTime };
    if (result.spark?.ident && !result.spark.ident.startsWith(`${app.id} ${ANALYST}`)) {
      result.error ??= `the kernel is the driver of "${result.spark.ident}", not of ${app.id} as ${ANALYST}`;
    }
    const tl: ContainerTimeline = amContainerTimeline(ctx.nodeManagerLogDirs, app.id);
    result.container = { rel: Object.fromEntries(Object.entries(tl.at).map(([k, v]) => [k, v - t0Wall])), lines: tl.lines, note: tl.note };
  }
  // Tear down: through the gateway, then the application must end (bounded), else the RM kills it.
  await ws?.close();
  result.stop = {};
  const stopAt = now();
  if (result.kernelId) {
    try {
      await client.deleteKernel(result.kernelId, 120_000);
      result.stop.deleteMs = now() - stopAt;
    } catch (e) {
      result.stop.error = (e as Error).message;
    }
  }
  if (app) {
    let state = (await ctx.rm.app(app.id).catch(() => undefined))?.state;
    const end = Date.now() + 60_000;
    while (state && !FINAL_STATES.includes(state) && Date.now() < end) {
      await sleep(500);
      state = (await ctx.rm.app(app.id).catch(() => undefined))?.state ?? state;
    }
    if (state && !FINAL_STATES.includes(state)) {
      result.stop.killedByBench = true;
      await ctx.rm.kill(app.id);
      const end2 = Date.now() + 30_000;
      while (state && !FINAL_STATES.includes(state) && Date.now() < end2) {
        await sleep(500);
        state = (await ctx.rm.app(app.id).catch(() => undefined))?.state ?? state;
      }
    }
    result.stop.toFinalMs = now() - stopAt;
    result.stop.finalState = state;
    result.rm!.finalState = state;
  }
  const leftovers = await ctx.rm.killAllLive(60_000);
  if (leftovers.length) throw new Error(`applications still live after a launch and a kill: ${leftovers.map((a) => `${a.id} ${a.state}`).join(', ')}`);
  result.loadAfter = os.loadavg()[0]!;
  for (const [k, v] of Object.entries(result.ms)) result.ms[k] = round(v);
  result.stop.deleteMs = round(result.stop.deleteMs);
  result.stop.toFinalMs = round(result.stop.toFinalMs);
  const s = (k: string) => (result.ms[k] === undefined ? '–' : `${(result.ms[k]! / 1000).toFixed(1)} s`);
  log(
    `  ${warmup ? 'warm-up ' : ''}${target} #${rep}: POST ${s('post')} · 1+1 ${s('exec11')} · RM RUNNING ${s('rmRunning')} · Spark ${s('sparkResult')} ` +
      `(load ${result.loadBefore.toFixed(2)}→${result.loadAfter.toFixed(2)}; ${result.appId ?? 'no app'} ${result.stop.finalState ?? ''})`,
  );
  return result;
}

// --- report ---

const METRICS: { key: string; label: string }[] = [
  { key: 'submitSpawned', label: 'gateway has spawned spark-submit (/proc, 100 ms poll)' },
  { key: 'rmSubmitted', label: 'RM: application submitted (RM startedTime)' },
  { key: 'rmAccepted', label: 'RM: first seen ACCEPTED (250 ms poll)' },
  { key: 'rmAmLaunched', label: 'RM: AM launch sent to the NodeManager (RM launchTime)' },
  { key: 'submitExited', label: 'spark-submit client gone (/proc)' },
  { key: 'c.amJvmLog', label: 'AM log: AM JVM\'s first line (after localization + JVM start)' },
  { key: 'c.userThread', label: 'AM log: user application (PythonRunner) started' },
  { key: 'c.launcherStart', label: 'AM log: kernel launcher first line' },
  { key: 'c.sparkContextStart', label: 'AM log: SparkContext creation begins' },
  { key: 'c.connectionSent', label: 'AM log: launcher sent its connection info' },
  { key: 'post', label: 'gateway answered POST /api/kernels (201)' },
  { key: 'kernelInfo', label: 'first kernel_info_reply over the WebSocket' },
  { key: 'exec11', label: '**`1+1` answered: kernel usable (launch time)**' },
  { key: 'rmRunning', label: 'RM: first seen RUNNING (AM registered = SparkContext up)' },
  { key: 'c.amRegistered', label: 'AM log: ApplicationMaster registering with the RM' },
  { key: 'c.executorRegistered', label: 'AM log: first executor registered' },
  { key: 'c.sparkContextReady', label: 'AM log: SparkContext ready (waited for the executor)' },
  { key: 'c.firstTaskSet', label: 'AM log: first Spark tasks submitted' },
  { key: 'sparkResult', label: '**first Spark result (`spark.range(10**6).count()`)**' },
];

function metricValue(r: LaunchResult, key: string): number | undefined {
  if (key.startsWith('c.')) return r.container?.rel[key.slice(2)];
  return r.ms[key];
}

function fmtS(ms: number | undefined): string {
  return ms === undefined ? '–' : (ms / 1000).toFixed(1);
}

function summaryOf(results: LaunchResult[], target: Target, key: string): Summary | undefined {
  const values = results.filter((r) => r.target === target && !r.warmup && !r.error).map((r) => metricValue(r, key)).filter((v): v is number => v !== undefined);
  return values.length ? summarize(values) : undefined;
}

function report(results: LaunchResult[]): string {
  const lines: string[] = [];
  const cell = (s: Summary | undefined) => (s ? `${fmtS(s.p50)} (${fmtS(s.min)}–${fmtS(s.max)})` : '–');
  lines.push('| phase (seconds after POST /api/kernels; p50 (min–max)) | Atrium | JEG 3.3.0 | Atrium / JEG (p50) |');
  lines.push('|---|---|---|---|');
  for (const m of METRICS) {
    const a = summaryOf(results, 'atrium', m.key);
    const j = summaryOf(results, 'jeg', m.key);
    lines.push(`| ${m.label} | ${cell(a)} | ${cell(j)} | ${a && j ? `${(a.p50 / j.p50).toFixed(2)}x` : '–'} |`);
  }
  const stopA = summarize(results.filter((r) => r.target === 'atrium' && !r.warmup && r.stop?.toFinalMs !== undefined).map((r) => r.stop!.toFinalMs!));
  const stopJ = summarize(results.filter((r) => r.target === 'jeg' && !r.warmup && r.stop?.toFinalMs !== undefined).map((r) => r.stop!.toFinalMs!));
  lines.push(`| DELETE /api/kernels → application in a final state | ${cell(stopA.n ? stopA : undefined)} | ${cell(stopJ.n ? stopJ : undefined)} | ${stopA.n && stopJ.n ? `${(stopA.p50 / stopJ.p50).toFixed(2)}x` : '–'} |`);
  const cpuRow = (label: string, pick: (r: LaunchResult) => number | undefined) => {
    const of = (t: Target) => {
      const v = results.filter((r) => r.target === t && !r.warmup && !r.error).map(pick).filter((x): x is number => x !== undefined);
      return v.length ? summarize(v) : undefined;
    };
    const a = of('atrium');
    const j = of('jeg');
    lines.push(`| ${label} | ${cell(a)} | ${cell(j)} | ${a && j && j.p50 ? `${(a.p50 / j.p50).toFixed(2)}x` : '–'} |`);
  };
  cpuRow('CPU s: the gateway process itself, POST → `1+1`', (r) => r.cpu?.gatewayToUsableMs);
  cpuRow('CPU s: the other (idle) gateway meanwhile', (r) => r.cpu?.otherGatewayToUsableMs);
  cpuRow('CPU s: spark-submit (launcher JVM + SparkSubmit JVM)', (r) => r.cpu?.sparkSubmitMs);
  cpuRow('CPU s: whole machine (2 cores), POST → `1+1`', (r) => r.cpu?.systemToUsableMs);
  cpuRow('CPU s: the mini cluster JVM (HDFS + RM + NodeManager), POST → `1+1`', (r) => r.cpu?.clusterToUsableMs);
  cpuRow('CPU s: this bench process (its polls), POST → `1+1`', (r) => r.cpu?.benchToUsableMs);
  cpuRow('s spark-submit\'s threads waited for a CPU (run queue)', (r) => r.cpu?.sparkSubmitRunDelayMs);
  cpuRow('s waited before the launch for the previous launch\'s containers to exit', (r) => r.quiesce?.waitedMs);
  lines.push('');
  lines.push('| # | target | load (1 min) before→after | POST | `1+1` | RM RUNNING | Spark result | app | final state | note |');
  lines.push('|---|---|---|---|---|---|---|---|---|---|');
  results.forEach((r, i) => {
    const note = r.error ? `FAILED: ${r.error.split('\n')[0]!.slice(0, 120)}` : r.spark?.fallback ? `stock \`spark\` failed (${(r.spark.stockCell.error ?? '').slice(0, 80)}); fallback cell used` : '';
    lines.push(
      `| ${i + 1}${r.warmup ? ' (warm-up)' : ''} | ${r.target} | ${r.loadBefore.toFixed(2)}→${r.loadAfter?.toFixed(2) ?? '–'} | ${fmtS(r.ms.post)} | ${fmtS(r.ms.exec11)} | ${fmtS(r.ms.rmRunning)} | ${fmtS(r.ms.sparkResult)} | ${r.appId ?? '–'} | ${r.stop?.finalState ?? '–'}${r.stop?.killedByBench ? ' (killed by bench)' : ''} | ${note} |`,
    );
  });
  const atriumPhases = results.filter((r) => r.target === 'atrium' && r.phases?.length);
  if (atriumPhases.length) {
    lines.push('');
    lines.push('Atrium launch phases as its status procedure reported them (s after POST, first seen; 400 ms poll):');
    for (const r of atriumPhases) {
      lines.push(`- #${r.rep}${r.warmup ? ' (warm-up)' : ''}: ${r.phases!.map((p) => `${fmtS(p.ms)} ${p.detail ?? p.state}`).join(' → ')} → ${fmtS(r.ms.post)} connected (POST answered)`);
    }
  }
  return lines.join('\n');
}

// --- main ---

async function main(): Promise<void> {
  const deadline = setTimeout(() => {
    log(`run deadline (${RUN_DEADLINE_MS / 60_000} min) reached: stopping`);
    process.kill(process.pid, 'SIGTERM');
  }, RUN_DEADLINE_MS);
  deadline.unref();
  const procs: Managed[] = [];
  let cluster: Awaited<ReturnType<typeof startHadoopCluster>> | undefined;
  let rm: Rm | undefined;
  let keep = opts['keep-work'];
  let stopping = false;
  const cleanup = async () => {
    if (stopping) return;
    stopping = true;
    if (rm) {
      const left = await rm.killAllLive(60_000).catch((e: Error) => [{ id: `(could not ask the RM: ${e.message})`, state: '?' }] as RmApp[]);
      if (left.length) log(`STILL LIVE in the RM: ${left.map((a) => `${a.id} ${a.state}`).join(', ')}`);
      else log('RM: no live application left');
    }
    for (const p of procs.reverse()) await stopProcess(p, 20_000);
    await cluster?.stop().catch((e: Error) => log(`cluster stop: ${e.message}`));
    const swept = sweepByMarker(runDir);
    if (swept.length) log(`swept ${swept.length} leftover processes: ${swept.join(' | ')}`);
    if (keep) log(`kept ${runDir}`);
    else fs.rmSync(runDir, { recursive: true, force: true });
  };
  for (const sig of ['SIGINT', 'SIGTERM'] as const) {
    process.once(sig, () => {
      log(`${sig}: cleaning up`);
      keep = true;
      void cleanup().finally(() => process.exit(130));
    });
  }

  try {
    const machine = {
      date: new Date().toISOString(),
      nproc: os.cpus().length,
      cpu: os.cpus()[0]?.model,
      memGiB: Math.round(os.totalmem() / 2 ** 30),
      node: process.version,
      loadAvg: os.loadavg(),
      kernel: os.release(),
    };
    log(`run dir ${runDir}; load ${machine.loadAvg.map((l) => l.toFixed(2)).join(' ')} on ${machine.nproc} cores`);
    const atrium = prepareAtriumDir();
    log(`Atrium from ${atrium.dir} (${atrium.note})`);

    // Provision (all cached after the first time).
    ensureHadoop();
    const spark = ensureSparkVenv();
    const java = javaHome();
    const bench = ensureBenchVenvs({ log: (m: string) => log(m) });
    const jegVenv = bench.venvs.jeg!;
    const kernelVenv = bench.venvs.kernel!;
    const sdist = ensureJegSdist(jegVenv.python, log);
    const crypto = ensureAmCryptodome(spark.python, path.join(jegVenv.dir, 'lib', `python${bench.pythonVersion.split('.').slice(0, 2).join('.')}`, 'site-packages'), log);

    // The cluster: its own ports (+offset), room for an 8 GB driver + an executor.
    const ports = portsWithOffset(PORT_OFFSET);
    log(`starting the mini cluster on ports +${PORT_OFFSET} (RM ${ports.rmWeb}, NameNode ${ports.nameNode})`);
    cluster = await startHadoopCluster({ workDir: path.join(runDir, 'hadoop'), ports, nmMemoryMb: 20480, nmVcores: 8, timeoutMs: 240_000 });
    log(`mini cluster up in ${(cluster.startMs / 1000).toFixed(1)} s: ${cluster.rmUrl}`);
    rm = new Rm(cluster.rmUrl, cluster.superuser);
    for (const op of ['MKDIRS&permission=700', `SETOWNER&owner=${ANALYST}&group=${ANALYST}`]) {
      const r = await http('PUT', `${cluster.webhdfsUrl}/user/${ANALYST}?op=${op}&user.name=${cluster.superuser}`, undefined, 30_000);
      if (r.status !== 200) throw new Error(`WebHDFS ${op}: ${r.status} ${r.text}`);
    }

    // One Spark configuration for both gateways' spark-submit.
    const settings = sparkSubmitSettings(cluster, spark);
    const sparkConfDir = path.join(runDir, 'spark-conf');
    fs.mkdirSync(sparkConfDir, { recursive: true });
    const sparkDefaults: Record<string, string> = {
      ...settings.conf,
      'spark.executor.instances': '1',
      'spark.executor.memory': '512m',
      'spark.executor.cores': '1',
      'spark.ui.enabled': 'false',
    };
    fs.writeFileSync(path.join(sparkConfDir, 'spark-defaults.conf'), Object.entries(sparkDefaults).map(([k, v]) => `${k} ${v}`).join('\n') + '\n');
    // spark-env.sh is sourced by every spark-submit (load-spark-env.sh): pyspark's zips in place for both,
    // and the submitting client bound to loopback like the containers.
    const sparkEnv = { PYSPARK_ARCHIVES_PATH: settings.env.PYSPARK_ARCHIVES_PATH, SPARK_LOCAL_IP: '127.0.0.1' };
    fs.writeFileSync(path.join(sparkConfDir, 'spark-env.sh'), Object.entries(sparkEnv).map(([k, v]) => `${k}='${v}'`).join('\n') + '\n');

    // Atrium: the production build, YARN kernels on this cluster, HDFS homes, as in e2e/yarn/support.ts.
    const atriumPort = await freePort();
    const atriumEnv: Record<string, string | undefined> = {
      ...baseEnv(),
      PORT: String(atriumPort),
      HOST: '127.0.0.1',
      ATRIUM_DATA_DIR: path.join(runDir, 'atrium-data'),
      ATRIUM_ADMIN_EMAIL: 'admin@yarn-bench.test',
      ATRIUM_ADMIN_PASSWORD: randomBytes(12).toString('hex'),
      ATRIUM_PYTHON: kernelVenv.python,
      NEXT_TELEMETRY_DISABLED: '1',
      ATRIUM_YARN_RM_URL: cluster.rmUrl,
      ATRIUM_YARN_SPARK_HOME: spark.sparkHome,
      ATRIUM_YARN_HADOOP_CONF_DIR: cluster.confDir,
      ATRIUM_YARN_SPARK_CONF_DIR: sparkConfDir,
      ATRIUM_YARN_KERNEL_PYTHON: spark.python,
      ATRIUM_YARN_SERVICE_USER: cluster.superuser,
      ATRIUM_YARN_IMPERSONATE: 'true',
      ATRIUM_YARN_DEFAULT_QUEUE: QUEUE,
      ATRIUM_YARN_LAUNCH_TIMEOUT_SECONDS: String(LAUNCH_TIMEOUT_S),
      ATRIUM_KERNEL_STARTUP_TIMEOUT_SECONDS: '120',
      ATRIUM_HOME_STORE: 'webhdfs',
      ATRIUM_WEBHDFS_URL: cluster.webhdfsUrl,
      ATRIUM_WEBHDFS_USER: cluster.superuser,
      ATRIUM_WEBHDFS_AUTH: 'simple',
      JAVA_HOME: java,
      PATH: `${path.dirname(spark.python)}:${process.env.PATH ?? ''}`,
    };
    log(`starting Atrium (node server/cli/atrium.mjs start) on 127.0.0.1:${atriumPort}`);
    const atriumProc = startProcess('atrium', process.execPath, ['server/cli/atrium.mjs', 'start'], { env: atriumEnv, logFile: path.join(runDir, 'atrium.log'), cwd: atrium.dir });
    procs.push(atriumProc);
    const atriumUrl = `http://127.0.0.1:${atriumPort}`;
    const atriumT0 = Date.now();
    await waitFor('Atrium to answer GET /api', async () => ((await http('GET', `${atriumUrl}/api`, undefined, 3_000).catch(() => ({ status: 0 }))).status === 200 ? true : undefined), 240_000, 500, atriumProc);
    if (fs.readFileSync(atriumProc.logFile, 'utf8').includes('rebuilding the web app') || fs.readFileSync(atriumProc.logFile, 'utf8').includes('Building the web app')) {
      throw new Error('Atrium started a web app build: the snapshot was not taken as built (see atrium.log)');
    }
    log(`Atrium ready in ${((Date.now() - atriumT0) / 1000).toFixed(1)} s`);
    const cli = (args: string[], input = '') =>
      execFileSync(process.execPath, ['server/cli/atrium.mjs', ...args], { cwd: atrium.dir, env: { ...atriumEnv, PORT: undefined } as unknown as NodeJS.ProcessEnv, input, encoding: 'utf8', timeout: 120_000 });
    cli(['users', 'add', `${ANALYST}@yarn-bench.test`, '--username', ANALYST, '--password-stdin'], 'yarn-bench-analyst-pw\n');
    const atriumToken = cli(['tokens', 'create', '--user', `${ANALYST}@yarn-bench.test`]).trim().split('\n').at(-1)!.trim();

    // JEG 3.3.0 with its own spark_python_yarn_cluster kernelspec and launcher (from the sdist).
    const jegDir = path.join(runDir, 'jeg');
    for (const d of ['share', 'data', 'config', 'runtime']) fs.mkdirSync(path.join(jegDir, d), { recursive: true });
    const jegSpec = installJegKernelspec(sdist, path.join(jegDir, 'share'), {
      sparkHome: spark.sparkHome,
      amPython: spark.python,
      hadoopConfDir: cluster.confDir,
      sparkConfDir,
      javaHome: java,
      queue: QUEUE,
      driverMemoryMb: DRIVER.memoryMb,
      driverOverheadMb: DRIVER.overheadMb,
      driverCores: DRIVER.cores,
      amPythonPath: crypto.dir,
    });
    const jegPort = await freePort();
    const jegToken = randomBytes(16).toString('hex');
    const jegEnv: Record<string, string | undefined> = {
      ...baseEnv(),
      JUPYTER_PATH: path.join(jegDir, 'share'),
      JUPYTER_DATA_DIR: path.join(jegDir, 'data'),
      JUPYTER_CONFIG_DIR: path.join(jegDir, 'config'),
      JUPYTER_RUNTIME_DIR: path.join(jegDir, 'runtime'),
      JUPYTER_PLATFORM_DIRS: '1',
      PYTHONUNBUFFERED: '1',
      // The RM's REST root. yarn-api-client checks an endpoint with GET <endpoint>/cluster (200 = active RM) and
      // then uses only its scheme, host and port for its /ws/v1/cluster/... calls. The mini cluster's RM serves
      // no HTML UI (GET /cluster is 404), so the origin alone fails that check ("No active RMs found");
      // <origin>/ws/v1 passes it through the REST cluster-info resource and changes nothing else. RM calls carry
      // ?user.name=<KERNEL_USERNAME> (yarn-api-client's SimpleAuth), as Atrium's carry its service user.
      EG_YARN_ENDPOINT: `${cluster.rmUrl}/ws/v1`,
      EG_IMPERSONATION_ENABLED: 'true',
      EG_KERNEL_LAUNCH_TIMEOUT: String(LAUNCH_TIMEOUT_S),
      // The response socket on loopback, like Atrium's (ATRIUM_LAUNCH_RESPONSE_HOST defaults to 127.0.0.1).
      EG_RESPONSE_IP: '127.0.0.1',
    };
    const jegArgs = ['--EnterpriseGatewayApp.ip=127.0.0.1', `--EnterpriseGatewayApp.port=${jegPort}`, '--EnterpriseGatewayApp.port_retries=0', '--log-level=DEBUG'];
    log(`starting Enterprise Gateway ${JEG_VERSION} on 127.0.0.1:${jegPort}`);
    const jegProc = startProcess('jeg', path.join(jegVenv.bin, 'jupyter-enterprisegateway'), [...jegArgs, `--EnterpriseGatewayApp.auth_token=${jegToken}`], {
      env: jegEnv,
      logFile: path.join(runDir, 'jeg.log'),
      cwd: jegDir,
    });
    procs.push(jegProc);
    const clients: Record<Target, GatewayClient> = {
      atrium: new GatewayClient({ baseUrl: atriumUrl, token: atriumToken }),
      jeg: new GatewayClient({ baseUrl: `http://127.0.0.1:${jegPort}`, token: jegToken }),
    };
    await waitFor(
      `JEG to list ${KERNELSPEC}`,
      async () => {
        const r = await clients.jeg.kernelspecs(3_000);
        return r.status === 200 && (r.json as { kernelspecs?: Record<string, unknown> }).kernelspecs?.[KERNELSPEC] ? true : undefined;
      },
      120_000,
      500,
      jegProc,
    );
    const atriumSpecs = await clients.atrium.kernelspecs(10_000);
    if (!(atriumSpecs.json as { kernelspecs?: Record<string, unknown> }).kernelspecs?.[KERNELSPEC]) throw new Error(`Atrium does not offer ${KERNELSPEC}: ${atriumSpecs.body.slice(0, 300)}`);

    const ctx: Ctx = { rm, clients, nodeManagerLogDirs: cluster.info.nodeManagerLogDirs, gatewayPids: { atrium: atriumProc.child.pid!, jeg: jegProc.child.pid! }, clusterWorkDir: path.join(runDir, 'hadoop'), clusterPid: cluster.info.pid };
    const results: LaunchResult[] = [];
    const order: { target: Target; rep: number; warmup: boolean }[] = [];
    for (let i = 0; i < WARMUP; i++) order.push(...pairOf(0).map((target) => ({ target, rep: i + 1, warmup: true })));
    for (let i = 0; i < REPS; i++) order.push(...pairOf(i).map((target) => ({ target, rep: i + 1, warmup: false })));
    log(`${order.length} launches: ${WARMUP} warm-up pair(s), then ${REPS} pairs in ${opts.order} order`);
    for (const step of order) {
      const previous = results.at(-1)?.target;
      results.push(await measureLaunch(ctx, step.target, step.rep, step.warmup));
      results.at(-1)!.after = previous;
      if (results.at(-1)!.error) keep = true;
    }

    const table = report(results);
    const out = {
      machine: { ...machine, loadAvgEnd: os.loadavg() },
      command: `bash bench/yarn/run-yarn-bench.sh ${process.argv.slice(2).join(' ')}`.trim(),
      order: opts.order,
      durationS: Math.round((Date.now() - runStarted) / 1000),
      settings: {
        reps: REPS,
        warmup: WARMUP,
        portOffset: PORT_OFFSET,
        rmUrl: cluster.rmUrl,
        queue: QUEUE,
        analyst: ANALYST,
        impersonation: 'both: spark-submit --proxy-user ana (Atrium: ATRIUM_YARN_IMPERSONATE=true; JEG: EG_IMPERSONATION_ENABLED=true → run.sh)',
        driver: DRIVER,
        sparkDefaults,
        sparkEnv,
        sparkVersion: spark.sparkVersion,
        atrium: { ...atrium, env: Object.fromEntries(Object.entries(atriumEnv).filter(([k]) => k.startsWith('ATRIUM_') && !k.includes('PASSWORD'))) },
        jeg: {
          version: JEG_VERSION,
          sdist: { file: path.basename(sdist.tarball), sha256: sdist.sha256 },
          kernelspecChanges: jegSpec.changes,
          kernelspec: jegSpec.spec,
          env: Object.fromEntries(Object.entries(jegEnv).filter(([k]) => k.startsWith('EG_'))),
          args: jegArgs,
          amCryptodome: crypto,
        },
        landmarks: LANDMARKS.map(({ key, what, pattern }) => ({ key, what, pattern: String(pattern) })),
      },
      results,
    };
    const outFile = path.resolve(opts.out ?? path.join(here, 'results', `${new Date().toISOString().replace(/[:.]/g, '').slice(0, 15)}Z.json`));
    fs.mkdirSync(path.dirname(outFile), { recursive: true });
    fs.writeFileSync(outFile, JSON.stringify(out, null, 2) + '\n');
    console.log(table);
    log(`results: ${path.relative(process.cwd(), outFile)} (${out.durationS} s)`);
    if (results.some((r) => r.error)) process.exitCode = 1;
    // Keep the gateway logs beside the run dir if asked.
    if (keep) log(`gateway logs: ${atriumProc.logFile}, ${jegProc.logFile}`);
  } catch (error) {
    keep = true;
    log(`FAILED: ${(error as Error).stack ?? error}`);
    process.exitCode = 1;
  } finally {
    await cleanup();
  }
}

await main();
