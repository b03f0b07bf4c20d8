// Where the time goes inside the AM container: timestamps of a few landmark lines in the ApplicationMaster
// container's stdout/stderr (the Spark driver's log4j lines and the kernel launcher's Python logging, which
// Spark's PythonRunner copies into the container's stdout). The NodeManager keeps these logs in its log dir
// (<log dir>/<application id>/<container id>/) after the application ends (log aggregation is off).
// Spark's own lines carry whole seconds (yy/MM/dd HH:mm:ss); the launchers' lines carry milliseconds.
import fs from 'node:fs';
import path from 'node:path';

export interface Landmark {
  key: string;
  /** What the line says, for the report. */
  what: string;
  pattern: RegExp;
}

/** In the order they happen in a launch. The first match of each is kept. */
export const LANDMARKS: Landmark[] = [
  { key: 'amJvmLog', what: 'AM JVM: first log line', pattern: /ApplicationMaster|SignalUtils|SecurityManager/ },
  { key: 'userThread', what: 'AM starts the user application (PythonRunner)', pattern: /Starting the user application in a separate Thread/ },
  { key: 'launcherStart', what: 'kernel launcher (Python) logs its first line', pattern: /\] launching kernel |launch_ipykernel\] / },
  { key: 'sparkContextStart', what: 'SparkContext creation begins', pattern: /Running Spark version/ },
  { key: 'connectionSent', what: 'launcher has sent its connection info', pattern: /connection info accepted|Encrypted Payload/ },
  { key: 'amRegistered', what: 'AM registers with the RM (app RUNNING)', pattern: /Registering the ApplicationMaster|registered with ResourceManager|Registering ApplicationMaster/ },
  { key: 'executorRequested', what: 'AM requests executor containers', pattern: /Will request \d+ executor container/ },
  { key: 'executorRegistered', what: 'first executor registered with the driver', pattern: /Registered executor / },
  // Cluster mode: SparkContext's constructor waits for executors (minRegisteredResourcesRatio 0.8, at most
  // maxRegisteredResourcesWaitingTime 30 s) before it returns; this line is that wait's end.
  { key: 'sparkContextReady', what: 'SparkContext ready (postStartHook done)', pattern: /postStartHook done/ },
  { key: 'firstTaskSet', what: 'first Spark tasks submitted', pattern: /Adding task set / },
];

/** Epoch ms of a log line's timestamp, read as this host's local time (container and bench share the clock). */
export function lineTime(line: string): number | undefined {
  const iso = /(\d{4})-(\d{2})-(\d{2})[ T](\d{2}):(\d{2}):(\d{2})[,.](\d{3})(Z)?/.exec(line);
  if (iso) {
    const [, y, mo, d, h, mi, s, ms, z] = iso;
    const parts = [Number(y), Number(mo) - 1, Number(d), Number(h), Number(mi), Number(s), Number(ms)] as const;
    return z ? Date.UTC(...parts) : new Date(...parts).getTime();
  }
  const spark = /^(\d{2})\/(\d{2})\/(\d{2}) (\d{2}):(\d{2}):(\d{2})\b/.exec(line);
  if (spark) {
    const [, y, mo, d, h, mi, s] = spark;
    return new Date(2000 + Number(y), Number(mo) - 1, Number(d), Number(h), Number(mi), Number(s)).getTime();
  }
  return undefined;
}

export interface ContainerTimeline {
  dir?: string;
  /** epoch ms of each landmark found */
  at: Record<string, number>;
  /** the matched lines (trimmed), for checking the parser against the logs */
  lines: Record<string, string>;
  note?: string;
}

/** Reads the AM container (…_000001) of `appId` under the NodeManager's log dirs (comma-separated). */
export function amContainerTimeline(nodeManagerLogDirs: string, appId: string): ContainerTimeline {
  const out: ContainerTimeline = { at: {}, lines: {} };
  for (const base of nodeManagerLogDirs.split(',').map((d) => d.trim().replace(/^file:\/\//, '')).filter(Boolean)) {
    const appDir = path.join(base, appId);
    let containers: string[] = [];
    try {
      containers = fs.readdirSync(appDir);
    } catch {
      continue;
    }
    const am = containers.filter((c) => /_0*1$/.test(c)).sort()[0];
    if (!am) continue;
    out.dir = path.join(appDir, am);
    const lines: string[] = [];
    for (const file of ['stderr', 'stdout']) {
      try {
        lines.push(...fs.readFileSync(path.join(out.dir, file), 'utf8').split('\n'));
      } catch {
        // not written (yet)
      }
    }
    // Both files interleave in time; order by timestamp, carrying the last known time to untimed lines.
    const timed = lines.map((line) => ({ line, t: lineTime(line) })).filter((l) => l.t !== undefined) as { line: string; t: number }[];
    timed.sort((a, b) => a.t - b.t);
    for (const { key, pattern } of LANDMARKS) {
      const hit = timed.find((l) => pattern.test(l.line));
      if (hit) {
        out.at[key] = hit.t;
        out.lines[key] = hit.line.trim().slice(0, 200);
      }
    }
    return out;
  }
  out.note = `no AM container log for ${appId} under ${nodeManagerLogDirs}`;
  return out;
}
