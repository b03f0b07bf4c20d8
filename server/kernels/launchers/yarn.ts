// The YARN launcher (`metadata.atrium.launcher: "yarn"`): the kernel is the Spark driver of a YARN cluster-mode
// application, run as the analyst. Only the engine step lives here (remote.ts does the launch protocol):
//   spark-submit --master yarn --deploy-mode cluster of Atrium's Python launcher (an argv array, every value
//   validated; never a shell string) with --proxy-user <analyst>, the team's queue, the driver sized from the
//   chosen size profile, the tags `atrium` + `atrium-kernel-<id>` + `atrium-installation-<id>` (the application
//   is found by its tag, never by scanning), and spark.yarn.submit.waitAppCompletion=false so spark-submit
//   returns once YARN has the app.
// Every setting (--conf) goes through a 0600 properties file that lives only while spark-submit runs, never
// argv: the container environment holds the one-time launch token, and any local user of the portal host can
// read a command line in `ps`. `--load-spark-defaults` (Spark 4.0+) keeps the admins' spark-defaults.conf.
// The application's life is the kernel's life: poll()/waitForExit() read the one ResourceManager poller
// (yarn-rm.ts); kill() is the RM REST kill. While a launch is pending the RM's states become launch phases
// ("submitted to YARN", "accepted by YARN: <diagnostics>", "running on <host>").
// listOwnEngines()/killOrphan() serve the orphan sweep (orphan-sweeper.ts): one RM query by the installation tag.
// Touch this file when the spark-submit command line or the kernel's container environment changes.
import { spawn, type ChildProcess } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { chmod, mkdir, readdir, readFile, rename, rm, stat, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { crc32, deflateRawSync } from 'node:zlib';
import { z } from 'zod';
import { USERNAME_PATTERN } from '../../identity/names';
import { chooseSize, sizeTableOf, type SizeProfile } from '../../quota/sizes';
import { launcherConfig } from '../kernelspecs';
import type { JsonObject } from '../protocol/messages';
import { LaunchError, type ClusterEngine, type DeadStatus, type KernelStatus, type LaunchOptions, type LaunchRequest, type SerializedKernel } from './base';
import { HOST_ENV_ALLOW_LIST } from './local';
import { RemoteLauncher, type EngineStart, type RemoteEngine, type RemoteKernelProcess, type RemoteLauncherOptions } from './remote';
import { BUNDLED_LAUNCHER_PYTHONPATH } from './remote-local';
import {
  LIVE_APP_STATES,
  ResourceManagerClient,
  ResourceManagerError,
  YarnAppPoller,
  amHost,
  appTags,
  isFinal,
  latest,
  ownEngineOf,
  type AppView,
  type YarnApp,
} from './yarn-rm';

/** Every Atrium application carries this tag; the poller's one query filters on it. */
export const ATRIUM_APP_TAG = 'atrium';
/** How long spark-submit may take to hand the application to YARN. */
const DEFAULT_SUBMIT_DEADLINE_MS = 120_000;
/** Queue waits are normal on YARN: a launch may wait this long for its payload unless configured otherwise. */
const DEFAULT_YARN_LAUNCH_DEADLINE_MS = 300_000;
const OUTPUT_TAIL_LINES = 30;

export const kernelTag = (kernelId: string) => `atrium-kernel-${kernelId.toLowerCase()}`;

/**
 * An installation id fit for a YARN tag: YARN allows at most 100 printable ASCII characters per tag (by default,
 * yarn.resourcemanager.application.max-tag.length) and lowercases them; "atrium-installation-" takes 20, and a
 * comma would split spark.yarn.tags.
 */
const INSTALLATION_ID = /^[A-Za-z0-9][A-Za-z0-9_-]{0,79}$/;

/** The tag of every application this installation submits; the orphan sweep lists by it. */
export function installationTag(installationId: string): string {
  if (!INSTALLATION_ID.test(installationId)) {
    throw new Error(`the installation id "${installationId}" cannot be a YARN tag (1-80 letters, digits, _ or -)`);
  }
  return `atrium-installation-${installationId.toLowerCase()}`;
}

// --- configuration ---

export interface YarnLauncherOptions extends RemoteLauncherOptions {
  /** The ResourceManager's web address, e.g. http://rm.example.com:8088 (ATRIUM_YARN_RM_URL). */
  rmUrl: string;
  /** This installation's id (db/queries/installation.ts): its applications carry it as a tag, for the orphan sweep. */
  installationId: string;
  /** `user.name` for RM REST calls under simple HTTP auth: the portal's service user. */
  serviceUser?: string;
  /** The spark-submit to run (default: `spark-submit` on PATH). */
  sparkSubmit?: string;
  /** Environment for spark-submit besides the host basics: SPARK_HOME, HADOOP_CONF_DIR, SPARK_CONF_DIR... */
  submitEnv?: Record<string, string>;
  /** Extra `--conf key=value` for every launch (trusted: from the portal's config). Atrium's own settings win. */
  sparkConf?: Record<string, string>;
  /** The Python that runs the kernel in the AM container (spark.yarn.appMasterEnv.PYSPARK_PYTHON). */
  kernelPython?: string;
  /** `--proxy-user <analyst>`: the application runs as the analyst. Default true. */
  impersonate?: boolean;
  /** The queue of a user whose team names none. Default "default". */
  defaultQueue?: string;
  /** The queue of the user's team (teams.yarn_queue), or null for the default queue. */
  queueFor?: (username: string) => Promise<string | null | undefined>;
  /** How often the one RM poller asks. Default 2 s. */
  pollIntervalMs?: number;
  /** Deadline for spark-submit to return after submitting. Default 120 s. */
  submitDeadlineMs?: number;
  /** Where the launcher package zip (--py-files) is written. */
  runtimeDir: string;
  /** Directory holding `atrium_launcher`; default the bundled kernel-launchers/python. */
  launcherPythonPath?: string;
  /** Where the allow-listed host variables come from. Default: this process. */
  hostEnv?: NodeJS.ProcessEnv;
}

// --- pure parts: validation, sizing and the spark-submit command line ---

const QUEUE = /^[A-Za-z0-9_][A-Za-z0-9_.-]{0,254}$/;
const ENV_NAME = /^[A-Za-z_][A-Za-z0-9_]{0,127}$/;
const CONF_KEY = /^spark\.[A-Za-z0-9_.-]{1,200}$/;
/**
 * The NodeManager writes the AM's environment into its launch script as `export NAME="value"` without
 * escaping, so a value must not be able to leave its quotes or expand anything there.
 */
const CONTAINER_ENV_VALUE = /^[^\0-\x1f\x7f"$`\\]{0,4096}$/;
const CONF_VALUE = /^[^\0-\x1f\x7f]{0,8192}$/;

/** YARN sizes the AM container as driver memory + overhead: split the profile's memory so the sum matches it. */
export function driverResources(size: SizeProfile): { memoryMb: number; overheadMb: number; cores: number } {
  const overheadMb = Math.max(384, Math.ceil(size.memoryMb * 0.1));
  return { memoryMb: Math.max(256, size.memoryMb - overheadMb), overheadMb, cores: Math.max(1, Math.floor(size.vcores)) };
}

export interface SubmitPlan {
  kernelId: string;
  installationId: string;
  kernelspecName: string;
  username: string;
  impersonate: boolean;
  queue: string;
  size: SizeProfile;
  /** Path of the Python launcher script (the primary resource) and its arguments. */
  script: string;
  scriptArgs: string[];
  /** The launcher package zip (shipped with --files, on the AM's PYTHONPATH). */
  pyFiles: string;
  /** Environment of the kernel in the AM container (kernelspec env + KERNEL_*). */
  containerEnv: Record<string, string>;
  kernelPython?: string;
  /** Configured `--conf`s (portal config, then the kernelspec's `spark_conf`). */
  sparkConf: Record<string, string>;
}

function invalid(kernelId: string, message: string): LaunchError {
  return new LaunchError('INVALID_REQUEST', `kernel ${kernelId}: ${message}`, { kernelId });
}

/**
 * The launcher command line from a kernelspec argv (`[python] launch_kernel.py args...`, placeholders already
 * substituted): the script becomes spark-submit's primary resource, the rest its application arguments.
 */
export function splitLauncherArgv(argv: readonly string[], resourceDir: string, kernelId: string): { script: string; scriptArgs: string[] } {
  const rest = /^(python3?|.*\/python3?)$/.test(argv[0] ?? '') ? argv.slice(1) : [...argv];
  const [script, ...scriptArgs] = rest;
  if (!script?.endsWith('.py')) throw invalid(kernelId, `a YARN kernelspec's argv must start with [python] <launcher>.py; got ${JSON.stringify(argv.slice(0, 2))}`);
  return { script: path.resolve(resourceDir, script), scriptArgs };
}

/** Checks every value that reaches spark-submit or the container; throws INVALID_REQUEST naming the bad one. */
export function validatePlan(plan: SubmitPlan): void {
  const { kernelId } = plan;
  if (!USERNAME_PATTERN.test(plan.username)) throw invalid(kernelId, `user name "${plan.username}" cannot be a YARN proxy user`);
  if (!QUEUE.test(plan.queue)) throw invalid(kernelId, `"${plan.queue}" is not a YARN queue name`);
  for (const [name, value] of Object.entries(plan.containerEnv)) {
    if (!ENV_NAME.test(name)) throw invalid(kernelId, `"${name}" is not an environment variable name`);
    if (!CONTAINER_ENV_VALUE.test(value)) {
      throw invalid(kernelId, `${name} may not hold quotes, "$", backquotes, backslashes or control characters on YARN (at most 4096 characters)`);
    }
  }
  for (const [key, value] of Object.entries(plan.sparkConf)) {
    if (!CONF_KEY.test(key)) throw invalid(kernelId, `"${key}" is not a Spark setting name`);
    if (!CONF_VALUE.test(value)) throw invalid(kernelId, `the Spark setting ${key} holds control characters`);
  }
  for (const arg of [plan.script, plan.pyFiles, plan.kernelPython ?? '', ...plan.scriptArgs]) {
    if (/[\0-\x1f\x7f]/.test(arg)) throw invalid(kernelId, 'a launcher argument holds control characters');
  }
}

/**
 * The spark-submit command line and the settings that go in its properties file (never on argv: see the top of
 * the file). Atrium's own settings are set last, so configuration cannot override them.
 */
export function sparkSubmitCommand(plan: SubmitPlan, propertiesFile: string): { args: string[]; properties: Record<string, string> } {
  validatePlan(plan);
  if (/[\0-\x1f\x7f]/.test(propertiesFile)) throw invalid(plan.kernelId, 'the properties file path holds control characters');
  const driver = driverResources(plan.size);
  const conf: Record<string, string> = { ...plan.sparkConf };
  if (plan.kernelPython) {
    conf['spark.yarn.appMasterEnv.PYSPARK_PYTHON'] = plan.kernelPython;
    conf['spark.executorEnv.PYSPARK_PYTHON'] ??= plan.kernelPython;
  }
  for (const [name, value] of Object.entries(plan.containerEnv)) conf[`spark.yarn.appMasterEnv.${name}`] = value;
  Object.assign(conf, {
    'spark.yarn.tags': [ATRIUM_APP_TAG, kernelTag(plan.kernelId), installationTag(plan.installationId)].join(','),
    // spark-submit returns once YARN accepted the app: the portal follows it through the RM, not a client JVM.
    'spark.yarn.submit.waitAppCompletion': 'false',
    // A second attempt would start a second kernel for a launch that is already settled.
    'spark.yarn.maxAppAttempts': '1',
    'spark.driver.memoryOverhead': `${driver.overheadMb}m`,
    // Relative to the container's working directory, where YARN put the zip.
    'spark.yarn.appMasterEnv.PYTHONPATH': path.basename(plan.pyFiles),
  });
  const args = [
    '--master', 'yarn',
    '--deploy-mode', 'cluster',
    '--name', `atrium ${plan.kernelspecName} ${plan.kernelId}`,
    '--queue', plan.queue,
    ...(plan.impersonate ? ['--proxy-user', plan.username] : []),
    '--driver-memory', `${driver.memoryMb}m`,
    '--driver-cores', String(driver.cores),
    // Localized into the AM's working directory and put on its PYTHONPATH (below). Not --py-files: the driver's
    // SparkContext would then try to re-add the portal's local path and warn in the user's first cell.
    '--files', plan.pyFiles,
    // With a properties file Spark skips spark-defaults.conf unless told to load it too (Spark 4.0+). Precedence
    // stays as it was with --conf: this file, then the admins' defaults.
    '--properties-file', propertiesFile,
    '--load-spark-defaults',
    plan.script,
    ...plan.scriptArgs,
  ];
  return { args, properties: conf };
}

/**
 * A Java properties file (what spark-submit reads, as UTF-8) for settings whose names and values were
 * validated (no control characters). Only the backslash needs escaping in a value; key characters are escaped
 * anyway. Note: Spark trims each value it reads from a file, so leading and trailing spaces do not survive.
 */
export function propertiesFileText(properties: Record<string, string>): string {
  const key = (k: string) => k.replace(/[\\=: #!]/g, (c) => `\\${c}`);
  const lines = Object.entries(properties).map(([k, v]) => `${key(k)}=${v.replace(/\\/g, '\\\\')}`);
  return ['# One spark-submit by Atrium; removed as soon as it returns.', ...lines, ''].join('\n');
}

export interface SparkSubmitRun {
  kernelId: string;
  program: string;
  args: string[];
  env: Record<string, string>;
  /** Written (0600, in a 0700 directory) before spark-submit starts and removed once it ended, whatever the outcome. */
  propertiesFile: string;
  properties: Record<string, string>;
  deadlineMs: number;
}

export type SparkSubmitOutcome =
  | { status: 'submitted'; appId?: string; tail: string[] }
  | { status: 'failed'; code: number | null; signal: NodeJS.Signals | null; appId?: string; tail: string[] }
  | { status: 'timeout'; appId?: string; tail: string[] };

/** Runs spark-submit once, with its settings in a private properties file; its process group is killed at the deadline. */
export async function runSparkSubmit(run: SparkSubmitRun): Promise<SparkSubmitOutcome> {
  const dir = path.dirname(run.propertiesFile);
  await mkdir(dir, { recursive: true, mode: 0o700 });
  await chmod(dir, 0o700); // it may have existed with a looser mode
  // 'wx': never through a file (or link) that is already there.
  await writeFile(run.propertiesFile, propertiesFileText(run.properties), { mode: 0o600, flag: 'wx' });
  try {
    return await spawnAndWait(run);
  } finally {
    await rm(run.propertiesFile, { force: true });
  }
}

async function spawnAndWait(run: SparkSubmitRun): Promise<SparkSubmitOutcome> {
  let child: ChildProcess;
  try {
    child = await new Promise<ChildProcess>((resolve, reject) => {
      const c = spawn(run.program, run.args, { env: run.env as NodeJS.ProcessEnv, detached: true, stdio: ['ignore', 'pipe', 'pipe'] });
      c.once('spawn', () => resolve(c));
      c.once('error', reject);
    });
  } catch (error) {
    throw new LaunchError('LAUNCH_FAILED', `kernel ${run.kernelId}: cannot run ${run.program}: ${(error as Error).message}`, { kernelId: run.kernelId, cause: error });
  }
  const tail: string[] = [];
  let appId: string | undefined;
  const take = (chunk: Buffer) => {
    for (const line of chunk.toString('utf8').split('\n')) {
      if (!line.trim()) continue;
      appId ??= /Submitted application (application_\d+_\d+)/.exec(line)?.[1];
      tail.push(line);
      if (tail.length > OUTPUT_TAIL_LINES) tail.shift();
    }
  };
  child.stdout?.on('data', take);
  child.stderr?.on('data', take);
  let timer: NodeJS.Timeout | undefined;
  const outcome = await new Promise<{ code: number | null; signal: NodeJS.Signals | null } | 'timeout'>((resolve) => {
    child.once('close', (code, signal) => resolve({ code, signal }));
    timer = setTimeout(() => resolve('timeout'), run.deadlineMs);
  });
  clearTimeout(timer);
  if (outcome === 'timeout') {
    try {
      process.kill(-child.pid!, 'SIGKILL');
    } catch {
      // it ended meanwhile
    }
    return { status: 'timeout', appId, tail };
  }
  if (outcome.code === 0) return { status: 'submitted', appId, tail };
  return { status: 'failed', ...outcome, appId, tail };
}

const SparkConfSchema = z.record(z.string(), z.union([z.string(), z.number(), z.boolean()]).transform(String));

/** A kernelspec's `metadata.atrium.config.spark_conf` (admin-written), as strings. */
export function kernelspecSparkConf(config: Record<string, unknown>, kernelId: string): Record<string, string> {
  if (config.spark_conf === undefined) return {};
  const parsed = SparkConfSchema.safeParse(config.spark_conf);
  if (!parsed.success) throw invalid(kernelId, `the kernelspec's spark_conf must map setting names to values: ${z.prettifyError(parsed.error)}`);
  return parsed.data;
}

/** "[Mon Jan 01 00:00:00 +0000 2026] AM container is launched, ..." → "AM container is launched, ..." */
export function diagnosticsLine(diagnostics: string): string {
  const line = diagnostics.trim().split('\n')[0] ?? '';
  // The capacity scheduler appends "Details : AM Partition = ... ; Queue's ..." — numbers for admins, not users.
  return line.replace(/^\[[^\]]*\]\s*/, '').split(/\s+Details\s*:/)[0]!.trim().slice(0, 300);
}

/** The launch phase a user reads for an application report, or undefined when there is nothing new to say. */
export function phaseOf(app: YarnApp): string | undefined {
  switch (app.state) {
    case 'NEW':
    case 'NEW_SAVING':
    case 'SUBMITTED':
      return `submitted to YARN as ${app.id}`;
    case 'ACCEPTED': {
      const why = diagnosticsLine(app.diagnostics);
      return `accepted by YARN: ${why || 'waiting for the application master container'}`;
    }
    case 'RUNNING':
      return `running on ${amHost(app) ?? 'the cluster'}`;
    default:
      return undefined;
  }
}

// --- the launcher package, shipped to the AM container ---

/** A zip of `atrium_launcher/*.py` (deflated), written once per content into `dir`. Returns its path. */
export async function launcherZip(launcherPythonPath: string, dir: string): Promise<string> {
  const pkg = path.join(launcherPythonPath, 'atrium_launcher');
  const names = (await readdir(pkg)).filter((n) => n.endsWith('.py')).sort();
  const files = await Promise.all(names.map(async (n) => ({ name: `atrium_launcher/${n}`, data: await readFile(path.join(pkg, n)) })));
  const zip = zipFiles(files);
  const file = path.join(dir, `atrium_launcher-${createHash('sha256').update(zip).digest('hex').slice(0, 12)}.zip`);
  if (!existsSync(file)) {
    await mkdir(dir, { recursive: true, mode: 0o700 });
    const partial = `${file}.${process.pid}.tmp`;
    await writeFile(partial, zip, { mode: 0o644 });
    await rename(partial, file);
  }
  return file;
}

/** A minimal zip writer (deflate, fixed 1980 timestamps so the same files give the same bytes). */
function zipFiles(files: { name: string; data: Buffer }[]): Buffer {
  const parts: Buffer[] = [];
  const central: Buffer[] = [];
  let offset = 0;
  for (const file of files) {
    const name = Buffer.from(file.name, 'utf8');
    const body = deflateRawSync(file.data);
    const crc = crc32(file.data);
    const local = Buffer.alloc(30);
    local.writeUInt32LE(0x04034b50, 0);
    local.writeUInt16LE(20, 4); // version needed
    local.writeUInt16LE(0x0800, 6); // UTF-8 names
    local.writeUInt16LE(8, 8); // deflate
    local.writeUInt16LE(0, 10); // time
    local.writeUInt16LE(0x21, 12); // date: 1980-01-01
    local.writeUInt32LE(crc, 14);
    local.writeUInt32LE(body.length, 18);
    local.writeUInt32LE(file.data.length, 22);
    local.writeUInt16LE(name.length, 26);
    local.writeUInt16LE(0, 28);
    const entry = Buffer.alloc(46);
    entry.writeUInt32LE(0x02014b50, 0);
    entry.writeUInt16LE(0x0314, 4); // made by: Unix, 2.0
    entry.writeUInt16LE(20, 6);
    entry.writeUInt16LE(0x0800, 8);
    entry.writeUInt16LE(8, 10);
    entry.writeUInt16LE(0, 12);
    entry.writeUInt16LE(0x21, 14);
    entry.writeUInt32LE(crc, 16);
    entry.writeUInt32LE(body.length, 20);
    entry.writeUInt32LE(file.data.length, 24);
    entry.writeUInt16LE(name.length, 28);
    entry.writeUInt32LE((0o100644 << 16) >>> 0, 38); // external attributes: a regular file, rw-r--r--
    entry.writeUInt32LE(offset, 42);
    parts.push(local, name, body);
    central.push(entry, name);
    offset += local.length + name.length + body.length;
  }
  const directory = Buffer.concat(central);
  const end = Buffer.alloc(22);
  end.writeUInt32LE(0x06054b50, 0);
  end.writeUInt16LE(files.length, 8);
  end.writeUInt16LE(files.length, 10);
  end.writeUInt32LE(directory.length, 12);
  end.writeUInt32LE(offset, 16);
  return Buffer.concat([...parts, directory, end]);
}

// --- the launcher ---

export class YarnLauncher extends RemoteLauncher {
  readonly name = 'yarn';
  readonly rm: ResourceManagerClient;
  /** The one poller for every YARN kernel of this process. */
  readonly poller: YarnAppPoller;
  private readonly opts: YarnLauncherOptions;
  private readonly hostEnv: NodeJS.ProcessEnv;
  /** Launch-phase reporters of pending launches; removed when the launch settles, so phases stop there. */
  private readonly phaseReporters = new Map<string, (phase: string) => void>();
  private readonly pending = new Set<string>();
  /** Why a pending launch was cancelled, so its error says so. */
  private readonly cancellations = new Map<string, string>();
  private zip: Promise<string> | undefined;
  /** `atrium-installation-<id>`: on every application submitted here; what listOwnEngines() asks the RM for. */
  readonly installationTag: string;
  /** Properties files of spark-submits under way (one per launch; see runSparkSubmit). */
  private readonly submitDir: string;
  private staleSubmitFilesSwept = false;

  constructor(options: YarnLauncherOptions) {
    super({ ...options, launchDeadlineMs: options.launchDeadlineMs ?? DEFAULT_YARN_LAUNCH_DEADLINE_MS });
    this.opts = options;
    this.hostEnv = options.hostEnv ?? process.env;
    if (!QUEUE.test(options.defaultQueue ?? 'default')) throw new Error(`"${options.defaultQueue}" is not a YARN queue name`);
    this.installationTag = installationTag(options.installationId);
    this.submitDir = path.join(options.runtimeDir, 'spark-submit');
    this.rm = new ResourceManagerClient({ url: options.rmUrl, user: options.serviceUser });
    this.poller = new YarnAppPoller({ client: this.rm, commonTag: ATRIUM_APP_TAG, intervalMs: options.pollIntervalMs, logger: options.logger });
  }

  /** Starts the RM poller (kernels are followed only while it runs). */
  start(): void {
    this.poller.start();
  }

  stop(): Promise<void> {
    return this.poller.stop();
  }

  /**
   * This installation's live applications (one RM request, by the installation tag), for the orphan sweep.
   * Applications without a single kernel tag are left out. Throws a ResourceManagerError when the RM fails.
   */
  async listOwnEngines(): Promise<ClusterEngine[]> {
    let apps: YarnApp[];
    try {
      apps = await this.rm.listApps({ tags: [this.installationTag], states: LIVE_APP_STATES });
    } catch (error) {
      throw new ResourceManagerError(`cannot list this installation's YARN applications (tag ${this.installationTag}): ${(error as Error).message}`, (error as ResourceManagerError).status);
    }
    return apps.flatMap((app) => ownEngineOf(app, this.installationTag) ?? []);
  }

  /**
   * The RM REST kill of an application the sweep found no kernel owns. An application that has ended, or that
   * the RM no longer knows, counts as killed. One carrying another installation's tags is refused: a sweep only
   * ever touches its own installation's applications.
   */
  async killOrphan(engine: ClusterEngine): Promise<void> {
    if (engine.launcher !== this.name) throw new Error(`the YARN launcher cannot kill ${engine.label} (listed by the ${engine.launcher} launcher)`);
    let app: YarnApp;
    try {
      app = await this.rm.getApp(engine.engineId);
    } catch (error) {
      if (error instanceof ResourceManagerError && error.status === 404) return;
      throw error;
    }
    if (isFinal(app.state)) return;
    if (!appTags(app).includes(this.installationTag)) {
      throw new Error(`${engine.label} does not carry this installation's tag ${this.installationTag}; it was left running`);
    }
    await this.rm.killApp(app.id);
    this.poller.refresh();
  }

  override async launch(request: LaunchRequest, options: LaunchOptions = {}): Promise<RemoteKernelProcess> {
    this.pending.add(request.kernelId);
    if (options.onPhase) this.phaseReporters.set(request.kernelId, options.onPhase);
    try {
      return await super.launch(request, options);
    } catch (error) {
      const reason = this.cancellations.get(request.kernelId);
      if (reason === undefined || !(error instanceof LaunchError)) throw error;
      const app = error.engineId ? `its YARN application ${error.engineId} was killed` : 'nothing reached YARN';
      throw new LaunchError('LAUNCH_FAILED', `kernel ${request.kernelId}: ${reason}; ${app}`, { kernelId: request.kernelId, engineId: error.engineId, cause: error });
    } finally {
      this.pending.delete(request.kernelId);
      this.phaseReporters.delete(request.kernelId);
      this.cancellations.delete(request.kernelId);
    }
  }

  /**
   * Abandons a pending launch: the payload wait ends, and the base kills the application (RM REST) before
   * the launch rejects. A no-op for a kernel that is not launching.
   */
  override cancel(kernelId: string, reason = 'the launch was cancelled'): void {
    if (this.pending.has(kernelId)) this.cancellations.set(kernelId, reason);
    super.cancel(kernelId, reason);
  }

  protected async startEngine({ request, argv, env }: EngineStart): Promise<RemoteEngine> {
    const { kernelId, kernelspec } = request;
    const size = chooseSize(sizeTableOf(kernelspec.spec.metadata.atrium), request.sizeProfile);
    if ('error' in size) throw invalid(kernelId, size.error);
    const queue = (await this.opts.queueFor?.(request.username)) || this.opts.defaultQueue || 'default';
    this.zip ??= launcherZip(this.opts.launcherPythonPath ?? BUNDLED_LAUNCHER_PYTHONPATH, this.opts.runtimeDir);
    const pyFiles = await this.zip.catch((error: unknown) => {
      this.zip = undefined;
      throw error;
    });
    // The token would sit on spark-submit's command line here and on the AM's on the node, readable by all.
    if (kernelspec.spec.argv.some((arg) => arg.includes('{launch_token}'))) {
      throw invalid(kernelId, `kernelspec ${kernelspec.name} passes {launch_token} in its argv; on YARN pass it in env (ATRIUM_LAUNCH_TOKEN) instead`);
    }
    const { script, scriptArgs } = splitLauncherArgv(argv, kernelspec.resourceDir, kernelId);
    const impersonate = this.opts.impersonate ?? true;
    const propertiesFile = path.join(this.submitDir, `${kernelId}-${randomBytes(6).toString('hex')}.properties`);
    const command = sparkSubmitCommand({
      kernelId,
      installationId: this.opts.installationId,
      kernelspecName: kernelspec.name,
      username: request.username,
      impersonate,
      queue,
      size,
      script,
      scriptArgs,
      pyFiles,
      containerEnv: env,
      kernelPython: this.opts.kernelPython,
      sparkConf: { ...this.opts.sparkConf, ...kernelspecSparkConf(launcherConfig(kernelspec), kernelId) },
    }, propertiesFile);

    const report = (phase: string) => this.phaseReporters.get(kernelId)?.(phase);
    report(`submitting to YARN (queue ${queue}${impersonate ? `, as ${request.username}` : ''})`);
    const tag = kernelTag(kernelId);
    const submitted = await this.submit(kernelId, { ...command, propertiesFile });
    this.poller.track(tag, submitted.appId);
    report(`submitted to YARN${submitted.appId ? ` as ${submitted.appId}` : ''}`);
    return new YarnAppEngine({ tag, appId: submitted.appId, poller: this.poller, rm: this.rm, onPhase: report, logger: this.logger });
  }

  protected async restoreEngine(state: JsonObject, saved: SerializedKernel): Promise<RemoteEngine> {
    const parsed = YarnEngineStateSchema.safeParse(state);
    if (!parsed.success) {
      throw new LaunchError('RESTORE_FAILED', `kernel ${saved.kernelId}: invalid YARN engine state: ${z.prettifyError(parsed.error)}`, {
        kernelId: saved.kernelId,
        engineId: saved.engineId,
      });
    }
    this.poller.track(parsed.data.tag, parsed.data.appId);
    return new YarnAppEngine({ ...parsed.data, poller: this.poller, rm: this.rm, logger: this.logger });
  }

  /**
   * Runs spark-submit; resolves once it returned 0 (the app is with YARN) with the application id (from its
   * output, else one RM lookup by the kernel tag: the kernel row's engine_id must be the id, not a placeholder).
   * Its output tail names any failure.
   */
  private async submit(kernelId: string, command: { args: string[]; properties: Record<string, string>; propertiesFile: string }): Promise<{ appId?: string }> {
    const program = this.opts.sparkSubmit ?? 'spark-submit';
    const env: Record<string, string> = {};
    for (const name of [...HOST_ENV_ALLOW_LIST, 'JAVA_HOME']) {
      const value = this.hostEnv[name];
      if (value !== undefined) env[name] = value;
    }
    Object.assign(env, this.opts.submitEnv);
    await this.sweepStaleSubmitFiles();
    const deadlineMs = this.opts.submitDeadlineMs ?? DEFAULT_SUBMIT_DEADLINE_MS;
    const outcome = await runSparkSubmit({ kernelId, program, env, deadlineMs, ...command });
    const byTag = async () => latest(await this.rm.listApps({ tags: [kernelTag(kernelId)] }).catch(() => []))?.id;
    if (outcome.status === 'submitted') return { appId: outcome.appId ?? (await byTag()) };

    // Whatever reached YARN is killed: a failed launch leaves nothing running.
    const orphan = outcome.appId ?? (await byTag());
    if (orphan) await this.rm.killApp(orphan).catch(() => {});
    const how = outcome.status === 'timeout' ? `did not return within ${deadlineMs} ms; it was killed` : `failed (${outcome.signal ?? `exit code ${outcome.code}`})`;
    throw new LaunchError('LAUNCH_FAILED', `kernel ${kernelId}: spark-submit ${how}${orphan ? ` (application ${orphan} killed)` : ''}:\n${submitFailure(outcome.tail)}`, {
      kernelId,
      engineId: orphan,
    });
  }

  /**
   * Once per process: properties files a crashed portal left behind (they hold a launch token, useless by now).
   * Only files older than the submit deadline, so another process sharing the runtime dir keeps its own.
   */
  private async sweepStaleSubmitFiles(): Promise<void> {
    if (this.staleSubmitFilesSwept) return;
    this.staleSubmitFilesSwept = true;
    const names = await readdir(this.submitDir).catch(() => [] as string[]);
    const before = Date.now() - 2 * (this.opts.submitDeadlineMs ?? DEFAULT_SUBMIT_DEADLINE_MS);
    for (const name of names.filter((n) => n.endsWith('.properties'))) {
      const file = path.join(this.submitDir, name);
      const info = await stat(file).catch(() => undefined);
      if (info && info.mtimeMs < before) await rm(file, { force: true }).catch(() => {});
    }
  }
}

/**
 * What a user needs from spark-submit's output: the exception lines ("...AccessControlException: Permission
 * denied: user=ana, access=WRITE, inode=/user"), not the Java stack frames around them.
 */
export function submitFailure(lines: readonly string[]): string {
  const text = lines.filter((l) => !/^\s+at |^\s*\.\.\. \d+ more|^\s*Caused by: java\.lang\.reflect/.test(l));
  const errors = [...new Set(text.filter((l) => /(Exception|Error)\b.*:|denied|not allowed|does not exist|refused/i.test(l)).map((l) => l.trim()))];
  const told = (errors.length ? errors.slice(-4) : text.slice(-6)).join('\n');
  // Spark before 4.0 has no --load-spark-defaults (see sparkSubmitCommand).
  return text.some((l) => l.includes('--load-spark-defaults')) ? `this spark-submit is older than Spark 4.0, which Atrium's YARN launcher needs:\n${told}` : told;
}

// --- the engine: one YARN application ---

const YarnEngineStateSchema = z.object({
  tag: z.string().regex(/^atrium-kernel-[a-z0-9][a-z0-9_-]{0,63}$/),
  appId: z.string().regex(/^application_\d+_\d+$/).optional(),
});

interface YarnAppEngineInit {
  tag: string;
  appId?: string;
  poller: YarnAppPoller;
  rm: ResourceManagerClient;
  /** Reports launch phases while the launch is pending (a no-op afterwards). */
  onPhase?: (phase: string) => void;
  logger?: { warn(message: string, fields?: Record<string, unknown>): void } | undefined;
}

export class YarnAppEngine implements RemoteEngine {
  readonly tag: string;
  private appIdHint: string | undefined;
  private readonly poller: YarnAppPoller;
  private readonly rm: ResourceManagerClient;
  private readonly unsubscribe: () => void;
  /** Kept after cleanup() (which stops following the app), so a late poll() still says why it ended. */
  private ended: DeadStatus | undefined;
  private lastPhase: string | undefined;

  constructor(init: YarnAppEngineInit) {
    this.tag = init.tag;
    this.appIdHint = init.appId;
    this.poller = init.poller;
    this.rm = init.rm;
    const onView = (view: AppView) => {
      if (view.ended) this.ended ??= { alive: false, reason: view.ended.reason };
      const phase = view.app && !view.ended ? phaseOf(view.app) : undefined;
      if (phase && phase !== this.lastPhase && init.onPhase) {
        this.lastPhase = phase;
        init.onPhase(phase);
      }
    };
    this.unsubscribe = this.poller.subscribe(this.tag, onView);
    onView(this.poller.view(this.tag));
  }

  /** The application id once known; before that, the tag it will carry. */
  get engineId(): string {
    return this.appId ?? `YARN application tagged ${this.tag}`;
  }

  get appId(): string | undefined {
    return this.poller.appIdOf(this.tag) ?? this.appIdHint;
  }

  async poll(): Promise<KernelStatus> {
    const ended = this.ended ?? this.poller.view(this.tag).ended;
    return ended ? { alive: false, reason: ended.reason } : { alive: true };
  }

  async waitForExit(abort: AbortSignal): Promise<DeadStatus> {
    if (this.ended) return this.ended;
    const ended = await this.poller.waitForEnd(this.tag, abort);
    return { alive: false, reason: ended.reason };
  }

  /** The RM REST kill. Before the poller has seen the app, it is looked up by its tag (one request). */
  async kill(): Promise<void> {
    if (this.ended) return;
    let appId = this.appId;
    if (!appId) {
      appId = latest(await this.rm.listApps({ tags: [this.tag] }))?.id;
      this.appIdHint = appId;
    }
    if (!appId) return; // nothing reached YARN under this tag: nothing to kill
    await this.rm.killApp(appId);
    this.poller.refresh();
  }

  async cleanup(): Promise<void> {
    this.ended ??= this.poller.view(this.tag).ended && { alive: false, reason: this.poller.view(this.tag).ended!.reason };
    this.unsubscribe();
    this.poller.untrack(this.tag);
  }

  serialize(): JsonObject {
    const appId = this.appId;
    return { tag: this.tag, ...(appId && { appId }) };
  }
}
