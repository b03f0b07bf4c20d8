// Durable outputs for the notebook page: the latest recorded run of each cell, and which kernel the notebook
// is bound to (so reopening it reconnects). Merged into the `notebooks` router.
import { z } from "zod";
import { bindNotebookKernel, latestRunsOfNotebook, liveKernelOfNotebook } from "@/db/queries/notebooks";
import { normalizePath } from "@/server/storage/paths";
import { protectedProcedure } from "../init";

const notebookPath = z.string().max(4096).transform((p) => normalizePath(p));

export const notebookRunProcedures = {
  runs: protectedProcedure.input(z.object({ path: notebookPath })).query(async ({ ctx, input }) => {
    const rows = await latestRunsOfNotebook(ctx.services.db, { ownerId: ctx.user.id, path: input.path });
    const stored = rows
      .filter((r) => r.cellId !== null)
      .map((r) => ({
        cellId: r.cellId!,
        msgId: r.msgId,
        kernelId: r.kernelId,
        status: r.status,
        code: r.code,
        executionCount: r.executionCount,
        outputs: r.outputs,
        clipped: r.clipped,
        spilledBytes: r.spilledBytes,
        startedAt: r.startedAt,
        finishedAt: r.finishedAt,
      }));
    // What this process holds of them now goes over what the database has (a flush interval behind, or not yet
    // written): with the ids of its latest outputs, a page attached to the kernel skips what it would get twice.
    const live = ctx.services.kernels.liveRunsOfNotebook(ctx.user.id, input.path);
    const liveIds = new Set(live.map((r) => r.msgId));
    return [...stored.filter((r) => !liveIds.has(r.msgId)), ...live];
  }),
  kernelFor: protectedProcedure.input(z.object({ path: notebookPath })).query(async ({ ctx, input }) => ({
    kernelId: await liveKernelOfNotebook(ctx.services.db, { ownerId: ctx.user.id, path: input.path }),
  })),
  bindKernel: protectedProcedure
    .input(z.object({ path: notebookPath, kernelId: z.string().uuid() }))
    .mutation(async ({ ctx, input }) => {
      // Only the user's own kernel can be bound: get() answers NOT_FOUND for anyone else's.
      await ctx.services.kernels.get(ctx.user, input.kernelId);
      await bindNotebookKernel(ctx.services.db, { ownerId: ctx.user.id, path: input.path, kernelId: input.kernelId });
    }),
};
