// Integration: local kernels forked from a warm interpreter (kernel-forker.ts, kernel-launchers/python/kernel_forker.py)
// with a REAL ipykernel. A forked kernel must be the process a spawned one would be: its own session, the request's
// cwd, environment and command line (the orphan sweep reads it), interrupts, the debugger, its exit and its stderr
// heard; kernels that must not be forked are spawned; a forker that dies or goes stale leaves its kernels running.
// Needs ATRIUM_PYTHON (a Python with ipykernel); the test runner sets it. Every wait has a deadline.
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { mkdtemp, readFile, realpath, rm, utimes, mkdir } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { after, before, test, type TestContext } from 'node:test';
import { loadKernelspecs, type Kernelspec } from '../kernelspecs';
import { connectForTest, quietKernelLog, runCode } from '../testing';
import { forkerFor } from './kernel-forker';
import { LocalKernelProcess, LocalLauncher } from './local';
import { readProcStat } from './proc';

const python = process.env.ATRIUM_PYTHON;
if (!python) throw new Error('ATRIUM_PYTHON is not set: point it at a Python with ipykernel (npm test sets it).');

let root: string;
let runtimeDir: string;
let home: string;
let python3: Kernelspec;
const hostEnv = { PATH: process.env.PATH ?? '/usr/bin:/bin', HOME: os.homedir(), ATRIUM_SECRET: 'must-not-leak' } as unknown as NodeJS.ProcessEnv & { PATH: string; HOME: string };

before(async () => {
  root = await realpath(await mkdtemp(path.join(os.tmpdir(), 'atrium-forker-')));
  runtimeDir = path.join(root, 'runtime');
  home = path.join(root, 'home of ana');
  await mkdir(home);
  python3 = (await loadKernelspecs()).get('python3')!;
});
after(() => rm(root, { recursive: true, force: true }));

function launcher(): LocalLauncher {
  return new LocalLauncher({ python, runtimeDir, hostEnv, logger: quietKernelLog, shutdownGraceMs: 0 });
}

/** A launcher whose forker serves (started and warm), so its next plain ipykernel is forked. */
async function warmLauncher(): Promise<LocalLauncher> {
  const local = launcher();
  assert.equal(await local.warmUp(), true, 'the kernel forker serves');
  return local;
}

async function start(t: TestContext, local: LocalLauncher, kernelspec: Kernelspec = python3): Promise<LocalKernelProcess> {
  const kernel = await local.launch({ kernelId: `fork-${randomUUID()}`, kernelspec, username: 'ana', env: { KERNEL_LANG_HINT: 'python' }, cwd: home });
  t.after(async () => {
    await kernel.kill();
    await kernel.cleanup();
  });
  await kernel.confirmStartup(30_000);
  return kernel;
}

/** The command line of a process, as `ps` and the orphan sweep read it. */
async function commandLine(pid: number): Promise<string[]> {
  return (await readFile(`/proc/${pid}/cmdline`, 'utf8')).split('\0').filter(Boolean);
}

async function parentOf(pid: number): Promise<number> {
  const text = await readFile(`/proc/${pid}/stat`, 'utf8');
  return Number(text.slice(text.lastIndexOf(')') + 2).split(' ')[1]);
}

async function isForked(kernel: LocalKernelProcess): Promise<boolean> {
  const parent = await parentOf(kernel.pid);
  return (await commandLine(parent)).some((arg) => arg.endsWith('kernel_forker.py'));
}

async function until(what: string, check: () => Promise<boolean> | boolean, deadlineMs = 10_000): Promise<void> {
  const end = Date.now() + deadlineMs;
  while (!(await check())) {
    if (Date.now() > end) throw new Error(`timed out after ${deadlineMs} ms waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

test('a forked kernel is the process a spawned one would be: session, cwd, env, argv, path, command line', async (t) => {
  const local = await warmLauncher();
  const kernel = await start(t, local);
  assert.equal(await isForked(kernel), true, 'forked by the forker, not spawned');
  const info = await readProcStat(kernel.pid);
  assert.ok(info && info !== 'gone');
  assert.equal(info.processGroup, kernel.pid, 'leads its own process group (signals reach what it starts)');
  const argv = await commandLine(kernel.pid);
  assert.deepEqual(argv.slice(1, 4), ['-m', 'ipykernel_launcher', '-f'], `command line: ${argv.join(' ')}`);
  assert.match(argv[4]!, new RegExp(`^${runtimeDir}/kernel-${kernel.kernelId}\\.json$`));
  // The orphan sweep finds it by that command line, as it finds a spawned kernel.
  assert.ok((await local.listOwnEngines()).some((engine) => engine.kernelId === kernel.kernelId && engine.engineId === `pid ${kernel.pid}`));

  const connection = await connectForTest(t, kernel, 10_000);
  const facts = await runCode(
    connection,
    [
      'import os, sys, json, signal',
      'print(json.dumps({"cwd": os.getcwd(), "path0": sys.path[0], "argv0": os.path.basename(sys.argv[0]),',
      '  "user": os.environ.get("KERNEL_USERNAME"), "hint": os.environ.get("KERNEL_LANG_HINT"), "secret": os.environ.get("ATRIUM_SECRET"),',
      '  "sid": os.getsid(0) == os.getpid(), "chld": signal.getsignal(signal.SIGCHLD) == signal.SIG_DFL,',
      '  "stdin": os.readlink("/proc/self/fd/0")}))',
    ].join('\n'),
    10_000,
  );
  const seen = JSON.parse(facts.out);
  assert.deepEqual(
    seen,
    { cwd: home, path0: home, argv0: 'ipykernel_launcher.py', user: 'ana', hint: 'python', secret: null, sid: true, chld: true, stdin: '/dev/null' },
    facts.all,
  );
  // A module in the home folder is importable, as in a spawned kernel (the working directory is on the path).
  await runCode(connection, `open(${JSON.stringify(path.join(home, 'helper_mod.py'))}, "w").write("VALUE = 42\\n")`, 10_000);
  assert.equal((await runCode(connection, 'import helper_mod; print(helper_mod.VALUE)', 10_000)).out.trim(), '42');
});

test('a forked kernel is interrupted by SIGINT, answers the debugger, and its exit code is heard', async (t) => {
  const local = await warmLauncher();
  const kernel = await start(t, local);
  assert.equal(await isForked(kernel), true);
  const connection = await connectForTest(t, kernel, 10_000);

  const sleeping = runCode(connection, 'import time; time.sleep(60)', 20_000);
  await new Promise((resolve) => setTimeout(resolve, 500));
  await kernel.signal('SIGINT');
  const interrupted = await sleeping;
  assert.equal(interrupted.reply.content.status, 'error');
  assert.equal(interrupted.reply.content.ename, 'KeyboardInterrupt');

  const debug = await connection.request('control', 'debug_request', { type: 'request', seq: 1, command: 'initialize', arguments: { clientID: 'test', adapterID: 'python', pathFormat: 'path', linesStartAt1: true, columnsStartAt1: true } }, 10_000);
  assert.equal(debug.content.success, true, JSON.stringify(debug.content).slice(0, 300));

  void runCode(connection, 'import os; os._exit(3)', 10_000).catch(() => {});
  const status = await new Promise<Awaited<ReturnType<LocalKernelProcess['waitForExit']>>>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error('no exit within 10 s')), 10_000);
    void kernel.waitForExit(new AbortController().signal).then((s) => {
      clearTimeout(timer);
      resolve(s);
    });
  });
  assert.match(status.reason, /exited with code 3/);
  assert.deepEqual(await kernel.poll(), status);
});

test('a forked kernel that fails to start says why, with what it wrote to stderr', async () => {
  const local = await warmLauncher();
  const broken = { ...python3, spec: { ...python3.spec, argv: [...python3.spec.argv, '--IPKernelApp.kernel_class=no_such_module.Kernel'] } };
  const kernel = await local.launch({ kernelId: `fork-${randomUUID()}`, kernelspec: broken, username: 'ana', cwd: home }).catch((error: Error) => error);
  // ipykernel may fail before it binds (the launch says so) or after (the start confirmation does).
  const failure = kernel instanceof Error ? kernel : await kernel.confirmStartup(30_000).then(() => undefined, (error: Error) => error);
  assert.ok(failure, 'the start fails');
  assert.match(failure.message, /exited with code 1/);
  assert.match(failure.message, /no_such_module/);
  if (!(kernel instanceof Error)) await kernel.cleanup();
});

test('SIGKILL of a forked kernel is reported as such', async (t) => {
  const kernel = await start(t, await warmLauncher());
  assert.equal(await isForked(kernel), true);
  process.kill(kernel.pid, 'SIGKILL');
  await until('the kernel seen dead', async () => !(await kernel.poll()).alive, 5_000);
  const status = await kernel.poll();
  assert.ok(!status.alive);
  assert.match(status.reason, /killed by SIGKILL/);
});

test('kernels that must not be forked are spawned: another module, or an env that changes how Python starts', async (t) => {
  const local = await warmLauncher();
  const withPythonPath = { ...python3, spec: { ...python3.spec, env: { PYTHONPATH: home } } };
  const spawned = await start(t, local, withPythonPath);
  assert.equal(await isForked(spawned), false, 'PYTHONPATH set by the kernelspec: spawned');
  assert.equal(await parentOf(spawned.pid), process.pid);
  const forked = await start(t, local);
  assert.equal(await isForked(forked), true, 'the plain one beside it is forked');
  const off = new LocalLauncher({ python, runtimeDir, hostEnv, logger: quietKernelLog, shutdownGraceMs: 0, forkKernels: false });
  assert.equal(await isForked(await start(t, off)), false, 'forkKernels: false spawns');
});

test('a forker that dies leaves its kernels running, and their end is still seen', async (t) => {
  const local = await warmLauncher();
  const kernel = await start(t, local);
  const forkerPid = await parentOf(kernel.pid);
  assert.ok((await commandLine(forkerPid)).some((arg) => arg.endsWith('kernel_forker.py')));
  process.kill(forkerPid, 'SIGKILL');
  await until('the forker gone', async () => (await readProcStat(forkerPid).catch(() => 'gone')) === 'gone' || (await parentOf(kernel.pid)) !== forkerPid);
  assert.deepEqual(await kernel.poll(), { alive: true }, 'the kernel lives on');
  const connection = await connectForTest(t, kernel, 10_000);
  assert.equal((await runCode(connection, 'print(6 * 7)', 10_000)).out.trim(), '42');
  // The next start needs a forker again: one is started, and the start itself is spawned meanwhile.
  const next = await start(t, local);
  assert.equal(await isForked(next), false);
  assert.equal(await local.warmUp(), true);
  assert.equal(await isForked(await start(t, local)), true);

  process.kill(kernel.pid, 'SIGKILL');
  await until('the orphaned kernel seen dead', async () => !(await kernel.poll()).alive, 5_000);
  const status = await kernel.poll();
  assert.ok(!status.alive);
  assert.match(status.reason, /has ended/);
});

test('packages installed into the interpreter replace its forker: the next kernels see them', async (t) => {
  const local = await warmLauncher();
  const before = forkerFor(python, { PATH: hostEnv.PATH, HOME: hostEnv.HOME }, quietKernelLog);
  assert.equal(await before.ready, true);
  const sitePackages = await sitePackagesOf(t);
  const now = new Date();
  await utimes(sitePackages, now, new Date(now.getTime() + 1_000)); // what pip install does to the folder
  const during = await start(t, local);
  assert.equal(await isForked(during), false, 'spawned while the new forker starts');
  assert.equal(before.alive, false, 'the stale forker was stopped');
  assert.equal(await local.warmUp(), true);
  assert.equal(await isForked(await start(t, local)), true);
});

/** The interpreter's site-packages folder, as the kernel sees it. */
async function sitePackagesOf(t: TestContext): Promise<string> {
  const kernel = await start(t, launcher());
  const connection = await connectForTest(t, kernel, 10_000);
  return (await runCode(connection, 'import site; print(site.getsitepackages()[0])', 10_000)).out.trim();
}
