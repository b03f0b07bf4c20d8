// Back-Channel Logout over real HTTP, on a real database, against a real key server: a discovery document and JWKS
// served on loopback by this test, tokens signed with real keys. Guards: a valid token ends the sessions it names and
// nothing else (password sessions, other users, other provider sessions, sessions begun after it); every token that
// fails a check of §2.6 is refused with 400 and ends nothing; rotated keys are fetched again; a provider whose keys
// cannot be fetched gives 503, within the deadline.
import assert from "node:assert/strict";
import { randomUUID } from "node:crypto";
import http from "node:http";
import { after, before, describe, it } from "node:test";
import { exportJWK, generateKeyPair, SignJWT, type CryptoKey, type JWK, type JWTPayload } from "jose";
import { eq } from "drizzle-orm";
import type { Database } from "@/db";
import { listAudit } from "@/db/queries/audit";
import type { UserRow } from "@/db/queries/users";
import { userSessions } from "@/db/schema";
import { openTestDatabase, testDbKind } from "@/db/testing";
import { loadEnv } from "@/server/env";
import type { ServerExtra } from "@/server/main";
import { BACKCHANNEL_LOGOUT_PATH, backchannelLogoutRoute, ProviderKeys } from "./backchannel-logout";
import { signInWithExternalAccount } from "./external-accounts";
import { startSession } from "./sessions";

const CLIENT_ID = "atrium-test";
const LOGOUT_EVENT = "http://schemas.openid.net/event/backchannel-logout";
const HOUR = 3_600_000;
const now = () => Math.floor(Date.now() / 1000);

interface Reply {
  status: number;
  headers: http.IncomingHttpHeaders;
  body: string;
}

/** A provider's discovery document and key set on loopback; what it serves can be changed, and its key fetches counted. */
class KeyServer {
  server = http.createServer((req, res) => this.#answer(req, res));
  keys: JWK[] = [];
  jwksUri = "";
  keyFetches = 0;
  issuer = "";

  async start() {
    await new Promise<void>((resolve) => this.server.listen(0, "127.0.0.1", resolve));
    this.issuer = `http://127.0.0.1:${(this.server.address() as { port: number }).port}`;
    this.jwksUri = `${this.issuer}/jwks`;
    return this;
  }

  #answer(req: http.IncomingMessage, res: http.ServerResponse) {
    if (req.url === "/.well-known/openid-configuration") {
      res.writeHead(200, { "content-type": "application/json" });
      res.end(JSON.stringify({ issuer: this.issuer, jwks_uri: this.jwksUri }));
    } else if (req.url === "/jwks") {
      this.keyFetches += 1;
      res.writeHead(200, { "content-type": "application/jwk-set+json" });
      res.end(JSON.stringify({ keys: this.keys }));
    } else if (req.url === "/jwks-never-answers") {
      // Holds the request open: only the fetch's deadline ends it.
    } else res.writeHead(404).end();
  }

  async stop() {
    this.server.closeAllConnections();
    await new Promise((resolve) => this.server.close(resolve));
  }
}

interface SigningKey {
  kid: string;
  privateKey: CryptoKey;
  jwk: JWK;
}

async function signingKey(kid: string, alg = "RS256"): Promise<SigningKey> {
  const { publicKey, privateKey } = await generateKeyPair(alg);
  return { kid, privateKey, jwk: { ...(await exportJWK(publicKey)), kid, alg, use: "sig" } };
}

async function serve(route: ServerExtra): Promise<{ server: http.Server; port: number }> {
  const server = http.createServer(async (req, res) => {
    if (!(await route.http!(req, res, new URL(req.url ?? "/", "http://localhost")))) res.writeHead(404).end("not ours");
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  return { server, port: (server.address() as { port: number }).port };
}

function post(port: number, body: string, headers: http.OutgoingHttpHeaders = { "content-type": "application/x-www-form-urlencoded" }, method = "POST"): Promise<Reply> {
  return new Promise((resolve, reject) => {
    const req = http.request({ host: "127.0.0.1", port, method, path: BACKCHANNEL_LOGOUT_PATH, headers }, (res) => {
      const chunks: Buffer[] = [];
      res.on("data", (c: Buffer) => chunks.push(c));
      res.on("end", () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks).toString() }));
      res.on("error", reject);
    });
    req.on("error", reject);
    req.end(body);
  });
}

const form = (token: string) => new URLSearchParams({ logout_token: token }).toString();

/** A free loopback port with nothing listening on it. */
async function closedPort(): Promise<number> {
  const server = http.createServer();
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as { port: number };
  await new Promise((resolve) => server.close(resolve));
  return port;
}

describe(`OpenID Connect back-channel logout on ${testDbKind}`, () => {
  let db: Database;
  let closeDb: () => Promise<void>;
  const provider = new KeyServer();
  let key1: SigningKey;
  const servers: http.Server[] = [];
  let port: number;

  const env = (issuer: string) => loadEnv({ ATRIUM_OIDC_ISSUER: issuer, ATRIUM_OIDC_CLIENT_ID: CLIENT_ID, ATRIUM_OIDC_CLIENT_SECRET: "client-secret-0123456789" });
  const mount = async (issuer: string, keys: ProviderKeys) => {
    const mounted = await serve(backchannelLogoutRoute({ env: env(issuer), db }, { keys }));
    servers.push(mounted.server);
    return mounted.port;
  };

  /** A logout token as a provider makes one: signed with `key`, claims given override (undefined removes one). */
  async function logoutToken(claims: Record<string, unknown>, key: SigningKey = key1, alg = "RS256"): Promise<string> {
    const payload: JWTPayload = { iss: provider.issuer, aud: CLIENT_ID, iat: now(), exp: now() + 120, jti: randomUUID(), events: { [LOGOUT_EVENT]: {} }, ...claims };
    for (const [name, value] of Object.entries(payload)) if (value === undefined) delete payload[name];
    return new SignJWT(payload).setProtectedHeader({ alg, kid: key.kid, typ: "logout+jwt" }).sign(key.privateKey);
  }

  /** An analyst linked to the provider's account `subject`, as their first single sign-on makes them. */
  const linkedUser = (name: string, issuer = provider.issuer) =>
    signInWithExternalAccount(db, { via: "oidc", issuer, subject: `sub-${name}`, email: `${name}@example.com`, emailVerified: true, name }, ["example.com"]);
  const session = async (user: UserRow, method: "oidc" | "password", providerSession?: string) =>
    (await startSession(db, { userId: user.id, method, maxAgeMs: 8 * HOUR, providerSession }))!;
  const ended = async (id: string) => {
    const [row] = await db.select({ endedAt: userSessions.endedAt, reason: userSessions.endedReason }).from(userSessions).where(eq(userSessions.id, id));
    return row?.endedAt ? row.reason : false;
  };

  before(async () => {
    ({ db, close: closeDb } = await openTestDatabase());
    await provider.start();
    key1 = await signingKey("key-1");
    provider.keys = [key1.jwk];
    port = await mount(provider.issuer, new ProviderKeys(provider.issuer, { timeoutMs: 2_000, refetchCooldownMs: 0 }));
  });
  after(async () => {
    for (const server of servers) {
      server.closeAllConnections();
      await new Promise((resolve) => server.close(resolve));
    }
    await provider.stop();
    await closeDb();
  });

  it("with only sub, ends that user's single sign-on sessions: not their password session, not another user's", async () => {
    const ana = await linkedUser("ana");
    const bob = await linkedUser("bob");
    const anaLaptop = await session(ana, "oidc", "op-ana-1");
    const anaPhone = await session(ana, "oidc", "op-ana-2");
    const anaPassword = await session(ana, "password");
    const bobLaptop = await session(bob, "oidc", "op-bob-1");

    const reply = await post(port, form(await logoutToken({ sub: "sub-ana" })));
    assert.equal(reply.status, 200, reply.body);
    assert.equal(reply.headers["cache-control"], "no-store");
    assert.equal(await ended(anaLaptop), "signed out at the identity provider");
    assert.equal(await ended(anaPhone), "signed out at the identity provider");
    assert.equal(await ended(anaPassword), false, "a password session is not the provider's");
    assert.equal(await ended(bobLaptop), false, "another user's session");
    const audit = (await listAudit(db, { limit: 5 })).find((a) => a.action === "sso.backchannel_logout" && a.targetId === ana.id);
    assert.equal(audit?.actorLabel, `oidc ${provider.issuer}`);
    assert.deepEqual(audit?.details, { reason: "signed out at the identity provider", ended: 2, subject: "sub-ana", providerSession: null });
  });

  it("a sign-in of that user under way when the logout comes gets no session", async () => {
    const cyd = await linkedUser("cyd");
    // The sign-in read the user (the provider had just let them in)...
    const seen = cyd.sessionsValidFrom;
    // ...then the provider session ended, before the sign-in's session was made.
    assert.equal((await post(port, form(await logoutToken({ sub: "sub-cyd", sid: "op-cyd-1" })))).status, 200);
    assert.equal(await startSession(db, { userId: cyd.id, method: "oidc", maxAgeMs: HOUR, providerSession: "op-cyd-1", validFromSeen: seen }), undefined);
  });

  it("with sid, ends only the session made from that provider session (and the user's sessions with none recorded)", async () => {
    const cy = await linkedUser("cy");
    const thisOne = await session(cy, "oidc", "op-cy-1");
    const otherOne = await session(cy, "oidc", "op-cy-2");
    const unrecorded = await session(cy, "oidc"); // from before sids were recorded: it may be this one's
    assert.equal((await post(port, form(await logoutToken({ sub: "sub-cy", sid: "op-cy-1" })))).status, 200);
    assert.equal(await ended(thisOne), "signed out at the identity provider");
    assert.equal(await ended(otherOne), false, "another provider session of the same user");
    assert.equal(await ended(unrecorded), "signed out at the identity provider");
  });

  it("with only sid, ends that provider session's sessions among users of this provider", async () => {
    const di = await linkedUser("di");
    const elsewhere = await linkedUser("eve", "https://other-provider.example.com");
    const dis = await session(di, "oidc", "op-shared-name");
    const disOther = await session(di, "oidc", "op-di-2");
    const disUnrecorded = await session(di, "oidc");
    const eves = await session(elsewhere, "oidc", "op-shared-name");
    assert.equal((await post(port, form(await logoutToken({ sub: undefined, sid: "op-shared-name" })))).status, 200);
    assert.equal(await ended(dis), "signed out at the identity provider");
    assert.equal(await ended(disOther), false);
    assert.equal(await ended(disUnrecorded), false, "without sub, a session with no sid cannot be told to be theirs");
    assert.equal(await ended(eves), false, "the same sid from another provider is another session");
  });

  it("ends no session begun after the token was issued (a replay ends nothing new), and takes a token without exp", async () => {
    const fay = await linkedUser("fay");
    const issuedEarlier = await logoutToken({ sub: "sub-fay", iat: now() - 5 * 60, exp: undefined });
    const signedInSince = await session(fay, "oidc", "op-fay-2");
    assert.equal((await post(port, form(issuedEarlier))).status, 200);
    assert.equal(await ended(signedInSince), false);
  });

  it("answers 200 for an account no Atrium user signs in with, ending nothing", async () => {
    const gus = await linkedUser("gus");
    const gusSession = await session(gus, "oidc", "op-gus");
    assert.equal((await post(port, form(await logoutToken({ sub: "sub-nobody-here", sid: "op-gus" })))).status, 200);
    assert.equal(await ended(gusSession), false);
  });

  it("refuses, with 400 and ending nothing, every token that fails a check", async () => {
    const hal = await linkedUser("hal");
    const halSession = await session(hal, "oidc", "op-hal");
    const otherKey = await signingKey("key-1"); // the provider's key id, not its key
    const unknownKey = await signingKey("key-never-published");
    const base = { sub: "sub-hal", sid: "op-hal" };
    const hs256 = await new SignJWT({ ...base, iss: provider.issuer, aud: CLIENT_ID, iat: now(), jti: "j", events: { [LOGOUT_EVENT]: {} } })
      .setProtectedHeader({ alg: "HS256" })
      .sign(new TextEncoder().encode("client-secret-0123456789"));
    const unsigned = [{ alg: "none" }, { ...base, iss: provider.issuer, aud: CLIENT_ID, iat: now(), jti: "j", events: { [LOGOUT_EVENT]: {} } }]
      .map((part) => Buffer.from(JSON.stringify(part)).toString("base64url"))
      .join(".")
      .concat(".");
    const cases: [string, string, RegExp][] = [
      ["signed with another key of the same kid", await logoutToken(base, otherKey), /signature verification failed/],
      ["signed with a key the provider never published", await logoutToken(base, unknownKey), /no applicable key/],
      ["signed with the client secret (HS256)", hs256, /alg/],
      ["not a JWT at all (refused before the provider's keys are fetched)", "x", /not a signed JWT/],
      ["unsigned (alg none)", unsigned, /alg|JWS|not a signed JWT/],
      ["from another issuer", await logoutToken({ ...base, iss: "https://evil.example.com" }), /"iss"/],
      ["for another client", await logoutToken({ ...base, aud: ["someone-else"] }), /"aud"/],
      ["without the logout event", await logoutToken({ ...base, events: undefined }), /events/],
      ["with the old draft's events array", await logoutToken({ ...base, events: [LOGOUT_EVENT] }), /events/],
      ["with another event only", await logoutToken({ ...base, events: { "http://schemas.openid.net/event/other": {} } }), /events/],
      ["with a nonce (an ID token)", await logoutToken({ ...base, nonce: "n-0S6_WzA2Mj" }), /nonce/],
      ["with neither sub nor sid", await logoutToken({ sub: undefined, sid: undefined }), /neither "sub" nor "sid"/],
      ["with a sub that is not a string", await logoutToken({ ...base, sub: 42 }), /"sub"/],
      ["without jti", await logoutToken({ ...base, jti: undefined }), /"jti"/],
      ["without iat", await logoutToken({ ...base, iat: undefined }), /"iat"/],
      ["issued too long ago (10 minutes, and the clock skew)", await logoutToken({ ...base, iat: now() - 13 * 60, exp: now() + 60 }), /"iat"/],
      ["issued in the future", await logoutToken({ ...base, iat: now() + 10 * 60, exp: now() + 12 * 60 }), /"iat"/],
      ["expired", await logoutToken({ ...base, iat: now() - 5 * 60, exp: now() - 3 * 60 }), /"exp"/],
      ["malformed", "not.a-jwt", /JWS|JWT/],
      ["empty", "", /missing/],
    ];
    for (const [what, token, why] of cases) {
      const reply = await post(port, form(token));
      assert.equal(reply.status, 400, `${what}: ${reply.body}`);
      const body = JSON.parse(reply.body) as { error: string; error_description: string };
      assert.equal(body.error, "invalid_request", what);
      assert.match(body.error_description, why, what);
      assert.equal(await ended(halSession), false, `${what} ended the session`);
    }
    // The same checks pass for the same claims, signed right: the cases above failed for their one flaw.
    assert.equal((await post(port, form(await logoutToken(base)))).status, 200);
    assert.equal(await ended(halSession), "signed out at the identity provider");
  });

  it("refuses requests that are not a form POST of one logout_token, and bodies over the cap", async () => {
    const token = await logoutToken({ sub: "sub-nobody" });
    assert.equal((await post(port, "", {}, "GET")).status, 405);
    const json = await post(port, JSON.stringify({ logout_token: token }), { "content-type": "application/json" });
    assert.equal(json.status, 400);
    assert.equal((await post(port, `${form(token)}&${form(token)}`)).status, 400);
    assert.equal((await post(port, form("x".repeat(20_000)))).status, 413);
  });

  it("fetches the keys again when a token names a key it has not seen (the provider rotated its keys)", async () => {
    const ivy = await linkedUser("ivy");
    const ivySession = await session(ivy, "oidc", "op-ivy");
    const key2 = await signingKey("key-2", "ES256");
    provider.keys = [key1.jwk, key2.jwk];
    const fetchesBefore = provider.keyFetches;
    const reply = await post(port, form(await logoutToken({ sub: "sub-ivy" }, key2, "ES256")));
    assert.equal(reply.status, 200, reply.body);
    assert.equal(provider.keyFetches, fetchesBefore + 1);
    assert.equal(await ended(ivySession), "signed out at the identity provider");
    // Known keys come from the cache.
    assert.equal((await post(port, form(await logoutToken({ sub: "sub-nobody" }, key2, "ES256")))).status, 200);
    assert.equal(provider.keyFetches, fetchesBefore + 1);
  });

  it("answers 503 when the provider's keys cannot be fetched (refused, or past the deadline), and 404 without single sign-on", async () => {
    const token = await logoutToken({ sub: "sub-nobody" });
    // Its key set is on a port nothing listens on.
    const refusedAt = provider.jwksUri;
    provider.jwksUri = `http://127.0.0.1:${await closedPort()}/jwks`;
    const unreachable = await post(await mount(provider.issuer, new ProviderKeys(provider.issuer)), form(token));
    assert.equal(unreachable.status, 503, unreachable.body);
    assert.equal(JSON.parse(unreachable.body).error, "temporarily_unavailable");
    // Its key set never answers: the fetch's deadline ends the wait.
    provider.jwksUri = `${provider.issuer}/jwks-never-answers`;
    const startedAt = Date.now();
    const late = await post(await mount(provider.issuer, new ProviderKeys(provider.issuer, { timeoutMs: 300 })), form(token));
    assert.equal(late.status, 503, late.body);
    assert.ok(Date.now() - startedAt < 5_000, "waited past the deadline");
    provider.jwksUri = refusedAt;
    // Its discovery document is unreachable.
    const gone = `http://127.0.0.1:${await closedPort()}`;
    assert.equal((await post(await mount(gone, new ProviderKeys(gone)), form(token))).status, 503);
    // Single sign-on is not configured: there is no such endpoint.
    const { server, port: plain } = await serve(backchannelLogoutRoute({ env: loadEnv({}), db }));
    servers.push(server);
    const notHere = await post(plain, form(token));
    assert.equal(notHere.status, 404);
    assert.equal(JSON.parse(notHere.body).error, "not_found");
  });
});
