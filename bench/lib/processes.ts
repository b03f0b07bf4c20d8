// Child processes for the bench: every server or kernel it starts gets its own process group, is
// registered here, and is stopped by group (SIGTERM, then SIGKILL after a deadline). A final sweep kills,
// by pid, any process whose command line names the run's private directory (kernels a gateway started in
// a session of their own). Nothing is matched by program name.
import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';

export interface Managed {
  label: string;
  child: ChildProcess;
  logFile: string;
  exited: Promise<void>;
  exitCode: () => number | null | string;
}

const running = new Set<Managed>();

export function startProcess(
  label: string,
  cmd: string,
  args: string[],
  options: { env: Record<string, string | undefined>; logFile: string; cwd?: string },
): Managed {
  const log = fs.openSync(options.logFile, 'a');
  const child = spawn(cmd, args, {
    env: options.env as NodeJS.ProcessEnv, // Next's types make NODE_ENV required; child envs need not have it
    cwd: options.cwd,
    detached: true, // its own process group: stopped with kill(-pid)
    stdio: ['ignore', log, log],
  });
  fs.closeSync(log);
  let code: number | null | string = null;
  const exited = new Promise<void>((resolve) => {
    child.once('exit', (c, signal) => {
      code = c ?? signal;
      resolve();
    });
    child.once('error', (error) => {
      code = `spawn error: ${error.message}`;
      resolve();
    });
  });
  const managed: Managed = { label, child, logFile: options.logFile, exited, exitCode: () => code };
  running.add(managed);
  void exited.then(() => running.delete(managed));
  return managed;
}

function killGroup(pid: number, signal: NodeJS.Signals): void {
  try {
    process.kill(-pid, signal);
  } catch {
    // group already gone
  }
}

export function hasExited(p: Managed): boolean {
  return p.child.exitCode !== null || p.child.signalCode !== null;
}

/** SIGTERM to the group, SIGKILL after `graceMs`; resolves once the leader has exited (bounded). */
export async function stopProcess(p: Managed, graceMs = 10_000): Promise<void> {
  const pid = p.child.pid;
  if (pid === undefined) return;
  if (!hasExited(p)) {
    killGroup(pid, 'SIGTERM');
    if (!(await within(p.exited, graceMs))) {
      killGroup(pid, 'SIGKILL');
      await within(p.exited, 5_000);
    }
  }
  killGroup(pid, 'SIGKILL'); // leftovers in the group (e.g. a kernel the server did not stop)
  running.delete(p);
}

export async function stopAll(): Promise<void> {
  await Promise.all([...running].map((p) => stopProcess(p, 5_000)));
}

/** Kills, by pid, processes whose command line contains `marker` (the run directory). Returns what it killed. */
export function sweepByMarker(marker: string): string[] {
  const killed: string[] = [];
  let entries: string[] = [];
  try {
    entries = fs.readdirSync('/proc');
  } catch {
    return killed;
  }
  for (const entry of entries) {
    if (!/^\d+$/.test(entry) || Number(entry) === process.pid) continue;
    let cmdline = '';
    try {
      cmdline = fs.readFileSync(`/proc/${entry}/cmdline`, 'utf8').replaceAll('\0', ' ');
    } catch {
      continue;
    }
    if (!cmdline.includes(marker)) continue;
    try {
      process.kill(Number(entry), 'SIGKILL');
      killed.push(`${entry}: ${cmdline.slice(0, 160)}`);
    } catch {
      // gone meanwhile
    }
  }
  return killed;
}

export function within(promise: Promise<unknown>, ms: number): Promise<boolean> {
  return new Promise((resolve) => {
    const timer = setTimeout(() => resolve(false), ms);
    promise.then(
      () => {
        clearTimeout(timer);
        resolve(true);
      },
      () => {
        clearTimeout(timer);
        resolve(false);
      },
    );
  });
}

export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** A free TCP port on 127.0.0.1 (the OS picks it; tiny race until the server binds it). */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      server.close(() => (typeof address === 'object' && address ? resolve(address.port) : reject(new Error('no port'))));
    });
  });
}

export function tailOf(file: string, lines = 30): string {
  try {
    return fs.readFileSync(file, 'utf8').split('\n').slice(-lines).join('\n');
  } catch {
    return '(no log)';
  }
}
