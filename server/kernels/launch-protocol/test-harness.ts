// Test support for the launch-protocol integration tests: spawn the REAL Python launcher, talk to its kernel
// over ZeroMQ. Not imported by production code. Every wait has a deadline; nothing sleeps.
import { spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import * as zmq from 'zeromq';

import { createMessage } from '../protocol/messages';
import type { JsonObject, KernelMessage } from '../protocol/messages';
import { createSigner } from '../protocol/signing';
import type { Signer } from '../protocol/signing';
import { decodeFrames, encodeFrames } from '../protocol/wire';
import type { LaunchedConnectionInfo } from './payload';

const REPO_ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../..');
export const LAUNCHER_PYTHONPATH = path.join(REPO_ROOT, 'kernel-launchers/python');

/** The Python with ipykernel + cryptography; set by the test runner. */
export function requirePython(): string {
  const python = process.env.ATRIUM_PYTHON;
  if (!python) {
    throw new Error(
      'ATRIUM_PYTHON is not set: point it at a Python with ipykernel and cryptography ' +
        '(e.g. ATRIUM_PYTHON=~/.cache/atrium/py-kernel-test/bin/python). `npm test` sets it.',
    );
  }
  return python;
}

export interface LaunchedProcess {
  child: ChildProcess;
  /** Everything the launcher wrote to stderr so far (its log), for assertion messages. */
  log(): string;
  exited: Promise<number | null>;
  kill(): void;
}

/** `env`: more environment, e.g. ATRIUM_KERNEL_CURVE=1 as the portal sets it for its v2 launches. */
export function spawnLauncher(python: string, args: string[], env: Record<string, string> = {}): LaunchedProcess {
  const child = spawn(python, ['-m', 'atrium_launcher', ...args], {
    env: { ...process.env, PYTHONPATH: LAUNCHER_PYTHONPATH, PYTHONUNBUFFERED: '1', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stderr = '';
  child.stderr!.on('data', (chunk: Buffer) => (stderr += chunk.toString('utf8')));
  child.stdout!.resume();
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  return {
    child,
    log: () => stderr,
    exited,
    kill: () => {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
    },
  };
}

export async function withDeadline<T>(what: string, promise: Promise<T>, ms: number, context = () => ''): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what}: no result within ${ms} ms\n${context()}`)), ms);
  });
  try {
    return await Promise.race([promise, timeout]);
  } catch (error) {
    // Whatever failed first (our deadline or the awaited one), say what the launcher wrote.
    const log = context();
    if (log && error instanceof Error && !error.message.includes(log)) error.message += `\n${log}`;
    throw error;
  } finally {
    clearTimeout(timer);
  }
}

const keyPair = ({ publicKey, secretKey }: { publicKey: string; secretKey: string }) => ({ curvePublicKey: publicKey, curveSecretKey: secretKey });

/** A minimal shell + iopub client, enough to prove the launched kernel is real and interruptible. */
export class TestKernelClient {
  private readonly shell: zmq.Dealer;
  private readonly iopub: zmq.Subscriber;
  private readonly signer: Signer;
  private readonly session = randomUUID();

  /** `plain`: no CURVE even if the kernel encrypts (to show such a client gets nothing). */
  constructor(info: LaunchedConnectionInfo, host = '127.0.0.1', { plain = false } = {}) {
    const serverKey = plain ? undefined : info.connection.curveServerKey;
    const curve = serverKey ? { curveServerKey: serverKey, ...keyPair(zmq.curveKeyPair()) } : {};
    this.shell = new zmq.Dealer({ linger: 0, ...curve });
    this.iopub = new zmq.Subscriber({ linger: 0, ...curve });
    this.signer = createSigner(info.connection.key, info.connection.signatureScheme);
    this.shell.connect(`tcp://${host}:${info.connection.shellPort}`);
    this.iopub.connect(`tcp://${host}:${info.connection.iopubPort}`);
    this.iopub.subscribe();
  }

  async request(msgType: string, content: JsonObject): Promise<string> {
    const msg = createMessage({ msgType, session: this.session, username: 'test', content });
    await this.shell.send(encodeFrames(msg, this.signer));
    return msg.header.msg_id;
  }

  /** Next shell reply to `msgId` (other replies are skipped). */
  async shellReply(msgId: string, deadlineMs: number): Promise<KernelMessage> {
    return this.receiveMatching(this.shell, (m) => m.parent_header.msg_id === msgId, deadlineMs, 'shell reply');
  }

  async iopubMessage(match: (m: KernelMessage) => boolean, deadlineMs: number): Promise<KernelMessage> {
    return this.receiveMatching(this.iopub, match, deadlineMs, 'iopub message');
  }

  /** kernel_info round trips until iopub delivers (ZeroMQ subscriptions join asynchronously). */
  async waitUntilReady(deadlineMs: number): Promise<KernelMessage> {
    for (;;) {
      const id = await this.request('kernel_info_request', {});
      const reply = await this.shellReply(id, deadlineMs);
      try {
        await this.iopubMessage((m) => m.parent_header.msg_id === id, Math.min(deadlineMs, Date.now() + 500));
        return reply;
      } catch (err) {
        if (Date.now() >= deadlineMs) throw err;
      }
    }
  }

  close(): void {
    this.shell.close();
    this.iopub.close();
  }

  private async receiveMatching(
    socket: zmq.Dealer | zmq.Subscriber,
    match: (m: KernelMessage) => boolean,
    deadlineMs: number,
    what: string,
  ): Promise<KernelMessage> {
    for (;;) {
      const remaining = deadlineMs - Date.now();
      if (remaining <= 0) throw new Error(`no ${what} before the deadline`);
      socket.receiveTimeout = remaining;
      let frames: Buffer[];
      try {
        frames = await socket.receive();
      } catch (err) {
        throw new Error(`no ${what} before the deadline (${(err as Error).message})`);
      }
      const decoded = decodeFrames(frames, this.signer);
      if (decoded.ok && match(decoded.value.message)) return decoded.value.message;
    }
  }
}
