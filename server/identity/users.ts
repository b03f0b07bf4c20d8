// Managing people and teams: the rules (who may hold what role, what a valid name is) and the audit trail,
// over the (db, params) queries. Shared by the admin procedures and the CLI.
import { forgetAccountFailures } from "@/server/auth/throttle";
import type { Database } from "@/db";
import { appendAudit } from "@/db/queries/audit";
import {
  deleteMembership,
  findTeamById,
  findTeamByName,
  insertTeam,
  updateTeamQueue,
  upsertMembership,
  type MembershipRole,
} from "@/db/queries/teams";
import {
  unlessLastAdmin,
  deleteIdentities,
  findUserByEmail,
  findUserById,
  insertUser,
  linkedIssuersOf,
  listUsers,
  setUserDisabled,
  setUserPassword,
  setUserRole,
  usernameTaken,
  type UserRole,
  type UserRow,
} from "@/db/queries/users";
import { AppError } from "@/server/errors";
import { log } from "@/server/log";
import { hashPassword, passwordProblem } from "@/server/auth/passwords";
import { endUserSessions, SESSION_END } from "@/server/auth/sessions";
import type { Actor } from "./actor";
import { isReservedUsername, isValidEmail, TEAM_NAME_PATTERN, USERNAME_PATTERN, usernameCandidates, usernameFromEmail } from "./names";

const LAST_ADMIN = "This is the last active admin; make someone else an admin first.";

export interface NewUser {
  email: string;
  name?: string;
  password?: string;
  username?: string;
  role?: UserRole;
}

export async function createUser(db: Database, actor: Actor, input: NewUser): Promise<UserRow> {
  const email = input.email.trim().toLowerCase();
  if (!isValidEmail(email)) throw new AppError("BAD_REQUEST", `"${input.email}" is not a valid email address.`);
  if (await findUserByEmail(db, email)) {
    throw new AppError("ALREADY_EXISTS", `A user with the email ${email} already exists.`);
  }
  if (input.password !== undefined) {
    const problem = passwordProblem(input.password);
    if (problem) throw new AppError("BAD_REQUEST", problem);
  }
  const username = await chooseUsername(db, email, input.username);
  const user = await insertUser(db, {
    email,
    username,
    name: input.name?.trim() || username,
    passwordHash: input.password !== undefined ? await hashPassword(input.password) : null,
    role: input.role ?? "analyst",
  });
  await appendAudit(db, {
    actorId: actor.id,
    actorLabel: actor.label,
    action: "user.create",
    targetType: "user",
    targetId: user.id,
    details: { email, username, role: user.role },
  });
  return user;
}

async function chooseUsername(db: Database, email: string, requested?: string): Promise<string> {
  if (requested !== undefined) {
    if (!USERNAME_PATTERN.test(requested)) {
      throw new AppError(
        "BAD_REQUEST",
        `"${requested}" is not a valid username: use 1–32 lower-case letters, digits, ".", "_" or "-", starting with a letter.`,
      );
    }
    // Kernels and files act as their user's name (YARN proxy user, HDFS owner): a service account's is never a person's.
    if (isReservedUsername(requested)) throw new AppError("BAD_REQUEST", `The username ${requested} is reserved for a service account; choose another.`);
    if (await usernameTaken(db, requested)) throw new AppError("ALREADY_EXISTS", `The username ${requested} is taken.`);
    return requested;
  }
  for (const candidate of usernameCandidates(usernameFromEmail(email))) {
    if (!isReservedUsername(candidate) && !(await usernameTaken(db, candidate))) return candidate;
  }
  throw new AppError("CONFLICT", "Could not find a free username; pass one explicitly.");
}

/**
 * Ends a user's links to accounts at an OpenID provider or in a directory (one issuer's, or all), audited: that
 * account's next sign-in links again by the rules of server/auth/external-accounts.ts (a changed subject, an address
 * handed on to another person).
 */
export async function unlinkIdentities(db: Database, actor: Actor, params: { user: string; issuer?: string }): Promise<number> {
  const user = await requireUser(db, params.user);
  const removed = await deleteIdentities(db, { userId: user.id, issuer: params.issuer });
  if (removed.length) {
    await appendAudit(db, { actorId: actor.id, actorLabel: actor.label, action: "user.identity.unlink", targetType: "user", targetId: user.id, details: { removed } });
  }
  return removed.length;
}

export async function requireUser(db: Database, idOrEmail: string): Promise<UserRow> {
  const user = idOrEmail.includes("@") ? await findUserByEmail(db, idOrEmail) : await findUserById(db, idOrEmail);
  if (!user) throw new AppError("NOT_FOUND", `No user ${idOrEmail} exists.`);
  return user;
}

export async function changeRole(db: Database, actor: Actor, userId: string, role: UserRole) {
  const user = await requireUser(db, userId);
  if (user.role === role) return user;
  if (role === "admin" && !user.passwordHash) {
    throw new AppError("CONFLICT", `${user.email} has no Atrium password: set one first (Reset password). Admins sign in with their Atrium password, never through single sign-on or the directory.`);
  }
  // A linked user's local password may be one the directory set aside long ago (the one first handed out, say):
  // as an admin's it would sign in again. Their links go first, then a password of the admin's choosing.
  const linked = role === "admin" ? await linkedIssuersOf(db, user.id) : [];
  if (linked.length) {
    throw new AppError(
      "CONFLICT",
      `${user.email} signs in through ${linked.join(", ")}; admins sign in with their Atrium password only. Unlink those accounts first (npx atrium users unlink ${user.email}), set a new password (Reset password), then make them admin.`,
    );
  }
  const updated = await unlessLastAdmin(db, user.id, user.role === "admin" && role !== "admin", (tx) => setUserRole(tx, { id: user.id, role }));
  if (updated === "last-admin") throw new AppError("CONFLICT", LAST_ADMIN);
  await appendAudit(db, {
    actorId: actor.id,
    actorLabel: actor.label,
    action: "user.set_role",
    targetType: "user",
    targetId: user.id,
    details: { email: user.email, from: user.role, to: role },
  });
  return updated!;
}

/** `reason`: why, for the audit log (a directory check says the entry is gone). */
export async function setDisabled(db: Database, actor: Actor, userId: string, disabled: boolean, reason?: string) {
  const user = await requireUser(db, userId);
  if (disabled && actor.id === user.id) throw new AppError("CONFLICT", "You cannot disable your own account.");
  const updated = await unlessLastAdmin(db, user.id, disabled && user.role === "admin", (tx) => setUserDisabled(tx, { id: user.id, disabled }));
  if (updated === "last-admin") throw new AppError("CONFLICT", LAST_ADMIN);
  // Ended, not merely refused while disabled: enabling the account again does not bring old sessions back.
  if (disabled) await endUserSessions(db, actor, { user, reason: SESSION_END.disabled, audit: false });
  await appendAudit(db, {
    actorId: actor.id,
    actorLabel: actor.label,
    action: disabled ? "user.disable" : "user.enable",
    targetType: "user",
    targetId: user.id,
    details: reason ? { email: user.email, reason } : { email: user.email },
  });
  return updated!;
}

export async function resetPassword(db: Database, actor: Actor, userId: string, password: string) {
  const problem = passwordProblem(password);
  if (problem) throw new AppError("BAD_REQUEST", problem);
  const user = await requireUser(db, userId);
  await setUserPassword(db, { id: user.id, passwordHash: await hashPassword(password) });
  // The lockout that often leads to a reset ends with it ("ask an admin to reset your password", says sign-in).
  await forgetAccountFailures(db, [user.email, user.username]);
  // Whoever knew the old password (the reason for a reset, often) is signed out too.
  await endUserSessions(db, actor, { user, reason: SESSION_END.passwordReset, audit: false });
  await appendAudit(db, {
    actorId: actor.id,
    actorLabel: actor.label,
    action: "user.reset_password",
    targetType: "user",
    targetId: user.id,
    details: { email: user.email },
  });
}

export async function createTeam(db: Database, actor: Actor, input: { name: string; description?: string }) {
  const name = input.name.trim();
  if (!TEAM_NAME_PATTERN.test(name)) {
    throw new AppError(
      "BAD_REQUEST",
      `"${input.name}" is not a valid team name: use up to 63 of A–Z, a–z (no accents), digits, spaces, ".", "_" or "-", starting with a letter or digit.`,
    );
  }
  const existing = await findTeamByName(db, name);
  // Named as it is stored: "risk" is refused because of "Risk" (names are unique whatever their case).
  if (existing) throw new AppError("ALREADY_EXISTS", `A team named ${existing.name} already exists${existing.name === name ? "" : ` (team names differ by more than case)`}.`);
  const team = await insertTeam(db, { name, description: input.description });
  await appendAudit(db, {
    actorId: actor.id,
    actorLabel: actor.label,
    action: "team.create",
    targetType: "team",
    targetId: team.id,
    details: { name },
  });
  return team;
}

/** YARN queue names: letters, digits, ".", "_" and "-" (dots separate levels, e.g. root.risk). */
const QUEUE_PATTERN = /^[A-Za-z0-9_-]+(\.[A-Za-z0-9_-]+)*$/;

/** Where the team's YARN applications go; null for the engine's default queue. */
export async function setTeamQueue(db: Database, actor: Actor, input: { teamId: string; queue: string | null }) {
  const team = await requireTeam(db, input.teamId);
  if (input.queue !== null && (!QUEUE_PATTERN.test(input.queue) || input.queue.length > 255)) {
    throw new AppError("BAD_REQUEST", `"${input.queue}" is not a valid YARN queue name: use letters, digits, "_" and "-", with "." between levels.`);
  }
  await updateTeamQueue(db, { id: team.id, queue: input.queue });
  await appendAudit(db, {
    actorId: actor.id,
    actorLabel: actor.label,
    action: "team.set_queue",
    targetType: "team",
    targetId: team.id,
    details: { team: team.name, queue: input.queue },
  });
}

export async function requireTeam(db: Database, idOrName: string) {
  const team = (await findTeamById(db, idOrName)) ?? (await findTeamByName(db, idOrName));
  if (!team) throw new AppError("NOT_FOUND", `No team ${idOrName} exists.`);
  return team;
}

export async function setMembership(
  db: Database,
  actor: Actor,
  input: { teamId: string; userId: string; role: MembershipRole },
) {
  const team = await requireTeam(db, input.teamId);
  const user = await requireUser(db, input.userId);
  await upsertMembership(db, { teamId: team.id, userId: user.id, role: input.role });
  await appendAudit(db, {
    actorId: actor.id,
    actorLabel: actor.label,
    action: "team.set_member",
    targetType: "team",
    targetId: team.id,
    details: { team: team.name, email: user.email, role: input.role },
  });
  return { team, user };
}

export async function removeMembership(db: Database, actor: Actor, input: { teamId: string; userId: string }) {
  const team = await requireTeam(db, input.teamId);
  const user = await requireUser(db, input.userId);
  if (!(await deleteMembership(db, { teamId: team.id, userId: user.id }))) {
    throw new AppError("NOT_FOUND", `${user.email} is not a member of ${team.name}.`);
  }
  await appendAudit(db, {
    actorId: actor.id,
    actorLabel: actor.label,
    action: "team.remove_member",
    targetType: "team",
    targetId: team.id,
    details: { team: team.name, email: user.email },
  });
}

/**
 * Accounts made before a name was reserved (a service user configured later) keep it: said at every start, since
 * their kernels and homes are refused on YARN and HDFS until an admin gives them another username.
 */
export async function warnOfServiceNamedUsers(db: Database): Promise<void> {
  const named = (await listUsers(db)).filter((u) => isReservedUsername(u.username));
  for (const u of named) {
    log.error(`the user ${u.email} has the username ${u.username}, which is a service account's: their kernels on YARN and their HDFS home are refused. Disable the account, or configure a service user with another name`);
  }
}
