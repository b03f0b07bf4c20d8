// One running kernel as this portal process holds it: the launcher's handle, one ZeroMQ connection shared by
// every client, the execution state from iopub, and death detection (process exit and heartbeat). Clients
// (WebSocket bridges, the output recorder) subscribe; the kernel's messages reach each of them once.
import type { ChannelMessage, KernelMessage, OutgoingChannel } from "./protocol/messages";
import { parseParts, portalIopubMessage, rawPartsOf, type RawMessageParts } from "./protocol/wire";
import type { SavedInputRequest } from "@/db/schema";
import { KernelConnection, type KernelLogger } from "./connection";
import type { DeadStatus, KernelProcess } from "./launchers/base";

export type ExecutionState = "starting" | "idle" | "busy" | "restarting" | "dead";
export type KernelListener = (msg: ChannelMessage, raw: RawMessageParts) => void;

export interface LiveKernelEvents {
  onState(state: ExecutionState): void;
  /** Epoch ms (a Date per message is measurable on this path: Next.js wraps the Date constructor). */
  onActivity(atMs: number): void;
  onDeath(status: DeadStatus): void;
  /** A cell began waiting on input() (the kernel's input_request), or none waits any more (null). */
  onOpenInput?(openInput: SavedInputRequest | null): void;
}

interface HeldSend {
  channel: OutgoingChannel;
  msg: KernelMessage;
  json?: readonly Buffer[];
  resolve(): void;
  reject(error: Error): void;
}

/** Messages held for a restarting kernel, at most (a client that keeps sending into a long restart is refused). */
const MAX_HELD_SENDS = 1000;
/** How long an exited process's end may stay unsettled before its clients are told it died (see settledEnd). */
export const UNSETTLED_END_MS = 10_000;

export class LiveKernel {
  executionState: ExecutionState = "starting";
  private connection: KernelConnection;
  private readonly listeners = new Set<KernelListener>();
  private readonly sendObservers = new Set<(channel: OutgoingChannel, msg: KernelMessage) => void>();
  /** Aborts the exit watch of the current process (retired on restart, or everything on detach). */
  private processWatch = new AbortController();
  private dead = false;
  /** When its process was seen to exit, and then how that ended (settledEnd). */
  private diedAt: number | undefined;
  private end: "dead" | "replaced" | undefined;
  private detachConnection: () => void = () => {};
  /** While a restart replaces the process: what clients send meanwhile, for the new process. */
  private heldSends: HeldSend[] | undefined;
  /** The kernel's input_request no client has answered yet (a cell waits in input()), for clients that attach. */
  private openInput: { msg: ChannelMessage; raw: RawMessageParts } | undefined;

  constructor(
    readonly id: string,
    readonly ownerId: string,
    readonly kernelspec: string,
    public process: KernelProcess,
    private readonly events: LiveKernelEvents,
    private readonly logger: KernelLogger,
    /** A connection already opened and confirmed ready at launch (see launchAndConfirm); else one is opened. */
    connection?: KernelConnection,
  ) {
    this.connection = this.listen(connection ?? kernelConnection(id, process, logger), process);
    this.watchExit(process);
  }

  /** Number of attached clients (WebSockets), for the Jupyter API's `connections`. */
  get connections(): number {
    return this.clientCount;
  }
  private clientCount = 0;

  /** Subscribes to every message the kernel sends, on every channel. */
  subscribe(listener: KernelListener, { countsAsClient = true } = {}): () => void {
    this.listeners.add(listener);
    if (countsAsClient) this.clientCount++;
    let done = false;
    return () => {
      if (done) return;
      done = true;
      this.listeners.delete(listener);
      if (countsAsClient) this.clientCount--;
    };
  }

  /**
   * Sends a client's message to the kernel. The client's own header (session, msg_id) is kept; `json`, when
   * given, is its JSON parts as the client sent them (only signed on the way).
   */
  async send(channel: OutgoingChannel, msg: KernelMessage, json?: readonly Buffer[]): Promise<void> {
    if (this.dead) throw new Error(`kernel ${this.id} is dead`);
    if (this.heldSends && this.heldSends.length >= MAX_HELD_SENDS) throw new Error(`kernel ${this.id} is restarting and ${MAX_HELD_SENDS} messages already wait for it`);
    this.events.onActivity(Date.now());
    // Held for a restarting kernel: observed when it goes to the new process (a restart that fails refuses it).
    if (this.heldSends) return new Promise<void>((resolve, reject) => this.heldSends!.push({ channel, msg, json, resolve, reject }));
    // On its way first; the bookkeeping after (it cannot miss a reply: none is read before this turn ends).
    const sent = this.connection.send(channel, msg, json);
    this.observeSend(channel, msg);
    await sent;
  }

  /**
   * What a client that attaches now must hear first to show the kernel as it is: "busy" while a cell runs (its own
   * status came before the client was there), and the input request a cell waits on (else the cell seems hung: the
   * request went to the client that ran it, maybe a closed tab). Either client may answer; the kernel takes the first.
   */
  greeting(): { msg: ChannelMessage; raw: RawMessageParts }[] {
    const greeting = [];
    if (this.executionState === "busy") greeting.push(portalIopubMessage({ msgType: "status", session: this.connection.session, content: { execution_state: "busy" } }));
    if (this.openInput) greeting.push(this.openInput);
    return greeting;
  }

  private observeSend(channel: OutgoingChannel, msg: KernelMessage) {
    if (channel === "stdin" && msg.header.msg_type === "input_reply") this.setOpenInput(undefined);
    try {
      for (const observe of this.sendObservers) observe(channel, msg);
    } catch (error) {
      // The message is on its way whatever the bookkeeping did: its outcome is the send's.
      this.logger.error("kernel send observer failed", { kernel: this.id, error: String(error) });
    }
  }

  /** Sends what was held to the current process, observed as it goes. */
  private sendHeld(): void {
    const held = this.heldSends ?? [];
    this.heldSends = undefined;
    for (const send of held) {
      this.connection.send(send.channel, send.msg, send.json).then(send.resolve, send.reject);
      this.observeSend(send.channel, send.msg);
    }
  }

  /** Sees every message clients send (the output recorder learns of execute requests here). */
  observeSends(observer: (channel: OutgoingChannel, msg: KernelMessage) => void): () => void {
    this.sendObservers.add(observer);
    return () => this.sendObservers.delete(observer);
  }

  /**
   * Resolves once this process hears the kernel on iopub too: a fresh SUB socket misses what is published
   * before its subscription arrives, and a client's first cell must not lose its output.
   */
  async ready(deadlineMs = 10_000): Promise<void> {
    await this.connection.waitForReady(deadlineMs);
  }

  get session(): string {
    return this.connection.session;
  }

  get isDead(): boolean {
    return this.dead;
  }

  /**
   * How this kernel ended for its clients, once known: "dead", or "replaced" when its process exited because another
   * portal replica restarted the kernel (this replica attaches the new process; its clients reconnect to it).
   * Undefined while it runs, and for a moment after its process exits while the manager finds out which (after
   * UNSETTLED_END_MS it counts as dead).
   */
  settledEnd(now = Date.now()): "dead" | "replaced" | undefined {
    if (!this.dead) return undefined;
    if (this.end) return this.end;
    return now - (this.diedAt ?? now) >= UNSETTLED_END_MS ? "dead" : undefined;
  }

  /** The manager's word on how the kernel ended (see settledEnd); the first word stands. */
  settleEnd(end: "dead" | "replaced"): void {
    this.end ??= end;
  }

  /**
   * Before a restart or a deliberate stop: stop watching the current process, so killing it is not
   * mistaken for the kernel dying.
   */
  retireProcess(): void {
    this.processWatch.abort();
    this.detachConnection();
  }

  /**
   * From the moment a restart is decided: what clients send waits for the new process (Jupyter Server's sockets
   * reconnect to the restarted kernel; a message sent meanwhile is not lost with the old one). The old process is
   * still heard until beginRestart retires it.
   */
  holdSends(): void {
    this.heldSends ??= [];
  }

  /** A restart that gave up before it touched the process: what was held goes to it after all (unless it died). */
  releaseHeld(): void {
    if (this.dead) this.rejectHeld(`kernel ${this.id} died before it could take the message`);
    else this.sendHeld();
  }

  /** What was held is refused: the kernel ended, so no process will take it. */
  private rejectHeld(reason: string): void {
    const held = this.heldSends ?? [];
    this.heldSends = undefined;
    for (const send of held) send.reject(new Error(reason));
  }

  /** Before a restart kills the process: it is retired, and sends are held (if they were not already). */
  beginRestart(): void {
    this.retireProcess();
    this.holdSends();
  }

  /** After a restart: the same kernel id, a new process and connection (`connection`: confirmed ready at launch). */
  async replaceProcess(process: KernelProcess, connection?: KernelConnection): Promise<void> {
    this.retireProcess();
    await this.connection.close();
    // Stopped meanwhile: the new process is not taken on (the restart stops it).
    if (this.dead) throw new Error(`kernel ${this.id} was stopped while it restarted`);
    this.process = process;
    this.setOpenInput(undefined);
    this.connection = this.listen(connection ?? kernelConnection(this.id, process, this.logger), process);
    this.watchExit(process);
    if (!connection) await this.ready();
    // The new kernel answered: it is idle, and said so before what was held runs (its busy must come after).
    this.announce("idle");
    this.sendHeld();
  }

  /**
   * The state a reattached kernel's row says it was in (busy: a cell still runs), taken on as if heard on iopub, so
   * the state writer follows it (its busy time, the culler's exemption) until the kernel says otherwise.
   */
  assumeState(state: "idle" | "busy"): void {
    this.setState(state);
  }

  /**
   * The input request a reattached kernel's row says a cell waits on (asked while another portal process held the
   * kernel): clients that attach are asked it again. The kernel takes an input_reply from any client.
   */
  restoreOpenInput(saved: SavedInputRequest): boolean {
    const raw = rawPartsOf(saved);
    const parsed = parseParts(raw);
    if (!parsed.ok || parsed.value.header.msg_type !== "input_request") {
      this.logger.warn("kernel's saved input request is unreadable; not asked again", { kernel: this.id });
      return false;
    }
    this.openInput = { msg: { ...parsed.value, channel: "stdin" }, raw };
    return true;
  }

  private setOpenInput(open: { msg: ChannelMessage; raw: RawMessageParts } | undefined) {
    if (!open && !this.openInput) return;
    this.openInput = open;
    const { header, parent_header, metadata, content } = open?.msg ?? {};
    this.events.onOpenInput?.(open ? ({ header, parent_header, metadata, content } as SavedInputRequest) : null);
  }

  /** Takes on a state and tells clients, as the kernel would (an iopub status message from the portal). */
  announce(state: ExecutionState) {
    this.setState(state);
    this.tellClients(state);
  }

  /** An iopub status message from the portal to every client, the kernel's own state left as it is. */
  tellClients(state: ExecutionState) {
    const { msg, raw } = portalIopubMessage({ msgType: "status", session: this.connection.session, content: { execution_state: state } });
    for (const listener of this.listeners) listener(msg, raw);
  }

  /** Closes this process's hold on the kernel; the kernel itself keeps running (portal restart). */
  async detach(): Promise<void> {
    this.retireProcess();
    await this.connection.close();
  }

  /** Marks dead and stops watching; used when the kernel was shut down on purpose. */
  async close(): Promise<void> {
    this.dead = true;
    this.end ??= "dead";
    this.setState("dead");
    this.rejectHeld(`kernel ${this.id} stopped before it could take the message`);
    await this.detach();
  }

  private listen(connection: KernelConnection, process: KernelProcess): KernelConnection {
    const offMessage = connection.onMessage((msg, raw) => {
      if (msg.channel === "iopub" && msg.header.msg_type === "status") {
        const state = (msg.content as { execution_state?: string }).execution_state;
        if (state === "idle" || state === "busy" || state === "starting") this.setState(state);
        // The request that asked for input is over (answered, interrupted or failed): nothing waits on it now.
        if (state === "idle" && this.openInput && msg.parent_header.msg_id === this.openInput.msg.parent_header.msg_id) this.setOpenInput(undefined);
      } else if (msg.channel === "stdin" && msg.header.msg_type === "input_request") {
        this.setOpenInput({ msg, raw });
      }
      if (msg.channel === "iopub") this.events.onActivity(Date.now());
      for (const listener of this.listeners) {
        try {
          listener(msg, raw);
        } catch (error) {
          this.logger.error("kernel listener failed", { kernel: this.id, error: String(error) });
        }
      }
    });
    // A missed heartbeat alone isn't death (a GIL-bound cell can starve it); ask the launcher.
    const offHeartbeat = connection.onHeartbeatLost(async () => {
      const status = await process.poll().catch(() => ({ alive: true }) as const);
      if (!status.alive) this.die(status);
    });
    this.detachConnection = () => {
      offMessage();
      offHeartbeat();
    };
    return connection;
  }

  private watchExit(process: KernelProcess) {
    this.processWatch = new AbortController();
    void process.waitForExit(this.processWatch.signal).then((status) => {
      if (process === this.process) this.die(status);
    });
  }

  private die(status: DeadStatus) {
    if (this.dead) return;
    this.dead = true;
    this.diedAt = Date.now();
    this.setState("dead");
    this.rejectHeld(`kernel ${this.id} died before it could take the message`);
    this.events.onDeath(status);
  }

  private setState(state: ExecutionState) {
    if (this.executionState === state) return;
    if (this.executionState === "dead" && state !== "dead") return;
    this.executionState = state;
    this.events.onState(state);
  }
}

/** The portal's one connection to a kernel, which every client of it shares. */
export function kernelConnection(id: string, process: KernelProcess, logger: KernelLogger): KernelConnection {
  return new KernelConnection(process.connectionInfo, { label: id, logger, username: "atrium" });
}
