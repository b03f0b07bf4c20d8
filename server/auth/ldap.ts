// Signing in against an LDAP directory (OpenLDAP, Active Directory, FreeIPA). The login typed into the sign-in form
// (an email or a user id) is looked up under ATRIUM_LDAP_USER_BASE, with a service account or anonymously, and the
// password is checked by binding as the entry found. The directory is the authority on its entries: their email is
// taken as verified. What to do with each outcome (fall back to a local account, throttle, refuse) is the caller's.
import { Client, InvalidCredentialsError, NoSuchObjectError, SizeLimitExceededError } from "ldapts";
import type { Env } from "@/server/env";

export interface LdapSettings {
  url: string;
  userBase: string;
  /** `{login}` stands for the login, escaped (RFC 4515). */
  userFilter: string;
  bindDn?: string;
  bindPassword?: string;
  startTls: boolean;
  /** Every request to the directory, and connecting to it. */
  timeoutMs: number;
}

export interface DirectoryEntry {
  dn: string;
  /** Stable across renames: entryUUID (OpenLDAP, FreeIPA) or objectGUID (Active Directory); else the DN. */
  subject: string;
  email?: string;
  name?: string;
}

export type DirectoryOutcome =
  | { kind: "ok"; entry: DirectoryEntry }
  /** No entry for this login (or more than one): not the directory's user. */
  | { kind: "unknown" }
  /** The entry found; its subject when the directory said so (not for an empty password, which is never tried). */
  | { kind: "wrong-password"; subject?: string }
  /** The caller's `mayBind` said no for this entry: the password was not tried. */
  | { kind: "not-tried"; subject: string }
  | { kind: "unreachable"; error: string };

/**
 * Asked with the entry's subject after the look-up, before the password is tried: a caller that throttles per
 * person (whichever login, uid or email, found them) says no here, so a locked entry's password is not tried.
 */
export type MayBind = (subject: string) => Promise<boolean>;

/** The directory settings from ATRIUM_LDAP_*, when a directory is configured. */
export function ldapSettingsFromEnv(env: Env): LdapSettings | undefined {
  if (!env.ATRIUM_LDAP_URL || !env.ATRIUM_LDAP_USER_BASE) return undefined;
  return {
    url: env.ATRIUM_LDAP_URL,
    userBase: env.ATRIUM_LDAP_USER_BASE,
    userFilter: env.ATRIUM_LDAP_USER_FILTER,
    bindDn: env.ATRIUM_LDAP_BIND_DN,
    bindPassword: env.ATRIUM_LDAP_BIND_PASSWORD,
    startTls: env.ATRIUM_LDAP_START_TLS,
    timeoutMs: env.ATRIUM_LDAP_TIMEOUT_SECONDS * 1000,
  };
}

/** Escapes a value for an LDAP search filter, so a login like `*` or `a)(uid=*` matches only itself. */
export function escapeFilterValue(value: string): string {
  return value.replace(/[\\*()\0]/g, (c) => `\\${c.charCodeAt(0).toString(16).padStart(2, "0")}`);
}

/**
 * One sign-in's look at the directory, within `timeoutMs` in all (its steps each have that deadline too, and a TLS
 * handshake has none of its own): a directory that stalls is "unreachable", not a request held for ever.
 */
export async function authenticateAgainstDirectory(settings: LdapSettings, login: string, password: string, mayBind?: MayBind): Promise<DirectoryOutcome> {
  // An empty password is an "unauthenticated bind", which directories accept for any DN: never try it.
  if (!login || !password) return { kind: "wrong-password" };
  const client = new Client({ url: settings.url, timeout: settings.timeoutMs, connectTimeout: settings.timeoutMs });
  let timer: NodeJS.Timeout | undefined;
  const deadline = new Promise<DirectoryOutcome>((resolve) => {
    timer = setTimeout(() => resolve({ kind: "unreachable", error: `no answer within ${settings.timeoutMs / 1000} s` }), settings.timeoutMs);
  });
  try {
    return await Promise.race([lookUpAndBind(client, settings, login, password, mayBind), deadline]);
  } finally {
    clearTimeout(timer);
    // Not awaited: a stalled directory must not hold the sign-in past its deadline (unbind closes the socket).
    void client.unbind().catch(() => {});
  }
}

async function lookUpAndBind(client: Client, settings: LdapSettings, login: string, password: string, mayBind?: MayBind): Promise<DirectoryOutcome> {
  const found = await askDirectory(() => lookUp(client, settings, login));
  if ("kind" in found) return found;
  // Outside askDirectory: the caller's own failure (its database, say) is not the directory's.
  if (mayBind && !(await mayBind(found.subject))) return { kind: "not-tried", subject: found.subject };
  return askDirectory(async () => {
    try {
      await client.bind(found.dn, password);
    } catch (error) {
      if (error instanceof InvalidCredentialsError) return { kind: "wrong-password", subject: found.subject };
      throw error;
    }
    return { kind: "ok", entry: found };
  });
}

/** The one entry this login finds, or "unknown". */
async function lookUp(client: Client, settings: LdapSettings, login: string): Promise<DirectoryEntry | DirectoryOutcome> {
  if (settings.startTls) await client.startTLS({});
  if (settings.bindDn) await client.bind(settings.bindDn, settings.bindPassword ?? "");
  const { searchEntries } = await client.search(settings.userBase, {
    scope: "sub",
    // A function, so `$&` and the like in a login are not replacement patterns.
    filter: settings.userFilter.replaceAll("{login}", () => escapeFilterValue(login)),
    attributes: ["mail", "displayName", "cn", "entryUUID", "objectGUID"],
    explicitBufferAttributes: ["objectGUID"],
    sizeLimit: 2,
  });
  return searchEntries.length === 1 ? entryOf(searchEntries[0]!) : { kind: "unknown" };
}

/** A request to the directory; what it throws becomes the outcome that says so. */
async function askDirectory<T>(request: () => Promise<T>): Promise<T | DirectoryOutcome> {
  try {
    return await request();
  } catch (error) {
    // A search over the size limit means the filter matches several entries: not one person.
    if ((error as { name?: string }).name === "SizeLimitExceededError") return { kind: "unknown" };
    // For the log: one line, no control characters (a login can be in it).
    return { kind: "unreachable", error: ((error as Error).message || String(error)).replace(/[\x00-\x1f\x7f]+/g, " ").slice(0, 300) };
  }
}

function entryOf(found: { dn: string; [attribute: string]: unknown }): DirectoryEntry {
  const first = (value: unknown): string | Buffer | undefined => (Array.isArray(value) ? first(value[0]) : typeof value === "string" || Buffer.isBuffer(value) ? value : undefined);
  const text = (value: unknown) => {
    const v = first(value);
    return typeof v === "string" && v.trim() ? v.trim() : undefined;
  };
  const guid = first(found.objectGUID);
  const subject = text(found.entryUUID) ?? (Buffer.isBuffer(guid) ? guid.toString("hex") : text(guid)) ?? found.dn.toLowerCase();
  return { dn: found.dn, subject, email: text(found.mail), name: text(found.displayName) ?? text(found.cn) };
}

/** Where entries are looked for by their stable subject (see DirectoryEntry.subject) in entriesStillThere. */
function subjectSearch(settings: LdapSettings, subject: string): { base: string; scope: "sub" | "base"; filter: string } {
  // The sign-in filter with any login: an entry that no longer matches it (moved out of a group, locked) is gone
  // as far as signing in goes.
  const userFilter = settings.userFilter.replaceAll("{login}", "*");
  if (/^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i.test(subject)) {
    return { base: settings.userBase, scope: "sub", filter: `(&(entryUUID=${escapeFilterValue(subject)})${userFilter})` };
  }
  if (/^[0-9a-f]{32}$/i.test(subject)) {
    // Active Directory's objectGUID, as its bytes.
    return { base: settings.userBase, scope: "sub", filter: `(&(objectGUID=${subject.replace(/../g, "\\$&")})${userFilter})` };
  }
  return { base: subject, scope: "base", filter: userFilter };
}

/**
 * Which of these subjects (entries linked to Atrium users) the directory still has, as signing in would find them:
 * under the user base, matching the user filter. Throws when the directory cannot say, for any of them (nothing is
 * to be concluded then); one connection, each request within `timeoutMs`, all of them within a deadline.
 */
export async function entriesStillThere(settings: LdapSettings, subjects: readonly string[]): Promise<Set<string>> {
  const client = new Client({ url: settings.url, timeout: settings.timeoutMs, connectTimeout: settings.timeoutMs });
  const deadlineMs = settings.timeoutMs * (3 + subjects.length);
  let timer: NodeJS.Timeout | undefined;
  const deadline = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`the directory did not answer for ${subjects.length} entries within ${deadlineMs / 1000} s`)), deadlineMs);
  });
  const look = async () => {
    if (settings.startTls) await client.startTLS({});
    if (settings.bindDn) await client.bind(settings.bindDn, settings.bindPassword ?? "");
    const present = new Set<string>();
    for (const subject of subjects) {
      const { base, scope, filter } = subjectSearch(settings, subject);
      try {
        const { searchEntries } = await client.search(base, { scope, filter, attributes: ["1.1"], sizeLimit: 1 });
        if (searchEntries.length > 0) present.add(subject);
      } catch (error) {
        // Two entries with one id are still there; a DN that is gone, its entry is. A user base that is gone (a
        // typo, a renamed OU) says nothing about anyone: like anything else, no answer.
        if (error instanceof SizeLimitExceededError) present.add(subject);
        else if (!(error instanceof NoSuchObjectError && scope === "base")) throw error;
      }
    }
    return present;
  };
  try {
    return await Promise.race([look(), deadline]);
  } finally {
    clearTimeout(timer);
    void client.unbind().catch(() => {});
  }
}
