// The Jupyter REST API: kernelspecs and kernels with Jupyter Server's shapes and status codes, so JupyterLab,
// `@jupyterlab/services`, VS Code and `jupyter_server --gateway-url` can use Atrium's kernels.
// Handlers only route: authenticate, parse, make one kernel-manager call, respond. Ownership is the manager's
// (its queries carry the owner: another user's kernel is 404; an admin sees and may stop any, and is refused with
// 403 what only its owner may do); errors become HTTP statuses in http.ts.
//
// Differences from Jupyter Server, on purpose:
// - unauthenticated requests get 401 (like Kernel Gateway and Enterprise Gateway), not Jupyter Server's 403;
// - a kernel that died or was shut down is 404 for every call, like Jupyter Server once it removed a dead
//   kernel; Atrium keeps the row (why and when it ended) for its own UI, but never auto-restarts it.
import { pageUserRefusal } from "@/server/trpc/page-user";
import { readFileSync } from "node:fs";
import type http from "node:http";
import type { UserRow } from "@/db/queries/users";
import { identify, tokenFromHeader } from "@/server/auth/session";
import { auditKernelStop } from "@/server/culler/service";
import { AppError } from "@/server/errors";
import type { KernelManager, KernelModel } from "@/server/kernels/manager";
import type { Services } from "@/server/services";
import { crossSiteWrite, HttpStatusError, readJsonBody, sendEmpty, sendError, sendJson } from "./http";
import { kernelspecModel, readKernelspecResource } from "./kernelspec-model";
import { kernelUrl, matchRoute, type Route } from "./routes";
import { clientKernelEnv, clientKernelSize, describeIssues, StartKernelBodySchema } from "./schemas";

const VERSION = (JSON.parse(readFileSync(new URL("../../package.json", import.meta.url), "utf8")) as { version: string }).version;

export function restApi(services: Services) {
  const kernels = services.kernels;

  /** The signed-in user, or 401. Cookie-authenticated changes must come from this portal's own pages. */
  async function authenticate(req: http.IncomingMessage): Promise<UserRow> {
    const user = await identify(req.headers, { db: services.db, secret: services.secret, sessionCookieName: services.sessionCookieName });
    if (!user) throw new AppError("UNAUTHENTICATED", "Authentication required: sign in, or send `Authorization: token <your API token>`.");
    const otherUser = pageUserRefusal(req.headers, user.id);
    if (otherUser) throw new AppError("UNAUTHENTICATED", otherUser);
    const crossSite = crossSiteWrite(req, services.env.ATRIUM_PUBLIC_URL, { byToken: tokenFromHeader(req.headers.authorization) !== undefined });
    if (crossSite) throw new AppError("FORBIDDEN", crossSite);
    return user;
  }

  async function handle(route: Route, req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
    if (route.kind === "api-root") return sendJson(res, 200, { version: VERSION });
    if (route.kind === "kernel-channels") throw new HttpStatusError(400, 'Can "Upgrade" only to "WebSocket".');
    const user = await authenticate(req);
    switch (route.kind) {
      case "kernelspecs": {
        const specs = await Promise.all([...kernels.kernelspecs.values()].map(kernelspecModel));
        return sendJson(res, 200, { default: kernels.defaultKernelspec, kernelspecs: Object.fromEntries(specs.map((s) => [s.name, s])) });
      }
      case "kernelspec":
        return sendJson(res, 200, await kernelspecModel(requireKernelspec(kernels, route.name)));
      case "kernelspec-resource": {
        const resource = await readKernelspecResource(requireKernelspec(kernels, route.name), route.file);
        if (!resource) throw new AppError("NOT_FOUND", `Kernelspec ${route.name} has no resource ${route.file}.`);
        res.writeHead(200, { "content-type": resource.contentType, "content-length": resource.body.length, "cache-control": "no-store" });
        res.end(resource.body);
        return;
      }
      case "kernels":
        if (req.method === "GET") return sendJson(res, 200, (await kernels.list(user)).filter(isRunning));
        return startKernel(user, req, res);
      case "kernel":
        if (req.method === "GET") return sendJson(res, 200, await runningModel(kernels, user, route.id));
        await runningModel(kernels, user, route.id);
        {
          const row = await kernels.shutdown(user, route.id);
          // An admin stopping someone's kernel is an admin action, audited as on the Usage page.
          if (row.ownerId !== user.id) await auditKernelStop(services.db, { id: user.id, label: user.email }, row);
        }
        return sendEmpty(res, 204);
      case "kernel-interrupt":
        await kernels.interrupt(user, route.id);
        return sendEmpty(res, 204);
      case "kernel-restart":
        return sendJson(res, 200, await kernels.restart(user, route.id));
    }
  }

  async function startKernel(user: UserRow, req: http.IncomingMessage, res: http.ServerResponse) {
    const parsed = StartKernelBodySchema.safeParse(await readJsonBody(req));
    if (!parsed.success) throw new AppError("BAD_REQUEST", `Invalid request body: ${describeIssues(parsed.error)}.`);
    // The user is the authenticated one; the body's KERNEL_USERNAME (if any) is dropped by clientKernelEnv.
    const { env } = parsed.data;
    const model = await kernels.start(user, { name: parsed.data.name || undefined, env: clientKernelEnv(env), size: clientKernelSize(env) });
    return sendJson(res, 201, model, { location: kernelUrl(model.id) });
  }

  /** Serves the request if its path is one of the Jupyter API's; false lets the next handler (Next) have it. */
  return async function serve(req: http.IncomingMessage, res: http.ServerResponse, url: URL): Promise<boolean> {
    const match = matchRoute(req.method ?? "GET", url.pathname);
    if (!match) return false;
    try {
      if (!match.ok) throw new HttpStatusError(405, `${req.method} is not allowed here.`, { allow: match.allow.join(", ") });
      await handle(match.route, req, res);
    } catch (error) {
      sendError(res, error, `${req.method} ${url.pathname}`);
    }
    return true;
  };
}

const isRunning = (model: KernelModel) => model.execution_state !== "dead";

/** The model of a kernel that is running; one that died or was shut down no longer exists for Jupyter. */
async function runningModel(kernels: KernelManager, user: UserRow, id: string): Promise<KernelModel> {
  const model = await kernels.get(user, id);
  if (!isRunning(model)) throw new AppError("NOT_FOUND", `Kernel ${id} is not running (it was shut down or died).`);
  return model;
}

function requireKernelspec(kernels: KernelManager, name: string) {
  const spec = kernels.kernelspecs.get(name);
  if (!spec) throw new AppError("NOT_FOUND", `There is no kernelspec named "${name}".`);
  return spec;
}
