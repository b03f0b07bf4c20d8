// The PVC store's file server (kernel-launchers/kubernetes/fileserver.py, the real program) speaks the HomeStore
// contract: here it runs as a local process on a loopback port and PvcHomeStore talks to it directly, so its
// semantics are checked without a cluster. pvc-store.int.test.ts runs the same suite through a real API
// server's pod proxy, with the server in a pod on the user's PVC. Also: the token is required, and the server
// never serves a path outside its folder whatever it is sent.
// Run alone: node --import tsx --test --test-reporter=spec server/storage/pvc-fileserver.int.test.ts
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import http from 'node:http';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { after, describe, it } from 'node:test';

import { runHomeStoreContract } from './contract';
import { BUNDLED_FILESERVER_SCRIPT, type FileServerEndpoint } from './pvc-fileserver';
import { PvcHomeStore } from './pvc-store';

const python = process.env.ATRIUM_PYTHON ?? 'python3';
const workDir = fs.mkdtempSync(path.join(os.tmpdir(), 'atrium-fileserver-it-'));
const servers: ChildProcess[] = [];

async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as net.AddressInfo;
      server.close(() => resolve(port));
    });
  });
}

/** Starts fileserver.py on `root`; resolves once it answers /healthz (within 15 s). */
async function startServer(root: string): Promise<{ port: number; token: string; child: ChildProcess }> {
  const port = await freePort();
  const token = randomBytes(32).toString('base64url');
  const child = spawn(python, [BUNDLED_FILESERVER_SCRIPT], {
    env: { ...process.env, ATRIUM_FILESERVER_TOKEN: token, ATRIUM_FILESERVER_ROOT: root, ATRIUM_FILESERVER_HOST: '127.0.0.1', ATRIUM_FILESERVER_PORT: String(port) },
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  servers.push(child);
  const deadline = Date.now() + 15_000;
  for (;;) {
    const status = await raw(port, token, 'GET', '/healthz').then((r) => r.status, () => 0);
    if (status === 200) return { port, token, child };
    if (Date.now() > deadline || child.exitCode !== null) throw new Error(`the file server did not start (exit ${child.exitCode})`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

function raw(port: number, token: string | undefined, method: string, pathAndQuery: string): Promise<{ status: number; text: string }> {
  return new Promise((resolve, reject) => {
    const req = http.request({ host: '127.0.0.1', port, method, path: pathAndQuery, headers: token ? { 'x-atrium-token': token } : {}, timeout: 10_000 }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, text: Buffer.concat(chunks).toString('utf8') }));
      res.on('error', reject);
    });
    req.on('error', reject);
    req.end();
  });
}

/** Talks to a file server on a loopback port, as the pod proxy does through the API server. */
function directEndpoint(port: number, token: string): FileServerEndpoint {
  return {
    request: ({ method, path: pathAndQuery, body }) =>
      new Promise((resolve, reject) => {
        const req = http.request({ host: '127.0.0.1', port, method, path: pathAndQuery, headers: { 'x-atrium-token': token } }, resolve);
        req.on('error', reject);
        if (body === undefined) req.end();
        else if (Buffer.isBuffer(body)) req.end(body);
        else {
          body.on('error', (error) => req.destroy(error));
          body.pipe(req);
        }
      }),
  };
}

after(() => {
  for (const child of servers) child.kill('SIGKILL');
  fs.rmSync(workDir, { recursive: true, force: true });
});

let homes = 0;
runHomeStoreContract('PVC file server, reached directly', async () => {
  const root = path.join(workDir, `home-${++homes}`);
  fs.mkdirSync(root, { mode: 0o700 });
  const { port, token, child } = await startServer(root);
  return {
    store: new PvcHomeStore({ username: 'ana', endpoint: directEndpoint(port, token) }),
    cleanup: async () => {
      child.kill('SIGTERM');
      fs.rmSync(root, { recursive: true, force: true });
    },
  };
});

describe('the file server on its own', () => {
  it('refuses requests without the token, and paths that leave its folder', async () => {
    const root = path.join(workDir, 'guarded');
    fs.mkdirSync(root);
    fs.writeFileSync(path.join(workDir, 'secret.txt'), 'outside');
    fs.symlinkSync(path.join(workDir, 'secret.txt'), path.join(root, 'link.txt'));
    const { port, token } = await startServer(root);
    assert.equal((await raw(port, undefined, 'GET', '/v1/list?path=')).status, 401);
    assert.equal((await raw(port, 'x'.repeat(43), 'GET', '/v1/list?path=')).status, 401);
    for (const bad of ['..', '../secret.txt', '/etc/passwd', 'a/../../secret.txt', 'a\u0000b', 'a\\..\\b', '.atrium-tmp-x']) {
      const r = await raw(port, token, 'GET', `/v1/read?path=${encodeURIComponent(bad)}`);
      assert.equal(r.status, 400, `${bad}: ${r.status} ${r.text}`);
      assert.equal(JSON.parse(r.text).error.kind, 'bad_path');
    }
    const viaLink = await raw(port, token, 'GET', '/v1/read?path=link.txt');
    assert.equal(viaLink.status, 403, viaLink.text);
    assert.equal(JSON.parse(viaLink.text).error.kind, 'outside');
    assert.deepEqual(JSON.parse((await raw(port, token, 'GET', '/v1/list?path=')).text).entries, [], 'a link out of the folder is not listed');
  });

  it('reads a refused upload to its end before answering, so a proxy in between relays the refusal (not a 502/503)', async () => {
    const root = path.join(workDir, 'refused-upload');
    fs.mkdirSync(root);
    fs.writeFileSync(path.join(root, 'nb.ipynb'), '{"v":1}');
    const { port, token } = await startServer(root);
    const stale = fs.statSync(path.join(root, 'nb.ipynb')).mtimeMs - 60_000;
    // A chunked upload whose second half comes later, as a stream through the API server's proxy does.
    const answer = await new Promise<{ status: number; connection: string | undefined; answeredAfterLastChunk: boolean }>((resolve, reject) => {
      let lastChunkSent = false;
      const req = http.request(
        { host: '127.0.0.1', port, method: 'PUT', path: `/v1/write?path=nb.ipynb&expected_mtime_ms=${Math.round(stale)}`, headers: { 'x-atrium-token': token, 'transfer-encoding': 'chunked' } },
        (res) => {
          res.resume();
          res.on('end', () => resolve({ status: res.statusCode ?? 0, connection: res.headers.connection, answeredAfterLastChunk: lastChunkSent }));
        },
      );
      req.on('error', reject);
      req.write('{"v":"mi');
      setTimeout(() => {
        lastChunkSent = true;
        req.end('ne"}');
      }, 300);
    });
    assert.equal(answer.status, 409);
    assert.ok(answer.answeredAfterLastChunk, 'answered once the whole upload was read');
    assert.notEqual(answer.connection, 'close', 'the connection is kept: nothing of the upload is left unread');
    assert.equal(fs.readFileSync(path.join(root, 'nb.ipynb'), 'utf8'), '{"v":1}');

    // Never for a caller without the token, nor past a malformed chunk size: answered at once, the upload unread.
    const unended = (headers: Record<string, string>, first: string) =>
      new Promise<{ status: number; ms: number }>((resolve, reject) => {
        const started = Date.now();
        const req = http.request({ host: '127.0.0.1', port, method: 'PUT', path: '/v1/write?path=x.txt', headers: { 'transfer-encoding': 'chunked', ...headers } }, (res) => {
          res.resume();
          resolve({ status: res.statusCode ?? 0, ms: Date.now() - started });
          req.destroy();
        });
        req.on('error', (error) => (req.destroyed ? undefined : reject(error)));
        req.write(first); // and never ends
        setTimeout(() => {
          req.destroy();
          reject(new Error('no answer within 10 s: the server is reading an upload it refused'));
        }, 10_000).unref();
      });
    const stranger = await unended({}, 'x'.repeat(1000));
    assert.equal(stranger.status, 401);
    assert.ok(stranger.ms < 5_000, `answered in ${stranger.ms} ms`);
    const socket = net.connect(port, '127.0.0.1');
    const reply = await new Promise<string>((resolve, reject) => {
      setTimeout(() => {
        socket.destroy();
        reject(new Error('no answer within 10 s to a malformed chunk size'));
      }, 10_000).unref();
      let text = '';
      socket.on('data', (d) => (text += d));
      socket.on('end', () => resolve(text));
      socket.on('error', reject);
      socket.write(`PUT /v1/write?path=nb.ipynb&expected_mtime_ms=${Math.round(stale)} HTTP/1.1\r\nHost: x\r\nX-Atrium-Token: ${token}\r\nTransfer-Encoding: chunked\r\n\r\n-1\r\nabc`);
    });
    assert.match(reply, /^HTTP\/1\.[01] 409/, 'the refusal, not a read until the client gives up');
  });

  // Downloads: the length the store reports is the server's open descriptor's, and the body holds exactly that.
  // 32 MiB is far more than the socket buffers hold, so the server is mid-file when the file changes.
  it('open streams the size it opened with: appended bytes are left out, a cut file fails', async () => {
    const root = path.join(workDir, 'changing');
    fs.mkdirSync(root);
    const { port, token } = await startServer(root);
    const store = new PvcHomeStore({ username: 'ana', endpoint: directEndpoint(port, token) });
    const original = Buffer.alloc(32 * 1024 * 1024, 'a');

    fs.writeFileSync(path.join(root, 'grows.log'), original);
    const mtimeMs = Math.floor(fs.statSync(path.join(root, 'grows.log')).mtimeMs);
    const growing = await store.open('grows.log');
    fs.appendFileSync(path.join(root, 'grows.log'), 'appended after opening\n');
    assert.deepEqual([growing.entry.path, growing.entry.size, growing.entry.mtime.getTime()], ['grows.log', original.length, mtimeMs]);
    assert.ok((await collect(growing.body)).equals(original));

    fs.writeFileSync(path.join(root, 'shrinks.log'), original);
    const shrinking = await store.open('shrinks.log');
    fs.truncateSync(path.join(root, 'shrinks.log'), 1000);
    await assert.rejects(collect(shrinking.body), (error: unknown) => error instanceof Error && (error as { code?: string }).code === 'UNAVAILABLE');
  });
});

async function collect(stream: NodeJS.ReadableStream): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const chunk of stream) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks);
}
