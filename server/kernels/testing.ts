// Helpers for integration tests that talk to a real kernel over ZeroMQ (launcher tests: local, remote,
// YARN, Kubernetes). Test-only; every wait has a deadline.
import type { TestContext } from 'node:test';
import { KernelConnection, type ConnectionInfo, type KernelConnectionOptions, type KernelLogger } from './connection';
import { randomUUID } from 'node:crypto';
import { executeRequestContent, parentMsgId, type ChannelMessage, type KernelMessage, type OutgoingChannel } from './protocol/messages';
import type { RawMessageParts } from './protocol/wire';

/** Kernel logs stay out of test output (a test asserts on what matters). */
export const quietKernelLog: KernelLogger = { debug() {}, warn() {}, error() {} };

/** A connection to the kernel, ready on shell and iopub within `deadlineMs`, closed when the test ends. */
export async function connectForTest(
  t: TestContext,
  kernel: { kernelId: string; connectionInfo: ConnectionInfo },
  deadlineMs: number,
  options: KernelConnectionOptions = { heartbeat: false, logger: quietKernelLog },
): Promise<KernelConnection> {
  const connection = new KernelConnection(kernel.connectionInfo, { label: kernel.kernelId, ...options });
  t.after(() => connection.close());
  await connection.waitForReady(deadlineMs);
  return connection;
}

/** The first message matching `accept`, or a rejection naming `what` at the deadline. */
export function nextMessage(connection: KernelConnection, accept: (msg: ChannelMessage) => boolean, deadlineMs: number, what: string): Promise<ChannelMessage> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      off();
      reject(new Error(`no ${what} within ${deadlineMs} ms`));
    }, deadlineMs);
    const off = connection.onMessage((msg) => {
      if (!accept(msg)) return;
      clearTimeout(timer);
      off();
      resolve(msg);
    });
  });
}

/**
 * Runs `code` and resolves at both its execute_reply and its iopub "idle" (shell and iopub are separate sockets:
 * the output is complete only at idle, which may follow the reply). `out`: stdout and the result's text/plain;
 * `all`: every stream and any error, for assertion messages.
 */
export async function runCode(connection: KernelConnection, code: string, deadlineMs: number): Promise<{ reply: ChannelMessage; out: string; all: string }> {
  const msg = connection.createMessage('execute_request', executeRequestContent(code));
  const id = msg.header.msg_id;
  let out = '';
  let all = '';
  const off = connection.onMessage((m) => {
    if (parentMsgId(m) !== id) return;
    if (m.header.msg_type === 'stream' && m.content.name === 'stdout') out += String(m.content.text);
    if (m.header.msg_type === 'stream') all += String(m.content.text);
    if (m.header.msg_type === 'execute_result') out += String((m.content.data as Record<string, unknown>)['text/plain']);
    if (m.header.msg_type === 'error') all += `${m.content.ename}: ${m.content.evalue}`;
  });
  try {
    const what = code.slice(0, 60);
    const reply = nextMessage(connection, (m) => m.channel === 'shell' && parentMsgId(m) === id, deadlineMs, `the reply to ${what}`);
    const idle = nextMessage(connection, (m) => m.channel === 'iopub' && parentMsgId(m) === id && m.header.msg_type === 'status' && m.content.execution_state === 'idle', deadlineMs, `idle after ${what}`);
    await connection.send('shell', msg);
    const [answer] = await Promise.all([reply, idle]);
    return { reply: answer, out, all };
  } finally {
    off();
  }
}

type Listener = (msg: ChannelMessage, raw: RawMessageParts) => void;

/**
 * Just what the output recorder uses of a LiveKernel (client sends and kernel messages), driven by the test:
 * for recorder tests that need exact message sequences. Real kernels drive it in manager.int.test.ts.
 */
export class MessageSource {
  private readonly sends = new Set<(channel: OutgoingChannel, msg: KernelMessage) => void>();
  private readonly listeners = new Set<Listener>();
  constructor(
    readonly id: string,
    readonly ownerId: string,
  ) {}
  observeSends(observer: (channel: OutgoingChannel, msg: KernelMessage) => void) {
    this.sends.add(observer);
    return () => this.sends.delete(observer);
  }
  subscribe(listener: Listener) {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }
  /** An execute_request from a notebook cell (tagged as Atrium's notebook page does), or an untagged API one. */
  execute(code: string, cell: { notebookPath: string; cellId: string } | null = { notebookPath: "Test.ipynb", cellId: "cell-1" }): string {
    const msgId = randomUUID();
    const metadata = cell ? { atrium: cell } : {};
    const msg = { header: { msg_id: msgId, msg_type: "execute_request", session: "s", username: "u", date: new Date().toISOString(), version: "5.3" }, parent_header: {}, metadata, content: { code, silent: false }, buffers: [] } as unknown as KernelMessage;
    for (const send of this.sends) send("shell", msg);
    return msgId;
  }
  reply(parentId: string, channel: "iopub" | "shell", msgType: string, content: Record<string, unknown>) {
    const msg = { channel, header: { msg_id: randomUUID(), msg_type: msgType, session: "k", username: "k", date: new Date().toISOString(), version: "5.3" }, parent_header: { msg_id: parentId }, metadata: {}, content, buffers: [] } as unknown as ChannelMessage;
    const json = (value: unknown) => Buffer.from(JSON.stringify(value));
    const raw: RawMessageParts = { identities: [], header: json(msg.header), parentHeader: json(msg.parent_header), metadata: json(msg.metadata), content: json(msg.content), buffers: [] };
    for (const listener of this.listeners) listener(msg, raw);
  }
  /** A whole quick execute: busy, input, a stream line, the reply and idle. */
  runQuickly(code: string, text: string, count: number): string {
    const id = this.execute(code);
    this.reply(id, "iopub", "status", { execution_state: "busy" });
    this.reply(id, "iopub", "execute_input", { code, execution_count: count });
    this.reply(id, "iopub", "stream", { name: "stdout", text });
    this.reply(id, "shell", "execute_reply", { status: "ok", execution_count: count });
    this.reply(id, "iopub", "status", { execution_state: "idle" });
    return id;
  }
}
