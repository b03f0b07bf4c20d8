// next-auth (Auth.js v5) for the App Router: local accounts by email and password, JWT sessions in an
// encrypted cookie. The custom server decodes the same cookie for tRPC and kernel WebSockets (session.ts).
import NextAuth, { CredentialsSignin, type NextAuthConfig } from "next-auth";
import Credentials from "next-auth/providers/credentials";
import { isAppError } from "@/server/errors";
import { log } from "@/server/log";
import { services } from "@/server/services";
import { signInWithPassword } from "./credentials";
import { signInErrorCode } from "./sign-in-errors";

class SignInRefused extends CredentialsSignin {
  constructor(code: string) {
    super();
    this.code = code;
  }
}

function config(): NextAuthConfig {
  const s = services();
  return {
    secret: s.secret,
    trustHost: true,
    session: { strategy: "jwt", maxAge: Math.round(s.env.ATRIUM_SESSION_MAX_AGE_HOURS * 3600) },
    useSecureCookies: s.secureCookies,
    cookies: { sessionToken: { name: s.sessionCookieName } },
    pages: { signIn: "/signin" },
    // A refused sign-in is an expected outcome with its own message, not a server error worth a stack trace.
    logger: {
      error(error) {
        if (error.name === "CredentialsSignin" || (error as { type?: string }).type === "CredentialsSignin") return;
        console.error("[auth]", error);
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
            const user = await signInWithPassword(s.db, {
              email,
              password,
              // The custom server sets this from the socket (or a trusted proxy), never from the client.
              address: request.headers.get("x-atrium-client-address"),
            });
            // The home exists from the first sign-in (a folder, an HDFS home, a PVC). A failure is logged, not
            // fatal: signing in must not depend on storage, and the first use of the home tries again.
            await s.homes.provision(user).catch((error: unknown) => log.warn(`could not prepare the home of ${user.username} at sign-in: ${String(error)}`));
            return { id: user.id, email: user.email, name: user.name };
          } catch (error) {
            if (isAppError(error)) throw new SignInRefused(signInErrorCode(error));
            throw error;
          }
        },
      }),
    ],
    callbacks: {
      jwt({ token, user }) {
        if (user?.id) token.sub = user.id;
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
