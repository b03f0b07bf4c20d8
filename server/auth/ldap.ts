// Signing in against an LDAP directory (OpenLDAP, Active Directory, FreeIPA). The login typed into the sign-in form
// (an email or a user id) is looked up under ATRIUM_LDAP_USER_BASE, with a service account or anonymously, and the
// password is checked by binding as the entry found. The directory is the authority on its entries: their email is
// taken as verified. What to do with each outcome (fall back to a local account, throttle, refuse) is the caller's.
import { Client, InvalidCredentialsError } from "ldapts";

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
  | { kind: "wrong-password" }
  | { kind: "unreachable"; error: string };

/** Escapes a value for an LDAP search filter, so a login like `*` or `a)(uid=*` matches only itself. */
export function escapeFilterValue(value: string): string {
  return value.replace(/[\\*()\0]/g, (c) => `\\${c.charCodeAt(0).toString(16).padStart(2, "0")}`);
}

/**
 * One sign-in's look at the directory, within `timeoutMs` in all (its steps each have that deadline too, and a TLS
 * handshake has none of its own): a directory that stalls is "unreachable", not a request held for ever.
 */
export async function authenticateAgainstDirectory(settings: LdapSettings, login: string, password: string): Promise<DirectoryOutcome> {
  // An empty password is an "unauthenticated bind", which directories accept for any DN: never try it.
  if (!login || !password) return { kind: "wrong-password" };
  const client = new Client({ url: settings.url, timeout: settings.timeoutMs, connectTimeout: settings.timeoutMs });
  let timer: NodeJS.Timeout | undefined;
  const deadline = new Promise<DirectoryOutcome>((resolve) => {
    timer = setTimeout(() => resolve({ kind: "unreachable", error: `no answer within ${settings.timeoutMs / 1000} s` }), settings.timeoutMs);
  });
  try {
    return await Promise.race([lookUpAndBind(client, settings, login, password), deadline]);
  } finally {
    clearTimeout(timer);
    // Not awaited: a stalled directory must not hold the sign-in past its deadline (unbind closes the socket).
    void client.unbind().catch(() => {});
  }
}

async function lookUpAndBind(client: Client, settings: LdapSettings, login: string, password: string): Promise<DirectoryOutcome> {
  try {
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
    if (searchEntries.length !== 1) return { kind: "unknown" };
    const found = searchEntries[0]!;
    try {
      await client.bind(found.dn, password);
    } catch (error) {
      if (error instanceof InvalidCredentialsError) return { kind: "wrong-password" };
      throw error;
    }
    return { kind: "ok", entry: entryOf(found) };
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
