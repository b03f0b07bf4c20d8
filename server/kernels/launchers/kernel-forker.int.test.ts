// Integration: local kernels forked from a warm interpreter (kernel-forker.ts, kernel-launchers/python/kernel_forker.py)
// with a REAL ipykernel. A forked kernel must be the process a spawned one would be: its own session, the request's
// cwd, environment and command line (the orphan sweep reads it), interrupts, the debugger, its exit and its stderr
// heard; kernels that must not be forked are spawned; a forker that dies or goes stale leaves its kernels running.
// Needs ATRIUM_PYTHON (a Python with ipykernel); the test runner sets it. Every wait has a deadline.
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { spawn } from 'node:child_process';
import { mkdir, mkdtemp, readFile, realpath, rm, utimes, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { after, before, test, type TestContext } from 'node:test';
import { loadKernelspecs, type Kernelspec } from '../kernelspecs';
import { connectForTest, quietKernelLog, runCode } from '../testing';
import { KernelForker, forkerFor } from './kernel-forker';
import { kernelHostEnv, LocalKernelProcess, LocalLauncher } from './local';
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

/** What a kernel's process is, from inside: compared between a spawned and a forked kernel. */
const PROCESS_FACTS = [
  'import os, sys, json, signal, statistics, multiprocessing.process as mpp',
  'status = {l.split(":")[0]: l.split(":", 1)[1].strip() for l in open("/proc/self/status") if l.startswith(("SigBlk", "SigIgn"))}',
  'handlers = {s.name: str(signal.getsignal(s)) for s in signal.Signals if s not in (signal.SIGKILL, signal.SIGSTOP)}',
  'kernel_id = os.environ.get("KERNEL_ID", "")',
  'print(json.dumps({"cwd": os.getcwd(), "path": sys.path, "argv": sys.argv, "orig_argv": sys.orig_argv,',
  '  "env": {k: v for k, v in os.environ.items() if k != "KERNEL_ID"}, "handlers": handlers, "status": status,',
  '  "session_leader": os.getsid(0) == os.getpid(), "stdin": os.readlink("/proc/self/fd/0"), "stdout": os.readlink("/proc/self/fd/1").split(":")[0],',
  '  "statistics": statistics.__file__, "which_python": __import__("shutil").which("python") == sys.executable, "mp_dir": mpp.ORIGINAL_DIR, "flags": str(sys.flags), "executable": sys.executable}).replace(kernel_id, "KERNEL"))',
].join('\n');

/** The command line as `ps` shows it: arguments joined by spaces. */
async function commandText(pid: number): Promise<string> {
  return (await commandLine(pid)).join(' ');
}

test('a forked kernel is the process a spawned one would be: session, cwd, env, path, argv, signals, command line', async (t) => {
  // A module in the home folder named like one of the standard library's must not hide it (in neither kernel).
  await writeFile(path.join(home, 'statistics.py'), 'raise ImportError("the home folder shadowed the standard library")\n');
  await writeFile(path.join(home, 'helper_mod.py'), 'VALUE = 42\n');
  const spawner = new LocalLauncher({ python, runtimeDir, hostEnv, logger: quietKernelLog, shutdownGraceMs: 0, forkKernels: false });
  const spawned = await start(t, spawner);
  const local = await warmLauncher();
  const kernel = await start(t, local);
  assert.equal(await isForked(kernel), true, 'forked by the forker, not spawned');
  assert.equal(await isForked(spawned), false);
  const info = await readProcStat(kernel.pid);
  assert.ok(info && info !== 'gone');
  assert.equal(info.processGroup, kernel.pid, 'leads its own process group (signals reach what it starts)');
  // As `ps` shows it, and as the orphan sweep finds it: the command line a spawned kernel has.
  const connectionFile = `${runtimeDir}/kernel-${kernel.kernelId}.json`;
  assert.equal(await commandText(kernel.pid), `${python} -m ipykernel_launcher -f ${connectionFile}`);
  assert.equal(await commandText(spawned.pid), `${python} -m ipykernel_launcher -f ${runtimeDir}/kernel-${spawned.kernelId}.json`);
  assert.ok((await local.listOwnEngines()).some((engine) => engine.kernelId === kernel.kernelId && engine.engineId === `pid ${kernel.pid}`));

  const factsOf = async (process: LocalKernelProcess) => {
    const connection = await connectForTest(t, process, 10_000);
    const run = await runCode(connection, PROCESS_FACTS, 10_000);
    assert.equal(run.reply.content.status, 'ok', run.all);
    assert.equal((await runCode(connection, 'import helper_mod; print(helper_mod.VALUE)', 10_000)).out.trim(), '42', 'the home folder is importable');
    return JSON.parse(run.out);
  };
  const [forkedFacts, spawnedFacts] = [await factsOf(kernel), await factsOf(spawned)];
  assert.deepEqual(forkedFacts, spawnedFacts);
  // And what both must be:
  assert.equal(forkedFacts.cwd, home);
  assert.equal(forkedFacts.env.KERNEL_USERNAME, 'ana');
  assert.equal(forkedFacts.env.ATRIUM_SECRET, undefined, 'the portal\'s secrets stay out');
  assert.equal(forkedFacts.session_leader, true);
  assert.equal(forkedFacts.stdin, '/dev/null');
  assert.doesNotMatch(forkedFacts.statistics, /home of ana/);
  // As in an activated venv: `!pip install` installs where `import` looks, and `!python` is the kernel's Python.
  assert.equal(forkedFacts.env.PATH.split(':')[0], path.dirname(python));
  assert.equal(forkedFacts.which_python, true);
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
  const before = forkerFor(python, kernelHostEnv(hostEnv, python), quietKernelLog);
  assert.equal(await before.ready, true);
  const sitePackages = await sitePackagesOf(t);
  const now = new Date();
  await utimes(sitePackages, now, new Date(now.getTime() + 1_000)); // what pip install does to the folder
  const during = await start(t, local);
  assert.equal(await isForked(during), false, 'spawned while the new forker starts');
  // Stopped: it ends at the end of its input, which under load may take longer than the spawned start did.
  await until('the stale forker ended', async () => !before.alive, 5_000);
  assert.equal(await local.warmUp(), true);
  assert.equal(await isForked(await start(t, local)), true);
});

/** The interpreter's site-packages folder, as the kernel sees it. */
async function sitePackagesOf(t: TestContext): Promise<string> {
  const kernel = await start(t, launcher());
  const connection = await connectForTest(t, kernel, 10_000);
  return (await runCode(connection, 'import site; print(site.getsitepackages()[0])', 10_000)).out.trim();
}

test('a forker asked to stop answers the fork it was asked for first: that kernel is the start\'s, not an orphan', async () => {
  const forker = new KernelForker(python, { PATH: hostEnv.PATH, HOME: hostEnv.HOME }, quietKernelLog);
  assert.equal(await forker.ready, true);
  await mkdir(runtimeDir, { recursive: true });
  const connectionFile = path.join(runtimeDir, `kernel-close-${randomUUID()}.json`);
  await writeFile(connectionFile, JSON.stringify({ ip: '127.0.0.1', transport: 'tcp', shell_port: 0, iopub_port: 0, stdin_port: 0, control_port: 0, hb_port: 0, key: 'k', signature_scheme: 'hmac-sha256', kernel_name: 'python3' }));
  const forked = forker.fork(['-f', connectionFile], { PATH: hostEnv.PATH, HOME: hostEnv.HOME }, home);
  forker.close(); // as a stale forker is closed by another start while this one waits
  const kernel = await forked;
  try {
    assert.ok(kernel.pid > 0);
    assert.notEqual(await readProcStat(kernel.pid), 'gone', 'the kernel runs');
    await assert.rejects(forker.fork(['-f', connectionFile], {}, home), /closing|gone/, 'no new fork once asked to stop');
    await until('the forker gone', () => !forker.alive);
  } finally {
    process.kill(-kernel.pid, 'SIGKILL');
  }
});

test('a kernel killed by a real-time signal is reported as such, and the forker serves on', async (t) => {
  const local = await warmLauncher();
  const kernel = await start(t, local);
  const forkerPid = await parentOf(kernel.pid);
  process.kill(kernel.pid, 40); // SIGRTMIN+6 on Linux: Python's Signals has no name for it
  await until('the kernel seen dead', async () => !(await kernel.poll()).alive, 5_000);
  const status = await kernel.poll();
  assert.ok(!status.alive);
  assert.match(status.reason, /killed by SIGRTMIN\+\d+/);
  const next = await start(t, local);
  assert.equal(await parentOf(next.pid), forkerPid, 'the same forker forked the next kernel');
});

test('a forker that ends while a fork is asked: whatever names the kernel\'s connection file goes, and the kernel is spawned', async (t) => {
  const local = await warmLauncher();
  const forkerPid = await parentOf((await start(t, local)).pid);
  const kernelId = `fork-${randomUUID()}`;
  // A process naming this kernel's connection file, as a kernel forked just before its forker ended would.
  const stray = spawn(python, ['-c', 'import time; time.sleep(60)', `${runtimeDir}/kernel-${kernelId}.json`], { detached: true, stdio: 'ignore' });
  t.after(() => {
    try {
      process.kill(-stray.pid!, 'SIGKILL');
    } catch {
      // gone, as it should be
    }
  });
  await until('the stray process named', async () => (await commandText(stray.pid!).catch(() => '')).includes(kernelId));
  process.kill(forkerPid, 'SIGSTOP');
  const launching = local.launch({ kernelId, kernelspec: python3, username: 'ana', cwd: home });
  await new Promise((resolve) => setTimeout(resolve, 300)); // the fork is asked of the stopped forker
  process.kill(forkerPid, 'SIGKILL');
  const kernel = await launching;
  t.after(async () => {
    await kernel.kill();
    await kernel.cleanup();
  });
  await kernel.confirmStartup(30_000);
  assert.equal(await parentOf(kernel.pid), process.pid, 'spawned');
  await until('the stray process killed', async () => (await readProcStat(stray.pid!).then((s) => s === 'gone' || (s !== null && s.state === 'Z'))));
  const connection = await connectForTest(t, kernel, 10_000);
  assert.equal((await runCode(connection, 'print(6 * 7)', 10_000)).out.trim(), '42');
});
