// next-auth (Auth.js v5) for the App Router: local accounts by email and password and, when configured, single
// sign-on through an OpenID Connect provider; JWT sessions in an encrypted cookie whose subject is the Atrium
// user's id. The custom server decodes the same cookie for tRPC and kernel WebSockets (session.ts).
import NextAuth, { CredentialsSignin, type NextAuthConfig } from "next-auth";
import { headers } from "next/headers";
import type { Provider } from "next-auth/providers";
import Credentials from "next-auth/providers/credentials";
import { findUserByIdentity, type UserRow } from "@/db/queries/users";
import { isAppError } from "@/server/errors";
import { log } from "@/server/log";
import { services } from "@/server/services";
import { ldapDirectory, signInWithPassword } from "./credentials";
import { ldapSettingsFromEnv } from "./ldap";
import { signInWithExternalAccount } from "./external-accounts";
import { signInErrorCode } from "./sign-in-errors";
import { signOutSession, startSignInSession, type SignInMethod } from "./sessions";

declare module "next-auth" {
  interface User {
    /** Set by the sign-in, for the session row (sessions.ts). */
    signInMethod?: SignInMethod;
    /** The user's sessions_valid_from as the sign-in read it, before the password was checked (see startSession). */
    signInValidFromSeen?: number | null;
  }
}

/**
 * A refused sign-in, of any provider: Auth.js sends the browser to the sign-in page with `?error=CredentialsSignin&code=`
 * this code (or, for the sign-in form's fetch, returns that URL), and the page says what it means (sign-in-errors.ts).
 */
class SignInRefused extends CredentialsSignin {
  constructor(code: string) {
    super();
    this.code = code;
  }
}

/**
 * Single sign-on: the user's sessions_valid_from as the signIn callback read it with the account's checks, for the
 * jwt callback of the same sign-in (Auth.js hands both the same account object), which starts the session only if
 * no ending came in between (startSession). Held by the account object, so it goes with the request.
 */
const validFromSeenBySignIn = new WeakMap<object, { userId: string; validFrom: number | null }>();

/** An AppError of a sign-in becomes its refusal with the code the sign-in page reads; anything else stays a failure. */
function refusalOf(error: unknown): unknown {
  return isAppError(error) ? new SignInRefused(signInErrorCode(error)) : error;
}

/** The provider id of single sign-on: its callback is /api/auth/callback/oidc (the redirect URI to register). */
export const OIDC_PROVIDER_ID = "oidc";

function config(): NextAuthConfig {
  const s = services();
  // The home exists from the first sign-in (a folder, an HDFS home, a PVC). A failure is logged, not fatal:
  // signing in must not depend on storage, and the first use of the home tries again.
  const provisionHome = (user: UserRow) =>
    s.homes.provision(user).catch((error: unknown) => log.warn(`could not prepare the home of ${user.username} at sign-in: ${String(error)}`));
  const { ATRIUM_OIDC_ISSUER: issuer, ATRIUM_OIDC_CLIENT_ID: clientId, ATRIUM_OIDC_CLIENT_SECRET: clientSecret } = s.env;
  const sso: Provider[] =
    issuer && clientId && clientSecret
      ? [
          {
            id: OIDC_PROVIDER_ID,
            name: s.env.ATRIUM_OIDC_NAME,
            type: "oidc",
            issuer,
            clientId,
            clientSecret,
            checks: ["pkce", "state", "nonce"],
            authorization: { params: { scope: "openid email profile" } },
            profile: (profile) => ({ id: String(profile.sub), email: profile.email, name: profile.name }),
          },
        ]
      : [];
  const { env } = s;
  const ldap = ldapSettingsFromEnv(env);
  const directory = ldap ? ldapDirectory(ldap) : undefined;
  return {
    secret: s.secret,
    trustHost: true,
    session: { strategy: "jwt", maxAge: Math.round(s.env.ATRIUM_SESSION_MAX_AGE_HOURS * 3600) },
    useSecureCookies: s.secureCookies,
    cookies: { sessionToken: { name: s.sessionCookieName } },
    // Errors of a single sign-on (provider unreachable, a refused callback) come back to the sign-in page.
    pages: { signIn: "/signin", error: "/signin" },
    // A refused sign-in is an expected outcome with its own message, not a server error worth a stack trace.
    logger: {
      error(error) {
        if (error.name === "CredentialsSignin" || (error as { type?: string }).type === "CredentialsSignin") return;
        // Names and messages only: a provider's error can carry the token response in its cause. Auth.js wraps
        // the underlying error as { err } in the cause.
        const inner = (error.cause as { err?: unknown } | undefined)?.err ?? error.cause;
        const cause = inner instanceof Error ? ` (${inner.name}: ${inner.message})` : "";
        console.error(`[auth] ${error.name}: ${error.message.split(". Read more at")[0]}${cause}`);
      },
    },
    providers: [
      Credentials({
        credentials: { email: { label: "Email" }, password: { label: "Password", type: "password" } },
        async authorize(credentials, request) {
          const email = typeof credentials?.email === "string" ? credentials.email : "";
          const password = typeof credentials?.password === "string" ? credentials.password : "";
          if (!email || !password) throw new SignInRefused("wrong");
          try {
            const user = await signInWithPassword(
              s.db,
              {
                email,
                password,
                // The custom server sets this from the socket (or a trusted proxy), never from the client.
                address: request.headers.get("x-atrium-client-address"),
              },
              directory,
              env.ATRIUM_SSO_SIGNUP_DOMAINS ?? [],
            );
            await provisionHome(user);
            return { id: user.id, email: user.email, name: user.name, signInMethod: user.signInMethod, signInValidFromSeen: user.sessionsValidFrom?.getTime() ?? null };
          } catch (error) {
            throw refusalOf(error);
          }
        },
      }),
      ...sso,
    ],
    events: {
      // Signing out ends the session's row, so a copy of the cookie no longer lets anyone in either.
      async signOut(message) {
        const token = "token" in message ? message.token : null;
        if (typeof token?.sid !== "string" || !token.sub) return;
        // Auth.js clears the cookie whatever happens here: a failure must at least be said, as the row stays open.
        await signOutSession(s.db, { sessionId: token.sid, userId: token.sub }).catch((error: unknown) =>
          log.error(`sign-out of ${token.sub}: its session ${token.sid} could not be ended (a copy of the cookie still works until it expires): ${String(error)}`),
        );
      },
    },
    callbacks: {
      /** Single sign-on: the provider's account is linked to (or makes) an Atrium user, or is refused with a reason. */
      async signIn({ account, profile }) {
        if (account?.provider !== OIDC_PROVIDER_ID) return true;
        try {
          const user = await signInWithExternalAccount(
            s.db,
            {
              via: "oidc",
              issuer: String(profile?.iss ?? issuer),
              subject: account.providerAccountId,
              email: profile?.email,
              emailVerified: profile?.email_verified,
              name: profile?.name,
            },
            env.ATRIUM_SSO_SIGNUP_DOMAINS ?? [],
          );
          // Read with the account's checks, before the home is made: an ending meanwhile refuses the session (jwt).
          validFromSeenBySignIn.set(account, { userId: user.id, validFrom: user.sessionsValidFrom?.getTime() ?? null });
          await provisionHome(user);
          return true;
        } catch (error) {
          if (isAppError(error)) return `/signin?code=${signInErrorCode(error)}`;
          log.error(`single sign-on failed: ${String(error)}`);
          return "/signin?code=sso-failed";
        }
      },
      async jwt({ token, user, account, profile, trigger }) {
        // The user's sessions_valid_from as read with the user before the check (see startSession).
        let validFromSeen = user?.signInValidFromSeen ?? null;
        // The session's subject is the Atrium user, never the provider's id for the account.
        if (account?.provider === OIDC_PROVIDER_ID) {
          const linked = await findUserByIdentity(s.db, { issuer: String(profile?.iss ?? issuer), subject: account.providerAccountId });
          // Unlinked or disabled since the signIn callback let it in (while its home was made): refused with the reason.
          if (!linked) {
            log.warn(`single sign-on of ${account.providerAccountId} refused: its account was unlinked while it signed in`);
            throw new SignInRefused("sso-failed");
          }
          if (linked.disabledAt) throw new SignInRefused("disabled");
          const seen = validFromSeenBySignIn.get(account);
          // Linked to another user since the checks (an admin relinked it): those checks were not this user's.
          if (seen && seen.userId !== linked.id) {
            log.warn(`single sign-on of ${account.providerAccountId} refused: its account was linked to another user while it signed in`);
            throw new SignInRefused("sso-failed");
          }
          if (!seen) log.warn(`single sign-on of ${account.providerAccountId}: its checks' reading of the user was not handed over; read now`);
          validFromSeen = seen ? seen.validFrom : (linked.sessionsValidFrom?.getTime() ?? null);
          token.sub = linked.id;
        } else if (user?.id) {
          token.sub = user.id;
        }
        // Each sign-in gets a session row the cookie names: ended on sign-out, password change, disabling.
        if (trigger === "signIn" && token.sub) {
          const method: SignInMethod = account?.provider === OIDC_PROVIDER_ID ? "oidc" : (user?.signInMethod ?? "password");
          // The sign-in's request, for the sessions list (which browser, from where); none outside a request.
          const request = await Promise.resolve().then(() => headers()).catch(() => null);
          // Refused (the user's sessions were ended after the sign-in read the user, or the account was disabled):
          // thrown, not a null token, so Auth.js sends the user to the sign-in page with the reason's code. A null
          // token would send them on to callbackUrl with no session, and from there to the sign-in page, wordless.
          token.sid = await startSignInSession(s.db, {
            userId: token.sub,
            method,
            maxAgeMs: s.env.ATRIUM_SESSION_MAX_AGE_HOURS * 3_600_000,
            validFromSeen: validFromSeen === null ? null : new Date(validFromSeen),
            userAgent: request?.get("user-agent"),
            // Set by the custom server from the socket (or a trusted proxy); a client-sent one is removed first.
            address: request?.get("x-atrium-client-address"),
            // The provider's session (its ID token's `sid`, when it sends one): its back-channel logout names it.
            providerSession: method === "oidc" && typeof profile?.sid === "string" ? profile.sid : null,
          }).catch((error: unknown) => {
            throw refusalOf(error);
          });
        }
        return token;
      },
      session({ session, token }) {
        if (token.sub) session.user.id = token.sub;
        return session;
      },
    },
  };
}

export const { handlers, auth, signIn, signOut } = NextAuth(() => config());
