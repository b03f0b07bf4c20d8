// Quota policy, pure: effective limits (and where each comes from), the admission decision with a message that
// says what would free room and who can raise the limit, the month a budget covers, and the rule that a
// member's quota stays inside the team's envelope.
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

/**
 * Where a member's limit comes from: their own value, the default, or the team envelope when it is the
 * smaller. It decides who can raise the limit: a lead sets own values and defaults apply inside the
 * envelope, but only an admin can raise an envelope.
 */
export type LimitSource = "own" | "default" | "envelope";

export interface UserLimits {
  limits: EffectiveLimits;
  sources: Record<LimitKey, LimitSource>;
}

/**
 * A member's limits: their own where set, else the default — either capped by the team envelope. Own values
 * are capped too: lowering an envelope leaves members' stored quotas as they were, and this is where they
 * stop counting beyond it (the member's page, admission and the culler's budget rule all read it).
 */
export function userLimitsOf(own: Limits | null, envelope: Limits | null): UserLimits {
  const limits = {} as EffectiveLimits;
  const sources = {} as Record<LimitKey, LimitSource>;
  for (const key of LIMIT_KEYS) {
    const set = own?.[key] ?? null;
    const wanted = set ?? USER_DEFAULT_LIMITS[key];
    const cap = envelope?.[key] ?? null;
    // At equality the envelope binds: the lead cannot raise the value past it either.
    const capped = cap !== null && cap <= wanted;
    limits[key] = capped ? cap : wanted;
    sources[key] = capped ? "envelope" : set !== null ? "own" : "default";
  }
  return { limits, sources };
}

export function effectiveUserLimits(own: Limits | null, envelope: Limits | null): EffectiveLimits {
  return userLimitsOf(own, envelope).limits;
}

/** The limits where a member's own value is above the envelope (and so capped by it); empty when it fits. */
export function keysAboveEnvelope(own: Limits | null, envelope: Limits | null): LimitKey[] {
  if (!own || !envelope) return [];
  return LIMIT_KEYS.filter((key) => {
    const value = own[key];
    const cap = envelope[key];
    return value !== null && cap !== null && value > cap;
  });
}

/** Where a lead's (or admin's) member quota goes beyond the team envelope; empty when it fits. */
export function envelopeViolations(member: Limits, envelope: Limits | null, teamName: string): string[] {
  return keysAboveEnvelope(member, envelope).map(
    (key) => `${LIMIT_LABELS[key]} ${formatLimit(key, member[key]!)} is above team ${teamName}'s envelope of ${formatLimit(key, envelope![key]!)}`,
  );
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
  /** The notebook it runs for (the last one opened with it), if any: what the user knows it by. */
  notebook?: string | null;
  startedAt: Date;
  vcores: number;
  memoryMb: number;
  gpus: number;
}

export interface AdmissionInput {
  size: SizeProfile;
  now: Date;
  user: UserLimits & { use: Use; kernels: LiveKernelBrief[] };
  /** The team the kernel is charged to, with its envelope; null for a user in no team. */
  team: { name: string; limits: Limits; use: Use } | null;
}

/** Who can raise the limit that refused a start. */
export type RaisedBy = "team-lead" | "admin";

/**
 * Whose limit refused a start, for words that name it: the user's own value or the default ("own",
 * "default"), the team's envelope where it caps the member's limit ("envelope"), or the team's envelope for
 * all its members together ("team"). The last two are the team's limit, not the user's: a refusal must say so.
 */
export type RefusingLimit = LimitSource | "team";

export type AdmissionDecision =
  | { admitted: true }
  | {
      admitted: false;
      scope: "user" | "team";
      limit: LimitKey;
      limitValue: number;
      current: number;
      requested: number;
      raisedBy: RaisedBy;
      /** Whose limit it is (see RefusingLimit), and the team's name when it is the team's. */
      source: RefusingLimit;
      teamName: string | null;
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
      const raiser = raiserOf(scope, limit, input);
      // A kernel count below one is not about size: no kernel may start at all, whatever its size.
      if (limit === "maxKernels" && requested > cap) {
        const allowed = `${formatLimit(limit, cap)} ${LIMIT_LABELS[limit]}`;
        const what =
          scope === "team"
            ? `Team ${team?.name} may not start kernels (its envelope allows ${allowed})`
            : sourceOf(scope, limit, input) === "envelope"
              ? `You may not start kernels (team ${team?.name}'s envelope allows ${allowed})`
              : `You may not start kernels (your limit is ${allowed})`;
        return refusal(scope, limit, cap, current, requested, raiser, input, what, `Ask ${raiser.who} to raise it.${raiser.why}`);
      }
      return refusal(scope, limit, cap, current, requested, raiser, input, usingWhat(scope, limit, cap, current, requested, input), freeRoomHint(scope, limit, cap, current, requested, user.kernels, now, raiser, input));
    }
    const budget = limits.monthlyVcoreHours;
    if (budget !== null && use.vcoreHours >= budget - 1e-9) {
      const raiser = raiserOf(scope, "monthlyVcoreHours", input);
      const until = scope === "team" ? "a team lead can ask an admin to raise it." : `${raiser.who} can raise it.${raiser.why}`;
      return refusal(scope, "monthlyVcoreHours", budget, use.vcoreHours, 0, raiser, input, usingWhat(scope, "monthlyVcoreHours", budget, use.vcoreHours, 0, input), `The budget renews on ${isoDate(renews)}; until then ${until}`);
    }
  }
  return { admitted: true };
}

/**
 * Who can raise a limit: an admin for a team's envelope, for a user in no team (no lead sets their quota),
 * and for a member's limit the envelope caps (the lead can't go past it); otherwise the lead of the team.
 */
function raiserOf(scope: "user" | "team", limit: LimitKey, input: AdmissionInput): Raiser {
  if (scope === "team") return { by: "admin", who: "an admin", why: "" };
  if (!input.team) return { by: "admin", who: "an admin", why: " You are in no team, so no team lead sets your quota." };
  if (input.user.sources[limit] === "envelope") return { by: "admin", who: "an admin", why: ` Team ${input.team.name}'s envelope caps this limit, so its lead can't raise it.` };
  return { by: "team-lead", who: `the lead of team ${input.team.name}`, why: "" };
}

/** Whose limit a refusal in this scope names: the team's, or the member's own, default or envelope-capped value. */
function sourceOf(scope: "user" | "team", limit: LimitKey, input: AdmissionInput): RefusingLimit {
  return scope === "team" ? "team" : input.user.sources[limit];
}

/** The limit in words, as the refusal names it: "your limit", "team Risk's envelope, which caps your limit". */
function whoseLimit(scope: "user" | "team", limit: LimitKey, input: AdmissionInput): string {
  const source = sourceOf(scope, limit, input);
  if (source === "team") return "the team's limit";
  if (source === "envelope") return `team ${input.team?.name}'s envelope, which caps your limit`;
  return "your limit";
}

/** Who can raise a limit, in words; `why` (a sentence, or empty) says why it is not the team lead. */
interface Raiser {
  by: RaisedBy;
  who: string;
  why: string;
}

function usingWhat(scope: "user" | "team", limit: LimitKey, limitValue: number, current: number, requested: number, input: AdmissionInput): string {
  const who = scope === "user" ? "You are" : `Team ${input.team?.name} is`;
  const whose = whoseLimit(scope, limit, input);
  return limit === "monthlyVcoreHours"
    ? `${who} at ${formatLimit(limit, current)} of ${formatLimit(limit, limitValue)} this month (${whose})`
    : `${who} using ${formatLimit(limit, current)} of ${formatLimit(limit, limitValue)} ${LIMIT_LABELS[limit]} (${whose}); this kernel (${input.size.name}) needs ${formatLimit(limit, requested)} more`;
}

function refusal(scope: "user" | "team", limit: LimitKey, limitValue: number, current: number, requested: number, raiser: Raiser, input: AdmissionInput, what: string, hint: string): AdmissionDecision {
  const source = sourceOf(scope, limit, input);
  const teamName = source === "team" || source === "envelope" ? (input.team?.name ?? null) : null;
  return { admitted: false, scope, limit, limitValue, current, requested, raisedBy: raiser.by, source, teamName, message: `Quota exceeded: ${what}. ${hint}` };
}

function freeRoomHint(scope: "user" | "team", limit: LimitKey, cap: number, current: number, requested: number, kernels: LiveKernelBrief[], now: Date, raiser: Raiser, input: AdmissionInput): string {
  const teamName = input.team?.name;
  const source = sourceOf(scope, limit, input);
  const under = source === "team" ? "the team's limit" : source === "envelope" ? `team ${teamName}'s envelope` : "your limit";
  if (requested > cap) return `A kernel of this size can never fit under ${under}: choose a smaller size or ask ${raiser.who} to raise it.${raiser.why}`;
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
    const list = pick.map((k) => `kernel ${k.id.slice(0, 8)} (${k.notebook ? `${k.notebook}, ` : ""}${k.kernelspec}, started ${formatStart(k.startedAt, now)})`).join(", ");
    return `To free room, stop ${list}${scope === "team" ? ` — or wait for other members of team ${teamName} to stop theirs` : ""}.`;
  }
  return scope === "team" ? `Room frees up when members of team ${teamName} stop kernels; a team lead can ask an admin to raise the envelope.` : `Stop a kernel or ask ${raiser.who} to raise your quota.${raiser.why}`;
}

export const isoDate = (d: Date) => d.toISOString().slice(0, 10);
/** "10:02" today, "2026-11-03 10:02" otherwise (UTC, like every time the server prints). */
export function formatStart(d: Date, now = new Date()): string {
  const hm = `${d.toISOString().slice(11, 16)} UTC`;
  return isoDate(d) === isoDate(now) ? hm : `${isoDate(d)} ${hm}`;
}
