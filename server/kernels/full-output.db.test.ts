// The full output of a clipped run over real HTTP: what the database kept, then what was spilled past the
// stored limit, in order, as text; only for the run's owner. The run is recorded by the real OutputRecorder
// (with a tiny limit) from a test-driven message source; real kernels drive it in the e2e tests.
import assert from "node:assert/strict";
import { randomUUID } from "node:crypto";
import fs from "node:fs";
import http from "node:http";
import os from "node:os";
import path from "node:path";
import { after, before, describe, it } from "node:test";
import type { Database } from "@/db";
import type { UserRow } from "@/db/queries/users";
import { openTestDatabase, testDbKind } from "@/db/testing";
import { createApiToken } from "@/server/auth/tokens";
import { loadEnv } from "@/server/env";
import { cliActor } from "@/server/identity/actor";
import { createUser } from "@/server/identity/users";
import { LauncherRegistry } from "@/server/kernels/launchers/base";
import { KernelManager } from "@/server/kernels/manager";
import { admitKernel } from "@/server/quota/service";
import { BUILTIN_SIZES } from "@/server/quota/sizes";
import type { Services } from "@/server/services";
import { LocalHomeStores } from "@/server/storage/homes";
import { fullOutputRoutes, outputAsText, spillLineAsText } from "./full-output";
import type { LiveKernel } from "./live-kernel";
import { OutputRecorder, spillDirOf, spillFileOf } from "./output-recorder";
import { MessageSource } from "./testing";

const secret = "s".repeat(32);

describe(`full output of a clipped run on ${testDbKind}`, () => {
  const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), "atrium-full-output-"));
  let db: Database;
  let closeDb: () => Promise<void>;
  let server: http.Server;
  let port: number;
  let ana: UserRow;
  let anaToken: string;
  let bobToken: string;
  let msgId: string;
  let recorder: OutputRecorder;
  let source: MessageSource;
  // The handler's latest response and run, so a test can see it wait and see it end.
  let latest: { res: http.ServerResponse; handled: Promise<void> } | undefined;

  const get = (target: string, token?: string) =>
    new Promise<{ status: number; headers: http.IncomingHttpHeaders; body: string }>((resolve, reject) => {
      const req = http.get({ host: "127.0.0.1", port, path: target, headers: token ? { authorization: `token ${token}` } : {} }, (res) => {
        let body = "";
        res.setEncoding("utf8");
        res.on("data", (chunk: string) => (body += chunk));
        res.on("end", () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body }));
      });
      req.on("error", reject);
    });

  before(async () => {
    ({ db, close: closeDb } = await openTestDatabase());
    ana = await createUser(db, cliActor, { email: "ana@example.com", password: "analystpass" });
    const bob = await createUser(db, cliActor, { email: "bob@example.com", password: "analystpass" });
    anaToken = (await createApiToken(db, cliActor, { userId: ana.id, name: "test" })).token;
    bobToken = (await createApiToken(db, cliActor, { userId: bob.id, name: "test" })).token;
    const kernelId = randomUUID();
    await admitKernel(db, { kernelId, userId: ana.id, team: null, kernelspec: "python3", launcher: "local", size: BUILTIN_SIZES[0]!, now: new Date() });

    // 40 bytes kept in the database; the rest goes to the spill file.
    recorder = new OutputRecorder(db, spillDirOf(dataDir), 40);
    source = new MessageSource(kernelId, ana.id);
    recorder.attach(source as unknown as LiveKernel);
    msgId = source.execute("for i in range(5): print(...)");
    source.reply(msgId, "iopub", "status", { execution_state: "busy" });
    source.reply(msgId, "iopub", "stream", { name: "stdout", text: "line 1 kept in the database\n" });
    source.reply(msgId, "iopub", "stream", { name: "stdout", text: "line 2 spilled past the limit\n" });
    source.reply(msgId, "iopub", "execute_result", { execution_count: 1, data: { "text/plain": "42", "text/html": "<b>42</b>" }, metadata: {} });
    source.reply(msgId, "iopub", "error", { ename: "ValueError", evalue: "bad", traceback: ["\u001b[31mTraceback\u001b[0m", "ValueError: bad"] });
    source.reply(msgId, "shell", "execute_reply", { status: "error", execution_count: 1 });
    source.reply(msgId, "iopub", "status", { execution_state: "idle" });
    await recorder.flushAll();

    const services = {
      env: { ...loadEnv({}), dataDir },
      db,
      dbKind: testDbKind,
      secret,
      sessionCookieName: "atrium.session",
      secureCookies: false,
      kernels: new KernelManager({ db, secret, launchers: new LauncherRegistry(), kernelspecs: new Map() }),
      homes: new LocalHomeStores(path.join(dataDir, "homes")),
    } as Services;
    const routes = fullOutputRoutes(services);
    server = http.createServer((req, res) => {
      const handled = routes.http(req, res, new URL(req.url ?? "/", "http://localhost")).then((mine) => {
        if (!mine) res.writeHead(418).end();
      });
      latest = { res, handled };
    });
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    port = (server.address() as { port: number }).port;
  });

  after(async () => {
    server?.closeAllConnections();
    await new Promise((resolve) => server?.close(resolve));
    await closeDb();
    fs.rmSync(dataDir, { recursive: true, force: true });
  });

  it("gives the owner every output, the kept part first, then the spilled part, as a text attachment", async () => {
    const reply = await get(`/api/runs/${encodeURIComponent(msgId)}/output`, anaToken);
    assert.equal(reply.status, 200);
    assert.match(String(reply.headers["content-type"]), /^text\/plain/);
    assert.match(String(reply.headers["content-disposition"]), /^attachment; filename="output-1-/);
    assert.equal(reply.body, "line 1 kept in the database\nline 2 spilled past the limit\n42\nTraceback\nValueError: bad\n");
  });

  it("answers 404 to another user and 401 without credentials; other paths are not its business", async () => {
    assert.equal((await get(`/api/runs/${encodeURIComponent(msgId)}/output`, bobToken)).status, 404);
    assert.equal((await get(`/api/runs/${encodeURIComponent(msgId)}/output`)).status, 401);
    assert.equal((await get(`/api/runs/${randomUUID()}/output`, anaToken)).status, 404);
    assert.equal((await get(`/api/runs/%E0%A4%A/output`, anaToken)).status, 400);
    assert.equal((await get(`/api/runs/${msgId}/other`, anaToken)).status, 418);
  });

  // Regression: the download waited for "drain" alone, which a gone client never sends, so the handler and the
  // spill file's handle stayed open forever.
  it("ends the download and closes the spill file when the client disconnects mid-download", async () => {
    const bigId = source.execute("print('x' * 8_000_000)");
    source.reply(bigId, "iopub", "status", { execution_state: "busy" });
    // 8 MiB, far past the socket buffers, in 8192 spill lines: readline stops reading the file after 1024 queued
    // lines, so the file is still open (not read to its end and closed) while the handler waits for the client.
    const line = `${"x".repeat(1023)}\n`;
    for (let i = 0; i < 8192; i++) source.reply(bigId, "iopub", "stream", { name: "stdout", text: line });
    source.reply(bigId, "shell", "execute_reply", { status: "ok", execution_count: 2 });
    source.reply(bigId, "iopub", "status", { execution_state: "idle" });
    await recorder.flushAll();
    const spillFile = fs.realpathSync(spillFileOf(spillDirOf(dataDir), ana.id, bigId)); // as /proc/self/fd names it
    assert.ok(fs.statSync(spillFile).size > 8 * 1024 * 1024);

    const request = http.get({ host: "127.0.0.1", port, path: `/api/runs/${encodeURIComponent(bigId)}/output`, headers: { authorization: `token ${anaToken}` } });
    request.on("error", () => {}); // the reset we cause below
    const response = await new Promise<http.IncomingMessage>((resolve) => request.on("response", resolve));
    response.on("error", () => {});
    response.pause(); // read nothing: the server's buffers fill and it waits for the client
    const serving = latest!;
    await waitUntil("the download to wait for the client", 5_000, () => serving.res.writableNeedDrain);
    assert.equal(openHandlesOn(spillFile), 1, "the spill file is open while it is sent");

    request.destroy();
    await withDeadline("the handler to end after the client left", serving.handled, 5_000);
    await waitUntil("the spill file to be closed", 5_000, () => openHandlesOn(spillFile) === 0);
  });

  it("renders outputs as text, and a damaged spill line as a note instead of failing", () => {
    assert.equal(outputAsText({ output_type: "display_data", data: { "image/png": "iVBOR" }, metadata: {} }), "[image/png output: not text]\n");
    assert.equal(outputAsText({ output_type: "error", ename: "KeyError", evalue: "'x'", traceback: [] }), "KeyError: 'x'\n");
    assert.equal(spillLineAsText('{"msg_type":"stream","content":{"name":"stdout","text":"hi\\n"}}'), "hi\n");
    assert.equal(spillLineAsText("{not json"), "[a recorded output line could not be read]\n");
    assert.equal(spillLineAsText(""), "");
  });
});

/** How many of this process's file descriptors are open on `file` (Linux: /proc/self/fd). */
function openHandlesOn(file: string): number {
  let count = 0;
  for (const fd of fs.readdirSync("/proc/self/fd")) {
    try {
      if (fs.readlinkSync(`/proc/self/fd/${fd}`) === file) count++;
    } catch {
      // closed while we looked (the readdir's own fd among them)
    }
  }
  return count;
}

async function waitUntil(what: string, deadlineMs: number, check: () => boolean): Promise<void> {
  const end = Date.now() + deadlineMs;
  while (!check()) {
    if (Date.now() > end) throw new Error(`timed out after ${deadlineMs} ms waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

async function withDeadline<T>(what: string, promise: Promise<T>, deadlineMs: number): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`timed out after ${deadlineMs} ms waiting for ${what}`)), deadlineMs);
  });
  try {
    return await Promise.race([promise, timeout]);
  } finally {
    clearTimeout(timer);
  }
}
