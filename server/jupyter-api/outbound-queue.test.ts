// The backpressure queue against a fake socket whose writes complete on demand: order, draining, the bound.
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { OutboundQueue, QueuedTotal, type Frame, type FrameSink } from "./outbound-queue";

/** A socket whose writes complete only when the test says so. */
class FakeSink implements FrameSink {
  bufferedAmount = 0;
  open = true;
  readonly written: Frame[] = [];
  private readonly pending: { size: number; done: (error?: Error) => void }[] = [];
  send(frame: Frame, done: (error?: Error) => void) {
    const size = typeof frame === "string" ? frame.length : frame.byteLength;
    this.bufferedAmount += size;
    this.written.push(frame);
    this.pending.push({ size, done });
  }
  /** The connection breaks: every pending write fails. */
  failAll() {
    for (const write of this.pending.splice(0)) write.done(new Error("socket destroyed"));
    this.bufferedAmount = 0;
  }
  /** The network takes the oldest write. */
  flushOne() {
    const write = this.pending.shift();
    if (!write) return false;
    this.bufferedAmount -= write.size;
    write.done();
    return true;
  }
}

describe("OutboundQueue", () => {
  it("gives back the origins of writes that failed, oldest first, before what was never written", () => {
    const sink = new FakeSink();
    const queue = new OutboundQueue<number>(sink, { highWaterBytes: 20, maxQueuedBytes: 1_000_000 }, () => assert.fail("no overflow"));
    for (let n = 0; n < 10; n++) queue.push(`frame ${n}`, n); // 7 bytes each: 3 written, 7 queued
    sink.flushOne(); // frame 0 reached the OS
    sink.open = false;
    sink.failAll(); // frames 1 and 2, and the one the drain wrote meanwhile, were not taken
    assert.deepEqual([...queue.takeFailed(), ...queue.stop()], [1, 2, 3, 4, 5, 6, 7, 8, 9]);
    assert.deepEqual(queue.takeFailed(), [], "taken once");
  });

  it("writes nothing once the socket is closing, and stop() gives back what was never written, in order", () => {
    const sink = new FakeSink();
    const queue = new OutboundQueue<number>(sink, { highWaterBytes: 10, maxQueuedBytes: 1_000_000 }, () => assert.fail("no overflow"));
    for (let n = 0; n < 2000; n++) queue.push(`frame ${n}`, n);
    // Drain past the compaction point (1024 written), then the socket starts closing mid-drain.
    for (let i = 0; i < 1500; i++) sink.flushOne();
    sink.open = false;
    while (sink.flushOne());
    const written = sink.written.length;
    assert.ok(written > 1024 && written < 2000, `${written} written`);
    queue.push("after the close began", 2000);
    assert.equal(sink.written.length, written, "nothing written while closing");
    assert.deepEqual(queue.stop(), Array.from({ length: 2001 - written }, (_, i) => written + i), "the origins never written, in order");
  });

  it("writes straight through under the high-water mark, queues above it, and drains in order", () => {
    const sink = new FakeSink();
    const queue = new OutboundQueue(sink, { highWaterBytes: 10, maxQueuedBytes: 100 }, () => assert.fail("no overflow"));
    for (const frame of ["aaaaaa", "bbbbbb", "cccccc", "dddddd"]) queue.push(frame);
    assert.deepEqual(sink.written, ["aaaaaa", "bbbbbb"]);
    assert.equal(queue.queuedFrames, 2);
    assert.equal(queue.queuedBytes, 12);
    while (sink.flushOne());
    assert.deepEqual(sink.written, ["aaaaaa", "bbbbbb", "cccccc", "dddddd"]);
    assert.equal(queue.queuedBytes, 0);
  });

  it("finish(): what waits still goes out, then the caller is told; nothing is accepted after", () => {
    const sink = new FakeSink();
    const queue = new OutboundQueue(sink, { highWaterBytes: 10, maxQueuedBytes: 100 }, () => assert.fail("no overflow"));
    for (const frame of ["aaaaaa", "bbbbbb", "cccccc", "dddddd"]) queue.push(frame);
    let finished = 0;
    queue.finish(() => finished++);
    queue.push("after finish");
    sink.flushOne();
    assert.equal(finished, 0, "not while frames wait");
    while (sink.flushOne());
    assert.deepEqual(sink.written, ["aaaaaa", "bbbbbb", "cccccc", "dddddd"]);
    assert.equal(finished, 1, "once the last frame was handed to the sink");

    const idle = new OutboundQueue(new FakeSink(), { highWaterBytes: 10, maxQueuedBytes: 100 }, () => assert.fail("no overflow"));
    idle.finish(() => finished++);
    assert.equal(finished, 2, "at once when nothing waits");

    const cut = new OutboundQueue(new FakeSink(), { highWaterBytes: 1, maxQueuedBytes: 100 }, () => assert.fail("no overflow"));
    cut.push("written");
    cut.push("waits");
    cut.finish(() => finished++);
    cut.stop();
    assert.equal(finished, 2, "never once stopped");
  });

  it("gives up once more than the bound is waiting, and accepts nothing after", () => {
    const sink = new FakeSink();
    const overflows: number[] = [];
    const queue = new OutboundQueue(sink, { highWaterBytes: 1, maxQueuedBytes: 10 }, (bytes) => overflows.push(bytes));
    queue.push("first");
    queue.push("a large single frame may wait"); // one frame alone may exceed the bound
    assert.deepEqual(overflows, []);
    queue.push("x");
    assert.deepEqual(overflows, [30]);
    queue.push("ignored");
    while (sink.flushOne());
    assert.deepEqual(sink.written, ["first"]);
  });

  it("corks the sink for a turn of the event loop, so the frames of one turn leave together", async () => {
    const events: string[] = [];
    const sink = new FakeSink();
    const corkable: FrameSink = {
      get bufferedAmount() {
        return sink.bufferedAmount;
      },
      send: (frame, done) => {
        events.push(`send ${String(frame)}`);
        sink.send(frame, done);
      },
      cork: () => events.push("cork"),
      uncork: () => events.push("uncork"),
    };
    const queue = new OutboundQueue(corkable, { highWaterBytes: 100, maxQueuedBytes: 1000 }, () => assert.fail("no overflow"));
    queue.push("status busy");
    queue.push("execute_reply");
    queue.push("status idle");
    assert.deepEqual(events, ["cork", "send status busy", "send execute_reply", "send status idle"]);
    await new Promise((resolve) => setImmediate(resolve));
    assert.deepEqual(events.slice(4), ["uncork"]);
    queue.push("next turn");
    assert.deepEqual(events.slice(5), ["cork", "send next turn"]);
    await new Promise((resolve) => setImmediate(resolve));
    assert.deepEqual(events.slice(7), ["uncork"]);
  });

  it("a total shared by all queues: over it, the queue that takes more while it holds 1 MiB overflows, the others go on", () => {
    const total = new QueuedTotal(3 * 1024 * 1024 + 1024);
    const limits = { highWaterBytes: 1, maxQueuedBytes: 64 * 1024 * 1024, total };
    const mib = "x".repeat(1024 * 1024);
    const overflowed: string[] = [];
    const make = (name: string) => {
      const sink = new FakeSink();
      return { sink, queue: new OutboundQueue<number>(sink, limits, (queued) => void overflowed.push(`${name} ${queued}`)) };
    };
    const keepsUp = make("keeps-up");
    const stalledA = make("stalled-a");
    const stalledB = make("stalled-b");
    for (const q of [keepsUp, stalledA, stalledB]) q.queue.push("first"); // written at once; the sockets' buffers are full now
    stalledA.queue.push(mib);
    stalledA.queue.push(mib);
    assert.equal(total.bytes, 2 * mib.length);
    keepsUp.queue.push("small"); // waits: its socket's buffer is over the high-water mark
    stalledB.queue.push(mib);
    stalledB.queue.push(mib); // 4 MiB in all now, over the total (3 MiB and a bit): the queue taking it holds 2 MiB
    assert.deepEqual(overflowed, [`stalled-b ${2 * mib.length}`]);
    assert.equal(total.bytes, 2 * mib.length + "small".length, "what the cut queue held is no longer counted");
    // The one that keeps up drains, and is not cut for the others' sake.
    keepsUp.sink.flushOne();
    assert.deepEqual(keepsUp.sink.written, ["first", "small"]);
    keepsUp.queue.push("more");
    assert.equal(overflowed.length, 1);
    // Stopping and draining give their bytes back to the total.
    stalledA.queue.stop();
    keepsUp.sink.flushOne();
    assert.equal(total.bytes, 0);
  });
});
