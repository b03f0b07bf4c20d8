// The portal's memory as V8 sees it after a full garbage collection, read through the inspector (the Chrome
// DevTools Protocol) of a portal started with --inspect on loopback (bench/lib/portal.sh, ATRIUM_BENCH_INSPECT=1).
// RSS alone cannot show what one kernel or one client costs: V8's heap and the embedded database's WASM memory
// grow and shrink by hundreds of MiB between reads. After a collection, the live heap can.
import WebSocket from 'ws';

export interface PortalMemory {
  /** Live JavaScript objects after the collection. */
  heapUsed: number;
  /** Memory of C++ objects bound to JavaScript (Buffers, ArrayBuffers incl. the embedded database's WASM memory). */
  external: number;
  arrayBuffers: number;
  rss: number;
}

const CALL_DEADLINE_MS = 60_000;

export class PortalInspector {
  private nextId = 1;
  private readonly pending = new Map<number, { resolve: (result: unknown) => void; reject: (error: Error) => void; timer: NodeJS.Timeout }>();

  private constructor(private readonly socket: WebSocket) {
    socket.on('message', (data) => {
      const message = JSON.parse(String(data)) as { id?: number; result?: unknown; error?: { message: string } };
      const call = message.id === undefined ? undefined : this.pending.get(message.id);
      if (!call) return; // an event: none is enabled, none is needed
      this.pending.delete(message.id!);
      clearTimeout(call.timer);
      if (message.error) call.reject(new Error(`inspector: ${message.error.message}`));
      else call.resolve(message.result);
    });
    socket.on('close', () => {
      for (const call of this.pending.values()) call.reject(new Error('inspector: the connection closed'));
      this.pending.clear();
    });
  }

  /** Connects to the process inspected on 127.0.0.1:`port` (its one target). */
  static async connect(port: number): Promise<PortalInspector> {
    const response = await fetch(`http://127.0.0.1:${port}/json/list`, { signal: AbortSignal.timeout(10_000) });
    const [target] = (await response.json()) as { webSocketDebuggerUrl: string }[];
    if (!target) throw new Error(`no inspector target on port ${port}`);
    const socket = new WebSocket(target.webSocketDebuggerUrl, { perMessageDeflate: false });
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`inspector on port ${port}: no connection within 10 s`)), 10_000);
      socket.once('open', () => (clearTimeout(timer), resolve()));
      socket.once('error', (error) => (clearTimeout(timer), reject(error)));
    });
    return new PortalInspector(socket);
  }

  private call(method: string, params: Record<string, unknown> = {}): Promise<unknown> {
    const id = this.nextId++;
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.pending.delete(id);
        reject(new Error(`inspector: ${method} got no answer within ${CALL_DEADLINE_MS} ms`));
      }, CALL_DEADLINE_MS);
      this.pending.set(id, { resolve, reject, timer });
      this.socket.send(JSON.stringify({ id, method, params }));
    });
  }

  /** The portal's memory after two full collections (the second frees what the first's finalizers released). */
  async memoryAfterGc(): Promise<PortalMemory> {
    await this.call('HeapProfiler.collectGarbage');
    await this.call('HeapProfiler.collectGarbage');
    const answer = (await this.call('Runtime.evaluate', { expression: 'JSON.stringify(process.memoryUsage())', returnByValue: true })) as { result: { value: string } };
    const usage = JSON.parse(answer.result.value) as PortalMemory;
    return { heapUsed: usage.heapUsed, external: usage.external, arrayBuffers: usage.arrayBuffers, rss: usage.rss };
  }

  close(): void {
    this.socket.close();
  }
}
