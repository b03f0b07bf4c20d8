// Integration: the remote-local launcher with the REAL Python launcher (kernel-launchers/python) running a
// real ipykernel, through the portal's real response listener and the launcher's comm port.
// Needs ATRIUM_PYTHON (a Python with ipykernel and cryptography); the test runner sets it.
// Every process started here is killed in t.after; every wait has a deadline; nothing sleeps.
import assert from 'node:assert/strict';
import fs from 'node:fs';
import { randomUUID } from 'node:crypto';
import net from 'node:net';
import { after, before, test, type TestContext } from 'node:test';
import { KernelConnection } from '../connection';
import { loadKernelspecs, type Kernelspec } from '../kernelspecs';
import { ResponseListener } from '../launch-protocol/response-listener';
import { executeRequestContent, parentMsgId } from '../protocol/messages';
import { LaunchError, LauncherRegistry, type DeadStatus, type KernelProcess } from './base';
import { RemoteKernelProcess } from './remote';
import { LocalProcessEngine, RemoteLocalLauncher } from './remote-local';
import { connectForTest, nextMessage, quietKernelLog } from '../testing';

const python = process.env.ATRIUM_PYTHON;
if (!python) {
  throw new Error('ATRIUM_PYTHON is not set: point it at a Python with ipykernel and cryptography, e.g. ~/.cache/atrium/py-kernel-test/bin/python');
}

const LAUNCH_MS = 30_000;
const STEP_MS = 10_000;
const quiet = { info() {}, warn() {}, error() {} };

let listener: ResponseListener;
let remoteLocal: Kernelspec;

before(async () => {
  listener = new ResponseListener({ host: '127.0.0.1', port: 0, log: quiet });
  await listener.start();
  remoteLocal = (await loadKernelspecs()).get('python3_remote_local')!;
  assert.ok(remoteLocal, 'the bundled python3_remote_local kernelspec exists');
});
after(() => listener.stop());

function launcher(): RemoteLocalLauncher {
  return new RemoteLocalLauncher({ responseListener: listener, python, logger: quietKernelLog });
}

function specWith(argv: string[], config: Record<string, unknown> = {}, env = remoteLocal.spec.env): Kernelspec {
  const atrium = { ...remoteLocal.spec.metadata.atrium, config };
  return { ...remoteLocal, spec: { ...remoteLocal.spec, argv, env, metadata: { ...remoteLocal.spec.metadata, atrium } } };
}

/** Kills whatever a failed launch might have left, by the pid its error names: a test never leaks a process. */
function killLeftover(t: TestContext, engineId: () => string | undefined): void {
  t.after(() => {
    const pid = Number(/^pid (\d+)$/.exec(engineId() ?? '')?.[1]);
    if (!pid) return;
    try {
      process.kill(-pid, 'SIGKILL');
    } catch {
      // already gone: what the test expects
    }
  });
}

async function startKernel(t: TestContext, kernelspec: Kernelspec = remoteLocal): Promise<RemoteKernelProcess> {
  const kernel = await launcher().launch(
    { kernelId: `it-${randomUUID()}`, kernelspec, username: 'ana', env: { KERNEL_LANG_HINT: 'python' } },
    { deadlineMs: LAUNCH_MS },
  );
  t.after(async () => {
    await kernel.kill();
    await kernel.cleanup();
  });
  const info = await kernel.confirmStartup(LAUNCH_MS);
  assert.equal(info.header.msg_type, 'kernel_info_reply');
  assert.equal(info.content.status, 'ok');
  return kernel;
}



/** Runs time.sleep(60), interrupts it through `kernel` (the comm port), expects KeyboardInterrupt quickly. */
async function interruptSleepingCell(connection: KernelConnection, kernel: KernelProcess): Promise<void> {
  const msg = connection.createMessage('execute_request', executeRequestContent("import time; print('sleeping', flush=True); time.sleep(60)"));
  const id = msg.header.msg_id;
  // the cell's own output proves the user code runs (a SIGINT before it starts may be ignored by ipykernel)
  const started = nextMessage(
    connection,
    (m) => parentMsgId(m) === id && m.header.msg_type === 'stream' && String(m.content.text).includes('sleeping'),
    STEP_MS,
    'the cell printing "sleeping"',
  );
  const reply = nextMessage(connection, (m) => m.channel === 'shell' && parentMsgId(m) === id, 2 * STEP_MS, 'execute_reply');
  await connection.send('shell', msg);
  await started;
  const interruptedAt = Date.now();
  await kernel.interrupt();
  const answer = await reply;
  assert.equal(answer.content.status, 'error');
  assert.equal(answer.content.ename, 'KeyboardInterrupt');
  assert.ok(Date.now() - interruptedAt < 5_000, 'interrupted within 5 s');
  assert.deepEqual(await kernel.poll(), { alive: true });
}

function waitForDeath(kernel: KernelProcess, ms: number): Promise<DeadStatus> {
  const abort = new AbortController();
  let timer: NodeJS.Timeout | undefined;
  return Promise.race([
    kernel.waitForExit(abort.signal),
    new Promise<never>((_, reject) => (timer = setTimeout(() => reject(new Error(`still alive after ${ms} ms`)), ms))),
  ]).finally(() => {
    clearTimeout(timer);
    abort.abort();
  });
}

function assertProcessGone(pid: number): void {
  assert.throws(() => process.kill(pid, 0), /ESRCH/, `process ${pid} is gone`);
}

test('v2: launch, kernel_info, interrupt via the comm port, restore in a fresh launcher, interrupt again, shutdown', async (t) => {
  const kernel = await startKernel(t);
  assert.equal(kernel.launcher, 'remote-local');
  assert.ok(kernel.engine instanceof LocalProcessEngine);
  const pid = kernel.engine.pid;
  assert.equal(kernel.engineId, `pid ${pid}`);
  assert.equal(kernel.remotePid, pid, 'the kernel runs in the launcher process');
  assert.equal(kernel.commAddress.protocolVersion, 2);
  // Its traffic is encrypted: Atrium's connection (and the saved state it is restored from) carries its CURVE key.
  assert.match(kernel.connectionInfo.curve_server_key ?? '', /^.{40}$/);
  assert.equal((kernel.serialize().connectionInfo as { curve_server_key?: string }).curve_server_key, kernel.connectionInfo.curve_server_key);
  // The one-time token travels in the launcher's environment (readable by its user only), never in its argv
  // (readable by every user of the host).
  const cmdline = fs.readFileSync(`/proc/${pid}/cmdline`, 'utf8');
  assert.doesNotMatch(cmdline, /launch-token/);
  const token = /(?:^|\0)ATRIUM_LAUNCH_TOKEN=([^\0]+)/.exec(fs.readFileSync(`/proc/${pid}/environ`, 'utf8'))?.[1];
  assert.ok(token && token.length >= 16, 'the launcher got its token in the environment');
  assert.ok(!cmdline.includes(token), 'and it is nowhere on the command line');

  const first = await connectForTest(t, kernel, STEP_MS);
  await interruptSleepingCell(first, kernel);
  await first.close();

  // what the portal saved in the DB, read back by a new process with a new launcher
  const saved = JSON.parse(JSON.stringify(kernel.serialize())) as { state: { comm: { commKey?: string; port: number } } };
  assert.equal(Buffer.from(saved.state.comm.commKey ?? '', 'base64').length, 32, 'the comm key is saved (base64)');
  assert.equal(saved.state.comm.port, kernel.commAddress.port);
  const restored = await new LauncherRegistry().register(launcher()).restore(saved);
  assert.ok(restored instanceof RemoteKernelProcess);
  assert.equal(restored.engineId, kernel.engineId);
  assert.deepEqual(await restored.poll(), { alive: true });

  const second = await connectForTest(t, restored, STEP_MS);
  await interruptSleepingCell(second, restored);
  await second.close();

  await restored.kill(STEP_MS); // comm-port shutdown; the restored engine has no ChildProcess and polls the pid
  assert.equal((await restored.poll()).alive, false);
  const status = await waitForDeath(kernel, STEP_MS);
  assert.equal(status.exitCode, 0, `the launcher shut down cleanly through the comm port, not by SIGKILL: ${status.reason}`);
  assertProcessGone(pid);
  await restored.cleanup();
});

test('v1 (JEG argv names, RSA key): launch, kernel_info, interrupt and shutdown via the comm port', async (t) => {
  const jeg = specWith([
    'python',
    '{resource_dir}/../../python/launch_kernel.py',
    '--RemoteProcessProxy.kernel-id', '{kernel_id}',
    '--RemoteProcessProxy.response-address', '{response_address}',
    '--RemoteProcessProxy.public-key', '{public_key}',
    '--RemoteProcessProxy.port-range', '{port_range}',
    '--RemoteProcessProxy.spark-context-initialization-mode', 'none',
    '--ip', '127.0.0.1',
  ], {}, {}); // a stock JEG kernelspec: no launch token anywhere
  const kernel = await startKernel(t, jeg);
  assert.equal(kernel.commAddress.protocolVersion, 1);
  assert.equal(kernel.connectionInfo.curve_server_key, undefined, 'v1 (stock JEG launchers): signed, not encrypted');
  const comm = kernel.serialize().state.comm as Record<string, unknown>;
  assert.equal(comm.protocolVersion, 1);
  assert.equal(comm.commKey, undefined, 'v1 has no comm key');

  const connection = await connectForTest(t, kernel, STEP_MS);
  await interruptSleepingCell(connection, kernel);
  await connection.close();

  await kernel.kill(STEP_MS);
  const status = await waitForDeath(kernel, STEP_MS);
  assert.equal(status.exitCode, 0, status.reason);
  assertProcessGone((kernel.engine as LocalProcessEngine).pid);
});

test('a launcher that exits at once (bad argv) fails fast with LAUNCH_FAILED and its stderr', async (t) => {
  const bad = specWith([...remoteLocal.spec.argv, '--no-such-option']);
  const kernelId = `it-${randomUUID()}`;
  let engineId: string | undefined;
  killLeftover(t, () => engineId);
  const started = Date.now();
  await assert.rejects(launcher().launch({ kernelId, kernelspec: bad, username: 'ana' }, { deadlineMs: LAUNCH_MS }), (e: unknown) => {
    assert.ok(e instanceof LaunchError, String(e));
    engineId = e.engineId;
    assert.equal(e.code, 'LAUNCH_FAILED');
    assert.equal(e.kernelId, kernelId);
    assert.match(e.engineId ?? '', /^pid \d+$/);
    assert.match(e.message, /ended before it reported its connection info/);
    assert.match(e.message, /exited with code 2/);
    assert.match(e.message, /no-such-option/);
    return true;
  });
  assert.ok(Date.now() - started < 10_000, `failed in ${Date.now() - started} ms, well before the ${LAUNCH_MS} ms deadline`);
  assert.equal(listener.registry.pendingCount, 0, 'the pending launch was cancelled');
});

test('a launcher whose payload the listener refuses (wrong token) exits, and the launch fails fast', async (t) => {
  // the real token is passed (protocol 2 requires it), then overridden: argparse keeps the last value
  const argv = [...remoteLocal.spec.argv, '--launch-token', 'not-the-issued-token-000000'];
  const kernelId = `it-${randomUUID()}`;
  let engineId: string | undefined;
  killLeftover(t, () => engineId);
  const started = Date.now();
  await assert.rejects(launcher().launch({ kernelId, kernelspec: specWith(argv), username: 'ana' }, { deadlineMs: LAUNCH_MS }), (e: unknown) => {
    assert.ok(e instanceof LaunchError, String(e));
    engineId = e.engineId;
    assert.equal(e.code, 'LAUNCH_FAILED');
    assert.match(e.message, /exited with code 3/, 'the launcher ends instead of running an unreachable kernel');
    return true;
  });
  assert.ok(Date.now() - started < 10_000, `failed in ${Date.now() - started} ms`);
  assert.equal(listener.registry.pendingCount, 0);
});

test('a launcher whose response address is a black hole is killed at the deadline: LAUNCH_TIMEOUT', async (t) => {
  // takes the payload and never answers (half-open: no FIN either), like a proxy that swallows the return path
  const held = new Set<net.Socket>();
  const blackHole = net.createServer({ allowHalfOpen: true }, (socket) => {
    held.add(socket);
    socket.on('error', () => {});
    socket.resume();
  });
  await new Promise<void>((resolve) => blackHole.listen(0, '127.0.0.1', resolve));
  t.after(() => {
    for (const socket of held) socket.destroy();
    return new Promise<void>((resolve) => blackHole.close(() => resolve()));
  });
  const address = `127.0.0.1:${(blackHole.address() as net.AddressInfo).port}`;
  const argv = remoteLocal.spec.argv.map((arg) => (arg === '{response_address}' ? address : arg));
  await expectTimeout(t, specWith(argv));
});

test('a command that never reports is killed at the deadline: LAUNCH_TIMEOUT, no process left', async (t) => {
  await expectTimeout(t, specWith(['python', '-c', 'import time; time.sleep(60)', '--launch-token', '{launch_token}']));
});

async function expectTimeout(t: TestContext, kernelspec: Kernelspec): Promise<void> {
  const kernelId = `it-${randomUUID()}`;
  let engineId: string | undefined;
  killLeftover(t, () => engineId);
  const deadlineMs = 2_000;
  const started = Date.now();
  await assert.rejects(launcher().launch({ kernelId, kernelspec, username: 'ana' }, { deadlineMs }), (e: unknown) => {
    assert.ok(e instanceof LaunchError, String(e));
    engineId = e.engineId;
    assert.equal(e.code, 'LAUNCH_TIMEOUT');
    assert.equal(e.kernelId, kernelId);
    assert.match(e.message, new RegExp(`kernel ${kernelId} \\(remote-local pid \\d+\\) did not report its connection info within ${deadlineMs} ms; it was killed`));
    const pid = Number(/^pid (\d+)$/.exec(e.engineId ?? '')?.[1]);
    assert.ok(pid > 0);
    assertProcessGone(pid);
    return true;
  });
  const took = Date.now() - started;
  assert.ok(took >= deadlineMs && took < deadlineMs + 5_000, `gave up after ${took} ms`);
  assert.equal(listener.registry.pendingCount, 0, 'the pending launch was cancelled');
}
