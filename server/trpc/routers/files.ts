// The signed-in user's home folder: each procedure is one call to their HomeStore (rename and delete through
// server/files/moves.ts, which also moves a notebook's kernel and runs). The user comes from the session
// (ctx.user), never from input; paths go through homePath() (absolute paths refused) and then the
// store's own rules ('..', links out of the home). Bytes move over the upload/download routes in
// server/files/routes.ts, not through tRPC.
import { z } from "zod";
import { liveKernelsOfNotebooksUnder } from "@/db/queries/notebooks";
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

  /** Deletes a file or folder, and stops the kernels of the notebooks it deletes (server/files/moves.ts). */
  delete: homeProcedure
    .input(z.object({ path: pathText, recursive: z.boolean().default(false) }))
    .mutation(({ ctx, input }) =>
      deleteFromHome(ctx.owner, homePath(input.path), { recursive: input.recursive, stopKernel: (id, reason, detail) => ctx.services.kernels.stopKernel(id, reason, detail) }),
    ),

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
