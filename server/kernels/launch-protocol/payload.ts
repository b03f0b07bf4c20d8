// Pure decoding of what a kernel launcher sends to the response address: envelope -> decrypt -> validate ->
// LaunchedConnectionInfo. No sockets and no state here (matching, tokens and replays: launch-registry.ts).
// The launcher's half is kernel-launchers/python/atrium_launcher/crypto.py; the spec is kernel-launchers/README.md.
// Touch this file together with those two, and regenerate fixtures/python-vectors.json.
import { constants, createDecipheriv, createHmac, createPublicKey, diffieHellman, hkdfSync, privateDecrypt } from 'node:crypto';
import type { KeyObject } from 'node:crypto';
import { z } from 'zod';

import { LaunchPayloadError } from './errors';
import { x25519RawPublic } from './keys';
import { CURVE_KEY } from '../connection';

export const PROTOCOL_V1 = 1;
export const PROTOCOL_V2 = 2;
export type LaunchProtocolVersion = typeof PROTOCOL_V1 | typeof PROTOCOL_V2;

/** Larger than any real payload (~1 KB); bounds what a stranger can make us buffer and parse. */
export const MAX_PAYLOAD_BYTES = 64 * 1024;

const V2_LABEL = 'atrium-launch/2';

// --- envelopes (what arrives on the wire) ---

const b64url = (len?: number) =>
  z
    .string()
    .regex(/^[A-Za-z0-9_-]+$/)
    .refine((s) => len === undefined || Buffer.from(s, 'base64url').length === len, `must decode to ${len} bytes`);
const kernelIdSchema = z.string().regex(/^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$/);

const v2EnvelopeSchema = z.object({
  version: z.literal(PROTOCOL_V2),
  kernel_id: kernelIdSchema,
  token_id: b64url(16),
  epk: b64url(32),
  nonce: b64url(12),
  ciphertext: b64url().refine((s) => Buffer.from(s, 'base64url').length > 16, 'shorter than the GCM tag'),
});
const v1EnvelopeSchema = z.object({
  version: z.literal(PROTOCOL_V1),
  key: z.string().min(1),
  conn_info: z.string().min(1),
});

export type V2Envelope = z.infer<typeof v2EnvelopeSchema>;
export type V1Envelope = z.infer<typeof v1EnvelopeSchema>;
export type LaunchEnvelope = V1Envelope | V2Envelope;

/**
 * Raw bytes -> a typed envelope. v2 arrives as JSON; v1 (JEG) as base64 of JSON; either form is accepted for
 * either version. Throws LaunchPayloadError (MALFORMED_PAYLOAD | UNSUPPORTED_VERSION).
 */
export function parseEnvelope(raw: Buffer | string): LaunchEnvelope {
  const bytes = typeof raw === 'string' ? Buffer.from(raw, 'utf8') : raw;
  if (bytes.length === 0 || bytes.length > MAX_PAYLOAD_BYTES) {
    throw new LaunchPayloadError('MALFORMED_PAYLOAD', `payload of ${bytes.length} bytes is empty or too large`);
  }
  let text = bytes.toString('utf8').trim();
  if (!text.startsWith('{')) text = Buffer.from(text, 'base64').toString('utf8');
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    throw new LaunchPayloadError('MALFORMED_PAYLOAD', 'payload is neither JSON nor base64 JSON');
  }
  const version = (json as { version?: unknown } | null)?.version;
  const schema = version === PROTOCOL_V2 ? v2EnvelopeSchema : version === PROTOCOL_V1 ? v1EnvelopeSchema : null;
  if (!schema) {
    // JEG's legacy "version 0" (AES keyed by the kernel id itself) is deliberately not accepted.
    throw new LaunchPayloadError('UNSUPPORTED_VERSION', `payload version ${JSON.stringify(version)} is not 1 or 2`);
  }
  const parsed = schema.safeParse(json);
  if (!parsed.success) {
    throw new LaunchPayloadError('MALFORMED_PAYLOAD', `v${version} envelope invalid: ${summarize(parsed.error)}`);
  }
  return parsed.data;
}

// --- connection info (what is inside) ---

const port = z.number().int().min(1).max(65535);
const wireConnectionInfoSchema = z.object({
  shell_port: port,
  iopub_port: port,
  stdin_port: port,
  control_port: port,
  hb_port: port,
  ip: z.string().min(1).max(255),
  key: z.string().max(1024),
  transport: z.literal('tcp').default('tcp'),
  signature_scheme: z.string().default('hmac-sha256'),
  kernel_name: z.string().optional(),
  kernel_id: kernelIdSchema,
  pid: z.number().int().positive(),
  pgid: z.number().int().nonnegative(),
  comm_port: z.number().int().min(0).max(65535),
  hostname: z.string().max(255).optional(),
  host_ip: z.string().max(255).optional(),
  token_id: z.string().optional(),
  /** The kernel's CURVE public key (Z85): its sockets encrypt (Atrium's launcher, over v2). */
  curve_server_key: CURVE_KEY.optional(),
});

export interface KernelConnection {
  transport: 'tcp';
  /** The address the kernel bound (often 0.0.0.0: connect to hostIp or the peer address instead). */
  ip: string;
  shellPort: number;
  iopubPort: number;
  stdinPort: number;
  controlPort: number;
  hbPort: number;
  key: string;
  signatureScheme: string;
  /** Set when the kernel's sockets are CURVE servers: connect as CURVE clients. */
  curveServerKey?: string;
}

interface LaunchedBase {
  kernelId: string;
  connection: KernelConnection;
  /** Of the launcher = the kernel process (it runs the kernel in-process). */
  pid: number;
  pgid: number;
  /** 0 when the launcher serves no communication port. */
  commPort: number;
  hostname?: string;
  /** The launcher's own idea of the address that routes to us. */
  hostIp?: string;
  /** The TCP peer the payload came from (set by the response listener). */
  peerAddress?: string;
}
export interface LaunchedConnectionInfoV1 extends LaunchedBase {
  protocolVersion: typeof PROTOCOL_V1;
}
export interface LaunchedConnectionInfoV2 extends LaunchedBase {
  protocolVersion: typeof PROTOCOL_V2;
  /** Per-launch key for the comm port's request MAC. Secret: store encrypted, never log. */
  commKey: Buffer;
}
export type LaunchedConnectionInfo = LaunchedConnectionInfoV1 | LaunchedConnectionInfoV2;

function toConnectionInfo(plaintext: Buffer, kernelIdHint?: string): LaunchedBase & { tokenId?: string } {
  let json: unknown;
  try {
    json = JSON.parse(plaintext.toString('utf8'));
  } catch {
    throw new LaunchPayloadError('INVALID_CONNECTION_INFO', 'decrypted connection info is not JSON', kernelIdHint);
  }
  const parsed = wireConnectionInfoSchema.safeParse(json);
  if (!parsed.success) {
    throw new LaunchPayloadError(
      'INVALID_CONNECTION_INFO',
      `connection info invalid: ${summarize(parsed.error)}`,
      kernelIdHint,
    );
  }
  const w = parsed.data;
  if (w.signature_scheme !== 'hmac-sha256') {
    throw new LaunchPayloadError(
      'INVALID_CONNECTION_INFO',
      `signature_scheme ${w.signature_scheme} is not supported (hmac-sha256 only)`,
      w.kernel_id,
    );
  }
  return {
    kernelId: w.kernel_id,
    connection: {
      transport: w.transport,
      ip: w.ip,
      shellPort: w.shell_port,
      iopubPort: w.iopub_port,
      stdinPort: w.stdin_port,
      controlPort: w.control_port,
      hbPort: w.hb_port,
      key: w.key,
      signatureScheme: w.signature_scheme,
      ...(w.curve_server_key !== undefined && { curveServerKey: w.curve_server_key }),
    },
    pid: w.pid,
    pgid: w.pgid,
    commPort: w.comm_port,
    ...(w.hostname !== undefined && { hostname: w.hostname }),
    ...(w.host_ip !== undefined && { hostIp: w.host_ip }),
    ...(w.token_id !== undefined && { tokenId: w.token_id }),
  };
}

// --- v2 ---

export interface V2Expectation {
  /** The X25519 private key whose public half this launch was given. */
  privateKey: KeyObject;
  kernelId: string;
  launchToken: string;
  tokenId: string;
}

export function v2Aad(env: Pick<V2Envelope, 'kernel_id' | 'token_id' | 'epk' | 'nonce'>): Buffer {
  return Buffer.from([V2_LABEL, env.kernel_id, env.token_id, env.epk, env.nonce].join('|'), 'utf8');
}

export function deriveV2Keys(
  shared: Buffer,
  launchToken: string,
  kernelId: string,
  epkRaw: Buffer,
  serverRaw: Buffer,
): { aesKey: Buffer; commKey: Buffer } {
  const info = Buffer.concat([Buffer.from(`${V2_LABEL}\0${kernelId}\0`, 'utf8'), epkRaw, serverRaw]);
  const okm = Buffer.from(hkdfSync('sha256', shared, Buffer.from(launchToken, 'utf8'), info, 64));
  return { aesKey: okm.subarray(0, 32), commKey: okm.subarray(32, 64) };
}

/** Decrypt and check a v2 envelope against the launch it claims to answer. */
export function openV2(env: V2Envelope, expected: V2Expectation): LaunchedConnectionInfoV2 {
  if (env.kernel_id !== expected.kernelId || env.token_id !== expected.tokenId) {
    throw new LaunchPayloadError(
      'KERNEL_ID_MISMATCH',
      `payload names kernel ${env.kernel_id}, but its token was issued for kernel ${expected.kernelId}`,
      expected.kernelId,
    );
  }
  const forged = () =>
    new LaunchPayloadError(
      'FORGED_PAYLOAD',
      `payload for kernel ${expected.kernelId} failed authentication (tampered, or not sealed with this launch's key and token)`,
      expected.kernelId,
    );
  const epkRaw = Buffer.from(env.epk, 'base64url');
  let shared: Buffer;
  try {
    const epk = createPublicKey({ key: { kty: 'OKP', crv: 'X25519', x: env.epk }, format: 'jwk' });
    shared = diffieHellman({ privateKey: expected.privateKey, publicKey: epk });
  } catch {
    throw forged();
  }
  if (shared.every((b) => b === 0)) throw forged(); // low-order point: the "shared" secret is public
  const { aesKey, commKey } = deriveV2Keys(
    shared,
    expected.launchToken,
    env.kernel_id,
    epkRaw,
    x25519RawPublic(expected.privateKey),
  );
  const sealed = Buffer.from(env.ciphertext, 'base64url');
  let plaintext: Buffer;
  try {
    const decipher = createDecipheriv('aes-256-gcm', aesKey, Buffer.from(env.nonce, 'base64url'));
    decipher.setAAD(v2Aad(env));
    decipher.setAuthTag(sealed.subarray(sealed.length - 16));
    plaintext = Buffer.concat([decipher.update(sealed.subarray(0, sealed.length - 16)), decipher.final()]);
  } catch {
    throw forged();
  }
  const info = toConnectionInfo(plaintext, expected.kernelId);
  if (info.kernelId !== expected.kernelId || info.tokenId !== expected.tokenId) {
    throw new LaunchPayloadError(
      'KERNEL_ID_MISMATCH',
      `sealed connection info names kernel ${info.kernelId}, expected ${expected.kernelId}`,
      expected.kernelId,
    );
  }
  const { tokenId: _tokenId, ...rest } = info;
  return { ...rest, protocolVersion: PROTOCOL_V2, commKey: Buffer.from(commKey) };
}

// --- v1 (JEG) ---

/**
 * Decrypt JEG's version-1 payload: RSA PKCS#1 v1.5 key transport + AES-ECB. Node 20 refuses PKCS#1 v1.5 in
 * privateDecrypt (Marvin attack, CVE-2023-46809), so the padding is checked here with implicit rejection: a bad
 * padding yields a key derived from the ciphertext instead of an early error, so every failure looks the same
 * (FORGED_PAYLOAD after the AES step) and the listener is no padding oracle. The kernel id is only known after
 * decryption; the registry checks it against its pending launches.
 */
export function openV1(env: V1Envelope, privateKey: KeyObject): LaunchedConnectionInfoV1 {
  const forged = () =>
    new LaunchPayloadError('FORGED_PAYLOAD', 'v1 payload could not be decrypted with this server key');
  const encryptedKey = Buffer.from(env.key, 'base64');
  let em: Buffer;
  try {
    em = privateDecrypt({ key: privateKey, padding: constants.RSA_NO_PADDING }, encryptedKey);
  } catch {
    throw forged();
  }
  const aesKey = pkcs1v15KeyOrImplicit(em, privateKey, encryptedKey);
  let plaintext: Buffer;
  try {
    const decipher = createDecipheriv(`aes-${aesKey.length * 8}-ecb`, aesKey, null);
    plaintext = Buffer.concat([decipher.update(Buffer.from(env.conn_info, 'base64')), decipher.final()]);
  } catch {
    throw forged();
  }
  try {
    return { ...stripTokenId(toConnectionInfo(plaintext)), protocolVersion: PROTOCOL_V1 };
  } catch (err) {
    // With an implicit-rejection key the "plaintext" is noise: report it as forged, like a bad AES padding.
    if (err instanceof LaunchPayloadError && err.code === 'INVALID_CONNECTION_INFO' && !looksLikeJson(plaintext)) {
      throw forged();
    }
    throw err;
  }
}

function stripTokenId(info: LaunchedBase & { tokenId?: string }): LaunchedBase {
  const { tokenId: _tokenId, ...rest } = info;
  return rest;
}

function looksLikeJson(plaintext: Buffer): boolean {
  return plaintext.length > 0 && plaintext[0] === 0x7b; // '{'
}

/** EM = 00 02 PS(>=8 non-zero) 00 K, |K| in {16, 24, 32}; otherwise a pseudo-random 16-byte key. */
function pkcs1v15KeyOrImplicit(em: Buffer, privateKey: KeyObject, ciphertext: Buffer): Buffer {
  // No data-dependent early exit while scanning (best effort in JS; the implicit key is what matters).
  let separator = 0;
  for (let i = 2; i < em.length; i++) {
    const isZero = em[i] === 0 ? 1 : 0;
    separator = separator === 0 && isZero ? i : separator;
  }
  const keyLength = em.length - separator - 1;
  const good =
    em[0] === 0 && em[1] === 2 && separator >= 10 && (keyLength === 16 || keyLength === 24 || keyLength === 32);
  const implicit = createHmac('sha256', implicitRejectionSecret(privateKey)).update(ciphertext).digest().subarray(0, 16);
  return good ? em.subarray(separator + 1) : implicit;
}

const implicitSecrets = new WeakMap<KeyObject, Buffer>();
function implicitRejectionSecret(privateKey: KeyObject): Buffer {
  let secret = implicitSecrets.get(privateKey);
  if (!secret) {
    const der = privateKey.export({ type: 'pkcs8', format: 'der' });
    secret = createHmac('sha256', 'atrium-v1-implicit-rejection').update(der).digest();
    implicitSecrets.set(privateKey, secret);
  }
  return secret;
}

function summarize(error: z.ZodError): string {
  return error.issues
    .slice(0, 3)
    .map((i) => `${i.path.join('.') || '(root)'}: ${i.message}`)
    .join('; ');
}
