// What a kernel sent to a client while the client was away: kept for its session, and replayed when a client with
// the same `?session_id=` reconnects (JupyterLab reconnects that way after a network blip, a laptop waking, a proxy
// timeout). Jupyter Server does the same with an unbounded buffer; here every buffer is bounded (bytes, messages,
// time, per kernel, in all), and what a bound made it drop is counted, so the reconnected client is told what was
// not kept instead of missing it silently. A buffer is the user's: keyed by user, kernel and session.
// A buffer that outlives its time, or that newer ones push out, lapses instead of vanishing: it lets go of the output
// and keeps only what ends a request (replies, status, input requests), counting the rest, so a client back after a
// long sleep still sees its cells finish and is told, under the cell, that their output was not kept.
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
  /** Buffers per kernel; a new one beyond this makes the oldest lapse. */
  perKernel: number;
  /** Bytes in every buffer of this process together. */
  maxTotalBytes: number;
  /** How long a lapsed buffer still counts and keeps what ends requests, and how much of that it keeps. */
  lapsedKeepMs: number;
  lapsedMaxMessages: number;
  /** Lapsed buffers per kernel and in all; beyond these the oldest ends. */
  lapsedPerKernel: number;
  maxLapsed: number;
}

export const DEFAULT_REPLAY_LIMITS: ReplayLimits = {
  keepMs: 120_000,
  maxBytes: 8 * 1024 * 1024,
  maxMessages: 20_000,
  perKernel: 4,
  maxTotalBytes: 256 * 1024 * 1024,
  lapsedKeepMs: 60 * 60_000,
  lapsedMaxMessages: 500,
  lapsedPerKernel: 16,
  maxLapsed: 1024,
};

/** Why messages were not kept: a bound, the client away too long, or newer buffers on the kernel. */
export type DropReason = "bounds" | "expired" | "evicted";

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
  /** Why the last drop happened (the notice says it). */
  droppedBecause?: DropReason;
}

interface Buffer_ extends Replay {
  /** Set once the buffer lapsed: it keeps only what ends requests. */
  lapsed?: "expired" | "evicted";
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
    const live = [...this.buffers.entries()].filter(([, b]) => b.kernelId === kernel.id && !b.lapsed);
    for (const [k] of live.slice(0, Math.max(0, live.length - this.limits.perKernel + 1))) this.lapse(k, "evicted", now);
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
      buffer.droppedBecause = buffer.lapsed ?? "bounds";
    };
    const add = (msg: ChannelMessage, raw: RawMessageParts) => {
      const bytes = sizeOf(raw);
      if (buffer.lapsed) {
        if (!endsOwnRequest(msg, buffer.sessions) || this.totalBytes + bytes > this.limits.maxTotalBytes) return drop(1, bytes, msg.parent_header);
        // At its bound the oldest goes: the newest end is the one the client still waits for.
        if (buffer.messages.length >= this.limits.lapsedMaxMessages) this.dropOldest(buffer);
      } else if (buffer.messages.length >= this.limits.maxMessages || buffer.bytes + bytes > this.limits.maxBytes || this.totalBytes + bytes > this.limits.maxTotalBytes) {
        return drop(1, bytes, msg.parent_header);
      }
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
    const { messages, sessions, dropped, droppedAt, droppedParent, droppedBecause } = buffer;
    return { messages, sessions, dropped, droppedAt, droppedParent, droppedBecause };
  }

  /**
   * Makes buffers whose client did not come back in time lapse; ends lapsed ones past their time, and those of
   * kernels that ended.
   */
  tick(isDead: (kernelId: string) => boolean, now = Date.now()): void {
    for (const [k, buffer] of this.buffers) {
      if (isDead(buffer.kernelId) || (buffer.lapsed && now >= buffer.expiresAt)) this.end(k);
      else if (now >= buffer.expiresAt) this.lapse(k, "expired", now);
    }
  }

  /** Ends every buffer, and keeps none from now on (the portal is stopping). */
  close(): void {
    this.closed = true;
    for (const k of [...this.buffers.keys()]) this.end(k);
  }

  /** Buffers, lapsed ones included. */
  get size(): number {
    return this.buffers.size;
  }

  get bytes(): number {
    return this.totalBytes;
  }

  /**
   * Lets go of a buffer's output: what ends a request is kept (so the client's cells still finish when it comes
   * back), the rest counted as dropped; from now on it keeps only that, for `lapsedKeepMs`. The oldest lapsed
   * buffers beyond the lapsed bounds end.
   */
  private lapse(k: string, reason: "expired" | "evicted", now: number): void {
    const buffer = this.buffers.get(k);
    if (!buffer || buffer.lapsed) return;
    buffer.lapsed = reason;
    buffer.expiresAt = now + this.limits.lapsedKeepMs;
    // The notice goes at the first gap in time: the one the buffer had already, or the first message let go now.
    const kept: BufferedMessage[] = [];
    const oldGap = buffer.droppedAt;
    let gap: number | undefined;
    buffer.messages.forEach((m, i) => {
      if (i === oldGap && gap === undefined) gap = kept.length;
      if (endsOwnRequest(m.msg, buffer.sessions) && kept.length < this.limits.lapsedMaxMessages) return void kept.push(m);
      if (gap === undefined) {
        gap = kept.length;
        buffer.droppedParent = m.msg.parent_header;
      }
      const bytes = sizeOf(m.raw);
      buffer.dropped.messages += 1;
      buffer.dropped.bytes += bytes;
      buffer.bytes -= bytes;
      this.totalBytes -= bytes;
    });
    buffer.messages = kept;
    buffer.droppedAt = gap ?? (oldGap === undefined ? undefined : kept.length);
    if (buffer.dropped.messages) buffer.droppedBecause = reason;
    const lapsed = [...this.buffers.entries()].filter(([, b]) => b.lapsed);
    const ofKernel = lapsed.filter(([, b]) => b.kernelId === buffer.kernelId);
    for (const [old] of ofKernel.slice(0, Math.max(0, ofKernel.length - this.limits.lapsedPerKernel))) this.end(old);
    const remaining = lapsed.filter(([old]) => this.buffers.has(old));
    for (const [old] of remaining.slice(0, Math.max(0, remaining.length - this.limits.maxLapsed))) this.end(old);
  }

  /** A lapsed buffer at its bound lets its oldest message go (counted): the first gap is then at the start. */
  private dropOldest(buffer: Buffer_): void {
    const oldest = buffer.messages.shift();
    if (!oldest) return;
    const bytes = sizeOf(oldest.raw);
    buffer.bytes -= bytes;
    this.totalBytes -= bytes;
    buffer.dropped.messages += 1;
    buffer.dropped.bytes += bytes;
    // The notice's cell stays the first one cut, in time.
    if (buffer.droppedAt === undefined) buffer.droppedParent = oldest.msg.parent_header;
    buffer.droppedAt = 0;
    buffer.droppedBecause = buffer.lapsed;
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

/**
 * What a lapsed buffer still keeps: what its client needs to see its own requests finish (small). Status is on
 * iopub, which every client gets: only the statuses of this client's requests are kept.
 */
function endsOwnRequest(msg: ChannelMessage, sessions: ClientSessions): boolean {
  if (msg.channel === "iopub") return msg.header.msg_type === "status" && typeof msg.parent_header.session === "string" && sessions.has(msg.parent_header.session);
  return msg.channel === "stdin" || msg.header.msg_type.endsWith("_reply");
}

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
  const why = {
    bounds: "were more than the portal keeps for a client that reconnects",
    expired: "came after the time the portal keeps output for a client that went away",
    evicted: "were not kept because newer clients of this kernel went away after this one",
  }[replay.droppedBecause ?? "bounds"];
  const text =
    `[Atrium] While this client was disconnected, ${replay.dropped.messages} kernel messages (${mb} MB) ${why}, and ` +
    `were not kept. Run the cell again to see all of its output.\n`;
  return portalIopubMessage({ msgType: "stream", session: "atrium", content: { name: "stderr", text }, parentHeader: replay.droppedParent ?? {} });
}
