// Jupyter messaging protocol 5.3: message shapes, type guards and the one place
// (createMessage) where Atrium's camelCase options become the spec's snake_case fields.
// Wire names stay snake_case everywhere a message travels, so they can be forwarded untouched.
// Touch this file when the protocol version changes or a new message type needs a typed content.
import { randomUUID } from 'node:crypto';

export const PROTOCOL_VERSION = '5.3';

export const CHANNELS = ['shell', 'control', 'iopub', 'stdin'] as const;
export type Channel = (typeof CHANNELS)[number];

/** Channels a client may send on (iopub is kernel → client only). */
export type OutgoingChannel = Exclude<Channel, 'iopub'>;

export type JsonObject = Record<string, unknown>;

export interface MessageHeader {
  msg_id: string;
  msg_type: string;
  session: string;
  username: string;
  /** ISO 8601 as the sender wrote it; kept as a string so it round-trips byte for byte. */
  date: string;
  version: string;
  /** Newer kernels add fields (e.g. subshell_id); keep them when forwarding. */
  [extra: string]: unknown;
}

/** A message without a parent carries `{}` here, as the spec says. */
export type ParentHeader = MessageHeader | Record<string, never>;

export interface KernelMessage<Content extends JsonObject = JsonObject> {
  header: MessageHeader;
  parent_header: ParentHeader;
  metadata: JsonObject;
  content: Content;
  buffers: Uint8Array[];
  /** Set on messages that crossed a channel (received, or framed for a WebSocket). */
  channel?: Channel;
}

/** A message known to be on a channel: what the WebSocket framings and the connection deal in. */
export type ChannelMessage<Content extends JsonObject = JsonObject> = KernelMessage<Content> & {
  channel: Channel;
};

// --- type guards (used at every trust boundary: kernel frames, browser frames) ---

export function isJsonObject(value: unknown): value is JsonObject {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

export function isChannel(value: unknown): value is Channel {
  return typeof value === 'string' && (CHANNELS as readonly string[]).includes(value);
}

const HEADER_STRING_FIELDS = ['msg_id', 'msg_type', 'session', 'username', 'date', 'version'] as const;

export function isMessageHeader(value: unknown): value is MessageHeader {
  if (!isJsonObject(value)) return false;
  return HEADER_STRING_FIELDS.every((field) => typeof value[field] === 'string') && value.msg_id !== '';
}

/**
 * A client's header as Jupyter Server takes it: msg_id and msg_type are what it needs; a missing session,
 * username, date or version gets a default (JEG's own GatewayClient sends no date). The same object comes back
 * when nothing was missing.
 */
export function withHeaderDefaults(value: unknown): unknown {
  if (!isJsonObject(value) || HEADER_STRING_FIELDS.every((field) => typeof value[field] === 'string')) return value;
  const defaults: Record<string, string> = { session: '', username: '', date: new Date().toISOString(), version: PROTOCOL_VERSION };
  const filled: JsonObject = { ...value };
  for (const [field, fallback] of Object.entries(defaults)) if (filled[field] === undefined) filled[field] = fallback;
  return filled;
}

export function isParentHeader(value: unknown): value is ParentHeader {
  return isJsonObject(value) && (Object.keys(value).length === 0 || isMessageHeader(value));
}

/** Checks the four JSON parts of a message (buffers are checked by the framings). */
export function isMessageParts(value: {
  header: unknown;
  parent_header: unknown;
  metadata: unknown;
  content: unknown;
}): value is Pick<KernelMessage, 'header' | 'parent_header' | 'metadata' | 'content'> {
  return (
    isMessageHeader(value.header) &&
    isParentHeader(value.parent_header) &&
    isJsonObject(value.metadata) &&
    isJsonObject(value.content)
  );
}

/** Why a message's parts are invalid, for logs and typed failures. Null when valid. */
export function describeInvalidParts(value: {
  header: unknown;
  parent_header: unknown;
  metadata: unknown;
  content: unknown;
}): string | null {
  if (!isMessageHeader(value.header)) return 'header is not a valid message header';
  if (!isParentHeader(value.parent_header)) return 'parent_header is neither {} nor a valid header';
  if (!isJsonObject(value.metadata)) return 'metadata is not a JSON object';
  if (!isJsonObject(value.content)) return 'content is not a JSON object';
  return null;
}

export function hasParent(msg: KernelMessage): msg is KernelMessage & { parent_header: MessageHeader } {
  return typeof msg.parent_header.msg_id === 'string';
}

/** The msg_id this message answers, or undefined for unsolicited messages. */
export function parentMsgId(msg: KernelMessage): string | undefined {
  const id = msg.parent_header.msg_id;
  return typeof id === 'string' ? id : undefined;
}

// --- typed contents Atrium itself reads (the rest pass through as JsonObject) ---

export interface StatusContent extends JsonObject {
  execution_state: 'busy' | 'idle' | 'starting' | 'restarting' | 'dead';
}

export interface ExecuteRequestContent extends JsonObject {
  code: string;
  silent: boolean;
  store_history: boolean;
  user_expressions: JsonObject;
  allow_stdin: boolean;
  stop_on_error: boolean;
}

export interface ReplyContent extends JsonObject {
  status: 'ok' | 'error' | 'aborted';
}

export function isMessageType<C extends JsonObject>(
  msg: KernelMessage,
  msgType: string,
): msg is KernelMessage<C> {
  return msg.header.msg_type === msgType;
}

export function isStatusMessage(msg: KernelMessage): msg is KernelMessage<StatusContent> {
  return msg.header.msg_type === 'status' && typeof msg.content.execution_state === 'string';
}

// --- construction ---

export interface CreateMessageOptions<Content extends JsonObject> {
  msgType: string;
  /** The client session: also the ZeroMQ routing id of the connection that sends it. */
  session: string;
  username: string;
  content: Content;
  channel?: Channel;
  parentHeader?: ParentHeader;
  metadata?: JsonObject;
  buffers?: Uint8Array[];
  /** For tests and replays; a fresh uuid otherwise. */
  msgId?: string;
}

/** The one place camelCase options become the spec's snake_case message. */
export function createMessage<Content extends JsonObject>(
  options: CreateMessageOptions<Content>,
): KernelMessage<Content> {
  const msg: KernelMessage<Content> = {
    header: {
      msg_id: options.msgId ?? randomUUID(),
      msg_type: options.msgType,
      session: options.session,
      username: options.username,
      date: new Date().toISOString(),
      version: PROTOCOL_VERSION,
    },
    parent_header: options.parentHeader ?? {},
    metadata: options.metadata ?? {},
    content: options.content,
    buffers: options.buffers ?? [],
  };
  if (options.channel) msg.channel = options.channel;
  return msg;
}

/** Content of an execute_request with the spec's defaults filled in. */
export function executeRequestContent(
  code: string,
  options: {
    silent?: boolean;
    store_history?: boolean;
    user_expressions?: JsonObject;
    allow_stdin?: boolean;
    stop_on_error?: boolean;
  } = {},
): ExecuteRequestContent {
  return {
    code,
    silent: options.silent ?? false,
    store_history: options.store_history ?? true,
    user_expressions: options.user_expressions ?? {},
    allow_stdin: options.allow_stdin ?? false,
    stop_on_error: options.stop_on_error ?? true,
  };
}
