// What the bench asks of a kernel, on any transport: kernel_info (start time), execute round trips and
// output throughput. An execute is complete when BOTH its execute_reply (shell) and its `idle` status
// (iopub) have arrived: that is when a notebook shows the cell as done with all its output.
import { performance } from 'node:perf_hooks';
import { executeRequestContent, parentMsgId, type ChannelMessage } from '../../server/kernels/protocol/messages';
import type { MessageTransport } from './transport';

export interface ExecuteOutcome {
  /** send → reply and idle both in */
  elapsedMs: number;
  replyMs: number;
  idleMs: number;
  status: string;
  stdoutBytes: number;
  stdoutLines: number;
  stderrText: string;
  /** jupyter_server's "IOPub data/message rate exceeded" notices: output was dropped */
  rateLimitNotices: number;
  iopubMessages: number;
  wireBytes: number;
  /** With `timeline`: when the kernel stamped its messages and when they arrived (see ExecuteTimeline). */
  timeline?: ExecuteTimeline;
}

/**
 * Epoch ms, on this host's wall clock: the send, and per message the kernel's header `date` (stamped when the kernel
 * made it) and when it arrived here. Kernel and client share the host's clock, so "the kernel's busy − the send" is
 * the way in (client → gateway → kernel, plus the kernel's reading of the request) and "arrived − stamped" the way
 * out; a gateway's hop is the difference from direct ZeroMQ's (anything constant cancels there).
 */
export interface ExecuteTimeline {
  sentAt: number;
  busy?: { stampedAt: number; arrivedAt: number };
  reply?: { stampedAt: number; arrivedAt: number };
  idle?: { stampedAt: number; arrivedAt: number };
}

/** A Jupyter header date ("2026-11-30T19:00:00.123456Z", µs) as epoch ms with its fraction; NaN if unreadable. */
export function jupyterDateMs(date: unknown): number {
  const m = typeof date === 'string' ? /^(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d)(?:\.(\d+))?(Z|[+-]\d\d:?\d\d)?$/.exec(date) : null;
  if (!m) return NaN;
  return Date.parse(`${m[1]}${m[3] ?? 'Z'}`) + (m[2] ? Number(`0.${m[2]}`) * 1000 : 0);
}

function countNewlines(text: string): number {
  let n = 0;
  let at = text.indexOf('\n');
  while (at !== -1) {
    n += 1;
    at = text.indexOf('\n', at + 1);
  }
  return n;
}

/**
 * `metadata`: the request's metadata, e.g. the notebook cell Atrium's page tags its executes with. `timeline`: also
 * record when the kernel stamped its busy, reply and idle and when each arrived (a little client work per message).
 */
export function execute(t: MessageTransport, code: string, deadlineMs: number, metadata?: Record<string, unknown>, timeline = false): Promise<ExecuteOutcome> {
  const msg = t.createMessage('execute_request', executeRequestContent(code));
  if (metadata) msg.metadata = metadata as typeof msg.metadata;
  const id = msg.header.msg_id;
  const out: ExecuteOutcome = {
    elapsedMs: NaN,
    replyMs: NaN,
    idleMs: NaN,
    status: '',
    stdoutBytes: 0,
    stdoutLines: 0,
    stderrText: '',
    rateLimitNotices: 0,
    iopubMessages: 0,
    wireBytes: 0,
  };
  return new Promise<ExecuteOutcome>((resolve, reject) => {
    let started = 0;
    const finish = (error?: Error) => {
      clearTimeout(timer);
      offMessage();
      offClose();
      if (error) reject(error);
      else resolve(out);
    };
    const timer = setTimeout(() => {
      finish(
        new Error(
          `execute ${JSON.stringify(code.slice(0, 40))} on ${t.description}: not complete within ${deadlineMs} ms ` +
            `(reply ${Number.isNaN(out.replyMs) ? 'missing' : 'in'}, idle ${Number.isNaN(out.idleMs) ? 'missing' : 'in'}, ` +
            `${out.stdoutLines} lines so far)`,
        ),
      );
    }, deadlineMs);
    const offClose = t.onClose((reason) => finish(new Error(`execute on ${t.description}: ${reason}`)));
    const offMessage = t.onMessage((m: ChannelMessage, wireBytes: number) => {
      if (parentMsgId(m) !== id) return;
      out.wireBytes += wireBytes;
      const type = m.header.msg_type;
      if (out.timeline) {
        const mark = { stampedAt: jupyterDateMs(m.header.date), arrivedAt: performance.timeOrigin + performance.now() };
        if (m.channel === 'shell' && type === 'execute_reply') out.timeline.reply = mark;
        else if (m.channel === 'iopub' && type === 'status') {
          if (m.content.execution_state === 'busy') out.timeline.busy = mark;
          else if (m.content.execution_state === 'idle') out.timeline.idle = mark;
        }
      }
      if (m.channel === 'iopub') {
        out.iopubMessages += 1;
        if (type === 'stream') {
          const text = typeof m.content.text === 'string' ? m.content.text : '';
          if (m.content.name === 'stdout') {
            out.stdoutBytes += Buffer.byteLength(text, 'utf8');
            out.stdoutLines += countNewlines(text);
          } else {
            if (/IOPub (data|message) rate exceeded/.test(text)) out.rateLimitNotices += 1;
            if (out.stderrText.length < 2000) out.stderrText += text.slice(0, 2000);
          }
        } else if (type === 'status' && m.content.execution_state === 'idle') {
          out.idleMs = performance.now() - started;
        }
      } else if (m.channel === 'shell' && type === 'execute_reply') {
        out.replyMs = performance.now() - started;
        out.status = String(m.content.status);
      }
      if (!Number.isNaN(out.replyMs) && !Number.isNaN(out.idleMs)) {
        out.elapsedMs = Math.max(out.replyMs, out.idleMs);
        finish(out.status === 'ok' ? undefined : new Error(`execute ${JSON.stringify(code)}: status ${out.status}`));
      }
    });
    started = performance.now();
    if (timeline) out.timeline = { sentAt: performance.timeOrigin + started };
    try {
      t.send('shell', msg);
    } catch (error) {
      finish(error as Error);
    }
  });
}

/**
 * Sends kernel_info_request now and again every `resendMs` until any of them is answered, or the deadline.
 * Resolves with the first kernel_info_reply's content and the time since `since`.
 */
export function firstKernelInfo(
  t: MessageTransport,
  deadlineMs: number,
  since = performance.now(),
  resendMs = 1_000,
): Promise<{ ms: number; content: Record<string, unknown> }> {
  const ids = new Set<string>();
  return new Promise((resolve, reject) => {
    const finish = (error: Error | undefined, value?: { ms: number; content: Record<string, unknown> }) => {
      clearTimeout(timer);
      clearInterval(resend);
      offMessage();
      offClose();
      if (error) reject(error);
      else resolve(value!);
    };
    const send = () => {
      const msg = t.createMessage('kernel_info_request', {});
      ids.add(msg.header.msg_id);
      try {
        t.send('shell', msg);
      } catch (error) {
        finish(error as Error);
      }
    };
    const timer = setTimeout(
      () => finish(new Error(`no kernel_info_reply on ${t.description} within ${deadlineMs} ms (${ids.size} requests)`)),
      deadlineMs,
    );
    const resend = setInterval(send, resendMs);
    const offClose = t.onClose((reason) => finish(new Error(`kernel_info on ${t.description}: ${reason}`)));
    const offMessage = t.onMessage((m) => {
      if (m.channel !== 'shell' || m.header.msg_type !== 'kernel_info_reply') return;
      const parent = parentMsgId(m);
      if (parent === undefined || !ids.has(parent)) return;
      finish(undefined, { ms: performance.now() - since, content: m.content });
    });
    send();
  });
}

// --- statistics ---

export interface Summary {
  n: number;
  p50: number;
  p90: number;
  p99: number;
  mean: number;
  min: number;
  max: number;
}

/** Nearest-rank percentiles. */
export function summarize(samples: readonly number[]): Summary {
  const sorted = [...samples].sort((a, b) => a - b);
  const n = sorted.length;
  const at = (p: number) => sorted[Math.min(n - 1, Math.max(0, Math.ceil((p / 100) * n) - 1))]!;
  const round = (x: number) => Math.round(x * 1000) / 1000;
  return {
    n,
    p50: round(at(50)),
    p90: round(at(90)),
    p99: round(at(99)),
    mean: round(sorted.reduce((a, b) => a + b, 0) / n),
    min: round(sorted[0]!),
    max: round(sorted[n - 1]!),
  };
}
