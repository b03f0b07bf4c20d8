// ChannelClient in an in-process socket rig: a real `ws` server and client over loopback, a fake kernel.
// Guards the bridge's rules without Python: replies routed by session, malformed frames survived, a slow
// client queued in order and a hopeless one closed with 1013 (never a silent gap), the ping deadline, and
// the iopub "dead" status + 1001 when the kernel is gone (after the output a slow client has not read yet).
import assert from "node:assert/strict";
import net from "node:net";
import { after, describe, it } from "node:test";
import { WebSocket, WebSocketServer } from "ws";
import type { KernelListener } from "@/server/kernels/live-kernel";
import { createMessage, type ChannelMessage, type KernelMessage, type OutgoingChannel } from "@/server/kernels/protocol/messages";
import { decodeWsMessage, encodeV1Parts, encodeWsMessage, V1_SUBPROTOCOL } from "@/server/kernels/protocol/websocket";
import type { RawMessageParts } from "@/server/kernels/protocol/wire";
import { ChannelClient, DEAD_KERNEL_DRAIN_MS, type KernelPort } from "./client";
import type { BufferedMessage, Left, Replay } from "./replay";
import { ClientSessions } from "./routing";

class FakeKernel implements KernelPort {
  readonly id = "fake-kernel";
  isDead = false;
  replaced = false;
  settledEnd() {
    return this.isDead ? (this.replaced ? ("replaced" as const) : ("dead" as const)) : undefined;
  }
  readonly sent: { channel: OutgoingChannel; msg: KernelMessage }[] = [];
  greets: BufferedMessage[] = [];
  greeting() {
    return this.greets;
  }
  private readonly listeners = new Set<KernelListener>();

  subscribe(listener: KernelListener) {
    this.listeners.add(listener);
    return () => void this.listeners.delete(listener);
  }
  async send(channel: OutgoingChannel, msg: KernelMessage) {
    this.sent.push({ channel, msg });
  }
  get subscribers() {
    return this.listeners.size;
  }
  emit(channel: ChannelMessage["channel"], msgType: string, content: Record<string, unknown>, parentSession?: string) {
    const parent = parentSession ? createMessage({ msgType: "execute_request", session: parentSession, username: "u", content: {} }).header : {};
    const msg = { ...createMessage({ msgType, session: "kernel", username: "kernel", content, parentHeader: parent }), channel } as ChannelMessage;
    const raw: RawMessageParts = {
      identities: [],
      header: Buffer.from(JSON.stringify(msg.header)),
      parentHeader: Buffer.from(JSON.stringify(msg.parent_header)),
      metadata: Buffer.from("{}"),
      content: Buffer.from(JSON.stringify(content)),
      buffers: [],
    };
    for (const listener of this.listeners) listener(msg, raw);
  }
}

interface Rig {
  kernel: FakeKernel;
  server: ChannelClient;
  /** The server's end of the socket. */
  serverWs: WebSocket;
  client: WebSocket;
  /** The client's TCP socket, to stop and resume reading. */
  tcp: net.Socket;
  received: ChannelMessage[];
  closed: Promise<{ code: number; reason: string }>;
  next(what: string, match: (m: ChannelMessage) => boolean): Promise<ChannelMessage>;
}

const wss = new WebSocketServer({ port: 0, host: "127.0.0.1", perMessageDeflate: false, handleProtocols: () => V1_SUBPROTOCOL });
const port = new Promise<number>((resolve) => wss.once("listening", () => resolve((wss.address() as net.AddressInfo).port)));
after(() => new Promise<void>((resolve) => wss.close(() => resolve())));

async function rig(options: { sessionId?: string; highWaterBytes?: number; maxQueuedBytes?: number; onGone?: (sessions: ClientSessions, left: Left) => void; replay?: Replay; kernel?: FakeKernel } = {}): Promise<Rig> {
  const kernel = options.kernel ?? new FakeKernel();
  const serverSide = new Promise<[ChannelClient, WebSocket]>((resolve) =>
    wss.once("connection", (ws) =>
      resolve([
        new ChannelClient(ws, kernel, {
          framing: "v1",
          sessionId: options.sessionId,
          user: "tester",
          limits: { highWaterBytes: options.highWaterBytes ?? 1 << 20, maxQueuedBytes: options.maxQueuedBytes ?? 64 << 20 },
          pingIntervalMs: 1000,
          onGone: options.onGone,
          replay: options.replay,
        }),
        ws,
      ]),
    ),
  );
  let tcp!: net.Socket;
  const client = new WebSocket(`ws://127.0.0.1:${await port}/`, [V1_SUBPROTOCOL], {
    perMessageDeflate: false,
    createConnection: (opts: object) => (tcp = net.connect(opts as net.NetConnectOpts)),
  });
  const received: ChannelMessage[] = [];
  const waiters = new Set<() => void>();
  client.on("message", (data) => {
    const decoded = decodeWsMessage(data as Buffer, "v1");
    assert.ok(decoded.ok);
    received.push(decoded.value);
    for (const wake of waiters) wake();
  });
  const closed = new Promise<{ code: number; reason: string }>((resolve) => client.once("close", (code, reason) => resolve({ code, reason: reason.toString() })));
  await new Promise((resolve, reject) => client.once("open", resolve).once("error", reject));
  const next = (what: string, match: (m: ChannelMessage) => boolean) =>
    new Promise<ChannelMessage>((resolve, reject) => {
      const check = () => {
        const found = received.find(match);
        if (!found) return;
        clearTimeout(timer);
        waiters.delete(check);
        resolve(found);
      };
      const timer = setTimeout(() => (waiters.delete(check), reject(new Error(`timed out waiting for ${what}`))), 5000);
      waiters.add(check);
      check();
    });
  const [server, serverWs] = await serverSide;
  return { kernel, server, serverWs, client, tcp, received, closed, next };
}

const request = (session: string, channel: OutgoingChannel = "shell") =>
  encodeWsMessage({ ...createMessage({ msgType: "execute_request", session, username: "u", content: { code: "1" } }), channel }, "v1");

describe("ChannelClient", () => {
  it("sends iopub to the client, and replies only for the sessions the client used", async () => {
    const r = await rig({ sessionId: "from-url" });
    r.kernel.emit("shell", "execute_reply", { n: 1 }, "someone-else");
    r.kernel.emit("shell", "execute_reply", { n: 2 }, "from-url");
    r.client.send(request("from-header"));
    await new Promise<void>((resolve) => {
      const poll = () => (r.kernel.sent.length ? resolve() : setTimeout(poll, 5));
      poll();
    });
    assert.equal(r.kernel.sent[0]?.channel, "shell");
    assert.equal(r.kernel.sent[0]?.msg.header.session, "from-header", "the client's own header is kept");
    r.kernel.emit("stdin", "input_request", { n: 3 }, "from-header");
    r.kernel.emit("iopub", "stream", { n: 4 });
    await r.next("the iopub message", (m) => m.content.n === 4);
    assert.deepEqual(r.received.map((m) => m.content.n), [2, 3, 4]);
    r.client.close();
    await r.server.closed;
    assert.equal(r.kernel.subscribers, 0, "unsubscribed on close");
  });

  it("a client whose messages name no session gets its own: replies never reach another such client", async () => {
    const [a, b] = [await rig(), await rig()];
    const bare = encodeV1Parts("shell", [{ msg_id: "m-1", msg_type: "execute_request" }, {}, {}, { code: "1" }].map((part) => Buffer.from(JSON.stringify(part))));
    a.client.send(bare);
    b.client.send(bare);
    const sentBy = async (r: Rig) => {
      await new Promise<void>((resolve) => {
        const poll = () => (r.kernel.sent.length ? resolve() : setTimeout(poll, 5));
        poll();
      });
      return r.kernel.sent[0]!.msg.header.session;
    };
    const [sa, sb] = [await sentBy(a), await sentBy(b)];
    assert.ok(sa && sb && sa !== sb, `distinct sessions: ${sa} / ${sb}`);
    a.kernel.emit("shell", "execute_reply", { n: 1 }, sb); // a reply for b's session never reaches a
    a.kernel.emit("shell", "execute_reply", { n: 2 }, sa);
    await a.next("its own reply", (m) => m.content.n === 2);
    assert.deepEqual(a.received.map((m) => m.content.n), [2]);
    for (const r of [a, b]) {
      r.client.close();
      await r.server.closed;
    }
  });

  it("drops malformed frames and iopub sends, and keeps the connection", async () => {
    const r = await rig();
    r.client.send(Buffer.from("garbage"));
    r.client.send("text on v1");
    r.client.send(request("s", "iopub" as OutgoingChannel));
    r.client.send(request("s", "control"));
    await new Promise<void>((resolve) => {
      const poll = () => (r.kernel.sent.length ? resolve() : setTimeout(poll, 5));
      poll();
    });
    assert.deepEqual(r.kernel.sent.map((s) => s.channel), ["control"]);
    assert.equal(r.client.readyState, WebSocket.OPEN);
    r.client.close();
    await r.closed;
  });

  it("queues output for a slow client and delivers all of it, in order", async () => {
    const r = await rig({ highWaterBytes: 64 * 1024, maxQueuedBytes: 8 << 20 });
    r.tcp.pause();
    const chunk = "x".repeat(100 * 1024);
    for (let n = 0; n < 40; n++) r.kernel.emit("iopub", "stream", { n, text: chunk }); // ~4 MiB
    r.tcp.resume();
    await r.next("the last output", (m) => m.content.n === 39);
    assert.deepEqual(r.received.map((m) => m.content.n), Array.from({ length: 40 }, (_, n) => n));
    assert.equal(r.client.readyState, WebSocket.OPEN);
    r.client.close();
    await r.closed;
  });

  it("closes a hopelessly slow client with 1013 after a gap-free prefix", async () => {
    const gone: Left[] = [];
    const r = await rig({ highWaterBytes: 64 * 1024, maxQueuedBytes: 1 << 20, onGone: (_sessions, left) => void gone.push(left) });
    r.tcp.pause();
    const chunk = "x".repeat(100 * 1024);
    for (let n = 0; n < 100; n++) r.kernel.emit("iopub", "stream", { n, text: chunk }); // ~10 MiB
    r.tcp.resume();
    const closed = await r.closed;
    assert.equal(closed.code, 1013);
    assert.match(closed.reason, /fell behind/);
    const got = r.received.map((m) => m.content.n);
    assert.ok(got.length > 0 && got.length < 100);
    assert.deepEqual(got, Array.from({ length: got.length }, (_, n) => n), "what arrived has no gaps");
    await r.server.closed;
    assert.equal(r.kernel.subscribers, 0);
    // Nothing unaccounted for: what was never written, and what came after, are left for a reconnect, in order.
    assert.equal(gone.length, 1);
    const [left] = gone;
    assert.deepEqual([...got, ...left!.messages.map((m) => m.msg.content.n)], Array.from({ length: 100 }, (_, n) => n));
    assert.equal(left!.undelivered.messages, 0);
  });

  it("a client cut off while output waits for it leaves the output never written for a reconnect, in order", async () => {
    const gone: Left[] = [];
    const r = await rig({ highWaterBytes: 64 * 1024, onGone: (_sessions, left) => void gone.push(left) });
    r.tcp.pause();
    const chunk = "x".repeat(100 * 1024);
    for (let n = 0; n < 150; n++) r.kernel.emit("iopub", "stream", { n, text: chunk }); // 15 MiB: more than the OS buffers take
    r.tcp.destroy(); // the network drops it: what is queued was never written
    await r.server.closed;
    assert.equal(gone.length, 1);
    const left = gone[0]!.messages.map((m) => Number(m.msg.content.n));
    const { undelivered } = gone[0]!;
    assert.ok(left.length > 0, "the queued ones are left");
    assert.deepEqual(left, Array.from({ length: left.length }, (_, i) => left[0]! + i), "in order, with no gap");
    // Beyond what one client may leave (8 MiB), the rest is counted, to be told: nothing is lost without a word.
    assert.equal(left.at(-1)! + 1 + undelivered.messages, 150);
    assert.equal(undelivered.messages > 0, true);
    assert.deepEqual(undelivered.parent, {}, "the parent of the first one counted (these have none)");
  });

  it("a reconnected client gets its replay first, the notice at the first gap, then what is new", async () => {
    const source = new FakeKernel();
    const kept: BufferedMessage[] = [];
    const off = source.subscribe((msg, raw) => void kept.push({ msg, raw }));
    source.emit("iopub", "stream", { n: 1 });
    source.emit("iopub", "stream", { n: 3 });
    off();
    const replay: Replay = { messages: kept, sessions: new ClientSessions("s1"), dropped: { messages: 1, bytes: 10 }, droppedAt: 1, droppedParent: kept[1]!.msg.parent_header };
    const r = await rig({ sessionId: "s1", replay, kernel: source });
    source.emit("iopub", "stream", { n: 4 });
    await r.next("the new one", (m) => m.content.n === 4);
    assert.deepEqual(
      r.received.map((m) => m.content.n ?? m.content.name),
      [1, "stderr", 3, 4],
    );
    assert.match(String(r.received[1]!.content.text), /1 kernel messages/);
    r.client.close();
    await r.server.closed;
  });

  it("a client new to the kernel hears its greeting first (an input request for another session too); a reconnected one gets its replay, then only that the kernel is busy", async () => {
    const kernel = new FakeKernel();
    const said: BufferedMessage[] = [];
    const off = kernel.subscribe((msg, raw) => void said.push({ msg, raw }));
    kernel.emit("iopub", "status", { execution_state: "busy" });
    kernel.emit("stdin", "input_request", { prompt: "name? " }, "the-tab-that-ran-it");
    off();
    kernel.greets = said;
    const fresh = await rig({ kernel });
    kernel.emit("iopub", "stream", { n: 1 });
    await fresh.next("what came after", (m) => m.content.n === 1);
    assert.deepEqual(fresh.received.map((m) => m.header.msg_type), ["status", "input_request", "stream"]);
    const replay: Replay = { messages: [], sessions: new ClientSessions("s1"), dropped: { messages: 0, bytes: 0 }, droppedAt: 0, droppedParent: {} };
    const back = await rig({ sessionId: "s1", replay, kernel });
    kernel.emit("iopub", "stream", { n: 2 });
    await back.next("what came after", (m) => m.content.n === 2);
    assert.deepEqual(back.received.map((m) => m.header.msg_type), ["status", "stream"]);
    assert.equal(back.received[0]!.content.execution_state, "busy");
    for (const r of [fresh, back]) {
      r.client.close();
      await r.server.closed;
    }
  });

  it("a client that closes while output waits for it: what it read, then what is left, then what is counted, make up all", async () => {
    const gone: Left[] = [];
    const r = await rig({ highWaterBytes: 64 * 1024, onGone: (_sessions, left) => void gone.push(left) });
    r.tcp.pause();
    const chunk = "x".repeat(100 * 1024);
    for (let n = 0; n < 150; n++) r.kernel.emit("iopub", "stream", { n, text: chunk });
    r.client.close(1000);
    for (let i = 0; i < 200 && r.serverWs.readyState === WebSocket.OPEN; i++) await new Promise((resolve) => setTimeout(resolve, 5));
    r.tcp.resume(); // the socket's earlier writes complete now, while it is closing: nothing more may be written
    await r.server.closed;
    await r.closed;
    const left = gone[0]!.messages.map((m) => Number(m.msg.content.n));
    const got = r.received.map((m) => Number(m.content.n));
    assert.deepEqual([...got, ...left], Array.from({ length: got.length + left.length }, (_, n) => n), "no gap between what it read and what is left");
    assert.equal(got.length + left.length + gone[0]!.undelivered.messages, 150);
  });

  it("a client cut off by the ping deadline while closing leaves the older queued output before what came during the close", async () => {
    const gone: Left[] = [];
    const r = await rig({ highWaterBytes: 64 * 1024, onGone: (_sessions, left) => void gone.push(left) });
    r.tcp.pause();
    const chunk = "x".repeat(100 * 1024);
    for (let n = 0; n < 60; n++) r.kernel.emit("iopub", "stream", { n, text: chunk });
    r.client.close(1000); // its close never completes: it reads nothing more
    for (let i = 0; i < 200 && r.serverWs.readyState === WebSocket.OPEN; i++) await new Promise((resolve) => setTimeout(resolve, 5));
    for (let n = 60; n < 63; n++) r.kernel.emit("iopub", "stream", { n, text: "late" });
    r.server.terminate(); // as the ping deadline does
    await r.server.closed;
    const left = gone[0]!.messages.map((m) => Number(m.msg.content.n));
    assert.deepEqual(left.slice(-3), [60, 61, 62], "what came during the close is the newest");
    assert.deepEqual(left, Array.from({ length: left.length }, (_, i) => left[0]! + i), `in order, with no gap (${left.join(",")})`);    r.client.terminate();
  });

  it("a connection superseded by a newer one of its session is cut, and hands over its sessions and what it was never sent", async () => {
    let gone = 0;
    const r = await rig({ sessionId: "s1", highWaterBytes: 64 * 1024, onGone: () => void gone++ });
    r.tcp.pause(); // half-open: nothing it is sent is read
    const chunk = "x".repeat(100 * 1024);
    for (let n = 0; n < 60; n++) r.kernel.emit("iopub", "stream", { n, text: chunk });
    const { sessions, left } = r.server.supersede();
    assert.ok(sessions.has("s1"));
    const handed = left.messages.map((m) => Number(m.msg.content.n));
    assert.ok(handed.length > 0 && handed.at(-1) === 59, `the queued ones are handed over (${handed.join(",")})`);
    r.tcp.resume();
    await r.server.closed;
    assert.equal(gone, 0, "nothing kept for the stale one itself");
    assert.equal(r.kernel.subscribers, 0);
  });

  it("drops a client that misses its ping deadline, and keeps one that answers", async () => {
    const alive = await rig();
    // ChannelClient's own pong listener was added first, so it has run when this one fires.
    const pong = new Promise((resolve) => alive.serverWs.once("pong", resolve));
    const t0 = Date.now();
    alive.server.tick(t0 + 1000);
    await pong;
    alive.server.tick(t0 + 2000);
    assert.equal(alive.client.readyState, WebSocket.OPEN);

    const stuck = await rig();
    stuck.tcp.pause();
    const t1 = Date.now();
    stuck.server.tick(t1 + 1000);
    stuck.server.tick(t1 + 2000);
    await stuck.server.closed;
    assert.equal(stuck.kernel.subscribers, 0);
    stuck.tcp.resume();
    alive.client.close();
    await alive.closed;
  });

  it("tells the client the kernel is dead, then closes with 1001 (nothing is kept for a reconnect)", async () => {
    let gone = 0;
    const r = await rig({ onGone: () => void gone++ });
    r.kernel.isDead = true;
    r.server.tick(Date.now());
    const closed = await r.closed;
    assert.equal(closed.code, 1001);
    assert.equal(r.received.at(-1)?.content.execution_state, "dead");
    await r.server.closed;
    assert.equal(gone, 0);
  });

  it("a kernel another replica restarted (its old process exited here) is not called dead: 1012, and the client reconnects", async () => {
    const r = await rig();
    r.kernel.isDead = true;
    r.kernel.replaced = true;
    r.server.tick(Date.now());
    const closed = await r.closed;
    assert.equal(closed.code, 1012);
    assert.match(closed.reason, /restarted through another portal replica/);
    assert.ok(!r.received.some((m) => m.content.execution_state === "dead"), "no 'dead' status: JupyterLab would drop the kernel");
    // As the other replica's clients heard it: a client stops waiting for replies the old process will never send.
    assert.equal(r.received.at(-1)?.content.execution_state, "starting");
    assert.equal(r.received.at(-1)?.header.msg_type, "status");
  });

  it("while the manager finds out how an exited process ended, the client is told nothing yet", async () => {
    const r = await rig();
    const settledEnd = r.kernel.settledEnd.bind(r.kernel);
    r.kernel.isDead = true;
    r.kernel.settledEnd = () => undefined;
    r.server.tick(Date.now());
    await new Promise((resolve) => setTimeout(resolve, 50));
    assert.ok(!r.received.some((m) => m.content.execution_state === "dead"));
    r.kernel.settledEnd = settledEnd;
    r.server.tick(Date.now());
    assert.equal((await r.closed).code, 1001);
  });

  // Regression: the dead status went into the queue, and the close then dropped the queue, the dead status with it.
  it("a slow client of a kernel that died gets every output queued for it, then the dead status, then the close", async () => {
    let gone = 0;
    const r = await rig({ highWaterBytes: 64 * 1024, onGone: () => void gone++ });
    r.tcp.pause();
    const chunk = "x".repeat(100 * 1024);
    for (let n = 0; n < 60; n++) r.kernel.emit("iopub", "stream", { n, text: chunk }); // 6 MiB: most of it waits
    r.kernel.isDead = true;
    r.server.tick(Date.now());
    r.tcp.resume();
    const closed = await r.closed;
    assert.equal(closed.code, 1001);
    assert.deepEqual(r.received.slice(0, -1).map((m) => m.content.n), Array.from({ length: 60 }, (_, n) => n), "every output, in order");
    assert.equal(r.received.at(-1)?.content.execution_state, "dead", "then the dead status, last");
    await r.server.closed;
    assert.equal(gone, 0, "nothing kept for a reconnect");
  });

  it("a client of a dead kernel that does not take its last output by the deadline is cut off", async () => {
    const r = await rig({ highWaterBytes: 64 * 1024 });
    r.tcp.pause(); // and never resumed
    const chunk = "x".repeat(100 * 1024);
    for (let n = 0; n < 150; n++) r.kernel.emit("iopub", "stream", { n, text: chunk }); // more than the OS buffers take
    r.kernel.isDead = true;
    const t0 = Date.now();
    r.server.tick(t0);
    r.server.tick(t0 + DEAD_KERNEL_DRAIN_MS - 1);
    assert.equal(r.serverWs.readyState, WebSocket.OPEN, "still draining before the deadline");
    r.server.tick(t0 + DEAD_KERNEL_DRAIN_MS);
    await r.server.closed;
    assert.equal(r.kernel.subscribers, 0);
    r.client.terminate();
  });

  it("a close reason longer than a close frame holds is cut to 123 bytes, not thrown", async () => {
    const r = await rig();
    r.server.end(1008, "é".repeat(100), { keep: false }); // 200 bytes of UTF-8
    const closed = await r.closed;
    assert.equal(closed.code, 1008);
    assert.equal(closed.reason, "é".repeat(61));
    await r.server.closed;
  });

  it("a client that closes while the kernel runs leaves what came during the close for a reconnect", async () => {
    const gone: Left[] = [];
    const r = await rig({ sessionId: "s1", onGone: (_sessions, left) => void gone.push(left) });
    r.kernel.emit("iopub", "stream", { n: 1 });
    await r.next("the first", (m) => m.content.n === 1);
    r.tcp.pause(); // the client cannot read the server's closing frame yet: the close stays half done
    r.client.close(1000);
    for (let i = 0; i < 200 && r.serverWs.readyState !== WebSocket.CLOSING; i++) await new Promise((resolve) => setTimeout(resolve, 5));
    assert.equal(r.serverWs.readyState, WebSocket.CLOSING, "the server has the client's closing frame");
    r.kernel.emit("iopub", "stream", { n: 2 }); // can no longer be sent
    assert.equal(gone.length, 0, "not gone before the close ends");
    r.tcp.resume();
    await r.server.closed;
    assert.equal(gone.length, 1);
    assert.deepEqual(gone[0]!.messages.map((m) => m.msg.content.n), [2]);
    assert.deepEqual(r.received.map((m) => m.content.n), [1]);
  });
});
