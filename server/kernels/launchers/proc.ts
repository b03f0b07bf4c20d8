// What Linux's /proc says about a process: alive, a zombie, gone, or its pid reused by another (told apart by
// the start time). Where there is no /proc, signal 0 checks existence only.
import { readFile, stat } from 'node:fs/promises';

export interface ProcStat {
  state: string;
  processGroup: number;
  startTime: number;
}

/** Linux's USER_HZ, the unit of /proc's start times: 100 on every architecture Node runs on. */
const CLOCK_TICKS_PER_SECOND = 100;

/** When this host booted (/proc/stat's btime), epoch ms: read once, it does not change while the host runs. */
let bootTimeMs: Promise<number> | undefined;
function readBootTimeMs(): Promise<number> {
  bootTimeMs ??= readFile('/proc/stat', 'utf8').then((text) => {
    const btime = /^btime (\d+)$/m.exec(text)?.[1];
    if (!btime) throw new Error('/proc/stat gives no boot time');
    return Number(btime) * 1000;
  });
  bootTimeMs.catch(() => (bootTimeMs = undefined)); // a failed read is tried again next time
  return bootTimeMs;
}

/** A process's start time from /proc (clock ticks since boot), as epoch ms. */
export async function startedAtMs(startTimeTicks: number): Promise<number> {
  return (await readBootTimeMs()) + (startTimeTicks * 1000) / CLOCK_TICKS_PER_SECOND;
}

/** Linux /proc/<pid>/stat: state (field 3) and start time (field 22). Null where /proc is absent. */
export async function readProcStat(pid: number): Promise<ProcStat | null | 'gone'> {
  let text: string;
  try {
    text = await readFile(`/proc/${pid}/stat`, 'utf8');
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code === 'ENOENT' || code === 'ESRCH') return (await procAvailable()) ? 'gone' : null;
    return null;
  }
  // the command name (field 2) may contain spaces and parentheses: fields resume after the last ')'
  const fields = text.slice(text.lastIndexOf(')') + 2).split(' ');
  return { state: fields[0] ?? '?', processGroup: Number(fields[2]), startTime: Number(fields[19]) };
}

let procChecked: boolean | undefined;
export async function procAvailable(): Promise<boolean> {
  procChecked ??= await stat('/proc/self/stat').then(
    () => true,
    () => false,
  );
  return procChecked;
}

export async function processStartTime(pid: number): Promise<number | null> {
  const info = await readProcStat(pid);
  return info && info !== 'gone' ? info.startTime : null;
}

export type ProcessState = 'running' | 'zombie' | 'gone' | 'reused';

export async function processState(pid: number, startTime: number | null): Promise<ProcessState> {
  const info = await readProcStat(pid);
  if (info === 'gone') return 'gone';
  if (info) {
    if (startTime !== null && info.startTime !== startTime) return 'reused';
    return info.state === 'Z' || info.state === 'X' ? 'zombie' : 'running';
  }
  // no /proc (macOS): signal 0 checks existence only
  try {
    process.kill(pid, 0);
    return 'running';
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM' ? 'running' : 'gone';
  }
}
