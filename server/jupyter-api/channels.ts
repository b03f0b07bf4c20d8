// The kernel WebSocket, `/api/kernels/{id}/channels`: who may open it, and the clients that are open.
// The upgrade is authenticated (session cookie, `Authorization: token …`, or `?token=` as Jupyter allows for
// WebSockets) and the kernel's ownership checked through the kernel manager BEFORE the handshake completes,
// so a stranger gets a plain HTTP 401/404 and never a socket. Then `v1.kernel.websocket.jupyter.org` is spoken
// when the client offers it, the legacy JSON framing otherwise; no compression (kernel output is streamed,
// and deflate costs CPU per MB); TCP_NODELAY (small replies must not wait for delayed ACKs).
// One timer (start/stop with the API) ticks every client: keepalive pings and dead-kernel detection.
// A client that names its session (`?session_id=`, as JupyterLab does) and goes away while its kernel runs has
// what the kernel sends meanwhile kept for a while, and replayed when it reconnects with that session (replay.ts).
import net from "node:net";
import type http from "node:http";
import type { Duplex } from "node:stream";
import { WebSocketServer } from "ws";
import { identify, tokenFromHeader } from "@/server/auth/session";
import { AppError } from "@/server/errors";
import type { Services } from "@/server/services";
import { framingForSubprotocol, selectSubprotocol } from "@/server/kernels/protocol/websocket";
import { ChannelClient, CLOSE_GOING_AWAY } from "./client";
import { rejectUpgrade, sameOrigin } from "./http";
import { DEFAULT_OUTBOUND_LIMITS, type OutboundLimits } from "./outbound-queue";
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
}

const TICK_MS = 1000;
const DEFAULT_PING_INTERVAL_MS = 30_000;
const DEFAULT_MAX_CLIENT_FRAME_BYTES = 64 * 1024 * 1024;

export function channelsApi(services: Services, options: ChannelsOptions = {}) {
  const wss = new WebSocketServer({
    noServer: true,
    clientTracking: false,
    perMessageDeflate: false,
    maxPayload: options.maxClientFrameBytes ?? DEFAULT_MAX_CLIENT_FRAME_BYTES,
    handleProtocols: (offered) => selectSubprotocol(offered) ?? false,
  });
  const clients = new Set<ChannelClient>();
  const replays = new ReplayBuffers(options.replay ?? DEFAULT_REPLAY_LIMITS);
  /** The newest connection of each user's session on each kernel: an older one still open is stale (half-open). */
  const bySession = new Map<string, ChannelClient>();
  const ticker = setInterval(() => {
    const now = Date.now();
    for (const client of clients) client.tick(now);
    replays.tick((id) => services.kernels.liveKernel(id)?.isDead ?? true, now);
  }, TICK_MS);
  ticker.unref();

  async function upgrade(req: http.IncomingMessage, socket: Duplex, head: Buffer, url: URL): Promise<boolean> {
    const kernelId = channelsKernelId(url.pathname);
    if (!kernelId) return false;
    if (socket instanceof net.Socket) socket.setNoDelay(true);
    try {
      const queryToken = url.searchParams.get("token");
      const user = await identify(req.headers, { db: services.db, secret: services.secret, sessionCookieName: services.sessionCookieName, queryToken });
      if (!user) throw new AppError("UNAUTHENTICATED", "Authentication required: sign in, or pass your API token (Authorization header or ?token=).");
      // A browser sends cookies with a WebSocket from any page: only this portal's pages may use them here.
      const byCookie = tokenFromHeader(req.headers.authorization) === undefined && !queryToken;
      if (byCookie && !sameOrigin(req.headers, services.env.ATRIUM_PUBLIC_URL)) {
        throw new AppError("FORBIDDEN", "Cross-origin WebSocket refused: use the portal's own pages, or an API token.");
      }
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
          limits: options.limits ?? DEFAULT_OUTBOUND_LIMITS,
          pingIntervalMs: options.pingIntervalMs ?? DEFAULT_PING_INTERVAL_MS,
          transport: socket instanceof net.Socket ? socket : undefined,
        });
        clients.add(client);
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
    clearInterval(ticker);
    replays.close(); // nothing is kept from here: the process is going
    const open = [...clients];
    for (const client of open) client.end(CLOSE_GOING_AWAY, "Atrium is restarting");
    // A client that does not finish the closing handshake promptly is cut off: shutdown must not hang.
    await Promise.race([Promise.all(open.map((c) => c.closed)), new Promise((resolve) => setTimeout(resolve, 2000).unref())]);
    for (const client of clients) client.terminate();
    wss.close();
  }

  return { upgrade, close, clientCount: () => clients.size, replayCount: () => replays.size };
}
