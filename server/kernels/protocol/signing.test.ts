import assert from 'node:assert/strict';
import { createHmac } from 'node:crypto';
import { test } from 'node:test';
import { createSigner } from './signing';

const parts = ['{"msg_id":"a"}', '{}', '{}', '{"code":"1+1"}'].map((s) => Buffer.from(s));

test('signs header, parent_header, metadata and content with HMAC-SHA256 of the key bytes', () => {
  const key = 'f'.repeat(64);
  const expected = createHmac('sha256', Buffer.from(key)).update(Buffer.concat(parts)).digest('hex');
  assert.equal(createSigner(key).sign(parts), expected);
});

test('verify accepts its own signature and rejects a tampered part, a wrong key and garbage', () => {
  const signer = createSigner('secret');
  const signature = signer.sign(parts);
  assert.equal(signer.verify(signature, parts), true);
  assert.equal(signer.verify(signature, [...parts.slice(0, 3), Buffer.from('{"code":"2+2"}')]), false);
  assert.equal(createSigner('other').verify(signature, parts), false);
  assert.equal(signer.verify('', parts), false);
  assert.equal(signer.verify(signature.slice(0, 10), parts), false);
  assert.equal(signer.verify('zz'.repeat(32), parts), false);
});

test('an empty key disables signing, as the spec says', () => {
  const signer = createSigner('');
  assert.equal(signer.enabled, false);
  assert.equal(signer.sign(parts), '');
  assert.equal(signer.verify('anything', parts), true);
});

test('an unsupported signature scheme is a configuration error', () => {
  assert.throws(() => createSigner('k', 'hmac-md5'), /unsupported signature_scheme "hmac-md5"/);
});
