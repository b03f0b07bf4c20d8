// The custom server owns WebSocket upgrades in development too: under `next dev` a kernel WebSocket works
// (Next would otherwise end every upgrade whose path matches an app route), and Next's own hot-reload
// socket is still forwarded to it.
import assert from "node:assert/strict";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { after, before, describe, it } from "node:test";
import { WebSocket } from "ws";
import type { RunningServer } from "@/server/main";
import { api, startPortal, TestKernelSocket, userWithToken } from "./testing";

describe("WebSocket upgrades under next dev", () => {
  const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), "atrium-dev-"));
  let server: RunningServer & { base: string };
  let token: string;

  before(async () => {
    server = await startPortal(dataDir, { dev: true });
    ({ token } = await userWithToken(server, "dev@example.com"));
  });
  after(async () => {
    await server?.close();
    fs.rmSync(dataDir, { recursive: true, force: true });
    // `next dev` leaves its bundler's file watchers running after close(); every result is reported by now,
    // so end the test process instead of waiting for the runner's timeout.
    setTimeout(() => process.exit(process.exitCode ?? 0), 500).unref();
  });

  it("runs code over a kernel WebSocket", async () => {
    const started = await api(server.base, token, "POST", "/api/kernels", { name: "python3" });
    assert.equal(started.status, 201);
    const id = (started.body as { id: string }).id;
    const socket = await TestKernelSocket.open(server.base, id, { token });
    try {
      const run = await socket.execute("6*7");
      assert.equal(run.reply.content.status, "ok");
      const result = run.iopub.find((m) => m.header.msg_type === "execute_result");
      assert.equal((result?.content.data as Record<string, string>)["text/plain"], "42");
    } finally {
      await socket.close();
      assert.equal((await api(server.base, token, "DELETE", `/api/kernels/${id}`)).status, 204);
    }
  });

  it("forwards Next's own hot-reload socket to Next", async () => {
    // A browser loads a page before it opens the hot-reload socket; Next starts listening on that request.
    const page = await fetch(`${server.base}/signin`, { signal: AbortSignal.timeout(90_000) });
    assert.equal(page.status, 200);
    const ws = new WebSocket(`${server.base.replace(/^http/, "ws")}/_next/hmr`);
    const outcome = await new Promise<string>((resolve) => {
      const timer = setTimeout(() => resolve("no answer within 20 s"), 20_000);
      ws.once("open", () => (clearTimeout(timer), resolve("open")));
      ws.once("unexpected-response", (_req, res) => (clearTimeout(timer), resolve(`HTTP ${res.statusCode}`)));
      ws.once("error", (error) => (clearTimeout(timer), resolve(`error ${error.message}`)));
    });
    ws.terminate();
    assert.equal(outcome, "open");
  });
});
