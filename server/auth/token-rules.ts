// The API token form's "Expires in (days)": whole days from 1 to MAX_TOKEN_DAYS, or empty for a token that
// doesn't expire. Said in the form rather than quietly changed (100000 used to become 3650, -5 became 5).

/** The server's limit too (me.createToken in server/trpc/routers/me.ts): change both together. */
export const MAX_TOKEN_DAYS = 3650;

export const TOKEN_DAYS_PROBLEM = `Enter a whole number of days from 1 to ${MAX_TOKEN_DAYS}, or leave it empty for a token that doesn't expire.`;

export type TokenExpiry = { days: number | undefined; problem?: undefined } | { days?: undefined; problem: string };

export function tokenExpiryDays(typed: string): TokenExpiry {
  const text = typed.trim();
  if (text === "") return { days: undefined };
  if (!/^\d+$/.test(text)) return { problem: TOKEN_DAYS_PROBLEM };
  const days = Number(text);
  return days >= 1 && days <= MAX_TOKEN_DAYS ? { days } : { problem: TOKEN_DAYS_PROBLEM };
}
