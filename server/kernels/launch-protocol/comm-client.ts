// Signal and shutdown requests to a launcher's communication port. One TCP connection per request.
// v2: read the launcher's challenge, answer with the MAC'd request, read its verdict.
// v1 (JEG): send the JSON and half-close; the launcher closes when it has read it. No verdict exists in v1.
import net from 'node:net';

import { CommPortError } from './errors';
import { parseChallenge, parseReply, signCommRequest } from './comm-auth';
import type { CommRequest } from './comm-auth';
import { PROTOCOL_V1, PROTOCOL_V2 } from './payload';
import type { LaunchedConnectionInfo } from './payload';

export type CommTarget =
  | { kernelId: string; host: string; port: number; protocolVersion: typeof PROTOCOL_V2; commKey: Buffer }
  | { kernelId: string; host: string; port: number; protocolVersion: typeof PROTOCOL_V1 };

export interface CommOptions {
  /** Epoch milliseconds; default 10 s from now. */
  deadlineMs?: number;
}

/** Where to reach the comm port of a launched kernel: `host` is usually info.hostIp or info.peerAddress. */
export function commTargetOf(info: LaunchedConnectionInfo, host: string): CommTarget {
  if (info.commPort <= 0) throw new Error(`kernel ${info.kernelId} serves no communication port`);
  return info.protocolVersion === PROTOCOL_V2
    ? { kernelId: info.kernelId, host, port: info.commPort, protocolVersion: PROTOCOL_V2, commKey: info.commKey }
    : { kernelId: info.kernelId, host, port: info.commPort, protocolVersion: PROTOCOL_V1 };
}

/** Send a signal (2 = SIGINT = interrupt; 0 = liveness poll). Resolves once the launcher accepted it. */
export function sendSignal(target: CommTarget, signum: number, options: CommOptions = {}): Promise<void> {
  if (!Number.isInteger(signum) || signum < 0 || signum > 64) {
    return Promise.reject(new Error(`signal ${signum} is not a signal number`));
  }
  return sendCommRequest(target, { signum }, options);
}

/** Ask the launcher to stop its kernel and exit. */
export function requestShutdown(target: CommTarget, options: CommOptions = {}): Promise<void> {
  return sendCommRequest(target, { shutdown: 1 }, options);
}

export function sendCommRequest(target: CommTarget, request: CommRequest, options: CommOptions = {}): Promise<void> {
  const deadlineMs = options.deadlineMs ?? Date.now() + 10_000;
  const address = `${target.host}:${target.port}`;
  const fail = (code: CommPortError['code'], message: string) =>
    new CommPortError(code, `kernel ${target.kernelId}: comm port ${address}: ${message}`, target.kernelId, address);

  return new Promise<void>((resolve, reject) => {
    const socket = net.connect({ host: target.host, port: target.port });
    socket.setNoDelay(true);
    let finished = false;
    let buffered = '';
    let stage: 'challenge' | 'verdict' | 'v1-close' = target.protocolVersion === PROTOCOL_V2 ? 'challenge' : 'v1-close';

    const finish = (error?: CommPortError) => {
      if (finished) return;
      finished = true;
      clearTimeout(timer);
      socket.destroy();
      if (error) reject(error);
      else resolve();
    };
    const timer = setTimeout(
      () => finish(fail('COMM_TIMEOUT', `no answer before the deadline (stage: ${stage})`)),
      Math.max(0, deadlineMs - Date.now()),
    );

    socket.on('connect', () => {
      if (target.protocolVersion === PROTOCOL_V1) socket.end(JSON.stringify(request));
    });
    socket.on('data', (chunk: Buffer) => {
      if (target.protocolVersion === PROTOCOL_V1) return;
      buffered += chunk.toString('utf8');
      if (buffered.length > 64 * 1024) return finish(fail('COMM_PROTOCOL', 'launcher sent too much'));
      let newline: number;
      while ((newline = buffered.indexOf('\n')) >= 0) {
        const line = buffered.slice(0, newline);
        buffered = buffered.slice(newline + 1);
        if (stage === 'challenge') {
          const challenge = parseChallenge(line);
          if (!challenge) return finish(fail('COMM_PROTOCOL', 'expected a v2 challenge (is the launcher v1?)'));
          stage = 'verdict';
          socket.write(signCommRequest(target.commKey, target.kernelId, challenge, request));
        } else if (stage === 'verdict') {
          const reply = parseReply(line);
          if (!reply) return finish(fail('COMM_PROTOCOL', 'unreadable answer from the launcher'));
          return finish(reply.ok ? undefined : fail('COMM_REFUSED', `launcher refused: ${reply.error ?? 'no reason'}`));
        }
      }
    });
    socket.on('end', () => {
      if (stage === 'v1-close') finish();
      else finish(fail('COMM_PROTOCOL', `launcher closed the connection (stage: ${stage})`));
    });
    socket.on('error', (err: NodeJS.ErrnoException) => {
      const unreachable = ['ECONNREFUSED', 'EHOSTUNREACH', 'ENETUNREACH', 'ENOTFOUND'].includes(err.code ?? '');
      // v1: a launcher that read our request and closed at once may reset us; the request was delivered.
      if (stage === 'v1-close' && err.code === 'ECONNRESET') return finish();
      finish(fail(unreachable ? 'COMM_UNREACHABLE' : 'COMM_PROTOCOL', err.message));
    });
  });
}
