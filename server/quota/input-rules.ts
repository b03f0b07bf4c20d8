// What a number in a quota, envelope or culling form may be: whole or not, the least and the most. One table
// for both sides — the forms show the problem beside the field (app/_components/usage/number-field.ts) and the
// API refuses the same values with the same words (server/trpc/routers/quotas.ts). Pure, no zod: the browser
// imports it. Touch it when a limit's column or meaning changes (db/schema/quotas.ts holds integers where
// `integer` is true).
import type { LimitKey } from "./policy";

export interface NumberRule {
  /** The field's name as the forms label it. */
  label: string;
  integer: boolean;
  min: number;
  max: number;
  /** Said after the number in messages: "at most 10,080 minutes". */
  unit?: string;
  /** Above zero, the least that does not round to nothing where it is stored (memory in GB, stored in whole MB). */
  leastAboveZero?: number;
}

/** Limits as stored (memory in MB). The forms ask for memory in GB: see MEMORY_GB_RULE. */
export const LIMIT_RULES: Record<LimitKey, NumberRule> = {
  maxKernels: { label: "Concurrent kernels", integer: true, min: 0, max: 10_000 },
  maxVcores: { label: "vCores", integer: false, min: 0, max: 1_000_000 },
  maxMemoryMb: { label: "Memory", integer: true, min: 0, max: 1024 * 1024 * 1024, unit: "MB" },
  maxGpus: { label: "GPUs", integer: true, min: 0, max: 10_000 },
  monthlyVcoreHours: { label: "Monthly vCore-hours", integer: false, min: 0, max: 100_000_000 },
};

/** Memory as the forms ask for it: GB, fractions allowed (rounded to whole MB when sent). */
export const MEMORY_GB_RULE: NumberRule = { label: "Memory", integer: false, min: 0, max: 1024 * 1024, unit: "GB", leastAboveZero: 0.001 };

export const GRACE_RULE: NumberRule = { label: "Grace period", integer: true, min: 0, max: 7 * 24 * 60, unit: "minutes" };

const YEAR_MINUTES = 365 * 24 * 60;
/** Culling times: a team's policy and the admin's bounds. A year is far past any sensible idle timeout. */
export const CULL_RULES = {
  idleTimeoutMinutes: { label: "Idle timeout", integer: true, min: 1, max: YEAR_MINUTES, unit: "minutes" },
  warningMinutes: { label: "Warning time", integer: true, min: 1, max: YEAR_MINUTES, unit: "minutes" },
  maxLifetimeHours: { label: "Maximum lifetime", integer: true, min: 1, max: 365 * 24, unit: "hours" },
} as const satisfies Record<string, NumberRule>;

const plain = (n: number) => n.toLocaleString("en-US", { maximumFractionDigits: 6 });

/** Why this value can't be saved for this field, in words that name it; null when it can. */
export function numberProblem(rule: NumberRule, value: number, label = rule.label): string | null {
  const unit = rule.unit ? ` ${rule.unit}` : "";
  // "at least 1 minute", not "1 minutes" (units here are plural words ending in "s", or symbols such as MB).
  const unitOf = (n: number) => (n === 1 && unit.endsWith("s") ? unit.slice(0, -1) : unit);
  if (!Number.isFinite(value)) return `${label} must be a number`;
  if (value < rule.min) return rule.min === 0 ? `${label} must be zero or more, not ${plain(value)}` : `${label} must be at least ${plain(rule.min)}${unitOf(rule.min)}, not ${plain(value)}`;
  // 0.0001 GB is 0 MB once stored: a limit of nothing, which the value did not say (QA).
  if (rule.leastAboveZero !== undefined && value > 0 && value < rule.leastAboveZero) return `${label} must be 0 or at least ${plain(rule.leastAboveZero)}${unit}, not ${plain(value)}`;
  if (rule.integer && !Number.isInteger(value)) return `${label} must be a whole number${unit ? ` of${unit}` : ""}, not ${plain(value)}`;
  if (value > rule.max) return `${label} must be at most ${plain(rule.max)}${unit}`;
  return null;
}
