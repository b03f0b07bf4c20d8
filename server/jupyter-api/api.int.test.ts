// The Jupyter-compatible API against real clients and real kernels: the portal runs in-process (Next's
// production build, PGlite), kernels are ipykernel from ATRIUM_PYTHON, and the clients are the ones users
// have: @jupyterlab/services (JupyterLab's own kernel client) and jupyter_server started with --gateway-url.
// Also guards: users are isolated (404, never 403, for another user's kernel), a client-sent KERNEL_USERNAME
// is ignored, and a kernel killed with SIGKILL is reported gone (404, as Jupyter Server does) within 5 s.
import assert from "node:assert/strict";
import { spawn, type ChildProcess } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { after, before, describe, it } from "node:test";
import { KernelManager, ServerConnection, type KernelMessage } from "@jupyterlab/services";
import { encode } from "next-auth/jwt";
import { WebSocket } from "ws";
import { freePort } from "@/e2e/support/postgres.mjs";
import { listAudit } from "@/db/queries/audit";
import { findKernel } from "@/db/queries/kernels";
import { startSession } from "@/server/auth/sessions";
import { systemActor } from "@/server/identity/actor";
import { changeRole } from "@/server/identity/users";
import type { KernelModel } from "@/server/kernels/manager";
import { api, requireKernelPython, startPortal, TestKernelSocket, userWithToken, waitUntil } from "./testing";

const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), "atrium-jupyter-api-"));
let portal: Awaited<ReturnType<typeof startPortal>>;
let ana: Awaited<ReturnType<typeof userWithToken>>;
let bob: Awaited<ReturnType<typeof userWithToken>>;

function withDeadline<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const deadline = new Promise<never>((_, reject) => (timer = setTimeout(() => reject(new Error(`timed out after ${ms} ms: ${what}`)), ms)));
  return Promise.race([promise, deadline]).finally(() => clearTimeout(timer));
}

async function startKernel(token: string, body: unknown = { name: "python3" }): Promise<KernelModel> {
  const started = await api(portal.base, token, "POST", "/api/kernels", body);
  assert.equal(started.status, 201, JSON.stringify(started.body));
  return started.body as KernelModel;
}

async function listIds(token: string): Promise<string[]> {
  const listed = await api(portal.base, token, "GET", "/api/kernels");
  assert.equal(listed.status, 200);
  return (listed.body as KernelModel[]).map((k) => k.id);
}

describe("Jupyter-compatible API", () => {
  before(async () => {
    portal = await startPortal(dataDir);
    ana = await userWithToken(portal, "ana@example.com");
    bob = await userWithToken(portal, "bob@example.com");
  });
  after(async () => {
    // With a deadline: the HTTP server's close() waits for any kernel WebSocket still open.
    try {
      await withDeadline(portal?.close() ?? Promise.resolve(), 30_000, "the portal to close");
    } finally {
      fs.rmSync(dataDir, { recursive: true, force: true });
    }
  });

  it("answers the REST basics with Jupyter's shapes and status codes", async () => {
    const root = await api(portal.base, null, "GET", "/api");
    assert.equal(root.status, 200);
    assert.match((root.body as { version: string }).version, /^\d+\.\d+\.\d+/);
    assert.equal(root.headers.get("cache-control"), "no-store");

    const anonymous = await api(portal.base, null, "GET", "/api/kernels");
    assert.equal(anonymous.status, 401);
    assert.deepEqual(Object.keys(anonymous.body as object).sort(), ["message", "reason"]);
    assert.equal((await api(portal.base, "atr_not-a-real-token", "GET", "/api/kernelspecs")).status, 401);

    const specs = await api(portal.base, ana.token, "GET", "/api/kernelspecs");
    assert.equal(specs.status, 200);
    const body = specs.body as { default: string; kernelspecs: Record<string, { name: string; spec: { display_name: string; language: string }; resources: object }> };
    assert.equal(body.default, "python3");
    assert.equal(body.kernelspecs.python3?.spec.language, "python");
    assert.deepEqual(Object.keys(body.kernelspecs.python3!).sort(), ["name", "resources", "spec"]);
    assert.equal((await api(portal.base, ana.token, "GET", "/api/kernelspecs/python3")).status, 200);
    assert.equal((await api(portal.base, ana.token, "GET", "/api/kernelspecs/nope")).status, 404);

    assert.equal((await api(portal.base, ana.token, "POST", "/api/kernels", "{not json")).status, 400);
    assert.equal((await api(portal.base, ana.token, "POST", "/api/kernels", { env: { KERNEL_X: 3 } })).status, 400);
    assert.equal((await api(portal.base, ana.token, "POST", "/api/kernels", { env: { KERNEL_X: "a\nb" } })).status, 400);
    assert.equal((await api(portal.base, ana.token, "POST", "/api/kernels", { name: "no-such-kernel" })).status, 404);
    assert.equal((await api(portal.base, ana.token, "POST", "/api/kernels", { name: "python3", env: { KERNEL_PAD: "x".repeat(70_000) } })).status, 413);
    const wrongMethod = await api(portal.base, ana.token, "PUT", "/api/kernels");
    assert.equal(wrongMethod.status, 405);
    assert.equal(wrongMethod.headers.get("allow"), "GET, POST");
    assert.equal((await api(portal.base, ana.token, "GET", "/api/kernels/not-a-uuid")).status, 404);
    assert.equal((await api(portal.base, ana.token, "GET", "/api/kernels/00000000-0000-4000-8000-000000000000/channels")).status, 400);
  });

  it("serves @jupyterlab/services: start, execute, interrupt, restart, execute, shutdown", async (t) => {
    const serverSettings = ServerConnection.makeSettings({
      baseUrl: `${portal.base}/`,
      wsUrl: `${portal.base.replace(/^http/, "ws")}/`,
      token: ana.token,
      appendToken: true,
      WebSocket: WebSocket as unknown as typeof globalThis.WebSocket,
      fetch: globalThis.fetch,
      Request: globalThis.Request,
      Headers: globalThis.Headers,
    });
    const manager = new KernelManager({ serverSettings });
    t.after(() => manager.dispose());
    await withDeadline(manager.ready, 10_000, "KernelManager ready");
    const kernel = await withDeadline(manager.startNew({ name: "python3" }), 60_000, "startNew");
    t.after(async () => {
      if (!kernel.isDisposed) await withDeadline(kernel.shutdown(), 20_000, "shutdown in cleanup").catch(() => {});
      kernel.dispose(); // stops its reconnect timers, whatever happened
    });

    const execute = async (code: string) => {
      const future = kernel.requestExecute({ code });
      const iopub: KernelMessage.IIOPubMessage[] = [];
      future.onIOPub = (msg) => void iopub.push(msg);
      const reply = await withDeadline(future.done, 20_000, `execute ${code}`);
      return { reply: reply as KernelMessage.IExecuteReplyMsg, iopub };
    };
    const resultOf = (iopub: KernelMessage.IIOPubMessage[]) =>
      iopub.filter((m) => m.header.msg_type === "execute_result").map((m) => (m.content as { data: Record<string, string> }).data["text/plain"]);

    const first = await execute("1+1");
    assert.equal(first.reply.content.status, "ok");
    assert.deepEqual(resultOf(first.iopub), ["2"]);

    // The connection drops mid-cell, as when a network path breaks, and JupyterLab reconnects by itself with its
    // session: what the kernel printed meanwhile still arrives, once and in order, and so does the cell's reply. The
    // drop comes right as a line arrives, 50 ms before the next, so no frame is in flight on the broken connection
    // (those are lost with it, as with Jupyter Server).
    const printing = kernel.requestExecute({ code: "import time\nfor i in range(60):\n    print(i, flush=True)\n    time.sleep(0.05)" });
    let printed = "";
    let dropped = false;
    printing.onIOPub = (msg) => {
      if (msg.header.msg_type !== "stream") return;
      printed += (msg.content as { text: string }).text;
      if (!dropped && printed.split("\n").length > 10) {
        dropped = true;
        (kernel as unknown as { _ws: WebSocket })._ws.terminate(); // JupyterLab sees an abnormal close, and reconnects
      }
    };
    await withDeadline(printing.done, 20_000, "the cell printing across the dropped connection");
    assert.ok(dropped);
    assert.equal(printed, Array.from({ length: 60 }, (_, i) => `${i}\n`).join(""), "every line once, in order");

    const sleeping = kernel.requestExecute({ code: "import time; time.sleep(60)" });
    await waitUntil("the kernel to be busy", 10_000, () => kernel.status === "busy");
    const interruptedAt = Date.now();
    await withDeadline(kernel.interrupt(), 10_000, "interrupt");
    const interrupted = (await withDeadline(sleeping.done, 10_000, "the interrupted cell's reply")) as KernelMessage.IExecuteReplyMsg;
    assert.equal(interrupted.content.status, "error");
    assert.equal((interrupted.content as { ename?: string }).ename, "KeyboardInterrupt");
    assert.ok(Date.now() - interruptedAt < 5_000, "interrupt took effect within seconds");

    await withDeadline(kernel.restart(), 60_000, "restart");
    const afterRestart = await execute("x = 40\nx + 2");
    assert.deepEqual(resultOf(afterRestart.iopub), ["42"]);

    await withDeadline(kernel.shutdown(), 20_000, "shutdown");
    assert.ok(!(await listIds(ana.token)).includes(kernel.id), "the kernel is gone from GET /api/kernels");
    assert.equal((await api(portal.base, ana.token, "GET", `/api/kernels/${kernel.id}`)).status, 404);
  });

  it("serves jupyter_server started with --gateway-url", async (t) => {
    const python = requireKernelPython();
    const port = await freePort();
    const jupyterToken = "jupyter-side-token";
    const home = fs.mkdtempSync(path.join(os.tmpdir(), "atrium-jupyter-server-"));
    t.after(() => fs.rmSync(home, { recursive: true, force: true }));
    const child: ChildProcess = spawn(
      python,
      [
        "-m", "jupyter_server", "--no-browser", "--allow-root", "--ServerApp.ip=127.0.0.1", `--ServerApp.port=${port}`, "--ServerApp.port_retries=0",
        `--IdentityProvider.token=${jupyterToken}`, `--ServerApp.root_dir=${home}`,
        `--gateway-url=${portal.base}`, `--GatewayClient.auth_token=${ana.token}`, "--GatewayClient.request_timeout=60",
      ],
      {
        env: {
          PATH: process.env.PATH,
          HOME: home,
          JUPYTER_CONFIG_DIR: path.join(home, "config"),
          JUPYTER_DATA_DIR: path.join(home, "data"),
          JUPYTER_RUNTIME_DIR: path.join(home, "runtime"),
          JUPYTER_PLATFORM_DIRS: "1",
        } as unknown as NodeJS.ProcessEnv,
        stdio: ["ignore", "pipe", "pipe"],
      },
    );
    let output = "";
    child.stdout!.on("data", (d) => (output += d));
    child.stderr!.on("data", (d) => (output += d));
    t.after(async () => {
      if (child.exitCode !== null || child.signalCode !== null) return;
      const exited = new Promise((resolve) => child.once("exit", resolve));
      child.kill("SIGTERM");
      await withDeadline(exited, 10_000, "jupyter_server to exit").catch(() => child.kill("SIGKILL"));
    });
    const jupyter = `http://127.0.0.1:${port}`;
    await waitUntil(`jupyter_server to listen (output so far:\n${output.slice(-2000)})`, 30_000, async () => {
      if (child.exitCode !== null) throw new Error(`jupyter_server exited with ${child.exitCode}:\n${output.slice(-3000)}`);
      return fetch(`${jupyter}/api`).then((r) => r.ok, () => false);
    });

    const specs = await api(jupyter, jupyterToken, "GET", "/api/kernelspecs");
    assert.equal(specs.status, 200, output.slice(-3000));
    assert.ok("python3" in (specs.body as { kernelspecs: object }).kernelspecs, "kernelspecs come from Atrium");

    const started = await api(jupyter, jupyterToken, "POST", "/api/kernels", { name: "python3" });
    assert.equal(started.status, 201, `${JSON.stringify(started.body)}\n${output.slice(-3000)}`);
    const id = (started.body as KernelModel).id;
    assert.ok((await listIds(ana.token)).includes(id), "the kernel jupyter_server started is Ana's kernel in Atrium");

    const socket = await TestKernelSocket.open(jupyter, id, { token: jupyterToken, framing: "legacy" });
    t.after(() => socket.close());
    const run = await socket.execute("print(6 * 7)");
    assert.equal(run.reply.content.status, "ok");
    assert.equal(TestKernelSocket.stdout(run.iopub), "42\n");
    await socket.close();

    assert.equal((await api(jupyter, jupyterToken, "DELETE", `/api/kernels/${id}`)).status, 204);
    assert.ok(!(await listIds(ana.token)).includes(id), "shut down in Atrium too");
  });

  it("keeps users apart and ignores a client-sent KERNEL_USERNAME", async (t) => {
    const kernel = await startKernel(ana.token, { name: "python3", env: { KERNEL_USERNAME: "root", KERNEL_COLOR: "teal" } });
    t.after(() => api(portal.base, ana.token, "DELETE", `/api/kernels/${kernel.id}`));

    for (const [method, suffix] of [["GET", ""], ["DELETE", ""], ["POST", "/interrupt"], ["POST", "/restart"]] as const) {
      const refused = await api(portal.base, bob.token, method, `/api/kernels/${kernel.id}${suffix}`);
      assert.equal(refused.status, 404, `${method} ${suffix || "/"} by another user`);
    }
    await assert.rejects(TestKernelSocket.open(portal.base, kernel.id, { token: bob.token }), (error: { status?: number }) => error.status === 404);
    await assert.rejects(TestKernelSocket.open(portal.base, kernel.id, {}), (error: { status?: number }) => error.status === 401);
    assert.ok(!(await listIds(bob.token)).includes(kernel.id), "not in the other user's list");
    assert.ok((await listIds(ana.token)).includes(kernel.id), "still Ana's, and still running");

    // An admin sees the kernel (and may stop it) but does not run code in it: the code would run as Ana. Refused
    // as forbidden, with why: "not found" would contradict the list the admin just read (QA).
    const admin = await userWithToken(portal, "kernel-admin@example.com");
    await changeRole(portal.services.db, systemActor, admin.user.id, "admin");
    assert.ok((await listIds(admin.token)).includes(kernel.id), "in the admin's list");
    assert.equal((await api(portal.base, admin.token, "GET", `/api/kernels/${kernel.id}`)).status, 200);
    for (const suffix of ["/interrupt", "/restart"]) {
      const refused = await api(portal.base, admin.token, "POST", `/api/kernels/${kernel.id}${suffix}`);
      assert.equal(refused.status, 403, `POST ${suffix} by an admin`);
      assert.match(String((refused.body as { message?: unknown }).message), /another user's: admins can list and stop other users' kernels, but not connect to, interrupt or restart them/);
    }
    await assert.rejects(TestKernelSocket.open(portal.base, kernel.id, { token: admin.token }), (error: { status?: number }) => error.status === 403);
    // An admin's stop of someone's kernel through the API is audited, as on the Usage page (QA: it was not).
    const other = await startKernel(ana.token);
    assert.equal((await api(portal.base, admin.token, "DELETE", `/api/kernels/${other.id}`)).status, 204);
    const [stop] = await listAudit(portal.services.db, { limit: 1, action: "kernel.stop", search: other.id });
    assert.equal(stop?.actorLabel, admin.user.email);
    assert.deepEqual(stop?.details, { owner: ana.user.email });

    const socket = await TestKernelSocket.open(portal.base, kernel.id, { token: ana.token });
    t.after(() => socket.close());
    const run = await socket.execute("import os; print(os.environ.get('KERNEL_USERNAME'), os.environ.get('KERNEL_COLOR'))");
    assert.equal(TestKernelSocket.stdout(run.iopub), `${ana.user.username} teal\n`);
  });

  it("starts a kernel in the size a client names in KERNEL_SIZE, and refuses one the kernelspec lacks", async (t) => {
    const large = await startKernel(ana.token, { name: "python3", env: { KERNEL_SIZE: "large" } });
    t.after(() => api(portal.base, ana.token, "DELETE", `/api/kernels/${large.id}`));
    assert.equal((await findKernel(portal.services.db, { id: large.id }))?.sizeProfile, "large");
    const unnamed = await startKernel(ana.token, { name: "python3" });
    t.after(() => api(portal.base, ana.token, "DELETE", `/api/kernels/${unnamed.id}`));
    assert.equal((await findKernel(portal.services.db, { id: unnamed.id }))?.sizeProfile, "medium", "the kernelspec's default");
    const refused = await api(portal.base, ana.token, "POST", "/api/kernels", { name: "python3", env: { KERNEL_SIZE: "huge" } });
    assert.equal(refused.status, 400);
    assert.match(String((refused.body as { message?: unknown }).message), /There is no size "huge" for this kernel\. Sizes: small .*medium .*large/);
  });

  it("accepts the session cookie from the portal's own pages only", async (t) => {
    const { secret, sessionCookieName } = portal.services;
    const sid = await startSession(portal.services.db, { userId: ana.user.id, method: "password", maxAgeMs: 3_600_000 });
    const cookie = `${sessionCookieName}=${await encode({ token: { sub: ana.user.id, sid }, secret, salt: sessionCookieName })}`;
    const withCookie = (origin: string, method = "GET", urlPath = "/api/kernels") =>
      fetch(portal.base + urlPath, { method, headers: { cookie, origin, "content-type": "application/json" }, body: method === "POST" ? "{}" : undefined });
    assert.equal((await withCookie(portal.base)).status, 200);
    assert.equal((await withCookie("https://evil.example")).status, 200, "reading is fine (the browser keeps the answer from the other page)");
    assert.equal((await withCookie("https://evil.example", "POST")).status, 403, "a cross-origin change is refused");

    const kernel = await startKernel(ana.token);
    t.after(() => api(portal.base, ana.token, "DELETE", `/api/kernels/${kernel.id}`));
    const open = (origin: string) =>
      new Promise<number>((resolve, reject) => {
        const ws = new WebSocket(`${portal.base.replace(/^http/, "ws")}/api/kernels/${kernel.id}/channels`, { headers: { cookie, origin } });
        ws.once("open", () => (ws.close(), resolve(101)));
        ws.once("unexpected-response", (_req, res) => resolve(res.statusCode ?? 0));
        ws.once("error", reject);
      });
    assert.equal(await open(portal.base), 101);
    assert.equal(await open("https://evil.example"), 403);

    // tRPC (the portal's own API) and file uploads: the same rule. A form can post to tRPC without the browser
    // asking first (tRPC parses form bodies), so cookie mutations must be JSON too.
    const trpc = (origin: string, contentType: string, body: string) =>
      fetch(`${portal.base}/api/trpc/me.createToken`, { method: "POST", headers: { cookie, origin, "content-type": contentType }, body });
    const json = JSON.stringify({ json: { name: "from a page" } });
    assert.equal((await trpc(portal.base, "application/json", json)).status, 200);
    const crossSite = await trpc("https://evil.example", "application/json", json);
    assert.equal(crossSite.status, 403);
    assert.match(((await crossSite.json()) as { message: string }).message, /Cross-origin request refused/);
    const form = new FormData();
    form.set("name", "from a form");
    const asForm = await fetch(`${portal.base}/api/trpc/me.createToken`, { method: "POST", headers: { cookie, origin: portal.base }, body: form });
    assert.equal(asForm.status, 403, "a form body with the cookie");
    assert.equal((await trpc(portal.base, "text/plain", json)).status, 403);
    const byToken = await fetch(`${portal.base}/api/trpc/me.createToken`, { method: "POST", headers: { authorization: `token ${ana.token}`, "content-type": "application/json" }, body: json });
    assert.equal(byToken.status, 200, "a token is not sent by a browser on its own: no origin rule");
    const upload = (origin: string) => fetch(`${portal.base}/api/files/content/cross-site.txt`, { method: "PUT", headers: { cookie, origin }, body: "x" });
    assert.equal((await upload("https://evil.example")).status, 403);
    assert.equal((await upload(portal.base)).status, 201);
  });

  it("reports a kernel killed with SIGKILL as gone within 5 s, and tells its clients", async (t) => {
    const kernel = await startKernel(ana.token);
    t.after(() => api(portal.base, ana.token, "DELETE", `/api/kernels/${kernel.id}`));
    const socket = await TestKernelSocket.open(portal.base, kernel.id, { token: ana.token });
    t.after(() => socket.close());
    await socket.execute("pass");

    const engineId = portal.services.kernels.liveKernel(kernel.id)?.process.engineId ?? "";
    const pid = Number(/^pid (\d+)$/.exec(engineId)?.[1]);
    assert.ok(pid > 0, `the local kernel's engine id names its pid (got "${engineId}")`);
    process.kill(pid, "SIGKILL");
    const killedAt = Date.now();
    await waitUntil("GET /api/kernels/{id} to say 404", 5_000, async () => (await api(portal.base, ana.token, "GET", `/api/kernels/${kernel.id}`)).status === 404);
    assert.ok(Date.now() - killedAt <= 5_000);
    assert.ok(!(await listIds(ana.token)).includes(kernel.id));

    await socket.waitFor("an iopub status dead", (m) => m.channel === "iopub" && m.content.execution_state === "dead", 5_000);
    const closed = await socket.waitForClose(5_000);
    assert.equal(closed.code, 1001);
    assert.match(closed.reason, /no longer running/);
    assert.equal((await api(portal.base, ana.token, "POST", `/api/kernels/${kernel.id}/interrupt`)).status, 404);
  });
});
