// Kernel procedures for the notebook page: start with launch phases, status, the culling warnings on the
// caller's kernels, and "keep running".
import { z } from "zod";
import { cullWarnings, keepAlive } from "@/server/culler/service";
import { protectedProcedure, router } from "../init";

const kernelId = z.string().uuid();

export const kernelsRouter = router({
  /** Begins a launch and answers at once with the id; `status` then shows the launch phases. */
  start: protectedProcedure
    .input(z.object({ name: z.string().max(200).optional(), size: z.string().max(100).optional(), replaces: kernelId.optional() }))
    .mutation(async ({ ctx, input }) => {
      const { id } = await ctx.services.kernels.begin(ctx.user, input);
      return { id };
    }),
  status: protectedProcedure.input(z.object({ id: kernelId })).query(({ ctx, input }) => ctx.services.kernels.status(ctx.user, input.id)),
  cullWarnings: protectedProcedure.query(({ ctx }) => cullWarnings(ctx.services.db, ctx.user.id)),
  keepAlive: protectedProcedure.input(z.object({ id: z.string().uuid() })).mutation(({ ctx, input }) => keepAlive(ctx.services.db, ctx.user.id, input.id)),
});
