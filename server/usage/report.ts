// Usage reports, pure: each session clipped to the report's range becomes one row; every total, breakdown,
// daily series and top list is a sum of those rows, so the totals always equal the sum of the sessions, and
// the CSV (one line per row) adds up to the same numbers.

export interface SessionInput {
  kernelId: string;
  userId: string;
  userEmail: string | null;
  teamId: string | null;
  teamName: string | null;
  kernelspec: string;
  engine: string;
  engineId: string | null;
  sizeProfile: string;
  vcores: number;
  memoryMb: number;
  gpus: number;
  startedAt: Date;
  endedAt: Date | null;
  endReason: string | null;
  /** Who or what ended it, in words ("stopped by admin a@x", "idle for 60 min"). */
  endDetail?: string | null;
  busyMs: number;
  busySince: Date | null;
}

export interface UsageRow {
  kernelId: string;
  user: string;
  team: string;
  kernelspec: string;
  engine: string;
  engineId: string;
  size: string;
  vcores: number;
  memoryGb: number;
  gpus: number;
  startedAt: Date;
  endedAt: Date | null;
  endReason: string;
  endDetail: string;
  kernelHours: number;
  vcoreHours: number;
  gbHours: number;
  busyHours: number;
  idleHours: number;
  culled: number;
  failedLaunch: number;
}

export interface Totals {
  sessions: number;
  kernelHours: number;
  vcoreHours: number;
  gbHours: number;
  busyHours: number;
  idleHours: number;
  culls: number;
  failedLaunches: number;
}

const HOUR = 3_600_000;
const zero = (): Totals => ({ sessions: 0, kernelHours: 0, vcoreHours: 0, gbHours: 0, busyHours: 0, idleHours: 0, culls: 0, failedLaunches: 0 });

/** One session's part of [from, to). Busy time is spread evenly over the session when it is clipped. */
export function usageRow(s: SessionInput, from: Date, to: Date, now: Date): UsageRow {
  const end = s.endedAt ?? now;
  const total = Math.max(0, end.getTime() - s.startedAt.getTime());
  const clipped = Math.max(0, Math.min(end.getTime(), to.getTime()) - Math.max(s.startedAt.getTime(), from.getTime()));
  const busyTotal = Math.min(total, s.busyMs + (s.busySince && !s.endedAt ? Math.max(0, now.getTime() - s.busySince.getTime()) : 0));
  const busy = total > 0 ? busyTotal * (clipped / total) : 0;
  const kernelHours = clipped / HOUR;
  const endedInRange = s.endedAt !== null && s.endedAt >= from && s.endedAt < to;
  return {
    kernelId: s.kernelId,
    user: s.userEmail ?? s.userId,
    team: s.teamName ?? "",
    kernelspec: s.kernelspec,
    engine: s.engine,
    engineId: s.engineId ?? "",
    size: s.sizeProfile,
    vcores: s.vcores,
    memoryGb: s.memoryMb / 1024,
    gpus: s.gpus,
    startedAt: s.startedAt,
    endedAt: s.endedAt,
    endReason: s.endReason ?? (s.endedAt ? "" : "running"),
    endDetail: s.endedAt ? (s.endDetail ?? "") : "",
    kernelHours,
    vcoreHours: kernelHours * s.vcores,
    gbHours: kernelHours * (s.memoryMb / 1024),
    busyHours: busy / HOUR,
    idleHours: (clipped - busy) / HOUR,
    culled: endedInRange && s.endReason === "culled" ? 1 : 0,
    failedLaunch: endedInRange && s.endReason === "launch_failed" ? 1 : 0,
  };
}

function add(t: Totals, r: UsageRow) {
  t.sessions++;
  t.kernelHours += r.kernelHours;
  t.vcoreHours += r.vcoreHours;
  t.gbHours += r.gbHours;
  t.busyHours += r.busyHours;
  t.idleHours += r.idleHours;
  t.culls += r.culled;
  t.failedLaunches += r.failedLaunch;
}

function groupBy(rows: UsageRow[], key: (r: UsageRow) => string) {
  const groups = new Map<string, Totals>();
  for (const r of rows) {
    const k = key(r);
    const t = groups.get(k) ?? zero();
    add(t, r);
    groups.set(k, t);
  }
  return [...groups.entries()].map(([name, totals]) => ({ name, ...totals })).sort((a, b) => b.vcoreHours - a.vcoreHours || a.name.localeCompare(b.name));
}

/** vCore-hours per UTC day of the range (for charts); the days add up to the total. */
function daily(sessions: SessionInput[], from: Date, to: Date, now: Date) {
  const days: { day: string; vcoreHours: number; kernelHours: number }[] = [];
  for (let d = Date.UTC(from.getUTCFullYear(), from.getUTCMonth(), from.getUTCDate()); d < to.getTime() && days.length < 400; d += 24 * HOUR) {
    const dayFrom = new Date(Math.max(d, from.getTime()));
    const dayTo = new Date(Math.min(d + 24 * HOUR, to.getTime()));
    let vcoreHours = 0;
    let kernelHours = 0;
    for (const s of sessions) {
      const r = usageRow(s, dayFrom, dayTo, now);
      vcoreHours += r.vcoreHours;
      kernelHours += r.kernelHours;
    }
    days.push({ day: new Date(d).toISOString().slice(0, 10), vcoreHours, kernelHours });
  }
  return days;
}

export function buildReport(sessions: SessionInput[], range: { from: Date; to: Date }, now: Date, topN = 10) {
  const rows = sessions.map((s) => usageRow(s, range.from, range.to, now)).filter((r) => r.kernelHours > 0 || r.culled || r.failedLaunch || r.startedAt >= range.from);
  const totals = zero();
  for (const r of rows) add(totals, r);
  return {
    range,
    totals,
    rows,
    byTeam: groupBy(rows, (r) => r.team || "(no team)"),
    byUser: groupBy(rows, (r) => r.user),
    byEngine: groupBy(rows, (r) => r.engine),
    topConsumers: groupBy(rows, (r) => r.user).slice(0, topN),
    daily: daily(sessions, range.from, range.to, now),
  };
}

export type UsageReport = ReturnType<typeof buildReport>;

export const CSV_COLUMNS = [
  "kernel_id", "user", "team", "kernelspec", "engine", "engine_id", "size", "vcores", "memory_gb", "gpus",
  "started_at", "ended_at", "end_reason", "kernel_hours", "vcore_hours", "gb_hours", "busy_hours", "idle_hours", "culled", "failed_launch",
  // Last: scripts that read the columns by position keep working. Who or what ended the session (QA: every stop
  // read "stopped", whether its owner, an admin, the CLI or a disabled account did it).
  "end_detail",
] as const;

/** RFC 4180 CSV, one line per session (the admin's and the analyst's exports). */
export function toCsv(rows: UsageRow[]): string {
  return csvText(
    CSV_COLUMNS,
    rows.map((r) => [
      r.kernelId, r.user, r.team, r.kernelspec, r.engine, r.engineId, r.size, r.vcores, r.memoryGb, r.gpus,
      r.startedAt.toISOString(), r.endedAt?.toISOString() ?? "", r.endReason,
      r.kernelHours, r.vcoreHours, r.gbHours, r.busyHours, r.idleHours, r.culled, r.failedLaunch, r.endDetail,
    ]),
  );
}

export type CsvCell = string | number | null;

/**
 * RFC 4180 CSV of any table: every usage export writes through here. Numbers keep six decimals; cells a
 * spreadsheet would run as formulas are neutralised.
 */
export function csvText(header: readonly string[], records: readonly (readonly CsvCell[])[]): string {
  const cell = (v: CsvCell) => {
    let text = v === null ? "" : typeof v === "number" ? formatNumber(v) : v;
    if (/^[=+\-@\t\r]/.test(text) && typeof v === "string") text = `'${text}`;
    return /[",\r\n]/.test(text) ? `"${text.replace(/"/g, '""')}"` : text;
  };
  const lines = [header.map(cell).join(",")];
  for (const record of records) lines.push(record.map(cell).join(","));
  return lines.join("\r\n") + "\r\n";
}

const formatNumber = (n: number) => (Number.isInteger(n) ? String(n) : n.toFixed(6));

/** Reads a CSV written by toCsv back (tests, and a check that it round-trips). */
export function parseCsv(text: string): Record<string, string>[] {
  const records: string[][] = [];
  let field = "";
  let record: string[] = [];
  let quoted = false;
  for (let i = 0; i < text.length; i++) {
    const c = text[i]!;
    if (quoted) {
      if (c === '"' && text[i + 1] === '"') (field += '"'), i++;
      else if (c === '"') quoted = false;
      else field += c;
    } else if (c === '"') quoted = true;
    else if (c === ",") record.push(field), (field = "");
    else if (c === "\n" || c === "\r") {
      if (c === "\r" && text[i + 1] === "\n") i++;
      record.push(field);
      records.push(record);
      record = [];
      field = "";
    } else field += c;
  }
  if (field || record.length) records.push([...record, field]);
  const [header, ...body] = records;
  return body.map((r) => Object.fromEntries(header!.map((h, i) => [h, r[i] ?? ""])));
}
