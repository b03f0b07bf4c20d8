// The comm-port MAC must agree byte for byte with the Python launcher's.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';

import { commMac, parseChallenge, parseReply, signCommRequest } from './comm-auth';
import { vectors } from './test-vectors';

describe('comm-port auth', () => {
  it('computes the same MAC as the Python launcher', () => {
    const key = Buffer.from(vectors.commMac.commKey, 'base64url');
    assert.equal(commMac(key, vectors.commMac.body), vectors.commMac.mac);
  });

  it('signs {body, mac} lines that bind kernel id, challenge and request', () => {
    const key = Buffer.alloc(32, 1);
    const line = signCommRequest(key, 'k1', 'c'.repeat(43), { signum: 2 });
    assert.ok(line.endsWith('\n'));
    const { body, mac } = JSON.parse(line);
    assert.deepEqual(JSON.parse(body), { kernel_id: 'k1', challenge: 'c'.repeat(43), request: { signum: 2 } });
    assert.equal(mac, commMac(key, body));
  });

  it('parses challenges and verdicts, refusing anything else', () => {
    assert.equal(parseChallenge(JSON.stringify({ version: 2, challenge: 'a'.repeat(43) })), 'a'.repeat(43));
    assert.equal(parseChallenge('{"version":1,"challenge":"x"}'), null);
    assert.equal(parseChallenge('not json'), null);
    assert.deepEqual(parseReply('{"ok": true}'), { ok: true });
    assert.equal(parseReply('{"ok":"yes"}'), null);
  });
});
