// notebooks.open / save / saveCopy / create: thin procedures over server/notebooks/service.ts. The durable-output
// procedures (runs, kernelFor, bindKernel) live in notebook-runs.ts; both sets form the `notebooks` router.
import { z } from "zod";
import { homePath } from "@/server/files/home-path";
import { createNotebook, openNotebook, saveNotebook, saveNotebookCopy } from "@/server/notebooks/service";
import { protectedProcedure, router } from "../init";
import { notebookRunProcedures } from "./notebook-runs";

// Never trimmed: " report.ipynb" is a valid name and another file than "report.ipynb". Paths go through
// homePath() as in the files procedures (absolute paths refused), then the store's own rules.
const path = z.string().min(1).max(4096);

export const notebookProcedures = {
  /** The notebook at a home-relative path, validated and normalized, with the mtime to save against. */
  open: protectedProcedure.input(z.object({ path })).query(async ({ ctx, input }) => {
    const store = await ctx.services.homes.forUser(ctx.user);
    return openNotebook(store, homePath(input.path));
  }),
  /** Saves atomically; CONFLICT when the file changed since `expectedMtime`, unless `force`. */
  save: protectedProcedure
    .input(z.object({ path, notebook: z.unknown(), expectedMtime: z.date().nullable(), force: z.boolean().optional() }))
    .mutation(async ({ ctx, input }) => {
      const store = await ctx.services.homes.forUser(ctx.user);
      return saveNotebook(store, homePath(input.path), input.notebook, { expectedMtime: input.expectedMtime, force: input.force });
    }),
  /** The notebook written as a new file beside `path` (name-CopyN.ipynb), never over an existing one. */
  saveCopy: protectedProcedure.input(z.object({ path, notebook: z.unknown() })).mutation(async ({ ctx, input }) => {
    const store = await ctx.services.homes.forUser(ctx.user);
    return saveNotebookCopy(store, homePath(input.path), input.notebook);
  }),
  /** A new notebook with one empty code cell; ALREADY_EXISTS when the path is taken. */
  create: protectedProcedure
    .input(z.object({ path, kernelspec: z.object({ name: z.string().max(200), display_name: z.string().max(200) }).optional() }))
    .mutation(async ({ ctx, input }) => {
      const store = await ctx.services.homes.forUser(ctx.user);
      return createNotebook(store, homePath(input.path), input.kernelspec);
    }),
};

export const notebooksRouter = router({ ...notebookProcedures, ...notebookRunProcedures });
