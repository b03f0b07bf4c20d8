// The kernel WebSocket against a real kernel in the real portal: both framings execute code, a malformed
// frame is dropped without closing the connection, a reply reaches only the client that asked (iopub reaches
// every client), a client that drops and reconnects with its session gets what it missed, a connection whose
// token is revoked or whose account is disabled is closed (1008; what its cell prints is kept for its user's next
// credential) and one whose check fails is not, a portal stopping
// closes its clients with 1012 (so JupyterLab reconnects), and after a portal restart the kernel is still listed
// and a new client gets its output.
import assert from "node:assert/strict";
import fs from "node:fs";
import http from "node:http";
import type { AddressInfo } from "node:net";
import os from "node:os";
import path from "node:path";
import { after, before, describe, it, mock } from "node:test";
import type { Database } from "@/db";
import { revokeApiToken } from "@/db/queries/tokens";
import type { UserRow } from "@/db/queries/users";
import { REVOKED } from "@/server/auth/credential-check";
import { createApiToken } from "@/server/auth/tokens";
import { systemActor } from "@/server/identity/actor";
import { setDisabled } from "@/server/identity/users";
import type { KernelModel } from "@/server/kernels/manager";
import type { ChannelMessage } from "@/server/kernels/protocol/messages";
import type { Services } from "@/server/services";
import { channelsApi } from "./channels";
import { api, startPortal, TestKernelSocket, userWithToken, waitUntil } from "./testing";

const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), "atrium-channels-"));
let portal: Awaited<ReturnType<typeof startPortal>>;
let token: string;
let ana: UserRow;
let kernel: KernelModel;
const sockets: TestKernelSocket[] = [];

async function connect(framing: "v1" | "legacy", session?: string) {
  const socket = await TestKernelSocket.open(portal.base, kernel.id, { token, framing, session });
  sockets.push(socket);
  return socket;
}

/**
 * The portal builds its channels API with the default recheck (30 s): this mounts another over the same services
 * (database, kernels, sign-in) that rechecks every 300 ms, on a port of its own; `services` may stand some in.
 */
async function recheckingChannels(services: Services = portal.services) {
  const channels = channelsApi(services, { recheckMs: 300 });
  const server = http.createServer((_req, res) => res.writeHead(404).end());
  server.on("upgrade", (req, socket, head) => {
    void channels.upgrade(req, socket, head, new URL(req.url ?? "/", "http://localhost")).then((handled) => handled || socket.destroy());
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  return {
    channels,
    base: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    async close() {
      await channels.close();
      server.closeAllConnections();
      await new Promise((resolve) => server.close(resolve));
    },
  };
}

/** A second token of ana's, to revoke without touching the one the other tests use. */
const anotherToken = () => createApiToken(portal.services.db, systemActor, { userId: ana.id, name: "revoked by a test" });

const resultText = (iopub: ChannelMessage[]) =>
  iopub.filter((m) => m.header.msg_type === "execute_result").map((m) => (m.content.data as Record<string, string>)["text/plain"]);

describe("kernel WebSocket /api/kernels/{id}/channels", () => {
  before(async () => {
    portal = await startPortal(dataDir);
    ({ token, user: ana } = await userWithToken(portal, "ana@example.com"));
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

  it("a client that attaches while a cell waits on input() hears that the kernel is busy and the open request, and its answer ends the cell", async () => {
    const asker = await connect("v1");
    const msgId = asker.send("shell", "execute_request", { code: "name = input('name? ')\nprint('hello', name)", silent: false, store_history: true, user_expressions: {}, allow_stdin: true, stop_on_error: true });
    const isChild = (m: ChannelMessage) => m.parent_header.msg_id === msgId;
    await asker.waitFor("the input request", (m) => isChild(m) && m.header.msg_type === "input_request");
    await asker.close(); // the tab that ran the cell is gone
    const reopened = await connect("legacy"); // a new page: another session
    const busy = await reopened.waitFor("busy, first", (m) => m.header.msg_type === "status");
    assert.equal(busy.content.execution_state, "busy");
    const request = await reopened.waitFor("the open input request", (m) => isChild(m) && m.header.msg_type === "input_request");
    assert.equal(request.content.prompt, "name? ");
    reopened.send("stdin", "input_reply", { status: "ok", value: "Ana" }, request.header);
    await reopened.waitFor("the cell's output", (m) => isChild(m) && m.header.msg_type === "stream" && String(m.content.text).includes("hello Ana"));
    await reopened.waitFor("idle", (m) => isChild(m) && m.header.msg_type === "status" && m.content.execution_state === "idle");
    const later = await connect("v1"); // once answered and idle, a new client is told of nothing
    await later.execute("pass");
    assert.equal(later.received.filter((m) => m.header.msg_type === "input_request").length, 0);
  });

  it("closes a client whose token is revoked with 1008 within the recheck, leaves the others open, and keeps what its cell prints for its user's next credential", async () => {
    const side = await recheckingChannels();
    try {
      const second = await anotherToken();
      const revoked = await TestKernelSocket.open(side.base, kernel.id, { token: second.token, framing: "legacy" });
      const other = await TestKernelSocket.open(side.base, kernel.id, { token });
      sockets.push(revoked, other);
      assert.deepEqual(resultText((await revoked.execute("5+5")).iopub), ["10"]);
      // A cell runs across the revocation (of a token here; an ended session takes the same path in recheckCredentials).
      const msgId = revoked.send("shell", "execute_request", { code: "import time\nfor i in range(8):\n    print(i, flush=True)\n    time.sleep(0.25)", silent: false, store_history: true, user_expressions: {}, allow_stdin: false, stop_on_error: true });
      const isChild = (m: ChannelMessage) => m.parent_header.msg_id === msgId;
      await revoked.waitFor("the first line", (m) => isChild(m) && m.header.msg_type === "stream");
      assert.ok(await revokeApiToken(portal.services.db, { userId: ana.id, tokenId: second.id }));
      const closed = await revoked.waitForClose(3000);
      assert.deepEqual(closed, { code: 1008, reason: REVOKED.token });
      await waitUntil("the server's end of it to close", 3000, () => side.channels.clientCount() === 1);
      assert.equal(side.channels.replayCount(), 1, "a replay buffer for the revoked client's session");
      assert.deepEqual(resultText((await other.execute("6+6")).iopub), ["12"], "a client on a valid token works on");
      assert.equal(other.closeEvent, undefined);
      await assert.rejects(TestKernelSocket.open(side.base, kernel.id, { token: second.token, session: revoked.session }), { status: 401 });
      // The same user on a credential that is valid, with the same session, gets the rest.
      const back = await TestKernelSocket.open(side.base, kernel.id, { token, session: revoked.session });
      sockets.push(back);
      await back.waitFor("the reply to the request sent before the close", (m) => isChild(m) && m.header.msg_type === "execute_reply");
      const lines = (socket: TestKernelSocket) => TestKernelSocket.stdout(socket.received.filter((m) => isChild(m) && m.channel === "iopub"));
      assert.equal(lines(revoked) + lines(back), Array.from({ length: 8 }, (_, i) => `${i}\n`).join(""), "every line once, in order");
    } finally {
      await side.close();
    }
  });

  it("closes the clients of a disabled account with 1008 and keeps nothing for them", async () => {
    const bo = await userWithToken(portal, "bo@example.com");
    const started = await api(portal.base, bo.token, "POST", "/api/kernels", { name: "python3" });
    assert.equal(started.status, 201);
    const bosKernel = started.body as KernelModel;
    const side = await recheckingChannels();
    try {
      const socket = await TestKernelSocket.open(side.base, bosKernel.id, { token: bo.token });
      sockets.push(socket);
      await socket.execute("pass");
      await setDisabled(portal.services.db, systemActor, bo.user.id, true);
      assert.deepEqual(await socket.waitForClose(3000), { code: 1008, reason: REVOKED.disabled });
      await waitUntil("the server's end of it to close", 3000, () => side.channels.clientCount() === 0);
      assert.equal(side.channels.replayCount(), 0);
    } finally {
      await side.close();
      await portal.services.kernels.shutdown(bo.user, bosKernel.id);
    }
  });

  it("a recheck that fails on the database closes nothing and is logged once; the next that works closes the revoked", async () => {
    let failing = false;
    let failedQueries = 0;
    // The database as the recheck sees it: while `failing`, every use of it throws, as a lost connection would.
    const db = new Proxy(portal.services.db, {
      get(target, property, receiver) {
        if (failing) {
          failedQueries++;
          throw new Error("connection to the database lost (test)");
        }
        return Reflect.get(target, property, receiver) as unknown;
      },
    }) satisfies Database;
    const logged = mock.method(console, "error");
    const side = await recheckingChannels({ ...portal.services, db });
    try {
      const second = await anotherToken();
      const socket = await TestKernelSocket.open(side.base, kernel.id, { token: second.token });
      sockets.push(socket);
      failing = true;
      await revokeApiToken(portal.services.db, { userId: ana.id, tokenId: second.id });
      // A check makes at most three queries, and its first use of the database throws: seven uses are three checks.
      await waitUntil("three rechecks that failed", 5000, () => failedQueries >= 7);
      assert.equal(socket.closeEvent, undefined, "nothing closed on a failed check");
      const warnings = logged.mock.calls.filter((call) => String(call.arguments[0]).includes("could not recheck"));
      assert.equal(warnings.length, 1, "logged once, not once per check");
      failing = false;
      assert.equal((await socket.waitForClose(3000)).code, 1008);
    } finally {
      failing = false;
      logged.mock.restore();
      await side.close();
    }
  });

  // Regression: shutdown closed clients with 1001, after which @jupyterlab/services never reconnects.
  it("a portal that stops closes its clients with 1012 (service restart), so that JupyterLab reconnects", async () => {
    const side = await recheckingChannels();
    const socket = await TestKernelSocket.open(side.base, kernel.id, { token });
    sockets.push(socket);
    await side.close();
    assert.deepEqual(await socket.waitForClose(3000), { code: 1012, reason: "Atrium is restarting" });
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
