// The sign-in page learns why a sign-in failed from a short code in the URL; this is the one place that
// turns errors into codes and codes into the words a user reads. It never says which of email or password
// was wrong.
import type { AppError } from "@/server/errors";

export function signInErrorCode(error: AppError): string {
  if (error.code === "THROTTLED") {
    const minutes = Math.max(1, Math.ceil(Number(error.details?.retryAfterMs ?? 60_000) / 60_000));
    return `throttled-${minutes}`;
  }
  if (error.code === "FORBIDDEN") return "disabled";
  return "wrong";
}

export function signInErrorMessage(code: string | null | undefined): string {
  if (!code) return "";
  const throttled = /^throttled-(\d+)$/.exec(code);
  if (throttled) {
    const m = Number(throttled[1]);
    return `Too many failed sign-in attempts. Try again in ${m} minute${m === 1 ? "" : "s"}, or ask an admin to reset your password.`;
  }
  if (code === "disabled") return "This account is disabled. Ask an admin to enable it.";
  return "Incorrect email or password.";
}
