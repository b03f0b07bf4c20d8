// The notebook's kernel: which one (reconnected through notebooks.kernelFor, or started from the chosen
// kernelspec), its state for the toolbar, and everything that runs code — execute, run all, interrupt,
// restart, stdin, completion and inspection. It routes iopub messages to cells by the request's msg_id.
import { KernelConnection, ReplyLostError, type KernelState } from "@/app/_lib/kernel/connection";
import type { KernelMessage } from "@/app/_lib/kernel/messages";
import { KernelApiError, kernelApi, type KernelspecList } from "@/app/_lib/kernel/rest";
import { launchFailure, startRefusal, type StartRefusal } from "@/app/_components/usage/refusal";
import { outputsOfRun, type CellRun } from "@/server/notebooks/merge-runs";
import { kernelsTrpc, type KernelStatusAnswer } from "./kernels-api";
import type { NotebookModel } from "./model";
import { runsApi } from "./runs-api";

export interface SessionStatus {
  state: KernelState | "starting";
  /** While launching: what is happening, and since when. */
  phase: string | null;
  since: number | null;
  kernelId: string | null;
  kernelName: string | null;
  displayName: string | null;
  /** The size profile the kernel runs at (learned from the server); null until known. */
  size: string | null;
  /** A start that was refused (quota) or failed, shown where the user acted. */
  refusal: StartRefusal | null;
  /** Why the kernel ended (culled, stopped, died), once it has. */
  ended: { kernelId: string; endReason: string | null; detail: string | null } | null;
}

type Notify = (message: string, kind?: "error" | "info") => void;

/** How long a finished run waits for its last outputs (iopub "idle") after the reply before it shows as done. */
const OUTPUTS_AFTER_REPLY_MS = 1_000;
/**
 * How long a run whose request went out before the socket was last re-opened waits for its reply after its iopub
 * "idle": a reply sent to a portal process that has since restarted never comes, and idle alone then ends the run.
 */
const REPLY_AFTER_IDLE_MS = 3_000;

/** What to do when a cell can't run because the kernel is gone. */
const RUN_AGAIN_HINT = "Restart the kernel (the toolbar's Restart kernel, or 0 0 on the keyboard) to start a new one, or pick one in the Kernel list, then run the cell again.";

const OUTPUT_TYPES = new Set(["stream", "display_data", "execute_result", "error", "clear_output", "update_display_data"]);

export class KernelSession {
  specs: KernelspecList | null = null;
  private connection: KernelConnection | null = null;
  private ready: Promise<KernelConnection | null> = Promise.resolve(null);
  private readonly msgToCell = new Map<string, string>();
  /**
   * Runs adopted at open, by msg_id, until their outputs are re-based (rebaseAdoptedRuns): what the page read at open
   * was the database's, a moment old, and the socket attached later, so what the kernel printed between the two
   * reached neither. `live`: outputs heard on the socket before the re-base; `skip`: after it, the ids the portal's
   * view already had (heard again on the socket, they are not applied twice).
   */
  private readonly adopted = new Map<string, { cellId: string; live: KernelMessage[]; skip?: Set<string>; ended?: boolean }>();
  private rebaseAsked = false;
  /** The user picked a kernel here: it becomes the notebook's, even over one this portal does not offer. */
  private kernelChosen = false;
  /** Each cell's latest run (execute_request msg_id): only it may end the cell's running state. */
  private readonly latestRun = new Map<string, string>();
  /** Requests awaiting their reply when the socket dropped: the portal that would send it may be gone. */
  private readonly crossedReconnect = new Set<string>();
  /** The execution count each run's execute_input announced (the count to show when its reply is lost). */
  private readonly inputCounts = new Map<string, number>();
  private readonly listeners = new Set<() => void>();
  private disposed = false;
  /** Code ran on the current kernel, or it was found running: see replacingLosesState. */
  private kernelHasState = false;
  status: SessionStatus = { state: "starting", phase: "finding your kernel", since: Date.now(), kernelId: null, kernelName: null, displayName: null, size: null, refusal: null, ended: null };
  /** The size the next start asks for; null: the kernelspec's default. */
  private size: string | null = null;
  private readonly explained = new Set<string>();

  constructor(private readonly model: NotebookModel, private readonly path: string, private readonly notify: Notify) {}

  subscribe = (listener: () => void) => {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  };
  getStatus = () => this.status;

  private setStatus(patch: Partial<SessionStatus>) {
    this.status = { ...this.status, ...patch };
    for (const listener of [...this.listeners]) listener();
  }

  /** On open: reconnect to the notebook's kernel if it still runs, else start one of its kernelspec. */
  async start(): Promise<void> {
    this.ready = this.startKernel();
    await this.ready;
  }

  private async startKernel(): Promise<KernelConnection | null> {
    try {
      this.specs = await kernelApi.kernelspecs();
    } catch (error) {
      this.notify(`Kernels can't be listed: ${(error as Error).message}`);
      this.setStatus({ state: "dead", phase: null, since: null });
      return null;
    }
    const asked = this.model.base.metadata.kernelspec as { name?: unknown; display_name?: unknown } | undefined;
    if (typeof asked?.name === "string" && !this.specs.kernelspecs[asked.name]) {
      // Said, not done silently (QA): the notebook runs on another language's kernel only with the user knowing.
      const name = typeof asked.display_name === "string" && asked.display_name ? asked.display_name : asked.name;
      this.notify(`This notebook was written for the kernel "${name}", which this portal does not offer: it runs on ${this.displayNameOf(this.wantedKernelName())} instead. Its file keeps asking for "${name}" unless you pick a kernel in the toolbar.`);
    }
    let kernelId: string | null = null;
    try {
      kernelId = (await runsApi.kernelFor(this.path)).kernelId;
      if (kernelId && !(await kernelApi.get(kernelId))) kernelId = null;
    } catch (error) {
      this.notify(`This notebook's running kernel could not be looked up (${(error as Error).message}); starting a new one.`);
    }
    if (kernelId) {
      const model = await kernelApi.get(kernelId).catch(() => null);
      return this.attach(kernelId, model?.name ?? this.wantedKernelName());
    }
    return this.launch(this.wantedKernelName());
  }

  /** The kernelspec the notebook asks for, if it exists here, else the portal's default. */
  wantedKernelName(): string {
    const wanted = (this.model.base.metadata.kernelspec as { name?: unknown } | undefined)?.name;
    if (typeof wanted === "string" && this.specs?.kernelspecs[wanted]) return wanted;
    return this.specs?.default ?? "python3";
  }

  /**
   * Starts a kernel through kernels.start (admission answers at once: a quota refusal shows here), follows its
   * launch phases through kernels.status, and connects the socket at once (the server's attach waits for the
   * launch to finish).
   */
  private async launch(name: string): Promise<KernelConnection | null> {
    this.showStarting(name);
    let id: string;
    try {
      ({ id } = await kernelsTrpc.start.mutate({ name, size: this.size ?? undefined }));
    } catch (error) {
      this.setStatus({ state: "dead", phase: null, since: null, refusal: startRefusal(error) });
      return null;
    }
    return this.admitted(id, name);
  }

  /** A new kernel is on its way: nothing ran on it yet. */
  private showStarting(name: string): void {
    this.kernelHasState = false;
    this.setStatus({ state: "starting", phase: "requesting", since: Date.now(), kernelId: null, kernelName: name, displayName: this.displayNameOf(name), refusal: null, ended: null });
  }

  /** A kernel the server admitted: bound to this notebook, connected, its launch followed. */
  private admitted(id: string, name: string): KernelConnection | null {
    if (this.disposed) {
      // The page closed while the kernel was being admitted: nobody will ever attach to it, so it doesn't stay
      // (holding a place in the user's quota until the culler finds it idle).
      void kernelApi.shutdown(id).catch(() => undefined);
      return null;
    }
    runsApi.bindKernel(this.path, id).catch((error: Error) => this.notify(`The notebook couldn't be linked to its kernel (${error.message}); reopening it will start a new one.`));
    const connection = this.attach(id, name, "admitted");
    void this.followLaunch(id);
    return connection;
  }

  /** While the kernel starts: its launch phase from the server (submitted, accepted by YARN, ..., connecting). */
  private async followLaunch(id: string): Promise<void> {
    let failures = 0;
    while (!this.disposed && this.status.kernelId === id && this.status.state === "starting") {
      await new Promise((resolve) => setTimeout(resolve, 350));
      if (this.disposed || this.status.kernelId !== id) return;
      let answer: KernelStatusAnswer;
      try {
        answer = await kernelsTrpc.status.query({ id });
      } catch {
        if (++failures > 20) return;
        continue;
      }
      if (this.disposed || this.status.kernelId !== id) return;
      if (answer.sizeProfile && answer.sizeProfile !== this.status.size) this.setStatus({ size: answer.sizeProfile });
      if (answer.state === "dead") return void this.explainEnd(id, answer);
      if (this.status.state !== "starting") return;
      // Running: the socket's kernel_info takes over; until it answers, the page is connecting.
      const phase = answer.state === "starting" ? answer.detail || "starting" : "connecting";
      if (phase !== this.status.phase) this.setStatus({ phase });
      if (answer.state !== "starting") return;
    }
  }

  /** The kernel is gone: ask the server why (culled, stopped by an admin, died, failed to launch) and say so. */
  private async explainEnd(id: string, known?: KernelStatusAnswer): Promise<void> {
    if (this.explained.has(id)) return;
    this.explained.add(id);
    let answer: KernelStatusAnswer | null = known ?? null;
    // The socket can hear "dead" a moment before the row records why.
    for (let i = 0; i < 6 && (!answer || answer.state !== "dead" || !answer.endReason); i++) {
      if (i > 0 || !answer) await new Promise((resolve) => setTimeout(resolve, i === 0 ? 0 : 500));
      answer = await kernelsTrpc.status.query({ id }).catch(() => answer);
    }
    if (this.disposed || this.status.kernelId !== id) return;
    if (answer?.endReason === "launch_failed") {
      this.setStatus({ state: "dead", phase: null, since: null, refusal: launchFailure(answer.detail) });
      return;
    }
    this.setStatus({ state: "dead", phase: null, since: null, ended: { kernelId: id, endReason: answer?.endReason ?? null, detail: answer?.detail ?? null } });
  }

  private attach(kernelId: string, name: string, phase = "connecting"): KernelConnection {
    this.setStatus({ kernelId, kernelName: name, displayName: this.displayNameOf(name), state: "starting", phase, since: this.status.since ?? Date.now() });
    if (phase === "connecting") {
      this.kernelHasState = true;
      // A kernel found running: learn its size (a new launch learns it while following the launch).
      void kernelsTrpc.status
        .query({ id: kernelId })
        .then((answer) => {
          if (this.status.kernelId !== kernelId || !answer.sizeProfile) return;
          this.size = answer.sizeProfile;
          this.setStatus({ size: answer.sizeProfile });
        })
        .catch(() => undefined);
    }
    this.recordKernelspec(name);
    const connection = new KernelConnection(kernelId, {
      iopub: (msg) => this.onIopub(msg),
      stdin: (msg) => this.onStdin(msg),
      portalRestarting: () => this.adoptRunsAcrossRestart(),
      state: (state) => {
        // While launching, the socket waits for the launch: its phases stay on show until the kernel answers.
        if (state === "reconnecting" && this.status.state === "starting" && this.status.kernelId === kernelId) return;
        // A restart this page did not ask for (another window or client, through any portal replica): the portal
        // says "starting" as it lets the old process go (a server may say "restarting").
        const restartedElsewhere = (state === "starting" || state === "restarting") && (this.status.state === "idle" || this.status.state === "busy");
        this.setStatus({ state, phase: null, since: state === "reconnecting" ? Date.now() : null });
        if (state === "reconnecting") for (const msgId of this.pendingReplies) this.crossedReconnect.add(msgId);
        if ((state === "busy" || state === "idle") && this.adopted.size > 0 && !this.rebaseAsked) {
          this.rebaseAsked = true;
          void this.rebaseAdoptedRuns();
        }
        if (state === "dead") {
          this.endAllRuns();
          void this.explainEnd(kernelId);
        }
        if (restartedElsewhere) {
          // The old process will never answer what it had: those cells stop, as after this page's own restart.
          connection.failPending("The kernel restarted.");
          this.endAllRuns();
          this.kernelHasState = false;
          this.notify("The kernel was restarted from another window or client: its variables are gone, and cells that were running or waiting were stopped.");
        }
      },
    });
    this.connection = connection;
    connection.connect();
    return connection;
  }

  /**
   * The portal restarted (it said so): the cells still running here are re-based on what the next portal recorded
   * once it took the kernel up, as runs adopted at open are — output printed while this page was reconnecting is
   * not lost. Their replies went to the old process: their iopub idle ends them (REPLY_AFTER_IDLE_MS).
   */
  private adoptRunsAcrossRestart(): void {
    for (const msgId of this.pendingReplies) {
      const cellId = this.msgToCell.get(msgId);
      if (!cellId || this.adopted.has(msgId)) continue;
      this.adopted.set(msgId, { cellId, live: [] });
      this.rebaseAsked = false;
    }
  }

  private displayNameOf(name: string): string {
    return this.specs?.kernelspecs[name]?.spec.display_name ?? name;
  }

  /**
   * The notebook records the kernelspec it runs on. Replacing one that exists here is the user's change (saved);
   * filling in a missing or unknown one is not: merely opening a file must not rewrite it.
   */
  private recordKernelspec(name: string) {
    const spec = this.specs?.kernelspecs[name];
    const current = (this.model.base.metadata.kernelspec as { name?: unknown } | undefined)?.name;
    if (!spec || current === name) return;
    const kernelspec = { name, display_name: spec.spec.display_name, language: spec.spec.language ?? "python" };
    const offered = typeof current === "string" && Boolean(this.specs?.kernelspecs[current]);
    // A kernel this portal does not offer stays the file's until the user picks one (another portal may offer it).
    if (typeof current === "string" && !offered && !this.kernelChosen) return;
    this.model.setMetadata({ ...this.model.base.metadata, kernelspec }, { dirty: offered || this.kernelChosen });
  }

  /** The user picked another size: the next start uses it; a running kernel is replaced by one of that size. */
  async changeSize(size: string): Promise<void> {
    this.size = size;
    if (this.status.kernelId && this.status.state !== "dead") return this.changeKernel(this.status.kernelName ?? this.wantedKernelName(), size);
    this.setStatus({ size });
  }

  /**
   * The user picked another kernelspec (or size): a new kernel takes the running one's place. The server is asked for
   * the replacement first, admitted as if the old kernel were gone (so a full quota does not stand in the way) and
   * stopping it only once admitted: a refusal leaves the kernel the user has, variables and all.
   */
  async changeKernel(name: string, size?: string): Promise<void> {
    this.kernelChosen = true;
    const before = { size: this.size, status: this.status.size };
    // Another kernelspec has its own sizes: start at its default unless a size was chosen with it.
    this.size = size ?? (name === this.status.kernelName ? this.size : null);
    this.setStatus({ size: this.size });
    const oldId = this.status.state !== "dead" ? this.status.kernelId : null;
    let replacement: string | null = null;
    if (oldId) {
      try {
        ({ id: replacement } = await kernelsTrpc.start.mutate({ name, size: this.size ?? undefined, replaces: oldId }));
      } catch (error) {
        if (this.disposed) return;
        this.size = before.size;
        this.setStatus({ size: before.status });
        const refusal = startRefusal(error);
        this.notify(`${refusal.title}: ${refusal.message} The kernel you have keeps running.`);
        return;
      }
    }
    const old = this.connection;
    this.connection = null;
    old?.dispose();
    this.endAllRuns();
    // `ready` is the new kernel from now on: a cell run while it starts waits for it.
    if (replacement) this.showStarting(name);
    this.ready = replacement ? Promise.resolve(this.admitted(replacement, name)) : this.launch(name);
    await this.ready;
  }

  /**
   * Whether replacing the kernel (another kernelspec or size, shut down) would lose something: code ran on it from
   * this page, or it was found running (it may hold another page's variables). A fresh kernel is replaced unasked.
   */
  replacingLosesState(): boolean {
    return this.kernelHasState && this.status.kernelId !== null && this.status.state !== "dead";
  }

  /** Cells that were running when the notebook opened (durable outputs): their live output keeps coming. */
  adoptRunning(runs: { cellId: string; msgId: string; startedAt: Date }[]) {
    for (const run of runs) {
      this.msgToCell.set(run.msgId, run.cellId);
      this.adopted.set(run.msgId, { cellId: run.cellId, live: [] });
      this.model.update(run.cellId, { status: "running", startedAt: run.startedAt.getTime() });
    }
  }

  // --- running code ---

  private lastNotice = { message: "", at: 0 };
  /** Notifies, but not again with the same words within 2 s: every cell of a selection run on a gone kernel fails alike. */
  private sayOnce(message: string): void {
    const now = Date.now();
    if (message === this.lastNotice.message && now - this.lastNotice.at < 2_000) return;
    this.lastNotice = { message, at: now };
    this.notify(message);
  }

  /** Why a cell did not run, and what to do: a start that was refused says what refused it (its banner has the rest). */
  private cannotRun(unusable: string): string {
    const refusal = this.status.refusal;
    if (!refusal) return `${unusable} ${RUN_AGAIN_HINT}`;
    if (refusal.quota) return `The cell didn't run: no kernel could start. ${refusal.message} Then run the cell again.`;
    return `The cell didn't run: the kernel didn't start (${refusal.message.replace(/\.$/, "")}). ${RUN_AGAIN_HINT}`;
  }

  async execute(cellId: string): Promise<void> {
    const cell = this.model.cell(cellId);
    if (!cell || cell.type !== "code") return;
    if (!cell.source.trim()) {
      this.model.update(cellId, { outputs: [], executionCount: null }, { dirty: true });
      return;
    }
    this.model.flush();
    // A run that never reaches a kernel leaves the cell as it was: its outputs are the file's, not to be lost.
    const before = { outputs: cell.outputs, executionCount: cell.executionCount, clippedRun: cell.clippedRun, lastDurationMs: cell.lastDurationMs };
    // The last run's duration goes with its outputs: a run cut short (a restart) must not show "Took 2 s" from before.
    this.model.update(cellId, { outputs: [], clearPending: false, clippedRun: null, executionCount: null, lastDurationMs: null, status: "queued", startedAt: null, stdin: null }, { dirty: true });
    const connection = await this.ready;
    if (this.disposed) return;
    const unusable = connection ? connection.unusable() : "There is no kernel.";
    if (!connection || unusable) {
      this.model.update(cellId, { status: "idle", ...before });
      this.sayOnce(this.cannotRun(unusable ?? "There is no kernel."));
      return;
    }
    this.kernelHasState = true;
    const code = this.model.cell(cellId)?.source ?? cell.source;
    const request = connection.request(
      "shell",
      "execute_request",
      { code, silent: false, store_history: true, user_expressions: {}, allow_stdin: true, stop_on_error: true },
      { atrium: { notebookPath: this.path, cellId } },
    );
    this.msgToCell.set(request.msgId, cellId);
    this.latestRun.set(cellId, request.msgId);
    this.pendingReplies.add(request.msgId);
    try {
      let count: number | null;
      let keepCount: boolean;
      try {
        const reply = await request;
        // The reply (shell) can overtake the last outputs (iopub): the run is over when iopub says idle too.
        await this.outputsComplete(request.msgId, OUTPUTS_AFTER_REPLY_MS);
        count = typeof reply.content.execution_count === "number" ? reply.content.execution_count : null;
        keepCount = reply.content.status === "aborted";
      } catch (error) {
        if (!(error instanceof ReplyLostError)) throw error;
        // Over (its idle came, every output with it), its reply sent to a portal process that is gone.
        count = this.inputCounts.get(request.msgId) ?? null;
        keepCount = count === null;
      }
      const current = this.model.cell(cellId);
      if (!current || this.latestRun.get(cellId) !== request.msgId) return; // gone, or run again meanwhile
      const startedAt = current.startedAt;
      this.model.flush(); // output still queued (stream output waits up to 100 ms) shows with the finished state
      this.model.update(cellId, {
        status: "idle",
        executionCount: keepCount ? current.executionCount : count,
        lastDurationMs: startedAt ? Date.now() - startedAt : null,
        startedAt: null,
        stdin: null,
      }, { dirty: true });
    } catch {
      if (this.latestRun.get(cellId) === request.msgId) {
        // Still queued: the kernel never started it, so nothing replaced what the cell showed.
        const neverRan = this.model.cell(cellId)?.status === "queued";
        this.model.update(cellId, { status: "idle", startedAt: null, stdin: null, ...(neverRan ? before : {}) });
      }
      // The run was waiting for a kernel that turned out to be gone (not one the user restarted or closed): say so.
      const why = connection.unusable();
      if (why && !this.disposed && connection === this.connection) this.sayOnce(`${why} ${RUN_AGAIN_HINT}`);
    } finally {
      if (this.latestRun.get(cellId) === request.msgId) this.latestRun.delete(cellId);
      this.pendingReplies.delete(request.msgId);
      this.outputsDone.delete(request.msgId);
      this.crossedReconnect.delete(request.msgId);
      this.inputCounts.delete(request.msgId);
    }
  }

  /** Resolves once iopub's "idle" for the request has arrived (every output of it is queued), or after `ms`. */
  private outputsComplete(msgId: string, ms: number): Promise<void> {
    if (this.outputsDone.delete(msgId)) return Promise.resolve();
    return new Promise((resolve) => {
      const done = () => {
        clearTimeout(timer);
        this.outputsWaiting.delete(msgId);
        resolve();
      };
      const timer = setTimeout(done, ms);
      this.outputsWaiting.set(msgId, done);
    });
  }

  async runAll(): Promise<void> {
    await this.runCells(this.model.ids);
  }

  /** Runs these cells in order (markdown ones are rendered): Run all, Run all above, Run this cell and all below. */
  async runCells(ids: readonly string[]): Promise<void> {
    await Promise.all(ids.map((id) => {
      const cell = this.model.cell(id);
      if (cell?.type === "markdown") this.model.update(id, { rendered: true });
      return this.execute(id);
    }));
  }

  async interrupt(): Promise<void> {
    const id = this.status.kernelId;
    if (!id) return;
    try {
      await kernelApi.interrupt(id);
    } catch (error) {
      this.notify(`The kernel couldn't be interrupted: ${(error as Error).message}`);
    }
  }

  async restart(): Promise<boolean> {
    const id = this.status.kernelId;
    if (!id) {
      this.ready = this.launch(this.wantedKernelName());
      return (await this.ready) !== null;
    }
    this.setStatus({ state: "restarting", phase: "restarting", since: Date.now() });
    this.connection?.failPending("The kernel restarted.");
    this.endAllRuns();
    try {
      await kernelApi.restart(id);
      this.kernelHasState = false;
      // The socket stays open across a restart; the gateway announces restarting → idle on iopub. If that
      // announcement was missed, a kernel_info round trip proves the new kernel answers.
      const connection = this.connection;
      if (connection && this.status.state === "restarting") {
        await withTimeout(connection.request("shell", "kernel_info_request", {}), 15_000).catch(() => undefined);
        if (this.status.state === "restarting") this.setStatus({ state: "idle", phase: null, since: null });
      }
      return true;
    } catch (error) {
      if (error instanceof KernelApiError && error.status === 404) {
        // The kernel is gone (stopped, culled, died): restarting means starting a fresh one.
        this.connection?.dispose();
        this.connection = null;
        this.ready = this.launch(this.status.kernelName ?? this.wantedKernelName());
        return (await this.ready) !== null;
      }
      this.notify(`The kernel couldn't be restarted: ${(error as Error).message}`);
      this.setStatus({ state: "dead", phase: null, since: null });
      return false;
    }
  }

  private endAllRuns() {
    for (const id of this.model.ids) {
      const cell = this.model.cell(id);
      if (cell && cell.status !== "idle") this.model.update(id, { status: "idle", startedAt: null, stdin: null });
    }
  }

  // --- completion and inspection ---

  async complete(code: string, cursorPos: number): Promise<{ matches: string[]; start: number; end: number } | null> {
    const connection = this.connection;
    if (!connection || this.status.state !== "idle") return null;
    try {
      const reply = await withTimeout(connection.request("shell", "complete_request", { code, cursor_pos: cursorPos }), 3000);
      const c = reply.content;
      if (c.status !== "ok" || !Array.isArray(c.matches)) return null;
      return { matches: c.matches.map(String), start: Number(c.cursor_start ?? cursorPos), end: Number(c.cursor_end ?? cursorPos) };
    } catch {
      return null;
    }
  }

  async inspect(code: string, cursorPos: number): Promise<string | null> {
    const connection = this.connection;
    if (!connection) return null;
    try {
      const reply = await withTimeout(connection.request("shell", "inspect_request", { code, cursor_pos: cursorPos, detail_level: 0 }), 3000);
      const data = reply.content.data as Record<string, unknown> | undefined;
      return reply.content.found && typeof data?.["text/plain"] === "string" ? (data["text/plain"] as string) : null;
    } catch {
      return null;
    }
  }

  // --- messages from the kernel ---

  /**
   * Once the socket is attached (its first status): the portal's view of the runs adopted at open replaces what the
   * page showed of them, and what the socket brought meanwhile goes on top, less what the view already had. Nothing
   * printed between the page's first look and its socket is lost (QA: a reload mid-run lost 1–3 lines).
   */
  private async rebaseAdoptedRuns(): Promise<void> {
    const runs = await runsApi.runs(this.path).catch(() => null);
    if (this.disposed) return;
    for (const [msgId, entry] of this.adopted) {
      const run = runs?.find((r) => r.msgId === msgId);
      if (!run?.recentOutputIds) {
        // Not held by the portal that answered (another replica's), or over and written: a finished run's stored
        // outputs are whole; otherwise the page keeps what it shows.
        if (run && run.status !== "running" && entry.ended) this.showRecorded(entry.cellId, run);
        this.adopted.delete(msgId);
        continue;
      }
      const skip = new Set(run.recentOutputIds);
      this.showRecorded(entry.cellId, run);
      for (const m of entry.live) if (!skip.has(m.header.msg_id)) this.model.queueIopub(entry.cellId, m.header.msg_type, m.content);
      if (entry.ended) this.adopted.delete(msgId);
      else Object.assign(entry, { live: [], skip });
    }
  }

  /** A cell shows the outputs the portal recorded for its run, in place of what it showed (queued output first). */
  private showRecorded(cellId: string, run: CellRun): void {
    this.model.flush();
    this.model.update(cellId, { outputs: outputsOfRun(run) as never, clearPending: false, clippedRun: run.clipped ? run.msgId : null }, { dirty: true });
  }

  private onIopub(msg: KernelMessage) {
    const type = msg.header.msg_type;
    const parent = msg.parent_header.msg_id;
    const adopted = typeof parent === "string" ? this.adopted.get(parent) : undefined;
    if (adopted && OUTPUT_TYPES.has(type) && type !== "update_display_data") {
      if (adopted.skip?.has(msg.header.msg_id)) return; // the portal's view had it
      if (!adopted.skip) adopted.live.push(msg);
    }
    if (adopted && type === "status" && msg.content.execution_state === "idle") {
      if (adopted.skip) this.adopted.delete(parent as string);
      else adopted.ended = true;
    }
    let cellId = typeof parent === "string" ? this.msgToCell.get(parent) : undefined;
    if (!cellId && type === "execute_input" && typeof parent === "string") cellId = this.mirrorRun(parent, msg);
    if (type === "update_display_data") {
      this.model.queueIopub(cellId ?? "", type, msg.content);
      return;
    }
    if (!cellId) return;
    if (type === "execute_input") {
      if (typeof msg.content.execution_count === "number" && this.pendingReplies.has(parent as string)) this.inputCounts.set(parent as string, msg.content.execution_count);
      const cell = this.model.cell(cellId);
      if (cell && cell.status !== "running") this.model.update(cellId, { status: "running", startedAt: Date.now() });
      return;
    }
    if (type === "status" && msg.content.execution_state === "idle") {
      const waiting = this.outputsWaiting.get(parent as string);
      if (waiting) waiting();
      else if (this.pendingReplies.has(parent as string)) this.outputsDone.add(parent as string);
      if (this.crossedReconnect.has(parent as string)) this.endIfReplyLost(parent as string);
      // An adopted run (started before this page opened) has no reply coming to us: idle ends it.
      const cell = this.model.cell(cellId);
      if (cell && cell.status !== "idle" && !this.hasPendingReply(parent as string)) {
        this.model.update(cellId, { status: "idle", startedAt: null, stdin: null });
      }
      return;
    }
    if (type === "execute_result" && typeof msg.content.execution_count === "number") {
      this.model.update(cellId, { executionCount: msg.content.execution_count });
    }
    if (OUTPUT_TYPES.has(type)) this.model.queueIopub(cellId, type, msg.content, { quiet: this.mirrored.has(parent as string) });
  }

  /**
   * A run another window (or client) of this kernel started: shown live on the cell whose code it runs, when exactly
   * one code cell here holds that code (an edited cell there matches nothing here; the file's change is said when that
   * window saves). Its idle ends it, as for a run adopted at open. Returns the cell, or undefined.
   */
  private mirrorRun(msgId: string, msg: KernelMessage): string | undefined {
    const code = msg.content.code;
    if (typeof code !== "string" || !code.trim() || msg.parent_header.session === this.connection?.session) return undefined;
    const matches = this.model.ids.filter((id) => {
      const cell = this.model.cell(id);
      return cell?.type === "code" && cell.source === code;
    });
    if (matches.length !== 1) return undefined;
    const cellId = matches[0]!;
    this.msgToCell.set(msgId, cellId);
    this.mirrored.add(msgId); // its outputs are that window's to save: they make no unsaved change here
    const count = typeof msg.content.execution_count === "number" ? msg.content.execution_count : null;
    this.model.update(cellId, { outputs: [], clearPending: false, clippedRun: null, executionCount: count, status: "running", startedAt: Date.now(), stdin: null });
    return cellId;
  }

  /** A run whose idle came after the socket was re-opened: if its reply does not follow soon, it is not coming. */
  private endIfReplyLost(msgId: string): void {
    const connection = this.connection;
    setTimeout(() => {
      if (this.disposed || !this.pendingReplies.has(msgId)) return;
      connection?.abandon(msgId, "The reply went to a portal process that has since restarted.");
    }, REPLY_AFTER_IDLE_MS);
  }

  /** Runs another window started, mirrored here (see mirrorRun). */
  private readonly mirrored = new Set<string>();
  private pendingReplies = new Set<string>();
  /** Requests whose iopub "idle" came before their reply, and runs waiting for theirs after it (outputsComplete). */
  private readonly outputsDone = new Set<string>();
  private readonly outputsWaiting = new Map<string, () => void>();
  private hasPendingReply(msgId: string) {
    return this.pendingReplies.has(msgId);
  }

  private onStdin(msg: KernelMessage) {
    if (msg.header.msg_type !== "input_request") return;
    const parent = msg.parent_header.msg_id;
    const cellId = typeof parent === "string" ? this.msgToCell.get(parent) : undefined;
    const connection = this.connection;
    if (!cellId || !connection) return;
    const prompt = String(msg.content.prompt ?? "");
    const password = msg.content.password === true;
    this.model.flush();
    this.model.update(cellId, {
      stdin: {
        prompt,
        password,
        reply: (value: string) => {
          connection.inputReply(msg, value);
          this.model.update(cellId, { stdin: null });
          this.model.queueIopub(cellId, "stream", { name: "stdout", text: `${prompt}${password ? "········" : value}\n` });
        },
      },
    });
  }

  dispose(): void {
    this.disposed = true;
    this.connection?.dispose();
    this.connection = null;
  }
}

function withTimeout<T>(promise: Promise<T>, ms: number): Promise<T> {
  return Promise.race([promise, new Promise<T>((_, reject) => setTimeout(() => reject(new Error("timeout")), ms))]);
}
