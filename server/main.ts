// The custom server: one Node process per replica. Next renders the pages and runs next-auth; this server owns
// the APIs it serves itself (tRPC, and the Jupyter API and kernel WebSockets), every WebSocket upgrade, and
// TCP_NODELAY on every socket (small kernel replies must not wait for delayed ACKs).
import { EventEmitter } from "node:events";
import http from "node:http";
import type { Duplex } from "node:stream";
import path from "node:path";
import { fileURLToPath } from "node:url";
import next from "next";
import { createHTTPHandler } from "@trpc/server/adapters/standalone";
import { bootServices, ensureFirstAdmin } from "./boot";
import type { Env } from "./env";
import { authenticate, tokenFromHeader } from "./auth/session";
import { clientAddressOf, crossSiteWrite, errorBody, sendJson } from "./jupyter-api/http";
import { log } from "./log";
import { StartupError } from "./startup-error";
import { setServices, type Services } from "./services";
import { PAGE_USER_HEADER } from "./trpc/page-user";
import { appRouter } from "./trpc/root";
import { startControlSocket } from "./cli/control-socket";
import { jupyterApi } from "./jupyter-api";
import { fileRoutes } from "./files/routes";
import { fullOutputRoutes } from "./kernels/full-output";
import { metricsRoute } from "./usage/metrics-route";
import { backchannelLogoutRoute } from "./auth/backchannel-logout";

export const projectRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..");

/** A handler for paths this server serves itself; returns false to pass the request on. */
export type RouteHandler = (req: http.IncomingMessage, res: http.ServerResponse, url: URL) => Promise<boolean> | boolean;
export type UpgradeHandler = (req: http.IncomingMessage, socket: Duplex, head: Buffer, url: URL) => Promise<boolean> | boolean;

/** An API this server serves itself, before Next. */
export interface ServerExtra {
  http?: RouteHandler;
  upgrade?: UpgradeHandler;
  close?: () => Promise<void>;
}

export interface StartOptions {
  env: Env;
  dev?: boolean;
  /** Runs after the database is reachable and before Next starts (the CLI builds the web app here). */
  beforeWebApp?: () => void;
  /** Extra APIs served before Next (the Jupyter API registers here). */
  routes?: ((services: Services) => ServerExtra)[];
}

export interface RunningServer {
  url: string;
  port: number;
  services: Services;
  close(): Promise<void>;
}

export async function startServer(options: StartOptions): Promise<RunningServer> {
  const { env } = options;
  const booted = await bootServices(env);
  const { services } = booted;
  setServices(services);
  await ensureFirstAdmin(services);
  options.beforeWebApp?.();

  // Next gets a stand-in for the HTTP server: given the real one it would end every WebSocket whose path
  // matches an app route. We forward only its own upgrades (/_next/, dev hot reload) to it.
  const nextUpgrades = new EventEmitter();
  const nextApp = next({ dev: options.dev ?? false, dir: projectRoot, hostname: "localhost", port: env.PORT, httpServer: nextUpgrades as unknown as http.Server });
  await nextApp.prepare();
  const nextHandler = nextApp.getRequestHandler();

  const clientAddress = (req: http.IncomingMessage) => clientAddressOf(req, env.ATRIUM_TRUST_PROXY);

  const trpc = createHTTPHandler({
    router: appRouter,
    basePath: "/api/trpc/",
    createContext: async ({ req }) => {
      const caller = await authenticate(req.headers, { db: services.db, secret: services.secret, sessionCookieName: services.sessionCookieName });
      const pageUser = req.headers[PAGE_USER_HEADER];
      return { services, address: clientAddress(req), user: caller?.user ?? null, credential: caller?.credential ?? null, pageUser: typeof pageUser === "string" ? pageUser : null };
    },
    onError: ({ error, path: procedure }) => {
      if (error.code === "INTERNAL_SERVER_ERROR") log.error(`tRPC ${procedure ?? "?"}: ${error.message}`);
    },
  });

  // APIs this server serves itself, before Next: the Jupyter kernel API, file bytes, and any extras.
  const extras: ServerExtra[] = [jupyterApi(services), fileRoutes(services), fullOutputRoutes(services), metricsRoute(services), backchannelLogoutRoute(services), ...(options.routes ?? []).map((make) => make(services))];

  const server = http.createServer(async (req, res) => {
    try {
      const url = new URL(req.url ?? "/", "http://localhost");
      if (url.pathname.startsWith("/api/trpc/")) {
        // tRPC mutations with the session cookie come from the portal's pages, as JSON (a form cannot send that).
        const crossSite = crossSiteWrite(req, env.ATRIUM_PUBLIC_URL, { byToken: tokenFromHeader(req.headers.authorization) !== undefined, jsonOnly: true });
        if (crossSite) return sendJson(res, 403, errorBody(403, crossSite));
        return trpc(req, res);
      }
      for (const extra of extras) if (extra.http && (await extra.http(req, res, url))) return;
      // Only this server says where a request came from; a client-sent value is discarded.
      delete req.headers["x-atrium-client-address"];
      const address = clientAddress(req);
      if (address) req.headers["x-atrium-client-address"] = address;
      await nextHandler(req, res);
    } catch (error) {
      log.error(`request ${req.method} ${req.url} failed`, error);
      if (!res.headersSent) res.writeHead(500, { "content-type": "text/plain" });
      res.end("Internal error");
    }
  });
  server.on("connection", (socket) => socket.setNoDelay(true));
  // Large uploads stream for a long time; headers must still arrive promptly (slow-client protection).
  server.requestTimeout = 60 * 60_000;
  server.headersTimeout = 60_000;
  server.on("upgrade", async (req, socket, head) => {
    socket.on("error", () => socket.destroy());
    const url = new URL(req.url ?? "/", "http://localhost");
    try {
      if (url.pathname.startsWith("/_next/")) {
        // Next attaches its listener on its first request; until then there is no one to answer.
        if (nextUpgrades.listenerCount("upgrade") === 0) {
          socket.end("HTTP/1.1 503 Service Unavailable\r\nConnection: close\r\nRetry-After: 1\r\nContent-Length: 0\r\n\r\n");
        } else nextUpgrades.emit("upgrade", req, socket, head);
        return;
      }
      for (const extra of extras) if (extra.upgrade && (await extra.upgrade(req, socket, head, url))) return;
      socket.end("HTTP/1.1 404 Not Found\r\nConnection: close\r\nContent-Length: 0\r\n\r\n");
    } catch (error) {
      log.error(`upgrade ${url.pathname} failed`, error);
      socket.destroy();
    }
  });

  await new Promise<void>((resolve, reject) => {
    server.once("error", (error: NodeJS.ErrnoException) =>
      reject(error.code === "EADDRINUSE" ? new StartupError(`PORT: port ${env.PORT} is already in use; stop what uses it or set PORT to another port.`) : error),
    );
    server.listen(env.PORT, env.HOST, resolve);
  });
  const port = (server.address() as { port: number }).port;
  const control = services.dbKind === "pglite" ? await startControlSocket(services) : undefined;
  const url = env.ATRIUM_PUBLIC_URL ?? `http://localhost:${port}`;

  let closing: Promise<void> | undefined;
  return {
    url,
    port,
    services,
    close: () =>
      (closing ??= (async () => {
        await control?.close();
        // Extras first: their WebSockets (upgraded sockets) would otherwise keep server.close() waiting forever.
        for (const extra of extras) await extra.close?.();
        server.closeAllConnections();
        await new Promise<void>((resolve) => server.close(() => resolve()));
        await nextApp.close().catch(() => {});
        await booted.close();
        setServices(undefined);
      })()),
  };
}
