// Server-side keys for the launch protocol, and the one-time launch tokens.
//
// v2 (Atrium): X25519, one key pair PER LAUNCH by default. Generation costs ~0.1 ms and the private key is
// dropped once the launch settles, so a leaked process memory dump cannot open earlier launches' payloads.
// v1 (JEG): RSA, one key pair PER PROCESS (generation takes 50-200 ms), 2048 bits instead of JEG's 1024.
// The `{public_key}` a launcher receives is base64 DER SubjectPublicKeyInfo for both: JEG's stripped-PEM form.
import { createHash, createPrivateKey, createPublicKey, generateKeyPair, generateKeyPairSync, randomBytes } from 'node:crypto';
import type { KeyObject } from 'node:crypto';
import { promisify } from 'node:util';

export type LaunchKeyKind = 'x25519' | 'rsa';

export interface LaunchKeyPair {
  readonly kind: LaunchKeyKind;
  /** base64 DER SubjectPublicKeyInfo: the launcher's `--public-key`. */
  readonly publicKey: string;
  readonly privateKey: KeyObject;
}

const generateKeyPairAsync = promisify(generateKeyPair);

function spkiBase64(key: KeyObject): string {
  return key.export({ type: 'spki', format: 'der' }).toString('base64');
}

export function generateX25519KeyPair(): LaunchKeyPair {
  const { publicKey, privateKey } = generateKeyPairSync('x25519');
  return { kind: 'x25519', publicKey: spkiBase64(publicKey), privateKey };
}

export async function generateRsaKeyPair(modulusLength = 2048): Promise<LaunchKeyPair> {
  const { publicKey, privateKey } = await generateKeyPairAsync('rsa', { modulusLength, publicExponent: 0x10001 });
  return { kind: 'rsa', publicKey: spkiBase64(publicKey), privateKey };
}

/** For fixtures and persisted keys: a base64 PKCS#8 DER private key. */
export function importPrivateKeyPkcs8(base64Der: string): LaunchKeyPair {
  const privateKey = createPrivateKey({ key: Buffer.from(base64Der, 'base64'), format: 'der', type: 'pkcs8' });
  const kind = privateKey.asymmetricKeyType;
  if (kind !== 'x25519' && kind !== 'rsa') throw new Error(`unsupported launch key type: ${kind}`);
  return { kind, publicKey: spkiBase64(createPublicKey(privateKey)), privateKey };
}

/** The raw 32 bytes of an X25519 key (public, or the public half of a private key). */
export function x25519RawPublic(key: KeyObject): Buffer {
  const jwk = (key.type === 'private' ? createPublicKey(key) : key).export({ format: 'jwk' });
  if (typeof jwk.x !== 'string') throw new Error('not an X25519 key');
  return Buffer.from(jwk.x, 'base64url');
}

/** A fresh one-time launch token: 32 random bytes, base64url (43 characters). */
export function issueLaunchToken(): string {
  // A fixed first letter: a base64url token may begin with "-", which a launcher's argument parser would read
  // as an option ("--launch-token: expected one argument"), failing about one launch in 64.
  return 't' + randomBytes(32).toString('base64url');
}

/** The public handle of a token (what travels in the clear); must match atrium_launcher/crypto.py token_id. */
export function launchTokenId(token: string): string {
  return createHash('sha256')
    .update(Buffer.concat([Buffer.from('atrium-launch-token/2\0', 'utf8'), Buffer.from(token, 'utf8')]))
    .digest()
    .subarray(0, 16)
    .toString('base64url');
}

export interface ServerKeysOptions {
  /** 'launch' (default): a new X25519 pair per launch. 'process': one pair for the process's lifetime. */
  v2KeyScope?: 'launch' | 'process';
  rsaModulusLength?: number;
  /** Use these pairs instead of generating (test vectors; keys restored from storage). */
  fixed?: { v1?: LaunchKeyPair; v2?: LaunchKeyPair };
}

/** The portal process's key source. One per process (the response listener owns it). */
export class ServerKeys {
  private rsa?: Promise<LaunchKeyPair>;
  private rsaReady?: LaunchKeyPair;
  private processV2?: LaunchKeyPair;

  constructor(private readonly options: ServerKeysOptions = {}) {
    const { v1, v2 } = options.fixed ?? {};
    if (v1?.kind === 'x25519' || v2?.kind === 'rsa') throw new Error('fixed launch keys of the wrong kind');
    if (v1) {
      this.rsa = Promise.resolve(v1);
      this.rsaReady = v1;
    }
    this.processV2 = v2;
  }

  /** The key pair to hand to a v2 launch. */
  forV2Launch(): LaunchKeyPair {
    if (this.options.fixed?.v2) return this.options.fixed.v2;
    if (this.options.v2KeyScope === 'process') return (this.processV2 ??= generateX25519KeyPair());
    return generateX25519KeyPair();
  }

  /** The process's RSA key pair for v1 (JEG) launches, generated on first use. */
  forV1Launch(): Promise<LaunchKeyPair> {
    return (this.rsa ??= generateRsaKeyPair(this.options.rsaModulusLength ?? 2048).then((pair) => {
      this.rsaReady = pair;
      return pair;
    }));
  }

  /** The v1 key pair if a v1 launch ever asked for it (payloads can only be sealed to a key that was handed out). */
  v1IfGenerated(): LaunchKeyPair | undefined {
    return this.rsaReady;
  }
}
