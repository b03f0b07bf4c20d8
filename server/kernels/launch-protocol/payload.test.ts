// Pure decoding of v1/v2 payloads, against vectors sealed by the Python launcher.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';

import { LaunchPayloadError } from './errors';
import { generateX25519KeyPair, launchTokenId } from './keys';
import { openV1, openV2, parseEnvelope } from './payload';
import type { V1Envelope, V2Envelope } from './payload';
import { flipByte, mutateV2, v1Keys, v2Keys, vectors } from './test-vectors';

const expectation = {
  privateKey: v2Keys.privateKey,
  kernelId: vectors.v2.kernelId,
  launchToken: vectors.v2.launchToken,
  tokenId: vectors.v2.tokenId,
};

function code(fn: () => unknown): string {
  try {
    fn();
  } catch (err) {
    assert.ok(err instanceof LaunchPayloadError, `expected LaunchPayloadError, got ${String(err)}`);
    return err.code;
  }
  assert.fail('expected a LaunchPayloadError');
}

describe('v2 payload (Python-sealed vector)', () => {
  it('decrypts into typed connection info with the same comm key the launcher derived', () => {
    const info = openV2(parseEnvelope(vectors.v2.wire) as V2Envelope, expectation);
    assert.equal(info.protocolVersion, 2);
    assert.equal(info.kernelId, vectors.v2.kernelId);
    assert.equal(info.connection.shellPort, vectors.v2.connInfo.shell_port);
    assert.equal(info.connection.key, vectors.v2.connInfo.key);
    assert.equal(info.connection.signatureScheme, 'hmac-sha256');
    assert.equal(info.commPort, vectors.v2.connInfo.comm_port);
    assert.equal(info.hostIp, '10.0.0.7');
    assert.equal(info.commKey.toString('base64url'), vectors.v2.commKey);
  });

  it('token ids agree across languages', () => {
    assert.equal(launchTokenId(vectors.v2.launchToken), vectors.v2.tokenId);
  });

  const tamperings: Array<[string, string]> = [
    ['a flipped ciphertext byte', mutateV2((e) => void (e.ciphertext = flipByte(String(e.ciphertext), 5)))],
    ['a flipped tag byte', mutateV2((e) => {
      const len = Buffer.from(String(e.ciphertext), 'base64url').length;
      e.ciphertext = flipByte(String(e.ciphertext), len - 1);
    })],
    ['a flipped nonce', mutateV2((e) => void (e.nonce = flipByte(String(e.nonce), 0)))],
    ['another ephemeral key', mutateV2((e) => void (e.epk = flipByte(String(e.epk), 3)))],
  ];
  for (const [what, wire] of tamperings) {
    it(`rejects ${what} as FORGED_PAYLOAD`, () => {
      assert.equal(code(() => openV2(parseEnvelope(wire) as V2Envelope, expectation)), 'FORGED_PAYLOAD');
    });
  }

  it('rejects a payload not sealed with the issued token (FORGED_PAYLOAD)', () => {
    const env = parseEnvelope(vectors.v2.wire) as V2Envelope;
    const otherToken = 'A'.repeat(43);
    const wrong = { ...expectation, launchToken: otherToken, tokenId: env.token_id };
    assert.equal(code(() => openV2(env, wrong)), 'FORGED_PAYLOAD');
  });

  it('rejects a payload for another server key (FORGED_PAYLOAD)', () => {
    const env = parseEnvelope(vectors.v2.wire) as V2Envelope;
    assert.equal(code(() => openV2(env, { ...expectation, privateKey: generateX25519KeyPair().privateKey })), 'FORGED_PAYLOAD');
  });

  it('rejects a wrong kernel id, in the header (KERNEL_ID_MISMATCH) and against the token (KERNEL_ID_MISMATCH)', () => {
    const renamed = parseEnvelope(mutateV2((e) => void (e.kernel_id = 'someone-elses-kernel'))) as V2Envelope;
    assert.equal(code(() => openV2(renamed, expectation)), 'KERNEL_ID_MISMATCH');
    const env = parseEnvelope(vectors.v2.wire) as V2Envelope;
    assert.equal(code(() => openV2(env, { ...expectation, kernelId: 'another-kernel' })), 'KERNEL_ID_MISMATCH');
  });
});

describe('v1 payload (JEG format, Python-sealed vector)', () => {
  it('decrypts JEG\'s RSA PKCS#1 v1.5 + AES-ECB payload', () => {
    const info = openV1(parseEnvelope(vectors.v1.wire) as V1Envelope, v1Keys.privateKey);
    assert.equal(info.protocolVersion, 1);
    assert.equal(info.kernelId, vectors.v1.kernelId);
    assert.equal(info.connection.iopubPort, vectors.v1.connInfo.iopub_port as number);
    assert.equal(info.pid, 4242);
  });

  it('rejects a tampered key or body as FORGED_PAYLOAD (one error for every failure: no padding oracle)', () => {
    const payload = JSON.parse(Buffer.from(vectors.v1.wire, 'base64').toString('utf8'));
    const badKey = Buffer.from(payload.key, 'base64');
    badKey[10] = (badKey[10] ?? 0) ^ 1;
    const withBadKey = { ...payload, key: badKey.toString('base64') } as V1Envelope;
    assert.equal(code(() => openV1(withBadKey, v1Keys.privateKey)), 'FORGED_PAYLOAD');
    const body = Buffer.from(payload.conn_info, 'base64');
    body[body.length - 1] = (body[body.length - 1] ?? 0) ^ 1;
    const withBadBody = { ...payload, conn_info: body.toString('base64') } as V1Envelope;
    assert.equal(code(() => openV1(withBadBody, v1Keys.privateKey)), 'FORGED_PAYLOAD');
  });
});

describe('envelope parsing', () => {
  const cases: Array<[string, string | Buffer, string]> = [
    ['empty', '', 'MALFORMED_PAYLOAD'],
    ['garbage', 'GET / HTTP/1.1\r\n\r\n', 'MALFORMED_PAYLOAD'],
    ['too large', Buffer.alloc(70_000, 0x41), 'MALFORMED_PAYLOAD'],
    ['JEG legacy version 0', Buffer.from(JSON.stringify({ ip: '1.2.3.4' })).toString('base64'), 'UNSUPPORTED_VERSION'],
    ['version 3', JSON.stringify({ version: 3 }), 'UNSUPPORTED_VERSION'],
    ['v2 missing fields', JSON.stringify({ version: 2, kernel_id: 'k' }), 'MALFORMED_PAYLOAD'],
    ['v2 short nonce', mutateV2((e) => void (e.nonce = 'AAAA')), 'MALFORMED_PAYLOAD'],
    ['v2 bad kernel id', mutateV2((e) => void (e.kernel_id = '../../etc')), 'MALFORMED_PAYLOAD'],
  ];
  for (const [what, raw, expected] of cases) {
    it(`${what} -> ${expected}`, () => assert.equal(code(() => parseEnvelope(raw)), expected));
  }

  it('accepts v1 as base64 (JEG) and v2 as plain JSON', () => {
    assert.equal(parseEnvelope(vectors.v1.wire).version, 1);
    assert.equal(parseEnvelope(vectors.v2.wire).version, 2);
  });
});
