// Quota policy, pure: effective limits, the admission decision with a message that says what would free
// room, the month a budget covers, and the rule that a member's quota stays inside the team's envelope.
// The mechanism (locking rows, counting kernels, inserting) is in service.ts; this file does no I/O.
import { formatMemory, type SizeProfile } from "./sizes";

export const LIMIT_KEYS = ["maxKernels", "maxVcores", "maxMemoryMb", "maxGpus", "monthlyVcoreHours"] as const;
export type LimitKey = (typeof LIMIT_KEYS)[number];
/** A set of limits; null means "not set" (user: the default; team: no envelope beyond the admin's). */
export type Limits = Record<LimitKey, number | null>;
/** Limits after defaults: null only where there is truly no limit. */
export type EffectiveLimits = Limits;

/** What a user without an explicit quota gets. */
export const USER_DEFAULT_LIMITS: Readonly<Record<LimitKey, number>> = {
  maxKernels: 3,
  maxVcores: 8,
  maxMemoryMb: 32 * 1024,
  maxGpus: 0,
  monthlyVcoreHours: 200,
};

export const LIMIT_LABELS: Record<LimitKey, string> = {
  maxKernels: "concurrent kernels",
  maxVcores: "vCores",
  maxMemoryMb: "memory",
  maxGpus: "GPUs",
  monthlyVcoreHours: "monthly vCore-hours",
};

export interface Use {
  kernels: number;
  vcores: number;
  memoryMb: number;
  gpus: number;
  /** vCore-hours used this month, including the running part of live kernels. */
  vcoreHours: number;
}

export const NO_USE: Use = { kernels: 0, vcores: 0, memoryMb: 0, gpus: 0, vcoreHours: 0 };

const minOf = (a: number | null, b: number | null) => (a === null ? b : b === null ? a : Math.min(a, b));

/** A member's limits: their own where set, else the default capped by the team envelope (so defaults fit). */
export function effectiveUserLimits(own: Limits | null, envelope: Limits | null): EffectiveLimits {
  const out = {} as EffectiveLimits;
  for (const key of LIMIT_KEYS) {
    const set = own?.[key] ?? null;
    out[key] = set !== null ? set : minOf(USER_DEFAULT_LIMITS[key], envelope?.[key] ?? null);
  }
  return out;
}

/** Where a lead's (or admin's) member quota goes beyond the team envelope; empty when it fits. */
export function envelopeViolations(member: Limits, envelope: Limits | null, teamName: string): string[] {
  if (!envelope) return [];
  const problems: string[] = [];
  for (const key of LIMIT_KEYS) {
    const value = member[key];
    const cap = envelope[key];
    if (value !== null && cap !== null && value > cap) {
      problems.push(`${LIMIT_LABELS[key]} ${formatLimit(key, value)} is above team ${teamName}'s envelope of ${formatLimit(key, cap)}`);
    }
  }
  return problems;
}

export function formatLimit(key: LimitKey, value: number): string {
  if (key === "maxMemoryMb") return formatMemory(value);
  if (key === "monthlyVcoreHours") return `${round1(value)} vCore-hours`;
  return String(round1(value));
}

const round1 = (n: number) => Math.round(n * 10) / 10;

/** The calendar month (UTC) a budget covers, and when it renews. */
export function budgetMonth(now: Date): { start: Date; renews: Date } {
  const start = new Date(Date.UTC(now.getUTCFullYear(), now.getUTCMonth(), 1));
  const renews = new Date(Date.UTC(now.getUTCFullYear(), now.getUTCMonth() + 1, 1));
  return { start, renews };
}

export interface LiveKernelBrief {
  id: string;
  kernelspec: string;
  startedAt: Date;
  vcores: number;
  memoryMb: number;
  gpus: number;
}

export interface AdmissionInput {
  size: SizeProfile;
  now: Date;
  user: { limits: EffectiveLimits; use: Use; kernels: LiveKernelBrief[] };
  team: { name: string; limits: Limits; use: Use } | null;
}

export type AdmissionDecision =
  | { admitted: true }
  | {
      admitted: false;
      scope: "user" | "team";
      limit: LimitKey;
      limitValue: number;
      current: number;
      requested: number;
      message: string;
    };

/** Would starting a kernel of this size stay within every limit? The first limit it breaks is named. */
export function decideAdmission(input: AdmissionInput): AdmissionDecision {
  const { size, now, user, team } = input;
  const renews = budgetMonth(now).renews;
  const scopes = [{ scope: "user" as const, limits: user.limits, use: user.use }, ...(team ? [{ scope: "team" as const, limits: team.limits, use: team.use }] : [])];
  for (const { scope, limits, use } of scopes) {
    const checks: [LimitKey, number, number][] = [
      ["maxKernels", use.kernels, 1],
      ["maxVcores", use.vcores, size.vcores],
      ["maxMemoryMb", use.memoryMb, size.memoryMb],
      ["maxGpus", use.gpus, size.gpus],
    ];
    for (const [limit, current, requested] of checks) {
      const cap = limits[limit];
      if (cap === null || requested === 0 || current + requested <= cap + 1e-9) continue;
      return refusal(scope, limit, cap, current, requested, input, freeRoomHint(scope, limit, cap, current, requested, user.kernels, now, team?.name));
    }
    const budget = limits.monthlyVcoreHours;
    if (budget !== null && use.vcoreHours >= budget - 1e-9) {
      return refusal(scope, "monthlyVcoreHours", budget, use.vcoreHours, 0, input, `The budget renews on ${isoDate(renews)}${scope === "team" ? "; until then a team lead can ask an admin to raise it" : "; until then your team lead can raise it"}.`);
    }
  }
  return { admitted: true };
}

function refusal(scope: "user" | "team", limit: LimitKey, limitValue: number, current: number, requested: number, input: AdmissionInput, hint: string): AdmissionDecision {
  const who = scope === "user" ? "You are" : `Team ${input.team?.name} is`;
  const whose = scope === "user" ? "your limit" : "the team's limit";
  const what =
    limit === "monthlyVcoreHours"
      ? `${who} at ${formatLimit(limit, current)} of ${formatLimit(limit, limitValue)} this month (${whose})`
      : `${who} using ${formatLimit(limit, current)} of ${formatLimit(limit, limitValue)} ${LIMIT_LABELS[limit]} (${whose}); this kernel (${input.size.name}) needs ${formatLimit(limit, requested)} more`;
  return { admitted: false, scope, limit, limitValue, current, requested, message: `Quota exceeded: ${what}. ${hint}` };
}

function freeRoomHint(scope: "user" | "team", limit: LimitKey, cap: number, current: number, requested: number, kernels: LiveKernelBrief[], now: Date, teamName?: string): string {
  if (requested > cap) return `A kernel of this size can never fit under ${scope === "user" ? "your" : "the team's"} limit: choose a smaller size or ask ${scope === "user" ? "your team lead" : "an admin"} to raise it.`;
  const need = current + requested - cap;
  const amount = (k: LiveKernelBrief) => (limit === "maxKernels" ? 1 : limit === "maxVcores" ? k.vcores : limit === "maxMemoryMb" ? k.memoryMb : k.gpus);
  // Oldest first: the kernels most likely forgotten.
  const candidates = [...kernels].filter((k) => amount(k) > 0).sort((a, b) => a.startedAt.getTime() - b.startedAt.getTime());
  const pick: LiveKernelBrief[] = [];
  let freed = 0;
  for (const k of candidates) {
    if (freed >= need - 1e-9) break;
    pick.push(k);
    freed += amount(k);
  }
  if (pick.length && freed >= need - 1e-9) {
    const list = pick.map((k) => `kernel ${k.id.slice(0, 8)} (${k.kernelspec}, started ${formatStart(k.startedAt, now)})`).join(", ");
    return `To free room, stop ${list}${scope === "team" ? ` — or wait for other members of team ${teamName} to stop theirs` : ""}.`;
  }
  return scope === "team" ? `Room frees up when members of team ${teamName} stop kernels; a team lead can ask an admin to raise the envelope.` : "Stop a kernel or ask your team lead to raise your quota.";
}

export const isoDate = (d: Date) => d.toISOString().slice(0, 10);
/** "10:02" today, "2026-11-03 10:02" otherwise (UTC, like every time the server prints). */
export function formatStart(d: Date, now = new Date()): string {
  const hm = `${d.toISOString().slice(11, 16)} UTC`;
  return isoDate(d) === isoDate(now) ? hm : `${isoDate(d)} ${hm}`;
}
