// What a kernel sent to a client while the client was away: kept for its session, and replayed when a client with
// the same `?session_id=` reconnects (JupyterLab reconnects that way after a network blip, a laptop waking, a proxy
// timeout). Jupyter Server does the same with an unbounded buffer; here every buffer is bounded (bytes, messages,
// time, per kernel, in all), and what a bound made it drop is counted, so the reconnected client is told what was
// not kept instead of missing it silently. A buffer is the user's: keyed by user, kernel and session.
// A buffer lives in this portal process: a client that reconnects to another replica, or after a portal restart,
// gets only what comes from then on.
import type { KernelListener } from "@/server/kernels/live-kernel";
import type { ChannelMessage, KernelMessage } from "@/server/kernels/protocol/messages";
import { portalIopubMessage, type RawMessageParts } from "@/server/kernels/protocol/wire";
import { ClientSessions, isForClient } from "./routing";

export interface ReplayLimits {
  /** How long a buffer waits for its client to come back. */
  keepMs: number;
  /** Per buffer: messages beyond these bounds are dropped and counted. */
  maxBytes: number;
  maxMessages: number;
  /** Buffers per kernel; a new one beyond this ends the oldest. */
  perKernel: number;
  /** Bytes in every buffer of this process together. */
  maxTotalBytes: number;
}

export const DEFAULT_REPLAY_LIMITS: ReplayLimits = {
  keepMs: 120_000,
  maxBytes: 8 * 1024 * 1024,
  maxMessages: 20_000,
  perKernel: 4,
  maxTotalBytes: 256 * 1024 * 1024,
};

/** The part of a kernel a buffer needs (LiveKernel has it). */
export interface ReplaySource {
  readonly id: string;
  readonly isDead: boolean;
  subscribe(listener: KernelListener, options: { countsAsClient: boolean }): () => void;
}

export interface BufferedMessage {
  msg: ChannelMessage;
  raw: RawMessageParts;
}

/**
 * What a client that went away left: what was never written to it and what came while its socket closed, in order;
 * beyond its bounds only counted (`undelivered`, which came after `messages`; `parent`: the first one's cell).
 */
export interface Left {
  messages: BufferedMessage[];
  undelivered: { messages: number; bytes: number; parent?: KernelMessage["parent_header"] };
}

/** What a reconnecting client gets: the messages kept for it, its sessions, and what was not kept. */
export interface Replay {
  messages: BufferedMessage[];
  sessions: ClientSessions;
  dropped: { messages: number; bytes: number };
  /** Where the first message not kept would have been among `messages`, and its parent (the cell that was cut). */
  droppedAt: number | undefined;
  droppedParent: KernelMessage["parent_header"] | undefined;
}

interface Buffer_ extends Replay {
  kernelId: string;
  bytes: number;
  expiresAt: number;
  unsubscribe: () => void;
}

/** A message's size as counted against the bounds: its bytes on the wire. */
export const sizeOf = (raw: RawMessageParts) =>
  raw.header.byteLength + raw.parentHeader.byteLength + raw.metadata.byteLength + raw.content.byteLength + raw.buffers.reduce((n, b) => n + b.byteLength, 0);

export class ReplayBuffers {
  private readonly buffers = new Map<string, Buffer_>();
  private totalBytes = 0;
  private closed = false;

  constructor(private readonly limits: ReplayLimits = DEFAULT_REPLAY_LIMITS) {}

  /**
   * Starts keeping what `kernel` sends to `user`'s client of `session` that just went away (`sessions`: every session
   * that client used, so replies to its earlier requests are kept too), after what it `left`. Call it in the same
   * turn as the client's unsubscribe, so no message falls between them. Only the same user can take it.
   */
  keep(user: string, kernel: ReplaySource, session: string, sessions: ClientSessions, left: Left = NOTHING_LEFT, now = Date.now()): void {
    if (this.closed || kernel.isDead || this.limits.keepMs <= 0) return;
    this.end(key(user, kernel.id, session));
    const ofKernel = [...this.buffers.entries()].filter(([, b]) => b.kernelId === kernel.id);
    for (const [k] of ofKernel.slice(0, Math.max(0, ofKernel.length - this.limits.perKernel + 1))) this.end(k);
    const buffer: Buffer_ = {
      kernelId: kernel.id,
      messages: [],
      sessions,
      dropped: { messages: 0, bytes: 0 },
      droppedAt: undefined,
      droppedParent: undefined,
      bytes: 0,
      expiresAt: now + this.limits.keepMs,
      unsubscribe: () => {},
    };
    const drop = (count: number, bytes: number, parent: KernelMessage["parent_header"] | undefined) => {
      if (buffer.droppedAt === undefined) {
        buffer.droppedAt = buffer.messages.length;
        buffer.droppedParent = parent;
      }
      buffer.dropped.messages += count;
      buffer.dropped.bytes += bytes;
    };
    const add = (msg: ChannelMessage, raw: RawMessageParts) => {
      const bytes = sizeOf(raw);
      const full = buffer.messages.length >= this.limits.maxMessages || buffer.bytes + bytes > this.limits.maxBytes || this.totalBytes + bytes > this.limits.maxTotalBytes;
      if (full) return drop(1, bytes, msg.parent_header);
      buffer.messages.push({ msg, raw });
      buffer.bytes += bytes;
      this.totalBytes += bytes;
    };
    for (const { msg, raw } of left.messages) add(msg, raw);
    if (left.undelivered.messages) drop(left.undelivered.messages, left.undelivered.bytes, left.undelivered.parent);
    buffer.unsubscribe = kernel.subscribe((msg, raw) => isForClient(msg, sessions) && add(msg, raw), { countsAsClient: false });
    this.buffers.set(key(user, kernel.id, session), buffer);
  }

  /** The replay for `user`'s client reconnecting with `session`, which stops the buffer; undefined if none is kept. */
  take(user: string, kernelId: string, session: string): Replay | undefined {
    const k = key(user, kernelId, session);
    const buffer = this.buffers.get(k);
    if (!buffer) return undefined;
    this.end(k);
    const { messages, sessions, dropped, droppedAt, droppedParent } = buffer;
    return { messages, sessions, dropped, droppedAt, droppedParent };
  }

  /** Ends buffers whose client did not come back in time, and those of kernels that ended. */
  tick(isDead: (kernelId: string) => boolean, now = Date.now()): void {
    for (const [k, buffer] of this.buffers) if (now >= buffer.expiresAt || isDead(buffer.kernelId)) this.end(k);
  }

  /** Ends every buffer, and keeps none from now on (the portal is stopping). */
  close(): void {
    this.closed = true;
    for (const k of [...this.buffers.keys()]) this.end(k);
  }

  get size(): number {
    return this.buffers.size;
  }

  get bytes(): number {
    return this.totalBytes;
  }

  private end(k: string): void {
    const buffer = this.buffers.get(k);
    if (!buffer) return;
    buffer.unsubscribe();
    this.totalBytes -= buffer.bytes;
    this.buffers.delete(k);
  }
}

const key = (user: string, kernelId: string, session: string) => `${user}\n${kernelId}\n${session}`;
const NOTHING_LEFT: Left = { messages: [], undelivered: { messages: 0, bytes: 0 } };

/** A replay of what a stale connection of the session was never sent (it was superseded, not closed). */
export function replayOfLeft(sessions: ClientSessions, left: Left): Replay {
  const dropped = left.undelivered.messages > 0;
  return {
    messages: left.messages,
    sessions,
    dropped: { messages: left.undelivered.messages, bytes: left.undelivered.bytes },
    droppedAt: dropped ? left.messages.length : undefined,
    droppedParent: dropped ? left.undelivered.parent : undefined,
  };
}

/**
 * The iopub message that tells a reconnected client what was not kept for it: stderr text under the cell whose
 * output was cut (its parent), so a notebook shows it in that cell.
 */
export function replayNotice(replay: Replay): BufferedMessage | undefined {
  if (replay.dropped.messages === 0) return undefined;
  const mb = (replay.dropped.bytes / 1048576).toFixed(1);
  const text =
    `[Atrium] While this client was disconnected, ${replay.dropped.messages} kernel messages (${mb} MB) were more than ` +
    `the portal keeps for a client that reconnects, and were not kept. Run the cell again to see all of its output.\n`;
  return portalIopubMessage({ msgType: "stream", session: "atrium", content: { name: "stderr", text }, parentHeader: replay.droppedParent ?? {} });
}
