// Backpressure for one WebSocket client. Kernel output is never dropped silently: while the socket's own
// buffer (`bufferedAmount`) is under the high-water mark, frames go straight out; above it they wait here, in
// order, and are fed to the socket as its writes complete. If a client is hopelessly behind (more than
// `maxQueuedBytes` waiting), the queue gives up and reports it, and the caller closes the client with a clear
// close code; the client reconnects (and a later durable-output replay fills the gap).
// Frames written in one turn of the event loop leave in one system call when the sink can be corked: a kernel
// answers an execute with several messages at once (status, reply, output), and a loopback write costs tens of
// microseconds each, more than encoding the frame.
// Each frame may carry what it was made from (`origin`, opaque here): stop() gives back those never written, and
// takeFailed() those whose write failed (the connection broke before the OS took them), so the caller can keep
// them for a reconnect. finish() is the other way to end: nothing more is accepted, what waits still goes out, and
// the caller hears when the last of it was handed to the socket (a kernel that died: its output, then "dead", then
// the close).
// Mechanism only: it knows nothing of kernels or framings, so it is tested with a fake socket.

export type Frame = string | Buffer;

/** The part of a `ws` WebSocket this queue uses. */
export interface FrameSink {
  readonly bufferedAmount: number;
  /** False once the socket is closing: nothing more is written, and what waits stays queued (stop() gives it back). */
  readonly open?: boolean;
  send(frame: Frame, callback: (error?: Error) => void): void;
  /** Optional: hold writes back until uncork(), so several frames go out in one system call. */
  cork?(): void;
  uncork?(): void;
}

export interface OutboundLimits {
  /** Above this many bytes in the socket's buffer, frames wait in the queue. */
  highWaterBytes: number;
  /** More than this many bytes waiting in the queue means the client is hopelessly behind. */
  maxQueuedBytes: number;
  /** What every queue of the process holds together, and may (see QueuedTotal); undefined: no bound but each queue's. */
  total?: QueuedTotal;
}

export const DEFAULT_OUTBOUND_LIMITS: OutboundLimits = { highWaterBytes: 1024 * 1024, maxQueuedBytes: 64 * 1024 * 1024 };

/**
 * Bytes waiting in all the queues that share it (a portal's clients). Over `maxBytes`, a queue that takes more while
 * it holds at least CUT_MIN_BYTES itself overflows, as one too far behind on its own does: a few stalled connections
 * (a load balancer that went quiet) cannot hold the process's memory with 64 MiB each, and clients that keep up are
 * not cut for them.
 */
export class QueuedTotal {
  bytes = 0;
  constructor(readonly maxBytes: number) {}
}

/** See QueuedTotal. */
export const DEFAULT_TOTAL_QUEUED_BYTES = 1024 * 1024 * 1024;
const CUT_MIN_BYTES = 1024 * 1024;

export class OutboundQueue<T = unknown> {
  private readonly frames: Frame[] = [];
  private readonly origins: (T | undefined)[] = [];
  /** Origins of writes that failed, in write order. */
  private readonly failed: T[] = [];
  private head = 0;
  private bytes = 0;
  private stopped = false;
  private corked = false;
  /** Set by finish(): called once the last queued frame has been handed to the sink. */
  private onFinished: (() => void) | undefined;

  constructor(
    private readonly sink: FrameSink,
    private readonly limits: OutboundLimits,
    /** Called once when the client falls hopelessly behind, with the origins never written; nothing is accepted after that. */
    private readonly onOverflow: (queuedBytes: number, unsent: T[]) => void,
    private readonly onSendError: (error: Error) => void = () => {},
  ) {}

  get queuedBytes(): number {
    return this.bytes;
  }

  get queuedFrames(): number {
    return this.frames.length - this.head;
  }

  push(frame: Frame, origin?: T): void {
    if (this.stopped || this.onFinished) return;
    if (this.queuedFrames === 0 && this.sink.open !== false && this.sink.bufferedAmount < this.limits.highWaterBytes) {
      this.write(frame, origin);
      return;
    }
    this.frames.push(frame);
    this.origins.push(origin);
    this.count(sizeOf(frame));
    // One frame may always wait (a single large output is already in memory); more than the bound may not.
    const total = this.limits.total;
    const overTotal = total !== undefined && total.bytes > total.maxBytes && this.bytes >= CUT_MIN_BYTES;
    if ((this.bytes > this.limits.maxQueuedBytes && this.queuedFrames > 1) || overTotal) {
      const queued = this.bytes;
      const unsent = this.stop();
      this.onOverflow(queued, unsent);
    }
  }

  /**
   * Accepts nothing more, and calls `done` once everything queued has been handed to the sink: at once if nothing
   * waits, never if stop() comes first (the caller then bounds the wait itself: a client may never read again).
   */
  finish(done: () => void): void {
    if (this.stopped || this.onFinished) return;
    this.onFinished = done;
    this.finishIfDrained();
  }

  /** Drops what is queued and accepts nothing more (the client is closing). Returns the origins never written. */
  stop(): T[] {
    const unsent = this.origins.slice(this.head).filter((o): o is T => o !== undefined);
    this.stopped = true;
    this.onFinished = undefined;
    this.frames.length = 0;
    this.origins.length = 0;
    this.head = 0;
    this.count(-this.bytes);
    return unsent;
  }

  /** This queue's bytes, and the total it shares, change together. */
  private count(delta: number) {
    this.bytes += delta;
    if (this.limits.total) this.limits.total.bytes += delta;
  }

  /** Origins of the writes that failed since the last call, oldest first (older than anything still queued). */
  takeFailed(): T[] {
    return this.failed.splice(0);
  }

  private write(frame: Frame, origin: T | undefined) {
    this.corkForThisTurn();
    this.sink.send(frame, (error) => {
      if (error) {
        if (origin !== undefined) this.failed.push(origin);
        if (!this.stopped) this.onSendError(error);
        return;
      }
      this.drain();
    });
  }

  /** The first write of a turn corks the sink; the check phase right after this turn's I/O uncorks it. */
  private corkForThisTurn() {
    if (this.corked || !this.sink.cork) return;
    this.corked = true;
    this.sink.cork();
    setImmediate(this.uncork);
  }

  private readonly uncork = () => {
    this.corked = false;
    this.sink.uncork?.();
  };

  /** Feeds queued frames to the socket until its buffer reaches the high-water mark again. */
  private drain() {
    while (!this.stopped && this.sink.open !== false && this.queuedFrames > 0 && this.sink.bufferedAmount < this.limits.highWaterBytes) {
      const frame = this.frames[this.head]!;
      const origin = this.origins[this.head];
      this.frames[this.head] = "";
      this.origins[this.head] = undefined;
      this.head++;
      this.count(-sizeOf(frame));
      this.write(frame, origin);
    }
    this.finishIfDrained();
    // Compact now and then, so a long-lived queue does not keep a growing array of sent slots.
    if (this.head > 1024 && this.head * 2 > this.frames.length) {
      this.frames.splice(0, this.head);
      this.origins.splice(0, this.head);
      this.head = 0;
    }
  }

  private finishIfDrained() {
    if (this.stopped || this.queuedFrames > 0 || !this.onFinished) return;
    const done = this.onFinished;
    this.onFinished = undefined;
    this.stopped = true;
    done();
  }
}

/** Bytes a frame costs; string length is a close enough measure for the bound (JSON is mostly ASCII). */
const sizeOf = (frame: Frame) => (typeof frame === "string" ? frame.length : frame.byteLength);
