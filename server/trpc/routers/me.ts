import { z } from "zod";
import { listApiTokens } from "@/db/queries/tokens";
import { teamsOfUser } from "@/db/queries/teams";
import { revokeApiToken } from "@/db/queries/tokens";
import { createApiToken } from "@/server/auth/tokens";
import { notFound } from "@/server/errors";
import { protectedProcedure, router } from "../init";

export const meRouter = router({
  get: protectedProcedure.query(async ({ ctx }) => {
    const { user } = ctx;
    const teams = await teamsOfUser(ctx.services.db, user.id);
    return { id: user.id, email: user.email, name: user.name, username: user.username, role: user.role, teams };
  }),
  tokens: protectedProcedure.query(({ ctx }) => listApiTokens(ctx.services.db, ctx.user.id)),
  createToken: protectedProcedure
    .input(z.object({ name: z.string().trim().min(1).max(80), expiresInDays: z.number().int().positive().max(3650).optional() }))
    .mutation(({ ctx, input }) =>
      createApiToken(ctx.services.db, ctx.actor, {
        userId: ctx.user.id,
        name: input.name,
        expiresAt: input.expiresInDays ? new Date(Date.now() + input.expiresInDays * 86_400_000) : null,
      }),
    ),
  revokeToken: protectedProcedure.input(z.object({ id: z.string().uuid() })).mutation(async ({ ctx, input }) => {
    if (!(await revokeApiToken(ctx.services.db, { userId: ctx.user.id, tokenId: input.id }))) throw notFound("That token");
  }),
});
