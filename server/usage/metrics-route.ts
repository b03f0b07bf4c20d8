// GET /metrics: Prometheus text for kernels (by state), launches and their latency, culls and quota refusals,
// labelled by team, never by user. Only for admins: an admin's session, or `Authorization: Bearer <token>` of
// an admin's personal API token (what a Prometheus scrape config sends).
import type http from "node:http";
import { kernelCountsByStateAndTeam } from "@/db/queries/usage";
import { identify } from "@/server/auth/session";
import { log } from "@/server/log";
import type { ServerExtra } from "@/server/main";
import type { Services } from "@/server/services";
import { kernelMetrics } from "./metrics";

export function metricsRoute(services: Services): ServerExtra {
  return {
    async http(req: http.IncomingMessage, res: http.ServerResponse, url: URL) {
      if (url.pathname !== "/metrics") return false;
      const send = (status: number, body: string, type = "text/plain; charset=utf-8") => {
        res.writeHead(status, { "content-type": type, "cache-control": "no-store" });
        res.end(body);
      };
      if (req.method !== "GET" && req.method !== "HEAD") {
        res.setHeader("allow", "GET, HEAD");
        send(405, "Use GET.\n");
        return true;
      }
      try {
        const user = await identify(req.headers, { db: services.db, secret: services.secret, sessionCookieName: services.sessionCookieName });
        if (!user) {
          res.setHeader("www-authenticate", 'Bearer realm="atrium"');
          send(401, "Sign in as an admin, or send an admin's API token: Authorization: Bearer <token>.\n");
        } else if (user.role !== "admin") send(403, "Only admins can read metrics.\n");
        else send(200, kernelMetrics().render(await kernelCountsByStateAndTeam(services.db)), "text/plain; version=0.0.4; charset=utf-8");
      } catch (error) {
        log.error("metrics failed", error);
        send(500, "Internal error\n");
      }
      return true;
    },
  };
}
