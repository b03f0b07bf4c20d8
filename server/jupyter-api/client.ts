// One WebSocket client of one kernel (`/api/kernels/{id}/channels`): the bridge between its frames and the
// kernel's messages. This is the only file that knows the WebSocket.
// - client → kernel: decode the framing, keep shell/control/stdin only, learn the client's session from the
//   header, and send the message on with the client's own header. A malformed frame is logged and dropped;
//   the connection lives on.
// - kernel → client: iopub to every client, replies only to the client that asked (routing.ts), encoded once
//   per message and framing however many clients there are, through a backpressure queue (outbound-queue.ts).
// - keepalive: the owner calls tick() about once a second; a ping goes out every `pingIntervalMs`, and a client
//   that has not answered the previous ping by then is dropped. tick() also notices a dead kernel: the client still
//   gets what was queued for it, then an iopub status "dead", then the close (cut off if it has not by a deadline).
//
// Close codes the server sends (@jupyterlab/services never reconnects after 1000 or 1001, and does after any other):
//   1001 going away      the kernel stopped or died (after its output and an iopub status "dead")
//   1012 service restart the portal is stopping, or another replica restarted the kernel (after an iopub status
//                        "starting", as that replica's own clients heard): reconnect
//   1008 policy          the credential the connection was opened with no longer lets its user in (channels.ts)
//   1013 try again later the client fell hopelessly behind on output (reconnect; nothing was dropped silently)
//   1009 message too big a client frame exceeded the limit (sent by `ws` itself)
import { randomUUID } from "node:crypto";
import type { WebSocket } from "ws";
import { log } from "@/server/log";
import type { KernelListener } from "@/server/kernels/live-kernel";
import type { ChannelMessage, KernelMessage, OutgoingChannel } from "@/server/kernels/protocol/messages";
import { decodeClientFrame, encodeLegacy, encodeV1FromRaw, type WsFraming, type WsPayload } from "@/server/kernels/protocol/websocket";
import { portalIopubMessage, type RawMessageParts } from "@/server/kernels/protocol/wire";
import { OutboundQueue, type Frame, type FrameSink, type OutboundLimits } from "./outbound-queue";
import { replayNotice, sizeOf, type BufferedMessage, type Left, type Replay } from "./replay";
import { ClientSessions, isForClient } from "./routing";

/** What a client needs of a kernel (LiveKernel has it; tests pass a fake). */
export interface KernelPort {
  readonly id: string;
  readonly isDead: boolean;
  /** How it ended, once known: "replaced" when another replica restarted it (see LiveKernel.settledEnd). */
  settledEnd(now?: number): "dead" | "replaced" | undefined;
  subscribe(listener: KernelListener): () => void;
  /** What a newly attached client hears first: a cell running, an input request open (LiveKernel.greeting). */
  greeting(): BufferedMessage[];
  send(channel: OutgoingChannel, msg: KernelMessage, json?: readonly Buffer[]): Promise<void>;
}

export interface ChannelClientOptions {
  framing: WsFraming;
  /** `?session_id=` from the URL: the session the client says it will use. */
  sessionId?: string | null;
  /** Who, for log lines (the username). */
  user: string;
  limits: OutboundLimits;
  pingIntervalMs: number;
  /** The TCP socket under the WebSocket, corked while a turn's frames are written (see outbound-queue.ts). */
  transport?: { cork(): void; uncork(): void };
  /** What was kept for this client's session while it was away (replay.ts): sent first, before anything new. */
  replay?: Replay;
  /**
   * Called when the connection closes while the kernel runs on (not when the kernel ended or the portal stops),
   * in the same turn as the client lets go of the kernel: what comes next can be kept for a reconnect. `left`: what
   * came while the socket was closing, and what was queued for it but never written.
   */
  onGone?: (sessions: ClientSessions, left: Left) => void;
}

export const CLOSE_GOING_AWAY = 1001;
export const CLOSE_POLICY_VIOLATION = 1008;
export const CLOSE_SERVICE_RESTART = 1012;
export const CLOSE_TRY_AGAIN_LATER = 1013;

/** A close frame's reason is at most 123 bytes of UTF-8 (RFC 6455); `ws` throws on a longer one. */
const MAX_CLOSE_REASON_BYTES = 123;

/** How long a client of a kernel that is gone has to take what was queued for it before it is cut off. */
export const DEAD_KERNEL_DRAIN_MS = 10_000;

/** What one closing client leaves for a reconnect (unsent, and what came during the close); more is only counted. */
const MAX_LEFT_MESSAGES = 20_000;
const MAX_LEFT_BYTES = 8 * 1024 * 1024;

/** Malformed frames logged per client before the rest are only counted (a broken client must not flood logs). */
const LOGGED_DROPS = 3;

// Every client of a kernel receives the same (msg, raw) objects from the LiveKernel, so a frame encoded for
// one client is reused by the others on the same framing.
const encoded = new WeakMap<RawMessageParts, { v1?: Buffer; legacy?: Frame }>();

function encodeFor(framing: WsFraming, msg: ChannelMessage, raw: RawMessageParts): Frame {
  let cached = encoded.get(raw);
  if (!cached) encoded.set(raw, (cached = {}));
  if (framing === "v1") return (cached.v1 ??= encodeV1FromRaw(msg.channel, raw));
  return (cached.legacy ??= toFrame(encodeLegacy(msg)));
}

/** The reason cut to what a close frame holds, never inside a character (encodeInto writes whole characters only). */
function closeReason(reason: string): string {
  const { read } = new TextEncoder().encodeInto(reason, new Uint8Array(MAX_CLOSE_REASON_BYTES));
  return reason.slice(0, read);
}

const toFrame = (payload: WsPayload): Frame => (typeof payload === "string" ? payload : Buffer.from(payload.buffer, payload.byteOffset, payload.byteLength));

export class ChannelClient {
  /** Resolves when the socket has closed and the subscription is gone. */
  readonly closed: Promise<void>;
  private readonly sessions: ClientSessions;
  private readonly queue: OutboundQueue<BufferedMessage>;
  private readonly unsubscribe: () => void;
  private awaitingPong = false;
  private lastPingAt = Date.now();
  private dropped = 0;
  private ending = false;
  /** While a client of a dead kernel takes what was queued for it: when it is cut off if it has not. */
  private drainDeadline: number | undefined;
  /** Set when the connection ends for good (kernel gone, portal stopping): nothing to keep. */
  private over = false;
  /** Left for a reconnect: what the queue never wrote, then what came while the socket was closing (bounded). */
  private left: Left = { messages: [], undelivered: { messages: 0, bytes: 0 } };
  private leftBytes = 0;
  /** The session of this client's messages that name none: `?session_id=`, else one of its own. */
  private readonly ownSession: string;

  constructor(
    private readonly ws: WebSocket,
    private readonly kernel: KernelPort,
    private readonly options: ChannelClientOptions,
  ) {
    this.sessions = new ClientSessions(options.sessionId);
    if (options.replay) this.sessions.addFrom(options.replay.sessions);
    this.ownSession = options.sessionId || randomUUID();
    const transport = options.transport;
    const sink: FrameSink = {
      get bufferedAmount() {
        return ws.bufferedAmount;
      },
      get open() {
        return ws.readyState === ws.OPEN;
      },
      send: (frame, callback) => ws.send(frame, callback),
      ...(transport && { cork: () => transport.cork(), uncork: () => transport.uncork() }),
    };
    this.queue = new OutboundQueue(
      sink,
      options.limits,
      (queued, unsent) => {
        this.leaveFirst(unsent);
        this.end(CLOSE_TRY_AGAIN_LATER, `client fell behind: ${Math.round(queued / 1048576)} MiB of output waiting; reconnect`, { keep: true });
      },
      (error) => log.debug(`kernel ${kernel.id}: send to ${options.user}'s client failed: ${error.message}`),
    );
    // What was kept while this session was away goes first, then what the kernel sends from now on: both in this
    // turn, so nothing falls between them.
    if (options.replay) {
      const { messages, droppedAt } = options.replay;
      // The notice of what was not kept goes where the first gap is: under that cell, before its reply and idle.
      const notice = replayNotice(options.replay);
      messages.forEach((m, i) => {
        if (notice && i === droppedAt) this.queue.push(encodeFor(options.framing, notice.msg, notice.raw), notice);
        this.queue.push(encodeFor(options.framing, m.msg, m.raw), m);
      });
      if (notice && droppedAt === messages.length) this.queue.push(encodeFor(options.framing, notice.msg, notice.raw), notice);
      // Still busy: said again after what was missed, or the client shows "reconnecting" until the cell ends (its
      // kernel_info waits behind the cell). The open input request, if any, it heard before it went.
      for (const m of kernel.greeting()) if (m.msg.header.msg_type === "status") this.queue.push(encodeFor(options.framing, m.msg, m.raw), m);
      log.debug(`kernel ${kernel.id}: replayed ${messages.length} messages to ${options.user}'s reconnected client`);
    } else {
      // A client new to this kernel (a notebook reopened, another tab) is told what a returning one already knows.
      for (const m of kernel.greeting()) this.queue.push(encodeFor(options.framing, m.msg, m.raw), m);
    }
    this.unsubscribe = kernel.subscribe(this.onKernelMessage);
    log.debug(`kernel ${kernel.id}: ${options.user}'s client connected (${options.framing} framing)`);
    ws.on("message", (data, isBinary) => this.onClientFrame(data, isBinary));
    ws.on("pong", () => (this.awaitingPong = false));
    ws.on("error", (error) => log.debug(`kernel ${kernel.id}: ${options.user}'s WebSocket: ${error.message}`));
    this.closed = new Promise((resolve) => {
      ws.once("close", (code, reason) => {
        log.debug(`kernel ${kernel.id}: ${options.user}'s client closed (${code} ${reason.toString()})`);
        this.unsubscribe();
        // Writes that failed as the connection broke are the oldest; then what the queue never wrote.
        this.leaveFirst([...this.queue.takeFailed(), ...this.queue.stop()]);
        if (!this.over && !kernel.isDead) options.onGone?.(this.sessions, this.left);
        if (this.dropped > LOGGED_DROPS) log.warn(`kernel ${kernel.id}: dropped ${this.dropped} malformed frames from ${options.user}'s client`);
        resolve();
      });
    });
  }

  /** Keepalive, kernel-death check, and the deadline of a dead kernel's last output; the owner calls this about once a second. */
  tick(now: number): void {
    if (this.ending) {
      if (this.drainDeadline !== undefined && now >= this.drainDeadline) {
        log.info(`kernel ${this.kernel.id}: ${this.options.user}'s client did not take the dead kernel's last output within ${DEAD_KERNEL_DRAIN_MS / 1000} s; cutting it off`);
        this.terminate();
      }
      return;
    }
    const end = this.kernel.settledEnd(now);
    if (end === "dead") return this.endAfterQueued(now, "dead", CLOSE_GOING_AWAY, "kernel is no longer running");
    // Restarted through another replica: this one attaches the new process, which a reconnect reaches. Its clients
    // hear "starting" first, as the other replica's did (a client stops waiting for what the old process had).
    if (end === "replaced") return this.endAfterQueued(now, "starting", CLOSE_SERVICE_RESTART, "the kernel was restarted through another portal replica: reconnect");
    if (now - this.lastPingAt < this.options.pingIntervalMs) return;
    if (this.awaitingPong) {
      log.info(`kernel ${this.kernel.id}: ${this.options.user}'s client missed its ping deadline; dropping it`);
      this.terminate();
      return;
    }
    this.awaitingPong = true;
    this.lastPingAt = now;
    this.ws.ping();
  }

  /**
   * Closes the connection now with a code and reason the client can act on; what was queued and not yet written is
   * not sent. `keep`: the client may come back for it (left for a reconnect, e.g. a credential revoked: its user may
   * sign in again); false when the connection is over for good (the portal stops): nothing is kept.
   */
  end(code: number, reason: string, { keep }: { keep: boolean }): void {
    this.over ||= !keep;
    // Still listening until the socket has closed, unless it is over: what comes meanwhile is left for a reconnect.
    if (this.over) this.unsubscribe();
    // A dead kernel's last output may still be going out: a close for another reason (the portal stops) takes over.
    if (this.ending && this.drainDeadline === undefined) return;
    this.ending = true;
    this.drainDeadline = undefined;
    this.leaveFirst(this.queue.stop());
    this.ws.close(code, closeReason(reason));
  }

  /**
   * The kernel's process is gone: dead (like Jupyter Server, an iopub status "dead" before the socket closes), or
   * replaced by a restart through another replica ("starting", then a close the client reconnects after). Its last
   * output is what a user most needs (the traceback, the last lines before a crash), so a slow client gets what was
   * queued, then the status, then the close; by the deadline it is cut off instead (tick()).
   */
  private endAfterQueued(now: number, status: "dead" | "starting", code: number, reason: string): void {
    this.over = true;
    this.unsubscribe();
    this.ending = true;
    this.drainDeadline = now + DEAD_KERNEL_DRAIN_MS;
    this.sendStatus(status);
    this.queue.finish(() => this.ws.close(code, closeReason(reason)));
  }

  /**
   * Ends this connection for a newer one of the same session (this one is stale, e.g. half-open): returns its sessions
   * and what it was never sent, for the newer one to get first.
   */
  supersede(): { sessions: ClientSessions; left: Left } {
    this.over = true;
    this.unsubscribe();
    this.terminate();
    return { sessions: this.sessions, left: this.left };
  }

  /** Cuts the connection without a closing handshake (unresponsive client, or shutdown deadline). */
  terminate(): void {
    this.ending = true;
    this.drainDeadline = undefined;
    if (this.over) this.unsubscribe();
    this.leaveFirst(this.queue.stop());
    this.ws.terminate();
  }

  private readonly onKernelMessage = (msg: ChannelMessage, raw: RawMessageParts) => {
    if (this.over || !isForClient(msg, this.sessions)) return;
    // Closing (either side began it): it cannot be sent any more, and is left for a reconnect instead.
    if (this.ending || this.ws.readyState !== this.ws.OPEN) return this.leave({ msg, raw });
    this.queue.push(encodeFor(this.options.framing, msg, raw), { msg, raw });
  };

  /** Leaves messages older than any left so far (what the queue gave back): they go first, under the same bounds. */
  private leaveFirst(older: BufferedMessage[]): void {
    if (older.length === 0) return;
    const newer = this.left;
    this.left = { messages: [], undelivered: { messages: 0, bytes: 0 } };
    this.leftBytes = 0;
    for (const m of [...older, ...newer.messages]) this.leave(m);
    const { undelivered } = this.left;
    undelivered.parent ??= newer.undelivered.parent;
    undelivered.messages += newer.undelivered.messages;
    undelivered.bytes += newer.undelivered.bytes;
  }

  /** Leaves a message for a reconnect, in order; beyond the bounds only counted (with the first one's cell). */
  private leave(m: BufferedMessage): void {
    const bytes = sizeOf(m.raw);
    const { undelivered } = this.left;
    if (undelivered.messages === 0 && this.left.messages.length < MAX_LEFT_MESSAGES && this.leftBytes + bytes <= MAX_LEFT_BYTES) {
      this.left.messages.push(m);
      this.leftBytes += bytes;
      return;
    }
    undelivered.parent ??= m.msg.parent_header;
    undelivered.messages++;
    undelivered.bytes += bytes;
  }

  private onClientFrame(data: Buffer | ArrayBuffer | Buffer[], isBinary: boolean) {
    if (this.ending) return;
    const bytes = Array.isArray(data) ? Buffer.concat(data) : Buffer.isBuffer(data) ? data : Buffer.from(data);
    const decoded = decodeClientFrame(isBinary ? bytes : bytes.toString("utf8"), this.options.framing);
    if (!decoded.ok) return this.drop(`${decoded.reason}: ${decoded.detail}`);
    const msg = decoded.value.message;
    if (msg.channel === "iopub") return this.drop("BAD_CHANNEL: clients do not send on iopub");
    let json = decoded.value.json;
    if (msg.header.session === "") {
      // A client that names no session gets this connection's own: replies must not reach another such client.
      msg.header.session = this.ownSession;
      json = undefined;
    }
    this.sessions.add(msg.header.session);
    this.kernel.send(msg.channel, msg, json).catch((error: Error) => {
      log.warn(`kernel ${this.kernel.id}: could not pass ${msg.header.msg_type} from ${this.options.user}: ${error.message}`);
    });
  }

  private drop(why: string) {
    this.dropped++;
    if (this.dropped <= LOGGED_DROPS) log.warn(`kernel ${this.kernel.id}: dropped a malformed frame from ${this.options.user}'s client (${why})`);
  }

  /** An iopub status from the portal itself (not the kernel): "dead" or "starting" before the socket closes. */
  private sendStatus(state: "dead" | "starting") {
    const { msg, raw } = portalIopubMessage({ msgType: "status", session: "atrium", content: { execution_state: state } });
    this.queue.push(encodeFor(this.options.framing, msg, raw));
  }
}
