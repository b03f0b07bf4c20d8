// Which Jupyter API path a request is for: a pure table from (method, path) to a route, so the REST handlers
// and the WebSocket upgrade agree on the URL scheme and the rules are tested by a table of cases.
// Paths not listed here are not ours (Next serves /api/auth/…, tRPC has /api/trpc/…): match() says null.
// Touch this file when Atrium serves another Jupyter endpoint.

export type Route =
  | { kind: "api-root" }
  | { kind: "kernelspecs" }
  | { kind: "kernelspec"; name: string }
  | { kind: "kernelspec-resource"; name: string; file: string }
  | { kind: "kernels" }
  | { kind: "kernel"; id: string }
  | { kind: "kernel-interrupt"; id: string }
  | { kind: "kernel-restart"; id: string }
  | { kind: "kernel-channels"; id: string };

export type RouteMatch =
  | { ok: true; route: Route }
  /** The path is ours but the method is not allowed on it (405 with an Allow header). */
  | { ok: false; allow: string[] };

/** Jupyter's kernelspec names (letters, digits, . _ -); also the directory names we load them from. */
const NAME = "([A-Za-z0-9._-]{1,64})";
/** Any segment: a kernel id that is not a UUID simply does not exist (the query says so: 404). */
const ID = "([^/]+)";
const FILE = "([A-Za-z0-9._-]{1,128})";

const table: { pattern: RegExp; methods: string[]; make: (m: RegExpExecArray) => Route }[] = [
  { pattern: /^\/api\/?$/, methods: ["GET"], make: () => ({ kind: "api-root" }) },
  { pattern: /^\/api\/kernelspecs\/?$/, methods: ["GET"], make: () => ({ kind: "kernelspecs" }) },
  { pattern: new RegExp(`^/api/kernelspecs/${NAME}/?$`), methods: ["GET"], make: (m) => ({ kind: "kernelspec", name: m[1]! }) },
  {
    pattern: new RegExp(`^/kernelspecs/${NAME}/${FILE}$`),
    methods: ["GET"],
    make: (m) => ({ kind: "kernelspec-resource", name: m[1]!, file: m[2]! }),
  },
  { pattern: /^\/api\/kernels\/?$/, methods: ["GET", "POST"], make: () => ({ kind: "kernels" }) },
  { pattern: new RegExp(`^/api/kernels/${ID}/?$`), methods: ["GET", "DELETE"], make: (m) => ({ kind: "kernel", id: m[1]! }) },
  { pattern: new RegExp(`^/api/kernels/${ID}/interrupt/?$`), methods: ["POST"], make: (m) => ({ kind: "kernel-interrupt", id: m[1]! }) },
  { pattern: new RegExp(`^/api/kernels/${ID}/restart/?$`), methods: ["POST"], make: (m) => ({ kind: "kernel-restart", id: m[1]! }) },
  // A plain GET on the channels URL (no Upgrade header) is answered 400, as Jupyter Server does.
  { pattern: new RegExp(`^/api/kernels/${ID}/channels/?$`), methods: ["GET"], make: (m) => ({ kind: "kernel-channels", id: m[1]! }) },
];

export function matchRoute(method: string, pathname: string): RouteMatch | null {
  for (const entry of table) {
    const m = entry.pattern.exec(pathname);
    if (!m) continue;
    if (!entry.methods.includes(method)) return { ok: false, allow: entry.methods };
    return { ok: true, route: entry.make(m) };
  }
  return null;
}

/** The kernel id of a `/api/kernels/{id}/channels` WebSocket path, or null when the path is not one. */
export function channelsKernelId(pathname: string): string | null {
  const found = matchRoute("GET", pathname);
  return found?.ok && found.route.kind === "kernel-channels" ? found.route.id : null;
}

export function kernelUrl(id: string): string {
  return `/api/kernels/${encodeURIComponent(id)}`;
}
