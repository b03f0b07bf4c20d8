// The upload/download routes over real HTTP, with a real database for identity (the next-auth session
// cookie, as the browser sends it, and personal tokens) and real home folders on disk. Guards: bytes are
// streamed (memory stays flat while a large file goes through), the size cap, conflicts, and refusal of
// every traversal form (.., %2e%2e, encoded slashes, absolute paths, links out of the home).
import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import fs from "node:fs";
import http from "node:http";
import net from "node:net";
import os from "node:os";
import path from "node:path";
import { Readable } from "node:stream";
import { after, before, describe, it } from "node:test";
import { encode } from "next-auth/jwt";
import type { Database } from "@/db";
import type { UserRow } from "@/db/queries/users";
import { openTestDatabase, testDbKind } from "@/db/testing";
import { startSession } from "@/server/auth/sessions";
import { createApiToken } from "@/server/auth/tokens";
import { loadEnv } from "@/server/env";
import { cliActor } from "@/server/identity/actor";
import { createUser } from "@/server/identity/users";
import { LauncherRegistry } from "@/server/kernels/launchers/base";
import { KernelManager } from "@/server/kernels/manager";
import type { Services } from "@/server/services";
import { LocalHomeStores } from "@/server/storage/homes";
import { TEMP_PREFIX } from "@/server/storage/paths";
import { contentDisposition, fileRoutes } from "./routes";

const secret = "s".repeat(32);
const cookieName = "atrium.session";
const MAX_UPLOAD = 8 * 1024 * 1024;

interface Reply {
  status: number;
  headers: http.IncomingHttpHeaders;
  body: Buffer;
}

describe(`file upload and download routes on ${testDbKind}`, () => {
  let db: Database;
  let closeDb: () => Promise<void>;
  let server: http.Server;
  let port: number;
  let largeServer: http.Server;
  let largePort: number;
  let ana: UserRow;
  let anaCookie: string;
  let anaToken: string;
  const homesDir = fs.mkdtempSync(path.join(os.tmpdir(), "atrium-routes-"));
  const outside = fs.mkdtempSync(path.join(os.tmpdir(), "atrium-outside-"));
  const anaHome = () => path.join(homesDir, ana.username);

  /** Sends the raw target as written (no URL normalization), like a hostile client would. */
  function request(method: string, target: string, options: { headers?: http.OutgoingHttpHeaders; body?: Buffer | string | Readable } = {}): Promise<Reply> {
    return new Promise((resolve, reject) => {
      const req = http.request({ host: "127.0.0.1", port, method, path: target, headers: { cookie: anaCookie, ...options.headers } }, (res) => {
        const chunks: Buffer[] = [];
        res.on("data", (c: Buffer) => chunks.push(c));
        res.on("end", () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks) }));
        res.on("error", reject);
      });
      req.on("error", reject);
      const { body } = options;
      if (body instanceof Readable) body.pipe(req);
      else req.end(body);
    });
  }
  const message = (reply: Reply) => (String(reply.headers["content-type"]).includes("json") ? JSON.parse(reply.body.toString()).error.message : reply.body.toString());

  before(async () => {
    ({ db, close: closeDb } = await openTestDatabase());
    ana = await createUser(db, cliActor, { email: "ana@example.com", password: "analystpass" });
    await createUser(db, cliActor, { email: "bob@example.com", password: "analystpass" });
    const sid = await startSession(db, { userId: ana.id, method: "password", maxAgeMs: 3_600_000 });
    anaCookie = `${cookieName}=${await encode({ token: { sub: ana.id, sid }, secret, salt: cookieName })}`;
    anaToken = (await createApiToken(db, cliActor, { userId: ana.id, name: "test" })).token;
    const services: Services = {
      env: loadEnv({}),
      db,
      dbKind: testDbKind,
      secret,
      sessionCookieName: cookieName,
      secureCookies: false,
      kernels: new KernelManager({ db, secret, launchers: new LauncherRegistry(), kernelspecs: new Map() }),
      homes: new LocalHomeStores(homesDir),
    };
    ({ server, port } = await serve(fileRoutes(services, { maxUploadBytes: MAX_UPLOAD })));
    ({ server: largeServer, port: largePort } = await serve(fileRoutes(services, { maxUploadBytes: 1024 ** 3 })));
    await services.homes.forUser(ana);
    fs.writeFileSync(path.join(outside, "secret.txt"), "not yours");
  });
  after(async () => {
    for (const s of [server, largeServer]) {
      s.closeAllConnections();
      await new Promise((resolve) => s.close(resolve));
    }
    await closeDb();
    fs.rmSync(homesDir, { recursive: true, force: true });
    fs.rmSync(outside, { recursive: true, force: true });
  });

  it("passes on paths that are not its own", async () => {
    assert.equal((await request("GET", "/api/files/other")).body.toString(), "not ours");
    assert.equal((await request("GET", "/files/data.csv")).body.toString(), "not ours");
  });

  it("refuses anonymous requests and other methods", async () => {
    const anonymous = await request("GET", "/api/files/content/a.txt", { headers: { cookie: "" } });
    assert.equal(anonymous.status, 401);
    assert.equal(message(anonymous).trim(), "Sign in to continue.");
    const forged = await request("PUT", "/api/files/content/a.txt", { headers: { cookie: `${cookieName}=forged` }, body: "x" });
    assert.equal(forged.status, 401);
    assert.equal((await request("DELETE", "/api/files/content/a.txt")).status, 405);
  });

  it("uploads with the session cookie and downloads the same bytes as an attachment", async () => {
    const put = await request("PUT", "/api/files/content/r%C3%A9sum%C3%A9%20q3.csv", { body: "a,b\n1,2\n", headers: { "content-type": "application/octet-stream" } });
    assert.equal(put.status, 201, put.body.toString());
    assert.deepEqual(
      (({ name, path: p, type, size }) => ({ name, path: p, type, size }))(JSON.parse(put.body.toString()).entry),
      { name: "résumé q3.csv", path: "résumé q3.csv", type: "file", size: 8 },
    );
    assert.equal(fs.readFileSync(path.join(anaHome(), "résumé q3.csv"), "utf8"), "a,b\n1,2\n");

    const get = await request("GET", "/api/files/content/r%C3%A9sum%C3%A9%20q3.csv");
    assert.equal(get.status, 200);
    assert.equal(get.body.toString(), "a,b\n1,2\n");
    assert.equal(get.headers["content-type"], "application/octet-stream");
    assert.equal(get.headers["content-length"], "8");
    assert.equal(get.headers["x-content-type-options"], "nosniff");
    assert.equal(get.headers["content-disposition"], `attachment; filename="r_sum_ q3.csv"; filename*=UTF-8''r%C3%A9sum%C3%A9%20q3.csv`);

    const head = await request("HEAD", "/api/files/content/r%C3%A9sum%C3%A9%20q3.csv");
    assert.equal(head.status, 200);
    assert.equal(head.body.length, 0);
  });

  it("accepts a personal token instead of the cookie", async () => {
    const put = await request("PUT", "/api/files/content/by-token.txt", { headers: { cookie: "", authorization: `token ${anaToken}` }, body: "hi" });
    assert.equal(put.status, 201);
  });

  it("streams a large upload and download without holding the file in memory", async () => {
    const size = 96 * 1024 * 1024;
    const chunk = Buffer.alloc(64 * 1024, "x");
    let sent = 0;
    const hash = createHash("sha256");
    const body = new Readable({
      read() {
        if (sent >= size) return this.push(null);
        sent += chunk.length;
        hash.update(chunk);
        this.push(chunk);
      },
    });
    // The main server's cap is 8 MiB; this goes through the second one, whose cap is 1 GiB.
    const baseline = process.memoryUsage().rss;
    let peak = baseline;
    const sampler = setInterval(() => (peak = Math.max(peak, process.memoryUsage().rss)), 20);
    const put = await requestTo(largePort, "PUT", "/api/files/content/big.bin", { cookie: anaCookie }, body);
    clearInterval(sampler);
    assert.equal(put.status, 201, put.body.toString());
    assert.equal(fs.statSync(path.join(anaHome(), "big.bin")).size, size);
    assert.ok(peak - baseline < size / 2, `memory grew by ${Math.round((peak - baseline) / 1e6)} MB for a ${size / 1e6} MB upload`);

    const downloaded = createHash("sha256");
    let length = 0;
    await new Promise<void>((resolve, reject) => {
      http.get({ host: "127.0.0.1", port: largePort, path: "/api/files/content/big.bin", headers: { cookie: anaCookie } }, (res) => {
        assert.equal(res.headers["content-length"], String(size));
        res.on("data", (c: Buffer) => (downloaded.update(c), (length += c.length)));
        res.on("end", resolve);
        res.on("error", reject);
      });
    });
    assert.equal(length, size);
    assert.equal(downloaded.digest("hex"), hash.digest("hex"));
  });

  it("refuses to replace a file unless asked, and names a missing folder", async () => {
    await request("PUT", "/api/files/content/report.txt", { body: "v1" });
    const again = await request("PUT", "/api/files/content/report.txt", { body: "v2" });
    assert.equal(again.status, 409);
    assert.match(message(again), /"report.txt" already exists/);
    assert.equal((await request("PUT", "/api/files/content/report.txt?overwrite=1", { body: "v2" })).status, 201);
    assert.equal(fs.readFileSync(path.join(anaHome(), "report.txt"), "utf8"), "v2");

    const missing = await request("PUT", "/api/files/content/no-such-folder/x.txt", { body: "x" });
    assert.equal(missing.status, 404);
    assert.match(message(missing), /"no-such-folder" does not exist/);
    const notThere = await request("GET", "/api/files/content/nothing.txt", { headers: { accept: "text/html" } });
    assert.equal(notThere.status, 404);
    assert.match(String(notThere.headers["content-type"]), /^text\/plain/);
    assert.match(notThere.body.toString(), /"nothing.txt" does not exist/);
    fs.mkdirSync(path.join(anaHome(), "folder"));
    const folder = await request("GET", "/api/files/content/folder");
    assert.equal(folder.status, 400);
    assert.match(message(folder), /"folder" is a folder. Folders cannot be downloaded yet/);
    assert.equal((await request("PUT", "/api/files/content/", { body: "x" })).status, 400);
  });

  it("caps upload size, by the declared length and by the bytes actually sent", async () => {
    const declared = await request("PUT", "/api/files/content/huge.bin", { headers: { "content-length": String(MAX_UPLOAD + 1) }, body: Readable.from([Buffer.alloc(1024)]) }).catch(
      (error: Error) => ({ status: -1, headers: {}, body: Buffer.from(error.message) }) as Reply,
    );
    assert.equal(declared.status, 413, declared.body.toString());
    assert.match(message(declared), /larger than 8 MiB, the largest upload allowed/);

    // Chunked: no length up front; refused once the limit is crossed, nothing left behind.
    const chunk = Buffer.alloc(256 * 1024, 1);
    let sent = 0;
    const body = new Readable({
      read() {
        if (sent > MAX_UPLOAD * 2) return this.push(null);
        sent += chunk.length;
        this.push(chunk);
      },
    });
    const chunked = await request("PUT", "/api/files/content/huge.bin", { body }).catch((error: Error) => ({ status: -1, headers: {}, body: Buffer.from(error.message) }) as Reply);
    assert.equal(chunked.status, 413, chunked.body.toString());
    assert.equal(fs.existsSync(path.join(anaHome(), "huge.bin")), false);
    await waitFor(() => fs.readdirSync(anaHome()).every((name) => !name.startsWith(TEMP_PREFIX)), "temp files removed");
  });

  it("keeps the old content when an upload is cut off midway", async () => {
    fs.writeFileSync(path.join(anaHome(), "kept.txt"), "old");
    await new Promise<void>((resolve) => {
      const req = http.request({ host: "127.0.0.1", port, method: "PUT", path: "/api/files/content/kept.txt?overwrite=1", headers: { cookie: anaCookie, "content-length": "1000000" } });
      req.on("error", () => resolve());
      req.write(Buffer.alloc(1000, 1), () => setTimeout(() => (req.destroy(), resolve()), 50));
    });
    await waitFor(() => fs.readdirSync(anaHome()).every((name) => !name.startsWith(TEMP_PREFIX)), "temp file removed after the cut");
    assert.equal(fs.readFileSync(path.join(anaHome(), "kept.txt"), "utf8"), "old");
  });

  it("refuses every traversal form with a clear message", async () => {
    const cases: [string, number, RegExp][] = [
      ["/api/files/content/../../etc/passwd", 400, /contains "\.\."/],
      ["/api/files/content/%2e%2e/%2e%2e/etc/passwd", 400, /contains "\.\."/],
      ["/api/files/content/..%2F..%2Fetc%2Fpasswd", 400, /contains "\.\."/],
      ["/api/files/content/a/..%5C..%5Cb", 400, /contains "\.\."/],
      ["/api/files/content/%2Fetc%2Fpasswd", 400, /starts with "\/", which would name a place on the server/],
      ["/api/files/content//etc/passwd", 400, /starts with "\/"/],
      ["/api/files/content/~/x", 400, /starts with "~"/],
      ["/api/files/content/%E0%A4%A", 400, /malformed percent-encoding/],
      ["/api/files/content/a%00b", 400, /control characters/],
    ];
    for (const [target, status, words] of cases) {
      for (const method of ["GET", "PUT"]) {
        const reply = await request(method, target, method === "PUT" ? { body: "x" } : {});
        assert.equal(reply.status, status, `${method} ${target}: ${reply.body}`);
        assert.match(message(reply), words, `${method} ${target}`);
      }
    }
    assert.equal(fs.existsSync(path.join(homesDir, "etc")), false);
  });

  it("refuses links that lead out of the home, for reading and writing", async () => {
    fs.symlinkSync(outside, path.join(anaHome(), "escape"));
    fs.symlinkSync(path.join(outside, "secret.txt"), path.join(anaHome(), "secret.txt"));
    for (const [method, target] of [
      ["GET", "/api/files/content/secret.txt"],
      ["GET", "/api/files/content/escape/secret.txt"],
      ["PUT", "/api/files/content/escape/planted.txt"],
      ["PUT", "/api/files/content/secret.txt?overwrite=1"],
    ] as const) {
      const reply = await request(method, target, method === "PUT" ? { body: "x" } : {});
      assert.equal(reply.status, 403, `${method} ${target}: ${reply.body}`);
      assert.match(message(reply), /outside your home folder/);
    }
    assert.equal(fs.readFileSync(path.join(outside, "secret.txt"), "utf8"), "not yours");
    assert.equal(fs.existsSync(path.join(outside, "planted.txt")), false);
  });

  // Regression: content-length came from a stat and the bytes from a separate read. A file that grew meanwhile
  // sent bytes past the declared length, which the kept-alive connection then read as the next response; one
  // that shrank left the client waiting for bytes that never came. Read by hand on one raw connection, paused
  // after the headers: 32 MiB is far more than the socket buffers hold, so the server is mid-file when it changes.
  describe("a file that changes while it downloads", () => {
    const size = 32 * 1024 * 1024;
    const get = (name: string) => `GET /api/files/content/${name} HTTP/1.1\r\nHost: 127.0.0.1\r\nCookie: ${anaCookie}\r\n\r\n`;
    // An idle kept-alive connection is closed after 5 s by default, which would pass for a cut download.
    let keepAlive = 0;
    before(() => ((keepAlive = server.keepAliveTimeout), (server.keepAliveTimeout = 120_000)));
    after(() => void (server.keepAliveTimeout = keepAlive));

    it("that grew: sends exactly the declared bytes, and the connection stays usable", async () => {
      const original = Buffer.alloc(size, "a");
      fs.writeFileSync(path.join(anaHome(), "growing.log"), original);
      fs.writeFileSync(path.join(anaHome(), "next.txt"), "next");
      const conn = await rawConnection(port);
      try {
        conn.send(get("growing.log"));
        const head = await conn.headers();
        assert.equal(head.contentLength, size);
        fs.appendFileSync(path.join(anaHome(), "growing.log"), "appended while it downloads\n".repeat(1000));
        conn.resume();
        const end = head.bodyStart + size;
        await waitFor(() => conn.length() >= end || conn.closed(), "the declared bytes", 30_000);
        assert.ok(conn.received().subarray(head.bodyStart, end).equals(original), "the file as it was when the download began");
        conn.send(get("next.txt"));
        await waitFor(() => conn.received().indexOf("\r\n\r\n", end) >= 0 || conn.closed(), "the next response on the same connection", 10_000);
        assert.equal(conn.received().subarray(end, end + 15).toString("latin1"), "HTTP/1.1 200 OK", "the next response starts right after the declared bytes");
      } finally {
        conn.destroy();
      }
    });

    it("that shrank: cuts the connection, so the client sees a failed download instead of waiting", async () => {
      fs.writeFileSync(path.join(anaHome(), "shrinking.log"), Buffer.alloc(size, "b"));
      const conn = await rawConnection(port);
      try {
        conn.send(get("shrinking.log"));
        const head = await conn.headers();
        assert.equal(head.contentLength, size);
        fs.truncateSync(path.join(anaHome(), "shrinking.log"), 1024);
        conn.resume();
        await waitFor(() => conn.closed(), "the server to end the connection", 10_000);
        assert.ok(conn.length() - head.bodyStart < size, "fewer bytes than declared: the client knows it failed");
      } finally {
        conn.destroy();
      }
    });
  });

  it("writes RFC 6266 names that cannot break the header", () => {
    assert.equal(contentDisposition('a"b\\c.txt'), `attachment; filename="a_b_c.txt"; filename*=UTF-8''a%22b%5Cc.txt`);
    assert.equal(contentDisposition("日本.csv"), `attachment; filename="__.csv"; filename*=UTF-8''%E6%97%A5%E6%9C%AC.csv`);
  });
});

async function serve(routes: ReturnType<typeof fileRoutes>): Promise<{ server: http.Server; port: number }> {
  const server = http.createServer(async (req, res) => {
    if (!(await routes.http(req, res, new URL(req.url ?? "/", "http://localhost")))) res.writeHead(404).end("not ours");
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  return { server, port: (server.address() as { port: number }).port };
}

function requestTo(port: number, method: string, target: string, headers: http.OutgoingHttpHeaders, body: Readable): Promise<Reply> {
  return new Promise((resolve, reject) => {
    const req = http.request({ host: "127.0.0.1", port, method, path: target, headers }, (res) => {
      const chunks: Buffer[] = [];
      res.on("data", (c: Buffer) => chunks.push(c));
      res.on("end", () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks) }));
    });
    req.on("error", reject);
    body.pipe(req);
  });
}

/** One TCP connection spoken to by hand: every byte received is kept, so a response's exact length shows. */
async function rawConnection(port: number) {
  const socket = net.connect(port, "127.0.0.1");
  await new Promise<void>((resolve, reject) => socket.once("connect", resolve).once("error", reject));
  let chunks: Buffer[] = [];
  let length = 0;
  let closed = false;
  let headersSeen = false;
  const received = () => (chunks.length > 1 ? (chunks = [Buffer.concat(chunks, length)]) : chunks)[0] ?? Buffer.alloc(0);
  socket.on("data", (chunk: Buffer) => {
    chunks.push(chunk);
    length += chunk.length;
    // Stop reading as soon as the first response's headers are in: the server then meets back-pressure mid-file.
    if (!headersSeen && received().includes("\r\n\r\n")) {
      headersSeen = true;
      socket.pause();
    }
  });
  socket.on("close", () => (closed = true));
  socket.on("error", () => {}); // a reset is one way the server ends a download; `closed` says so
  return {
    send: (text: string) => socket.write(text),
    received,
    length: () => length,
    closed: () => closed,
    resume: () => socket.resume(),
    destroy: () => socket.destroy(),
    /** The first response's headers; reading stays paused until resume(). */
    async headers(): Promise<{ contentLength: number; bodyStart: number }> {
      await waitFor(() => headersSeen || closed, "response headers");
      const bodyStart = received().indexOf("\r\n\r\n") + 4;
      const head = received().subarray(0, bodyStart).toString("latin1");
      assert.match(head, /^HTTP\/1\.1 200 /, head);
      return { contentLength: Number(/\r\ncontent-length: (\d+)/i.exec(head)?.[1]), bodyStart };
    },
  };
}

async function waitFor(condition: () => boolean, what: string, timeoutMs = 5000) {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) assert.fail(`timed out waiting for: ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}
