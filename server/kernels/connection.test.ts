// KernelConnection against an in-process socket rig (ROUTER/PUB/REP standing in for a kernel):
// the behaviours a real kernel will not produce on demand — bad frames, a throwing handler,
// an unanswered heartbeat, concurrent sends, close() with requests in flight.
import assert from 'node:assert/strict';
import { test, type TestContext } from 'node:test';
import * as zmq from 'zeromq';
import { KernelConnection, KernelRequestError, parseConnectionInfo, type ConnectionInfo, type KernelLogger } from './connection';
import { createMessage, type KernelMessage } from './protocol/messages';
import { createSigner } from './protocol/signing';
import { decodeFrames, encodeFrames } from './protocol/wire';

const KEY = 'rig-key';
const signer = createSigner(KEY);

function portOf(socket: zmq.Socket): number {
  return Number(/:(\d+)$/.exec(socket.lastEndpoint ?? '')?.[1]);
}

async function rig(t: TestContext, options: { heartbeat: boolean }) {
  const shell = new zmq.Router({ linger: 0 });
  const control = new zmq.Router({ linger: 0 });
  const stdin = new zmq.Router({ linger: 0 });
  const iopub = new zmq.Publisher({ linger: 0 });
  const hb = new zmq.Reply({ linger: 0 });
  const sockets = [shell, control, stdin, iopub, hb];
  for (const socket of sockets) await socket.bind('tcp://127.0.0.1:*');
  t.after(() => sockets.forEach((socket) => socket.close()));
  const hbPort = portOf(hb);
  if (options.heartbeat) {
    void (async () => {
      for await (const [ping] of hb) await hb.send(ping!);
    })().catch(() => {});
  } else {
    hb.close(); // nothing answers: every ping is missed
  }
  const info: ConnectionInfo = parseConnectionInfo({
    ip: '127.0.0.1',
    transport: 'tcp',
    shell_port: portOf(shell),
    control_port: portOf(control),
    stdin_port: portOf(stdin),
    iopub_port: portOf(iopub),
    hb_port: hbPort,
    key: KEY,
    signature_scheme: 'hmac-sha256',
  });
  return { shell, control, stdin, iopub, info };
}

function recordingLogger() {
  const entries: { level: string; message: string; fields?: Record<string, unknown> }[] = [];
  const logger: KernelLogger = {
    debug: (message, fields) => entries.push({ level: 'debug', message, fields }),
    warn: (message, fields) => entries.push({ level: 'warn', message, fields }),
    error: (message, fields) => entries.push({ level: 'error', message, fields }),
  };
  return { entries, logger };
}

function kernelMessage(msgType: string, content: Record<string, unknown>, parent?: KernelMessage): KernelMessage {
  return createMessage({ msgType, content, session: 'kernel', username: 'kernel', parentHeader: parent?.header });
}

function within<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  return Promise.race([
    promise,
    new Promise<never>((_, reject) => (timer = setTimeout(() => reject(new Error(`${what}: not within ${ms} ms`)), ms))),
  ]).finally(() => clearTimeout(timer));
}

/** Publishes `probe` until the connection hears one: a SUB misses what is published before it joins. */
async function untilSubscribed(conn: KernelConnection, iopub: zmq.Publisher): Promise<void> {
  let heard = false;
  const off = conn.onMessage((m) => {
    if (m.header.msg_type === 'probe') heard = true;
  });
  const deadline = Date.now() + 5_000;
  try {
    while (!heard) {
      if (Date.now() > deadline) throw new Error('iopub subscription not established within 5 s');
      await iopub.send(['topic', ...encodeFrames(kernelMessage('probe', {}), signer)]);
      await new Promise((resolve) => setImmediate(resolve));
    }
  } finally {
    off();
  }
}

test('concurrent sends are queued, signed and carry the session as routing id', async (t) => {
  const { shell, info } = await rig(t, { heartbeat: true });
  const conn = new KernelConnection(info, { heartbeat: false });
  t.after(() => conn.close());
  const sent = Array.from({ length: 50 }, (_, i) => conn.createMessage('execute_request', { code: String(i) }));
  await Promise.all(sent.map((msg) => conn.send('shell', msg)));
  for (let i = 0; i < 50; i++) {
    const frames = await within(shell.receive(), 2_000, `message ${i}`);
    const decoded = decodeFrames(frames, signer);
    assert.ok(decoded.ok, JSON.stringify(decoded));
    assert.equal(decoded.value.identities[0]?.toString(), conn.session);
    assert.equal(decoded.value.message.content.code, String(i));
  }
});

test('request() resolves with the reply to its own msg_id, on its own channel', async (t) => {
  const { shell, info } = await rig(t, { heartbeat: true });
  const conn = new KernelConnection(info, { heartbeat: false });
  t.after(() => conn.close());
  void (async () => {
    for await (const frames of shell) {
      const decoded = decodeFrames(frames, signer);
      if (!decoded.ok) continue;
      const request = decoded.value.message;
      const other = kernelMessage('kernel_info_reply', { status: 'ok', n: 'unrelated' }, kernelMessage('x', {}));
      await shell.send(encodeFrames(other, signer, decoded.value.identities));
      await shell.send(encodeFrames(kernelMessage('kernel_info_reply', { status: 'ok', n: 'mine' }, request), signer, decoded.value.identities));
    }
  })().catch(() => {});
  const reply = await conn.kernelInfo(2_000);
  assert.equal(reply.content.n, 'mine');
  assert.equal(reply.channel, 'shell');
});

test('bad frames are dropped and logged with the reason; a throwing handler is logged and survived', async (t) => {
  const { iopub, info } = await rig(t, { heartbeat: true });
  const { entries, logger } = recordingLogger();
  const conn = new KernelConnection(info, { heartbeat: false, logger, label: 'k-rig' });
  t.after(() => conn.close());
  const seen: string[] = [];
  conn.onMessage((m) => {
    if (m.header.msg_type === 'boom') throw new Error('handler bug');
  });
  conn.onMessage((m) => seen.push(m.header.msg_type));
  await untilSubscribed(conn, iopub);

  const good = encodeFrames(kernelMessage('stream', { text: 'ok' }), signer);
  await iopub.send(['topic', ...encodeFrames(kernelMessage('stream', { text: 'x' }), createSigner('wrong key'))]);
  await iopub.send(['topic', 'no delimiter here']);
  await iopub.send(['topic', ...good.slice(0, 4)]);
  await iopub.send(['topic', ...encodeFrames(kernelMessage('boom', {}), signer)]);
  const last = new Promise<void>((resolve) =>
    conn.onMessage((m) => {
      if (m.header.msg_type === 'final') resolve();
    }),
  );
  await iopub.send(['topic', ...encodeFrames(kernelMessage('final', {}), signer)]);
  await within(last, 2_000, 'final message');

  assert.deepEqual(seen.filter((type) => type !== 'probe'), ['boom', 'final']);
  const dropped = entries.filter((e) => e.message === 'dropped kernel message');
  assert.deepEqual(dropped.map((e) => e.fields?.reason), ['BAD_SIGNATURE', 'NO_DELIMITER', 'TOO_FEW_FRAMES']);
  assert.ok(dropped.every((e) => e.fields?.channel === 'iopub' && e.fields?.kernel === 'k-rig'));
  const failed = entries.filter((e) => e.message === 'kernel message handler failed');
  assert.equal(failed.length, 1);
  assert.match(String(failed[0]!.fields?.error), /handler bug/);
});

test('requests time out with a typed error; close() rejects what is pending and is idempotent', async (t) => {
  const { info } = await rig(t, { heartbeat: true });
  const conn = new KernelConnection(info, { heartbeat: false });
  await assert.rejects(conn.kernelInfo(100), (e: unknown) => e instanceof KernelRequestError && e.code === 'REQUEST_TIMEOUT');
  const pending = conn.request('control', 'interrupt_request', {}, 10_000);
  await Promise.all([conn.close(), conn.close()]);
  await assert.rejects(pending, (e: unknown) => e instanceof KernelRequestError && e.code === 'CONNECTION_CLOSED');
  await assert.rejects(conn.send('shell', conn.createMessage('x', {})), /closed/);
  assert.equal(conn.closed, true);
});

test('an unanswered heartbeat fires onHeartbeatLost after missedBeats', async (t) => {
  const { info } = await rig(t, { heartbeat: false });
  const { logger } = recordingLogger();
  const conn = new KernelConnection(info, { heartbeat: { intervalMs: 50, timeoutMs: 50, missedBeats: 3 }, logger });
  t.after(() => conn.close());
  const calls: number[] = [];
  const lost = new Promise<void>((resolve) =>
    conn.onHeartbeatLost((i) => {
      calls.push(i.missedBeats);
      resolve();
    }),
  );
  await within(lost, 3_000, 'heartbeat loss');
  assert.deepEqual(calls, [3]);
});

test('a healthy heartbeat never reports loss, and close() stops it at once', async (t) => {
  const { info } = await rig(t, { heartbeat: true });
  const conn = new KernelConnection(info, { heartbeat: { intervalMs: 20, timeoutMs: 500, missedBeats: 1 } });
  const lost: unknown[] = [];
  conn.onHeartbeatLost((i) => lost.push(i));
  // a round trip on shell takes longer than several beats; none may be missed meanwhile
  await assert.rejects(conn.kernelInfo(300));
  const started = Date.now();
  await conn.close();
  assert.ok(Date.now() - started < 500, 'close does not wait for the next beat');
  assert.deepEqual(lost, []);
});

test('connection info is validated at the boundary', () => {
  assert.throws(() => parseConnectionInfo({ ip: '127.0.0.1', shell_port: 'x' }), /invalid kernel connection info/);
  assert.throws(
    () => parseConnectionInfo({ ip: 'h', shell_port: 1, iopub_port: 2, stdin_port: 3, control_port: 4, hb_port: 5, key: 'k', signature_scheme: 'hmac-md5' }),
    /signature_scheme/,
  );
  const parsed = parseConnectionInfo({ ip: 'h', shell_port: 1, iopub_port: 2, stdin_port: 3, control_port: 4, hb_port: 5, key: '' });
  assert.equal(parsed.transport, 'tcp');
  assert.equal(parsed.signature_scheme, 'hmac-sha256');
});

