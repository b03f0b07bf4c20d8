// Sign-ins through next-auth's own route handler (config.ts), as the sign-in form and a provider's redirect reach it,
// on a real database: a sign-in refused after its checks passed (the user's sessions ended, the account disabled,
// while the home was made) lands on the sign-in page with the reason's code, never on the page it asked for without
// a session and without a word. The race is made where it happens: in the home's provisioning, between the checks and
// the session's row. Single sign-on goes through a small OpenID provider on loopback (discovery, keys, token).
import assert from "node:assert/strict";
import { generateKeyPairSync, randomUUID } from "node:crypto";
import http from "node:http";
import type { AddressInfo } from "node:net";
import { after, before, beforeEach, describe, it } from "node:test";
import { SignJWT } from "jose";
import { NextRequest } from "next/server";
import { and, eq, isNull } from "drizzle-orm";
import type { Database } from "@/db";
import { findUserByEmail, type UserRow } from "@/db/queries/users";
import { userSessions } from "@/db/schema";
import { openTestDatabase, testDbKind } from "@/db/testing";
import { loadEnv } from "@/server/env";
import { cliActor } from "@/server/identity/actor";
import { createUser, setDisabled } from "@/server/identity/users";
import { setServices } from "@/server/services";
import { testServices } from "@/server/trpc/testing";
import { handlers } from "./config";
import { endUserSessions, SESSION_END } from "./sessions";
import { ACCOUNT_DISABLED, SIGN_IN_INTERRUPTED, signInErrorMessage } from "./sign-in-errors";

const ORIGIN = "http://localhost:3000";
const CLIENT = { id: "atrium-test", secret: "atrium-test-client-secret" };

/** Cookies as a browser keeps them for the portal: set and cleared by its answers. */
class CookieJar {
  private readonly cookies = new Map<string, string>();
  header(): string {
    return [...this.cookies].map(([name, value]) => `${name}=${value}`).join("; ");
  }
  take(response: Response): void {
    for (const line of response.headers.getSetCookie()) {
      const [pair, ...attributes] = line.split(";");
      const at = pair!.indexOf("=");
      const name = pair!.slice(0, at).trim();
      const cleared = attributes.some((a) => /^\s*max-age=0\s*$/i.test(a) || /^\s*expires=Thu, 01 Jan 1970/i.test(a));
      if (cleared || pair!.slice(at + 1) === "") this.cookies.delete(name);
      else this.cookies.set(name, pair!.slice(at + 1));
    }
  }
  has(name: string): boolean {
    return this.cookies.has(name);
  }
}

/** Where a sign-in ended up: the page, and the error and code in its URL, as next-auth/react's signIn() reads them. */
function outcome(url: string) {
  const parsed = new URL(url);
  return { path: parsed.pathname, error: parsed.searchParams.get("error"), code: parsed.searchParams.get("code") };
}

async function send(jar: CookieJar, url: string, init: { method?: string; headers?: Record<string, string>; body?: URLSearchParams } = {}) {
  const request = new NextRequest(url, { method: init.method ?? "GET", headers: { ...init.headers, cookie: jar.header() }, body: init.body });
  const response = await (request.method === "POST" ? handlers.POST : handlers.GET)(request);
  jar.take(response);
  return response;
}

async function csrfToken(jar: CookieJar): Promise<string> {
  return ((await (await send(jar, `${ORIGIN}/api/auth/csrf`)).json()) as { csrfToken: string }).csrfToken;
}

/** The sign-in form's request: signIn("credentials", { redirect: false }) posts this and reads the URL it answers. */
async function signInWithPassword(jar: CookieJar, email: string, password: string) {
  const response = await send(jar, `${ORIGIN}/api/auth/callback/credentials`, {
    method: "POST",
    headers: { "content-type": "application/x-www-form-urlencoded", "x-auth-return-redirect": "1" },
    body: new URLSearchParams({ email, password, csrfToken: await csrfToken(jar), callbackUrl: `${ORIGIN}/files` }),
  });
  return outcome(((await response.json()) as { url: string }).url);
}

/** A minimal OpenID provider on loopback: it signs in whoever `nextAccount` names, with a verified email. */
async function startProvider() {
  const { privateKey, publicKey } = generateKeyPairSync("rsa", { modulusLength: 2048 });
  const jwk = { ...publicKey.export({ format: "jwk" }), kid: "k1", alg: "RS256", use: "sig" };
  const state = { issuer: "", nonce: "", account: { sub: "", email: "" } };
  const server = http.createServer((req, res) => {
    const json = (body: unknown) => {
      res.setHeader("content-type", "application/json");
      res.end(JSON.stringify(body));
    };
    const path = new URL(req.url ?? "/", state.issuer).pathname;
    if (path === "/.well-known/openid-configuration") {
      return json({
        issuer: state.issuer,
        authorization_endpoint: `${state.issuer}/auth`,
        token_endpoint: `${state.issuer}/token`,
        userinfo_endpoint: `${state.issuer}/me`,
        jwks_uri: `${state.issuer}/jwks`,
        response_types_supported: ["code"],
        subject_types_supported: ["public"],
        id_token_signing_alg_values_supported: ["RS256"],
      });
    }
    if (path === "/jwks") return json({ keys: [jwk] });
    if (path === "/token") {
      void new SignJWT({ nonce: state.nonce, email: state.account.email, email_verified: true, name: "Test Person", sid: `op-${randomUUID()}` })
        .setProtectedHeader({ alg: "RS256", kid: "k1" })
        .setIssuer(state.issuer)
        .setAudience(CLIENT.id)
        .setSubject(state.account.sub)
        .setIssuedAt()
        .setExpirationTime("5m")
        .sign(privateKey)
        .then((idToken) => json({ access_token: "at", token_type: "Bearer", expires_in: 300, id_token: idToken }));
      return;
    }
    res.statusCode = 404;
    res.end();
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  state.issuer = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return { state, close: () => new Promise<void>((resolve) => server.close(() => resolve())) };
}

describe(`sign-ins refused after their checks, through next-auth's route on ${testDbKind}`, () => {
  let db: Database;
  let close: () => Promise<void>;
  let provider: Awaited<ReturnType<typeof startProvider>>;
  /** Runs while the signing-in user's home is made: after the sign-in's checks, before its session's row. */
  let whileSigningIn: ((username: string) => Promise<void>) | undefined;

  before(async () => {
    ({ db, close } = await openTestDatabase());
    provider = await startProvider();
    const base = testServices(db);
    const env = loadEnv({ ATRIUM_OIDC_ISSUER: provider.state.issuer, ATRIUM_OIDC_CLIENT_ID: CLIENT.id, ATRIUM_OIDC_CLIENT_SECRET: CLIENT.secret });
    const homes = base.homes;
    setServices({
      ...base,
      env,
      homes: {
        forUser: (user) => homes.forUser(user),
        localPathOf: (user) => homes.localPathOf(user),
        provision: async (user) => {
          await whileSigningIn?.(user.username);
          await homes.provision(user);
        },
      },
    });
  });
  beforeEach(() => {
    whileSigningIn = undefined;
  });
  after(async () => {
    setServices(undefined);
    await provider.close();
    await close();
  });

  const openSessions = async (user: UserRow) =>
    (await db.select().from(userSessions).where(and(eq(userSessions.userId, user.id), isNull(userSessions.endedAt)))).length;
  const byUsername = async (username: string, email: string) => {
    const user = (await findUserByEmail(db, email))!;
    assert.equal(user.username, username);
    return user;
  };

  it("a password sign-in still signs in, and a wrong password still says so", async () => {
    const ana = await createUser(db, cliActor, { email: "ana@example.com", password: "ana-pass-123" });
    const jar = new CookieJar();
    assert.deepEqual(await signInWithPassword(jar, "ana@example.com", "not-her-pass"), { path: "/signin", error: "CredentialsSignin", code: "wrong" });
    assert.equal(signInErrorMessage("wrong"), "Incorrect email or password.");
    assert.deepEqual(await signInWithPassword(jar, "ana@example.com", "ana-pass-123"), { path: "/files", error: null, code: null });
    assert.ok(jar.has("atrium.session"), "the session cookie is set");
    assert.equal(await openSessions(ana), 1);
  });

  it("a password sign-in whose user's sessions are ended meanwhile lands on the sign-in page saying so, and the next one signs in", async () => {
    const bo = await createUser(db, cliActor, { email: "bo@example.com", password: "bo-pass-1234" });
    // An admin's "sign out everywhere" after the password was checked, before the session's row was written.
    whileSigningIn = async (username) => {
      const user = await byUsername(username, "bo@example.com");
      await endUserSessions(db, cliActor, { user, reason: SESSION_END.byAdmin });
    };
    const jar = new CookieJar();
    const refused = await signInWithPassword(jar, "bo@example.com", "bo-pass-1234");
    assert.deepEqual(refused, { path: "/signin", error: "CredentialsSignin", code: "sessions-ended" }, "not sent on to /files without a session");
    assert.equal(signInErrorMessage(refused.code), SIGN_IN_INTERRUPTED);
    assert.ok(!jar.has("atrium.session"), "no session cookie");
    assert.equal(await openSessions(bo), 0);
    // Signing in again, as the message says, works.
    whileSigningIn = undefined;
    assert.deepEqual(await signInWithPassword(jar, "bo@example.com", "bo-pass-1234"), { path: "/files", error: null, code: null });
    assert.equal(await openSessions(bo), 1);
  });

  it("a password sign-in whose account is disabled meanwhile lands on the sign-in page saying it is disabled", async () => {
    const cy = await createUser(db, cliActor, { email: "cy@example.com", password: "cy-pass-1234" });
    whileSigningIn = async () => {
      await setDisabled(db, cliActor, cy.id, true);
    };
    const refused = await signInWithPassword(new CookieJar(), "cy@example.com", "cy-pass-1234");
    assert.deepEqual(refused, { path: "/signin", error: "CredentialsSignin", code: "disabled" });
    assert.equal(signInErrorMessage(refused.code), ACCOUNT_DISABLED);
    assert.equal(await openSessions(cy), 0);
  });

  /** Through the provider: the portal's redirect to it, and the provider's redirect back with a code. */
  async function signInWithProvider(jar: CookieJar, account: { sub: string; email: string }) {
    const started = await send(jar, `${ORIGIN}/api/auth/signin/oidc`, {
      method: "POST",
      headers: { "content-type": "application/x-www-form-urlencoded", "x-auth-return-redirect": "1" },
      body: new URLSearchParams({ csrfToken: await csrfToken(jar), callbackUrl: `${ORIGIN}/files` }),
    });
    const authorization = new URL(((await started.json()) as { url: string }).url);
    assert.equal(authorization.origin, provider.state.issuer, "sent to the provider");
    provider.state.nonce = authorization.searchParams.get("nonce") ?? "";
    provider.state.account = account;
    const back = new URL(`${ORIGIN}/api/auth/callback/oidc`);
    back.searchParams.set("code", "the-code");
    back.searchParams.set("state", authorization.searchParams.get("state")!);
    const response = await send(jar, back.toString());
    assert.equal(response.status, 302);
    return outcome(response.headers.get("location")!);
  }

  it("single sign-on still signs in", async () => {
    const dee = await createUser(db, cliActor, { email: "dee@example.com" });
    const jar = new CookieJar();
    assert.deepEqual(await signInWithProvider(jar, { sub: "sub-dee", email: "dee@example.com" }), { path: "/files", error: null, code: null });
    assert.ok(jar.has("atrium.session"));
    assert.equal(await openSessions(dee), 1);
  });

  it("a single sign-on whose account is disabled meanwhile lands on the sign-in page saying it is disabled", async () => {
    const eve = await createUser(db, cliActor, { email: "eve@example.com" });
    whileSigningIn = async () => {
      await setDisabled(db, cliActor, eve.id, true);
    };
    const jar = new CookieJar();
    const refused = await signInWithProvider(jar, { sub: "sub-eve", email: "eve@example.com" });
    assert.deepEqual(refused, { path: "/signin", error: "CredentialsSignin", code: "disabled" }, "not sent on to /files without a session");
    assert.ok(!jar.has("atrium.session"));
    assert.equal(await openSessions(eve), 0);
  });

  it("a single sign-on whose user's sessions are ended meanwhile (an admin, the provider's back-channel logout) lands on the sign-in page saying so", async () => {
    const fay = await createUser(db, cliActor, { email: "fay@example.com" });
    whileSigningIn = async () => {
      await endUserSessions(db, cliActor, { user: (await findUserByEmail(db, "fay@example.com"))!, reason: SESSION_END.byAdmin });
    };
    const jar = new CookieJar();
    const refused = await signInWithProvider(jar, { sub: "sub-fay", email: "fay@example.com" });
    assert.deepEqual(refused, { path: "/signin", error: "CredentialsSignin", code: "sessions-ended" });
    assert.ok(!jar.has("atrium.session"));
    assert.equal(await openSessions(fay), 0);
    whileSigningIn = undefined;
    assert.deepEqual(await signInWithProvider(jar, { sub: "sub-fay", email: "fay@example.com" }), { path: "/files", error: null, code: null });
    assert.equal(await openSessions(fay), 1);
  });
});
