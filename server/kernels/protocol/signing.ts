// HMAC signing of Jupyter messages. The signature covers the four JSON frames
// (header, parent_header, metadata, content) in that order, never the buffers.
// An empty key disables signing, as the spec says: signature '' and nothing is checked.
import { createHmac, timingSafeEqual } from 'node:crypto';

export const SUPPORTED_SIGNATURE_SCHEMES = ['hmac-sha256'] as const;
export type SignatureScheme = (typeof SUPPORTED_SIGNATURE_SCHEMES)[number];

export interface Signer {
  /** False when the key is empty: messages go out unsigned and incoming signatures are not checked. */
  readonly enabled: boolean;
  sign(parts: readonly Uint8Array[]): string;
  verify(signature: string, parts: readonly Uint8Array[]): boolean;
}

export function isSupportedScheme(scheme: string): scheme is SignatureScheme {
  return (SUPPORTED_SIGNATURE_SCHEMES as readonly string[]).includes(scheme);
}

/**
 * @param key the connection file's `key`, used as its UTF-8 bytes (as jupyter_client does; it is not hex-decoded).
 * @throws Error for a scheme other than hmac-sha256: that is a configuration error, found once at connect time.
 */
export function createSigner(key: string, scheme: string = 'hmac-sha256'): Signer {
  if (!isSupportedScheme(scheme)) {
    throw new Error(`unsupported signature_scheme "${scheme}" (supported: ${SUPPORTED_SIGNATURE_SCHEMES.join(', ')})`);
  }
  if (key === '') return UNSIGNED;
  const keyBytes = Buffer.from(key, 'utf8');

  const sign = (parts: readonly Uint8Array[]): string => {
    const hmac = createHmac('sha256', keyBytes);
    for (const part of parts) hmac.update(part);
    return hmac.digest('hex');
  };

  return {
    enabled: true,
    sign,
    verify(signature, parts) {
      const expected = Buffer.from(sign(parts), 'utf8');
      const actual = Buffer.from(signature, 'utf8');
      // timingSafeEqual needs equal lengths; a length mismatch leaks nothing useful (the length is public).
      return actual.length === expected.length && timingSafeEqual(actual, expected);
    },
  };
}

const UNSIGNED: Signer = {
  enabled: false,
  sign: () => '',
  verify: () => true,
};
