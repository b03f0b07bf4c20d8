// Signing in with email and password: throttle first, then verify, and never say which of the two was wrong.
import type { Database } from "@/db";
import { findUserByEmail, recordSignIn, type UserRow } from "@/db/queries/users";
import { AppError } from "@/server/errors";
import { burnVerifyTime, verifyPassword } from "./passwords";
import { clearFailures, recordFailure, throttledFor } from "./throttle";
import { describeWait } from "./throttle-policy";

export const WRONG_CREDENTIALS = "Incorrect email or password.";

export async function signInWithPassword(
  db: Database,
  input: { email: string; password: string; address: string | null },
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
  const user = await findUserByEmail(db, email);
  const ok = user?.passwordHash ? await verifyPassword(user.passwordHash, input.password) : (await burnVerifyTime(input.password), false);
  if (!user || !ok) {
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
