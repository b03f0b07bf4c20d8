// One spark-submit of a YARN kernel (the launcher around it is yarn.ts):
//   spark-submit --master yarn --deploy-mode cluster of Atrium's Python launcher (an argv array, every value
//   validated; never a shell string) with --proxy-user <analyst>, the team's queue, the driver sized from the
//   chosen size profile, the tags `atrium` + `atrium-kernel-<id>` + `atrium-installation-<id>` (the application
//   is found by its tag, never by scanning), and spark.yarn.submit.waitAppCompletion=false so spark-submit
//   returns once YARN has the app. The size's GPUs are asked for as spark.driver.resource.gpu.amount (YARN's
//   yarn.io/gpu for the AM container); a size the AM container cannot match is refused.
// Every setting goes through a 0600 properties file (--properties-file) that lives only while spark-submit runs,
// never argv: the container environment holds the one-time launch token, and any local user of the portal host
// can read a command line in `ps`. Given a properties file, spark-submit skips the admins' spark-defaults.conf
// (only Spark 4.0+ has --load-spark-defaults to read both), so Atrium reads that file itself, exactly where and
// how Spark would, and writes it into the properties file under its own settings: the precedence --conf had over
// the defaults, on Spark 3.x and 4.x alike.
// Touch this file when the spark-submit command line, the settings it gets or the way it is run change.
import { spawn, type ChildProcess } from 'node:child_process';
import { chmod, mkdir, open, readdir, readFile, rm, stat, writeFile } from 'node:fs/promises';
import path from 'node:path';
import type { Readable } from 'node:stream';
import { StringDecoder } from 'node:string_decoder';
import { z } from 'zod';
import { USERNAME_PATTERN } from '../../identity/names';
import { describeSize, type SizeProfile } from '../../quota/sizes';
import { consoleLogger, type KernelLogger } from '../connection';
import { LaunchError } from './base';
import { ATRIUM_APP_TAG, installationTag, kernelTag } from './yarn-rm';

const OUTPUT_TAIL_LINES = 30;
/** A longer line of spark-submit's output is cut here (no id line is anywhere near it). */
const MAX_LINE_CHARS = 64 * 1024;

// --- validation and sizing ---

const QUEUE = /^[A-Za-z0-9_][A-Za-z0-9_.-]{0,254}$/;
const ENV_NAME = /^[A-Za-z_][A-Za-z0-9_]{0,127}$/;
const CONF_KEY = /^spark\.[A-Za-z0-9_.-]{1,200}$/;
/**
 * The NodeManager writes the AM's environment into its launch script as `export NAME="value"` without
 * escaping, so a value must not be able to leave its quotes or expand anything there. Before writing it,
 * ContainerLaunch.expandEnvironment (Hadoop 3.5.0) rewrites the value: `{{` becomes `$`, `}}` is dropped, and
 * `<LOG_DIR>`, `<CPS>` and `<ADD_OPENS>` are replaced, so "{{(id)}}" would arrive as "$(id)": those markers are
 * refused too. Touch CONTAINER_ENV_MARKERS when a Hadoop upgrade adds one (check expandEnvironment).
 */
const CONTAINER_ENV_VALUE = /^[^\0-\x1f\x7f"$`\\]{0,4096}$/;
const CONTAINER_ENV_MARKERS = ['{{', '}}', '<CPS>', '<LOG_DIR>', '<ADD_OPENS>'] as const;
const CONF_VALUE = /^[^\0-\x1f\x7f]{0,8192}$/;

export const isQueueName = (queue: string) => QUEUE.test(queue);

/** Whether Java's String.trim(), which Spark applies to what it reads from a properties file, would change it. */
const javaTrims = (value: string) => /^[\0- ]|[\0- ]$/.test(value);

/**
 * The smallest driver heap Atrium asks for: Spark's memory manager refuses a heap under 450 MiB (1.5 times the 300 MiB
 * it reserves), and the JVM reports a little less than -Xmx, so the SparkContext of a smaller driver never starts.
 */
export const MIN_DRIVER_MEMORY_MB = 512;
/** Spark's own minimum memory overhead; the Python kernel, beside the driver's JVM in the container, lives in it. */
export const MIN_DRIVER_OVERHEAD_MB = 384;
/** The smallest size profile a YARN kernel can run in: heap and overhead both at their minimum. */
export const MIN_YARN_SIZE_MB = MIN_DRIVER_MEMORY_MB + MIN_DRIVER_OVERHEAD_MB;
/** Spark's setting for the driver's GPUs; in cluster mode Spark asks YARN for as many `yarn.io/gpu` for the AM. */
export const DRIVER_GPU_AMOUNT = 'spark.driver.resource.gpu.amount';

/** Why a size profile can never run as a Spark driver on YARN (too little memory for one), if it cannot. */
export function yarnSizeRefusal(size: SizeProfile): string | undefined {
  if (size.memoryMb >= MIN_YARN_SIZE_MB) return undefined;
  return (
    `size ${describeSize(size)} is too small for a Spark driver on YARN, which needs at least ${MIN_YARN_SIZE_MB} MB ` +
    `(${MIN_DRIVER_MEMORY_MB} MB of heap and ${MIN_DRIVER_OVERHEAD_MB} MB for the JVM's overhead and the Python kernel). ` +
    "Choose a larger size, or ask an admin to raise this size's memory_mb."
  );
}

/**
 * The AM container (driver memory + overhead, cores, GPUs) for a size profile, matching what quota counts for it.
 * Memory: split so the sum is the profile's; a profile too small for that is refused rather than given a bigger
 * container than quota assumes. vCores: YARN allocates whole ones, so a fractional size gets the next whole number
 * (never less than it promises).
 */
export function driverResources(size: SizeProfile, kernelId: string): { memoryMb: number; overheadMb: number; cores: number; gpus: number } {
  const refusal = yarnSizeRefusal(size);
  if (refusal) throw invalidRequest(kernelId, refusal);
  const overheadMb = Math.max(MIN_DRIVER_OVERHEAD_MB, Math.ceil(size.memoryMb * 0.1));
  return { memoryMb: size.memoryMb - overheadMb, overheadMb, cores: Math.max(1, Math.ceil(size.vcores)), gpus: size.gpus };
}

/**
 * A driver that asks for GPUs only starts if Spark can find them: its default discovery plugin runs
 * spark.driver.resource.gpu.discoveryScript and fails the SparkContext without one (YARN does not tell Spark which
 * devices it gave). Checked on the settings spark-submit will get, spark-defaults.conf included, so the launch is
 * refused with what to do rather than the application dying in the AM. A custom spark.resources.discoveryPlugin
 * (e.g. RAPIDS's) may find them instead.
 */
export function checkDriverGpuDiscovery(settings: ReadonlyMap<string, string>, kernelId: string): void {
  const amount = Number(settings.get(DRIVER_GPU_AMOUNT) ?? '0');
  if (!(amount > 0)) return;
  if (settings.get('spark.driver.resource.gpu.discoveryScript')?.trim() || settings.get('spark.resources.discoveryPlugin')?.trim()) return;
  throw invalidRequest(
    kernelId,
    `its size asks for ${amount} GPU${amount === 1 ? '' : 's'}, but Spark cannot find a driver's GPUs without a discovery script. ` +
      'An admin must set spark.driver.resource.gpu.discoveryScript to a script present on every GPU node (Spark ships one: ' +
      'examples/src/main/scripts/getGpusResources.sh) in spark-defaults.conf or the kernelspec\'s spark_conf. Until then, choose a size without GPUs.',
  );
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
  /** Configured settings (portal config, then the kernelspec's `spark_conf`). */
  sparkConf: Record<string, string>;
}

export function invalidRequest(kernelId: string, message: string): LaunchError {
  return new LaunchError('INVALID_REQUEST', `kernel ${kernelId}: ${message}`, { kernelId });
}

/**
 * The launcher command line from a kernelspec argv (`[python] launch_kernel.py args...`, placeholders already
 * substituted): the script becomes spark-submit's primary resource, the rest its application arguments.
 */
export function splitLauncherArgv(argv: readonly string[], resourceDir: string, kernelId: string): { script: string; scriptArgs: string[] } {
  const rest = /^(python3?|.*\/python3?)$/.test(argv[0] ?? '') ? argv.slice(1) : [...argv];
  const [script, ...scriptArgs] = rest;
  if (!script?.endsWith('.py')) throw invalidRequest(kernelId, `a YARN kernelspec's argv must start with [python] <launcher>.py; got ${JSON.stringify(argv.slice(0, 2))}`);
  return { script: path.resolve(resourceDir, script), scriptArgs };
}

const SparkConfSchema = z.record(z.string(), z.union([z.string(), z.number(), z.boolean()]).transform(String));

/** A kernelspec's `metadata.atrium.config.spark_conf` (admin-written), as strings. */
export function kernelspecSparkConf(config: Record<string, unknown>, kernelId: string): Record<string, string> {
  if (config.spark_conf === undefined) return {};
  const parsed = SparkConfSchema.safeParse(config.spark_conf);
  if (!parsed.success) throw invalidRequest(kernelId, `the kernelspec's spark_conf must map setting names to values: ${z.prettifyError(parsed.error)}`);
  return parsed.data;
}

/** Checks every value that reaches spark-submit or the container; throws INVALID_REQUEST naming the bad one. */
export function validatePlan(plan: SubmitPlan): void {
  const { kernelId } = plan;
  if (!USERNAME_PATTERN.test(plan.username)) throw invalidRequest(kernelId, `user name "${plan.username}" cannot be a YARN proxy user`);
  if (!QUEUE.test(plan.queue)) throw invalidRequest(kernelId, `"${plan.queue}" is not a YARN queue name`);
  for (const [name, value] of Object.entries(plan.containerEnv)) {
    if (!ENV_NAME.test(name)) throw invalidRequest(kernelId, `"${name}" is not an environment variable name`);
    if (!CONTAINER_ENV_VALUE.test(value)) {
      throw invalidRequest(kernelId, `${name} may not hold quotes, "$", backquotes, backslashes or control characters on YARN (at most 4096 characters)`);
    }
    if (CONTAINER_ENV_MARKERS.some((marker) => value.includes(marker))) {
      throw invalidRequest(kernelId, `${name} may not hold "{{", "}}", <CPS>, <LOG_DIR> or <ADD_OPENS> on YARN: the NodeManager expands them in the container's launch script`);
    }
    // It reaches the container through the properties file, whose values Spark trims: refuse rather than change it.
    if (javaTrims(value)) throw invalidRequest(kernelId, `${name} starts or ends with a blank, which would not reach the kernel on YARN; remove the blank`);
  }
  for (const [key, value] of Object.entries(plan.sparkConf)) {
    if (!CONF_KEY.test(key)) throw invalidRequest(kernelId, `"${key}" is not a Spark setting name`);
    if (!CONF_VALUE.test(value)) throw invalidRequest(kernelId, `the Spark setting ${key} holds control characters`);
    // Spark trims what it reads from a properties file (--conf kept the blanks): refuse rather than change it.
    if (javaTrims(value)) throw invalidRequest(kernelId, `the Spark setting ${key} starts or ends with a blank, which Spark would drop; remove it from the configuration`);
  }
  for (const arg of [plan.script, plan.pyFiles, plan.kernelPython ?? '', ...plan.scriptArgs]) {
    if (/[\0-\x1f\x7f]/.test(arg)) throw invalidRequest(kernelId, 'a launcher argument holds control characters');
  }
}

// --- the command line ---

/**
 * The spark-submit command line and Atrium's settings for its properties file (never on argv: see the top of
 * the file). Atrium's own settings are set last, so configuration cannot override them; runSparkSubmit puts
 * all of them over the admins' spark-defaults.conf.
 */
export function sparkSubmitCommand(plan: SubmitPlan, propertiesFile: string): { args: string[]; properties: Record<string, string> } {
  validatePlan(plan);
  if (/[\0-\x1f\x7f]/.test(propertiesFile)) throw invalidRequest(plan.kernelId, 'the properties file path holds control characters');
  const driver = driverResources(plan.size, plan.kernelId);
  const conf: Record<string, string> = { ...plan.sparkConf };
  for (const [name, value] of Object.entries(plan.containerEnv)) conf[`spark.yarn.appMasterEnv.${name}`] = value;
  if (plan.kernelPython) {
    // After the container env: the portal's kernel Python wins over a kernelspec env PYSPARK_PYTHON.
    conf['spark.yarn.appMasterEnv.PYSPARK_PYTHON'] = plan.kernelPython;
    conf['spark.executorEnv.PYSPARK_PYTHON'] ??= plan.kernelPython;
  }
  Object.assign(conf, {
    'spark.yarn.tags': [ATRIUM_APP_TAG, kernelTag(plan.kernelId), installationTag(plan.installationId)].join(','),
    // spark-submit returns once YARN accepted the app: the portal follows it through the RM, not a client JVM.
    'spark.yarn.submit.waitAppCompletion': 'false',
    // A second attempt would start a second kernel for a launch that is already settled.
    'spark.yarn.maxAppAttempts': '1',
    'spark.driver.memoryOverhead': `${driver.overheadMb}m`,
    // Only a size with GPUs sets it: without, Spark asks YARN for none anyway.
    ...(driver.gpus > 0 && { [DRIVER_GPU_AMOUNT]: String(driver.gpus) }),
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
    // Instead of spark-defaults.conf: runSparkSubmit writes the defaults into it, under Atrium's settings.
    '--properties-file', propertiesFile,
    plan.script,
    ...plan.scriptArgs,
  ];
  return { args, properties: conf };
}

// --- Java properties files (what spark-submit reads: java.util.Properties.load over UTF-8) ---

export class PropertiesSyntaxError extends Error {
  constructor(
    message: string,
    readonly line: number,
  ) {
    super(`line ${line}: ${message}`);
    this.name = 'PropertiesSyntaxError';
  }
}

const isBlank = (c: string) => c === ' ' || c === '\t' || c === '\f';
const isLineEnd = (c: string) => c === '\n' || c === '\r';

/**
 * The logical lines of a properties file, as java.util.Properties' LineReader cuts them: leading blanks
 * skipped; a line whose first other character is `#` or `!` is a comment (no continuation); a line ending in an
 * odd number of backslashes continues on the next one, whose leading blanks are skipped; \n, \r and \r\n end
 * lines. Each comes with the number of the physical line where it starts, for error messages.
 */
function* logicalLines(text: string): Generator<{ chars: string; line: number }> {
  let chars = '';
  let offset = 0;
  // The line number of `offset`, counted as the text is read (\r\n is one line end): linear, not a recount from
  // the start for each line (that took 20 s for 20,000 lines, on the event loop, at every launch).
  let line = 1;
  let counted = 0;
  const lineAt = (end: number) => {
    for (; counted < end; counted++) {
      const c = text[counted];
      if (c === '\r' || (c === '\n' && text[counted - 1] !== '\r')) line++;
    }
    return line;
  };
  let skipBlanks = true;
  let continuing = false; // just after a backslash-newline: an empty line here ends the logical line
  let backslash = false; // an odd run of backslashes ends `chars`
  let i = 0;
  while (i < text.length) {
    const c = text[i++]!;
    if (skipBlanks) {
      if (isBlank(c)) continue;
      if (!continuing && isLineEnd(c)) continue;
      skipBlanks = false;
      continuing = false;
    }
    if (chars.length === 0) {
      offset = i - 1;
      if (c === '#' || c === '!') {
        while (i < text.length && !isLineEnd(text[i]!)) i++;
        skipBlanks = true;
        continue;
      }
    }
    if (!isLineEnd(c)) {
      chars += c;
      backslash = c === '\\' ? !backslash : false;
      continue;
    }
    if (chars.length === 0) {
      skipBlanks = true;
    } else if (backslash) {
      chars = chars.slice(0, -1); // the backslash that joins the lines is not part of them
      skipBlanks = true;
      continuing = true;
      backslash = false;
      if (c === '\r' && text[i] === '\n') i++;
    } else {
      yield { chars, line: lineAt(offset) };
      chars = '';
      skipBlanks = true;
    }
  }
  if (chars.length > 0) yield { chars: backslash ? chars.slice(0, -1) : chars, line: lineAt(offset) };
}

/** A key or value with its escapes undone: \t \n \r \f, \uXXXX, and `\x` = x for any other x. */
function unescape(s: string, line: number): string {
  if (!s.includes('\\')) return s;
  let out = '';
  for (let i = 0; i < s.length; i++) {
    const c = s[i]!;
    if (c !== '\\') {
      out += c;
      continue;
    }
    const next = s[++i] ?? '';
    if (next === 'u') {
      const hex = s.slice(i + 1, i + 5);
      if (!/^[0-9A-Fa-f]{4}$/.test(hex)) throw new PropertiesSyntaxError(`malformed \\uXXXX escape "\\u${hex}"`, line);
      out += String.fromCharCode(parseInt(hex, 16));
      i += 4;
    } else {
      out += { t: '\t', n: '\n', r: '\r', f: '\f' }[next] ?? next;
    }
  }
  return out;
}

/**
 * A properties file's settings, exactly as java.util.Properties.load(Reader) reads them: per logical line, the
 * key ends at the first unescaped `=`, `:` or blank; blanks, then one `=` or `:`, then blanks separate it from
 * the value; a later duplicate wins. Throws PropertiesSyntaxError (with the line) where Java would throw.
 */
export function parseProperties(text: string): Map<string, string> {
  const settings = new Map<string, string>();
  for (const { chars, line } of logicalLines(text)) {
    let keyEnd = 0;
    let valueStart = chars.length;
    let hasSeparator = false;
    let backslash = false;
    for (; keyEnd < chars.length; keyEnd++) {
      const c = chars[keyEnd]!;
      if (!backslash && (c === '=' || c === ':')) {
        valueStart = keyEnd + 1;
        hasSeparator = true;
        break;
      }
      if (!backslash && isBlank(c)) {
        valueStart = keyEnd + 1;
        break;
      }
      backslash = c === '\\' ? !backslash : false;
    }
    for (; valueStart < chars.length; valueStart++) {
      const c = chars[valueStart]!;
      if (isBlank(c)) continue;
      if (!hasSeparator && (c === '=' || c === ':')) {
        hasSeparator = true;
        continue;
      }
      break;
    }
    settings.set(unescape(chars.slice(0, keyEnd), line), unescape(chars.slice(valueStart), line));
  }
  return settings;
}

/**
 * Escapes for a properties file read as UTF-8: backslash and \t \n \r \f always; in keys the separators and
 * comment marks (`=`, `:`, blank, `#`, `!`); in values a leading blank; other control characters and UTF-16
 * surrogates as \uXXXX (a lone surrogate has no UTF-8 form). parseProperties reads back exactly what was written.
 */
function escapeProperty(s: string, isKey: boolean): string {
  let out = '';
  for (let i = 0; i < s.length; i++) {
    const c = s[i]!;
    const code = c.charCodeAt(0);
    const named = { '\\': '\\\\', '\t': '\\t', '\n': '\\n', '\r': '\\r', '\f': '\\f' }[c];
    if (named) out += named;
    else if (c === ' ' && (isKey || i === 0)) out += '\\ ';
    else if (isKey && (c === '=' || c === ':' || c === '#' || c === '!')) out += `\\${c}`;
    else if (code < 0x20 || code === 0x7f || (code >= 0xd800 && code <= 0xdfff)) out += `\\u${code.toString(16).padStart(4, '0')}`;
    else out += c;
  }
  return out;
}

/**
 * A Java properties file (spark-submit reads it as UTF-8) holding `settings`, one `key=value` a line. Note:
 * Spark trims each value it reads from a file, so leading and trailing blanks do not survive (in
 * spark-defaults.conf neither).
 */
export function propertiesFileText(settings: ReadonlyMap<string, string>): string {
  const lines = [...settings].map(([k, v]) => `${escapeProperty(k, true)}=${escapeProperty(v, false)}`);
  return ['# One spark-submit by Atrium; removed as soon as it returns.', ...lines, ''].join('\n');
}

// --- the admins' spark-defaults.conf ---

/**
 * The spark-defaults.conf that spark-submit reads when given no properties file, from its environment (Spark's
 * Utils.getDefaultPropertiesFile; bin/load-spark-env.sh sets SPARK_CONF_DIR to $SPARK_HOME/conf when it is
 * unset or empty). Undefined when the environment names neither: spark-submit would then find its home from its
 * own location, which Atrium cannot tell reliably (a pip install, a distribution's wrapper script).
 */
export function sparkDefaultsFile(env: Readonly<Record<string, string | undefined>>): string | undefined {
  const dir = env.SPARK_CONF_DIR || (env.SPARK_HOME && path.join(env.SPARK_HOME, 'conf'));
  return dir ? path.resolve(dir, 'spark-defaults.conf') : undefined;
}

/**
 * The settings of the spark-defaults.conf at `file` as Spark would read them; none when there is no regular
 * file there (Spark skips it too). A file that exists but cannot be read or parsed fails the launch, naming it:
 * going on without it would silently drop the admins' settings.
 */
export async function readSparkDefaults(file: string, kernelId: string): Promise<Map<string, string>> {
  const fail = (why: string, cause: unknown) =>
    new LaunchError('LAUNCH_FAILED', `kernel ${kernelId}: cannot read the Spark defaults file ${file} (${why}); Atrium passes its settings to spark-submit, so it must be readable by the portal's user and valid`, {
      kernelId,
      cause,
    });
  let text: string;
  try {
    if (!(await stat(file)).isFile()) return new Map();
    text = await readFile(file, 'utf8'); // like Spark: UTF-8, malformed bytes replaced, a BOM kept
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code === 'ENOENT' || code === 'ENOTDIR') return new Map();
    throw fail((error as Error).message, error);
  }
  try {
    return parseProperties(text);
  } catch (error) {
    throw fail((error as Error).message, error);
  }
}

// --- running it ---

export interface SparkSubmitRun {
  kernelId: string;
  program: string;
  args: string[];
  /** spark-submit's whole environment; it also says where spark-defaults.conf is (sparkDefaultsFile). */
  env: Record<string, string>;
  /** Written (0600, in a 0700 directory) before spark-submit starts and removed once it ended, whatever the outcome. */
  propertiesFile: string;
  /** Atrium's settings (sparkSubmitCommand); they win over spark-defaults.conf's. */
  properties: Record<string, string>;
  deadlineMs: number;
  /** Ends the run at once (the launch was cancelled): spark-submit's process group is killed, or it is never started. */
  signal?: AbortSignal;
  /** Told when the properties file cannot be removed (the outcome stands). */
  logger?: KernelLogger;
}

export type SparkSubmitOutcome =
  | { status: 'submitted'; appId?: string; tail: string[] }
  | { status: 'failed'; code: number | null; signal: NodeJS.Signals | null; appId?: string; tail: string[] }
  | { status: 'timeout'; appId?: string; tail: string[] }
  | { status: 'cancelled'; appId?: string; tail: string[] };

/** After SIGKILL, how long to wait to see spark-submit gone before reporting anyway. */
const KILL_WAIT_MS = 5_000;

/**
 * Runs spark-submit once, with its settings in a private properties file: spark-defaults.conf's, then Atrium's
 * over them (as --conf would have been). Its process group is killed at the deadline, or as soon as `signal` fires.
 */
export async function runSparkSubmit(run: SparkSubmitRun): Promise<SparkSubmitOutcome> {
  if (run.signal?.aborted) return { status: 'cancelled', tail: [] };
  const defaultsFile = sparkDefaultsFile(run.env);
  if (!defaultsFile) {
    throw new LaunchError('LAUNCH_FAILED', `kernel ${run.kernelId}: spark-submit's environment sets neither SPARK_CONF_DIR nor SPARK_HOME, so its spark-defaults.conf cannot be found`, {
      kernelId: run.kernelId,
    });
  }
  const settings = await readSparkDefaults(defaultsFile, run.kernelId);
  for (const [key, value] of Object.entries(run.properties)) settings.set(key, value);
  checkDriverGpuDiscovery(settings, run.kernelId);
  const dir = path.dirname(run.propertiesFile);
  await mkdir(dir, { recursive: true, mode: 0o700 });
  await chmod(dir, 0o700); // it may have existed with a looser mode
  // 'wx': never through a file (or link) that is already there, and a file that was there is not ours to remove.
  const file = await open(run.propertiesFile, 'wx', 0o600);
  try {
    // Within the try: a write that fails midway (ENOSPC) must not leave part of the token behind.
    try {
      await writeFile(file, propertiesFileText(settings));
    } finally {
      await file.close();
    }
    return await spawnAndWait(run);
  } finally {
    // A failed removal is told, never thrown: it would replace the outcome (a submitted app reported failed and
    // left running). removeStaleSubmitFiles gets another go at it after a restart.
    await rm(run.propertiesFile, { force: true }).catch((error: unknown) =>
      (run.logger ?? consoleLogger).error('cannot remove the spark-submit properties file (it holds a launch token)', {
        kernelId: run.kernelId,
        file: run.propertiesFile,
        error: String(error),
      }),
    );
  }
}

/**
 * Calls `onLine` with each whole line of a stream: a line cut across chunks is joined (a partial line is held
 * until its end arrives, so "application_1_0012" is never read as "application_1_001"), UTF-8 decoded across
 * chunks too; the last line is given at the end even without a newline.
 */
function readLines(stream: Readable | null, onLine: (line: string) => void): void {
  if (!stream) return;
  const decoder = new StringDecoder('utf8');
  let partial = '';
  const take = (text: string) => {
    const lines = (partial + text).split('\n');
    partial = lines.pop()!;
    for (const line of lines) onLine(line);
    if (partial.length > MAX_LINE_CHARS) {
      onLine(partial); // endless output without a newline is not held in memory
      partial = '';
    }
  };
  stream.on('data', (chunk: Buffer) => take(decoder.write(chunk)));
  stream.once('end', () => {
    take(decoder.end());
    if (partial) onLine(partial);
    partial = '';
  });
}

async function spawnAndWait(run: SparkSubmitRun): Promise<SparkSubmitOutcome> {
  if (run.signal?.aborted) return { status: 'cancelled', tail: [] };
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
  const take = (line: string) => {
    if (!line.trim()) return;
    appId ??= /Submitted application (application_\d+_\d+)\b/.exec(line)?.[1];
    tail.push(line);
    if (tail.length > OUTPUT_TAIL_LINES) tail.shift();
  };
  readLines(child.stdout, take);
  readLines(child.stderr, take);
  let timer: NodeJS.Timeout | undefined;
  let onAbort: (() => void) | undefined;
  const outcome = await new Promise<{ code: number | null; signal: NodeJS.Signals | null } | 'timeout' | 'cancelled'>((resolve) => {
    child.once('close', (code, signal) => resolve({ code, signal }));
    timer = setTimeout(() => resolve('timeout'), run.deadlineMs);
    onAbort = () => resolve('cancelled');
    run.signal?.addEventListener('abort', onAbort, { once: true });
    if (run.signal?.aborted) resolve('cancelled'); // fired while it was being spawned
  });
  clearTimeout(timer);
  if (onAbort) run.signal?.removeEventListener('abort', onAbort);
  if (outcome === 'timeout' || outcome === 'cancelled') {
    await killProcessGroup(child);
    return { status: outcome, appId, tail };
  }
  if (outcome.code === 0) return { status: 'submitted', appId, tail };
  return { status: 'failed', ...outcome, appId, tail };
}

/**
 * SIGKILLs spark-submit's process group (its JVM and whatever it started), then waits, bounded, to see it exit: a
 * JVM still alive could yet hand an application to YARN after the caller looked for one.
 */
async function killProcessGroup(child: ChildProcess): Promise<void> {
  try {
    process.kill(-child.pid!, 'SIGKILL');
  } catch {
    // the group is gone already
  }
  if (child.exitCode !== null || child.signalCode !== null) return;
  await new Promise<void>((resolve) => {
    const timer = setTimeout(resolve, KILL_WAIT_MS);
    child.once('exit', () => {
      clearTimeout(timer);
      resolve();
    });
  });
}

/**
 * Properties files a crashed portal left in `dir` (they hold a launch token, useless by now). Only files older
 * than `olderThanMs`, so another process sharing the directory keeps the ones of its spark-submits under way.
 */
export async function removeStaleSubmitFiles(dir: string, olderThanMs: number): Promise<void> {
  const names = await readdir(dir).catch(() => [] as string[]);
  const before = Date.now() - olderThanMs;
  for (const name of names.filter((n) => n.endsWith('.properties'))) {
    const file = path.join(dir, name);
    const info = await stat(file).catch(() => undefined);
    if (info && info.mtimeMs < before) await rm(file, { force: true }).catch(() => {});
  }
}

/**
 * What a user needs from spark-submit's output: the exception lines ("...AccessControlException: Permission
 * denied: user=ana, access=WRITE, inode=/user"), not the Java stack frames around them.
 */
export function submitFailure(lines: readonly string[]): string {
  const text = lines.filter((l) => !/^\s+at |^\s*\.\.\. \d+ more|^\s*Caused by: java\.lang\.reflect/.test(l));
  const errors = [...new Set(text.filter((l) => /(Exception|Error)\b.*:|denied|not allowed|does not exist|refused/i.test(l)).map((l) => l.trim()))];
  return (errors.length ? errors.slice(-4) : text.slice(-6)).join('\n');
}
