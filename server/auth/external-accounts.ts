// Signing in with an account Atrium does not keep: one at an OpenID Connect provider (Keycloak, Okta, Entra ID,
// Dex...) or in an LDAP directory. An account is known by its issuer (the provider, the directory) and its stable
// subject there, never by its email (which may change). Its first sign-in links it to the Atrium user with the
// same email, which the source must vouch for, or creates that user (an analyst: an admin gives roles and teams).
// Disabled users stay out, as with a password.
import type { Database } from "@/db";
import { findUserByEmail, findUserByIdentity, linkIdentity, normalizeEmail, recordSignIn, type UserRow } from "@/db/queries/users";
import { appendAudit } from "@/db/queries/audit";
import { AppError } from "@/server/errors";
import { createUser } from "@/server/identity/users";
import { UNVERIFIED_EMAIL } from "./sign-in-errors";

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


export async function signInWithExternalAccount(db: Database, account: ExternalAccount): Promise<UserRow> {
  if (!account.issuer || !account.subject) throw new AppError("UNAUTHENTICATED", "The identity provider did not say who signed in.");
  const user = (await findUserByIdentity(db, account)) ?? (await linkByEmail(db, account));
  if (user.disabledAt) throw new AppError("FORBIDDEN", "This account is disabled. Ask an admin to enable it.");
  await recordSignIn(db, user.id);
  return user;
}

async function linkByEmail(db: Database, account: ExternalAccount): Promise<UserRow> {
  const email = typeof account.email === "string" ? normalizeEmail(account.email) : "";
  // An unverified email could be anyone's: linking by it would let a provider account take over an Atrium user.
  if (!email || account.emailVerified !== true) throw new AppError("UNAUTHENTICATED", UNVERIFIED_EMAIL, { reason: "unverified" });
  const actor = { id: null, label: `${account.via} ${account.issuer}` };
  let user = await findUserByEmail(db, email);
  if (!user) {
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
  // Whoever linked first (a race of two first sign-ins) is the account's user.
  const linked = await findUserByIdentity(db, account);
  if (!linked) throw new AppError("INTERNAL", `could not link ${account.issuer} account ${account.subject}`);
  return linked;
}
