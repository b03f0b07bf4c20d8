// Admin procedures: users (and their POSIX ids), teams, the audit log. Each one parses input and calls one domain function.
import { z } from "zod";
import { listAudit } from "@/db/queries/audit";
import { listTeams } from "@/db/queries/teams";
import { listUsers } from "@/db/queries/users";
import {
  changeRole,
  createTeam,
  createUser,
  removeMembership,
  requireUser,
  resetPassword,
  setDisabled,
  setMembership,
} from "@/server/identity/users";
import { listApiTokens } from "@/db/queries/tokens";
import { endUserSessions, SESSION_END } from "@/server/auth/sessions";
import { revokeToken } from "@/server/auth/tokens";
import { notFound } from "@/server/errors";
import { setPosixIds } from "@/server/identity/posix-ids";
import { chargedTeamOf } from "@/server/quota/service";
import { adminProcedure, router } from "../init";

const id = z.string().uuid();

export const adminRouter = router({
  users: router({
    list: adminProcedure.query(({ ctx }) => listUsers(ctx.services.db)),
    add: adminProcedure
      .input(
        z.object({
          email: z.string().trim().min(3).max(254),
          name: z.string().trim().max(120).optional(),
          password: z.string().min(1).max(1024),
          role: z.enum(["analyst", "admin"]).default("analyst"),
        }),
      )
      .mutation(async ({ ctx, input }) => {
        const user = await createUser(ctx.services.db, ctx.actor, input);
        return { id: user.id, email: user.email, username: user.username };
      }),
    setRole: adminProcedure
      .input(z.object({ userId: id, role: z.enum(["analyst", "admin"]) }))
      .mutation(async ({ ctx, input }) => {
        await changeRole(ctx.services.db, ctx.actor, input.userId, input.role);
      }),
    setDisabled: adminProcedure
      .input(z.object({ userId: id, disabled: z.boolean() }))
      .mutation(async ({ ctx, input }) => {
        await setDisabled(ctx.services.db, ctx.actor, input.userId, input.disabled);
      }),
    resetPassword: adminProcedure
      .input(z.object({ userId: id, password: z.string().min(1).max(1024) }))
      .mutation(({ ctx, input }) => resetPassword(ctx.services.db, ctx.actor, input.userId, input.password)),
    /** A user's API tokens (names and prefixes, never the secrets). */
    tokens: adminProcedure.input(z.object({ userId: id })).query(({ ctx, input }) => listApiTokens(ctx.services.db, input.userId)),
    /** Revokes one of a user's API tokens (audited). */
    revokeToken: adminProcedure.input(z.object({ userId: id, tokenId: id })).mutation(async ({ ctx, input }) => {
      if (!(await revokeToken(ctx.services.db, ctx.actor, input))) throw notFound("That token");
    }),
    /** Signs a user out everywhere (a lost laptop): every session of theirs ends; their API tokens stay. */
    endSessions: adminProcedure.input(z.object({ userId: id })).mutation(async ({ ctx, input }) => {
      const user = await requireUser(ctx.services.db, input.userId);
      // An admin doing this to themselves keeps the session they are using.
      const keep = user.id === ctx.user.id && ctx.credential?.kind === "session" ? ctx.credential.sessionId : undefined;
      return { ended: await endUserSessions(ctx.services.db, ctx.actor, { user, reason: SESSION_END.byAdmin, except: keep }) };
    }),
    /** The uid/gid the user's Kubernetes pods run as (gid null: a private group numbered like the uid). */
    setPosixIds: adminProcedure
      .input(z.object({ userId: id, uid: z.number().int(), gid: z.number().int().nullable() }))
      .mutation(async ({ ctx, input }) => {
        const user = await setPosixIds(ctx.services.db, ctx.actor, { user: input.userId, uid: input.uid, gid: input.gid });
        return { uid: user.posixUid, gid: user.posixGid ?? user.posixUid };
      }),
  }),
  teams: router({
    list: adminProcedure.query(({ ctx }) => listTeams(ctx.services.db)),
    add: adminProcedure
      .input(z.object({ name: z.string().trim().min(1).max(63), description: z.string().max(500).optional() }))
      .mutation(({ ctx, input }) => createTeam(ctx.services.db, ctx.actor, input)),
    setMember: adminProcedure
      .input(z.object({ teamId: id, userId: id, role: z.enum(["member", "lead"]).default("member") }))
      .mutation(async ({ ctx, input }) => {
        await setMembership(ctx.services.db, ctx.actor, input);
        // A member of several teams is charged to the first they joined: the admin is told when that is another.
        return { chargedTo: await chargedTeamOf(ctx.services.db, input.userId) };
      }),
    removeMember: adminProcedure
      .input(z.object({ teamId: id, userId: id }))
      .mutation(({ ctx, input }) => removeMembership(ctx.services.db, ctx.actor, input)),
  }),
  /** The audit trail, newest first: a page of `limit` entries older than `before`, filtered by action family and words. */
  audit: adminProcedure
    .input(
      z
        .object({
          limit: z.number().int().min(1).max(1000).default(200),
          before: z.number().int().positive().optional(),
          action: z.string().regex(/^[a-z_.]{1,64}$/, "an action, like user.set_role or user").optional(),
          search: z.string().max(200).optional(),
          since: z.date().optional(),
        })
        .default({ limit: 200 }),
    )
    .query(({ ctx, input }) => listAudit(ctx.services.db, input)),
});
