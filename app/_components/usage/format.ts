// Numbers as the usage pages print them: hours with one or two decimals, memory in GB, limits with "no limit".
// Pure, shared by the analyst's, the team lead's and the admin's pages (and the notebook footer).
export type LimitKey = "maxKernels" | "maxVcores" | "maxMemoryMb" | "maxGpus" | "monthlyVcoreHours";
export type Limits = Record<LimitKey, number | null>;

export const LIMIT_KEYS: LimitKey[] = ["maxKernels", "maxVcores", "maxMemoryMb", "maxGpus", "monthlyVcoreHours"];

export const LIMIT_NAMES: Record<LimitKey, string> = {
  maxKernels: "Concurrent kernels",
  maxVcores: "vCores",
  maxMemoryMb: "Memory",
  maxGpus: "GPUs",
  monthlyVcoreHours: "Monthly vCore-hours",
};

/** Hours: "0", "0.0031", "0.25", "12.4", "1,234". */
export function hours(n: number): string {
  if (n === 0) return "0";
  const abs = Math.abs(n);
  // Small amounts keep two significant digits (a few minutes of a kernel is not "0").
  if (abs < 0.01) return n.toLocaleString("en-US", { maximumSignificantDigits: 2 });
  return n.toLocaleString("en-US", { maximumFractionDigits: hourDigits(abs), minimumFractionDigits: 0 });
}

/** The decimals `hours` shows for an amount of this size (from 0.01 up). */
const hourDigits = (abs: number) => (abs >= 100 ? 0 : abs >= 10 ? 1 : 2);

/**
 * What is left of a budget in hours, rounded down to the digits `hours` shows: 199.6 left is "199", never "200"
 * (QA: the footer promised the whole budget while part of it was used).
 */
export function hoursLeft(n: number): string {
  const abs = Math.abs(n);
  if (abs < 0.01) return hours(n);
  const scale = 10 ** hourDigits(abs);
  return hours(Math.floor(n * scale + 1e-9) / scale);
}

/**
 * An axis tick in hours: charts pick round steps (0.0025, 2.5, 250), and each tick keeps the digits its step needs,
 * where `hours` would round 0.0125 and 0.015 both to "0.01" (QA: uneven, repeated ticks).
 */
export function axisHours(n: number): string {
  return n === 0 ? "0" : n.toLocaleString("en-US", { maximumSignificantDigits: 3 });
}

export const count = (n: number) => n.toLocaleString("en-US");

export function memory(mb: number): string {
  const gb = mb / 1024;
  return `${Number.isInteger(gb) ? gb : gb.toFixed(1)} GB`;
}

/** One limit's value in words: "3", "8 vCores", "32 GB", "200 vCore-hours". */
export function limitValue(key: LimitKey, value: number | null): string {
  if (value === null) return "no limit";
  switch (key) {
    case "maxKernels":
      return `${count(value)} kernel${value === 1 ? "" : "s"}`;
    case "maxVcores":
      return `${hours(value)} vCore${value === 1 ? "" : "s"}`;
    case "maxMemoryMb":
      return memory(value);
    case "maxGpus":
      return `${count(value)} GPU${value === 1 ? "" : "s"}`;
    case "monthlyVcoreHours":
      return `${hours(value)} vCore-hours`;
  }
}

export interface UseLike {
  kernels: number;
  vcores: number;
  memoryMb: number;
  gpus: number;
  vcoreHours: number;
}

export function usedOf(key: LimitKey, use: UseLike): number {
  return key === "maxKernels" ? use.kernels : key === "maxVcores" ? use.vcores : key === "maxMemoryMb" ? use.memoryMb : key === "maxGpus" ? use.gpus : use.vcoreHours;
}

export function sizeLabel(s: { name: string; vcores: number; memoryMb: number; gpus: number }): string {
  return `${s.name} · ${hours(s.vcores)} vCore${s.vcores === 1 ? "" : "s"}, ${memory(s.memoryMb)}${s.gpus ? `, ${s.gpus} GPU` : ""}`;
}

/**
 * Whether a kernel of this size could start now, and if not, the first limit in its way, in a few words ("2 vCores
 * left", "all 3 kernels in use"): the Usage page's "Fits now" column says why, not only "no" (QA).
 */
export function sizeFitsNow(
  size: { vcores: number; memoryMb: number; gpus: number },
  remaining: Pick<Limits, "maxKernels" | "maxVcores" | "maxMemoryMb" | "maxGpus">,
  budgetUsedUp: boolean,
): { fits: true } | { fits: false; why: string } {
  if (budgetUsedUp) return { fits: false, why: "monthly budget used up" };
  if (remaining.maxKernels !== null && remaining.maxKernels < 1) return { fits: false, why: "no kernel left to start" };
  if (remaining.maxVcores !== null && remaining.maxVcores < size.vcores) return { fits: false, why: `${left(remaining.maxVcores, "vCore")} left` };
  if (remaining.maxMemoryMb !== null && remaining.maxMemoryMb < size.memoryMb) return { fits: false, why: `${memory(Math.max(0, remaining.maxMemoryMb))} of memory left` };
  if (size.gpus > 0 && remaining.maxGpus !== null && remaining.maxGpus < size.gpus) return { fits: false, why: `${left(remaining.maxGpus, "GPU")} left` };
  return { fits: true };
}

/** "1 vCore", "2.5 vCores", "0 GPUs": what is left of a limit, never below none. */
const left = (n: number, unit: string) => `${hours(Math.max(0, n))} ${unit}${Math.max(0, n) === 1 ? "" : "s"}`;

export const isoDay = (d: Date) => d.toISOString().slice(0, 10);

/**
 * "12 Mar, 10:02" in the browser's time zone; "28 Nov 2036, 06:08" outside the current year (a token expiring
 * in 2036 must not read as already expired). Every date and time on the portal's pages goes through here.
 */
export function dateTime(d: Date | string | null | undefined, now: Date = new Date()): string {
  if (!d) return "—";
  const date = typeof d === "string" ? new Date(d) : d;
  if (Number.isNaN(date.getTime())) return "—";
  const otherYear = date.getFullYear() !== now.getFullYear();
  return date.toLocaleString([], { day: "numeric", month: "short", ...(otherYear ? { year: "numeric" } : {}), hour: "2-digit", minute: "2-digit" });
}

/** "3 h 12 min", "14 min", "40 s" since a moment. */
export function since(d: Date | string | null | undefined, now = Date.now()): string {
  if (!d) return "—";
  const ms = Math.max(0, now - new Date(d).getTime());
  const min = Math.floor(ms / 60_000);
  if (min < 1) return `${Math.floor(ms / 1000)} s`;
  if (min < 60) return `${min} min`;
  const h = Math.floor(min / 60);
  if (h < 48) return `${h} h ${min % 60} min`;
  return `${Math.floor(h / 24)} d ${h % 24} h`;
}

/** A bare amount for "N of LIMIT": "2", "12.4", "8 GB". */
export const amount = (key: LimitKey, value: number) => (key === "maxMemoryMb" ? memory(value) : hours(value));

/** Time left as a warning says it: minutes while there are several, then to the 5 seconds it ticks by. */
export function countdown(ms: number): string {
  if (ms > 3 * 60_000) return `in ${Math.ceil(ms / 60_000)} min`;
  const seconds = Math.max(0, Math.ceil(ms / 5_000) * 5);
  if (seconds === 0) return "any moment now";
  const minutes = Math.floor(seconds / 60);
  return `in ${minutes ? `${minutes} min ` : ""}${seconds % 60 ? `${seconds % 60} s` : ""}`.trimEnd();
}
