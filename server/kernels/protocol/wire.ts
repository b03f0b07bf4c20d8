// The ZeroMQ wire format of a Jupyter message:
//   [...identities, '<IDS|MSG>', signature, header, parent_header, metadata, content, ...buffers]
// Decoding never throws: a socket loop gets a typed failure it can log and drop.
// Touch this file only if the spec's framing changes; signing lives in signing.ts.
import {
  createMessage,
  describeInvalidParts,
  type Channel,
  type ChannelMessage,
  type JsonObject,
  type KernelMessage,
} from './messages';
import type { Signer } from './signing';

export const DELIMITER = Buffer.from('<IDS|MSG>', 'ascii');

/** The JSON parts still as bytes, signature checked. Lets a gateway forward them without re-serializing. */
export interface RawMessageParts {
  identities: Buffer[];
  header: Buffer;
  parentHeader: Buffer;
  metadata: Buffer;
  content: Buffer;
  buffers: Buffer[];
}

export type WireFailureReason =
  | 'NO_DELIMITER'
  | 'TOO_FEW_FRAMES'
  | 'BAD_SIGNATURE'
  | 'BAD_JSON'
  | 'INVALID_MESSAGE';

export interface WireFailure {
  ok: false;
  reason: WireFailureReason;
  detail: string;
}

export type WireResult<T> = { ok: true; value: T } | WireFailure;

function fail(reason: WireFailureReason, detail: string): WireFailure {
  return { ok: false, reason, detail };
}

/** A view, not a copy: buffers can be large (images, widget state). */
export function toBuffer(bytes: Uint8Array): Buffer {
  return Buffer.isBuffer(bytes) ? bytes : Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
}

/**
 * Encodes a message as multipart frames, signed with `signer`. `json`, when given, is the message's header,
 * parent_header, metadata and content already serialised (a client's frame passed on as it came).
 */
export function encodeFrames(
  msg: KernelMessage,
  signer: Signer,
  identities: readonly Uint8Array[] = [],
  json?: readonly Buffer[],
): Buffer[] {
  const [header, parentHeader, metadata, content] = (json ?? [
    Buffer.from(JSON.stringify(msg.header), 'utf8'),
    Buffer.from(JSON.stringify(msg.parent_header ?? {}), 'utf8'),
    Buffer.from(JSON.stringify(msg.metadata ?? {}), 'utf8'),
    Buffer.from(JSON.stringify(msg.content ?? {}), 'utf8'),
  ]) as [Buffer, Buffer, Buffer, Buffer];
  const signature = Buffer.from(signer.sign([header, parentHeader, metadata, content]), 'ascii');
  return [
    ...identities.map(toBuffer),
    DELIMITER,
    signature,
    header,
    parentHeader,
    metadata,
    content,
    ...(msg.buffers ?? []).map(toBuffer),
  ];
}

/**
 * An iopub message the portal itself tells clients (a status, a notice), with the raw parts clients are sent,
 * as if it had come from the kernel.
 */
export function portalIopubMessage(options: {
  msgType: string;
  session: string;
  content: JsonObject;
  parentHeader?: KernelMessage['parent_header'];
}): { msg: ChannelMessage; raw: RawMessageParts } {
  const made = createMessage({ ...options, username: 'atrium', channel: 'iopub' });
  const msg = { ...made, channel: 'iopub' } as ChannelMessage;
  return { msg, raw: rawPartsOf(msg) };
}

/** A message's JSON parts as frames (no identities, no buffers): for one the portal makes or kept. */
export function rawPartsOf(msg: { header: unknown; parent_header: unknown; metadata: unknown; content: unknown }): RawMessageParts {
  return {
    identities: [],
    header: Buffer.from(JSON.stringify(msg.header)),
    parentHeader: Buffer.from(JSON.stringify(msg.parent_header)),
    metadata: Buffer.from(JSON.stringify(msg.metadata)),
    content: Buffer.from(JSON.stringify(msg.content)),
    buffers: [],
  };
}

/** Splits frames at the delimiter and checks the signature, without parsing JSON. */
export function splitFrames(frames: readonly Buffer[], signer: Signer): WireResult<RawMessageParts> {
  const delimiterAt = frames.findIndex((frame) => frame.equals(DELIMITER));
  if (delimiterAt < 0) return fail('NO_DELIMITER', `no <IDS|MSG> delimiter among ${frames.length} frames`);
  const first = delimiterAt + 1;
  // signature + 4 JSON frames must follow the delimiter
  if (frames.length < first + 5) {
    return fail('TOO_FEW_FRAMES', `${frames.length - first} frames after the delimiter, need at least 5`);
  }
  const [signature, header, parentHeader, metadata, content] = frames.slice(first, first + 5) as [
    Buffer,
    Buffer,
    Buffer,
    Buffer,
    Buffer,
  ];
  if (signer.enabled && !signer.verify(signature.toString('ascii'), [header, parentHeader, metadata, content])) {
    return fail('BAD_SIGNATURE', 'HMAC signature does not match the message');
  }
  return {
    ok: true,
    value: {
      identities: frames.slice(0, delimiterAt),
      header,
      parentHeader,
      metadata,
      content,
      buffers: frames.slice(first + 5),
    },
  };
}

/** Parses and validates the JSON parts of split frames. */
export function parseParts(raw: RawMessageParts): WireResult<KernelMessage> {
  let parts: { header: unknown; parent_header: unknown; metadata: unknown; content: unknown };
  try {
    parts = {
      header: JSON.parse(raw.header.toString('utf8')),
      parent_header: JSON.parse(raw.parentHeader.toString('utf8')),
      metadata: JSON.parse(raw.metadata.toString('utf8')),
      content: JSON.parse(raw.content.toString('utf8')),
    };
  } catch (error) {
    return fail('BAD_JSON', (error as Error).message);
  }
  const invalid = describeInvalidParts(parts);
  if (invalid) return fail('INVALID_MESSAGE', invalid);
  return {
    ok: true,
    value: { ...(parts as Omit<KernelMessage, 'buffers'>), buffers: raw.buffers },
  };
}

export interface DecodedFrames {
  identities: Buffer[];
  message: KernelMessage;
}

/** Frames → validated message. Never throws. */
export function decodeFrames(frames: readonly Buffer[], signer: Signer): WireResult<DecodedFrames> {
  const split = splitFrames(frames, signer);
  if (!split.ok) return split;
  const parsed = parseParts(split.value);
  if (!parsed.ok) return parsed;
  return { ok: true, value: { identities: split.value.identities, message: parsed.value } };
}

/** Same as decodeFrames, tagging the message with the channel it arrived on. */
export function decodeChannelFrames(
  channel: Channel,
  frames: readonly Buffer[],
  signer: Signer,
): WireResult<ChannelMessage> {
  const decoded = decodeFrames(frames, signer);
  if (!decoded.ok) return decoded;
  return { ok: true, value: { ...decoded.value.message, channel } };
}
