// Integration: a REAL ipykernel started by the local launcher, driven through KernelConnection.
// Needs ATRIUM_PYTHON (a Python with ipykernel); the test runner sets it.
// Every kernel started here is killed and cleaned up in t.after; every wait has a deadline.
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { mkdtemp, readFile, rm, stat } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { after, before, test, type TestContext } from 'node:test';
import { KernelConnection, type KernelConnectionOptions } from '../connection';
import { loadKernelspecs, type Kernelspec } from '../kernelspecs';
import { executeRequestContent, parentMsgId, type ChannelMessage } from '../protocol/messages';
import { LaunchError, LauncherRegistry, launchAndConfirm, type DeadStatus } from './base';
import { LocalKernelProcess, LocalLauncher } from './local';
import { connectForTest, nextMessage } from '../testing';

const python = process.env.ATRIUM_PYTHON;
if (!python) {
  throw new Error('ATRIUM_PYTHON is not set: point it at a Python with ipykernel, e.g. ~/.cache/atrium/py-kernel-test/bin/python');
}

let runtimeDir: string;
let python3: Kernelspec;

before(async () => {
  runtimeDir = path.join(await mkdtemp(path.join(os.tmpdir(), 'atrium-int-')), 'runtime');
  python3 = (await loadKernelspecs()).get('python3')!;
});
after(() => rm(path.dirname(runtimeDir), { recursive: true, force: true }));

function launcher(): LocalLauncher {
  return new LocalLauncher({ python, runtimeDir, hostEnv: { ...process.env, ATRIUM_SECRET: 'must-not-leak' } });
}

function specWith(overrides: Partial<Kernelspec['spec']>): Kernelspec {
  return { ...python3, spec: { ...python3.spec, ...overrides } };
}

async function startKernel(t: TestContext, kernelspec: Kernelspec = python3): Promise<LocalKernelProcess> {
  const kernel = await launcher().launch({
    kernelId: `it-${randomUUID()}`,
    kernelspec,
    username: 'ana',
    env: { KERNEL_LANG_HINT: 'python', KERNEL_USERNAME: 'mallory' },
  });
  t.after(async () => {
    await kernel.kill();
    await kernel.cleanup();
  });
  await kernel.confirmStartup(30_000);
  return kernel;
}

const connect = (t: TestContext, kernel: LocalKernelProcess, options: KernelConnectionOptions = {}) => connectForTest(t, kernel, 10_000, options);

/** Runs code; resolves with the execute_reply and every iopub message up to status idle. */
async function execute(connection: KernelConnection, code: string, deadlineMs = 10_000) {
  const msg = connection.createMessage('execute_request', executeRequestContent(code));
  const id = msg.header.msg_id;
  const iopub: ChannelMessage[] = [];
  const stop = connection.onMessage((m) => {
    if (m.channel === 'iopub' && parentMsgId(m) === id) iopub.push(m);
  });
  try {
    const idle = nextMessage(
      connection,
      (m) => m.channel === 'iopub' && parentMsgId(m) === id && m.header.msg_type === 'status' && m.content.execution_state === 'idle',
      deadlineMs,
      `status idle for ${code}`,
    );
    const reply = nextMessage(connection, (m) => m.channel === 'shell' && parentMsgId(m) === id, deadlineMs, `execute_reply for ${code}`);
    await connection.send('shell', msg);
    const [replyMsg] = await Promise.all([reply, idle]);
    return { reply: replyMsg, iopub };
  } finally {
    stop();
  }
}

function streamText(iopub: ChannelMessage[]): string {
  return iopub.filter((m) => m.header.msg_type === 'stream').map((m) => String(m.content.text)).join('');
}

function waitForDeath(kernel: LocalKernelProcess, deadlineMs: number): Promise<DeadStatus> {
  const abort = new AbortController();
  let timer: NodeJS.Timeout | undefined;
  return Promise.race([
    kernel.waitForExit(abort.signal),
    new Promise<never>((_, reject) => (timer = setTimeout(() => reject(new Error(`still alive after ${deadlineMs} ms`)), deadlineMs))),
  ]).finally(() => {
    clearTimeout(timer);
    abort.abort();
  });
}

test('twelve kernels launched at once all start: ipykernel binds its own ports, so no launch can take another\'s', async (t) => {
  const kernels = await Promise.all(Array.from({ length: 12 }, () => startKernel(t)));
  const ports = kernels.flatMap((k) => [k.connectionInfo.shell_port, k.connectionInfo.iopub_port, k.connectionInfo.stdin_port, k.connectionInfo.control_port, k.connectionInfo.hb_port]);
  assert.ok(ports.every((port) => port > 0), 'every port was read back from the connection file');
  assert.equal(new Set(ports).size, ports.length, 'no port is shared');
  for (const kernel of kernels) {
    const connection = await connect(t, kernel, { heartbeat: false });
    const info = await connection.kernelInfo(10_000);
    assert.equal(info.header.msg_type, 'kernel_info_reply');
  }
});

test('a burst beyond the start slots queues: at most N kernels start at once, the others say they wait, all start', async (t) => {
  const limited = new LocalLauncher({ python, runtimeDir, maxConcurrentStarts: 2 });
  const phases: string[][] = [];
  const kernels = await Promise.all(
    Array.from({ length: 5 }, async (_, i) => {
      phases[i] = [];
      const kernel = await limited.launch({ kernelId: `it-${randomUUID()}`, kernelspec: python3, username: 'ana' }, { onPhase: (p) => phases[i]!.push(p) });
      t.after(async () => {
        await kernel.kill();
        await kernel.cleanup();
      });
      await kernel.confirmStartup(30_000);
      return kernel;
    }),
  );
  assert.equal(kernels.length, 5);
  const waited = phases.filter((p) => p.some((phase) => phase.startsWith('waiting for a start slot')));
  assert.equal(waited.length, 3, `two start at once, three wait: ${JSON.stringify(phases)}`);
});

test('starts ipykernel, answers kernel_info, keeps its connection file private', async (t) => {
  const kernel = await startKernel(t);
  const connection = await connect(t, kernel);
  const info = await connection.kernelInfo(5_000);
  assert.equal(info.header.msg_type, 'kernel_info_reply');
  assert.equal((info.content.language_info as { name: string }).name, 'python');
  assert.equal(info.content.status, 'ok');

  const saved = kernel.serialize();
  const file = (saved.state as { connectionFile: string }).connectionFile;
  assert.equal((await stat(file)).mode & 0o777, 0o600);
  assert.equal((await stat(path.dirname(file))).mode & 0o777, 0o700);
  assert.equal(saved.connectionInfo.key.length, 64);
});

test('execute 1+1: execute_result and status idle on iopub, and the kernel env is allow-listed', async (t) => {
  const kernel = await startKernel(t);
  const lost: unknown[] = [];
  const connection = await connect(t, kernel, { heartbeat: { intervalMs: 200, timeoutMs: 500, missedBeats: 2 } });
  connection.onHeartbeatLost((info) => lost.push(info));

  const { reply, iopub } = await execute(connection, '1+1');
  assert.equal(reply.content.status, 'ok');
  const result = iopub.find((m) => m.header.msg_type === 'execute_result');
  assert.deepEqual(result?.content.data, { 'text/plain': '2' });
  assert.equal(iopub.at(-1)?.content.execution_state, 'idle');

  const env = await execute(connection, "import os, json; print(json.dumps({k: v for k, v in os.environ.items() if k.startswith(('ATRIUM', 'KERNEL'))}))");
  const vars = JSON.parse(streamText(env.iopub)) as Record<string, string>;
  assert.equal(vars.ATRIUM_SECRET, undefined, 'portal secrets never reach a kernel');
  assert.equal(vars.KERNEL_USERNAME, 'ana', 'the owner comes from the request, not the client env');
  assert.equal(vars.KERNEL_LANG_HINT, 'python');
  assert.equal(vars.KERNEL_ID, kernel.kernelId);
  assert.deepEqual(lost, [], 'a healthy kernel never loses its heartbeat');
});

for (const interruptMode of ['signal', 'message'] as const) {
  test(`interrupt (${interruptMode} mode) stops time.sleep(60) with KeyboardInterrupt`, async (t) => {
    const kernel = await startKernel(t, specWith({ interrupt_mode: interruptMode }));
    const connection = await connect(t, kernel);
    const code = "import time; print('sleeping', flush=True); time.sleep(60)";
    const msg = connection.createMessage('execute_request', executeRequestContent(code));
    const id = msg.header.msg_id;
    // Wait for the cell's own output, not execute_input: a SIGINT that lands while ipykernel is still
    // between execute_input and the user's code can be lost (Jupyter behaves the same; users press again).
    const started = nextMessage(
      connection,
      (m) => parentMsgId(m) === id && m.header.msg_type === 'stream' && String(m.content.text).includes('sleeping'),
      5_000,
      'the cell printing "sleeping"',
    );
    const reply = nextMessage(connection, (m) => m.channel === 'shell' && parentMsgId(m) === id, 10_000, 'execute_reply');
    await connection.send('shell', msg);
    await started;
    const interruptedAt = Date.now();
    await kernel.interrupt();
    const answer = await reply;
    assert.equal(answer.content.status, 'error');
    assert.equal(answer.content.ename, 'KeyboardInterrupt');
    assert.ok(Date.now() - interruptedAt < 5_000);
    assert.deepEqual(await kernel.poll(), { alive: true });
  });
}

test('kill -9 of the kernel process is reported dead at once, with the signal', async (t) => {
  const kernel = await startKernel(t);
  const before = Date.now();
  process.kill(kernel.pid, 'SIGKILL');
  const status = await waitForDeath(kernel, 3_000);
  assert.ok(Date.now() - before < 1_000, 'exit noticed within a second');
  assert.equal(status.signal, 'SIGKILL');
  assert.match(status.reason, /killed by SIGKILL/);
  assert.equal((await kernel.poll()).alive, false);
  await assert.rejects(kernel.interrupt(), (e: unknown) => e instanceof LaunchError && e.code === 'KERNEL_DEAD');
});

test('heartbeat loss is detected when the kernel is SIGSTOPped', async (t) => {
  const kernel = await startKernel(t);
  const connection = await connect(t, kernel, { heartbeat: { intervalMs: 200, timeoutMs: 300, missedBeats: 2 } });
  const lost = new Promise<{ missedBeats: number; lastBeatAt: number | undefined }>((resolve) => connection.onHeartbeatLost(resolve));
  const stoppedAt = Date.now();
  await kernel.signal('SIGSTOP');
  t.after(() => kernel.signal('SIGCONT').catch(() => {}));
  let timer: NodeJS.Timeout | undefined;
  const info = await Promise.race([
    lost,
    new Promise<never>((_, reject) => (timer = setTimeout(() => reject(new Error('heartbeat loss not reported within 5 s')), 5_000))),
  ]).finally(() => clearTimeout(timer));
  assert.equal(info.missedBeats, 2);
  assert.ok(info.lastBeatAt !== undefined && info.lastBeatAt <= Date.now());
  assert.ok(Date.now() - stoppedAt < 3_000);
  assert.deepEqual(await kernel.poll(), { alive: true }, 'stopped, not dead: only the heartbeat can tell');
  await kernel.signal('SIGCONT'); // so the stop at the end is answered at once, not after the shutdown grace
});

test('reattaches from serialize() in a fresh launcher and connection after a "portal restart"', async (t) => {
  const kernel = await startKernel(t);
  const first = await connect(t, kernel);
  await execute(first, 'x = 41');
  await first.close();
  await first.close(); // idempotent

  // what the portal saved in the DB, read back by a new process
  const saved = JSON.parse(JSON.stringify(kernel.serialize())) as unknown;
  const registry = new LauncherRegistry().register(launcher());
  const restored = await registry.restore(saved);
  assert.ok(restored instanceof LocalKernelProcess);
  assert.equal(restored.pid, kernel.pid);
  assert.deepEqual(await restored.poll(), { alive: true });

  const second = await connect(t, restored);
  const { iopub } = await execute(second, 'x + 1');
  assert.deepEqual(iopub.find((m) => m.header.msg_type === 'execute_result')?.content.data, { 'text/plain': '42' });

  await restored.kill(5_000); // no ChildProcess here: found dead by polling the pid
  assert.equal((await restored.poll()).alive, false);
  await waitForDeath(kernel, 3_000);
  await restored.cleanup();
});

test('a kernel that exits while starting fails fast with its exit code and stderr', async (t) => {
  const failing = specWith({ argv: ['python', '-c', "import sys; sys.stderr.write('boom: no ipykernel here\\n'); sys.exit(3)"] });
  const kernel = await launcher().launch({ kernelId: `it-${randomUUID()}`, kernelspec: failing, username: 'ana' });
  t.after(() => kernel.cleanup());
  const started = Date.now();
  await assert.rejects(kernel.confirmStartup(20_000), (e: unknown) => {
    assert.ok(e instanceof LaunchError);
    assert.equal(e.code, 'LAUNCH_FAILED');
    assert.equal(e.kernelId, kernel.kernelId);
    assert.equal(e.engineId, `pid ${kernel.pid}`);
    assert.match(e.message, /exited with code 3/);
    assert.match(e.message, /boom: no ipykernel here/);
    return true;
  });
  assert.ok(Date.now() - started < 5_000);
});

test('a kernel that never answers is killed at the deadline, then LAUNCH_TIMEOUT names it', async (t) => {
  const silent = specWith({ argv: ['python', '-c', 'import time; time.sleep(60)'] });
  const registry = new LauncherRegistry().register(launcher());
  const kernelId = `it-${randomUUID()}`;
  await assert.rejects(
    launchAndConfirm(registry, { kernelId, kernelspec: silent, username: 'ana' }, { startupMs: 1_500 }),
    (e: unknown) => {
      assert.ok(e instanceof LaunchError);
      assert.equal(e.code, 'LAUNCH_TIMEOUT');
      assert.equal(e.kernelId, kernelId);
      assert.match(e.message, new RegExp(`kernel ${kernelId} \\(local pid \\d+\\).*1500 ms; it was killed`));
      const pid = Number(/pid (\d+)/.exec(e.engineId ?? '')?.[1]);
      assert.throws(() => process.kill(pid, 0), /ESRCH/, 'the kernel process is gone');
      return true;
    },
  );
  t.diagnostic('timeout path killed the kernel before reporting');
});

test('a missing interpreter is LAUNCH_FAILED at launch, not a hang', async () => {
  const missing = specWith({ argv: ['/nonexistent/python3', '-m', 'ipykernel_launcher', '-f', '{connection_file}'] });
  await assert.rejects(
    launcher().launch({ kernelId: `it-${randomUUID()}`, kernelspec: missing, username: 'ana' }),
    (e: unknown) => e instanceof LaunchError && e.code === 'LAUNCH_FAILED' && /ENOENT/.test(e.message),
  );
});

test('a stop asks the kernel first: its atexit hooks run; one that does not exit in the grace is killed with what it started', async (t) => {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'atrium-shutdown-'));
  t.after(() => rm(dir, { recursive: true, force: true }));
  const kernel = await startKernel(t);
  const connection = await connect(t, kernel, { heartbeat: false });
  const marker = path.join(dir, 'atexit-ran');
  await execute(connection, `import atexit\natexit.register(lambda: open(${JSON.stringify(marker)}, 'w').write('bye'))`);
  const started = Date.now();
  await kernel.kill();
  assert.ok(Date.now() - started < 5_000, `asked, it exits within the grace (${Date.now() - started} ms)`);
  assert.equal((await stat(marker)).isFile(), true, 'the atexit hook ran: the kernel shut down, not killed');

  // ipykernel waits long for a subprocess of its own before it exits: after the grace, it is killed, and the
  // subprocess with it (its process group).
  const slow = await new LocalLauncher({ python, runtimeDir, shutdownGraceMs: 500 }).launch({ kernelId: `it-${randomUUID()}`, kernelspec: python3, username: 'ana' });
  t.after(() => slow.cleanup());
  await slow.confirmStartup(30_000);
  const slowConnection = await connect(t, slow, { heartbeat: false });
  const child = await execute(slowConnection, "import subprocess\np = subprocess.Popen(['sleep', '300'])\nprint(p.pid)");
  const childPid = Number(streamText(child.iopub).trim());
  assert.ok(childPid > 0);
  const before = Date.now();
  await slow.kill();
  assert.ok(Date.now() - before >= 450, 'it waited for the grace first');
  assert.equal((await slow.poll()).alive, false);
  await waitForDeath(slow, 5_000);
  // Killed with it (a zombie until whoever adopted it reaps it, or gone).
  const state = await readFile(`/proc/${childPid}/stat`, 'utf8').then((stat) => stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3), () => 'gone');
  assert.ok(state === 'Z' || state === 'gone', `the subprocess it started ends with it (state ${state})`);

  // Stopped (SIGSTOP: it cannot answer anything): killed once the grace is over.
  const stuck = await new LocalLauncher({ python, runtimeDir, shutdownGraceMs: 500 }).launch({ kernelId: `it-${randomUUID()}`, kernelspec: python3, username: 'ana' });
  t.after(() => stuck.cleanup());
  await stuck.confirmStartup(30_000);
  process.kill(stuck.pid, 'SIGSTOP');
  await stuck.kill();
  assert.equal((await stuck.poll()).alive, false);
});

test('a kernel asked to shut down that cannot answer and is ended meanwhile (a cancelled launch kills it) is seen gone at once, not after the grace', async (t) => {
  const kernel = await new LocalLauncher({ python, runtimeDir, shutdownGraceMs: 5_000 }).launch({ kernelId: `it-${randomUUID()}`, kernelspec: python3, username: 'ana' });
  t.after(() => kernel.cleanup());
  await kernel.confirmStartup(30_000);
  process.kill(kernel.pid, 'SIGSTOP'); // it cannot answer the shutdown_request
  const started = Date.now();
  const stopping = kernel.kill();
  setTimeout(() => process.kill(-kernel.pid, 'SIGKILL'), 300).unref(); // what a cancelled launch does meanwhile
  await stopping;
  assert.ok(Date.now() - started < 2_500, `its end was seen ${Date.now() - started} ms after the ask (the grace is 5 s)`);
  assert.equal((await kernel.poll()).alive, false);
});

test("the orphan sweep's listing: the kernel processes this launcher started, each killed only while it is still that kernel's", async (t) => {
  const kernel = await startKernel(t);
  const mine = (await launcher().listOwnEngines()).find((engine) => engine.kernelId === kernel.kernelId);
  assert.ok(mine, 'listed by its connection file');
  assert.equal(mine.engineId, `pid ${kernel.pid}`);
  assert.equal(mine.launcher, 'local');
  assert.ok(Math.abs(mine.createdAt.getTime() - Date.now()) < 120_000, `its start time, from /proc: ${mine.createdAt.toISOString()}`);
  const elsewhere = new LocalLauncher({ python, runtimeDir: path.join(path.dirname(runtimeDir), 'another-runtime') });
  assert.deepEqual(await elsewhere.listOwnEngines(), [], "a launcher with another runtime folder (another portal) sees none of them");
  // Its pid, named as another kernel's, or listed with another start time (a pid reused since it was listed): not
  // that kernel's process, left alone.
  await launcher().killOrphan({ ...mine, kernelId: `it-${randomUUID()}` });
  await launcher().killOrphan({ ...mine, createdAt: new Date(mine.createdAt.getTime() - 60_000) });
  assert.equal((await kernel.poll()).alive, true);
  await launcher().killOrphan(mine);
  await waitForDeath(kernel, 5_000);
  await assert.rejects(stat(path.join(runtimeDir, `kernel-${kernel.kernelId}.json`)), /ENOENT/, 'its connection file goes with it');
});
