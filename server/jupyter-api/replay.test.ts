// ReplayBuffers with a fake kernel: what is kept for a client that went away (iopub, and replies to its sessions),
// in order, after what it left; every bound drops and counts; a take ends the buffer; expiry and a kernel's end
// lapse it (only what ends requests is kept, the rest counted), and a kernel's end ends it; the notice says what was
// not kept and why, under the cell whose output was cut.
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import type { KernelListener } from "@/server/kernels/live-kernel";
import { createMessage, type ChannelMessage } from "@/server/kernels/protocol/messages";
import type { RawMessageParts } from "@/server/kernels/protocol/wire";
import { DEFAULT_REPLAY_LIMITS, ReplayBuffers, replayNotice, sizeOf, type BufferedMessage, type ReplayLimits } from "./replay";
import { ClientSessions } from "./routing";

class FakeSource {
  isDead = false;
  readonly listeners = new Set<KernelListener>();
  constructor(readonly id: string) {}
  subscribe(listener: KernelListener, options: { countsAsClient: boolean }) {
    assert.equal(options.countsAsClient, false, "a buffer is not a client");
    this.listeners.add(listener);
    return () => void this.listeners.delete(listener);
  }
  emit(m: BufferedMessage) {
    for (const listener of this.listeners) listener(m.msg, m.raw);
  }
}

function message(channel: ChannelMessage["channel"], n: number, parentSession = "s1", textBytes = 10, msgType?: string): BufferedMessage {
  const parent = createMessage({ msgType: "execute_request", session: parentSession, username: "u", content: {} }).header;
  const content = { n, text: "x".repeat(textBytes) };
  msgType ??= channel === "iopub" ? "stream" : "execute_reply";
  const msg = { ...createMessage({ msgType, session: "k", username: "k", content, parentHeader: parent }), channel } as ChannelMessage;
  const raw: RawMessageParts = {
    identities: [],
    header: Buffer.from(JSON.stringify(msg.header)),
    parentHeader: Buffer.from(JSON.stringify(parent)),
    metadata: Buffer.from("{}"),
    content: Buffer.from(JSON.stringify(content)),
    buffers: [],
  };
  return { msg, raw };
}

const limits = (over: Partial<ReplayLimits> = {}): ReplayLimits => ({ ...DEFAULT_REPLAY_LIMITS, ...over });
const numbers = (messages: BufferedMessage[]) => messages.map((m) => m.msg.content.n);

describe("ReplayBuffers", () => {
  it("keeps iopub and the replies to the client's sessions, after what it left, in order; a take ends the buffer", () => {
    const buffers = new ReplayBuffers(limits());
    const kernel = new FakeSource("k1");
    const sessions = new ClientSessions("s1");
    buffers.keep("ana", kernel, "s1", sessions, { messages: [message("iopub", 0)], undelivered: { messages: 0, bytes: 0 } });
    kernel.emit(message("iopub", 1, "someone-else")); // iopub is everyone's
    kernel.emit(message("shell", 2, "someone-else")); // another client's reply
    kernel.emit(message("shell", 3, "s1"));
    assert.equal(buffers.take("ana", "k1", "other-session"), undefined);
    assert.equal(buffers.take("bob", "k1", "s1"), undefined, "only its user takes it");
    const replay = buffers.take("ana", "k1", "s1")!;
    assert.deepEqual(numbers(replay.messages), [0, 1, 3]);
    assert.equal(replay.sessions, sessions);
    assert.deepEqual(replay.dropped, { messages: 0, bytes: 0 });
    assert.equal(replayNotice(replay), undefined, "nothing to tell");
    assert.equal(kernel.listeners.size, 0, "no longer listening");
    assert.equal(buffers.take("ana", "k1", "s1"), undefined, "taken once");
    assert.equal(buffers.bytes, 0);
  });

  it("drops and counts what is over a bound, and the notice says so under the cell that was cut", () => {
    const buffers = new ReplayBuffers(limits({ maxMessages: 2 }));
    const kernel = new FakeSource("k1");
    const first = message("iopub", 0);
    buffers.keep("ana", kernel, "s1", new ClientSessions("s1"), { messages: [first], undelivered: { messages: 5, bytes: 500, parent: first.msg.parent_header } });
    const cut = [1, 2, 3, 4].map((n) => message("iopub", n));
    for (const m of cut) kernel.emit(m);
    const replay = buffers.take("ana", "k1", "s1")!;
    assert.deepEqual(numbers(replay.messages), [0, 1]);
    assert.equal(replay.dropped.messages, 5 + 3);
    assert.ok(replay.dropped.bytes > 500);
    assert.equal(replay.droppedAt, 1, "the first gap: right after what the client left, before what came next");
    assert.deepEqual(replay.droppedParent, first.msg.parent_header, "the cell of the first message not kept");
    const notice = replayNotice(replay)!;
    assert.equal(notice.msg.channel, "iopub");
    assert.equal(notice.msg.header.msg_type, "stream");
    assert.equal(notice.msg.content.name, "stderr");
    assert.match(String(notice.msg.content.text), /8 kernel messages .* were not kept/);
    assert.deepEqual(notice.msg.parent_header, first.msg.parent_header);
    assert.deepEqual(JSON.parse(notice.raw.content.toString()), notice.msg.content, "its bytes say the same");
  });

  it("bounds bytes per buffer and in all, and buffers per kernel (a new one makes the oldest lapse)", () => {
    const one = message("iopub", 0, "x", 1000);
    const size = one.raw.header.byteLength + one.raw.parentHeader.byteLength + one.raw.metadata.byteLength + one.raw.content.byteLength;
    const buffers = new ReplayBuffers(limits({ maxBytes: size * 3, maxTotalBytes: size * 5, perKernel: 2 }));
    const kernel = new FakeSource("k1");
    buffers.keep("ana", kernel, "a", new ClientSessions("a"));
    buffers.keep("ana", kernel, "b", new ClientSessions("b"));
    for (let n = 0; n < 5; n++) kernel.emit(message("iopub", n, "x", 1000));
    // a and b take turns: 2 each, then a third for a fills the process-wide bound (b's third is dropped), then a is full.
    assert.equal(buffers.bytes, size * 5, "the process-wide bound");
    const a = buffers.take("ana", "k1", "a")!;
    assert.equal(a.messages.length, 3, "the per-buffer bound");
    assert.equal(a.dropped.messages, 2);
    assert.equal(buffers.bytes, size * 2, "a's bytes are given back");
    buffers.keep("ana", kernel, "c", new ClientSessions("c"));
    buffers.keep("ana", kernel, "d", new ClientSessions("d")); // a third on k1: b, the oldest, lapses
    assert.equal(buffers.bytes, 0, "b let go of its output");
    assert.equal(buffers.size, 3);
    const b = buffers.take("ana", "k1", "b")!;
    assert.deepEqual(b.messages, []);
    assert.equal(b.dropped.messages, 5, "the three over the bounds, then the two it had kept");
    assert.equal(b.droppedBecause, "evicted");
    assert.match(String(replayNotice(b)!.msg.content.text), /5 kernel messages .* newer clients of this kernel went away after this one/);
    assert.equal(kernel.listeners.size, 2);
  });

  it("a buffer past its time lapses: it keeps what ends its client's requests, counts the rest, and says so under the first cut cell", () => {
    const buffers = new ReplayBuffers(limits({ keepMs: 1000, lapsedKeepMs: 5000, lapsedMaxMessages: 3 }));
    const kernel = new FakeSource("k1");
    buffers.keep("ana", kernel, "s1", new ClientSessions("s1"), undefined, 0);
    const busy = message("iopub", 0, "s1", 0, "status");
    const early = message("iopub", 1);
    kernel.emit(busy);
    kernel.emit(early);
    buffers.tick(() => false, 1000);
    assert.equal(buffers.bytes, sizeOf(busy.raw), "only the status is still held");
    const late = message("iopub", 2);
    const input = message("stdin", 3, "s1", 0, "input_request");
    const reply = message("shell", 4);
    const idle = message("iopub", 5, "s1", 0, "status");
    const othersStatus = message("iopub", 9, "another-client", 0, "status"); // another tab's requests: not this client's
    for (const m of [late, othersStatus, input, reply, idle, message("iopub", 6, "s1", 0, "status")]) kernel.emit(m);
    const replay = buffers.take("ana", "k1", "s1")!;
    assert.deepEqual(numbers(replay.messages), [4, 5, 6], "what ends its requests, the newest lapsedMaxMessages");
    assert.deepEqual(replay.dropped.messages, 5, "the two streams, the other client's status, and the oldest beyond the bound");
    assert.equal(replay.droppedAt, 0, "the first gap: before everything kept");
    assert.deepEqual(replay.droppedParent, early.msg.parent_header, "under the first cell cut");
    assert.equal(replay.droppedBecause, "expired");
    assert.match(String(replayNotice(replay)!.msg.content.text), /5 kernel messages .* came after the time the portal keeps output/);
    assert.equal(buffers.bytes, 0);
    assert.equal(kernel.listeners.size, 0);
  });

  it("a lapsed buffer ends after lapsedKeepMs, and lapsed buffers are bounded per kernel and in all", () => {
    const buffers = new ReplayBuffers(limits({ keepMs: 10, lapsedKeepMs: 100, lapsedPerKernel: 2, maxLapsed: 3 }));
    const k1 = new FakeSource("k1");
    const k2 = new FakeSource("k2");
    for (const s of ["a", "b", "c"]) buffers.keep("ana", k1, s, new ClientSessions(s), undefined, 0);
    buffers.keep("ana", k2, "a", new ClientSessions("a"), undefined, 0);
    buffers.tick(() => false, 10);
    assert.equal(buffers.take("ana", "k1", "a"), undefined, "the oldest lapsed buffer of k1 ended (2 per kernel)");
    assert.equal(buffers.size, 3);
    buffers.keep("ana", k2, "b", new ClientSessions("b"), undefined, 20);
    buffers.keep("ana", k2, "c", new ClientSessions("c"), undefined, 20);
    buffers.tick(() => false, 30);
    assert.equal(buffers.size, 3, "3 lapsed in all");
    assert.equal(buffers.take("ana", "k1", "b"), undefined, "the oldest in all ended");
    buffers.tick(() => false, 129);
    assert.equal(buffers.size, 2);
    buffers.tick(() => false, 130);
    assert.equal(buffers.size, 0, "ended after lapsedKeepMs");
    assert.equal(k1.listeners.size + k2.listeners.size, 0);
  });

  it("ends a buffer whose client did not come back in time, and one whose kernel ended", () => {
    const buffers = new ReplayBuffers(limits({ keepMs: 1000 }));
    const k1 = new FakeSource("k1");
    const k2 = new FakeSource("k2");
    buffers.keep("ana", k1, "s", new ClientSessions("s"), undefined, 0);
    buffers.keep("ana", k2, "s", new ClientSessions("s"), undefined, 500);
    buffers.tick(() => false, 999);
    assert.equal(buffers.size, 2);
    buffers.tick(() => false, 1000);
    assert.deepEqual(buffers.take("ana", "k1", "s")?.messages, [], "lapsed: nothing came that ends a request");
    assert.equal(k1.listeners.size, 0);
    buffers.tick((id) => id === "k2", 1001);
    assert.equal(buffers.size, 0, "its kernel ended");
    const dead = new FakeSource("k3");
    dead.isDead = true;
    buffers.keep("ana", dead, "s", new ClientSessions("s"));
    assert.equal(buffers.size, 0, "nothing is kept for a dead kernel");
    buffers.keep("ana", k1, "s", new ClientSessions("s"));
    buffers.close();
    assert.equal(buffers.size, 0);
    assert.equal(k1.listeners.size, 0);
    buffers.keep("ana", k1, "s", new ClientSessions("s"));
    assert.equal(buffers.size, 0, "nothing is kept once closed (the portal is stopping)");
  });
});
