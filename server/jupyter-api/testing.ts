// Fixtures for the Jupyter API's integration tests (not a test file itself): the real portal in-process on a
// data dir, users with API tokens, a deadline helper, and a small kernel WebSocket client that speaks either
// framing (built on the same protocol functions the server uses, so a framing bug shows up as a mismatch
// with @jupyterlab/services and jupyter_server, which the tests also drive).
import assert from "node:assert/strict";
import fs from "node:fs";
import path from "node:path";
import { randomUUID } from "node:crypto";
import { WebSocket } from "ws";
import { loadEnv } from "@/server/env";
import { startServer, projectRoot, type RunningServer } from "@/server/main";
import { createUser } from "@/server/identity/users";
import { createApiToken } from "@/server/auth/tokens";
import { systemActor } from "@/server/identity/actor";
import type { UserRow } from "@/db/queries/users";
import { createMessage, executeRequestContent, type ChannelMessage } from "@/server/kernels/protocol/messages";
import { decodeWsMessage, encodeWsMessage, V1_SUBPROTOCOL, type WsFraming } from "@/server/kernels/protocol/websocket";

export function requireKernelPython(): string {
  const python = process.env.ATRIUM_PYTHON;
  if (!python) throw new Error("Set ATRIUM_PYTHON to a Python with ipykernel (npm test provisions one: e2e/provision/requirements-kernel.txt).");
  return python;
}

/** Starts the whole portal (Next's production build, or `next dev`; PGlite in `dataDir`) on a free loopback port. */
export async function startPortal(dataDir: string, options: { dev?: boolean } = {}): Promise<RunningServer & { base: string }> {
  if (!options.dev && !fs.existsSync(path.join(projectRoot, ".next", "BUILD_ID"))) {
    throw new Error("No production build in .next: run `node server/cli/atrium.mjs build` first (npm test does it before this step).");
  }
  const env = loadEnv({
    NODE_ENV: options.dev ? "development" : "production",
    PORT: "0",
    HOST: "127.0.0.1",
    ATRIUM_DATA_DIR: dataDir,
    ATRIUM_PYTHON: requireKernelPython(),
    ATRIUM_ADMIN_EMAIL: "admin@example.com",
    ATRIUM_ADMIN_PASSWORD: "admin-password-1",
    ATRIUM_LOG_LEVEL: process.env.ATRIUM_LOG_LEVEL ?? "warn",
  });
  const server = await startServer({ env, dev: options.dev ?? false });
  return Object.assign(server, { base: `http://127.0.0.1:${server.port}` });
}

export async function userWithToken(server: RunningServer, email: string): Promise<{ user: UserRow; token: string }> {
  const user = await createUser(server.services.db, systemActor, { email, password: "analyst-password-1" });
  const { token } = await createApiToken(server.services.db, systemActor, { userId: user.id, name: "jupyter-api test" });
  return { user, token };
}

/** `fetch` against the portal with a token; the parsed JSON body (or null) beside the response. */
export async function api(base: string, token: string | null, method: string, urlPath: string, body?: unknown) {
  const response = await fetch(base + urlPath, {
    method,
    headers: { ...(token ? { authorization: `token ${token}` } : {}), ...(body === undefined ? {} : { "content-type": "application/json" }) },
    body: body === undefined ? undefined : typeof body === "string" ? body : JSON.stringify(body),
  });
  const text = await response.text();
  return { status: response.status, headers: response.headers, body: text ? (JSON.parse(text) as unknown) : null };
}

/** Waits for a condition, checking every 100 ms, and fails naming it at the deadline. */
export async function waitUntil<T>(what: string, deadlineMs: number, check: () => Promise<T | undefined | false> | T | undefined | false): Promise<T> {
  const end = Date.now() + deadlineMs;
  for (;;) {
    const value = await check();
    if (value) return value;
    if (Date.now() > end) throw new Error(`timed out after ${deadlineMs} ms waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

/** A Jupyter kernel WebSocket client for tests: records every message, waits for ones that match. */
export class TestKernelSocket {
  readonly received: ChannelMessage[] = [];
  private waiters = new Set<() => void>();
  closeEvent: { code: number; reason: string } | undefined;

  private constructor(
    readonly ws: WebSocket,
    readonly framing: WsFraming,
    readonly session: string,
  ) {
    ws.on("message", (data, isBinary) => {
      const bytes = Array.isArray(data) ? Buffer.concat(data) : Buffer.isBuffer(data) ? data : Buffer.from(data);
      const decoded = decodeWsMessage(isBinary ? bytes : bytes.toString("utf8"), framing);
      assert.ok(decoded.ok, `the server sent a frame that does not decode: ${decoded.ok ? "" : decoded.detail}`);
      this.received.push(decoded.value);
      for (const wake of this.waiters) wake();
    });
    ws.on("close", (code, reason) => {
      this.closeEvent = { code, reason: reason.toString() };
      for (const wake of this.waiters) wake();
    });
  }

  /** Opens `/api/kernels/{id}/channels`; resolves when open, rejects with the HTTP status when refused. */
  /** `session`: the client's session (a reconnecting client names its old one); a new one by default. */
  static open(base: string, kernelId: string, options: { token?: string; framing?: WsFraming; sessionInUrl?: boolean; session?: string } = {}): Promise<TestKernelSocket> {
    const framing = options.framing ?? "v1";
    const url = new URL(`/api/kernels/${kernelId}/channels`, base.replace(/^http/, "ws"));
    const session = options.session ?? randomUUID();
    if (options.token) url.searchParams.set("token", options.token);
    if (options.sessionInUrl !== false) url.searchParams.set("session_id", session);
    const ws = new WebSocket(url, framing === "v1" ? [V1_SUBPROTOCOL] : [], { perMessageDeflate: false });
    const client = new TestKernelSocket(ws, framing, session);
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error("WebSocket did not open within 10 s")), 10_000);
      ws.once("open", () => {
        clearTimeout(timer);
        assert.equal(ws.protocol, framing === "v1" ? V1_SUBPROTOCOL : "", "negotiated subprotocol");
        resolve(client);
      });
      ws.once("unexpected-response", (_req, res) => {
        clearTimeout(timer);
        reject(Object.assign(new Error(`WebSocket refused with HTTP ${res.statusCode}`), { status: res.statusCode }));
      });
      ws.once("error", (error) => {
        clearTimeout(timer);
        reject(error);
      });
    });
  }

  send(channel: "shell" | "control" | "stdin", msgType: string, content: Record<string, unknown>, parentHeader?: ChannelMessage["header"]): string {
    const msg = createMessage({ msgType, session: this.session, username: "test", content, channel, parentHeader });
    this.ws.send(encodeWsMessage({ ...msg, channel }, this.framing));
    return msg.header.msg_id;
  }

  /** Resolves with the first message (already received or to come) that matches, or fails at the deadline. */
  waitFor(what: string, match: (msg: ChannelMessage) => boolean, deadlineMs = 15_000): Promise<ChannelMessage> {
    return new Promise((resolve, reject) => {
      const check = () => {
        const found = this.received.find(match);
        if (found) return done(() => resolve(found));
        if (this.closeEvent) return done(() => reject(new Error(`socket closed (${this.closeEvent!.code} ${this.closeEvent!.reason}) while waiting for ${what}`)));
      };
      const timer = setTimeout(() => done(() => reject(new Error(`timed out after ${deadlineMs} ms waiting for ${what}`))), deadlineMs);
      const done = (settle: () => void) => {
        clearTimeout(timer);
        this.waiters.delete(check);
        settle();
      };
      this.waiters.add(check);
      check();
    });
  }

  waitForClose(deadlineMs = 10_000): Promise<{ code: number; reason: string }> {
    return new Promise((resolve, reject) => {
      const check = () => {
        if (!this.closeEvent) return;
        clearTimeout(timer);
        this.waiters.delete(check);
        resolve(this.closeEvent);
      };
      const timer = setTimeout(() => {
        this.waiters.delete(check);
        reject(new Error(`socket not closed within ${deadlineMs} ms`));
      }, deadlineMs);
      this.waiters.add(check);
      check();
    });
  }

  /** Runs code; resolves with the execute_reply and this request's iopub messages up to status idle. */
  async execute(code: string, deadlineMs = 20_000) {
    const msgId = this.send("shell", "execute_request", executeRequestContent(code));
    const isChild = (m: ChannelMessage) => m.parent_header.msg_id === msgId;
    const reply = await this.waitFor(`execute_reply to ${JSON.stringify(code)}`, (m) => isChild(m) && m.header.msg_type === "execute_reply", deadlineMs);
    await this.waitFor(`status idle after ${JSON.stringify(code)}`, (m) => isChild(m) && m.channel === "iopub" && m.header.msg_type === "status" && m.content.execution_state === "idle", deadlineMs);
    return { msgId, reply, iopub: this.received.filter((m) => isChild(m) && m.channel === "iopub") };
  }

  /** Text a request streamed to stdout. */
  static stdout(iopub: ChannelMessage[]): string {
    return iopub.filter((m) => m.header.msg_type === "stream").map((m) => String(m.content.text)).join("");
  }

  async close(): Promise<void> {
    if (this.ws.readyState === WebSocket.CLOSED) return;
    this.ws.close(1000);
    await this.waitForClose(5000).catch(() => this.ws.terminate());
  }
}
