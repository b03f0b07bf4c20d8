import { z } from "zod";
import { listApiTokens } from "@/db/queries/tokens";
import { teamsOfUser } from "@/db/queries/teams";
import { endSession, listSessions } from "@/db/queries/sessions";
import { changeOwnPassword, ownPasswordUsable } from "@/server/auth/credentials";
import { endUserSessions, SESSION_END } from "@/server/auth/sessions";
import { MAX_TOKEN_DAYS, MAX_TOKEN_NAME } from "@/server/auth/token-rules";
import { createApiToken, revokeToken } from "@/server/auth/tokens";
import { notFound } from "@/server/errors";
import { protectedProcedure, router } from "../init";

/** How far back the sessions list shows sessions that ended. */
const ENDED_SESSIONS_SHOWN_MS = 7 * 86_400_000;

export const meRouter = router({
  get: protectedProcedure.query(async ({ ctx }) => {
    const { user } = ctx;
    const teams = await teamsOfUser(ctx.services.db, user.id);
    const hasPassword = await ownPasswordUsable(ctx.services.db, user, ctx.services.env.ATRIUM_LDAP_URL);
    return { id: user.id, email: user.email, name: user.name, username: user.username, role: user.role, teams, hasPassword };
  }),
  /** The caller's sessions: open ones first, then those that ended in the last week; `current` is this one. */
  sessions: protectedProcedure.query(async ({ ctx }) => {
    const current = ctx.credential?.kind === "session" ? ctx.credential.sessionId : undefined;
    const rows = await listSessions(ctx.services.db, { userId: ctx.user.id, since: new Date(Date.now() - ENDED_SESSIONS_SHOWN_MS) });
    const now = Date.now();
    return rows.map((row) => ({
      id: row.id,
      method: row.method,
      userAgent: row.userAgent,
      address: row.address,
      createdAt: row.createdAt,
      lastSeenAt: row.lastSeenAt,
      expiresAt: row.expiresAt,
      open: row.endedAt === null && row.expiresAt.getTime() > now,
      endedAt: row.endedAt,
      endedReason: row.endedReason ?? (row.expiresAt.getTime() <= now ? "expired" : null),
      current: row.id === current,
    }));
  }),
  /** Ends one of the caller's sessions (their current one too: they are then signed out). */
  endSession: protectedProcedure.input(z.object({ id: z.string().uuid() })).mutation(async ({ ctx, input }) => {
    if (!(await endSession(ctx.services.db, { id: input.id, userId: ctx.user.id, reason: SESSION_END.byUser }))) throw notFound("That session");
  }),
  /** Signs the caller out everywhere else: every session but the one asking ends. */
  endOtherSessions: protectedProcedure.mutation(async ({ ctx }) => {
    const keep = ctx.credential?.kind === "session" ? ctx.credential.sessionId : undefined;
    return { ended: await endUserSessions(ctx.services.db, ctx.actor, { user: ctx.user, reason: SESSION_END.byUser, except: keep }) };
  }),
  changePassword: protectedProcedure
    .input(z.object({ current: z.string().min(1).max(1024), next: z.string().max(1024) }))
    .mutation(({ ctx, input }) =>
      changeOwnPassword(ctx.services.db, ctx.actor, {
        user: ctx.user,
        current: input.current,
        next: input.next,
        address: ctx.address,
        keepSessionId: ctx.credential?.kind === "session" ? ctx.credential.sessionId : undefined,
        directoryUrl: ctx.services.env.ATRIUM_LDAP_URL,
      }),
    ),
  tokens: protectedProcedure.query(({ ctx }) => listApiTokens(ctx.services.db, ctx.user.id)),
  createToken: protectedProcedure
    .input(z.object({ name: z.string().trim().min(1).max(MAX_TOKEN_NAME), expiresInDays: z.number().int().positive().max(MAX_TOKEN_DAYS).optional() }))
    .mutation(({ ctx, input }) =>
      createApiToken(ctx.services.db, ctx.actor, {
        userId: ctx.user.id,
        name: input.name,
        expiresAt: input.expiresInDays ? new Date(Date.now() + input.expiresInDays * 86_400_000) : null,
      }),
    ),
  revokeToken: protectedProcedure.input(z.object({ id: z.string().uuid() })).mutation(async ({ ctx, input }) => {
    if (!(await revokeToken(ctx.services.db, ctx.actor, { userId: ctx.user.id, tokenId: input.id }))) throw notFound("That token");
  }),
});
