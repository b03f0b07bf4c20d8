// The shared base of every launcher that goes through the launch protocol (remote-local now; YARN and
// Kubernetes later), after Jupyter Enterprise Gateway's RemoteProcessProxy. A leaf adds only its engine step:
// start the kernel launcher somewhere (child process, YARN application, pod), say whether that is still
// alive, kill it, and save/restore what identifies it. Everything else is here, once:
//   register with the ResponseListener → substitute the placeholders into argv (validated values, argv only,
//   never a shell string) → start the engine → wait for the payload, failing fast if the engine dies first →
//   on timeout cancel, kill the engine, then report LAUNCH_TIMEOUT with the kernel id and the engine id.
// The kernel is signalled and shut down through the launcher's communication port (the engine kill is only
// the fallback), and serialize() keeps the comm target + key so a restarted portal can still interrupt it.
// Touch this file when the launch protocol's placeholders or comm-port semantics change (kernel-launchers/README.md).
import { constants as osConstants } from 'node:os';
import { z } from 'zod';
import { isAppError } from '../../errors';
import type { ConnectionInfo, KernelLogger } from '../connection';
import { launcherConfig, type Kernelspec } from '../kernelspecs';
import { commTargetOf, requestShutdown, sendSignal, type CommTarget } from '../launch-protocol/comm-client';
import { CommPortError } from '../launch-protocol/errors';
import { PROTOCOL_V1, PROTOCOL_V2, type LaunchedConnectionInfo, type LaunchProtocolVersion } from '../launch-protocol/payload';
import type { ResponseListener, ResponseTicket } from '../launch-protocol/response-listener';
import type { JsonObject } from '../protocol/messages';
import {
  DEFAULT_INTERRUPT_DEADLINE_MS,
  DEFAULT_KILL_DEADLINE_MS,
  DEFAULT_STARTUP_DEADLINE_MS,
  KernelProcess,
  LaunchError,
  assertValidKernelId,
  kernelEnv,
  type DeadStatus,
  type KernelProcessInit,
  type KernelStatus,
  type LaunchOptions,
  type LaunchRequest,
  type Launcher,
  type SerializedKernel,
} from './base';

/** After a comm-port shutdown request, how long the launcher gets to stop before the engine is killed. */
export const DEFAULT_SHUTDOWN_GRACE_MS = 3_000;
/** Asks Atrium's launcher to make the kernel's sockets CURVE servers (kernel-launchers/README.md). */
export const CURVE_ENV = 'ATRIUM_KERNEL_CURVE';

// --- the engine: what a leaf implements ---

/**
 * Where the kernel launcher runs: a child process, a YARN application, a pod. The launcher IS the kernel
 * process (atrium_launcher runs ipykernel in-process), so the engine's life is the kernel's life.
 */
export interface RemoteEngine {
  /** pid, YARN application id, pod name: for errors, logs and admins. */
  readonly engineId: string;
  /** Is it running right now? Never throws for a dead engine: it says why it ended. */
  poll(): Promise<KernelStatus>;
  /** Resolves when it is seen dead; once `abort` fires it never resolves. */
  waitForExit(abort: AbortSignal): Promise<DeadStatus>;
  /** Forcibly stops it (SIGKILL to the process group, YARN kill, pod delete). Resolves once requested. */
  kill(): Promise<void>;
  /** Releases what the portal holds for it (streams, files, watches). Idempotent. */
  cleanup(): Promise<void>;
  /** Plain JSON that restoreEngine() turns back into an engine after a portal restart. */
  serialize(): JsonObject;
}

export interface EngineStart {
  request: LaunchRequest;
  /** The kernelspec argv with every placeholder substituted; run it as is (no shell). */
  argv: string[];
  /** The kernelspec env (substituted) plus Atrium's KERNEL_* variables. The engine adds its host basics. */
  env: Record<string, string>;
}

// --- placeholders ---

/** What `{...}` in a remote kernelspec's argv and env may name; see kernel-launchers/README.md. */
export interface LaunchPlaceholders {
  kernel_id: string;
  response_address: string;
  public_key: string;
  port_range: string;
  resource_dir: string;
  /** Protocol 2 only. */
  launch_token?: string;
}

const PLACEHOLDER = /\{(kernel_id|response_address|public_key|port_range|resource_dir|launch_token|connection_file)\}/g;

const PLACEHOLDER_VALUE_RULES: Record<keyof LaunchPlaceholders, RegExp> = {
  kernel_id: /^[A-Za-z0-9][A-Za-z0-9_-]{0,63}$/,
  response_address: /^(\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9][A-Za-z0-9.-]{0,252}):[0-9]{1,5}$/,
  public_key: /^[A-Za-z0-9+/]{16,4096}={0,2}$/,
  port_range: /^[0-9]{1,5}\.\.[0-9]{1,5}$/,
  resource_dir: /^[^\0-\x1f\x7f]{1,4096}$/,
  launch_token: /^[A-Za-z0-9_-]{16,128}$/,
};

/**
 * Substitutes the placeholders in one pass (a value is never re-scanned, so a path containing "{kernel_id}"
 * stays literal). Every value is checked against its alphabet first: these strings become argv entries and,
 * on YARN, parts of a submitted command, so nothing beyond the expected characters may get through.
 * A placeholder this launch cannot fill ({connection_file}, or {launch_token} under protocol 1) is refused.
 */
export function substitutePlaceholders(templates: readonly string[], values: LaunchPlaceholders, kernelId: string): string[] {
  for (const [name, value] of Object.entries(values) as [keyof LaunchPlaceholders, string | undefined][]) {
    if (value !== undefined && !PLACEHOLDER_VALUE_RULES[name].test(value)) {
      throw new LaunchError('INVALID_REQUEST', `kernel ${kernelId}: the value for {${name}} has characters a launch argument may not hold`, {
        kernelId,
      });
    }
  }
  return templates.map((template) =>
    template.replace(PLACEHOLDER, (whole, name: keyof LaunchPlaceholders | 'connection_file') => {
      const value = name === 'connection_file' ? undefined : values[name];
      if (value === undefined) {
        throw new LaunchError('INVALID_REQUEST', `kernel ${kernelId}: the kernelspec uses ${whole}, which this launch cannot provide`, {
          kernelId,
        });
      }
      return value;
    }),
  );
}

/** `lo..hi` (1 <= lo <= hi <= 65535, at least 6 ports: five for the kernel, one comm port), or `0..0` = any. */
export function parsePortRange(text: string): { lower: number; upper: number } {
  const match = /^([0-9]{1,5})\.\.([0-9]{1,5})$/.exec(text);
  if (!match) throw new Error(`port range "${text}" is not of the form <lower>..<upper>`);
  const lower = Number(match[1]);
  const upper = Number(match[2]);
  if (lower === 0 && upper === 0) return { lower, upper };
  if (!(lower >= 1 && lower <= upper && upper <= 65535)) throw new Error(`port range "${text}" must satisfy 1 <= lower <= upper <= 65535`);
  if (upper - lower + 1 < 6) throw new Error(`port range "${text}" holds fewer than the 6 ports a launcher needs`);
  return { lower, upper };
}

/**
 * Which payload version a kernelspec's launcher speaks: `metadata.atrium.config.launch_protocol` if set,
 * else its argv's `--protocol-version N`, else 2 when the spec passes `{launch_token}` and 1 (a stock JEG
 * launcher, which never gets a token) when it does not. A version 2 spec must pass `{launch_token}`, in its env
 * (ATRIUM_LAUNCH_TOKEN, as Atrium's kernelspecs do) or, for a launcher that only takes flags, its argv.
 */
export function launchProtocolOf(spec: Kernelspec, kernelId?: string): LaunchProtocolVersion {
  const argv = spec.spec.argv;
  const passesToken = [...argv, ...Object.values(spec.spec.env)].some((arg) => arg.includes('{launch_token}'));
  const configured = launcherConfig(spec).launch_protocol;
  let version: unknown = configured;
  if (version === undefined) {
    const flag = argv.findIndex((arg) => arg === '--protocol-version' || arg.startsWith('--protocol-version='));
    if (flag >= 0) version = Number(argv[flag]!.includes('=') ? argv[flag]!.split('=')[1] : argv[flag + 1]);
  }
  version ??= passesToken ? PROTOCOL_V2 : PROTOCOL_V1;
  if (version !== PROTOCOL_V1 && version !== PROTOCOL_V2) {
    throw new LaunchError('INVALID_REQUEST', `kernelspec ${spec.name}: launch protocol ${JSON.stringify(version)} is not 1 or 2`, { kernelId });
  }
  if (version === PROTOCOL_V2 && !passesToken) {
    throw new LaunchError('INVALID_REQUEST', `kernelspec ${spec.name}: protocol 2 needs {launch_token} (env ATRIUM_LAUNCH_TOKEN)`, { kernelId });
  }
  return version;
}

// --- saved state ---

const CommStateSchema = z.discriminatedUnion('protocolVersion', [
  z.object({
    protocolVersion: z.literal(PROTOCOL_V2),
    host: z.string().min(1).max(255),
    port: z.number().int().min(1).max(65535),
    /** base64; a secret (the DB row holding it must be protected like the kernel's HMAC key). */
    commKey: z.string().refine((value) => Buffer.from(value, 'base64').length === 32, 'must be 32 bytes of base64'),
  }),
  z.object({
    protocolVersion: z.literal(PROTOCOL_V1),
    host: z.string().min(1).max(255),
    port: z.number().int().min(1).max(65535),
  }),
]);

const RemoteStateSchema = z.object({
  comm: CommStateSchema,
  /** The launcher's pid and host where it runs (informational: the engine, not the pid, identifies it). */
  pid: z.number().int().positive(),
  hostname: z.string().optional(),
  engine: z.record(z.string(), z.unknown()),
});
type RemoteState = z.infer<typeof RemoteStateSchema>;

function commState(target: CommTarget): RemoteState['comm'] {
  return target.protocolVersion === PROTOCOL_V2
    ? { protocolVersion: PROTOCOL_V2, host: target.host, port: target.port, commKey: target.commKey.toString('base64') }
    : { protocolVersion: PROTOCOL_V1, host: target.host, port: target.port };
}

function commTargetFromState(kernelId: string, comm: RemoteState['comm']): CommTarget {
  return comm.protocolVersion === PROTOCOL_V2
    ? { kernelId, host: comm.host, port: comm.port, protocolVersion: PROTOCOL_V2, commKey: Buffer.from(comm.commKey, 'base64') }
    : { kernelId, host: comm.host, port: comm.port, protocolVersion: PROTOCOL_V1 };
}

// --- the launcher ---

export interface RemoteLauncherOptions {
  /** The portal's one response listener; must be started before the first launch. */
  responseListener: ResponseListener;
  /** `{port_range}` for the kernel's and comm port's ports: `lo..hi`, or `0..0` (default) for any. */
  portRange?: string;
  /** How long to wait for the payload when LaunchOptions.deadlineMs is not given. Default 60 s. */
  launchDeadlineMs?: number;
  /** After killing an engine that timed out, how long to wait to see it dead. Default 5 s. */
  killDeadlineMs?: number;
  /** Deadline of one comm-port request (signal, shutdown). Default 5 s. */
  commDeadlineMs?: number;
  /** After a comm-port shutdown, how long until the engine is killed instead. Default 3 s. */
  shutdownGraceMs?: number;
  logger?: KernelLogger;
}

export abstract class RemoteLauncher implements Launcher {
  abstract readonly name: string;
  protected readonly listener: ResponseListener;
  protected readonly portRange: string;
  protected readonly launchDeadlineMs: number;
  protected readonly killDeadlineMs: number;
  protected readonly commDeadlineMs: number;
  protected readonly shutdownGraceMs: number;
  protected readonly logger: KernelLogger | undefined;

  constructor(options: RemoteLauncherOptions) {
    this.listener = options.responseListener;
    this.portRange = options.portRange ?? '0..0';
    parsePortRange(this.portRange); // a bad config fails at boot, not at the first launch
    this.launchDeadlineMs = options.launchDeadlineMs ?? DEFAULT_STARTUP_DEADLINE_MS;
    this.killDeadlineMs = options.killDeadlineMs ?? DEFAULT_KILL_DEADLINE_MS;
    this.commDeadlineMs = options.commDeadlineMs ?? DEFAULT_INTERRUPT_DEADLINE_MS;
    this.shutdownGraceMs = options.shutdownGraceMs ?? DEFAULT_SHUTDOWN_GRACE_MS;
    this.logger = options.logger;
  }

  /** Engine step: start the launcher (argv as is, no shell). Throw LaunchError, or anything (→ LAUNCH_FAILED). */
  protected abstract startEngine(start: EngineStart): Promise<RemoteEngine>;
  /** Engine step: rebuild the engine from what its serialize() returned. Throw RESTORE_FAILED if invalid. */
  protected abstract restoreEngine(state: JsonObject, saved: SerializedKernel): Promise<RemoteEngine>;

  /**
   * The host the portal dials for the kernel's ports and the comm port. The launcher's bind address when
   * it bound a specific one, else the address it says routes to it, else the peer the payload came from.
   * YARN and Kubernetes leaves may prefer the node or pod address they know.
   */
  protected kernelHost(info: LaunchedConnectionInfo): string | undefined {
    const wildcard = (ip: string | undefined) => !ip || ip === '0.0.0.0' || ip === '::';
    if (!wildcard(info.connection.ip)) return info.connection.ip;
    if (!wildcard(info.hostIp)) return info.hostIp;
    return info.peerAddress?.replace(/^::ffff:/, '');
  }

  async launch(request: LaunchRequest, options: LaunchOptions = {}): Promise<RemoteKernelProcess> {
    const { kernelId, kernelspec } = request;
    assertValidKernelId(kernelId);
    const trustedEnv = kernelEnv(request); // validates the client's KERNEL_* values before anything starts
    const protocolVersion = launchProtocolOf(kernelspec, kernelId);
    const deadlineMs = options.deadlineMs ?? this.launchDeadlineMs;

    let ticket: ResponseTicket;
    try {
      ticket = await this.listener.register(kernelId, { protocolVersion });
    } catch (error) {
      throw new LaunchError('LAUNCH_FAILED', `kernel ${kernelId}: cannot register its launch: ${(error as Error).message}`, {
        kernelId,
        cause: error,
      });
    }

    let engine: RemoteEngine;
    try {
      const values: LaunchPlaceholders = {
        kernel_id: kernelId,
        response_address: ticket.responseAddress,
        public_key: ticket.publicKey,
        port_range: this.portRange,
        resource_dir: kernelspec.resourceDir,
        ...(ticket.launchToken !== undefined && { launch_token: ticket.launchToken }),
      };
      const argv = substitutePlaceholders(kernelspec.spec.argv, values, kernelId);
      const specEnv = Object.entries(kernelspec.spec.env);
      const substitutedEnv = substitutePlaceholders(
        specEnv.map(([, value]) => value),
        values,
        kernelId,
      );
      const env: Record<string, string> = {};
      specEnv.forEach(([name], i) => (env[name] = substitutedEnv[i]!));
      Object.assign(env, trustedEnv); // Atrium's KERNEL_* last: nothing overrides the owner or the id
      // Atrium's launcher encrypts the kernel's traffic (CURVE) when asked; its key comes back in the sealed v2 payload.
      if (ticket.launchToken !== undefined) env[CURVE_ENV] = '1';
      engine = await this.startEngine({ request, argv, env });
    } catch (error) {
      this.listener.cancel(kernelId, 'the engine did not start');
      if (error instanceof LaunchError) throw error;
      throw new LaunchError('LAUNCH_FAILED', `kernel ${kernelId}: the ${this.name} engine could not start the launcher: ${(error as Error).message}`, {
        kernelId,
        cause: error,
      });
    }

    const info = await this.confirmRemoteStartup(kernelId, engine, deadlineMs);
    const host = this.kernelHost(info);
    if (!host || !/^[A-Za-z0-9.:-]{1,255}$/.test(host) || info.commPort <= 0) {
      await this.discardEngine(engine);
      const why = info.commPort <= 0 ? 'serves no communication port (needed to interrupt it)' : `reported no usable address (${host ?? 'none'})`;
      throw new LaunchError('LAUNCH_FAILED', `kernel ${kernelId} (${this.name} ${engine.engineId}) ${why}; it was killed`, {
        kernelId,
        engineId: engine.engineId,
      });
    }
    if (info.protocolVersion === PROTOCOL_V2 && !info.connection.curveServerKey) {
      // An older launcher (a kernel image built before), or a pyzmq without CURVE: the kernel still works, signed only.
      this.logger?.warn(`kernel ${kernelId}: its launcher did not encrypt the kernel's traffic (no CURVE key); it is signed only`, { kernel: kernelId });
    }
    const connectionInfo: ConnectionInfo = {
      ip: host,
      transport: 'tcp',
      shell_port: info.connection.shellPort,
      iopub_port: info.connection.iopubPort,
      stdin_port: info.connection.stdinPort,
      control_port: info.connection.controlPort,
      hb_port: info.connection.hbPort,
      key: info.connection.key,
      signature_scheme: 'hmac-sha256',
      kernel_name: kernelspec.name,
      ...(info.connection.curveServerKey && { curve_server_key: info.connection.curveServerKey }),
    };
    return new RemoteKernelProcess({
      ...this.processTimings(),
      launcher: this.name,
      kernelId,
      kernelspecName: kernelspec.name,
      interruptMode: kernelspec.spec.interrupt_mode,
      connectionInfo,
      logger: this.logger,
      engine,
      comm: commTargetOf(info, host),
      pid: info.pid,
      hostname: info.hostname,
    });
  }

  /** Ends the wait for the launcher's payload; the launch then kills the engine and rejects. */
  cancel(kernelId: string, reason = 'the launch was cancelled'): void {
    this.listener.cancel(kernelId, reason);
  }

  async restore(saved: SerializedKernel): Promise<RemoteKernelProcess> {
    const state = RemoteStateSchema.safeParse(saved.state);
    if (!state.success) {
      throw new LaunchError('RESTORE_FAILED', `kernel ${saved.kernelId}: invalid ${this.name} state: ${z.prettifyError(state.error)}`, {
        kernelId: saved.kernelId,
        engineId: saved.engineId,
      });
    }
    const engine = await this.restoreEngine(state.data.engine, saved);
    return new RemoteKernelProcess({
      ...this.processTimings(),
      launcher: this.name,
      kernelId: saved.kernelId,
      kernelspecName: saved.kernelspecName,
      interruptMode: saved.interruptMode,
      connectionInfo: saved.connectionInfo,
      logger: this.logger,
      engine,
      comm: commTargetFromState(saved.kernelId, state.data.comm),
      pid: state.data.pid,
      hostname: state.data.hostname,
    });
  }

  /**
   * Waits for the launcher's payload until `deadlineMs`, and fails fast if the engine ends first
   * (bad argv, missing interpreter, YARN rejection). On timeout the engine is killed, then reported.
   */
  protected async confirmRemoteStartup(kernelId: string, engine: RemoteEngine, deadlineMs: number): Promise<LaunchedConnectionInfo> {
    const abort = new AbortController();
    type Outcome =
      | { kind: 'reported'; info: LaunchedConnectionInfo }
      | { kind: 'refused'; error: unknown }
      | { kind: 'exited'; status: DeadStatus };
    let outcome: Outcome;
    try {
      outcome = await Promise.race<Outcome>([
        this.listener.waitFor(kernelId, Date.now() + deadlineMs).then(
          (info) => ({ kind: 'reported', info }),
          (error: unknown) => ({ kind: 'refused', error }),
        ),
        engine.waitForExit(abort.signal).then((status) => ({ kind: 'exited', status })),
      ]);
    } finally {
      abort.abort();
    }
    if (outcome.kind === 'reported') return outcome.info;

    const what = `kernel ${kernelId} (${this.name} ${engine.engineId})`;
    if (outcome.kind === 'exited') {
      this.listener.cancel(kernelId, 'the launcher exited');
      await engine.cleanup().catch(() => {});
      throw new LaunchError('LAUNCH_FAILED', `${what} ended before it reported its connection info: ${outcome.status.reason}`, {
        kernelId,
        engineId: engine.engineId,
      });
    }
    const stopped = await this.discardEngine(engine);
    const killed = stopped ? 'it was killed' : `it did not die within ${this.killDeadlineMs} ms of a kill`;
    if (isAppError(outcome.error) && outcome.error.code === 'LAUNCH_TIMEOUT') {
      throw new LaunchError(
        'LAUNCH_TIMEOUT',
        `${what} did not report its connection info within ${deadlineMs} ms; ${killed}. ` +
          'The launcher may be stuck, or unable to reach the response address.',
        { kernelId, engineId: engine.engineId, cause: outcome.error },
      );
    }
    // cancelled elsewhere, or the response listener stopped
    throw new LaunchError('LAUNCH_FAILED', `${what}: ${(outcome.error as Error).message}; ${killed}`, {
      kernelId,
      engineId: engine.engineId,
      cause: outcome.error,
    });
  }

  /** Kills the engine, waits to see it dead (bounded), releases it. True if it was seen dead. */
  private async discardEngine(engine: RemoteEngine): Promise<boolean> {
    let dead = false;
    try {
      await engine.kill();
      dead = await exitWithin(engine, this.killDeadlineMs);
    } catch (error) {
      this.logger?.error('could not kill the engine of a failed launch', { engineId: engine.engineId, error: String(error) });
    }
    await engine.cleanup().catch(() => {});
    return dead;
  }

  private processTimings() {
    return { commDeadlineMs: this.commDeadlineMs, shutdownGraceMs: this.shutdownGraceMs };
  }
}

// --- the handle ---

export interface RemoteKernelProcessInit extends KernelProcessInit {
  launcher: string;
  engine: RemoteEngine;
  comm: CommTarget;
  pid: number;
  hostname?: string;
  commDeadlineMs: number;
  shutdownGraceMs: number;
}

/**
 * A kernel started through the launch protocol. Liveness comes from the engine; signals (SIGINT = interrupt)
 * and shutdown go through the launcher's comm port, with the engine kill as the fallback.
 */
export class RemoteKernelProcess extends KernelProcess {
  readonly launcher: string;
  readonly engine: RemoteEngine;
  /** The launcher's pid on its host (informational). */
  readonly remotePid: number;
  readonly hostname: string | undefined;
  private readonly comm: CommTarget;
  private readonly commDeadlineMs: number;
  private readonly shutdownGraceMs: number;

  constructor(init: RemoteKernelProcessInit) {
    super(init);
    this.launcher = init.launcher;
    this.engine = init.engine;
    this.comm = init.comm;
    this.remotePid = init.pid;
    this.hostname = init.hostname;
    this.commDeadlineMs = init.commDeadlineMs;
    this.shutdownGraceMs = init.shutdownGraceMs;
  }

  get engineId(): string {
    return this.engine.engineId;
  }

  /** Where the comm port is, and its protocol version (the key is not exposed here). */
  get commAddress(): { host: string; port: number; protocolVersion: LaunchProtocolVersion } {
    return { host: this.comm.host, port: this.comm.port, protocolVersion: this.comm.protocolVersion };
  }

  poll(): Promise<KernelStatus> {
    return this.engine.poll();
  }

  override waitForExit(abort: AbortSignal): Promise<DeadStatus> {
    return this.engine.waitForExit(abort);
  }

  protected async sendSignal(signal: NodeJS.Signals): Promise<void> {
    const signum = osConstants.signals[signal];
    if (signum === undefined) throw new Error(`unknown signal ${signal}`);
    try {
      await sendSignal(this.comm, signum, { deadlineMs: Date.now() + this.commDeadlineMs });
    } catch (error) {
      // A launcher that died between poll() and the request leaves nothing listening: say so, typed.
      if (error instanceof CommPortError && error.code === 'COMM_UNREACHABLE') {
        const status = await this.engine.poll();
        if (!status.alive) {
          throw new LaunchError('KERNEL_DEAD', `kernel ${this.kernelId} is not running: ${status.reason}`, {
            kernelId: this.kernelId,
            engineId: this.engineId,
            cause: error,
          });
        }
      }
      throw error;
    }
  }

  /** Asks the launcher to stop its kernel; kills the engine if it cannot be asked or does not stop in time. */
  protected async terminate(): Promise<void> {
    try {
      await requestShutdown(this.comm, { deadlineMs: Date.now() + this.commDeadlineMs });
      if (await exitWithin(this.engine, this.shutdownGraceMs)) return;
      this.logger.warn('kernel did not stop after a shutdown request; killing its engine', {
        kernel: this.kernelId,
        engineId: this.engineId,
      });
    } catch (error) {
      this.logger.debug('shutdown through the comm port failed; killing the engine', {
        kernel: this.kernelId,
        engineId: this.engineId,
        error: String(error),
      });
    }
    await this.engine.kill();
  }

  cleanup(): Promise<void> {
    return this.engine.cleanup();
  }

  protected serializeState(): JsonObject {
    const state: RemoteState = {
      comm: commState(this.comm),
      pid: this.remotePid,
      ...(this.hostname !== undefined && { hostname: this.hostname }),
      engine: this.engine.serialize(),
    };
    return state;
  }
}

// --- helpers ---

/** True if the engine is seen dead within `ms`. */
async function exitWithin(engine: RemoteEngine, ms: number): Promise<boolean> {
  if (!(await engine.poll()).alive) return true;
  const abort = new AbortController();
  let timer: NodeJS.Timeout | undefined;
  try {
    return await Promise.race([
      engine.waitForExit(abort.signal).then(() => true),
      new Promise<false>((resolve) => (timer = setTimeout(() => resolve(false), ms))),
    ]);
  } finally {
    clearTimeout(timer);
    abort.abort();
  }
}
