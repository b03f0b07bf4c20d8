// Loads the committed cross-language vectors (made by the Python launcher's own crypto; see
// kernel-launchers/python/tests/make_fixture.py). Test-only keys.
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

import { importPrivateKeyPkcs8, ServerKeys } from './keys';
import type { LaunchKeyPair } from './keys';

interface WireConnInfo extends Record<string, unknown> {
  kernel_id: string;
  shell_port: number;
  key: string;
  comm_port: number;
}

export interface PythonVectors {
  v2: {
    serverPrivateKeyPkcs8: string;
    serverPublicKey: string;
    kernelId: string;
    launchToken: string;
    tokenId: string;
    wire: string;
    commKey: string;
    connInfo: WireConnInfo;
  };
  v1: { serverPrivateKeyPkcs8: string; serverPublicKey: string; kernelId: string; wire: string; connInfo: WireConnInfo };
  commMac: { commKey: string; body: string; mac: string };
}

export const vectors: PythonVectors = JSON.parse(
  readFileSync(fileURLToPath(new URL('./fixtures/python-vectors.json', import.meta.url)), 'utf8'),
);

export const v2Keys: LaunchKeyPair = importPrivateKeyPkcs8(vectors.v2.serverPrivateKeyPkcs8);
export const v1Keys: LaunchKeyPair = importPrivateKeyPkcs8(vectors.v1.serverPrivateKeyPkcs8);

/** Keys and token source under which the committed payloads are valid. */
export function vectorKeys(): ServerKeys {
  return new ServerKeys({ fixed: { v1: v1Keys, v2: v2Keys } });
}
export const vectorToken = () => vectors.v2.launchToken;

/** Re-encode a v2 wire envelope with some fields changed. */
export function mutateV2(change: (env: Record<string, string | number>) => void): string {
  const env = JSON.parse(vectors.v2.wire) as Record<string, string | number>;
  change(env);
  return JSON.stringify(env);
}

export function flipByte(b64url: string, index: number): string {
  const bytes = Buffer.from(b64url, 'base64url');
  bytes[index] = (bytes[index] ?? 0) ^ 0x01;
  return bytes.toString('base64url');
}
