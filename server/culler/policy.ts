// Culling policy, pure: a team's policy inside the admin's bounds, and for one kernel at one instant whether
// to do nothing, warn (with the deadline the user is shown), clear a warning, or cull. Also the budget rule
// for running kernels. The sweep (sweep.ts) gathers the facts and applies the decisions; no I/O here.

export interface CullPolicy {
  idleTimeoutMinutes: number;
  /** Whether a kernel that is busy (computing silently) may count as idle. Default no. */
  cullBusy: boolean;
  /** Whether a kernel with a client attached may be culled. */
  cullConnected: boolean;
  /** Stop kernels this old whatever they do; null for no limit. */
  maxLifetimeHours: number | null;
  /** How long before culling the user is warned. */
  warningMinutes: number;
}

export interface CullBounds {
  idleTimeoutMinutes: { min: number; max: number; default: number };
  warningMinutes: { min: number; max: number; default: number };
  /** The longest lifetime a team may allow (null: unbounded), and the default. */
  maxLifetimeHours: { max: number | null; default: number | null };
  /** Whether teams may let busy kernels be culled at all. */
  allowCullBusy: boolean;
  cullConnectedDefault: boolean;
}

export const DEFAULT_CULL_BOUNDS: CullBounds = {
  idleTimeoutMinutes: { min: 5, max: 7 * 24 * 60, default: 60 },
  warningMinutes: { min: 1, max: 24 * 60, default: 10 },
  maxLifetimeHours: { max: null, default: null },
  allowCullBusy: true,
  cullConnectedDefault: false,
};

/** A team's stored choices; null fields take the bounds' defaults. */
export interface StoredCullPolicy {
  idleTimeoutMinutes: number | null;
  cullBusy: boolean | null;
  cullConnected: boolean | null;
  maxLifetimeHours: number | null;
  warningMinutes: number | null;
}

/** The policy in force: the team's choices with defaults filled in and clamped into the bounds. */
export function effectiveCullPolicy(stored: StoredCullPolicy | null, bounds: CullBounds): CullPolicy {
  const clamp = (v: number, r: { min: number; max: number }) => Math.min(r.max, Math.max(r.min, v));
  const lifetime = stored?.maxLifetimeHours ?? bounds.maxLifetimeHours.default;
  const cap = bounds.maxLifetimeHours.max;
  return {
    idleTimeoutMinutes: clamp(stored?.idleTimeoutMinutes ?? bounds.idleTimeoutMinutes.default, bounds.idleTimeoutMinutes),
    warningMinutes: clamp(stored?.warningMinutes ?? bounds.warningMinutes.default, bounds.warningMinutes),
    cullBusy: bounds.allowCullBusy ? (stored?.cullBusy ?? false) : false,
    cullConnected: stored?.cullConnected ?? bounds.cullConnectedDefault,
    maxLifetimeHours: cap === null ? lifetime : lifetime === null ? cap : Math.min(lifetime, cap),
  };
}

/** Why a lead's policy falls outside the admin's bounds; empty when it fits. */
export function policyViolations(p: StoredCullPolicy, bounds: CullBounds): string[] {
  const out: string[] = [];
  const range = (name: string, v: number | null, r: { min: number; max: number }, unit: string) => {
    if (v !== null && (v < r.min || v > r.max)) out.push(`${name} must be between ${r.min} and ${r.max} ${unit} (the admin's bounds), not ${v}`);
  };
  range("the idle timeout", p.idleTimeoutMinutes, bounds.idleTimeoutMinutes, "minutes");
  range("the warning time", p.warningMinutes, bounds.warningMinutes, "minutes");
  if (p.maxLifetimeHours !== null && bounds.maxLifetimeHours.max !== null && p.maxLifetimeHours > bounds.maxLifetimeHours.max) {
    out.push(`the maximum lifetime must be at most ${bounds.maxLifetimeHours.max} hours (the admin's bound), not ${p.maxLifetimeHours}`);
  }
  if (p.cullBusy && !bounds.allowCullBusy) out.push("the admin does not allow culling busy kernels");
  return out;
}

export type WarningKind = "idle" | "lifetime" | "budget" | "admin";

export interface KernelFacts {
  state: "starting" | "idle" | "busy" | "restarting" | "dead";
  /** Last message in either direction (and the end of the last busy period). */
  lastActivityAt: Date;
  /** When it started running (or was admitted, if it never did). */
  startedAt: Date;
  /** Clients attached, when the sweeping process knows; null when another replica holds the kernel. */
  connections: number | null;
}

export interface WarningFacts {
  kind: WarningKind;
  warnedAt: Date;
  deadline: Date | null;
}

export type CullDecision =
  | { action: "none" }
  | { action: "clear" }
  | { action: "warn"; kind: "idle" | "lifetime"; deadline: Date; message: string }
  | { action: "cull"; kind: "idle" | "lifetime"; reason: string };

const MIN = 60_000;

/**
 * Idle and lifetime culling for one kernel. A user always gets the full warning time: when a sweep finds a
 * kernel already past its deadline without a warning, it warns first and culls at the next sweep after
 * `now + warning`. Activity after a warning clears an idle warning (the next sweep may warn again).
 */
export function decideCull(k: KernelFacts, policy: CullPolicy, warning: WarningFacts | null, now: Date): CullDecision {
  if (k.state === "dead" || k.state === "starting" || k.state === "restarting") return { action: "none" };
  const lead = policy.warningMinutes * MIN;
  const t = now.getTime();

  if (policy.maxLifetimeHours !== null) {
    const end = k.startedAt.getTime() + policy.maxLifetimeHours * 60 * MIN;
    if (warning?.kind === "lifetime") {
      return warning.deadline && t >= warning.deadline.getTime()
        ? { action: "cull", kind: "lifetime", reason: `reached the team's maximum lifetime of ${policy.maxLifetimeHours} h` }
        : { action: "none" };
    }
    if (t >= end - lead && (!warning || warning.kind === "idle")) {
      const deadline = new Date(Math.max(end, t + lead));
      return { action: "warn", kind: "lifetime", deadline, message: `This kernel reaches the team's maximum lifetime (${policy.maxLifetimeHours} h) and will be stopped at ${deadline.toISOString()}. Save your work.` };
    }
  }

  const exempt = (k.state === "busy" && !policy.cullBusy) || ((k.connections ?? 0) > 0 && !policy.cullConnected);
  if (warning?.kind === "idle") {
    if (exempt || k.lastActivityAt.getTime() > warning.warnedAt.getTime()) return { action: "clear" };
    return warning.deadline && t >= warning.deadline.getTime()
      ? { action: "cull", kind: "idle", reason: `idle for more than ${policy.idleTimeoutMinutes} min (last activity ${k.lastActivityAt.toISOString()})` }
      : { action: "none" };
  }
  if (exempt || warning) return { action: "none" };
  const due = k.lastActivityAt.getTime() + policy.idleTimeoutMinutes * MIN;
  if (t < due - lead) return { action: "none" };
  const deadline = new Date(Math.max(due, t + lead));
  return { action: "warn", kind: "idle", deadline, message: `This kernel has been idle and will be stopped at ${deadline.toISOString()} unless it is used or kept running.` };
}

/** "Keep running": how far an idle kernel's activity may be pushed — now, but never past its lifetime warning. */
export function keepAliveUntil(policy: CullPolicy, startedAt: Date, now: Date): { activityAt: Date; idleDeadline: Date; capped: boolean } {
  const idleDeadline = new Date(now.getTime() + policy.idleTimeoutMinutes * MIN);
  if (policy.maxLifetimeHours === null) return { activityAt: now, idleDeadline, capped: false };
  const end = new Date(startedAt.getTime() + policy.maxLifetimeHours * 60 * MIN);
  return idleDeadline > end ? { activityAt: now, idleDeadline: end, capped: true } : { activityAt: now, idleDeadline, capped: false };
}

export interface BudgetFacts {
  used: number;
  budget: number | null;
  action: "keep" | "stop";
  graceMinutes: number;
  renews: Date;
}

export type BudgetDecision =
  | { action: "none" }
  | { action: "clear" }
  | { action: "warn"; deadline: Date | null; message: string }
  | { action: "cull"; reason: string };

/** At 100% of the monthly budget: warn, and under a "stop" policy stop running kernels after the grace time. */
export function decideBudget(b: BudgetFacts, warning: WarningFacts | null, now: Date): BudgetDecision {
  const over = b.budget !== null && b.used >= b.budget - 1e-9;
  if (!over) return warning?.kind === "budget" ? { action: "clear" } : { action: "none" };
  if (warning?.kind === "budget") {
    return warning.deadline && now >= warning.deadline
      ? { action: "cull", reason: `the monthly budget of ${b.budget} vCore-hours is used up (team policy: stop after ${b.graceMinutes} min)` }
      : { action: "none" };
  }
  const renews = b.renews.toISOString().slice(0, 10);
  if (b.action === "keep") {
    return { action: "warn", deadline: null, message: `Your monthly budget of ${b.budget} vCore-hours is used up: running kernels keep running, new ones are refused until ${renews}.` };
  }
  const deadline = new Date(now.getTime() + b.graceMinutes * MIN);
  return { action: "warn", deadline, message: `Your monthly budget of ${b.budget} vCore-hours is used up: this kernel will be stopped at ${deadline.toISOString()} (team policy). The budget renews on ${renews}.` };
}
