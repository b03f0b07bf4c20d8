// Seals small secrets at rest (kernel connection keys, launcher comm keys) with AES-256-GCM under a key
// derived from ATRIUM_SECRET. Authenticated: a tampered or foreign value fails to open instead of decrypting
// to garbage. The "v1." prefix leaves room to rotate the scheme.
import { createCipheriv, createDecipheriv, hkdfSync, randomBytes } from "node:crypto";

const PREFIX = "v1.";

function keyFor(secret: string): Buffer {
  return Buffer.from(hkdfSync("sha256", Buffer.from(secret, "utf8"), Buffer.alloc(0), "atrium/secret-box/v1", 32));
}

export function seal(secret: string, plaintext: string): string {
  const iv = randomBytes(12);
  const cipher = createCipheriv("aes-256-gcm", keyFor(secret), iv);
  const body = Buffer.concat([cipher.update(plaintext, "utf8"), cipher.final()]);
  return PREFIX + Buffer.concat([iv, cipher.getAuthTag(), body]).toString("base64url");
}

export class SealError extends Error {}

export function open(secret: string, sealed: string): string {
  if (!sealed.startsWith(PREFIX)) throw new SealError("not a sealed value");
  const raw = Buffer.from(sealed.slice(PREFIX.length), "base64url");
  if (raw.length < 28) throw new SealError("sealed value is truncated");
  const decipher = createDecipheriv("aes-256-gcm", keyFor(secret), raw.subarray(0, 12));
  decipher.setAuthTag(raw.subarray(12, 28));
  try {
    return Buffer.concat([decipher.update(raw.subarray(28)), decipher.final()]).toString("utf8");
  } catch {
    throw new SealError("sealed value does not open with this ATRIUM_SECRET (changed secret, or tampered)");
  }
}
