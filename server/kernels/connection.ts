// One client connection to one kernel over ZeroMQ: the only file in Atrium that knows the kernel's sockets.
// shell/control/stdin are DEALERs sharing one routing id (= the session, so the kernel's stdin
// input_request reaches the client that sent the execute_request), iopub is a SUB to everything,
// and the heartbeat is a REQ that is re-created after every missed beat (a REQ that sent without
// receiving is stuck).
// Atrium keeps hundreds of these open: no per-connection timers besides the heartbeat, no polling,
// one `for await` loop per socket, sockets on a shared context sized for that many.
import { randomUUID } from 'node:crypto';
import * as zmq from 'zeromq';
import { z } from 'zod';
import {
  createMessage,
  parentMsgId,
  type Channel,
  type ChannelMessage,
  type JsonObject,
  type KernelMessage,
  type OutgoingChannel,
} from './protocol/messages';
import { createSigner, type Signer } from './protocol/signing';
import { encodeFrames, parseParts, splitFrames, type RawMessageParts, type WireFailure } from './protocol/wire';

/** Runs `fn`, turning a synchronous throw into a rejected promise. */
function attempt<T>(fn: () => Promise<T>): Promise<T> {
  try {
    return fn();
  } catch (error) {
    return Promise.reject(error);
  }
}

// --- connection info (the Jupyter connection file) ---

const port = z.number().int().min(0).max(65535);

/** A CURVE key in Z85 text: 40 characters. */
export const CURVE_KEY = z.string().regex(/^[0-9a-zA-Z.\-:+=^!/*?&<>()[\]{}@%$#]{40}$/, 'a CURVE key is 40 characters of Z85');

export const ConnectionInfoSchema = z.object({
  ip: z.string().min(1),
  transport: z.enum(['tcp', 'ipc']).default('tcp'),
  shell_port: port,
  iopub_port: port,
  stdin_port: port,
  control_port: port,
  hb_port: port,
  key: z.string(),
  signature_scheme: z.literal('hmac-sha256').default('hmac-sha256'),
  kernel_name: z.string().optional(),
  /**
   * The kernel's CURVE public key (Z85), when its shell, control, stdin and iopub sockets encrypt (kernels Atrium's
   * launcher starts on a cluster); the heartbeat's echo stays plain.
   */
  curve_server_key: CURVE_KEY.optional(),
});
export type ConnectionInfo = z.infer<typeof ConnectionInfoSchema>;

/** Validates connection info from any source (file, launcher callback, DB); throws a readable error. */
export function parseConnectionInfo(value: unknown): ConnectionInfo {
  const parsed = ConnectionInfoSchema.safeParse(value);
  if (!parsed.success) throw new Error(`invalid kernel connection info: ${z.prettifyError(parsed.error)}`);
  return parsed.data;
}

export function endpoint(info: ConnectionInfo, portNumber: number): string {
  // jupyter_client's convention for ipc: the "ip" is a path prefix and the port its suffix
  return info.transport === 'ipc' ? `ipc://${info.ip}-${portNumber}` : `tcp://${info.ip}:${portNumber}`;
}

// --- logging and errors ---

export interface KernelLogger {
  debug(message: string, fields?: Record<string, unknown>): void;
  warn(message: string, fields?: Record<string, unknown>): void;
  error(message: string, fields?: Record<string, unknown>): void;
}

export const consoleLogger: KernelLogger = {
  debug: () => {},
  warn: (message, fields) => console.warn(message, fields ?? ''),
  error: (message, fields) => console.error(message, fields ?? ''),
};

export type KernelRequestErrorCode = 'REQUEST_TIMEOUT' | 'CONNECTION_CLOSED';

export class KernelRequestError extends Error {
  constructor(
    readonly code: KernelRequestErrorCode,
    message: string,
  ) {
    super(message);
    this.name = 'KernelRequestError';
  }
}

// --- shared ZeroMQ context ---

let sharedContext: zmq.Context | undefined;

/**
 * libzmq's default context allows 1023 sockets, i.e. ~200 kernels at 5 sockets each.
 * Atrium's context allows far more; blocky=false so a process exit never waits on unsent messages.
 */
export function kernelZmqContext(): zmq.Context {
  if (!sharedContext) {
    sharedContext = new zmq.Context({ blocky: false });
    sharedContext.maxSockets = Math.min(sharedContext.maxSocketsLimit, 32_768);
  }
  return sharedContext;
}

// --- the connection ---

export interface HeartbeatOptions {
  /** Time between pings. */
  intervalMs: number;
  /** Deadline for each ping's echo. */
  timeoutMs: number;
  /** Consecutive misses before onHeartbeatLost fires. */
  missedBeats: number;
}

export const DEFAULT_HEARTBEAT: HeartbeatOptions = { intervalMs: 3000, timeoutMs: 3000, missedBeats: 3 };

export interface KernelConnectionOptions {
  /** Client session id, also the DEALERs' routing id. Unique per connection: a ROUTER refuses duplicates. */
  session?: string;
  username?: string;
  /** False turns the heartbeat off (e.g. a short-lived connection that only sends an interrupt). */
  heartbeat?: Partial<HeartbeatOptions> | false;
  /** How long a send may wait for room in the queue before it fails (a dead kernel fills it). */
  sendTimeoutMs?: number;
  /** For log lines, usually the kernel id. */
  label?: string;
  logger?: KernelLogger;
  context?: zmq.Context;
}

export type MessageHandler = (msg: ChannelMessage, raw: RawMessageParts) => void;
export interface HeartbeatLostInfo {
  missedBeats: number;
  /** Epoch ms of the last answered ping, or undefined if none was ever answered. */
  lastBeatAt: number | undefined;
}
export type HeartbeatLostHandler = (info: HeartbeatLostInfo) => void;

interface Waiter {
  channel: Channel;
  accept: (msg: ChannelMessage) => boolean;
  resolve: (msg: ChannelMessage) => void;
  reject: (error: Error) => void;
}

/** A kernel's data sockets connect as CURVE clients, with a key pair of their own, when it has a server key. */
function curveClientOptions(info: ConnectionInfo) {
  if (!info.curve_server_key) return {};
  const { publicKey, secretKey } = zmq.curveKeyPair();
  return { curveServerKey: info.curve_server_key, curvePublicKey: publicKey, curveSecretKey: secretKey };
}

/** Socket options every kernel socket gets. */
function baseSocketOptions(context: zmq.Context) {
  return {
    context,
    linger: 0, // close() never waits for unsent messages to a possibly dead kernel
    tcpKeepalive: 1, // notice dead peers behind NAT/firewalls on long idle kernels
    tcpKeepaliveIdle: 60,
    tcpKeepaliveInterval: 10,
    tcpKeepaliveCount: 6,
  };
}

export class KernelConnection {
  readonly session: string;
  readonly username: string;
  readonly info: ConnectionInfo;

  private readonly signer: Signer;
  private readonly logger: KernelLogger;
  private readonly label: string;
  private readonly context: zmq.Context;
  private readonly sendTimeoutMs: number;
  private readonly sockets: Record<OutgoingChannel, zmq.Dealer>;
  private readonly iopub: zmq.Subscriber;
  /** Each socket allows one send at a time: a send waits for the channel's earlier ones while any is unsettled. */
  private readonly sendTails: Record<OutgoingChannel, Promise<unknown>>;
  private readonly unsettledSends: Record<OutgoingChannel, number> = { shell: 0, control: 0, stdin: 0 };
  private readonly handlers = new Set<MessageHandler>();
  private readonly heartbeatLostHandlers = new Set<HeartbeatLostHandler>();
  /** Keyed by the parent msg_id a waiter expects, so dispatch costs one map lookup. */
  private readonly waiters = new Map<string, Set<Waiter>>();
  private readonly loops: Promise<void>[] = [];
  private heartbeatSocket: zmq.Request | undefined;
  private wakeHeartbeat: (() => void) | undefined;
  private isClosed = false;
  private closing: Promise<void> | undefined;

  constructor(info: ConnectionInfo, options: KernelConnectionOptions = {}) {
    this.info = parseConnectionInfo(info);
    this.session = options.session ?? randomUUID();
    this.username = options.username ?? 'atrium';
    this.signer = createSigner(this.info.key, this.info.signature_scheme);
    this.logger = options.logger ?? consoleLogger;
    this.label = options.label ?? this.info.kernel_name ?? 'kernel';
    this.context = options.context ?? kernelZmqContext();
    this.sendTimeoutMs = options.sendTimeoutMs ?? 10_000;

    const curve = curveClientOptions(this.info);
    const dealer = (portNumber: number) => {
      const socket = new zmq.Dealer({
        ...baseSocketOptions(this.context),
        ...curve,
        sendTimeout: this.sendTimeoutMs,
        routingId: this.session,
      });
      socket.connect(endpoint(this.info, portNumber));
      return socket;
    };
    this.sockets = {
      shell: dealer(this.info.shell_port),
      control: dealer(this.info.control_port),
      stdin: dealer(this.info.stdin_port),
    };
    this.iopub = new zmq.Subscriber({ ...baseSocketOptions(this.context), ...curve });
    this.iopub.subscribe();
    this.iopub.connect(endpoint(this.info, this.info.iopub_port));
    this.sendTails = { shell: Promise.resolve(), control: Promise.resolve(), stdin: Promise.resolve() };

    for (const channel of ['shell', 'control', 'stdin'] as const) {
      this.loops.push(this.receiveLoop(channel, this.sockets[channel]));
    }
    this.loops.push(this.receiveLoop('iopub', this.iopub));

    if (options.heartbeat !== false) {
      this.loops.push(this.heartbeatLoop({ ...DEFAULT_HEARTBEAT, ...options.heartbeat }));
    }
  }

  get closed(): boolean {
    return this.isClosed;
  }

  /** Builds a message for this connection's session and user. */
  createMessage<C extends JsonObject>(
    msgType: string,
    content: C,
    options: { parentHeader?: KernelMessage['parent_header']; metadata?: JsonObject; buffers?: Uint8Array[] } = {},
  ): KernelMessage<C> {
    return createMessage({ msgType, content, session: this.session, username: this.username, ...options });
  }

  /** Signs and sends; resolves once ZeroMQ has queued it. `json`: the message's JSON parts already serialised. */
  send(channel: OutgoingChannel, msg: KernelMessage, json?: readonly Buffer[]): Promise<void> {
    if (this.closed) return Promise.reject(new KernelRequestError('CONNECTION_CLOSED', `${this.label}: connection closed`));
    const frames = encodeFrames(msg, this.signer, [], json);
    const socket = this.sockets[channel];
    const sendNow = () => socket.send(frames);
    // Nothing ahead on the channel (the usual case): sent in this turn, not a promise hop later. Every client
    // message takes this path, so the hop would be on every round trip.
    const sent = this.unsettledSends[channel] === 0 ? attempt(sendNow) : this.sendTails[channel].then(sendNow);
    this.unsettledSends[channel]++;
    const settled = () => void this.unsettledSends[channel]--;
    this.sendTails[channel] = sent.then(settled, settled); // one failed send must not block the next
    return sent;
  }

  /** Every message from every channel. Returns the unsubscribe function. */
  onMessage(handler: MessageHandler): () => void {
    this.handlers.add(handler);
    return () => this.handlers.delete(handler);
  }

  /** Fires once each time `missedBeats` consecutive pings go unanswered; again only after a beat returns. */
  onHeartbeatLost(handler: HeartbeatLostHandler): () => void {
    this.heartbeatLostHandlers.add(handler);
    return () => this.heartbeatLostHandlers.delete(handler);
  }

  /** Sends a request and resolves with its `*_reply` on the same channel, or rejects at the deadline. */
  async request<C extends JsonObject = JsonObject>(
    channel: 'shell' | 'control',
    msgType: string,
    content: JsonObject,
    deadlineMs: number,
  ): Promise<ChannelMessage<C>> {
    const msg = this.createMessage(msgType, content);
    const reply = this.waitFor(
      msg.header.msg_id,
      channel,
      (m) => m.header.msg_type.endsWith('_reply'),
      deadlineMs,
      `${msgType} on ${channel}`,
    );
    // A failed send settles the waiter's promise first, so nothing is left unhandled.
    this.send(channel, msg).catch((error: Error) => this.rejectWaiters(msg.header.msg_id, error));
    return (await reply) as ChannelMessage<C>;
  }

  /** kernel_info_request → kernel_info_reply, within `deadlineMs`. */
  kernelInfo(deadlineMs: number): Promise<ChannelMessage> {
    return this.request('shell', 'kernel_info_request', {}, deadlineMs);
  }

  /**
   * Waits until the kernel answers on shell *and* this connection hears it on iopub.
   * A SUB socket misses what was published before its subscription reached the kernel, so
   * kernel_info_reply alone does not mean iopub output will arrive. Like jupyter_client's
   * wait_for_ready: ask again until the status message for our own request shows up.
   */
  async waitForReady(deadlineMs: number): Promise<ChannelMessage> {
    const deadline = Date.now() + deadlineMs;
    for (;;) {
      const remaining = deadline - Date.now();
      if (remaining <= 0) break;
      const msg = this.createMessage('kernel_info_request', {});
      const id = msg.header.msg_id;
      const reply = this.waitFor(id, 'shell', (m) => m.header.msg_type === 'kernel_info_reply', remaining, 'kernel_info_request');
      const seenOnIopub = this.waitFor(id, 'iopub', () => true, remaining, 'iopub status');
      seenOnIopub.catch(() => {}); // settled below or by the deadline; never unhandled
      this.send('shell', msg).catch((error: Error) => this.rejectWaiters(id, error));
      try {
        const info = await reply;
        // iopub publishes status before the reply goes out; a short grace covers socket scheduling
        const grace = Math.min(250, Math.max(0, deadline - Date.now()));
        if (await settlesWithin(seenOnIopub, grace)) return info;
      } finally {
        this.rejectWaiters(id, new KernelRequestError('REQUEST_TIMEOUT', 'superseded by a newer kernel_info_request'));
      }
    }
    throw new KernelRequestError('REQUEST_TIMEOUT', `${this.label}: not ready on shell and iopub within ${deadlineMs} ms`);
  }

  /** Idempotent. Rejects pending requests, ends every loop, closes every socket with linger 0. */
  close(): Promise<void> {
    if (!this.closing) {
      this.isClosed = true; // before any socket closes, so the loops read their end as a clean stop
      this.closing = this.doClose();
    }
    return this.closing;
  }

  private async doClose(): Promise<void> {
    const closed = new KernelRequestError('CONNECTION_CLOSED', `${this.label}: connection closed`);
    for (const id of [...this.waiters.keys()]) this.rejectWaiters(id, closed);
    this.wakeHeartbeat?.();
    for (const socket of [...Object.values(this.sockets), this.iopub]) socket.close();
    this.heartbeatSocket?.close();
    await Promise.allSettled(this.loops);
    this.handlers.clear();
    this.heartbeatLostHandlers.clear();
  }

  // --- loops ---

  private async receiveLoop(channel: Channel, socket: zmq.Dealer | zmq.Subscriber): Promise<void> {
    try {
      for await (const frames of socket) this.dispatch(channel, frames);
    } catch (error) {
      if (!this.closed) this.logger.error('kernel socket loop stopped', { kernel: this.label, channel, error: String(error) });
    }
  }

  private dispatch(channel: Channel, frames: Buffer[]): void {
    const split = splitFrames(frames, this.signer);
    if (!split.ok) return this.drop(channel, split);
    const parsed = parseParts(split.value);
    if (!parsed.ok) return this.drop(channel, parsed);
    const msg: ChannelMessage = { ...parsed.value, channel };
    this.settleWaiters(msg);
    for (const handler of this.handlers) {
      try {
        handler(msg, split.value);
      } catch (error) {
        this.logger.error('kernel message handler failed', {
          kernel: this.label,
          channel,
          msgType: msg.header.msg_type,
          error: error instanceof Error ? (error.stack ?? error.message) : String(error),
        });
      }
    }
  }

  private drop(channel: Channel, failure: WireFailure): void {
    this.logger.warn('dropped kernel message', {
      kernel: this.label,
      channel,
      reason: failure.reason,
      detail: failure.detail,
    });
  }

  private async heartbeatLoop(options: HeartbeatOptions): Promise<void> {
    let missed = 0;
    let reported = false;
    let lastBeatAt: number | undefined;
    try {
      while (!this.closed) {
        const started = Date.now();
        const answered = await this.ping(options.timeoutMs);
        if (this.closed) break;
        if (answered) {
          missed = 0;
          reported = false;
          lastBeatAt = Date.now();
        } else {
          // a REQ that sent without receiving is stuck: drop it, the next ping makes a fresh one
          this.heartbeatSocket?.close();
          this.heartbeatSocket = undefined;
          missed += 1;
          if (missed >= options.missedBeats && !reported) {
            reported = true;
            this.emitHeartbeatLost({ missedBeats: missed, lastBeatAt });
          }
        }
        await this.heartbeatPause(Math.max(0, options.intervalMs - (Date.now() - started)));
      }
    } finally {
      this.heartbeatSocket?.close();
      this.heartbeatSocket = undefined;
    }
  }

  private async ping(timeoutMs: number): Promise<boolean> {
    this.heartbeatSocket ??= this.createHeartbeatSocket(timeoutMs);
    const socket = this.heartbeatSocket;
    try {
      await socket.send('ping');
      await socket.receive();
      return true;
    } catch {
      return false; // timeout (EAGAIN) or closed
    }
  }

  private createHeartbeatSocket(timeoutMs: number): zmq.Request {
    const socket = new zmq.Request({
      ...baseSocketOptions(this.context),
      sendTimeout: timeoutMs,
      receiveTimeout: timeoutMs,
    });
    socket.connect(endpoint(this.info, this.info.hb_port));
    return socket;
  }

  /** The interval between pings; close() cuts it short so the loop ends at once. */
  private heartbeatPause(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const timer = setTimeout(done, ms);
      function done() {
        clearTimeout(timer);
        resolve();
      }
      this.wakeHeartbeat = done;
    });
  }

  private emitHeartbeatLost(info: HeartbeatLostInfo): void {
    this.logger.warn('kernel heartbeat lost', { kernel: this.label, ...info });
    for (const handler of this.heartbeatLostHandlers) {
      try {
        handler(info);
      } catch (error) {
        this.logger.error('heartbeat handler failed', { kernel: this.label, error: String(error) });
      }
    }
  }

  // --- reply waiters ---

  private waitFor(
    parentId: string,
    channel: Channel,
    accept: (msg: ChannelMessage) => boolean,
    deadlineMs: number,
    what: string,
  ): Promise<ChannelMessage> {
    if (this.closed) return Promise.reject(new KernelRequestError('CONNECTION_CLOSED', `${this.label}: connection closed`));
    return new Promise<ChannelMessage>((resolve, reject) => {
      const set = this.waiters.get(parentId) ?? new Set<Waiter>();
      this.waiters.set(parentId, set);
      const timer = setTimeout(() => {
        remove();
        reject(new KernelRequestError('REQUEST_TIMEOUT', `${this.label}: no answer to ${what} within ${deadlineMs} ms`));
      }, deadlineMs);
      const remove = () => {
        clearTimeout(timer);
        set.delete(waiter);
        if (set.size === 0 && this.waiters.get(parentId) === set) this.waiters.delete(parentId);
      };
      const waiter: Waiter = {
        channel,
        accept,
        resolve: (msg) => {
          remove();
          resolve(msg);
        },
        reject: (error) => {
          remove();
          reject(error);
        },
      };
      set.add(waiter);
    });
  }

  private settleWaiters(msg: ChannelMessage): void {
    if (this.waiters.size === 0) return;
    const id = parentMsgId(msg);
    const set = id === undefined ? undefined : this.waiters.get(id);
    if (!set) return;
    for (const waiter of [...set]) {
      if (waiter.channel === msg.channel && waiter.accept(msg)) waiter.resolve(msg);
    }
  }

  private rejectWaiters(parentId: string, error: Error): void {
    const set = this.waiters.get(parentId);
    if (!set) return;
    for (const waiter of [...set]) waiter.reject(error);
  }
}

/** True if `promise` resolves within `ms`; false on rejection or timeout. Clears its timer either way. */
function settlesWithin(promise: Promise<unknown>, ms: number): Promise<boolean> {
  return new Promise((resolve) => {
    const timer = setTimeout(() => resolve(false), ms);
    promise.then(
      () => {
        clearTimeout(timer);
        resolve(true);
      },
      () => {
        clearTimeout(timer);
        resolve(false);
      },
    );
  });
}
