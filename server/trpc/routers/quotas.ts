// Quota procedures. Analysts: their own limits, use and what is left, and the sizes they can start. Team
// leads: their teams' members, quotas and use; member quotas inside the envelope; the culling policy inside
// the admin's bounds. Admins: team envelopes and the culling bounds. Each parses input and calls one function.
import { z } from "zod";
import { CullBoundsSchema, loadCullBounds, setCullBounds } from "@/server/culler/bounds";
import { setTeamCullPolicy, teamCullPolicy } from "@/server/culler/service";
import { quotaStatus, setMemberQuota, setTeamEnvelope, teamEnvelopes, teamQuotaOverview } from "@/server/quota/service";
import { adminProcedure, protectedProcedure, router, teamLeadProcedure } from "../init";

const id = z.string().uuid();
const limit = (max: number) => z.number().min(0).max(max).nullable();
/** null: "not set" (a member gets the default; a team has no envelope for that limit). */
const limits = z.object({
  maxKernels: limit(10_000).refine((v) => v === null || Number.isInteger(v), "a whole number"),
  maxVcores: limit(1_000_000),
  maxMemoryMb: limit(1024 * 1024 * 1024).refine((v) => v === null || Number.isInteger(v), "a whole number of MB"),
  maxGpus: limit(10_000).refine((v) => v === null || Number.isInteger(v), "a whole number"),
  monthlyVcoreHours: limit(100_000_000),
});
const cullPolicy = z.object({
  idleTimeoutMinutes: z.number().int().min(1).nullable(),
  cullBusy: z.boolean().nullable(),
  cullConnected: z.boolean().nullable(),
  maxLifetimeHours: z.number().int().min(1).nullable(),
  warningMinutes: z.number().int().min(1).nullable(),
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
    .input(z.object({ teamId: id, limits, overBudgetAction: z.enum(["keep", "stop"]).optional(), overBudgetGraceMinutes: z.number().int().min(0).max(7 * 24 * 60).optional() }))
    .mutation(({ ctx, input }) => setTeamEnvelope(ctx.services.db, ctx.actor, input)),
  cullBounds: adminProcedure.query(({ ctx }) => loadCullBounds(ctx.services.db)),
  setCullBounds: adminProcedure.input(CullBoundsSchema).mutation(({ ctx, input }) => setCullBounds(ctx.services.db, ctx.actor, input)),
});
