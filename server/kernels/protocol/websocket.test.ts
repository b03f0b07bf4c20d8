import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { test } from 'node:test';
import { createMessage, type ChannelMessage } from './messages';
import { createSigner } from './signing';
import { encodeFrames, splitFrames } from './wire';
import {
  MAX_MESSAGE_BUFFERS,
  V1_SUBPROTOCOL,
  decodeLegacy,
  decodeClientFrame,
  decodeV1,
  decodeWsMessage,
  encodeLegacy,
  encodeV1,
  encodeV1FromRaw,
  encodeV1Parts,
  encodeWsMessage,
  framingForSubprotocol,
  selectSubprotocol,
  splitV1,
  type WsFraming,
} from './websocket';

function sample(buffers: Uint8Array[] = []): ChannelMessage {
  return createMessage({
    msgType: 'comm_msg',
    channel: 'shell',
    session: 's',
    username: 'ana',
    content: { comm_id: 'c', data: { text: 'naïve ✓' } },
    metadata: { m: true },
    buffers,
  }) as ChannelMessage;
}

function comparable(msg: ChannelMessage) {
  return { ...msg, buffers: msg.buffers.map((b) => Buffer.from(b).toString('hex')) };
}

for (const framing of ['legacy', 'v1'] as WsFraming[]) {
  for (const buffers of [[], [new Uint8Array([1, 2, 3]), new Uint8Array(0), Buffer.from('x'.repeat(1000))]]) {
    test(`${framing} round trip with ${buffers.length} buffers`, () => {
      const msg = sample(buffers);
      const decoded = decodeWsMessage(encodeWsMessage(msg, framing), framing);
      assert.ok(decoded.ok, JSON.stringify(decoded));
      assert.deepEqual(comparable(decoded.value), comparable(msg));
    });
  }
}

test('legacy framing: JSON text without buffers, with `channel` and `buffers: []`', () => {
  const text = encodeLegacy(sample());
  assert.equal(typeof text, 'string');
  const parsed = JSON.parse(text as string);
  assert.equal(parsed.channel, 'shell');
  assert.deepEqual(parsed.buffers, []);
});

test('legacy binary layout: uint32 BE count, uint32 BE offsets, JSON, buffers', () => {
  const frame = encodeLegacy(sample([Buffer.from('AB'), Buffer.from('CDE')])) as Buffer;
  assert.equal(frame.readUInt32BE(0), 3); // JSON + 2 buffers
  const offsets = [frame.readUInt32BE(4), frame.readUInt32BE(8), frame.readUInt32BE(12)];
  assert.equal(offsets[0], 16);
  const json = JSON.parse(frame.subarray(offsets[0], offsets[1]).toString());
  assert.equal(json.channel, 'shell');
  assert.equal(json.buffers, undefined);
  assert.equal(frame.subarray(offsets[1], offsets[2]).toString(), 'AB');
  assert.equal(frame.subarray(offsets[2]).toString(), 'CDE');
});

// Regression: legacy frames lacked the top-level msg_id and msg_type that Jupyter Server's legacy frames carry.
test('legacy frames carry msg_id and msg_type at the top level, as Jupyter Server sends them (text and binary)', () => {
  const text = JSON.parse(encodeLegacy(sample()) as string);
  assert.equal(text.msg_id, text.header.msg_id);
  assert.equal(text.msg_type, 'comm_msg');
  const frame = encodeLegacy(sample([Buffer.from('AB')])) as Buffer;
  const json = JSON.parse(frame.subarray(frame.readUInt32BE(4), frame.readUInt32BE(8)).toString());
  assert.equal(json.msg_id, json.header.msg_id);
  assert.equal(json.msg_type, 'comm_msg');
});

test('legacy frames from clients decode with or without top-level msg_id and msg_type; the header is what counts', () => {
  const msg = sample([Buffer.from('B')]);
  const { buffers: _, ...rest } = msg;
  const frames = {
    without: JSON.stringify(rest),
    with: JSON.stringify({ ...rest, msg_id: msg.header.msg_id, msg_type: msg.header.msg_type }),
    contradicting: JSON.stringify({ ...rest, msg_id: 'other', msg_type: 'other_request' }),
    binary: encodeLegacy(msg),
  };
  for (const [name, frame] of Object.entries(frames)) {
    const decoded = decodeClientFrame(frame, 'legacy');
    assert.ok(decoded.ok, `${name}: ${JSON.stringify(decoded)}`);
    assert.equal(decoded.value.message.header.msg_id, msg.header.msg_id, name);
    assert.equal(decoded.value.message.header.msg_type, 'comm_msg', name);
    assert.equal('msg_id' in decoded.value.message, false, `${name}: not carried on as a field of its own`);
  }
});

test('v1 layout: uint64 LE offset count and offsets, channel, 4 JSON parts, buffers, last offset = end', () => {
  const msg = sample([Buffer.from('BUF')]);
  const frame = encodeV1(msg);
  const n = Number(frame.readBigUInt64LE(0));
  assert.equal(n, 7); // channel, header, parent, metadata, content, 1 buffer, end
  const offsets = Array.from({ length: n }, (_, i) => Number(frame.readBigUInt64LE(8 * (i + 1))));
  assert.equal(offsets[0], 8 * (n + 1));
  assert.equal(offsets[n - 1], frame.length);
  const part = (i: number) => frame.subarray(offsets[i], offsets[i + 1]).toString();
  assert.equal(part(0), 'shell');
  assert.deepEqual(JSON.parse(part(1)), msg.header);
  assert.deepEqual(JSON.parse(part(2)), {});
  assert.deepEqual(JSON.parse(part(3)), { m: true });
  assert.deepEqual(JSON.parse(part(4)), msg.content);
  assert.equal(part(5), 'BUF');
});

test('v1 accepts a hand-built frame the way jupyter_server writes it', () => {
  const header = JSON.stringify(sample().header);
  const parts = ['iopub', header, '{}', '{}', '{"execution_state":"idle"}'].map((s) => Buffer.from(s));
  const n = parts.length + 1;
  const table = Buffer.alloc(8 * (n + 1));
  table.writeBigUInt64LE(BigInt(n), 0);
  let offset = table.length;
  parts.forEach((p, i) => {
    table.writeBigUInt64LE(BigInt(offset), 8 * (i + 1));
    offset += p.length;
  });
  table.writeBigUInt64LE(BigInt(offset), 8 * n);
  const decoded = decodeV1(Buffer.concat([table, ...parts]));
  assert.ok(decoded.ok, JSON.stringify(decoded));
  assert.equal(decoded.value.channel, 'iopub');
  assert.deepEqual(decoded.value.content, { execution_state: 'idle' });
  assert.deepEqual(decoded.value.buffers, []);
});

test('legacy text from a browser: null parent_header and missing metadata are normalised', () => {
  const { header } = sample();
  const decoded = decodeLegacy(JSON.stringify({ channel: 'shell', header, parent_header: null, content: {} }));
  assert.ok(decoded.ok, JSON.stringify(decoded));
  assert.deepEqual(decoded.value.parent_header, {});
  assert.deepEqual(decoded.value.metadata, {});
});

test('malformed WebSocket frames are rejected with a reason, never thrown', () => {
  const good = encodeV1(sample([Buffer.from('b')]));
  const badCount = Buffer.from(good);
  badCount.writeBigUInt64LE(10_000n, 0);
  const badOffset = Buffer.from(good);
  badOffset.writeBigUInt64LE(BigInt(good.length + 5), 16);
  const outOfOrder = Buffer.from(good);
  outOfOrder.writeBigUInt64LE(0n, 16);
  const badChannel = encodeV1({ ...sample(), channel: 'hb' as 'shell' });
  const legacyBinary = encodeLegacy(sample([Buffer.from('b')])) as Buffer;
  const legacyBadCount = Buffer.from(legacyBinary);
  legacyBadCount.writeUInt32BE(1_000_000, 0);

  const cases: [string, string | Uint8Array, WsFraming, string][] = [
    ['v1 too short', Buffer.alloc(4), 'v1', 'BAD_FRAME'],
    ['v1 huge count', badCount, 'v1', 'BAD_FRAME'],
    ['v1 offset past end', badOffset, 'v1', 'BAD_FRAME'],
    ['v1 offsets out of order', outOfOrder, 'v1', 'BAD_FRAME'],
    ['v1 truncated', good.subarray(0, good.length - 1), 'v1', 'BAD_FRAME'],
    ['v1 unknown channel', badChannel, 'v1', 'BAD_CHANNEL'],
    ['v1 text frame', '{}', 'v1', 'BAD_FRAME'],
    ['legacy not JSON', '{"channel":', 'legacy', 'BAD_JSON'],
    ['legacy array', '[]', 'legacy', 'INVALID_MESSAGE'],
    ['legacy unknown channel', JSON.stringify({ ...sample(), channel: 'hb' }), 'legacy', 'BAD_CHANNEL'],
    ['legacy bad header', JSON.stringify({ ...sample(), header: { msg_id: 'x' } }), 'legacy', 'INVALID_MESSAGE'],
    ['legacy binary count', legacyBadCount, 'legacy', 'BAD_FRAME'],
    ['legacy binary truncated', legacyBinary.subarray(0, 10), 'legacy', 'BAD_FRAME'],
  ];
  for (const [name, data, framing, reason] of cases) {
    const result = decodeWsMessage(data, framing);
    assert.equal(result.ok, false, name);
    assert.equal(!result.ok && result.reason, reason, name);
  }
});

test('a header without date, session or version (JEG\'s GatewayClient) gets defaults; a legacy frame without channel is for shell', () => {
  const { msg_id, msg_type, username, session } = sample().header;
  const bare = { msg_id, msg_type, username, session }; // what JEG's GatewayClient sends: no date
  const legacy = decodeClientFrame(JSON.stringify({ header: bare, parent_header: {}, metadata: {}, content: {} }), 'legacy');
  assert.ok(legacy.ok, JSON.stringify(legacy));
  assert.equal(legacy.value.message.channel, 'shell');
  assert.equal(legacy.value.message.header.msg_id, msg_id);
  assert.equal(legacy.value.message.header.version, '5.3');
  assert.ok(!Number.isNaN(Date.parse(legacy.value.message.header.date)), 'a date is filled in');
  const parts = [{ msg_id, msg_type }, {}, {}, {}].map((part) => Buffer.from(JSON.stringify(part)));
  const v1 = decodeClientFrame(encodeV1Parts('shell', parts), 'v1');
  assert.ok(v1.ok, JSON.stringify(v1));
  assert.equal(v1.value.message.header.session, '');
  assert.equal(v1.value.json, undefined, 'a header with defaults is passed on re-serialised, not as sent');
  const noType = decodeClientFrame(JSON.stringify({ header: { msg_id }, content: {} }), 'legacy');
  assert.equal(!noType.ok && noType.reason, 'INVALID_MESSAGE', 'msg_type has no default');
});

test('a frame claiming more buffers than a message may carry is refused before it is cut up', () => {
  const count = MAX_MESSAGE_BUFFERS + 2;
  const legacy = Buffer.alloc(4 * (count + 1) + 2);
  legacy.writeUInt32BE(count, 0);
  for (let i = 0; i < count; i++) legacy.writeUInt32BE(legacy.length, 4 * (i + 1));
  const v1Count = MAX_MESSAGE_BUFFERS + 7;
  const v1 = Buffer.alloc(8 * (v1Count + 1));
  v1.writeBigUInt64LE(BigInt(v1Count), 0);
  for (let i = 0; i < v1Count; i++) v1.writeBigUInt64LE(BigInt(v1.length), 8 * (i + 1));
  for (const [data, framing] of [[legacy, 'legacy'], [v1, 'v1']] as const) {
    const result = decodeWsMessage(data, framing);
    assert.equal(!result.ok && result.reason, 'BAD_FRAME', framing);
    assert.match(!result.ok ? result.detail : '', /buffers in one message/, framing);
  }
  // A message at the bound still decodes.
  const atBound = sample(Array.from({ length: MAX_MESSAGE_BUFFERS }, (_, i) => Buffer.from([i % 256])));
  for (const framing of ['legacy', 'v1'] as const) assert.ok(decodeWsMessage(encodeWsMessage(atBound, framing), framing).ok, framing);
});

test('subprotocol negotiation prefers v1 when offered', () => {
  assert.equal(selectSubprotocol(['foo', V1_SUBPROTOCOL]), V1_SUBPROTOCOL);
  assert.equal(selectSubprotocol([]), undefined);
  assert.equal(framingForSubprotocol(V1_SUBPROTOCOL), 'v1');
  assert.equal(framingForSubprotocol(undefined), 'legacy');
});

// The gateway's fast path: kernel frames captured from ipykernel go to v1 without re-serializing.
test('captured ipykernel frames forward to v1 byte for byte and decode there', () => {
  const fixture = JSON.parse(readFileSync(new URL('./fixtures/ipykernel-frames.json', import.meta.url), 'utf8')) as {
    key: string;
    messages: { channel: 'shell' | 'iopub'; frames: string[] }[];
  };
  const signer = createSigner(fixture.key);
  for (const captured of fixture.messages) {
    const split = splitFrames(captured.frames.map((f) => Buffer.from(f, 'base64')), signer);
    assert.ok(split.ok);
    const frame = encodeV1FromRaw(captured.channel, split.value);
    const decoded = decodeV1(frame);
    assert.ok(decoded.ok, JSON.stringify(decoded));
    assert.equal(decoded.value.channel, captured.channel);
    const v1Parts = splitV1(frame);
    assert.ok(v1Parts.ok);
    assert.deepEqual(v1Parts.value.parts, [
      split.value.header,
      split.value.parentHeader,
      split.value.metadata,
      split.value.content,
      ...split.value.buffers,
    ]);
    assert.equal(decoded.value.buffers.length, split.value.buffers.length);
    const legacy = decodeLegacy(encodeLegacy(decoded.value));
    assert.ok(legacy.ok);
    assert.deepEqual(comparable(legacy.value), comparable(decoded.value));
  }
});

test('a client v1 frame keeps its JSON bytes, which become the kernel frames as sent, newly signed', () => {
  const msg = sample([Buffer.from('buf')]);
  const frame = encodeV1(msg);
  const decoded = decodeClientFrame(frame, 'v1');
  assert.ok(decoded.ok);
  assert.deepEqual(comparable(decoded.value.message), comparable(msg));
  const json = decoded.value.json!;
  assert.deepEqual(json.map((part) => part.toString('utf8')), [msg.header, msg.parent_header, msg.metadata, msg.content].map((part) => JSON.stringify(part)));
  const signer = createSigner('k3y');
  const passedOn = encodeFrames(decoded.value.message, signer, [], json);
  assert.deepEqual(passedOn, encodeFrames(msg, signer), 'the same frames and signature as serialising it anew');
});

test('a client frame that needed normalising (parent_header null) is passed on re-serialised, not as sent', () => {
  const msg = sample();
  const parts = [msg.header, null, msg.metadata, msg.content].map((part) => Buffer.from(JSON.stringify(part)));
  const decoded = decodeClientFrame(encodeV1Parts('shell', parts), 'v1');
  assert.ok(decoded.ok);
  assert.deepEqual(decoded.value.message.parent_header, {});
  assert.equal(decoded.value.json, undefined);
  const legacy = decodeClientFrame(encodeLegacy(msg), 'legacy');
  assert.ok(legacy.ok);
  assert.equal(legacy.value.json, undefined, 'legacy JSON is one document: nothing to pass on as is');
});
