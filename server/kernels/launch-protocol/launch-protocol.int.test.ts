// End to end: the response listener + the REAL Python launcher running a real ipykernel.
// Needs ATRIUM_PYTHON (a Python with ipykernel and cryptography). Every launcher is killed in t.after.
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import net from 'node:net';
import { describe, it } from 'node:test';
import type { TestContext } from 'node:test';

import { CommPortError } from './errors';
import { commTargetOf, requestShutdown, sendSignal } from './comm-client';
import type { CommTarget } from './comm-client';
import type { LaunchedConnectionInfo } from './payload';
import { ResponseListener } from './response-listener';
import { requirePython, spawnLauncher, TestKernelClient, withDeadline } from './test-harness';
import type { LaunchedProcess } from './test-harness';

const python = requirePython();
const LAUNCH_MS = 30_000;
const STEP_MS = 15_000;
const quiet = { info() {}, warn() {}, error() {} };

async function startListener(t: TestContext): Promise<ResponseListener> {
  const listener = new ResponseListener({ host: '127.0.0.1', port: 0, log: quiet });
  await listener.start();
  t.after(() => listener.stop());
  return listener;
}

function launch(t: TestContext, args: string[], env: Record<string, string> = {}): LaunchedProcess {
  const proc = spawnLauncher(python, args, env);
  t.after(() => proc.kill());
  return proc;
}

async function connect(t: TestContext, info: LaunchedConnectionInfo, proc: LaunchedProcess) {
  const client = new TestKernelClient(info);
  t.after(() => client.close());
  const reply = await withDeadline('kernel_info_reply', client.waitUntilReady(Date.now() + STEP_MS), STEP_MS + 1000, proc.log);
  assert.equal(reply.header.msg_type, 'kernel_info_reply');
  assert.equal((reply.content as { status?: string }).status, 'ok');
  return client;
}

/** Start a long cell, interrupt it via the comm port, and see it end with KeyboardInterrupt. */
async function interruptRunningCell(client: TestKernelClient, target: CommTarget, proc: LaunchedProcess) {
  const deadline = Date.now() + STEP_MS;
  const id = await client.request('execute_request', {
    code: 'import time\nprint("sleeping", flush=True)\ntime.sleep(120)',
    silent: false,
    store_history: false,
    user_expressions: {},
    allow_stdin: false,
    stop_on_error: true,
  });
  // The print proves the cell is running (SIGINT outside a cell is ignored by ipykernel).
  await client.iopubMessage((m) => m.parent_header.msg_id === id && m.header.msg_type === 'stream', deadline);
  await sendSignal(target, 2, { deadlineMs: deadline });
  const reply = await withDeadline('execute_reply after interrupt', client.shellReply(id, deadline), STEP_MS + 1000, proc.log);
  assert.equal((reply.content as { status?: string }).status, 'error');
  assert.equal((reply.content as { ename?: string }).ename, 'KeyboardInterrupt');
}

describe('launch protocol with the real Python launcher', { timeout: 120_000 }, () => {
  it('v2: payload received, kernel answers, interrupt and shutdown via the authenticated comm port', async (t) => {
    const listener = await startListener(t);
    const kernelId = randomUUID();
    const ticket = await listener.register(kernelId);
    assert.ok(ticket.launchToken);
    const proc = launch(t, [
      '--kernel-id', kernelId,
      '--response-address', ticket.responseAddress,
      '--public-key', ticket.publicKey,
      '--launch-token', ticket.launchToken,
      '--port-range', '0..0',
      '--ip', '127.0.0.1',
    ], { ATRIUM_KERNEL_CURVE: '1' }); // as the portal asks for its v2 launches
    const info = await withDeadline('v2 payload', listener.waitFor(kernelId, Date.now() + LAUNCH_MS), LAUNCH_MS + 1000, proc.log);
    assert.equal(info.protocolVersion, 2);
    assert.equal(info.kernelId, kernelId);
    assert.equal(info.pid, proc.child.pid, 'the kernel runs in the launcher process');
    assert.ok(info.commPort > 0);
    assert.match(info.connection.curveServerKey ?? '', /^.{40}$/, 'the kernel encrypts: its CURVE key came in the sealed payload');

    const client = await connect(t, info, proc);

    // A client without the key (anyone else on the network) gets nothing: no reply, not even to kernel_info.
    const plain = new TestKernelClient(info, '127.0.0.1', { plain: true });
    t.after(() => plain.close());
    const unanswered = await plain.request('kernel_info_request', {}).catch(() => 'not even sent');
    await assert.rejects(plain.shellReply(unanswered, Date.now() + 1500), /before the deadline|timed out/);
    const target = commTargetOf(info, '127.0.0.1');
    await sendSignal(target, 0, { deadlineMs: Date.now() + STEP_MS }); // liveness poll
    await interruptRunningCell(client, target, proc);

    await t.test('an unauthenticated (JEG-style) request is refused and changes nothing', async () => {
      const answer = await rawV2Exchange(info.commPort, '{"shutdown": 1}\n');
      assert.match(answer.challenge, /"challenge"/);
      assert.match(answer.verdict, /"ok": false/);
      assert.match(answer.verdict, /unauthenticated/);
      const wrongKey = { ...target, commKey: Buffer.alloc(32, 9) } as CommTarget;
      await assert.rejects(requestShutdown(wrongKey, { deadlineMs: Date.now() + STEP_MS }), (err: unknown) => {
        assert.ok(err instanceof CommPortError && err.code === 'COMM_REFUSED', String(err));
        return true;
      });
      assert.equal(proc.child.exitCode, null, 'still running');
      const id = await client.request('kernel_info_request', {});
      await client.shellReply(id, Date.now() + STEP_MS);
      assert.match(proc.log(), /refused request/);
    });

    await requestShutdown(target, { deadlineMs: Date.now() + STEP_MS });
    const code = await withDeadline('launcher exit after shutdown', proc.exited, STEP_MS, proc.log);
    assert.equal(code, 0, proc.log());
  });

  it('v1 (JEG names, RSA key): payload received, kernel answers, interrupt and shutdown via the comm port', async (t) => {
    const listener = await startListener(t);
    const kernelId = randomUUID();
    const ticket = await listener.register(kernelId, { protocolVersion: 1 });
    assert.equal(ticket.launchToken, undefined);
    const proc = launch(t, [
      '--RemoteProcessProxy.kernel-id', kernelId,
      '--RemoteProcessProxy.response-address', ticket.responseAddress,
      '--RemoteProcessProxy.public-key', ticket.publicKey,
      '--RemoteProcessProxy.port-range', '0..0',
      '--RemoteProcessProxy.spark-context-initialization-mode', 'none',
      '--ip', '127.0.0.1',
    ]);
    const info = await withDeadline('v1 payload', listener.waitFor(kernelId, Date.now() + LAUNCH_MS), LAUNCH_MS + 1000, proc.log);
    assert.equal(info.protocolVersion, 1);
    assert.equal(info.kernelId, kernelId);

    const client = await connect(t, info, proc);
    const target = commTargetOf(info, '127.0.0.1');
    await interruptRunningCell(client, target, proc);

    await requestShutdown(target, { deadlineMs: Date.now() + STEP_MS });
    const code = await withDeadline('launcher exit after shutdown', proc.exited, STEP_MS, proc.log);
    assert.equal(code, 0, proc.log());
  });

  it('a launcher whose payload the server refuses exits instead of running an unreachable kernel', async (t) => {
    const listener = await startListener(t);
    const kernelId = randomUUID();
    const ticket = await listener.register(kernelId);
    const proc = launch(t, [
      '--kernel-id', kernelId,
      '--response-address', ticket.responseAddress,
      '--public-key', ticket.publicKey,
      '--launch-token', 'not-the-issued-token',
      '--ip', '127.0.0.1',
    ]);
    const code = await withDeadline('launcher exit after refusal', proc.exited, LAUNCH_MS, proc.log);
    assert.equal(code, 3, proc.log());
    assert.match(proc.log(), /refused the connection info/);
    listener.cancel(kernelId);
  });

  it('the listener survives garbage connections', async (t) => {
    const listener = await startListener(t);
    const [host, port] = [listener.address.split(':')[0]!, Number(listener.address.split(':')[1])];
    for (const junk of ['GET / HTTP/1.1\r\n\r\n', '', '{"version":2}', Buffer.alloc(100_000, 1).toString()]) {
      await withDeadline('garbage connection closed', sendAndClose(host, port, junk), STEP_MS);
    }
    const kernelId = randomUUID();
    const ticket = await listener.register(kernelId);
    const proc = launch(t, [
      '--kernel-id', kernelId,
      '--response-address', ticket.responseAddress,
      '--public-key', ticket.publicKey,
      '--launch-token', ticket.launchToken!,
      '--ip', '127.0.0.1',
    ]);
    const info = await withDeadline('payload after garbage', listener.waitFor(kernelId, Date.now() + LAUNCH_MS), LAUNCH_MS + 1000, proc.log);
    await requestShutdown(commTargetOf(info, '127.0.0.1'), { deadlineMs: Date.now() + STEP_MS });
    assert.equal(await withDeadline('exit', proc.exited, STEP_MS, proc.log), 0);
  });
});

/** Speak to a v2 comm port by hand: read its challenge, send `line`, read the verdict. */
function rawV2Exchange(port: number, line: string): Promise<{ challenge: string; verdict: string }> {
  return withDeadline(
    'raw comm exchange',
    new Promise((resolve, reject) => {
      const socket = net.connect({ host: '127.0.0.1', port });
      let data = '';
      let challenge = '';
      socket.on('data', (chunk) => {
        data += chunk.toString('utf8');
        const nl = data.indexOf('\n');
        if (!challenge && nl >= 0) {
          challenge = data.slice(0, nl);
          data = data.slice(nl + 1);
          socket.write(line);
        }
      });
      socket.on('end', () => resolve({ challenge, verdict: data }));
      socket.on('error', reject);
    }),
    STEP_MS,
  );
}

function sendAndClose(host: string, port: number, payload: string): Promise<void> {
  return new Promise((resolve) => {
    const socket = net.connect({ host, port }, () => socket.end(payload));
    socket.on('data', () => {});
    socket.on('close', () => resolve());
    socket.on('error', () => {});
  });
}
