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
  /** Hours; null: the admin's default; NO_LIFETIME_LIMIT: none, whatever the default (where the admin sets no maximum). */
  maxLifetimeHours: number | null;
  warningMinutes: number | null;
}

/**
 * A team's explicit "no lifetime limit", as stored and sent: 0 hours, which as a limit would mean nothing. Without
 * it, a lead could not undo an admin's default lifetime for the team even where the admin allows any.
 */
export const NO_LIFETIME_LIMIT = 0;

/** The policy in force: the team's choices with defaults filled in and clamped into the bounds. */
export function effectiveCullPolicy(stored: StoredCullPolicy | null, bounds: CullBounds): CullPolicy {
  const clamp = (v: number, r: { min: number; max: number }) => Math.min(r.max, Math.max(r.min, v));
  const own = stored?.maxLifetimeHours ?? null;
  const lifetime = own === NO_LIFETIME_LIMIT ? null : (own ?? bounds.maxLifetimeHours.default);
  const cap = bounds.maxLifetimeHours.max;
  const idleTimeoutMinutes = clamp(stored?.idleTimeoutMinutes ?? bounds.idleTimeoutMinutes.default, bounds.idleTimeoutMinutes);
  const warningMinutes = clamp(stored?.warningMinutes ?? bounds.warningMinutes.default, bounds.warningMinutes);
  return {
    idleTimeoutMinutes,
    // A warning longer than the idle timeout would warn a kernel used moments ago and stretch the timeout to the
    // warning time. policyViolations refuses such a policy; one stored before that (or defaults and bounds that
    // collide) warns for the whole timeout instead (as long as it: warned as soon as the kernel goes quiet).
    warningMinutes: Math.min(warningMinutes, idleTimeoutMinutes),
    cullBusy: bounds.allowCullBusy ? (stored?.cullBusy ?? false) : false,
    cullConnected: stored?.cullConnected ?? bounds.cullConnectedDefault,
    maxLifetimeHours: cap === null ? lifetime : lifetime === null ? cap : Math.min(lifetime, cap),
  };
}

/** Why a lead's policy cannot be saved (outside the admin's bounds, or warning for longer than the timeout); empty when it fits. */
export function policyViolations(p: StoredCullPolicy, bounds: CullBounds): string[] {
  const out: string[] = [];
  const range = (name: string, v: number | null, r: { min: number; max: number }, unit: string) => {
    if (v !== null && (v < r.min || v > r.max)) out.push(`${name} must be between ${r.min} and ${r.max} ${unit} (the admin's bounds), not ${v}`);
  };
  range("the idle timeout", p.idleTimeoutMinutes, bounds.idleTimeoutMinutes, "minutes");
  range("the warning time", p.warningMinutes, bounds.warningMinutes, "minutes");
  const cap = bounds.maxLifetimeHours.max;
  if (p.maxLifetimeHours === NO_LIFETIME_LIMIT && cap !== null) {
    out.push(`kernels cannot run without a lifetime limit: the admin's bound is at most ${cap} hours`);
  } else if (p.maxLifetimeHours !== null && cap !== null && p.maxLifetimeHours > cap) {
    out.push(`the maximum lifetime must be at most ${cap} hours (the admin's bound), not ${p.maxLifetimeHours}`);
  }
  if (p.cullBusy && !bounds.allowCullBusy) out.push("the admin does not allow culling busy kernels");
  const idle = p.idleTimeoutMinutes ?? bounds.idleTimeoutMinutes.default;
  const warning = p.warningMinutes ?? bounds.warningMinutes.default;
  if (warning > idle) {
    const named = (v: number, stored: number | null) => `${v} min${stored === null ? ", the default" : ""}`;
    out.push(
      `the warning time (${named(warning, p.warningMinutes)}) must not be longer than the idle timeout (${named(idle, p.idleTimeoutMinutes)}), ` +
        "or kernels used moments ago would be warned and kept for the warning time: set a longer idle timeout or a shorter warning time",
    );
  }
  return out;
}

/** Why the admin's bounds cannot be saved: teams left at the defaults must get a valid policy. */
export function boundsViolations(bounds: CullBounds): string[] {
  const out: string[] = [];
  const idle = bounds.idleTimeoutMinutes.default;
  const warning = bounds.warningMinutes.default;
  if (warning > idle) out.push(`the default warning time (${warning} min) must not be longer than the default idle timeout (${idle} min): raise the one or lower the other`);
  const lifetime = bounds.maxLifetimeHours;
  if (lifetime.max !== null && lifetime.default !== null && lifetime.default > lifetime.max) {
    out.push(`the default maximum lifetime (${lifetime.default} h) must not be longer than the most a team may choose (${lifetime.max} h)`);
  }
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

/** A kernel's idle and lifetime warnings (its budget and admin warnings are decided apart). */
export interface CullWarnings {
  idle: WarningFacts | null;
  lifetime: WarningFacts | null;
}

/** One thing to do about one of a kernel's warnings. */
export type CullStep =
  | { action: "clear"; kind: "idle" | "lifetime" }
  | { action: "warn"; kind: "idle" | "lifetime"; deadline: Date; message: string }
  | { action: "cull"; kind: "idle" | "lifetime"; reason: string };

const MIN = 60_000;

/**
 * Idle and lifetime culling for one kernel: what to do about each of its two warnings, [] for nothing; a cull
 * comes alone. A user always gets the full warning time: when a sweep finds a kernel already past its deadline
 * without a warning, it warns first and culls at the next sweep after `now + warning`. Activity after a warning
 * clears an idle warning (the next sweep may warn again). Both are decided from the policy in force now, so a
 * lead's change reaches warnings already shown.
 */
export function decideCull(k: KernelFacts, policy: CullPolicy, warnings: CullWarnings, now: Date): CullStep[] {
  if (k.state === "dead" || k.state === "starting" || k.state === "restarting") return [];
  const lifetime = decideLifetime(k, policy, warnings.lifetime, now);
  if (lifetime?.action === "cull") return [lifetime];
  // A lifetime warning still standing ends the kernel within the warning time, no later than a new idle warning
  // could: none is added. An idle warning shown before it is still carried out (it may come first).
  const lifetimeStands = lifetime ? lifetime.action === "warn" : warnings.lifetime !== null;
  const idle = decideIdle(k, policy, warnings.idle, lifetimeStands, now);
  if (idle?.action === "cull") return [idle];
  const steps: CullStep[] = [];
  if (lifetime) steps.push(lifetime);
  if (idle) steps.push(idle);
  return steps;
}

/**
 * The lifetime rule, from the maximum lifetime in force now. Without a limit, or with the end moved beyond the
 * warning time, a warning shown is cleared (a new one comes before the new end). A warning shown keeps its
 * deadline unless the end moved: later when the lifetime was raised; earlier when lowered, but never to less
 * than the warning time from now, as for a new warning.
 */
function decideLifetime(k: KernelFacts, policy: CullPolicy, warning: WarningFacts | null, now: Date): CullStep | null {
  if (policy.maxLifetimeHours === null) return warning ? { action: "clear", kind: "lifetime" } : null;
  const lead = policy.warningMinutes * MIN;
  const t = now.getTime();
  const end = k.startedAt.getTime() + policy.maxLifetimeHours * 60 * MIN;
  if (t < end - lead) return warning ? { action: "clear", kind: "lifetime" } : null;
  const latest = Math.max(end, t + lead);
  const shown = warning?.deadline?.getTime();
  const deadline = shown === undefined ? latest : Math.min(Math.max(shown, end), latest);
  if (deadline === shown) {
    return t >= deadline ? { action: "cull", kind: "lifetime", reason: `reached the team's maximum lifetime of ${policy.maxLifetimeHours} h` } : null;
  }
  const at = new Date(deadline);
  return { action: "warn", kind: "lifetime", deadline: at, message: `This kernel reaches the team's maximum lifetime (${policy.maxLifetimeHours} h) and will be stopped at ${at.toISOString()}. Save your work.` };
}

function decideIdle(k: KernelFacts, policy: CullPolicy, warning: WarningFacts | null, lifetimeStands: boolean, now: Date): CullStep | null {
  const lead = policy.warningMinutes * MIN;
  const t = now.getTime();
  const exempt = (k.state === "busy" && !policy.cullBusy) || ((k.connections ?? 0) > 0 && !policy.cullConnected);
  const due = k.lastActivityAt.getTime() + policy.idleTimeoutMinutes * MIN;
  const warn = (deadline: Date): CullStep => ({ action: "warn", kind: "idle", deadline, message: `This kernel has been idle and will be stopped at ${deadline.toISOString()} unless it is used or kept running.` });
  if (warning) {
    if (exempt || k.lastActivityAt.getTime() > warning.warnedAt.getTime()) return { action: "clear", kind: "idle" };
    // The timeout in force now: raised beyond the warning time, the warning goes; otherwise the deadline follows
    // it, never less than the warning time after the user was warned.
    if (t < due - lead) return { action: "clear", kind: "idle" };
    const deadline = Math.max(due, warning.warnedAt.getTime() + lead);
    if (deadline !== warning.deadline?.getTime()) return warn(new Date(deadline));
    return t >= deadline ? { action: "cull", kind: "idle", reason: `idle for more than ${policy.idleTimeoutMinutes} min (last activity ${k.lastActivityAt.toISOString()})` } : null;
  }
  if (exempt || lifetimeStands) return null;
  if (t < due - lead) return null;
  return warn(new Date(Math.max(due, t + lead)));
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
  | { action: "warn"; deadline: Date | null; warnedAt: Date; message: string }
  | { action: "cull"; reason: string };

/**
 * At 100% of the monthly budget: warn, and under a "stop" policy stop running kernels after the grace time. The
 * team's current action and grace apply to warnings already shown: "keep" calls off a pending stop; under "stop"
 * the deadline is the grace time after the user was told of a stop (from now, when the team changed from keep),
 * later when the grace was lengthened, earlier when shortened but never less than the new grace from now.
 */
export function decideBudget(b: BudgetFacts, warning: WarningFacts | null, now: Date): BudgetDecision {
  const over = b.budget !== null && b.used >= b.budget - 1e-9;
  const shown = warning?.kind === "budget" ? warning : null;
  if (!over) return shown ? { action: "clear" } : { action: "none" };
  const renews = b.renews.toISOString().slice(0, 10);
  if (b.action === "keep") {
    if (shown && shown.deadline === null) return { action: "none" };
    return { action: "warn", deadline: null, warnedAt: now, message: `Your monthly budget of ${b.budget} vCore-hours is used up: running kernels keep running, new ones are refused until ${renews}.` };
  }
  const t = now.getTime();
  const grace = b.graceMinutes * MIN;
  const before = shown?.deadline?.getTime();
  let deadline = t + grace; // a new warning, or one given under "keep": the full grace from now
  if (before !== undefined) {
    const byPolicy = shown!.warnedAt.getTime() + grace;
    deadline = byPolicy >= before ? byPolicy : Math.min(before, t + grace);
    if (deadline === before) {
      return t >= deadline ? { action: "cull", reason: `the monthly budget of ${b.budget} vCore-hours is used up (team policy: stop after ${b.graceMinutes} min)` } : { action: "none" };
    }
  }
  // Stored as when the user was told of this stop, so the deadline stays warnedAt + grace while the policy holds.
  const warnedAt = new Date(deadline - grace);
  const at = new Date(deadline);
  return { action: "warn", deadline: at, warnedAt, message: `Your monthly budget of ${b.budget} vCore-hours is used up: this kernel will be stopped at ${at.toISOString()} (team policy). The budget renews on ${renews}.` };
}
