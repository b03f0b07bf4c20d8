// The two ways the bench talks to a kernel, behind one interface the workloads use:
//   - DirectTransport: Atrium's KernelConnection (zeromq.js) straight to the kernel's sockets. libzmq sets
//     TCP_NODELAY on every TCP socket itself.
//   - GatewayClient + WsTransport: the standard Jupyter REST API and the /api/kernels/{id}/channels WebSocket,
//     legacy JSON or v1.kernel.websocket.jupyter.org, `Authorization: token <t>`. ONE client for every
//     gateway (Enterprise Gateway, Kernel Gateway, Atrium). TCP_NODELAY on every client socket.
import http from 'node:http';
import https from 'node:https';
import { randomUUID } from 'node:crypto';
import WebSocket from 'ws';
import { KernelConnection, type ConnectionInfo } from '../../server/kernels/connection';
import {
  createMessage,
  type Channel,
  type ChannelMessage,
  type JsonObject,
  type KernelMessage,
  type OutgoingChannel,
} from '../../server/kernels/protocol/messages';
import {
  V1_SUBPROTOCOL,
  decodeWsMessage,
  encodeWsMessage,
  framingForSubprotocol,
  type WsFraming,
} from '../../server/kernels/protocol/websocket';
import type { RawMessageParts } from '../../server/kernels/protocol/wire';

export type Handler = (msg: ChannelMessage, wireBytes: number) => void;

export interface MessageTransport {
  /** e.g. "zmq", "ws v1", "ws legacy" */
  readonly description: string;
  createMessage<C extends JsonObject>(msgType: string, content: C): KernelMessage<C>;
  send(channel: OutgoingChannel, msg: KernelMessage): void;
  onMessage(handler: Handler): () => void;
  /** Fires when the transport fails or closes underneath the workload. */
  onClose(handler: (reason: string) => void): () => void;
  close(): Promise<void>;
}

// --- direct ZeroMQ ---

function rawBytes(raw: RawMessageParts): number {
  let n = raw.header.length + raw.parentHeader.length + raw.metadata.length + raw.content.length;
  for (const b of raw.buffers) n += b.length;
  return n;
}

export class DirectTransport implements MessageTransport {
  readonly description = 'zmq';
  readonly connection: KernelConnection;
  private readonly closeHandlers = new Set<(reason: string) => void>();

  constructor(info: ConnectionInfo) {
    // No heartbeat: the workloads alone should be on the wire.
    this.connection = new KernelConnection(info, { heartbeat: false, label: 'bench-direct', username: 'bench' });
  }

  createMessage<C extends JsonObject>(msgType: string, content: C): KernelMessage<C> {
    return this.connection.createMessage(msgType, content);
  }

  send(channel: OutgoingChannel, msg: KernelMessage): void {
    this.connection.send(channel, msg).catch((error: Error) => {
      for (const h of this.closeHandlers) h(`zmq send failed: ${error.message}`);
    });
  }

  onMessage(handler: Handler): () => void {
    return this.connection.onMessage((msg, raw) => handler(msg, rawBytes(raw)));
  }

  onClose(handler: (reason: string) => void): () => void {
    this.closeHandlers.add(handler);
    return () => this.closeHandlers.delete(handler);
  }

  close(): Promise<void> {
    return this.connection.close();
  }
}

// --- Jupyter REST (gateways) ---

export interface GatewayOptions {
  baseUrl: string;
  token?: string;
}

export interface HttpResult {
  status: number;
  body: string;
  json: unknown;
}

export class GatewayClient {
  readonly baseUrl: URL;
  readonly token: string | undefined;

  constructor(options: GatewayOptions) {
    this.baseUrl = new URL(options.baseUrl.endsWith('/') ? options.baseUrl : options.baseUrl + '/');
    this.token = options.token;
  }

  private headers(): Record<string, string> {
    return this.token ? { Authorization: `token ${this.token}` } : {};
  }

  /** One request with a hard deadline; a fresh connection each time (agent: false), TCP_NODELAY on it. */
  request(method: string, apiPath: string, body: unknown, deadlineMs: number): Promise<HttpResult> {
    const url = new URL(apiPath.replace(/^\//, ''), this.baseUrl);
    const payload = body === undefined ? undefined : Buffer.from(JSON.stringify(body), 'utf8');
    const lib = url.protocol === 'https:' ? https : http;
    return new Promise((resolve, reject) => {
      const req = lib.request(
        url,
        {
          method,
          agent: false,
          signal: AbortSignal.timeout(deadlineMs),
          headers: {
            ...this.headers(),
            Accept: 'application/json',
            ...(payload ? { 'Content-Type': 'application/json', 'Content-Length': String(payload.length) } : {}),
          },
        },
        (res) => {
          const chunks: Buffer[] = [];
          res.on('data', (c: Buffer) => chunks.push(c));
          res.on('end', () => {
            const text = Buffer.concat(chunks).toString('utf8');
            let json: unknown;
            try {
              json = text ? JSON.parse(text) : undefined;
            } catch {
              json = undefined;
            }
            resolve({ status: res.statusCode ?? 0, body: text, json });
          });
          res.on('error', reject);
        },
      );
      req.on('socket', (socket) => socket.setNoDelay(true));
      req.on('error', (error) => reject(new Error(`${method} ${url.pathname}: ${error.message}`)));
      req.end(payload);
    });
  }

  /**
   * POST /api/kernels. Sends `env.KERNEL_USERNAME` like jupyter_server's own gateway client does: Enterprise
   * Gateway refuses kernels for user root (its default unauthorized_users) otherwise. Atrium ignores it.
   */
  async startKernel(name: string, deadlineMs: number): Promise<string> {
    const res = await this.request('POST', 'api/kernels', { name, env: { KERNEL_USERNAME: 'bench' } }, deadlineMs);
    const id = (res.json as { id?: unknown } | undefined)?.id;
    if (res.status !== 201 || typeof id !== 'string') {
      throw new Error(`POST /api/kernels answered ${res.status}: ${res.body.slice(0, 300)}`);
    }
    return id;
  }

  async deleteKernel(id: string, deadlineMs: number): Promise<void> {
    const res = await this.request('DELETE', `api/kernels/${encodeURIComponent(id)}`, undefined, deadlineMs);
    if (res.status !== 204 && res.status !== 404) {
      throw new Error(`DELETE /api/kernels/${id} answered ${res.status}: ${res.body.slice(0, 300)}`);
    }
  }

  async kernelspecs(deadlineMs: number): Promise<HttpResult> {
    return this.request('GET', 'api/kernelspecs', undefined, deadlineMs);
  }

  channelsUrl(kernelId: string, session: string): string {
    const url = new URL(`api/kernels/${encodeURIComponent(kernelId)}/channels`, this.baseUrl);
    url.protocol = url.protocol === 'https:' ? 'wss:' : 'ws:';
    url.searchParams.set('session_id', session);
    return url.toString();
  }

  /** Opens the kernel's channels WebSocket. `framing` is what the client offers; the server's answer wins. */
  openChannels(kernelId: string, framing: WsFraming, deadlineMs: number): Promise<WsTransport> {
    const session = randomUUID();
    const url = this.channelsUrl(kernelId, session);
    const protocols = framing === 'v1' ? [V1_SUBPROTOCOL] : [];
    return new Promise((resolve, reject) => {
      const ws = new WebSocket(url, protocols, {
        headers: this.headers(),
        perMessageDeflate: false, // none of the peers compresses by default; keep the comparison equal
        handshakeTimeout: deadlineMs,
        maxPayload: 1024 * 1024 * 1024,
      });
      const timer = setTimeout(() => {
        ws.terminate();
        reject(new Error(`WebSocket ${url}: not open within ${deadlineMs} ms`));
      }, deadlineMs);
      ws.on('upgrade', (res) => res.socket.setNoDelay(true));
      ws.once('unexpected-response', (_req, res) => {
        clearTimeout(timer);
        reject(new Error(`WebSocket ${url}: server answered ${res.statusCode} to the upgrade`));
        ws.terminate();
      });
      ws.once('error', (error) => {
        clearTimeout(timer);
        reject(new Error(`WebSocket ${url}: ${error.message}`));
      });
      ws.once('open', () => {
        clearTimeout(timer);
        resolve(new WsTransport(ws, session, framing));
      });
    });
  }
}

// --- the channels WebSocket ---

export class WsTransport implements MessageTransport {
  readonly framing: WsFraming;
  readonly offered: WsFraming;
  readonly subprotocol: string;
  readonly description: string;
  private readonly handlers = new Set<Handler>();
  private readonly closeHandlers = new Set<(reason: string) => void>();
  decodeFailures = 0;
  private closedReason: string | undefined;

  constructor(
    private readonly ws: WebSocket,
    readonly session: string,
    offered: WsFraming,
  ) {
    this.offered = offered;
    this.subprotocol = ws.protocol;
    this.framing = framingForSubprotocol(ws.protocol);
    this.description =
      `ws ${this.framing}` + (offered === 'v1' && this.framing !== 'v1' ? ' (v1 offered, not accepted)' : '');
    ws.on('message', (data: Buffer, isBinary: boolean) => {
      const payload = isBinary ? data : data.toString('utf8');
      const decoded = decodeWsMessage(payload, this.framing);
      if (!decoded.ok) {
        this.decodeFailures += 1;
        return;
      }
      for (const h of this.handlers) h(decoded.value, data.length);
    });
    ws.on('close', (code, reason) => this.fail(`WebSocket closed (${code} ${reason.toString()})`));
    ws.on('error', (error) => this.fail(`WebSocket error: ${error.message}`));
  }

  private fail(reason: string): void {
    if (this.closedReason) return;
    this.closedReason = reason;
    for (const h of this.closeHandlers) h(reason);
  }

  createMessage<C extends JsonObject>(msgType: string, content: C): KernelMessage<C> {
    return createMessage({ msgType, content, session: this.session, username: 'bench' });
  }

  send(channel: OutgoingChannel, msg: KernelMessage): void {
    if (this.closedReason) throw new Error(this.closedReason);
    this.ws.send(encodeWsMessage({ ...msg, channel: channel as Channel }, this.framing));
  }

  onMessage(handler: Handler): () => void {
    this.handlers.add(handler);
    return () => this.handlers.delete(handler);
  }

  onClose(handler: (reason: string) => void): () => void {
    this.closeHandlers.add(handler);
    if (this.closedReason) handler(this.closedReason);
    return () => this.closeHandlers.delete(handler);
  }

  close(): Promise<void> {
    if (this.ws.readyState === WebSocket.CLOSED) return Promise.resolve();
    return new Promise((resolve) => {
      const timer = setTimeout(() => {
        this.ws.terminate();
        resolve();
      }, 3_000);
      this.ws.once('close', () => {
        clearTimeout(timer);
        resolve();
      });
      this.closedReason ??= 'closed by the bench';
      this.ws.close(1000);
    });
  }
}
