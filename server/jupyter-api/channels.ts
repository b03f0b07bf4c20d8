// The kernel WebSocket, `/api/kernels/{id}/channels`: who may open it, and the clients that are open.
// The upgrade is authenticated (session cookie, `Authorization: token …`, or `?token=` as Jupyter allows for
// WebSockets) and the kernel's ownership checked through the kernel manager BEFORE the handshake completes,
// so a stranger gets a plain HTTP 401/404 and never a socket. Then `v1.kernel.websocket.jupyter.org` is spoken
// when the client offers it, the legacy JSON framing otherwise; no compression (kernel output is streamed,
// and deflate costs CPU per MB); TCP_NODELAY (small replies must not wait for delayed ACKs).
// One timer (start/stop with the API) ticks every client: keepalive pings and dead-kernel detection. It also
// rechecks, every `recheckMs`, the credential each connection was opened with (its session, or its token, and its
// account): a connection outlives its upgrade by days, and must not outlive a sign-out, a revoked token or a
// disabled account by more than that. A revoked connection closes with 1008; unless its account was disabled, what its
// kernel sends meanwhile is kept for its session as for any dropped client (replay.ts's limits), for that user's next
// connection on a valid credential: a page whose session ended while a cell ran gets the rest once its user is back.
// When the portal stops, clients are closed with 1012 (service restart): JupyterLab reconnects after that, and
// would not after 1001.
// A client that names its session (`?session_id=`, as JupyterLab does) and goes away while its kernel runs has
// what the kernel sends meanwhile kept for a while, and replayed when it reconnects with that session (replay.ts).
import net from "node:net";
import type http from "node:http";
import type { Duplex } from "node:stream";
import { WebSocketServer } from "ws";
import { REVOKED, revocationsOf, type HeldCredential, type Revocation } from "@/server/auth/credential-check";
import { authenticate, tokenFromHeader } from "@/server/auth/session";
import { log } from "@/server/log";
import { AppError } from "@/server/errors";
import type { Services } from "@/server/services";
import { framingForSubprotocol, selectSubprotocol } from "@/server/kernels/protocol/websocket";
import { ChannelClient, CLOSE_POLICY_VIOLATION, CLOSE_SERVICE_RESTART } from "./client";
import { rejectUpgrade, sameOrigin } from "./http";
import { DEFAULT_OUTBOUND_LIMITS, DEFAULT_TOTAL_QUEUED_BYTES, QueuedTotal, type OutboundLimits } from "./outbound-queue";
import { DEFAULT_REPLAY_LIMITS, ReplayBuffers, replayOfLeft, type ReplayLimits } from "./replay";
import { channelsKernelId } from "./routes";

export interface ChannelsOptions {
  limits?: OutboundLimits;
  /** A ping this often; a client that has not answered the previous one by the next is dropped. */
  pingIntervalMs?: number;
  /** Largest frame a client may send (comm messages with buffers, e.g. widget uploads). */
  maxClientFrameBytes?: number;
  /** What is kept for a client that went away, and how long (keepMs 0: nothing). */
  replay?: ReplayLimits;
  /** How often the credentials of open connections are checked again (revoked: the connection closes). */
  recheckMs?: number;
}

const TICK_MS = 1000;
/** The ticker never runs more often than this, whatever `recheckMs` says. */
const MIN_TICK_MS = 100;
const DEFAULT_PING_INTERVAL_MS = 30_000;
const DEFAULT_MAX_CLIENT_FRAME_BYTES = 64 * 1024 * 1024;
const DEFAULT_RECHECK_MS = 30_000;

/** What an open connection was let in with, and whose it is (for the log line when it is closed). */
interface Holder extends HeldCredential {
  who: string;
}

export function channelsApi(services: Services, options: ChannelsOptions = {}) {
  const wss = new WebSocketServer({
    noServer: true,
    clientTracking: false,
    perMessageDeflate: false,
    maxPayload: options.maxClientFrameBytes ?? DEFAULT_MAX_CLIENT_FRAME_BYTES,
    handleProtocols: (offered) => selectSubprotocol(offered) ?? false,
  });
  // Every client's queue counts against one total for this portal (outbound-queue.ts, QueuedTotal).
  const limits: OutboundLimits = { ...(options.limits ?? DEFAULT_OUTBOUND_LIMITS), total: options.limits?.total ?? new QueuedTotal(DEFAULT_TOTAL_QUEUED_BYTES) };
  const clients = new Map<ChannelClient, Holder>();
  const replays = new ReplayBuffers(options.replay ?? DEFAULT_REPLAY_LIMITS);
  /** The newest connection of each user's session on each kernel: an older one still open is stale (half-open). */
  const bySession = new Map<string, ChannelClient>();
  const recheckMs = options.recheckMs ?? DEFAULT_RECHECK_MS;
  let nextCheckAt = Date.now() + recheckMs;
  /** One check at a time: a slow database delays the next one instead of piling them up. */
  let checking = false;
  /** Logged when checks start failing and when they work again, not on every failed check. */
  let checksFailing = false;
  let stopped = false;
  // Ticks at least as often as credentials are rechecked (tests recheck more often than once a second).
  const ticker = setInterval(
    () => {
      const now = Date.now();
      for (const client of clients.keys()) client.tick(now);
      replays.tick((id) => services.kernels.liveKernel(id)?.isDead ?? true, now);
      if (!checking && now >= nextCheckAt) {
        checking = true;
        nextCheckAt = now + recheckMs;
        void recheckCredentials().finally(() => (checking = false));
      }
    },
    Math.max(MIN_TICK_MS, Math.min(TICK_MS, recheckMs)),
  );
  ticker.unref();

  /** Closes every connection whose credential no longer lets its user in; a check that fails closes nothing. */
  async function recheckCredentials(): Promise<void> {
    const open = [...clients];
    if (open.length === 0) return;
    let revocations: Revocation[];
    try {
      revocations = await revocationsOf(services.db, open.map(([, holder]) => holder));
    } catch (error) {
      if (!checksFailing && !stopped) log.warn(`kernel WebSockets: could not recheck the credentials of ${open.length} connections (${error instanceof Error ? error.message : String(error)}); they stay open until a check succeeds`);
      checksFailing = true;
      return;
    }
    if (checksFailing) log.info("kernel WebSockets: credential rechecks work again");
    checksFailing = false;
    if (stopped) return;
    open.forEach(([client, holder], i) => {
      const reason = revocations[i];
      if (!reason || !clients.has(client)) return;
      log.info(`${holder.who}: closing the connection: ${reason}`);
      // Its user may sign in again (or use another token) and take what the cell printed meanwhile; a disabled
      // account is not coming back soon.
      client.end(CLOSE_POLICY_VIOLATION, reason, { keep: reason !== REVOKED.disabled });
    });
  }

  async function upgrade(req: http.IncomingMessage, socket: Duplex, head: Buffer, url: URL): Promise<boolean> {
    const kernelId = channelsKernelId(url.pathname);
    if (!kernelId) return false;
    if (socket instanceof net.Socket) socket.setNoDelay(true);
    try {
      const queryToken = url.searchParams.get("token");
      const caller = await authenticate(req.headers, { db: services.db, secret: services.secret, sessionCookieName: services.sessionCookieName, queryToken });
      if (!caller) throw new AppError("UNAUTHENTICATED", "Authentication required: sign in, or pass your API token (Authorization header or ?token=).");
      // A browser sends cookies with a WebSocket from any page: only this portal's pages may use them here.
      const byCookie = tokenFromHeader(req.headers.authorization) === undefined && !queryToken;
      if (byCookie && !sameOrigin(req.headers, services.env.ATRIUM_PUBLIC_URL)) {
        throw new AppError("FORBIDDEN", "Cross-origin WebSocket refused: use the portal's own pages, or an API token.");
      }
      const { user, credential } = caller;
      const kernel = await services.kernels.attach(user, kernelId);
      if (socket.destroyed) return true;
      const sessionId = url.searchParams.get("session_id");
      const sessionKey = sessionId ? `${user.id}\n${kernel.id}\n${sessionId}` : undefined;
      wss.handleUpgrade(req, socket, head, (ws) => {
        // A client reconnecting while its old connection still looks open (the network dropped it silently): the
        // old one is cut, and what it was never sent comes first here. What was written to it is lost with it.
        const stale = sessionKey ? bySession.get(sessionKey)?.supersede() : undefined;
        const client = new ChannelClient(ws, kernel, {
          framing: framingForSubprotocol(ws.protocol),
          sessionId,
          replay: sessionId ? (replays.take(user.id, kernel.id, sessionId) ?? (stale && replayOfLeft(stale.sessions, stale.left))) : undefined,
          // Only the newest connection of the session leaves a buffer when it goes.
          onGone: sessionId ? (sessions, left) => bySession.get(sessionKey!) === client && replays.keep(user.id, kernel, sessionId, sessions, left) : undefined,
          user: user.username,
          limits,
          pingIntervalMs: options.pingIntervalMs ?? DEFAULT_PING_INTERVAL_MS,
          transport: socket instanceof net.Socket ? socket : undefined,
        });
        clients.set(client, { userId: user.id, credential, who: `kernel ${kernel.id}: ${user.username}'s client` });
        if (sessionKey) bySession.set(sessionKey, client);
        void client.closed.then(() => {
          clients.delete(client);
          if (sessionKey && bySession.get(sessionKey) === client) bySession.delete(sessionKey);
        });
      });
    } catch (error) {
      rejectUpgrade(socket, error, `WebSocket ${url.pathname}`);
    }
    return true;
  }

  /** Stops the timer and closes every client (they reconnect to the next portal process). */
  async function close(): Promise<void> {
    stopped = true;
    clearInterval(ticker);
    replays.close(); // nothing is kept from here: the process is going
    const open = [...clients.keys()];
    // 1012, not 1001: @jupyterlab/services (JupyterLab, and VS Code's Jupyter extension) never reconnects after 1001.
    for (const client of open) client.end(CLOSE_SERVICE_RESTART, "Atrium is restarting", { keep: false });
    // A client that does not finish the closing handshake promptly is cut off: shutdown must not hang.
    await Promise.race([Promise.all(open.map((c) => c.closed)), new Promise((resolve) => setTimeout(resolve, 2000).unref())]);
    for (const client of clients.keys()) client.terminate();
    wss.close();
  }

  return { upgrade, close, clientCount: () => clients.size, replayCount: () => replays.size };
}
