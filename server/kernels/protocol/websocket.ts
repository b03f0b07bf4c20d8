// The two ways Jupyter Server frames kernel messages on its /api/kernels/{id}/channels WebSocket.
// Pure functions, both directions, so the gateway and its tests share one implementation.
//
// 1. Legacy (no subprotocol):
//    - text frame: the whole message as JSON, with `channel`, `msg_id` and `msg_type` fields and `buffers: []`;
//    - binary frame (only when there are buffers):
//        uint32 BE n, then n uint32 BE offsets, then the JSON (without buffers) at offsets[0],
//        then buffer i at offsets[i+1]; each part ends where the next starts (the last at the end).
// 2. `v1.kernel.websocket.jupyter.org` (always binary):
//        uint64 LE n, then n uint64 LE offsets, then
//        channel | header | parent_header | metadata | content | buffers...
//        part i runs from offsets[i] to offsets[i+1]; the last offset is the end of the frame.
// Decoding never throws: a bad browser frame is a typed failure for the caller to log and drop.
import {
  describeInvalidParts,
  withHeaderDefaults,
  isChannel,
  isJsonObject,
  type Channel,
  type ChannelMessage,
} from './messages';
import { toBuffer, type RawMessageParts } from './wire';

export const V1_SUBPROTOCOL = 'v1.kernel.websocket.jupyter.org';

export type WsFraming = 'legacy' | 'v1';

/**
 * Binary buffers one message may carry. Real messages carry a handful (widgets, plots); the bound keeps a hostile
 * frame from making the decoder cut millions of parts (seconds of blocked event loop for every user).
 */
export const MAX_MESSAGE_BUFFERS = 1024;
export type WsPayload = string | Uint8Array;

export type WsFailureReason = 'BAD_FRAME' | 'BAD_JSON' | 'BAD_CHANNEL' | 'INVALID_MESSAGE';
export interface WsFailure {
  ok: false;
  reason: WsFailureReason;
  detail: string;
}
export type WsResult<T> = { ok: true; value: T } | WsFailure;

function fail(reason: WsFailureReason, detail: string): WsFailure {
  return { ok: false, reason, detail };
}

/** The framing to speak for the subprotocol the server accepted during the upgrade (none → legacy). */
export function framingForSubprotocol(protocol: string | undefined | null): WsFraming {
  return protocol === V1_SUBPROTOCOL ? 'v1' : 'legacy';
}

/**
 * The subprotocol to accept from the client's offer, or undefined for legacy.
 * Like Jupyter Server, prefer v1 whenever the client offers it: it costs the server far less CPU per MB.
 */
export function selectSubprotocol(offered: Iterable<string>): string | undefined {
  for (const protocol of offered) if (protocol === V1_SUBPROTOCOL) return V1_SUBPROTOCOL;
  return undefined;
}

export function encodeWsMessage(msg: ChannelMessage, framing: WsFraming): WsPayload {
  return framing === 'v1' ? encodeV1(msg) : encodeLegacy(msg);
}

export function decodeWsMessage(data: WsPayload, framing: WsFraming): WsResult<ChannelMessage> {
  if (framing === 'legacy') return decodeLegacy(data);
  if (typeof data === 'string') return fail('BAD_FRAME', `text frame on the ${V1_SUBPROTOCOL} protocol`);
  return decodeV1(data);
}

// --- legacy ---

/**
 * JSON text when there are no buffers, the offsets binary format otherwise (as Jupyter Server does). Both carry
 * `msg_id` and `msg_type` at the top level too, copied from the header: jupyter_client's Session.deserialize adds
 * them, so Jupyter Server's legacy frames have them, and clients written against it may read them there.
 */
export function encodeLegacy(msg: ChannelMessage): WsPayload {
  const { buffers, ...rest } = msg;
  const body = { ...rest, msg_id: msg.header.msg_id, msg_type: msg.header.msg_type };
  if (!buffers || buffers.length === 0) return JSON.stringify({ ...body, buffers: [] });
  const parts: Uint8Array[] = [Buffer.from(JSON.stringify(body), 'utf8'), ...buffers];
  const headerSize = 4 * (parts.length + 1);
  const out = Buffer.allocUnsafe(headerSize + sumLengths(parts));
  out.writeUInt32BE(parts.length, 0);
  let offset = headerSize;
  parts.forEach((part, i) => {
    out.writeUInt32BE(offset, 4 * (i + 1));
    out.set(part, offset);
    offset += part.byteLength;
  });
  return out;
}

/** Top-level `msg_id`/`msg_type` are optional and ignored: the header says what the message is. */
export function decodeLegacy(data: WsPayload): WsResult<ChannelMessage> {
  if (typeof data === 'string') return toChannelMessage(parseJson(data), []);
  const buf = toBuffer(data);
  if (buf.length < 8) return fail('BAD_FRAME', `binary frame of ${buf.length} bytes is too short`);
  const count = buf.readUInt32BE(0);
  const headerSize = 4 * (count + 1);
  if (count < 1 || headerSize > buf.length) return fail('BAD_FRAME', `part count ${count} does not fit the frame`);
  if (count > 1 + MAX_MESSAGE_BUFFERS) return fail('BAD_FRAME', `${count - 1} buffers in one message (at most ${MAX_MESSAGE_BUFFERS})`);
  const offsets: number[] = [];
  for (let i = 0; i < count; i++) offsets.push(buf.readUInt32BE(4 * (i + 1)));
  const parts = sliceParts(buf, offsets, headerSize);
  if (!parts.ok) return parts;
  const [json, ...buffers] = parts.value as [Buffer, ...Buffer[]];
  return toChannelMessage(parseJson(json.toString('utf8')), buffers);
}

// --- v1.kernel.websocket.jupyter.org ---

export function encodeV1(msg: ChannelMessage): Buffer {
  return encodeV1Parts(msg.channel, [
    Buffer.from(JSON.stringify(msg.header), 'utf8'),
    Buffer.from(JSON.stringify(msg.parent_header ?? {}), 'utf8'),
    Buffer.from(JSON.stringify(msg.metadata ?? {}), 'utf8'),
    Buffer.from(JSON.stringify(msg.content ?? {}), 'utf8'),
    ...(msg.buffers ?? []),
  ]);
}

/**
 * Fast path for the gateway: the kernel's JSON frames go to the browser as they came, no parse or stringify.
 */
export function encodeV1FromRaw(channel: Channel, raw: RawMessageParts): Buffer {
  return encodeV1Parts(channel, [raw.header, raw.parentHeader, raw.metadata, raw.content, ...raw.buffers]);
}

/** `parts` = header, parent_header, metadata, content (JSON bytes), then buffers. */
export function encodeV1Parts(channel: Channel, parts: readonly Uint8Array[]): Buffer {
  const all = [Buffer.from(channel, 'utf8'), ...parts];
  const offsetCount = all.length + 1; // one start per part, plus the end
  const headerSize = 8 * (offsetCount + 1);
  const out = Buffer.allocUnsafe(headerSize + sumLengths(all));
  writeUint64LE(out, offsetCount, 0);
  let offset = headerSize;
  all.forEach((part, i) => {
    writeUint64LE(out, offset, 8 * (i + 1));
    out.set(part, offset);
    offset += part.byteLength;
  });
  writeUint64LE(out, offset, 8 * offsetCount);
  return out;
}

/** A uint64 LE as a number; one beyond 2^53 comes out inexact, but far beyond any frame length either way. */
function readUint64LE(buf: Buffer, at: number): number {
  return buf.readUInt32LE(at) + buf.readUInt32LE(at + 4) * 0x1_0000_0000;
}

/** A uint64 LE without a BigInt per offset (this runs for every message); values are below 2^53 here. */
function writeUint64LE(out: Buffer, value: number, at: number) {
  out.writeUInt32LE(value % 0x1_0000_0000, at);
  out.writeUInt32LE(Math.floor(value / 0x1_0000_0000), at + 4);
}

/** Splits a v1 frame into its channel and raw parts (header, parent_header, metadata, content, buffers...). */
export function splitV1(data: Uint8Array): WsResult<{ channel: Channel; parts: Buffer[] }> {
  const buf = toBuffer(data);
  if (buf.length < 8) return fail('BAD_FRAME', `binary frame of ${buf.length} bytes is too short`);
  const count = readUint64LE(buf, 0);
  // channel + 4 JSON parts need 6 offsets; more than the frame could hold means garbage
  if (count < 6 || count > Math.floor(buf.length / 8) - 1) {
    return fail('BAD_FRAME', `offset count ${count} is impossible for a ${buf.length}-byte frame`);
  }
  if (count > 6 + MAX_MESSAGE_BUFFERS) return fail('BAD_FRAME', `${count - 6} buffers in one message (at most ${MAX_MESSAGE_BUFFERS})`);
  const n = count;
  const offsets: number[] = [];
  for (let i = 0; i < n; i++) {
    const value = readUint64LE(buf, 8 * (i + 1));
    if (value > buf.length) return fail('BAD_FRAME', `offset ${value} lies beyond the frame`);
    offsets.push(value);
  }
  if (offsets[n - 1] !== buf.length) {
    return fail('BAD_FRAME', `last offset ${offsets[n - 1]} is not the frame length ${buf.length}`);
  }
  const sliced = sliceParts(buf, offsets.slice(0, -1), 8 * (n + 1));
  if (!sliced.ok) return sliced;
  const [channelBytes, ...parts] = sliced.value as [Buffer, ...Buffer[]];
  const channel = channelBytes.toString('utf8');
  if (!isChannel(channel)) return fail('BAD_CHANNEL', `unknown channel "${channel.slice(0, 32)}"`);
  return { ok: true, value: { channel, parts } };
}

export function decodeV1(data: Uint8Array): WsResult<ChannelMessage> {
  const decoded = decodeV1WithJson(data);
  return decoded.ok ? { ok: true, value: decoded.value.message } : decoded;
}

/** A client's message, and its four JSON parts as sent when the kernel can be given them unchanged. */
export interface DecodedClientMessage {
  message: ChannelMessage;
  /** header, parent_header, metadata, content as the client sent them (v1 framing, nothing normalised). */
  json?: readonly Buffer[];
}

/** Decodes a client's frame; a v1 frame keeps its JSON bytes, so the gateway signs them instead of re-serialising. */
export function decodeClientFrame(data: WsPayload, framing: WsFraming): WsResult<DecodedClientMessage> {
  if (framing === 'v1' && typeof data !== 'string') return decodeV1WithJson(data);
  const decoded = decodeWsMessage(data, framing);
  return decoded.ok ? { ok: true, value: { message: decoded.value } } : decoded;
}

function decodeV1WithJson(data: Uint8Array): WsResult<DecodedClientMessage> {
  const split = splitV1(data);
  if (!split.ok) return split;
  const [header, parentHeader, metadata, content, ...buffers] = split.value.parts as [
    Buffer,
    Buffer,
    Buffer,
    Buffer,
    ...Buffer[],
  ];
  let parsed: Record<string, unknown>;
  try {
    parsed = {
      channel: split.value.channel,
      header: JSON.parse(header.toString('utf8')),
      parent_header: JSON.parse(parentHeader.toString('utf8')),
      metadata: JSON.parse(metadata.toString('utf8')),
      content: JSON.parse(content.toString('utf8')),
    };
  } catch (error) {
    return fail('BAD_JSON', (error as Error).message);
  }
  const message = toChannelMessage({ ok: true, value: parsed }, buffers);
  if (!message.ok) return message;
  // Parts the client sent as null or left out were normalised (to {}, or a header's defaults): then the bytes are
  // not what is passed on.
  const asSent = message.value.header === parsed.header && isJsonObject(parsed.parent_header) && isJsonObject(parsed.metadata) && isJsonObject(parsed.content);
  return { ok: true, value: { message: message.value, json: asSent ? [header, parentHeader, metadata, content] : undefined } };
}

// --- shared helpers ---

function sumLengths(parts: readonly Uint8Array[]): number {
  let total = 0;
  for (const part of parts) total += part.byteLength;
  return total;
}

/** Cuts `buf` at `starts` (each part ends where the next starts, the last at the end), checking bounds. */
function sliceParts(buf: Buffer, starts: readonly number[], headerSize: number): WsResult<Buffer[]> {
  let previous = headerSize;
  for (const start of starts) {
    if (start < previous || start > buf.length) {
      return fail('BAD_FRAME', `offset ${start} is out of order or out of bounds`);
    }
    previous = start;
  }
  const parts = starts.map((start, i) => buf.subarray(start, starts[i + 1] ?? buf.length));
  return { ok: true, value: parts };
}

function parseJson(text: string): WsResult<unknown> {
  try {
    return { ok: true, value: JSON.parse(text) };
  } catch (error) {
    return fail('BAD_JSON', (error as Error).message);
  }
}

function toChannelMessage(parsed: WsResult<unknown>, buffers: Uint8Array[]): WsResult<ChannelMessage> {
  if (!parsed.ok) return parsed;
  const value = parsed.value;
  if (!isJsonObject(value)) return fail('INVALID_MESSAGE', 'message is not a JSON object');
  // A legacy frame without a channel is for shell, as Jupyter Server assumes.
  const channel = value.channel ?? 'shell';
  if (!isChannel(channel)) return fail('BAD_CHANNEL', `unknown channel ${JSON.stringify(value.channel)}`);
  // Browsers may send parent_header null or omit metadata; normalise to the spec's empty objects.
  const parts = {
    header: withHeaderDefaults(value.header),
    parent_header: value.parent_header ?? {},
    metadata: value.metadata ?? {},
    content: value.content ?? {},
  };
  const invalid = describeInvalidParts(parts);
  if (invalid) return fail('INVALID_MESSAGE', invalid);
  return {
    ok: true,
    value: { ...(parts as Omit<ChannelMessage, 'channel' | 'buffers'>), channel, buffers },
  };
}
