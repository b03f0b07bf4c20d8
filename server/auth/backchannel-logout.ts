// OpenID Connect Back-Channel Logout 1.0 (https://openid.net/specs/openid-connect-backchannel-1_0.html): when someone
// signs out at the single sign-on provider (or an admin there ends their sessions), the provider POSTs a signed logout
// token to /api/sso/backchannel-logout and the Atrium sessions made from that provider session end, on every replica
// at once (sessions are rows). Three parts: the provider's keys (discovery document → JWKS, cached), the token's
// checks (§2.6), and the route. Not under /api/auth/: that path is next-auth's.
import type http from "node:http";
import { createRemoteJWKSet, errors, jwtVerify, type JWTPayload, type JWTVerifyGetKey } from "jose";
import type { Database } from "@/db";
import { AppError, httpStatusOf, isAppError } from "@/server/errors";
import { log } from "@/server/log";
import type { ServerExtra } from "@/server/main";
import type { Services } from "@/server/services";
import { endSessionsAtProviderLogout } from "./sessions";

/** The back-channel logout URI to register at the provider: `<portal URL>/api/sso/backchannel-logout`. */
export const BACKCHANNEL_LOGOUT_PATH = "/api/sso/backchannel-logout";
const LOGOUT_EVENT = "http://schemas.openid.net/event/backchannel-logout";
/** A logout token is well under a KiB; a few KiB allow for long key ids and extra claims. */
const MAX_BODY_BYTES = 16 * 1024;
/** How far the provider's clock and this host's may differ, in seconds. */
const CLOCK_SKEW_S = 120;
/** A token issued longer ago than this (and the clock skew) is refused whatever its `exp` (the spec makes `exp` optional). */
const MAX_TOKEN_AGE_S = 600;
/** The algorithms of published (public) keys: never `none`, nor HS* (the client secret, which is not a provider key). */
const ALGORITHMS = ["RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384", "ES512", "EdDSA", "Ed25519"];
/** The discovery document is read again after this long, in case the provider moved its keys. */
const DISCOVERY_MAX_AGE_MS = 24 * 3_600_000;
/** See ProviderKeysOptions.failureHoldMs. */
const DISCOVERY_FAILURE_HOLD_MS = 5_000;
/** Keys are fetched again after this long even when none is unknown, so a key the provider withdrew stops working. */
const KEYS_MAX_AGE_MS = 10 * 60_000;

export interface ProviderKeysOptions {
  /** The deadline of each fetch (discovery document, key set). */
  timeoutMs?: number;
  /**
   * After a fetch of the keys, a token naming an unknown key does not fetch them again for this long: made-up key ids
   * must not become a flood of requests to the provider. Tests shorten it.
   */
  refetchCooldownMs?: number;
  /** How long a failed discovery or key fetch is answered from memory (503) before it is tried again. */
  failureHoldMs?: number;
}

interface Found {
  /** The issuer identifier as the provider's tokens carry it (its discovery document's). */
  issuer: string;
  getKey: JWTVerifyGetKey;
}

/**
 * The configured provider's issuer identifier and signing keys: its discovery document names the key set (JWKS), both
 * are cached, and a token signed with a key not in the cached set fetches the set again (the provider rotated its
 * keys). A fetch that fails or passes its deadline is an UNAVAILABLE AppError (503), never a refused token.
 */
export class ProviderKeys {
  #found: Promise<Found> | undefined;
  #foundAt = 0;

  constructor(
    readonly configuredIssuer: string,
    private readonly options: ProviderKeysOptions = {},
  ) {}

  current(): Promise<Found> {
    if (!this.#found || Date.now() - this.#foundAt > DISCOVERY_MAX_AGE_MS) {
      let found: Promise<Found> | undefined;
      const forget = () => {
        if (this.#found === found) this.#found = undefined;
      };
      found = this.#discover(forget);
      this.#found = found;
      this.#foundAt = Date.now();
      // A failed discovery is tried again, but not by every request in the meantime (they answer 503 at once).
      found.catch(() => setTimeout(forget, this.options.failureHoldMs ?? DISCOVERY_FAILURE_HOLD_MS).unref());
    }
    return this.#found;
  }

  /** `forget`: the keys could not be fetched, so discover again next time (the provider may have moved them). */
  async #discover(forget: () => void): Promise<Found> {
    const timeoutMs = this.options.timeoutMs ?? 5_000;
    const url = discoveryUrl(this.configuredIssuer);
    let document: unknown;
    try {
      const response = await fetch(url, { headers: { accept: "application/json" }, signal: AbortSignal.timeout(timeoutMs) });
      if (response.status !== 200) throw new Error(`HTTP ${response.status}`);
      document = await response.json();
    } catch (error) {
      throw unavailable(`the provider's discovery document ${url} could not be read: ${describe(error)}`);
    }
    const { issuer, jwks_uri: jwksUri } = (document ?? {}) as { issuer?: unknown; jwks_uri?: unknown };
    // As Auth.js checks at sign-in: the document's issuer is the configured one, up to URL normalisation.
    if (typeof issuer !== "string" || !sameUrl(issuer, this.configuredIssuer)) {
      throw unavailable(`the provider's discovery document ${url} names the issuer ${JSON.stringify(issuer)}, not ATRIUM_OIDC_ISSUER`);
    }
    if (typeof jwksUri !== "string" || !/^https?:\/\//.test(jwksUri) || !URL.canParse(jwksUri)) {
      throw unavailable(`the provider's discovery document ${url} has no usable jwks_uri`);
    }
    const remote = createRemoteJWKSet(new URL(jwksUri), {
      timeoutDuration: timeoutMs,
      cooldownDuration: this.options.refetchCooldownMs ?? 30_000,
      cacheMaxAge: KEYS_MAX_AGE_MS,
    });
    const getKey: JWTVerifyGetKey = async (header, token) => {
      try {
        return await remote(header, token);
      } catch (error) {
        // No key (or several) for the token's kid and alg, even after fetching again: the token's fault.
        if (error instanceof errors.JWKSNoMatchingKey || error instanceof errors.JWKSMultipleMatchingKeys || error instanceof errors.JOSENotSupported) throw error;
        // Anything else is the fetch's (unreachable, late, not 200, not a key set).
        setTimeout(forget, this.options.failureHoldMs ?? DISCOVERY_FAILURE_HOLD_MS).unref(); // discover again, later
        throw unavailable(`the provider's keys could not be fetched from ${jwksUri}: ${describe(error)}`);
      }
    };
    return { issuer, getKey };
  }
}

/** What a valid logout token asks: end the sessions of `subject`, or of `providerSession`, or of both together. */
export interface LogoutRequest {
  issuer: string;
  subject?: string;
  providerSession?: string;
  jti: string;
  issuedAt: Date;
}

/**
 * Checks a logout token as §2.6 says: a JWT signed with one of the provider's keys, from its issuer, for this client
 * (`aud`), issued lately (`iat`, and `exp` when present, with clock skew), with a `jti`, the back-channel logout event,
 * no `nonce`, and `sub` or `sid`. Throws a BAD_REQUEST AppError saying what is wrong (never the token), or the keys'
 * UNAVAILABLE.
 */
export async function verifyLogoutToken(token: string | undefined, params: { keys: ProviderKeys; clientId: string; now?: Date }): Promise<LogoutRequest> {
  if (!token) throw invalid("the logout_token parameter is missing");
  // Before the keys are fetched: a request that cannot be a signed JWT costs the provider nothing.
  if (!/^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+$/.test(token)) throw invalid("the logout_token is not a signed JWT (compact form)");
  const { issuer, getKey } = await params.keys.current();
  let claims: JWTPayload;
  try {
    ({ payload: claims } = await jwtVerify(token, getKey, {
      issuer,
      audience: params.clientId,
      algorithms: ALGORITHMS,
      clockTolerance: CLOCK_SKEW_S,
      maxTokenAge: MAX_TOKEN_AGE_S,
      requiredClaims: ["iat", "jti"],
      currentDate: params.now,
    }));
  } catch (error) {
    if (isAppError(error)) throw error;
    // jose's messages name the check that failed (a claim, the signature, the format), never a value.
    if (error instanceof errors.JOSEError) throw invalid(error.message);
    throw error;
  }
  const events = claims.events;
  if (!isObject(events) || !isObject(events[LOGOUT_EVENT])) throw invalid(`"events" does not hold the member ${LOGOUT_EVENT}`);
  // An ID token has a nonce, a logout token never: this keeps an ID token from being taken for one.
  if ("nonce" in claims) throw invalid('a logout token must not have a "nonce" claim');
  if (typeof claims.jti !== "string" || !claims.jti) throw invalid('"jti" is not a string');
  const subject = optionalString(claims, "sub");
  const providerSession = optionalString(claims, "sid");
  if (subject === undefined && providerSession === undefined) throw invalid('neither "sub" nor "sid" is present');
  return { issuer: claims.iss!, subject, providerSession, jti: claims.jti, issuedAt: new Date(claims.iat! * 1000) };
}

/** Ends what a verified logout token asks (see endSessionsAtProviderLogout); how many sessions ended. */
export async function applyLogout(db: Database, logout: LogoutRequest): Promise<number> {
  return endSessionsAtProviderLogout(
    db,
    { id: null, label: `oidc ${logout.issuer}` },
    {
      issuer: logout.issuer,
      subject: logout.subject,
      providerSession: logout.providerSession,
      // Sessions begun by the logout, by the provider's clock give or take the skew; none made since.
      startedBy: new Date(logout.issuedAt.getTime() + CLOCK_SKEW_S * 1000),
    },
  );
}

/**
 * POST /api/sso/backchannel-logout, `logout_token` in a form body. 200 when processed (also when no session was
 * open), 400 `invalid_request` for a token that fails a check, 404 when single sign-on is not configured (there is no
 * such endpoint then), 503 when the provider's keys cannot be fetched. Never throws.
 */
export function backchannelLogoutRoute(services: Pick<Services, "env" | "db">, options: { keys?: ProviderKeys } = {}): ServerExtra {
  const { ATRIUM_OIDC_ISSUER: issuer, ATRIUM_OIDC_CLIENT_ID: clientId } = services.env;
  const keys = issuer && clientId ? (options.keys ?? new ProviderKeys(issuer)) : undefined;
  async function handle(req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
    if (!keys || !clientId) return reply(res, 404, "not_found", "Single sign-on is not configured on this portal.");
    if (req.method !== "POST") return reply(res, 405, "invalid_request", "Use POST.", { allow: "POST" });
    if (!/^application\/x-www-form-urlencoded\s*(;|$)/i.test(String(req.headers["content-type"] ?? ""))) {
      return reply(res, 400, "invalid_request", "Send logout_token as application/x-www-form-urlencoded.");
    }
    const form = await readForm(req);
    if (!form) return reply(res, 413, "invalid_request", `The request body is larger than ${MAX_BODY_BYTES / 1024} KiB.`, { connection: "close" });
    const tokens = form.getAll("logout_token");
    if (tokens.length > 1) return reply(res, 400, "invalid_request", "logout_token is given more than once.");
    const logout = await verifyLogoutToken(tokens[0], { keys, clientId });
    const ended = await applyLogout(services.db, logout);
    const who = logout.subject !== undefined ? `sub ${logout.subject}` : "no sub";
    log.info(`back-channel logout from ${logout.issuer} (${who}, ${logout.providerSession !== undefined ? "with" : "no"} sid, jti ${logout.jti}): ${ended} session(s) ended`);
    res.writeHead(200, { "cache-control": "no-store" });
    res.end();
  }
  return {
    async http(req, res, url) {
      if (url.pathname !== BACKCHANNEL_LOGOUT_PATH) return false;
      await handle(req, res).catch((error: unknown) => answerError(res, error));
      return true;
    },
  };
}

function answerError(res: http.ServerResponse, error: unknown) {
  try {
    if (isAppError(error) && error.code === "BAD_REQUEST") {
      log.warn(`back-channel logout refused: ${error.message}`);
      reply(res, 400, "invalid_request", `The logout token was refused: ${error.message}.`);
    } else if (isAppError(error) && error.code === "UNAVAILABLE") {
      log.error(`back-channel logout: ${String(error.details?.cause ?? error.message)}`);
      reply(res, httpStatusOf(error), "temporarily_unavailable", error.message, { "retry-after": "30" });
    } else {
      log.error("back-channel logout failed", error);
      reply(res, 500, "server_error", "The logout could not be processed; the details are in the portal's log.");
    }
  } catch {
    res.destroy(); // the reply itself failed (the client went away): nothing more to say
  }
}

function reply(res: http.ServerResponse, status: number, error: string, description: string, headers: Record<string, string> = {}): void {
  if (res.headersSent) {
    res.destroy();
    return;
  }
  const text = JSON.stringify({ error, error_description: description });
  res.writeHead(status, {
    "content-type": "application/json; charset=utf-8",
    "content-length": String(Buffer.byteLength(text)),
    "cache-control": "no-store",
    ...headers,
  });
  res.end(text);
}

/** The form body, or undefined when it is larger than MAX_BODY_BYTES (it is not read further). */
async function readForm(req: http.IncomingMessage): Promise<URLSearchParams | undefined> {
  if (Number(req.headers["content-length"] ?? 0) > MAX_BODY_BYTES) return undefined;
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req as AsyncIterable<Buffer>) {
    size += chunk.length;
    if (size > MAX_BODY_BYTES) return undefined;
    chunks.push(chunk);
  }
  return new URLSearchParams(Buffer.concat(chunks).toString("utf8"));
}

const invalid = (why: string) => new AppError("BAD_REQUEST", why);

function unavailable(why: string) {
  return new AppError("UNAVAILABLE", "Atrium could not fetch the identity provider's signing keys; try again later.", { cause: why });
}

/** The discovery document's URL, as Auth.js forms it from the issuer (a path is kept). */
function discoveryUrl(issuer: string): string {
  const url = new URL(issuer);
  url.pathname = `${url.pathname.replace(/\/$/, "")}/.well-known/openid-configuration`;
  return url.href;
}

function sameUrl(a: string, b: string): boolean {
  return URL.canParse(a) && URL.canParse(b) && new URL(a).href === new URL(b).href;
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

function optionalString(claims: JWTPayload, name: "sub" | "sid"): string | undefined {
  const value = claims[name];
  if (value === undefined) return undefined;
  if (typeof value !== "string" || !value) throw invalid(`"${name}" is not a non-empty string`);
  return value;
}

function describe(error: unknown): string {
  if (!(error instanceof Error)) return String(error);
  const cause = error.cause instanceof Error ? ` (${error.cause.message})` : "";
  return `${error.name}: ${error.message}${cause}`;
}
