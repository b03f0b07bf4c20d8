// Signing in with email and password: throttle first, then verify, and never say which of the two was wrong.
// With a directory (LDAP) configured, the login is checked there first, except for admins, who sign in with their
// own password; an account the directory does not know (the first admin, say) signs in with its local password,
// also while the directory cannot be reached.
import type { Database } from "@/db";
import { appendAudit } from "@/db/queries/audit";
import { findUserByEmail, hasIdentityFrom, normalizeEmail, recordSignIn, setUserPassword, type UserRow } from "@/db/queries/users";
import { AppError } from "@/server/errors";
import { log } from "@/server/log";
import { signInWithExternalAccount, type SignUpDomains } from "./external-accounts";
import { authenticateAgainstDirectory, type DirectoryOutcome, type LdapSettings, type MayBind } from "./ldap";
import { ACCOUNT_DISABLED, DIRECTORY_DOWN } from "./sign-in-errors";
import type { Actor } from "@/server/identity/actor";
import { burnVerifyTime, hashPassword, passwordProblem, verifyPassword } from "./passwords";
import { endUserSessions, SESSION_END } from "./sessions";
import { succeeded, takeBack, takeTry, type TryKeys } from "./throttle";
import { describeWait } from "./throttle-policy";

export const WRONG_CREDENTIALS = "Incorrect email or password.";


/** A directory to check logins against (authenticateAgainstDirectory with the settings bound), and its URL. */
export interface Directory {
  url: string;
  authenticate(login: string, password: string, mayBind?: MayBind): Promise<DirectoryOutcome>;
}

export function ldapDirectory(settings: LdapSettings): Directory {
  return { url: settings.url, authenticate: (login, password, mayBind) => authenticateAgainstDirectory(settings, login, password, mayBind) };
}

/** The user signed in, and whether the directory or the local password let them in. */
export type PasswordSignIn = UserRow & { signInMethod: "password" | "ldap" };

export async function signInWithPassword(
  db: Database,
  input: { email: string; password: string; address: string | null },
  directory?: Directory,
  signUpDomains: SignUpDomains = [],
): Promise<PasswordSignIn> {
  // The local account, by its stored (lower-case) email.
  const email = normalizeEmail(input.email);
  const login = loginSpelling(input.email);
  // Counted as a failure from here until it proves right (see takeTry).
  const tried: TryKeys = { login, address: input.address };
  const wait = await takeTry(db, tried);
  if (wait > 0) throw throttled(wait);
  const local = await findUserByEmail(db, email);
  // Admins sign in with their own password, never through the directory (which is never linked to an admin): an
  // admin the directory also knows keeps a way in.
  const directoryFirst = directory !== undefined && !(local?.role === "admin" && local.passwordHash);
  let directoryDown: string | undefined;
  if (directory && directoryFirst) {
    // The person is throttled too, not only the login typed: uid and email are two logins of one entry.
    let entryWait = 0;
    const mayBind: MayBind = async (subject) => {
      entryWait = await takeTry(db, { entry: { issuer: directory.url, subject } });
      if (entryWait === 0) tried.entry = { issuer: directory.url, subject };
      return entryWait === 0;
    };
    const outcome = await directory.authenticate(login, input.password, mayBind);
    if (outcome.kind === "not-tried") {
      await takeBack(db, tried); // refused unheard: not a failure of this login or address
      throw throttled(entryWait);
    }
    if (outcome.kind === "ok") {
      const { entry } = outcome;
      // The person's other login goes clear too where the directory says it (their email, when they typed their uid).
      await succeeded(db, tried, entry.email);
      const user = await signInWithExternalAccount(
        db,
        { via: "ldap", issuer: directory.url, subject: entry.subject, email: entry.email, emailVerified: true, name: entry.name },
        signUpDomains,
      );
      return { ...user, signInMethod: "ldap" };
    }
    if (outcome.kind === "wrong-password") {
      // As long as a local check takes: the time does not tell which logins the directory knows.
      await burnVerifyTime(input.password);
      throw new AppError("UNAUTHENTICATED", WRONG_CREDENTIALS);
    }
    if (outcome.kind === "unreachable") {
      directoryDown = outcome.error;
      if (tried.entry) {
        await takeBack(db, { entry: tried.entry }); // the directory said nothing about the person
        delete tried.entry; // taken back once, not again with the rest (a later takeBack or succeeded)
      }
      log.warn(`the directory ${directory.url} could not be reached for a sign-in: ${outcome.error}`);
    }
    // A user linked to the directory that no longer knows them (a leaver's entry deleted) is not let in by an old
    // local password.
    if (outcome.kind === "unknown" && local && (await hasIdentityFrom(db, { userId: local.id, issuer: directory.url }))) {
      await burnVerifyTime(input.password);
      throw new AppError("UNAUTHENTICATED", WRONG_CREDENTIALS);
    }
  }
  // While the directory is down, its users (linked to it) wait for it: their local password, if any, is not theirs
  // to use, and their retries are not counted. A local account's password is checked and counted as always.
  const waitsForDirectory = directoryDown !== undefined && (!local?.passwordHash || (await hasIdentityFrom(db, { userId: local.id, issuer: directory!.url })));
  if (waitsForDirectory) {
    await burnVerifyTime(input.password);
    await takeBack(db, tried);
    throw new AppError("UNAVAILABLE", DIRECTORY_DOWN);
  }
  const user = local;
  const ok = user?.passwordHash ? await verifyPassword(user.passwordHash, input.password) : (await burnVerifyTime(input.password), false);
  if (!user || !ok) {
    throw directoryDown ? new AppError("UNAVAILABLE", DIRECTORY_DOWN) : new AppError("UNAUTHENTICATED", WRONG_CREDENTIALS);
  }
  await succeeded(db, tried);
  if (user.disabledAt) {
    throw new AppError("FORBIDDEN", ACCOUNT_DISABLED);
  }
  await recordSignIn(db, user.id);
  return { ...user, signInMethod: "password" };
}

/**
 * The throttle's key for a login, and what the directory is asked: one spelling per login (compatibility forms and
 * case folded, as directories compare them), so variants of one name share one count.
 */
function loginSpelling(typed: string): string {
  return typed.normalize("NFKC").trim().toLowerCase();
}

function throttled(waitMs: number): AppError {
  return new AppError(
    "THROTTLED",
    `Too many failed sign-in attempts. Try again in ${describeWait(waitMs)}, or ask an admin to reset your password.`,
    { retryAfterMs: waitMs },
  );
}

/**
 * Someone changing their own (local) password: the current one is checked and throttled like a sign-in, then every
 * other session of theirs ends (`keepSessionId`, the one they are using, stays).
 */
export async function changeOwnPassword(
  db: Database,
  actor: Actor,
  input: { user: UserRow; current: string; next: string; address: string | null; keepSessionId?: string; directoryUrl?: string },
): Promise<{ endedSessions: number }> {
  const { user } = input;
  if (!(await ownPasswordUsable(db, user, input.directoryUrl))) {
    throw new AppError("CONFLICT", "Your account has no Atrium password: you sign in through your organisation's directory or single sign-on, so change your password there.");
  }
  const problem = passwordProblem(input.next);
  if (problem) throw new AppError("BAD_REQUEST", problem);
  // The same count as signing in: guessing here is guessing there.
  const tried: TryKeys = { login: loginSpelling(user.email), address: input.address };
  const wait = await takeTry(db, tried);
  if (wait > 0) throw throttled(wait);
  if (!(await verifyPassword(user.passwordHash!, input.current))) {
    throw new AppError("BAD_REQUEST", "Your current password is not correct.");
  }
  await succeeded(db, tried);
  // Checked once the current password is proven, so it tells nothing to someone guessing it. The same password
  // again would end the other sessions while keeping the secret they may have been opened with.
  if (input.next === input.current) {
    throw new AppError("BAD_REQUEST", "Your new password is the same as your current one. Choose a different new password.");
  }
  await setUserPassword(db, { id: user.id, passwordHash: await hashPassword(input.next) });
  const endedSessions = await endUserSessions(db, actor, { user, reason: SESSION_END.passwordChanged, except: input.keepSessionId, audit: false });
  await appendAudit(db, {
    actorId: actor.id,
    actorLabel: actor.label,
    action: "user.change_password",
    targetType: "user",
    targetId: user.id,
    details: { email: user.email, endedSessions },
  });
  return { endedSessions };
}

/**
 * Whether the user signs in with an Atrium password of their own: they have one, and it is not set aside by the
 * directory (a non-admin linked to the configured directory signs in there only; see signInWithPassword).
 */
export async function ownPasswordUsable(db: Database, user: UserRow, directoryUrl: string | undefined): Promise<boolean> {
  if (!user.passwordHash) return false;
  if (!directoryUrl || user.role === "admin") return true;
  return !(await hasIdentityFrom(db, { userId: user.id, issuer: directoryUrl }));
}
