// Quota procedures. Analysts: their own limits, use and what is left, and the sizes they can start. Team
// leads: their teams' members, quotas and use; member quotas inside the envelope; the culling policy inside
// the admin's bounds. Admins: team envelopes and the culling bounds. Each parses input and calls one function.
import { z } from "zod";
import { CullBoundsSchema, loadCullBounds, setCullBounds } from "@/server/culler/bounds";
import { NO_LIFETIME_LIMIT } from "@/server/culler/policy";
import { setTeamCullPolicy, teamCullPolicy } from "@/server/culler/service";
import { CULL_RULES, GRACE_RULE, LIMIT_RULES, numberProblem, type NumberRule } from "@/server/quota/input-rules";
import type { LimitKey } from "@/server/quota/policy";
import { quotaStatus, setMemberQuota, setTeamEnvelope, teamEnvelopes, teamQuotaOverview } from "@/server/quota/service";
import { adminProcedure, protectedProcedure, router, teamLeadProcedure } from "../init";

const id = z.string().uuid();
/**
 * A number the rule allows, else a BAD_REQUEST that names the field the way the forms do ("Concurrent kernels
 * must be zero or more, not -2"): the same rules the forms check (server/quota/input-rules.ts).
 */
const ruled = (rule: NumberRule) =>
  z.number({ error: `${rule.label} must be a number` }).superRefine((v, ctx) => {
    const problem = numberProblem(rule, v);
    if (problem) ctx.addIssue({ code: "custom", message: problem });
  });
/** null: "not set" (a member gets the default; a team has no envelope for that limit). */
const limit = (key: LimitKey) => ruled(LIMIT_RULES[key]).nullable();
const limits = z.object({
  maxKernels: limit("maxKernels"),
  maxVcores: limit("maxVcores"),
  maxMemoryMb: limit("maxMemoryMb"),
  maxGpus: limit("maxGpus"),
  monthlyVcoreHours: limit("monthlyVcoreHours"),
});
const cullPolicy = z.object({
  idleTimeoutMinutes: ruled(CULL_RULES.idleTimeoutMinutes).nullable(),
  cullBusy: z.boolean().nullable(),
  cullConnected: z.boolean().nullable(),
  // null: the admin's default; 0 (NO_LIFETIME_LIMIT): no limit, where the admin sets no maximum.
  maxLifetimeHours: z.union([z.literal(NO_LIFETIME_LIMIT), ruled(CULL_RULES.maxLifetimeHours)]).nullable(),
  warningMinutes: ruled(CULL_RULES.warningMinutes).nullable(),
});
/** The bounds' own schema (what is stored), with the same maximums as a team's policy: none was absurdly large. */
const cullBounds = CullBoundsSchema.superRefine((b, ctx) => {
  const check = (rule: NumberRule, label: string, value: number | null, path: (string | number)[]) => {
    const problem = value === null ? null : numberProblem(rule, value, label);
    if (problem) ctx.addIssue({ code: "custom", message: problem, path });
  };
  for (const part of ["min", "max", "default"] as const) {
    check(CULL_RULES.idleTimeoutMinutes, `Idle timeout (${part})`, b.idleTimeoutMinutes[part], ["idleTimeoutMinutes", part]);
    check(CULL_RULES.warningMinutes, `Warning time (${part})`, b.warningMinutes[part], ["warningMinutes", part]);
  }
  for (const part of ["max", "default"] as const) check(CULL_RULES.maxLifetimeHours, `Maximum lifetime (${part})`, b.maxLifetimeHours[part], ["maxLifetimeHours", part]);
});

export const quotasRouter = router({
  /** The caller's limits, use this month, and what is left. */
  mine: protectedProcedure.query(({ ctx }) => quotaStatus(ctx.services.db, ctx.user.id)),
  /** The size profiles of every kernelspec its launcher can run, with the default, for the start dialog. */
  sizes: protectedProcedure.query(({ ctx }) =>
    [...ctx.services.kernels.kernelspecs.values()].map((spec) => ({ kernelspec: spec.name, displayName: spec.spec.display_name, ...ctx.services.kernels.offeredSizes(spec) })),
  ),
  team: teamLeadProcedure.input(z.object({ teamId: id })).query(({ ctx, input }) => teamQuotaOverview(ctx.services.db, ctx, input.teamId)),
  setMember: teamLeadProcedure
    .input(z.object({ teamId: id, userId: id, limits }))
    .mutation(({ ctx, input }) => setMemberQuota(ctx.services.db, ctx.actor, ctx, input)),
  cullPolicy: teamLeadProcedure.input(z.object({ teamId: id })).query(({ ctx, input }) => teamCullPolicy(ctx.services.db, ctx, input.teamId)),
  setCullPolicy: teamLeadProcedure
    .input(z.object({ teamId: id, policy: cullPolicy }))
    .mutation(({ ctx, input }) => setTeamCullPolicy(ctx.services.db, ctx.actor, ctx, input.teamId, input.policy)),
  teams: adminProcedure.query(({ ctx }) => teamEnvelopes(ctx.services.db)),
  setTeam: adminProcedure
    .input(z.object({ teamId: id, limits, overBudgetAction: z.enum(["keep", "stop"]).optional(), overBudgetGraceMinutes: ruled(GRACE_RULE).optional() }))
    .mutation(({ ctx, input }) => setTeamEnvelope(ctx.services.db, ctx.actor, input)),
  cullBounds: adminProcedure.query(({ ctx }) => loadCullBounds(ctx.services.db)),
  setCullBounds: adminProcedure.input(cullBounds).mutation(({ ctx, input }) => setCullBounds(ctx.services.db, ctx.actor, input)),
});
