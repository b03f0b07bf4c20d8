// Kernel procedures for the notebook page: the culling warnings on the caller's kernels, and "keep running".
import { z } from "zod";
import { cullWarnings, keepAlive } from "@/server/culler/service";
import { protectedProcedure, router } from "../init";

export const kernelsRouter = router({
  cullWarnings: protectedProcedure.query(({ ctx }) => cullWarnings(ctx.services.db, ctx.user.id)),
  keepAlive: protectedProcedure.input(z.object({ id: z.string().uuid() })).mutation(({ ctx, input }) => keepAlive(ctx.services.db, ctx.user.id, input.id)),
});
