// Usage procedures: the admin's report, its CSV, and the live-kernels table with stop; the analyst's own use.
import { z } from "zod";
import { findKernel } from "@/db/queries/kernels";
import { auditKernelStop } from "@/server/culler/service";
import { notFound } from "@/server/errors";
import { liveKernelsForAdmin, myUsage, usageCsv, usageReport } from "@/server/usage/service";
import { adminProcedure, protectedProcedure, router } from "../init";

const filters = z
  .object({
    from: z.coerce.date(),
    to: z.coerce.date(),
    teamId: z.string().uuid().optional(),
    userId: z.string().uuid().optional(),
    engine: z.string().max(64).optional(),
  })
  .refine((f) => f.from < f.to, { message: "from must be before to" })
  .refine((f) => f.to.getTime() - f.from.getTime() <= 400 * 86_400_000, { message: "a report covers at most 400 days" });

export const usageRouter = router({
  report: adminProcedure.input(filters).query(({ ctx, input }) => usageReport(ctx.services.db, input)),
  csv: adminProcedure.input(filters).query(async ({ ctx, input }) => ({ filename: `atrium-usage-${input.from.toISOString().slice(0, 10)}-${input.to.toISOString().slice(0, 10)}.csv`, csv: await usageCsv(ctx.services.db, input) })),
  mine: protectedProcedure.query(({ ctx }) => myUsage(ctx.services.db, ctx.user.id)),
  live: adminProcedure.query(({ ctx }) => liveKernelsForAdmin(ctx.services.db)),
  stopKernel: adminProcedure.input(z.object({ id: z.string().uuid() })).mutation(async ({ ctx, input }) => {
    const kernel = await findKernel(ctx.services.db, { id: input.id });
    if (!kernel || kernel.state === "dead") throw notFound(`Kernel ${input.id}`);
    await ctx.services.kernels.stopKernel(input.id, "stopped", `stopped by admin ${ctx.user.email}`);
    await auditKernelStop(ctx.services.db, ctx.actor, kernel);
  }),
});
