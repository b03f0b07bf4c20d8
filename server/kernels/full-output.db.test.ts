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
import { OutputRecorder, spillDirOf } from "./output-recorder";
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
    const recorder = new OutputRecorder(db, spillDirOf(dataDir), 40);
    const source = new MessageSource(kernelId, ana.id);
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
    server = http.createServer(async (req, res) => {
      if (!(await routes.http(req, res, new URL(req.url ?? "/", "http://localhost")))) res.writeHead(418).end();
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

  it("renders outputs as text, and a damaged spill line as a note instead of failing", () => {
    assert.equal(outputAsText({ output_type: "display_data", data: { "image/png": "iVBOR" }, metadata: {} }), "[image/png output: not text]\n");
    assert.equal(outputAsText({ output_type: "error", ename: "KeyError", evalue: "'x'", traceback: [] }), "KeyError: 'x'\n");
    assert.equal(spillLineAsText('{"msg_type":"stream","content":{"name":"stdout","text":"hi\\n"}}'), "hi\n");
    assert.equal(spillLineAsText("{not json"), "[a recorded output line could not be read]\n");
    assert.equal(spillLineAsText(""), "");
  });
});
