// The signed-in user's home folder: each procedure is one call to their HomeStore (rename and delete through
// server/files/moves.ts, which also moves a notebook's kernel and runs). The user comes from the session
// (ctx.user), never from input; paths go through homePath() (absolute paths refused) and then the
// store's own rules ('..', links out of the home). Bytes move over the upload/download routes in
// server/files/routes.ts, not through tRPC.
import { z } from "zod";
import { liveKernelsOfNotebooksUnder } from "@/db/queries/notebooks";
import { log } from "@/server/log";
import { homePath } from "@/server/files/home-path";
import { deleteFromHome, renameInHome } from "@/server/files/moves";
import { createUntitledNotebook } from "@/server/files/notebooks";
import { toFileEntry } from "@/server/files/file-entry";
import { previewFile } from "@/server/files/preview";
import { EDITABLE_TEXT_BYTES, saveTextFile } from "@/server/files/text-files";
import { protectedProcedure, router } from "../init";

export type { FileEntry } from "@/server/files/file-entry";
export type { FilePreview } from "@/server/files/preview";

// Length is bounded here so hostile input is refused before any work; paths.ts enforces the real limits.
const pathText = z.string().max(16_384);

const homeProcedure = protectedProcedure.use(async ({ ctx, next }) => {
  const home = await ctx.services.homes.forUser(ctx.user);
  // `owner` is for rename and delete, which also move or drop what the database keeps by path.
  return next({ ctx: { ...ctx, home, owner: { db: ctx.services.db, home, ownerId: ctx.user.id } } });
});

export const filesRouter = router({
  list: homeProcedure.input(z.object({ path: pathText })).query(async ({ ctx, input }) => {
    const path = homePath(input.path);
    return { path, entries: (await ctx.home.list(path)).map(toFileEntry) };
  }),

  stat: homeProcedure.input(z.object({ path: pathText })).query(async ({ ctx, input }) => toFileEntry(await ctx.home.stat(homePath(input.path)))),

  mkdir: homeProcedure.input(z.object({ path: pathText })).mutation(async ({ ctx, input }) => toFileEntry(await ctx.home.mkdir(homePath(input.path)))),

  rename: homeProcedure
    .input(z.object({ from: pathText, to: pathText }))
    .mutation(async ({ ctx, input }) => toFileEntry(await renameInHome(ctx.owner, homePath(input.from), homePath(input.to)))),

  /** The running kernels of the notebooks at or inside a path: the delete dialog says they will be stopped. */
  kernelsUnder: homeProcedure.input(z.object({ path: pathText })).query(({ ctx, input }) => liveKernelsOfNotebooksUnder(ctx.services.db, { ownerId: ctx.user.id, path: homePath(input.path) })),

  /**
   * Deletes a file or folder; the kernels of the notebooks deleted are stopped with them (left running, they held
   * quota for notebooks that no longer exist, QA). Returns how many were stopped.
   */
  delete: homeProcedure
    .input(z.object({ path: pathText, recursive: z.boolean().default(false) }))
    .mutation(async ({ ctx, input }) => {
      const path = homePath(input.path);
      const orphans = await liveKernelsOfNotebooksUnder(ctx.services.db, { ownerId: ctx.user.id, path });
      await deleteFromHome(ctx.owner, path, { recursive: input.recursive });
      let stopped = 0;
      for (const { path: notebook, kernelId } of orphans) {
        // The files are gone already: a kernel that will not stop is logged, not reported as a failed delete.
        try {
          await ctx.services.kernels.stopKernel(kernelId, "stopped", `stopped because its notebook ${notebook} was deleted`);
          stopped++;
        } catch (error) {
          log.error(`files: ${notebook} was deleted, but its kernel ${kernelId} could not be stopped`, error);
        }
      }
      return { stoppedKernels: stopped };
    }),

  /** What the file viewer (/view/<path>) shows of a file: server/files/preview.ts. */
  preview: homeProcedure.input(z.object({ path: pathText })).query(({ ctx, input }) => previewFile(ctx.home, homePath(input.path))),

  /** A text file edited in the viewer, saved over the version it opened (server/files/text-files.ts). */
  saveText: homeProcedure
    // Characters bounded here; bytes are checked where the refusal can say so.
    .input(z.object({ path: pathText, text: z.string().max(4 * EDITABLE_TEXT_BYTES), expectedMtime: z.date(), force: z.boolean().optional() }))
    .mutation(({ ctx, input }) => saveTextFile(ctx.home, homePath(input.path), input.text, { expectedMtime: input.expectedMtime, force: input.force })),

  newNotebook: homeProcedure.input(z.object({ dir: pathText })).mutation(async ({ ctx, input }) => {
    const created = await createUntitledNotebook(ctx.home, homePath(input.dir), ctx.services.kernels.notebookKernelspec());
    return { path: created.path };
  }),
});
