// The sign-in page learns why a sign-in failed from a short code in the URL; this is the one place that
// turns errors into codes and codes into the words a user reads. It never says which of email or password
// was wrong.
import type { AppError } from "@/server/errors";

/** Why a password sign-in failed while the directory (LDAP) did not answer (server/auth/credentials.ts). */
export const DIRECTORY_DOWN =
  "Sign-in could not check your account: the directory (LDAP) did not answer. Try again in a minute; if it goes on, tell an admin.";

/** A provider's or directory's account whose email has no Atrium user, in a domain that may not sign up. */
export const SSO_NOT_INVITED = "Atrium has no account for your email address yet. Ask an Atrium admin to add you, then sign in again.";
/** An account whose email belongs to a user it may not be linked to (an admin; one linked to another account). */
export const SSO_CONFLICT =
  "Your email address belongs to an Atrium account that cannot be signed into this way (an admin's, or one already linked to another account of your provider). Ask an Atrium admin.";

/** A disabled account, whichever way it signs in. */
export const ACCOUNT_DISABLED = "This account is disabled. Ask an admin to enable it.";

/**
 * A sign-in whose user's sessions were all ended while it was checked (an admin's reset, disabling or "sign out
 * everywhere", a password change, the provider's back-channel logout): it gets no session (server/auth/sessions.ts).
 */
export const SIGN_IN_INTERRUPTED =
  "Your sign-in was interrupted because your sessions were just ended (by an administrator, a password change, or your identity provider). Sign in again.";

/** Why a sign-in through a provider without a verified email is refused (server/auth/external-accounts.ts). */
export const UNVERIFIED_EMAIL =
  "Your identity provider or directory did not give a verified email address for your account, and Atrium needs one to know you. Ask its administrator, or an Atrium admin.";

export function signInErrorCode(error: AppError): string {
  if (error.code === "THROTTLED") {
    const minutes = Math.max(1, Math.ceil(Number(error.details?.retryAfterMs ?? 60_000) / 60_000));
    return `throttled-${minutes}`;
  }
  if (error.code === "FORBIDDEN") return "disabled";
  if (error.code === "UNAVAILABLE") return "unavailable";
  if (error.details?.reason === "sessions-ended") return "sessions-ended";
  if (error.details?.reason === "unverified") return "sso-unverified";
  if (error.details?.reason === "not-invited") return "sso-not-invited";
  if (error.details?.reason === "conflict") return "sso-conflict";
  return "wrong";
}

export function signInErrorMessage(code: string | null | undefined): string {
  if (!code) return "";
  const throttled = /^throttled-(\d+)$/.exec(code);
  if (throttled) {
    const m = Number(throttled[1]);
    return `Too many failed sign-in attempts. Try again in ${m} minute${m === 1 ? "" : "s"}, or ask an admin to reset your password.`;
  }
  if (code === "disabled") return ACCOUNT_DISABLED;
  if (code === "sessions-ended") return SIGN_IN_INTERRUPTED;
  if (code === "sso-unverified") return UNVERIFIED_EMAIL;
  if (code === "sso-not-invited") return SSO_NOT_INVITED;
  if (code === "sso-conflict") return SSO_CONFLICT;
  if (code === "unavailable") return DIRECTORY_DOWN;
  if (code === "sso-failed") return "Single sign-on did not complete. Try again; if it keeps failing, tell an admin (the portal's log says why).";
  return "Incorrect email or password.";
}
