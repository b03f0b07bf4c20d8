import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { test } from 'node:test';
import { createMessage } from './messages';
import { createSigner } from './signing';
import { DELIMITER, decodeChannelFrames, decodeFrames, encodeFrames } from './wire';

const signer = createSigner('0123456789abcdef');

function sample() {
  return createMessage({
    msgType: 'comm_msg',
    session: 'session-1',
    username: 'ana',
    content: { comm_id: 'c1', data: { text: 'héllo ✓' } },
    metadata: { tag: 1 },
    buffers: [new Uint8Array([0, 1, 2, 255]), Buffer.from('second')],
  });
}

test('encode → decode round trip keeps every part, identities and buffers', () => {
  const msg = sample();
  const frames = encodeFrames(msg, signer, [Buffer.from('peer-1')]);
  assert.equal(frames[0]!.toString(), 'peer-1');
  assert.ok(frames[1]!.equals(DELIMITER));
  const decoded = decodeFrames(frames, signer);
  assert.ok(decoded.ok, JSON.stringify(decoded));
  assert.deepEqual(decoded.value.identities.map(String), ['peer-1']);
  const { buffers, ...rest } = decoded.value.message;
  const { buffers: sent, ...sentRest } = msg;
  assert.deepEqual(rest, sentRest);
  assert.deepEqual(buffers.map((b) => Buffer.from(b).toString('hex')), sent.map((b) => Buffer.from(b).toString('hex')));
});

test('header dates stay strings exactly as sent', () => {
  const msg = sample();
  msg.header.date = '2024-01-02T03:04:05.123456Z';
  const decoded = decodeFrames(encodeFrames(msg, signer), signer);
  assert.ok(decoded.ok);
  assert.equal(decoded.value.message.header.date, '2024-01-02T03:04:05.123456Z');
});

test('malformed frames give a typed failure, never a throw', () => {
  const frames = encodeFrames(sample(), signer);
  const cases: [string, Buffer[], string][] = [
    ['no delimiter', frames.slice(1), 'NO_DELIMITER'],
    ['missing content', frames.slice(0, 5), 'TOO_FEW_FRAMES'],
    ['tampered content', [...frames.slice(0, 5), Buffer.from('{"x":1}')], 'BAD_SIGNATURE'],
    ['bad signature frame', [frames[0]!, Buffer.from('nope'), ...frames.slice(2)], 'BAD_SIGNATURE'],
    ['empty', [], 'NO_DELIMITER'],
  ];
  for (const [name, input, reason] of cases) {
    const result = decodeFrames(input, signer);
    assert.equal(result.ok, false, name);
    assert.equal(!result.ok && result.reason, reason, name);
  }
});

test('valid signature over invalid JSON or an invalid header is rejected', () => {
  const unsigned = createSigner('');
  const base = encodeFrames(sample(), unsigned);
  const badJson = decodeFrames([...base.slice(0, 2), Buffer.from('{nope'), ...base.slice(3)], unsigned);
  assert.equal(!badJson.ok && badJson.reason, 'BAD_JSON');
  const badHeader = decodeFrames([...base.slice(0, 2), Buffer.from('{"msg_id":"x"}'), ...base.slice(3)], unsigned);
  assert.equal(!badHeader.ok && badHeader.reason, 'INVALID_MESSAGE');
});

test('with an empty key messages go out with an empty signature and any signature is accepted', () => {
  const unsigned = createSigner('');
  const frames = encodeFrames(sample(), unsigned);
  assert.equal(frames[1]!.length, 0);
  assert.ok(decodeFrames(frames, unsigned).ok);
});

// Regression guard: frames captured from ipykernel 6.29 (capture-ipykernel-frames.ts) must decode,
// signatures included, with the iopub topic frame treated as an identity.
test('decodes frames captured from a real ipykernel', () => {
  const fixture = JSON.parse(readFileSync(new URL('./fixtures/ipykernel-frames.json', import.meta.url), 'utf8')) as {
    key: string;
    session: string;
    messages: { channel: 'shell' | 'iopub'; frames: string[] }[];
  };
  const kernelSigner = createSigner(fixture.key);
  const types: string[] = [];
  for (const captured of fixture.messages) {
    const frames = captured.frames.map((f) => Buffer.from(f, 'base64'));
    const decoded = decodeChannelFrames(captured.channel, frames, kernelSigner);
    assert.ok(decoded.ok, JSON.stringify(decoded));
    assert.equal(decoded.value.channel, captured.channel);
    assert.match(decoded.value.header.version, /^5\.\d+$/); // ipykernel 6.29 speaks 5.4
    assert.match(decoded.value.header.date, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z$/);
    assert.equal((decoded.value.parent_header as { session?: string }).session, fixture.session);
    types.push(decoded.value.header.msg_type);
    if (decoded.value.header.msg_type === 'execute_result') {
      assert.deepEqual(decoded.value.content.data, { 'text/plain': '2' });
    }
    if (decoded.value.header.msg_type === 'comm_open') {
      assert.deepEqual([...decoded.value.buffers[0]!], [0, 1, 2, 255]);
    }
    // the kernel's key is required: a different key must fail
    assert.equal(decodeFrames(frames, createSigner('wrong')).ok, false);
  }
  for (const type of ['kernel_info_reply', 'status', 'execute_input', 'execute_result', 'execute_reply', 'comm_open']) {
    assert.ok(types.includes(type), `fixture has ${type}`);
  }
});
