// The kernel WebSocket's two framings, for the browser (no Node Buffer): `v1.kernel.websocket.jupyter.org`
// binary frames and the legacy JSON text frames. Mirrors server/kernels/protocol/websocket.ts; decoding never
// throws — a bad frame is null for the caller to drop.
//   v1: uint64 LE n, then n uint64 LE offsets, then channel | header | parent_header | metadata | content |
//       buffers...; part i runs from offsets[i] to offsets[i+1], the last offset is the frame's end.
import { isKernelMessage, type KernelMessage } from "./messages";

export const V1_SUBPROTOCOL = "v1.kernel.websocket.jupyter.org";
export type Framing = "v1" | "legacy";

const encoder = new TextEncoder();
const decoder = new TextDecoder();

export function encodeMessage(msg: KernelMessage, framing: Framing): string | ArrayBuffer {
  if (framing === "legacy") return JSON.stringify({ ...msg, buffers: [] });
  const parts = [
    encoder.encode(msg.channel),
    encoder.encode(JSON.stringify(msg.header)),
    encoder.encode(JSON.stringify(msg.parent_header ?? {})),
    encoder.encode(JSON.stringify(msg.metadata ?? {})),
    encoder.encode(JSON.stringify(msg.content ?? {})),
    ...msg.buffers,
  ];
  const offsetCount = parts.length + 1;
  const headerSize = 8 * (offsetCount + 1);
  const total = headerSize + parts.reduce((sum, p) => sum + p.byteLength, 0);
  const out = new Uint8Array(total);
  const view = new DataView(out.buffer);
  view.setBigUint64(0, BigInt(offsetCount), true);
  let offset = headerSize;
  parts.forEach((part, i) => {
    view.setBigUint64(8 * (i + 1), BigInt(offset), true);
    out.set(part, offset);
    offset += part.byteLength;
  });
  view.setBigUint64(8 * offsetCount, BigInt(offset), true);
  return out.buffer;
}

export function decodeMessage(data: string | ArrayBuffer, framing: Framing): KernelMessage | null {
  if (typeof data === "string") return framing === "legacy" ? parseJson(data) : null;
  return framing === "v1" ? decodeV1(new Uint8Array(data)) : decodeLegacyBinary(new Uint8Array(data));
}

function decodeV1(bytes: Uint8Array): KernelMessage | null {
  if (bytes.byteLength < 8) return null;
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const n = Number(view.getBigUint64(0, true));
  if (n < 6 || 8 * (n + 1) > bytes.byteLength) return null;
  const offsets: number[] = [];
  for (let i = 0; i < n; i++) {
    const value = Number(view.getBigUint64(8 * (i + 1), true));
    if (value > bytes.byteLength || (i > 0 && value < offsets[i - 1]!)) return null;
    offsets.push(value);
  }
  const part = (i: number) => bytes.subarray(offsets[i]!, offsets[i + 1]!);
  try {
    const msg = {
      channel: decoder.decode(part(0)),
      header: JSON.parse(decoder.decode(part(1))),
      parent_header: JSON.parse(decoder.decode(part(2))),
      metadata: JSON.parse(decoder.decode(part(3))),
      content: JSON.parse(decoder.decode(part(4))),
      buffers: Array.from({ length: n - 6 }, (_, i) => part(5 + i).slice()),
    };
    return isKernelMessage(msg) ? msg : null;
  } catch {
    return null;
  }
}

/** Legacy binary (only when a message has buffers): uint32 BE n, n uint32 BE offsets, JSON, buffers. */
function decodeLegacyBinary(bytes: Uint8Array): KernelMessage | null {
  if (bytes.byteLength < 8) return null;
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const n = view.getUint32(0);
  if (n < 1 || 4 * (n + 1) > bytes.byteLength) return null;
  const offsets: number[] = [];
  for (let i = 0; i < n; i++) offsets.push(view.getUint32(4 * (i + 1)));
  const slice = (i: number) => bytes.subarray(offsets[i]!, offsets[i + 1] ?? bytes.byteLength);
  const msg = parseJson(decoder.decode(slice(0)));
  if (!msg) return null;
  msg.buffers = Array.from({ length: n - 1 }, (_, i) => slice(i + 1).slice());
  return msg;
}

function parseJson(text: string): KernelMessage | null {
  try {
    const value = JSON.parse(text) as Record<string, unknown>;
    const msg = { ...value, parent_header: value.parent_header ?? {}, metadata: value.metadata ?? {}, buffers: [] };
    return isKernelMessage(msg) ? msg : null;
  } catch {
    return null;
  }
}
