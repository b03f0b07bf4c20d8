// Signing in with email and password: throttle first, then verify, and never say which of the two was wrong.
// With a directory (LDAP) configured, the login is checked there first; an account the directory does not know (the
// first admin, say) signs in with its local password, also while the directory cannot be reached.
import type { Database } from "@/db";
import { findUserByEmail, recordSignIn, type UserRow } from "@/db/queries/users";
import { AppError } from "@/server/errors";
import { log } from "@/server/log";
import { signInWithExternalAccount } from "./external-accounts";
import type { DirectoryOutcome } from "./ldap";
import { DIRECTORY_DOWN } from "./sign-in-errors";
import { burnVerifyTime, verifyPassword } from "./passwords";
import { clearFailures, recordFailure, throttledFor } from "./throttle";
import { describeWait } from "./throttle-policy";

export const WRONG_CREDENTIALS = "Incorrect email or password.";


/** A directory to check logins against (authenticateAgainstDirectory with the settings bound), and its URL. */
export interface Directory {
  url: string;
  authenticate(login: string, password: string): Promise<DirectoryOutcome>;
}

export async function signInWithPassword(
  db: Database,
  input: { email: string; password: string; address: string | null },
  directory?: Directory,
): Promise<UserRow> {
  const email = input.email.trim().toLowerCase();
  const wait = await throttledFor(db, email, input.address);
  if (wait > 0) {
    throw new AppError(
      "THROTTLED",
      `Too many failed sign-in attempts. Try again in ${describeWait(wait)}, or ask an admin to reset your password.`,
      { retryAfterMs: wait },
    );
  }
  let directoryDown: string | undefined;
  if (directory) {
    const outcome = await directory.authenticate(input.email.trim(), input.password);
    if (outcome.kind === "ok") {
      const { entry } = outcome;
      const user = await signInWithExternalAccount(db, { via: "ldap", issuer: directory.url, subject: entry.subject, email: entry.email, emailVerified: true, name: entry.name });
      await clearFailures(db, email);
      return user;
    }
    if (outcome.kind === "wrong-password") {
      await recordFailure(db, email, input.address);
      throw new AppError("UNAUTHENTICATED", WRONG_CREDENTIALS);
    }
    if (outcome.kind === "unreachable") {
      directoryDown = outcome.error;
      log.warn(`the directory ${directory.url} could not be reached for a sign-in: ${outcome.error}`);
    }
  }
  const user = await findUserByEmail(db, email);
  const ok = user?.passwordHash ? await verifyPassword(user.passwordHash, input.password) : (await burnVerifyTime(input.password), false);
  if (!user || !ok) {
    // Not a failure to count against the account: the directory, which may know it, did not answer.
    if (directoryDown) throw new AppError("UNAVAILABLE", DIRECTORY_DOWN);
    await recordFailure(db, email, input.address);
    throw new AppError("UNAUTHENTICATED", WRONG_CREDENTIALS);
  }
  if (user.disabledAt) {
    throw new AppError("FORBIDDEN", "This account is disabled. Ask an admin to enable it.");
  }
  await clearFailures(db, email);
  await recordSignIn(db, user.id);
  return user;
}
