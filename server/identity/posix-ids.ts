// Users' POSIX ids: what a Kubernetes pod runs as (runAsUser/runAsGroup) and who owns the files on the user's
// PVC. Every user gets a uid from a sequence when created (db/schema/identity.ts); this module holds the rules
// for changing one (admin/CLI) and for the configurable base. Root and the system range are never a user's id.
import type { Database } from "@/db";
import { appendAudit } from "@/db/queries/audit";
import { findUserByPosixUid, raisePosixUidSequence, setUserPosixIds } from "@/db/queries/users";
import { AppError } from "@/server/errors";
import type { Actor } from "./actor";
import { requireUser } from "./users";

/** The lowest uid/gid a user may have: below are root and the ids hosts and images use for themselves. */
export const MIN_POSIX_ID = 1000;
export const MAX_POSIX_ID = 2_147_483_647;

/** The problem with `id` as a user's uid or gid, or undefined when it is usable. */
export function posixIdProblem(id: number, what: "uid" | "gid"): string | undefined {
  if (!Number.isInteger(id)) return `The ${what} must be a whole number.`;
  if (id === 0) return `The ${what} 0 is root's: a user's pods never run as root.`;
  if (id < MIN_POSIX_ID || id > MAX_POSIX_ID) return `The ${what} must be between ${MIN_POSIX_ID} and ${MAX_POSIX_ID} (got ${id}).`;
  return undefined;
}

/**
 * Sets a user's uid (and gid, or null for a private group numbered like the uid). Refuses root, the system
 * range and a uid another user holds; then keeps the sequence above it so no later user collides.
 * Files already on the user's PVC keep their old owner: say so to whoever does this (the CLI does).
 */
export async function setPosixIds(db: Database, actor: Actor, input: { user: string; uid: number; gid: number | null }) {
  const user = await requireUser(db, input.user);
  const problem = posixIdProblem(input.uid, "uid") ?? (input.gid === null ? undefined : posixIdProblem(input.gid, "gid"));
  if (problem) throw new AppError("BAD_REQUEST", problem);
  const taken = (email: string) => new AppError("ALREADY_EXISTS", `The uid ${input.uid} belongs to ${email}; each user needs their own.`);
  const holder = await findUserByPosixUid(db, input.uid);
  if (holder && holder.id !== user.id) throw taken(holder.email);
  try {
    await setUserPosixIds(db, { id: user.id, uid: input.uid, gid: input.gid });
  } catch (error) {
    // Two admins giving the same uid at once: the unique index decides, and the loser gets the same message.
    if (!violates(error, "users_posix_uid_key")) throw error;
    throw taken((await findUserByPosixUid(db, input.uid))?.email ?? "another user");
  }
  await raisePosixUidSequence(db, 0);
  await appendAudit(db, {
    actorId: actor.id,
    actorLabel: actor.label,
    action: "user.set_posix_ids",
    targetType: "user",
    targetId: user.id,
    details: { email: user.email, uid: input.uid, gid: input.gid, previousUid: user.posixUid, previousGid: user.posixGid },
  });
  return { ...user, posixUid: input.uid, posixGid: input.gid };
}

/** Whether a database error (drizzle wraps the driver's) is a violation of `constraint`. */
function violates(error: unknown, constraint: string): boolean {
  let e: unknown = error;
  for (let depth = 0; e && depth < 5; depth++, e = (e as { cause?: unknown }).cause) {
    const { constraint: name, message } = e as { constraint?: unknown; message?: unknown };
    if (name === constraint || (typeof message === "string" && message.includes(`"${constraint}"`))) return true;
  }
  return false;
}

/** At boot: new users get uids from `base` on (ATRIUM_POSIX_ID_BASE). Existing users keep theirs. */
export async function applyPosixIdBase(db: Database, base: number | undefined): Promise<void> {
  if (base === undefined) return;
  const problem = posixIdProblem(base, "uid");
  if (problem) throw new Error(`ATRIUM_POSIX_ID_BASE: ${problem}`);
  await raisePosixUidSequence(db, base);
}
