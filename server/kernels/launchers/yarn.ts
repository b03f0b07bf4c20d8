// The YARN launcher (`metadata.atrium.launcher: "yarn"`): the kernel is the Spark driver of a YARN cluster-mode
// application, run as the analyst. Only the engine step lives here (remote.ts does the launch protocol): it
// picks the team's queue and the size, ships Atrium's launcher package, and has the application submitted by one
// spark-submit (yarn-submit.ts: its command line, its private properties file with the admins'
// spark-defaults.conf merged in, running it).
// The application's life is the kernel's life: poll()/waitForExit() read the one ResourceManager poller
// (yarn-rm.ts); kill() is the RM REST kill. While a launch is pending the RM's states become launch phases
// ("submitted to YARN", "accepted by YARN: <diagnostics>", "running on <host>").
// A launch has one deadline, spark-submit included; cancel() kills a spark-submit under way at once, so a stopped
// kernel's stop does not wait for it and nothing is submitted for it afterwards.
// spark-submit runs as the service user (HADOOP_USER_NAME, simple auth), the same Hadoop user as the RM REST calls.
// listOwnEngines()/killOrphan() serve the orphan sweep (orphan-sweeper.ts): one RM query by the installation tag.
// Touch this file when the queue, sizing, launcher package or the kernel's container environment change.
import { createHash, randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdir, readdir, readFile, rename, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { crc32, deflateRawSync } from 'node:zlib';
import { z } from 'zod';
import { chooseSize, sizeTableOf } from '../../quota/sizes';
import { launcherConfig } from '../kernelspecs';
import type { LaunchedConnectionInfo } from '../launch-protocol/payload';
import type { JsonObject } from '../protocol/messages';
import { LaunchError, YARN_LAUNCHER, type ClusterEngine, type DeadStatus, type KernelStatus, type LaunchOptions, type LaunchRequest, type SerializedKernel } from './base';
import { HOST_ENV_ALLOW_LIST } from './local';
import { RemoteLauncher, type EngineStart, type RemoteEngine, type RemoteKernelProcess, type RemoteLauncherOptions } from './remote';
import { BUNDLED_LAUNCHER_PYTHONPATH } from './remote-local';
import {
  ATRIUM_APP_TAG,
  LIVE_APP_STATES,
  ResourceManagerClient,
  ResourceManagerError,
  YarnAppPoller,
  amHost,
  appTags,
  installationTag,
  isFinal,
  kernelTag,
  latest,
  ownEngineOf,
  type AppView,
  type YarnApp,
} from './yarn-rm';
import {
  invalidRequest,
  isQueueName,
  kernelspecSparkConf,
  removeStaleSubmitFiles,
  runSparkSubmit,
  sparkDefaultsFile,
  sparkSubmitCommand,
  splitLauncherArgv,
  submitFailure,
  yarnSizeRefusal,
} from './yarn-submit';

/** How long spark-submit may take to hand the application to YARN. */
const DEFAULT_SUBMIT_DEADLINE_MS = 120_000;
/** Queue waits are normal on YARN: a launch may wait this long for its payload unless configured otherwise. */
const DEFAULT_YARN_LAUNCH_DEADLINE_MS = 300_000;

// --- configuration ---

export interface YarnLauncherOptions extends RemoteLauncherOptions {
  /** The ResourceManager's web address, e.g. http://rm.example.com:8088 (ATRIUM_YARN_RM_URL). */
  rmUrl: string;
  /** This installation's id (db/queries/installation.ts): its applications carry it as a tag, for the orphan sweep. */
  installationId: string;
  /**
   * The portal's service user: `user.name` for RM REST calls (simple HTTP auth), and HADOOP_USER_NAME for spark-submit,
   * so the user that impersonates analysts (--proxy-user) is the one that was granted it. Hadoop ignores
   * HADOOP_USER_NAME under Kerberos: spark-submit is then the principal of the portal's ticket.
   */
  serviceUser?: string;
  /** The spark-submit to run (default: `spark-submit` on PATH). */
  sparkSubmit?: string;
  /**
   * Environment for spark-submit besides the host basics: SPARK_HOME, HADOOP_CONF_DIR, SPARK_CONF_DIR... SPARK_CONF_DIR
   * or SPARK_HOME is required: it says which spark-defaults.conf applies (yarn-submit.ts reads it).
   */
  submitEnv?: Record<string, string>;
  /** Extra Spark settings for every launch (trusted: from the portal's config); over spark-defaults.conf's, under Atrium's own. */
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
  /** Deadline for spark-submit to return after submitting (within the launch's own deadline). Default 120 s. */
  submitDeadlineMs?: number;
  /** Where the launcher package zip (--files) and the properties files (spark-submit/) are written. */
  runtimeDir: string;
  /** Directory holding `atrium_launcher`; default the bundled kernel-launchers/python. */
  launcherPythonPath?: string;
  /** Where the allow-listed host variables come from. Default: this process. */
  hostEnv?: NodeJS.ProcessEnv;
}

/** A launch under way, from launch() until it settles. */
interface PendingLaunch {
  /** Fired by cancel(): spark-submit under way is killed at once, or never started. */
  readonly abort: AbortController;
  /** The whole launch's deadline (ms), and when it runs out (epoch ms): spark-submit's time counts against it. */
  readonly deadlineMs: number;
  readonly deadlineAt: number;
  /** Reports launch phases to the caller. */
  readonly onPhase?: (phase: string) => void;
  /** Why it was cancelled, so its error says so. */
  cancelled?: string;
  /** The error of a spark-submit the cancel stopped: it already says why and what reached YARN. */
  cancelError?: LaunchError;
  /** How long spark-submit took, for a timeout's message. */
  submitMs?: number;
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

/**
 * The application a kernel's spark-submit created: the id its output named once the RM confirms it carries the
 * kernel's tag, else the newest application with that tag (a restart may have left an older one). Undefined
 * when neither, an unreachable RM included: the poller then finds the application by its tag, and the orphan
 * sweep any that outlived its launch. Never an id the RM has not shown with the tag: it may be another user's.
 */
export async function submittedAppId(rm: Pick<ResourceManagerClient, 'getApp' | 'listApps'>, kernelId: string, fromOutput: string | undefined): Promise<string | undefined> {
  const tag = kernelTag(kernelId);
  if (fromOutput) {
    const app = await rm.getApp(fromOutput).catch(() => undefined);
    if (app && appTags(app).includes(tag)) return app.id;
  }
  const tagged = await rm.listApps({ tags: [tag] }).catch(() => [] as YarnApp[]);
  return latest(tagged.filter((app) => appTags(app).includes(tag)))?.id;
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
  readonly name = YARN_LAUNCHER;
  readonly sizeRefusal = yarnSizeRefusal;
  readonly rm: ResourceManagerClient;
  /** The one poller for every YARN kernel of this process. */
  readonly poller: YarnAppPoller;
  private readonly opts: YarnLauncherOptions;
  /** spark-submit's whole environment: the allow-listed host variables, JAVA_HOME, then submitEnv. */
  private readonly submitEnv: Record<string, string>;
  /** Launches under way; removed when one settles, so its phases stop there. */
  private readonly launches = new Map<string, PendingLaunch>();
  private zip: Promise<string> | undefined;
  /** `atrium-installation-<id>`: on every application submitted here; what listOwnEngines() asks the RM for. */
  readonly installationTag: string;
  /** Properties files of spark-submits under way (one per launch; see runSparkSubmit); stale ones removed once. */
  private readonly submitDir: string;
  private staleSubmitFilesSwept = false;

  constructor(options: YarnLauncherOptions) {
    super({ ...options, launchDeadlineMs: options.launchDeadlineMs ?? DEFAULT_YARN_LAUNCH_DEADLINE_MS });
    this.opts = options;
    if (!isQueueName(options.defaultQueue ?? 'default')) throw new Error(`"${options.defaultQueue}" is not a YARN queue name`);
    const hostEnv = options.hostEnv ?? process.env;
    this.submitEnv = {};
    for (const name of [...HOST_ENV_ALLOW_LIST, 'JAVA_HOME']) {
      const value = hostEnv[name];
      if (value !== undefined) this.submitEnv[name] = value;
    }
    Object.assign(this.submitEnv, options.submitEnv);
    if (options.serviceUser) {
      // Under simple auth Hadoop takes spark-submit's user from HADOOP_USER_NAME, else the OS user: without it, a
      // portal running as `node` with service user `atrium` would fail every launch ("node is not allowed to impersonate").
      const given = this.submitEnv.HADOOP_USER_NAME;
      if (given !== undefined && given !== options.serviceUser) {
        throw new Error(
          `spark-submit's environment sets HADOOP_USER_NAME=${given}, but the YARN service user is ${options.serviceUser}: both must be the same Hadoop user; remove HADOOP_USER_NAME or set the service user (ATRIUM_YARN_SERVICE_USER) to it`,
        );
      }
      this.submitEnv.HADOOP_USER_NAME = options.serviceUser;
    }
    // Atrium merges the admins' spark-defaults.conf into each launch's settings (yarn-submit.ts), so it must know
    // where spark-submit would look: refuse to start rather than silently drop those settings.
    if (!sparkDefaultsFile(this.submitEnv)) {
      throw new Error(
        'the YARN launcher needs SPARK_HOME or SPARK_CONF_DIR in spark-submit\'s environment (ATRIUM_YARN_SPARK_HOME or ATRIUM_YARN_SPARK_CONF_DIR) to find spark-defaults.conf',
      );
    }
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
    const deadlineMs = options.deadlineMs ?? this.launchDeadlineMs;
    const launch: PendingLaunch = { abort: new AbortController(), deadlineMs, deadlineAt: Date.now() + deadlineMs, onPhase: options.onPhase };
    this.launches.set(request.kernelId, launch);
    try {
      return await super.launch(request, options);
    } catch (error) {
      const reason = launch.cancelled;
      if (reason === undefined || !(error instanceof LaunchError) || error === launch.cancelError) throw error;
      const app = error.engineId ? `its YARN application ${error.engineId} was killed` : 'nothing reached YARN';
      throw new LaunchError('LAUNCH_FAILED', `kernel ${request.kernelId}: ${reason}; ${app}`, { kernelId: request.kernelId, engineId: error.engineId, cause: error });
    } finally {
      if (this.launches.get(request.kernelId) === launch) this.launches.delete(request.kernelId);
    }
  }

  /**
   * Abandons a pending launch: a spark-submit under way is killed at once (whatever it got to YARN is killed too),
   * else the payload wait ends and the base kills the application (RM REST) before the launch rejects. A no-op for a
   * kernel that is not launching.
   */
  override cancel(kernelId: string, reason = 'the launch was cancelled'): void {
    const launch = this.launches.get(kernelId);
    if (launch) {
      launch.cancelled ??= reason;
      launch.abort.abort();
    }
    super.cancel(kernelId, reason);
  }

  /** The payload wait gets what is left of the launch's deadline after spark-submit, not a deadline of its own. */
  protected override async confirmRemoteStartup(kernelId: string, engine: RemoteEngine, deadlineMs: number): Promise<LaunchedConnectionInfo> {
    const launch = this.launches.get(kernelId);
    if (!launch) return super.confirmRemoteStartup(kernelId, engine, deadlineMs);
    try {
      return await super.confirmRemoteStartup(kernelId, engine, Math.max(1, launch.deadlineAt - Date.now()));
    } catch (error) {
      if (!(error instanceof LaunchError) || error.code !== 'LAUNCH_TIMEOUT') throw error;
      throw new LaunchError('LAUNCH_TIMEOUT', `${error.message} The launch's deadline is ${launch.deadlineMs} ms in all; spark-submit took ${launch.submitMs ?? 0} ms of it.`, {
        kernelId,
        engineId: error.engineId,
        cause: error,
      });
    }
  }

  protected async startEngine({ request, argv, env }: EngineStart): Promise<RemoteEngine> {
    const { kernelId, kernelspec } = request;
    const launch = this.launches.get(kernelId);
    const size = chooseSize(sizeTableOf(kernelspec.spec.metadata.atrium), request.sizeProfile);
    if ('error' in size) throw invalidRequest(kernelId, size.error);
    const queue = (await this.opts.queueFor?.(request.username)) || this.opts.defaultQueue || 'default';
    this.zip ??= launcherZip(this.opts.launcherPythonPath ?? BUNDLED_LAUNCHER_PYTHONPATH, this.opts.runtimeDir);
    const pyFiles = await this.zip.catch((error: unknown) => {
      this.zip = undefined;
      throw error;
    });
    // The token would sit on spark-submit's command line here and on the AM's on the node, readable by all.
    if (kernelspec.spec.argv.some((arg) => arg.includes('{launch_token}'))) {
      throw invalidRequest(kernelId, `kernelspec ${kernelspec.name} passes {launch_token} in its argv; on YARN pass it in env (ATRIUM_LAUNCH_TOKEN) instead`);
    }
    const { script, scriptArgs } = splitLauncherArgv(argv, kernelspec.resourceDir, kernelId);
    const impersonate = this.opts.impersonate ?? true;
    // A person named like the service user (an account from before such names were reserved) would run as it.
    if (impersonate && this.opts.serviceUser && request.username === this.opts.serviceUser) {
      throw invalidRequest(kernelId, `the Atrium user ${request.username} has the name of the YARN service user (ATRIUM_YARN_SERVICE_USER): Atrium does not run YARN kernels as it; tell an Atrium administrator`);
    }
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

    // Phases stop once the launch settled (the engine keeps reporting to this).
    const report = (phase: string) => {
      if (launch && this.launches.get(kernelId) === launch) launch.onPhase?.(phase);
    };
    if (launch?.abort.signal.aborted) throw new LaunchError('LAUNCH_FAILED', `kernel ${kernelId}: the launch was cancelled before spark-submit ran`, { kernelId });
    report(`submitting to YARN (queue ${queue}${impersonate ? `, as ${request.username}` : ''})`);
    const tag = kernelTag(kernelId);
    const submitted = await this.submit(kernelId, { ...command, propertiesFile }, launch);
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
   * Runs spark-submit; resolves once it returned 0 (the app is with YARN) with the application id (submittedAppId:
   * the one its output named if the RM shows it with the kernel's tag, else the newest with that tag; the kernel
   * row's engine_id must be the id, not a placeholder). Its output tail names any failure. Within `launch`, it gets
   * no more than what is left of the launch's deadline, and a cancel kills it.
   */
  private async submit(kernelId: string, command: { args: string[]; properties: Record<string, string>; propertiesFile: string }, launch?: PendingLaunch): Promise<{ appId?: string }> {
    const program = this.opts.sparkSubmit ?? 'spark-submit';
    const submitDeadlineMs = this.opts.submitDeadlineMs ?? DEFAULT_SUBMIT_DEADLINE_MS;
    if (!this.staleSubmitFilesSwept) {
      // Once per process; files of another process's spark-submits under way are younger than this.
      this.staleSubmitFilesSwept = true;
      await removeStaleSubmitFiles(this.submitDir, 2 * submitDeadlineMs);
    }
    const launchLeftMs = launch ? launch.deadlineAt - Date.now() : Infinity;
    if (launchLeftMs <= 0) {
      throw new LaunchError('LAUNCH_TIMEOUT', `kernel ${kernelId}: the launch's deadline of ${launch!.deadlineMs} ms ran out before spark-submit could run; nothing reached YARN`, { kernelId });
    }
    const deadlineMs = Math.min(submitDeadlineMs, launchLeftMs);
    const startedAt = Date.now();
    const outcome = await runSparkSubmit({ kernelId, program, env: this.submitEnv, deadlineMs, signal: launch?.abort.signal, logger: this.logger, ...command });
    if (launch) launch.submitMs = Date.now() - startedAt;
    const appId = await submittedAppId(this.rm, kernelId, outcome.appId);
    if (outcome.appId && appId !== outcome.appId) {
      this.logger?.warn('spark-submit named an application the ResourceManager does not show with the kernel\'s tag; it is left alone', {
        kernelId,
        named: outcome.appId,
        tagged: appId,
      });
    }
    if (outcome.status === 'submitted') return { appId };

    // Whatever reached YARN under the kernel's tag is killed: a failed launch leaves nothing running.
    // A kill that fails is said so; the orphan sweep kills the application later (its kernel's row is dead).
    // A spark-submit killed midway may have handed the application over already: the RM is asked by the kernel's tag
    // (after it exited). One that reaches the RM only after that answer is the orphan sweep's (the row is dead).
    const killed = appId ? await this.rm.killApp(appId).then(() => `application ${appId} killed`, (error: Error) => `application ${appId} could not be killed yet: ${error.message}`) : undefined;
    if (outcome.status === 'cancelled') {
      const error = new LaunchError('LAUNCH_FAILED', `kernel ${kernelId}: ${launch?.cancelled ?? 'the launch was cancelled'}; spark-submit was stopped and ${killed ? `its ${killed}` : 'nothing reached YARN'}`, {
        kernelId,
        engineId: appId,
      });
      if (launch) launch.cancelError = error;
      throw error;
    }
    if (outcome.status === 'timeout' && deadlineMs < submitDeadlineMs) {
      throw new LaunchError(
        'LAUNCH_TIMEOUT',
        `kernel ${kernelId}: spark-submit had not returned when the launch's deadline of ${launch!.deadlineMs} ms ran out; it was killed${killed ? ` (${killed})` : ''}:\n${submitFailure(outcome.tail)}`,
        { kernelId, engineId: appId },
      );
    }
    const how = outcome.status === 'timeout' ? `did not return within ${deadlineMs} ms; it was killed` : `failed (${outcome.signal ?? `exit code ${outcome.code}`})`;
    throw new LaunchError('LAUNCH_FAILED', `kernel ${kernelId}: spark-submit ${how}${killed ? ` (${killed})` : ''}:\n${submitFailure(outcome.tail)}`, {
      kernelId,
      engineId: appId,
    });
  }

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
