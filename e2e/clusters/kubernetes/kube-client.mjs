// A minimal Kubernetes API client on node:https (no npm dependencies): JSON requests with a deadline, and
// list+watch loops that resume from the last resourceVersion and re-list when the server answers 410 Gone.
// Used by cluster.mjs, node-harness.mjs and the tests.
import https from "node:https";

/**
 * @typedef {{ status: number, json: any, text: string }} KubeResponse
 * @typedef {{ type: string, object: any }} WatchEvent
 * @typedef {{ request: (method: string, path: string, body?: unknown, options?: { contentType?: string, timeoutMs?: number, token?: string }) => Promise<KubeResponse>,
 *   get: (path: string) => Promise<any>, watch: (path: string, onEvent: (event: WatchEvent) => void, signal?: AbortSignal) => Promise<void>,
 *   url: string }} KubeClient
 */

/**
 * @param {{ url: string, ca: string | Buffer, token?: string, cert?: string | Buffer, key?: string | Buffer, userAgent?: string }} options
 * @returns {KubeClient}
 */
export function kubeClient({ url, ca, token, cert, key, userAgent = "atrium-e2e" }) {
  const base = new URL(url);
  // keepAlive: the harness patches statuses often; a pool avoids a TLS handshake per request.
  const agent = new https.Agent({ ca, cert, key, keepAlive: true, maxSockets: 16 });

  /** @type {KubeClient["request"]} */
  function request(method, path, body, options = {}) {
    const { contentType = "application/json", timeoutMs = 30_000 } = options;
    const bearer = options.token ?? token;
    const payload = body === undefined ? undefined : typeof body === "string" ? body : JSON.stringify(body);
    return new Promise((resolve, reject) => {
      const req = https.request(
        {
          protocol: base.protocol,
          hostname: base.hostname,
          port: base.port,
          path,
          method,
          agent,
          headers: {
            accept: "application/json",
            "user-agent": userAgent,
            ...(bearer ? { authorization: `Bearer ${bearer}` } : {}),
            ...(payload !== undefined ? { "content-type": contentType, "content-length": Buffer.byteLength(payload) } : {}),
          },
        },
        (res) => {
          let text = "";
          res.setEncoding("utf8");
          res.on("data", (d) => (text += d));
          res.on("end", () => {
            let json;
            try {
              json = JSON.parse(text);
            } catch {}
            resolve({ status: res.statusCode ?? 0, json, text });
          });
          res.on("error", reject);
        },
      );
      req.setTimeout(timeoutMs, () => req.destroy(new Error(`${method} ${path}: no answer within ${timeoutMs / 1000} s`)));
      req.on("error", reject);
      req.end(payload);
    });
  }

  /** GET that must answer 200; rejects with the API's message otherwise (error.status carries the code). */
  async function get(path) {
    const r = await request("GET", path);
    if (r.status !== 200) throw apiError("GET", path, r);
    return r.json;
  }

  /**
   * One watch request: calls onEvent per event until the server ends the stream (timeoutSeconds) or the signal
   * aborts. An ERROR event is passed on too (410 Gone means: re-list).
   * @type {KubeClient["watch"]}
   */
  function watch(path, onEvent, signal) {
    return new Promise((resolve, reject) => {
      if (signal?.aborted) return resolve(undefined);
      const req = https.request(
        {
          protocol: base.protocol,
          hostname: base.hostname,
          port: base.port,
          path,
          method: "GET",
          agent: false, // a long-lived stream shouldn't hold a pooled socket
          ca,
          cert,
          key,
          headers: { accept: "application/json", "user-agent": userAgent, ...(token ? { authorization: `Bearer ${token}` } : {}) },
        },
        (res) => {
          if (res.statusCode !== 200) {
            let text = "";
            res.on("data", (d) => (text += d));
            res.on("end", () => reject(Object.assign(new Error(`watch ${path}: HTTP ${res.statusCode} ${text.slice(0, 500)}`), { status: res.statusCode })));
            return;
          }
          let buffer = "";
          res.setEncoding("utf8");
          res.on("data", (chunk) => {
            buffer += chunk;
            let nl;
            while ((nl = buffer.indexOf("\n")) >= 0) {
              const line = buffer.slice(0, nl).trim();
              buffer = buffer.slice(nl + 1);
              if (!line) continue;
              try {
                onEvent(JSON.parse(line));
              } catch (error) {
                req.destroy(/** @type {Error} */ (error));
              }
            }
          });
          res.on("end", () => resolve(undefined));
          res.on("error", reject);
          res.on("aborted", () => resolve(undefined));
        },
      );
      // No data at all for longer than the server-side timeout means a dead connection.
      req.setTimeout(10 * 60_000, () => req.destroy(new Error(`watch ${path}: stalled`)));
      req.on("error", (error) => (signal?.aborted ? resolve(undefined) : reject(error)));
      const onAbort = () => req.destroy();
      signal?.addEventListener("abort", onAbort, { once: true });
      req.on("close", () => signal?.removeEventListener("abort", onAbort));
      req.end();
    });
  }

  return { request, get, watch, url };
}

/**
 * @param {string} method
 * @param {string} path
 * @param {KubeResponse} r
 */
export function apiError(method, path, r) {
  const message = r.json?.message ?? r.text.slice(0, 500);
  return Object.assign(new Error(`${method} ${path}: HTTP ${r.status}: ${message}`), { status: r.status, reason: r.json?.reason });
}

/**
 * Keeps a list+watch going until `signal` aborts: lists (calling onSync with the items), then watches from the
 * list's resourceVersion, resuming from the last event's (bookmarks included); a 410 Gone re-lists. Errors are
 * reported to onError and retried after a second.
 * @param {KubeClient} client
 * @param {{ path: string, query?: string, onSync: (items: any[]) => void | Promise<void>, onEvent: (event: WatchEvent) => void,
 *   onError?: (error: Error) => void, signal: AbortSignal }} options
 */
export async function informer(client, { path, query = "", onSync, onEvent, onError = () => {}, signal }) {
  const q = query ? `${query}&` : "";
  let resourceVersion = "";
  while (!signal.aborted) {
    try {
      if (!resourceVersion) {
        const list = await client.get(`${path}?${query}`);
        resourceVersion = list.metadata.resourceVersion;
        await onSync(list.items ?? []);
      }
      let gone = false;
      await client.watch(
        `${path}?${q}watch=1&allowWatchBookmarks=true&timeoutSeconds=${240 + Math.floor(Math.random() * 120)}&resourceVersion=${resourceVersion}`,
        (event) => {
          if (event.type === "ERROR") {
            if (event.object?.code === 410) gone = true;
            else onError(new Error(`watch ${path}: ${event.object?.message ?? JSON.stringify(event.object)}`));
            return;
          }
          if (event.object?.metadata?.resourceVersion) resourceVersion = event.object.metadata.resourceVersion;
          if (event.type !== "BOOKMARK") onEvent(event);
        },
        signal,
      );
      if (gone) resourceVersion = ""; // too old: list again
    } catch (error) {
      if (signal.aborted) return;
      if (/** @type {any} */ (error).status === 410) resourceVersion = "";
      onError(/** @type {Error} */ (error));
      await new Promise((r) => setTimeout(r, 1000));
    }
  }
}
