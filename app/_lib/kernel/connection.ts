// One kernel's WebSocket, the only code in the page that knows the socket. It speaks
// v1.kernel.websocket.jupyter.org when the server accepts it (legacy JSON otherwise), queues what is sent
// while (re)connecting, pairs shell/control replies with their requests, and reconnects with growing random
// back-off when the socket drops — unless the kernel is gone (404), the page closed it, or the portal said the
// credential no longer lets it in.
import { decodeMessage, encodeMessage, V1_SUBPROTOCOL, type Framing } from "./framing";
import { createMessage, randomId, type Channel, type JsonObject, type KernelMessage } from "./messages";
import { KernelApiError, kernelApi } from "./rest";
import { whenSignedInAgain } from "../session-ended";

export type KernelState = "starting" | "idle" | "busy" | "restarting" | "dead" | "disconnected" | "reconnecting" | "unknown";

export interface ConnectionEvents {
  /** Every iopub message (the notebook routes them by parent msg_id). */
  iopub(msg: KernelMessage): void;
  /** input_request on stdin. */
  stdin(msg: KernelMessage): void;
  /** The kernel's state as the page should show it. */
  state(state: KernelState): void;
  /**
   * The portal closed the socket because it is restarting (1012), having written down what it recorded: the next
   * portal process has recorded the running cells' output since it took the kernel up, and never gets the replies
   * to requests sent through this one.
   */
  portalRestarting?(): void;
}

/** A request whose reply went to a portal process that is gone: it will not come (see KernelConnection.abandon). */
export class ReplyLostError extends Error {}

// Close codes after which reconnecting at once is pointless: 1000, the page closed it; 1008, the portal closed it
// because the credential it was opened with ended (signed out, account disabled): it reconnects when the page is signed
// in (resumeAfterSignOut). Every other code
// reconnects: 1012 the portal restarting, 1001 the kernel gone (or a portal from before 1012 restarting): the reconnect
// asks whether the kernel still exists first, and shows it dead if not.
const CLOSE_SIGNED_OUT = 1008;
const CLOSE_SERVICE_RESTART = 1012;
const NO_RECONNECT = new Set([1000, CLOSE_SIGNED_OUT]);
const MAX_BACKOFF_MS = 10_000;
/** After a 1012 the portal is expected back within seconds: tried this often, not at the long back-off's pace. */
const MAX_BACKOFF_AFTER_RESTART_MS = 2_000;

export class KernelConnection {
  readonly session = randomId();
  private socket: WebSocket | null = null;
  private framing: Framing = "v1";
  private queue: KernelMessage[] = [];
  private replies = new Map<string, { resolve(msg: KernelMessage): void; reject(error: Error): void }>();
  private attempts = 0;
  private timer: ReturnType<typeof setTimeout> | null = null;
  private disposed = false;
  /** Stops waiting for the user to sign in again (after a 1008 close). */
  private cancelResume: () => void = () => {};
  private kernelState: KernelState = "unknown";
  /** The last close was the portal restarting (1012): reconnect at a short pace until a socket opens. */
  private portalRestarted = false;

  constructor(readonly kernelId: string, private readonly events: ConnectionEvents) {}

  get state(): KernelState {
    return this.kernelState;
  }

  connect(): void {
    if (this.disposed) return;
    const scheme = location.protocol === "https:" ? "wss:" : "ws:";
    const url = `${scheme}//${location.host}/api/kernels/${encodeURIComponent(this.kernelId)}/channels?session_id=${this.session}`;
    const socket = new WebSocket(url, [V1_SUBPROTOCOL]);
    socket.binaryType = "arraybuffer";
    this.socket = socket;
    socket.onopen = () => {
      this.framing = socket.protocol === V1_SUBPROTOCOL ? "v1" : "legacy";
      this.attempts = 0;
      this.portalRestarted = false;
      const queued = this.queue;
      this.queue = [];
      for (const msg of queued) socket.send(encodeMessage(msg, this.framing));
      // kernel_info tells us the kernel answers; its status messages take over from there.
      void this.request("shell", "kernel_info_request", {}).then(
        () => this.kernelState === "reconnecting" || this.kernelState === "unknown" || this.kernelState === "starting" ? this.setState("idle") : undefined,
        () => undefined,
      );
    };
    socket.onmessage = (event: MessageEvent<string | ArrayBuffer>) => {
      const msg = decodeMessage(event.data, this.framing);
      if (msg) this.dispatch(msg);
    };
    socket.onclose = (event) => {
      if (this.socket !== socket) return;
      this.socket = null;
      if (this.disposed) return;
      if (NO_RECONNECT.has(event.code)) {
        if (this.kernelState === "dead") return; // a kernel that said it died stays dead: nothing to resume
        this.setState("disconnected");
        if (event.code === CLOSE_SIGNED_OUT) void this.resumeAfterSignOut();
        return;
      }
      if (event.code === CLOSE_SERVICE_RESTART) {
        this.portalRestarted = true;
        this.events.portalRestarting?.();
      }
      this.scheduleReconnect();
    };
  }

  private scheduleReconnect(): void {
    // A kernel that said it died (iopub "dead" before the 1001 close) stays dead while the check runs: a cell run
    // meanwhile is refused at once instead of waiting in the queue for a kernel that is gone.
    if (this.kernelState !== "dead") this.setState("reconnecting");
    const delay = Math.min(this.portalRestarted ? MAX_BACKOFF_AFTER_RESTART_MS : MAX_BACKOFF_MS, 500 * 2 ** this.attempts) * (0.5 + Math.random() / 2);
    this.attempts++;
    this.timer = setTimeout(async () => {
      this.timer = null;
      try {
        const model = await kernelApi.get(this.kernelId);
        if (!model || model.execution_state === "dead") {
          this.failPending("The kernel is gone.");
          this.setState("dead");
          return;
        }
      } catch {
        return this.scheduleReconnect(); // the portal itself is unreachable: keep trying
      }
      this.setState("reconnecting"); // it exists after all (a "dead" seen before was not the end): its kernel_info may go
      this.connect();
    }, delay);
  }

  /**
   * The credential this socket was opened with no longer lets its user in. The page's may still (the user signed in
   * again meanwhile: a new cookie): then connect again now. Signed out (the REST call reported it, which shows the
   * dialog): connect again once the user has signed in again, not before.
   */
  private async resumeAfterSignOut(): Promise<void> {
    try {
      const model = await kernelApi.get(this.kernelId);
      if (!model || model.execution_state === "dead") {
        if (this.disposed) return;
        this.failPending("The kernel is gone.");
        this.setState("dead");
        return;
      }
    } catch (error) {
      if (error instanceof KernelApiError && error.status === 401) {
        if (!this.disposed) this.cancelResume = whenSignedInAgain(() => this.reconnect());
        return;
      }
    }
    if (!this.disposed) this.reconnect(); // an unreachable portal is the reconnect's to find
  }

  /** Opens a new socket now, dropping any old one (after the portal closed the last one for a credential that ended). */
  private reconnect(): void {
    this.cancelResume();
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    const old = this.socket;
    this.socket = null;
    old?.close();
    this.attempts = 0;
    // A connection the portal had closed takes requests again: they wait for the new socket (its own kernel_info
    // among them, whose answer shows the kernel idle again).
    if (this.kernelState === "disconnected") this.setState("reconnecting");
    this.connect();
  }

  private dispatch(msg: KernelMessage): void {
    if (msg.channel === "iopub") {
      if (msg.header.msg_type === "status") {
        const state = msg.content.execution_state;
        if (state === "busy" || state === "idle" || state === "starting" || state === "restarting" || state === "dead") this.setState(state);
      }
      this.events.iopub(msg);
      return;
    }
    if (msg.channel === "stdin") {
      this.events.stdin(msg);
      return;
    }
    const parent = msg.parent_header.msg_id;
    const waiting = typeof parent === "string" ? this.replies.get(parent) : undefined;
    if (waiting && msg.header.msg_type.endsWith("_reply")) {
      this.replies.delete(parent as string);
      waiting.resolve(msg);
    }
  }

  setState(state: KernelState): void {
    if (state === this.kernelState) return;
    this.kernelState = state;
    this.events.state(state);
  }

  send(msg: KernelMessage): void {
    if (this.socket && this.socket.readyState === WebSocket.OPEN) this.socket.send(encodeMessage(msg, this.framing));
    else this.queue.push(msg);
  }

  /** Sends a request and resolves with its reply (shell/control); `msgId` is known before the reply. */
  request(channel: Channel, msgType: string, content: JsonObject, metadata?: JsonObject): Promise<KernelMessage> & { msgId: string } {
    const msg = createMessage({ channel, msgType, session: this.session, content, metadata });
    // A request on a connection that will never send it again fails now, rather than waiting in the queue forever.
    const refusal = this.unusable();
    if (refusal) return Object.assign(Promise.reject(new Error(refusal)), { msgId: msg.header.msg_id });
    const promise = new Promise<KernelMessage>((resolve, reject) => this.replies.set(msg.header.msg_id, { resolve, reject }));
    this.send(msg);
    return Object.assign(promise, { msgId: msg.header.msg_id });
  }

  /** Why nothing sent on this connection can reach a kernel any more, or null while it can (or will, once reconnected). */
  unusable(): string | null {
    if (this.disposed) return "The connection to the kernel was closed.";
    if (this.kernelState === "dead") return "The kernel has stopped.";
    if (this.kernelState === "disconnected") return "The connection to the kernel was closed by the portal (signed out?).";
    return null;
  }

  /** Answers an input_request. */
  inputReply(parent: KernelMessage, value: string): void {
    this.send(createMessage({ channel: "stdin", msgType: "input_reply", session: this.session, content: { status: "ok", value }, parentHeader: parent.header }));
  }

  /** Stops waiting for one request's reply, which will not come (ReplyLostError); false if it is not awaited. */
  abandon(msgId: string, reason: string): boolean {
    const waiting = this.replies.get(msgId);
    if (!waiting) return false;
    this.replies.delete(msgId);
    waiting.reject(new ReplyLostError(reason));
    return true;
  }

  /** Requests still waiting for a reply fail (restart, kernel gone): callers stop waiting. */
  failPending(reason: string): void {
    for (const waiting of this.replies.values()) waiting.reject(new Error(reason));
    this.replies.clear();
  }

  dispose(): void {
    this.disposed = true;
    this.cancelResume();
    if (this.timer) clearTimeout(this.timer);
    this.failPending("The connection was closed.");
    this.socket?.close(1000);
    this.socket = null;
  }
}
