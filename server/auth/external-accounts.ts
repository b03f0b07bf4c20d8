// Signing in with an account Atrium does not keep: one at an OpenID Connect provider (Keycloak, Okta, Entra ID,
// Dex...) or in an LDAP directory. An account is known by its issuer (the provider, the directory) and its stable
// subject there, never by its email (which may change, and may be given to someone else later). Its first sign-in:
// - links it to the Atrium user with the same email, which the source must vouch for; never to an admin (admins
//   sign in with their password), a disabled user, or a user already linked to another account of that issuer
//   (an address handed on to a new person);
// - or, for an email in a domain the installation lets sign up (ATRIUM_SSO_SIGNUP_DOMAINS), makes that user: an
//   analyst whose username is never a reserved service name.
// Everyone else is refused with the reason. Disabled users stay out, as with a password.
import type { Database } from "@/db";
import { findUserByEmail, findUserByIdentity, hasIdentityFrom, linkIdentity, normalizeEmail, recordSignIn, type UserRow } from "@/db/queries/users";
import { appendAudit } from "@/db/queries/audit";
import { AppError } from "@/server/errors";
import { createUser } from "@/server/identity/users";
import { ACCOUNT_DISABLED, SSO_CONFLICT, SSO_NOT_INVITED, UNVERIFIED_EMAIL } from "./sign-in-errors";

/** Email domains whose people get an account at their first sign-in ("*": any); none: only users an admin added. */
export type SignUpDomains = readonly string[] | "*";

export function signUpAllowed(email: string, domains: SignUpDomains): boolean {
  if (domains === "*") return true;
  const domain = email.slice(email.lastIndexOf("@") + 1).toLowerCase();
  return domains.some((allowed) => domain === allowed.toLowerCase());
}

export interface ExternalAccount {
  /** Which kind of source: the audit log says "oidc <issuer>" or "ldap <issuer>". */
  via: "oidc" | "ldap";
  /** The provider's issuer (`iss` of its ID token), or the directory's URL. */
  issuer: string;
  /** The account's stable id there (`sub`; a directory entry's entryUUID). */
  subject: string;
  email?: unknown;
  emailVerified?: unknown;
  name?: unknown;
}


export async function signInWithExternalAccount(db: Database, account: ExternalAccount, signUpDomains: SignUpDomains = []): Promise<UserRow> {
  if (!account.issuer || !account.subject) throw new AppError("UNAUTHENTICATED", "The identity provider did not say who signed in.");
  const user = (await findUserByIdentity(db, account)) ?? (await linkByEmail(db, account, signUpDomains));
  // Admins sign in with their Atrium password only: a linked user made admin later does not get admin through a
  // provider or directory account (which Atrium cannot vouch for, and the leaver check leaves admins alone).
  if (user.role === "admin") throw new AppError("UNAUTHENTICATED", SSO_CONFLICT, { reason: "conflict", why: "admin" });
  if (user.disabledAt) throw new AppError("FORBIDDEN", ACCOUNT_DISABLED);
  await recordSignIn(db, user.id);
  return user;
}

async function linkByEmail(db: Database, account: ExternalAccount, signUpDomains: SignUpDomains): Promise<UserRow> {
  const email = typeof account.email === "string" ? normalizeEmail(account.email) : "";
  // An unverified email could be anyone's: linking by it would let a provider account take over an Atrium user.
  if (!email || account.emailVerified !== true) throw new AppError("UNAUTHENTICATED", UNVERIFIED_EMAIL, { reason: "unverified" });
  const actor = { id: null, label: `${account.via} ${account.issuer}` };
  let user = await findUserByEmail(db, email);
  if (user) {
    if (user.disabledAt) throw new AppError("FORBIDDEN", ACCOUNT_DISABLED);
    if (user.role === "admin") throw new AppError("UNAUTHENTICATED", SSO_CONFLICT, { reason: "conflict", why: "admin" });
    if (await hasIdentityFrom(db, { userId: user.id, issuer: account.issuer })) {
      // Linked to this very account by its other first sign-in a moment ago (two tabs at once): it is theirs.
      if ((await findUserByIdentity(db, account))?.id === user.id) return user;
      throw new AppError("UNAUTHENTICATED", SSO_CONFLICT, { reason: "conflict", why: "linked" });
    }
  } else {
    if (!signUpAllowed(email, signUpDomains)) throw new AppError("UNAUTHENTICATED", SSO_NOT_INVITED, { reason: "not-invited" });
    try {
      user = await createUser(db, actor, { email, name: typeof account.name === "string" ? account.name : undefined });
    } catch (error) {
      // The same person's first sign-in in two tabs at once: the other one created the user (this insert then
      // failed on the email or the username).
      user = await findUserByEmail(db, email);
      if (!user) throw error;
    }
  }
  if (await linkIdentity(db, { issuer: account.issuer, subject: account.subject, userId: user.id })) {
    await appendAudit(db, {
      actorId: null,
      actorLabel: actor.label,
      action: "user.identity.link",
      targetType: "user",
      targetId: user.id,
      details: { issuer: account.issuer, subject: account.subject, email },
    });
  }
  // Whoever linked first (a race of two first sign-ins) is the account's user; a race of two accounts for one user
  // leaves the second unlinked (one account per user at each issuer), refused as above.
  const linked = await findUserByIdentity(db, account);
  if (!linked) throw new AppError("UNAUTHENTICATED", SSO_CONFLICT, { reason: "conflict", why: "linked" });
  return linked;
}
