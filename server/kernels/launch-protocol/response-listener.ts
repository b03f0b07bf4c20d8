// The ONE TCP listener per portal process that every kernel launcher reports to (the `{response_address}`).
// It only moves bytes: one payload per connection, ended by the launcher's half-close; the LaunchRegistry
// matches and decrypts. Strangers' connections (port scans, garbage, slow senders) are bounded in size and
// time, logged, and closed; they never disturb pending launches.
//
// v2 launchers get a one-line answer, {"ok":true} or {"ok":false}, so a refused launcher exits instead of
// leaving an unreachable kernel running. v1 (JEG) launchers close after sending and get nothing.
import net from 'node:net';

import { log as defaultLog } from '../../log';
import { LaunchPayloadError } from './errors';
import { LaunchRegistry } from './launch-registry';
import type { LaunchRegistryOptions, LaunchTicket } from './launch-registry';
import { MAX_PAYLOAD_BYTES } from './payload';
import type { LaunchedConnectionInfo, LaunchProtocolVersion } from './payload';

export interface Logger {
  info(message: string, ...extra: unknown[]): void;
  warn(message: string, ...extra: unknown[]): void;
  error(message: string, ...extra: unknown[]): void;
}

export interface ResponseListenerOptions extends LaunchRegistryOptions {
  /** Bind address. Default 127.0.0.1; use 0.0.0.0 (with advertisedHost) when launchers run elsewhere. */
  host?: string;
  /** 0 = ephemeral (default). */
  port?: number;
  /** The host launchers should dial, when it differs from the bind address (e.g. bound to 0.0.0.0). */
  advertisedHost?: string;
  /** A connection that has not finished sending within this time is dropped. */
  readTimeoutMs?: number;
  log?: Logger;
}

/** A registered launch plus where to report: everything a launcher class substitutes into argv. */
export interface ResponseTicket extends LaunchTicket {
  /** `{response_address}`: host:port. */
  responseAddress: string;
}

export class ResponseListener {
  readonly registry: LaunchRegistry;
  private readonly log: Logger;
  private server?: net.Server;
  private readonly sockets = new Set<net.Socket>();
  private boundPort = 0;

  constructor(private readonly options: ResponseListenerOptions = {}) {
    this.registry = new LaunchRegistry(options);
    this.log = options.log ?? defaultLog;
  }

  async start(): Promise<void> {
    if (this.server) return;
    const server = net.createServer((socket) => this.onConnection(socket));
    server.on('error', (err) => this.log.error(`launch response listener: ${err.message}`));
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(this.options.port ?? 0, this.options.host ?? '127.0.0.1', () => {
        server.off('error', reject);
        resolve();
      });
    });
    this.server = server;
    this.boundPort = (server.address() as net.AddressInfo).port;
    this.log.info(`launch response listener on ${this.address}`);
  }

  /** Closes the port, drops connections in flight and fails every pending launch. */
  async stop(): Promise<void> {
    const server = this.server;
    if (!server) return;
    this.server = undefined;
    for (const socket of this.sockets) socket.destroy();
    this.sockets.clear();
    this.registry.cancelAll('the launch response listener stopped');
    await new Promise<void>((resolve) => server.close(() => resolve()));
  }

  /** host:port for `{response_address}`. */
  get address(): string {
    if (!this.server) throw new Error('response listener is not started');
    const host = this.options.advertisedHost ?? this.options.host ?? '127.0.0.1';
    return `${host.includes(':') ? `[${host}]` : host}:${this.boundPort}`;
  }

  async register(kernelId: string, options: { protocolVersion?: LaunchProtocolVersion } = {}): Promise<ResponseTicket> {
    const ticket = await this.registry.register(kernelId, options);
    return { ...ticket, responseAddress: this.address };
  }

  /** See LaunchRegistry.waitFor: `deadlineMs` is epoch milliseconds. */
  waitFor(kernelId: string, deadlineMs: number): Promise<LaunchedConnectionInfo> {
    return this.registry.waitFor(kernelId, deadlineMs);
  }

  cancel(kernelId: string, reason?: string): void {
    this.registry.cancel(kernelId, reason);
  }

  private onConnection(socket: net.Socket): void {
    this.sockets.add(socket);
    socket.setNoDelay(true);
    socket.setTimeout(this.options.readTimeoutMs ?? 15_000);
    const peer = `${socket.remoteAddress ?? '?'}:${socket.remotePort ?? '?'}`;
    const chunks: Buffer[] = [];
    let size = 0;
    let done = false;

    socket.on('data', (chunk: Buffer) => {
      if (done) return;
      size += chunk.length;
      if (size > MAX_PAYLOAD_BYTES) {
        done = true;
        this.log.warn(`launch response from ${peer} exceeds ${MAX_PAYLOAD_BYTES} bytes; dropped`);
        socket.destroy();
        return;
      }
      chunks.push(chunk);
    });
    socket.on('end', () => {
      if (done) return;
      done = true;
      this.handlePayload(Buffer.concat(chunks), socket, peer);
    });
    socket.on('timeout', () => {
      if (done) return;
      done = true;
      this.log.warn(`launch response from ${peer} incomplete after the read timeout; dropped`);
      socket.destroy();
    });
    socket.on('error', () => {}); // resets from strangers are routine; 'close' cleans up
    socket.on('close', () => this.sockets.delete(socket));
  }

  private handlePayload(raw: Buffer, socket: net.Socket, peer: string): void {
    if (raw.length === 0) {
      socket.end(); // a bare connect (health check, port scan)
      return;
    }
    // JSON envelopes come from Atrium (v2) launchers, which wait for an answer; JEG's base64 ones do not.
    const wantsAnswer = raw.subarray(0, 16).toString('utf8').trimStart().startsWith('{');
    try {
      const info = this.registry.accept(raw, { peerAddress: socket.remoteAddress ?? undefined });
      this.log.info(`kernel ${info.kernelId}: connection info received (v${info.protocolVersion}) from ${peer}`);
      if (wantsAnswer) socket.end('{"ok":true}\n');
      else socket.end();
    } catch (err) {
      if (err instanceof LaunchPayloadError) {
        this.log.warn(`launch response from ${peer} rejected: ${err.code}: ${err.message}`);
      } else {
        this.log.error(`launch response from ${peer} failed: ${(err as Error).message}`);
      }
      if (wantsAnswer) socket.end('{"ok":false}\n');
      else socket.end();
    }
  }
}
