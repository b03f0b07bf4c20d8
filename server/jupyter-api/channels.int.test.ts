// The kernel WebSocket against a real kernel in the real portal: both framings execute code, a malformed
// frame is dropped without closing the connection, a reply reaches only the client that asked (iopub reaches
// every client), a client that drops and reconnects with its session gets what it missed, and after a portal
// restart the kernel is still listed and a new client gets its output.
import assert from "node:assert/strict";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { after, before, describe, it } from "node:test";
import type { KernelModel } from "@/server/kernels/manager";
import type { ChannelMessage } from "@/server/kernels/protocol/messages";
import { api, startPortal, TestKernelSocket, userWithToken } from "./testing";

const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), "atrium-channels-"));
let portal: Awaited<ReturnType<typeof startPortal>>;
let token: string;
let kernel: KernelModel;
const sockets: TestKernelSocket[] = [];

async function connect(framing: "v1" | "legacy", session?: string) {
  const socket = await TestKernelSocket.open(portal.base, kernel.id, { token, framing, session });
  sockets.push(socket);
  return socket;
}

const resultText = (iopub: ChannelMessage[]) =>
  iopub.filter((m) => m.header.msg_type === "execute_result").map((m) => (m.content.data as Record<string, string>)["text/plain"]);

describe("kernel WebSocket /api/kernels/{id}/channels", () => {
  before(async () => {
    portal = await startPortal(dataDir);
    ({ token } = await userWithToken(portal, "ana@example.com"));
    const started = await api(portal.base, token, "POST", "/api/kernels", { name: "python3" });
    assert.equal(started.status, 201);
    kernel = started.body as KernelModel;
  });
  after(async () => {
    await Promise.all(sockets.map((s) => s.close()));
    if (portal && kernel) await api(portal.base, token, "DELETE", `/api/kernels/${kernel.id}`).catch(() => {});
    await portal?.close();
    fs.rmSync(dataDir, { recursive: true, force: true });
  });

  for (const framing of ["legacy", "v1"] as const) {
    it(`executes code over the ${framing} framing`, async () => {
      const socket = await connect(framing);
      const run = await socket.execute("1+1");
      assert.equal(run.reply.content.status, "ok");
      assert.deepEqual(resultText(run.iopub), ["2"]);
    });
  }

  it("drops malformed frames and keeps the connection", async () => {
    const v1 = await connect("v1");
    v1.ws.send(Buffer.from("definitely not a v1 frame"));
    v1.ws.send("a text frame is not v1 either");
    v1.ws.send(Buffer.alloc(64, 0xff)); // offsets beyond the frame
    const legacy = await connect("legacy");
    legacy.ws.send("{not json");
    legacy.ws.send(JSON.stringify({ channel: "iopub", header: {}, parent_header: {}, metadata: {}, content: {} }));
    legacy.ws.send(JSON.stringify({ channel: "shell", header: { msg_id: "" }, content: {} }));
    assert.deepEqual(resultText((await v1.execute("3*3")).iopub), ["9"]);
    assert.deepEqual(resultText((await legacy.execute("4*4")).iopub), ["16"]);
    assert.equal(v1.closeEvent, undefined);
    assert.equal(legacy.closeEvent, undefined);
  });

  it("a client that drops mid-cell and reconnects with its session gets what it missed: every line once, in order, and its reply", async () => {
    const first = await connect("v1");
    const session = first.session;
    const msgId = first.send("shell", "execute_request", { code: "import time\nfor i in range(12):\n    print(i, flush=True)\n    time.sleep(0.15)", silent: false, store_history: true, user_expressions: {}, allow_stdin: false, stop_on_error: true });
    const isChild = (m: ChannelMessage) => m.parent_header.msg_id === msgId;
    await first.waitFor("the first line", (m) => isChild(m) && m.header.msg_type === "stream");
    first.ws.terminate(); // the network drops: no closing handshake
    await first.waitForClose();
    await new Promise((resolve) => setTimeout(resolve, 700)); // lines keep coming meanwhile
    const another = await connect("v1"); // another session's client gets only what comes from now on
    const again = await connect("legacy", session);
    await again.waitFor("the reply to the request sent before the drop", (m) => isChild(m) && m.header.msg_type === "execute_reply");
    await again.waitFor("idle", (m) => isChild(m) && m.header.msg_type === "status" && m.content.execution_state === "idle");
    const lines = (socket: TestKernelSocket) => TestKernelSocket.stdout(socket.received.filter((m) => isChild(m) && m.channel === "iopub"));
    assert.equal(lines(first) + lines(again), Array.from({ length: 12 }, (_, i) => `${i}\n`).join(""), "every line once, in order");
    assert.ok(lines(again).startsWith(`${lines(first).split("\n").length - 1}\n`), "the reconnected client starts right where the dropped one stopped");
    assert.ok(!lines(another).startsWith(lines(again).slice(0, 2)), "another session gets no replay");
    assert.equal(another.received.filter((m) => isChild(m) && m.channel !== "iopub").length, 0);
  });

  it("sends a reply only to the client that asked, and iopub to every client", async () => {
    const asker = await connect("v1");
    const watcher = await connect("legacy");
    const asked = await asker.execute("print('for everyone')");
    assert.equal(TestKernelSocket.stdout(asked.iopub), "for everyone\n");
    const isAskerChild = (m: ChannelMessage) => m.parent_header.msg_id === asked.msgId;
    await watcher.waitFor("the asker's output on the watcher", (m) => isAskerChild(m) && m.header.msg_type === "stream");
    // The watcher's own reply comes after the asker's on the kernel's shell socket, so once it has arrived,
    // a misrouted reply to the asker would have arrived too.
    await watcher.execute("pass");
    assert.equal(watcher.received.filter((m) => isAskerChild(m) && m.channel !== "iopub").length, 0, "no shell reply to a request the watcher did not make");
    assert.equal(asker.received.filter((m) => isAskerChild(m) && m.header.msg_type === "execute_reply").length, 1);
  });

  it("keeps the kernel across a portal restart; a new client gets its output", async () => {
    await Promise.all(sockets.splice(0).map((s) => s.close()));
    await portal.close();
    portal = await startPortal(dataDir);
    const listed = await api(portal.base, token, "GET", "/api/kernels");
    assert.ok((listed.body as KernelModel[]).some((k) => k.id === kernel.id), "still listed after the restart");
    const socket = await connect("v1");
    const run = await socket.execute("print('after restart')");
    assert.equal(TestKernelSocket.stdout(run.iopub), "after restart\n");
  });
});
