// tRPC: the context (who is asking), the procedures named for who may call them, and the one place where
// Atrium's typed errors become tRPC errors. Middlewares narrow the context so handlers never re-check.
import { initTRPC, TRPCError } from "@trpc/server";
import superjson from "superjson";
import type { UserRow } from "@/db/queries/users";
import { teamsOfUser } from "@/db/queries/teams";
import { asAppError, isAppError, trpcCodeOf } from "@/server/errors";
import type { Credential } from "@/server/auth/session";
import type { Actor } from "@/server/identity/actor";
import type { Services } from "@/server/services";

export interface Context {
  services: Services;
  user: UserRow | null;
  /** The caller's network address, for throttles and the audit log. */
  address: string | null;
  /** What the caller was let in with (their session, or a personal token); null when not signed in. */
  credential?: Credential | null;
}

const t = initTRPC.context<Context>().create({
  transformer: superjson,
  errorFormatter({ shape, error }) {
    const cause = error.cause;
    return {
      ...shape,
      // Internal errors keep their details in the server log, not in the browser.
      message: error.code === "INTERNAL_SERVER_ERROR" && !isAppError(cause) ? "Something went wrong on the server." : shape.message,
      data: { ...withoutStack(shape.data), appCode: isAppError(cause) ? cause.code : null, details: isAppError(cause) ? cause.details ?? null : null },
    };
  },
});

export const router = t.router;
export const createCallerFactory = t.createCallerFactory;

const appErrors = t.middleware(async ({ next, path }) => {
  const result = await next();
  if (!result.ok) {
    const cause = asAppError(result.error.cause);
    if (cause) throw new TRPCError({ code: trpcCodeOf(cause), message: cause.message, cause });
    if (result.error.code === "INTERNAL_SERVER_ERROR") console.error(`[trpc] ${path} failed:`, result.error.cause ?? result.error);
  }
  return result;
});

export const publicProcedure = t.procedure.use(appErrors);

export const protectedProcedure = publicProcedure.use(({ ctx, next }) => {
  if (!ctx.user) throw new TRPCError({ code: "UNAUTHORIZED", message: "Sign in to continue." });
  const actor: Actor = { id: ctx.user.id, label: ctx.user.email };
  return next({ ctx: { ...ctx, user: ctx.user, actor } });
});

export const adminProcedure = protectedProcedure.use(({ ctx, next }) => {
  if (ctx.user.role !== "admin") throw new TRPCError({ code: "FORBIDDEN", message: "Only admins can do this." });
  return next({ ctx });
});

/** Team leads (and admins). `ledTeamIds` lists the teams the caller may manage; admins manage all. */
export const teamLeadProcedure = protectedProcedure.use(async ({ ctx, next }) => {
  const teams = await teamsOfUser(ctx.services.db, ctx.user.id);
  const ledTeamIds = teams.filter((team) => team.role === "lead").map((team) => team.id);
  if (ctx.user.role !== "admin" && ledTeamIds.length === 0) {
    throw new TRPCError({ code: "FORBIDDEN", message: "Only team leads can do this." });
  }
  return next({ ctx: { ...ctx, ledTeamIds, isAdmin: ctx.user.role === "admin" } });
});

function withoutStack<T extends { stack?: unknown }>(data: T): Omit<T, "stack"> {
  const { stack: _stack, ...rest } = data;
  return rest;
}
