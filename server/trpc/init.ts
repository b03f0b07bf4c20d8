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
import { OTHER_USER_MESSAGE } from "./page-user";

export interface Context {
  services: Services;
  user: UserRow | null;
  /** The caller's network address, for throttles and the audit log. */
  address: string | null;
  /** What the caller was let in with (their session, or a personal token); null when not signed in. */
  credential?: Credential | null;
  /**
   * The user a portal page was opened for (its PAGE_USER_HEADER), when it says: a call from a page whose browser has
   * since signed in as someone else is refused, never done as that other person (a save into their home folder).
   */
  pageUser?: string | null;
}

const t = initTRPC.context<Context>().create({
  transformer: superjson,
  errorFormatter({ shape, error }) {
    const cause = error.cause;
    // A procedure's input refused by zod: its message is the issues as JSON, which no user should read.
    // Only a refused input: a zod error inside a handler (or of its output) is the server's, and its paths stay here.
    const issues = error.code === "BAD_REQUEST" ? zodIssuesOf(cause) : null;
    return {
      ...shape,
      // Internal errors keep their details in the server log, not in the browser.
      message: error.code === "INTERNAL_SERVER_ERROR" && !isAppError(cause) ? "Something went wrong on the server." : issues ? readableIssues(issues) : shape.message,
      data: {
        ...withoutStack(shape.data),
        appCode: isAppError(cause) ? cause.code : null,
        details: isAppError(cause) ? cause.details ?? null : null,
        // Which field each refusal is about, for a form that wants to mark its inputs.
        issues: issues ? issues.map((issue) => ({ path: issue.path.map(String), message: readableIssue(issue) })) : null,
      },
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
  if (ctx.pageUser && ctx.pageUser !== ctx.user.id) {
    throw new TRPCError({ code: "UNAUTHORIZED", message: OTHER_USER_MESSAGE });
  }
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

// --- input refusals in words ---

/** The part of a zod issue the messages are made from (zod 4's issue shapes, read defensively). */
export interface InputIssue {
  code: string;
  path: PropertyKey[];
  message: string;
  origin?: string;
  minimum?: number | bigint;
  maximum?: number | bigint;
  inclusive?: boolean;
  exact?: boolean;
  expected?: string;
  format?: string;
  values?: unknown[];
  divisor?: number | bigint;
  keys?: string[];
}

/** The issues of a ZodError (by its shape, not `instanceof`: a second copy of zod must be recognised too). */
export function zodIssuesOf(cause: unknown): InputIssue[] | null {
  const e = cause as { name?: unknown; issues?: unknown } | null | undefined;
  if (!e || typeof e !== "object" || e.name !== "ZodError" || !Array.isArray(e.issues) || e.issues.length === 0) return null;
  return e.issues as InputIssue[];
}

/** "Name: at most 63 characters. Email: not a valid email address." — one sentence per issue, naming the field. */
export function readableIssues(issues: InputIssue[]): string {
  return issues.map(readableIssue).join(" ");
}

export function readableIssue(issue: InputIssue): string {
  const field = fieldName(issue.path);
  const what = describeIssue(issue);
  return field ? `${field}: ${what}.` : `${capitalize(what)}.`;
}

/** The last named step of the path, in words: ["limits", "maxVcores"] → "Max vcores"; ["tags", 2] → "Tags (item 3)". */
function fieldName(path: PropertyKey[]): string {
  let item: number | null = null;
  for (let i = path.length - 1; i >= 0; i--) {
    const step = path[i];
    if (typeof step === "number") {
      item ??= step;
      continue;
    }
    const words = String(step).replace(/([a-z0-9])([A-Z])/g, "$1 $2").replace(/[_-]+/g, " ").toLowerCase().trim();
    return capitalize(words) + (item === null ? "" : ` (item ${item + 1})`);
  }
  return item === null ? "" : `Item ${item + 1}`;
}

function describeIssue(issue: InputIssue): string {
  const n = (v: number | bigint | undefined) => Number(v);
  const units = (count: number, unit: string) => `${count.toLocaleString("en-US")} ${unit}${count === 1 ? "" : "s"}`;
  const sized = (count: number) =>
    issue.origin === "string" ? units(count, "character") : issue.origin === "array" || issue.origin === "set" ? units(count, "item") : issue.origin === "date" ? new Date(count).toISOString() : count.toLocaleString("en-US");
  switch (issue.code) {
    case "too_big": {
      const max = n(issue.maximum);
      if (issue.exact) return `exactly ${sized(max)}`;
      if (issue.origin === "date") return issue.inclusive === false ? `before ${sized(max)}` : `at the latest ${sized(max)}`;
      return issue.inclusive === false ? `less than ${sized(max)}` : `at most ${sized(max)}`;
    }
    case "too_small": {
      const min = n(issue.minimum);
      if (issue.exact) return `exactly ${sized(min)}`;
      // A required text left empty (or only spaces, once trimmed).
      if (issue.origin === "string" && min === 1 && issue.inclusive !== false) return "required";
      if ((issue.origin === "array" || issue.origin === "set") && min === 1 && issue.inclusive !== false) return "choose at least one";
      if (issue.origin === "date") return issue.inclusive === false ? `after ${sized(min)}` : `at the earliest ${sized(min)}`;
      return issue.inclusive === false ? `more than ${sized(min)}` : `at least ${sized(min)}`;
    }
    case "invalid_type":
      if (/received undefined/.test(issue.message)) return "required";
      return issue.expected ? `must be ${article(issue.expected)}` : "not valid";
    case "invalid_format":
      return issue.format === "email" ? "not a valid email address" : issue.format === "uuid" || issue.format === "guid" ? "not a valid id" : `not a valid ${issue.format ?? "value"}`;
    case "invalid_value":
      return issue.values && issue.values.length > 0 ? `must be one of ${issue.values.map((v) => String(v)).join(", ")}` : "not an allowed value";
    case "not_multiple_of":
      return `must be a multiple of ${n(issue.divisor)}`;
    case "unrecognized_keys":
      return `unexpected ${issue.keys && issue.keys.length === 1 ? "field" : "fields"} ${(issue.keys ?? []).join(", ")}`;
    default:
      // Refinements (custom) carry a message written for people; anything else keeps zod's words.
      return issue.message.replace(/\.$/, "");
  }
}

function article(type: string): string {
  const word = type === "int" ? "whole number" : type;
  return `${/^[aeiou]/.test(word) ? "an" : "a"} ${word}`;
}

const capitalize = (s: string) => (s ? s[0]!.toUpperCase() + s.slice(1) : s);
