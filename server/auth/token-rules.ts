// What an API token may be, wherever one is made (the Account page, me.createToken, `atrium tokens create`): a name
// of 1 to MAX_TOKEN_NAME characters, and an expiry of whole days from 1 to MAX_TOKEN_DAYS, or none. Said where it was
// typed rather than quietly changed (100000 used to become 3650, -5 became 5), and the same everywhere (QA: the
// CLI made tokens with no name, expiring in the year 2300).

export const MAX_TOKEN_DAYS = 3650;
export const MAX_TOKEN_NAME = 80;

export const TOKEN_DAYS_PROBLEM = `Enter a whole number of days from 1 to ${MAX_TOKEN_DAYS}, or leave it empty for a token that doesn't expire.`;

export type TokenExpiry = { days: number | undefined; problem?: undefined } | { days?: undefined; problem: string };

export function tokenExpiryDays(typed: string): TokenExpiry {
  const text = typed.trim();
  if (text === "") return { days: undefined };
  if (!/^\d+$/.test(text)) return { problem: TOKEN_DAYS_PROBLEM };
  const days = Number(text);
  return days >= 1 && days <= MAX_TOKEN_DAYS ? { days } : { problem: TOKEN_DAYS_PROBLEM };
}

/** Why a token cannot have this name (trimmed first); null when it can. */
export function tokenNameProblem(name: string): string | null {
  const trimmed = name.trim();
  if (!trimmed) return "A token needs a name (what uses it, e.g. \"laptop jupyter\").";
  if (trimmed.length > MAX_TOKEN_NAME) return `A token's name is at most ${MAX_TOKEN_NAME} characters, not ${trimmed.length}.`;
  return null;
}
