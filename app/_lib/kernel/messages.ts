// Jupyter messages as the browser sends and receives them. Wire names stay snake_case; createMessage() is the
// one place camelCase options meet them (the server's server/kernels/protocol/messages.ts imports node:crypto,
// so the page has this small browser twin).
export type Channel = "shell" | "control" | "iopub" | "stdin";
export const CHANNELS: readonly Channel[] = ["shell", "control", "iopub", "stdin"];
export type JsonObject = Record<string, unknown>;

export interface MessageHeader {
  msg_id: string;
  msg_type: string;
  session: string;
  username: string;
  date: string;
  version: string;
  [extra: string]: unknown;
}

export interface KernelMessage<C extends JsonObject = JsonObject> {
  channel: Channel;
  header: MessageHeader;
  parent_header: Partial<MessageHeader>;
  metadata: JsonObject;
  content: C;
  buffers: Uint8Array[];
}

export function randomId(): string {
  const c = globalThis.crypto;
  if (typeof c.randomUUID === "function") return c.randomUUID();
  // randomUUID needs a secure context; a portal on plain http behind a proxy still needs ids.
  const b = c.getRandomValues(new Uint8Array(16));
  b[6] = (b[6]! & 0x0f) | 0x40;
  b[8] = (b[8]! & 0x3f) | 0x80;
  const h = Array.from(b, (x) => x.toString(16).padStart(2, "0")).join("");
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20)}`;
}

export function createMessage<C extends JsonObject>(options: {
  channel: Channel;
  msgType: string;
  session: string;
  content: C;
  metadata?: JsonObject;
  parentHeader?: Partial<MessageHeader>;
}): KernelMessage<C> {
  return {
    channel: options.channel,
    header: {
      msg_id: randomId(),
      msg_type: options.msgType,
      session: options.session,
      username: "", // the gateway knows who we are from the session cookie
      date: new Date().toISOString(),
      version: "5.3",
    },
    parent_header: options.parentHeader ?? {},
    metadata: options.metadata ?? {},
    content: options.content,
    buffers: [],
  };
}

export function isKernelMessage(value: unknown): value is KernelMessage {
  if (!value || typeof value !== "object") return false;
  const v = value as Record<string, unknown>;
  const header = v.header as Record<string, unknown> | undefined;
  return (
    typeof v.channel === "string" &&
    (CHANNELS as readonly string[]).includes(v.channel) &&
    !!header &&
    typeof header.msg_id === "string" &&
    typeof header.msg_type === "string" &&
    typeof v.content === "object" &&
    v.content !== null
  );
}
