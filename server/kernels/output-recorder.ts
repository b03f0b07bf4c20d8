// Durable outputs: listens to every kernel this process holds, whether or not a browser is attached, and
// records the outputs of each execute request from a notebook cell in Postgres, so a closed tab loses nothing
// and reopening the notebook replays what ran meanwhile. What exceeds the stored limit is appended to a spill
// file in the data dir instead of being dropped.
// Writes are batched across runs and kernels: one statement per flush, never on the path of a reply. On the
// embedded database a write is 1–5 ms of CPU on this event loop, and every kernel's messages wait behind it, so
// finished runs are written in a pause of the kernels' traffic (QUIET_MS without a request or a message), and
// at the latest FINISHED_MAX_DELAY_MS after they finished: a chain of quick executes is not interrupted by a
// write after each one.
import { createHash } from "node:crypto";
import fs from "node:fs";
import path from "node:path";
import type { Database } from "@/db";
import { abortRunningCellRuns, runningCellRunsOfKernel, saveCellRun, saveCellRuns, type CellRunSnapshot } from "@/db/queries/notebooks";
import { log } from "@/server/log";
import type { LiveKernel } from "./live-kernel";
import type { RawMessageParts } from "./protocol/wire";
import type { CellRun } from "@/server/notebooks/merge-runs";
import type { JsonObject } from "@/server/notebooks/nbformat";
import type { OutputArea } from "@/server/notebooks/outputs";
import { newRunOutputs, recordIopub, type RunOutputs } from "./outputs";

/** A running cell's new outputs reach the database at most this late (small outputs; see flushIntervalFor). */
const FLUSH_INTERVAL_MS = 250;
/** Finished runs are written once no kernel of this process has sent or been sent anything for this long… */
const QUIET_MS = 100;
/** …or this long after they finished, whichever is first: what a crash of this process could lose of them. */
const FINISHED_MAX_DELAY_MS = 1_000;
/**
 * Each write of a running cell is all of its stored output, so a big one is rewritten less often: about 1 ms per
 * KiB stored (4 MiB: every ~4 s), at most every 10 s. What a crash of this process could lose is bounded by
 * that; a closed tab loses nothing (the run is in memory and written when it ends).
 */
const flushIntervalFor = (storedBytes: number) => Math.min(10_000, Math.max(FLUSH_INTERVAL_MS, storedBytes / 1024));
/**
 * Runs per statement. A statement is CPU on this event loop for the embedded database (building the SQL and
 * running it): 200 quick runs in one took ~10 ms, long enough to delay every kernel's messages behind it.
 */
const WRITE_BATCH = 25;
/** Put into a running cell's output where a portal restart may have cut it (see resume). */
export const RESTART_GAP_NOTE = "[Atrium restarted while this cell ran: anything it printed while no Atrium server listened is not here.]\n";
/** The folder of the spill files, in the data dir. */
export const spillDirOf = (dataDir: string) => path.join(dataDir, "outputs");

/**
 * Where a run's output beyond the stored limit goes: one JSON line per message, {"msg_type", "content"}. Named by
 * a hash of owner and msg_id: msg_id is the client's choice, so two users' runs may share one.
 */
export function spillFileOf(spillDir: string, ownerId: string, msgId: string): string {
  return path.join(spillDir, `${createHash("sha256").update(`${ownerId}\0${msgId}`).digest("hex")}.jsonl`);
}

/** In-memory runs are keyed by kernel and msg_id (a msg_id alone may repeat across kernels and users). */
const runKey = (kernelId: string, msgId: string) => `${kernelId}\n${msgId}`;

export const STORED_OUTPUT_LIMIT_BYTES = 4 * 1024 * 1024;

/**
 * How many of a run's latest output msg_ids its live view names. A page that attached to the kernel a moment before
 * it asked for the view has those messages twice (the view and its socket): it skips the ones named. Far more than
 * a kernel sends in the round trip that separates the two (its stream output is flushed every 0.2 s or per flush).
 */
const RECENT_OUTPUT_IDS = 2_000;

/** A run as this process holds it now (fresher than the database, which lags by a flush interval). */
export interface LiveRunView extends CellRun {
  spilledBytes: number;
  startedAt: Date;
  finishedAt: Date | null;
  /** The msg_ids of its latest output messages, oldest first: they are in `outputs`. */
  recentOutputIds: string[];
}

interface Run {
  msgId: string;
  kernelId: string;
  ownerId: string;
  notebookPath: string | null;
  cellId: string | null;
  code: string;
  startedAt: Date;
  outputs: RunOutputs;
  status: "running" | "ok" | "error" | "aborted";
  executionCount: number | null;
  replied: boolean;
  idle: boolean;
  spilledBytes: number;
  /** When this run was last written (epoch ms); its start before the first write. */
  lastWriteAt: number;
  /** When its reply and idle were both in (epoch ms). */
  finishedAt: number | null;
  /** The run's messages seen (a resumed run: the stored count, plus those heard since): see cell_runs.messages_seen. */
  messagesSeen: number;
  /** The msg_ids of the last output messages recorded (at most RECENT_OUTPUT_IDS): see liveRunsOfNotebook. */
  recentOutputIds: string[];
  /**
   * Taken up after a portal restart: its execute_reply goes to the connection that sent the request, which is
   * gone, so its end is its idle status, and its status is read from its outputs (an error output, or ok).
   */
  resumed?: true;
}

export class OutputRecorder {
  private readonly runs = new Map<string, Run>();
  /** Runs changed since the last flush. */
  private readonly dirty = new Set<Run>();
  private timer: NodeJS.Timeout | undefined;
  private timerDue = Infinity;
  /** Flushes write in order (a run's insert before its updates): each waits for the previous one. */
  private writing: Promise<void> = Promise.resolve();
  /** The last request or kernel message seen, of any kernel (epoch ms). */
  private lastTrafficAt = 0;

  constructor(
    private readonly db: Database,
    private readonly spillDir: string,
    private readonly limitBytes = STORED_OUTPUT_LIMIT_BYTES,
  ) {}

  private spillFile(run: Run): string {
    return spillFileOf(this.spillDir, run.ownerId, run.msgId);
  }

  attach(kernel: LiveKernel): () => void {
    const offSends = kernel.observeSends((channel, msg) => {
      this.lastTrafficAt = Date.now();
      if (channel !== "shell" || msg.header.msg_type !== "execute_request") return;
      const content = msg.content as { code?: unknown; silent?: unknown };
      if (content.silent === true) return;
      const atrium = (msg.metadata as { atrium?: { notebookPath?: unknown; cellId?: unknown } }).atrium;
      // Only the notebook page's executes (tagged with their cell) are recorded: a notebook replays them when it
      // reopens. A plain API client's (JupyterLab, a script) could never be replayed, so they cost no writes.
      if (typeof atrium?.cellId !== "string") return;
      const run: Run = {
        msgId: msg.header.msg_id,
        kernelId: kernel.id,
        ownerId: kernel.ownerId,
        notebookPath: typeof atrium?.notebookPath === "string" ? atrium.notebookPath.slice(0, 4096) : null,
        cellId: atrium.cellId.slice(0, 256),
        code: typeof content.code === "string" ? content.code.slice(0, 1_000_000) : "",
        startedAt: new Date(),
        outputs: newRunOutputs(),
        status: "running",
        executionCount: null,
        replied: false,
        idle: false,
        spilledBytes: 0,
        lastWriteAt: Date.now(),
        finishedAt: null,
        messagesSeen: 0,
        recentOutputIds: [],
      };
      this.runs.set(runKey(kernel.id, run.msgId), run);
      // Nothing is written yet: the first write waits a flush interval (or the end of the run), so a quick
      // cell costs one write, and no database work stands between the request and the kernel's reply.
      this.scheduleFlush(run);
    });
    const offMessages = kernel.subscribe(
      (msg, raw) => {
        this.lastTrafficAt = Date.now();
        const parentId = (msg.parent_header as { msg_id?: string }).msg_id;
        const run = parentId ? this.runs.get(runKey(kernel.id, parentId)) : undefined;
        if (!run) return;
        const type = msg.header.msg_type;
        if (msg.channel === "shell" && type === "execute_reply") {
          const content = msg.content as { status?: string; execution_count?: number };
          run.status = content.status === "error" ? "error" : content.status === "aborted" ? "aborted" : "ok";
          if (typeof content.execution_count === "number") run.executionCount = content.execution_count;
          run.replied = true;
        } else if (msg.channel === "iopub") {
          if (type === "execute_input") {
            const count = (msg.content as { execution_count?: number }).execution_count;
            if (typeof count === "number") run.executionCount = count;
          } else if (type === "status") {
            if ((msg.content as { execution_state?: string }).execution_state === "idle") {
              run.idle = true;
              if (run.resumed && run.status === "running") run.status = endedStatusOf(run);
            }
          } else {
            const result = recordIopub(run.outputs, type, msg.content as JsonObject, this.limitBytes);
            run.recentOutputIds.push(msg.header.msg_id);
            if (run.recentOutputIds.length > RECENT_OUTPUT_IDS * 2) run.recentOutputIds.splice(0, run.recentOutputIds.length - RECENT_OUTPUT_IDS);
            if (result.clearSpill) this.clearSpill(run);
            if (result.spill) this.spill(run, type, raw);
          }
        } else return;
        run.messagesSeen++;
        this.scheduleFlush(run);
      },
      { countsAsClient: false },
    );
    return () => {
      offSends();
      offMessages();
    };
  }

  /**
   * Before a kernel that outlived the last portal process is held again: its runs that were still going are
   * taken up where their stored outputs end, so what the cells print from now on is recorded too.
   */
  async resume(kernelId: string): Promise<number> {
    const rows = await runningCellRunsOfKernel(this.db, kernelId);
    for (const row of rows) {
      const key = runKey(kernelId, row.msgId);
      if (this.runs.has(key)) continue;
      const outputs = row.outputs as JsonObject[];
      this.runs.set(key, {
        msgId: row.msgId,
        kernelId,
        ownerId: row.ownerId,
        notebookPath: row.notebookPath,
        cellId: row.cellId,
        code: row.code,
        startedAt: row.startedAt,
        outputs: { area: { outputs: outputs as OutputArea["outputs"], clearPending: false }, storedBytes: storedSizeOf(outputs), clipped: row.clipped },
        status: "running",
        executionCount: row.executionCount,
        replied: true,
        idle: false,
        spilledBytes: row.spilledBytes,
        lastWriteAt: Date.now(),
        finishedAt: null,
        messagesSeen: row.messagesSeen,
        recentOutputIds: [],
        resumed: true,
      });
      // What the cell printed while no portal process listened is lost (the kernel's iopub keeps nothing for a
      // subscriber that is not there): said where it is missing, not left as a silent jump in the output.
      const run = this.runs.get(key)!;
      if (!run.outputs.clipped && recordIopub(run.outputs, "stream", { name: "stderr", text: RESTART_GAP_NOTE }, this.limitBytes).changed) this.scheduleFlush(run);
    }
    return rows.length;
  }

  /**
   * A kernel taken up after a portal restart answered a request: runs resumed from before that still wait for their
   * end finished while no portal listened. Their status is read from their outputs, as at a resumed run's idle.
   */
  resumedRunsEnded(kernelId: string): void {
    for (const run of this.runs.values()) {
      if (run.kernelId !== kernelId || !run.resumed || run.idle) continue;
      run.idle = true;
      if (run.status === "running") run.status = endedStatusOf(run);
      this.scheduleFlush(run);
    }
  }

  /** The runs of `ownerId`'s notebook at `path` this process holds now (running, or finished and not yet dropped). */
  liveRunsOfNotebook(ownerId: string, path: string): LiveRunView[] {
    const views: LiveRunView[] = [];
    for (const run of this.runs.values()) {
      if (run.ownerId !== ownerId || run.notebookPath !== path || run.cellId === null) continue;
      views.push({
        cellId: run.cellId,
        msgId: run.msgId,
        kernelId: run.kernelId,
        status: run.status,
        code: run.code,
        executionCount: run.executionCount,
        // A copy: the view must stay as it is now, with its ids, while the run goes on before it is sent.
        outputs: structuredClone(run.outputs.area.outputs),
        clipped: run.outputs.clipped,
        spilledBytes: run.spilledBytes,
        startedAt: run.startedAt,
        finishedAt: run.finishedAt === null ? null : new Date(run.finishedAt),
        recentOutputIds: run.recentOutputIds.slice(-RECENT_OUTPUT_IDS),
      });
    }
    return views;
  }

  /** The kernel died, was stopped or restarted: its unfinished runs are aborted. */
  async kernelEnded(kernelId: string): Promise<void> {
    for (const run of this.runs.values()) {
      if (run.kernelId !== kernelId) continue;
      if (run.status === "running") run.status = "aborted";
      run.replied = run.idle = true;
      this.dirty.add(run);
    }
    await this.flush(true);
    await abortRunningCellRuns(this.db, kernelId).catch((error) => log.warn(`could not abort runs of ${kernelId}: ${error}`));
  }

  /** Writes everything still pending (at shutdown). */
  async flushAll(): Promise<void> {
    await this.flush(true);
  }

  private scheduleFlush(run: Run) {
    this.dirty.add(run);
    const now = Date.now();
    if (run.replied && run.idle) run.finishedAt ??= now;
    this.arm(Math.max(0, this.notBefore(run, now) - now));
  }

  /** The earliest time a run is due to be written (epoch ms). */
  private notBefore(run: Run, now: number): number {
    if (run.finishedAt === null) return run.lastWriteAt + flushIntervalFor(run.outputs.storedBytes);
    const quietAt = this.lastTrafficAt + QUIET_MS;
    return Math.min(run.finishedAt + FINISHED_MAX_DELAY_MS, Math.max(now, quietAt));
  }

  /** A throttle, not a debounce: a timer already due sooner stays, so a chatty cell is still written on time. */
  private arm(delayMs: number) {
    const due = Date.now() + delayMs;
    if (this.timer && this.timerDue <= due) return;
    clearTimeout(this.timer);
    this.timerDue = due;
    this.timer = setTimeout(() => void this.flush(), delayMs);
  }

  /**
   * Snapshots the changed runs that are due and writes them in one statement after the writes before it. A
   * running cell with a big output waits for its own interval (see flushIntervalFor), a finished one for a pause
   * in the traffic (see notBefore); `all` writes everything.
   */
  private flush(all = false): Promise<void> {
    clearTimeout(this.timer);
    this.timer = undefined;
    this.timerDue = Infinity;
    const now = Date.now();
    // Once one finished run is due, every finished run goes with it: under steady traffic they would otherwise
    // fall due one by one, a write per execute, each at its own 1 s deadline.
    let finishedDue = all;
    for (const run of this.dirty) if (run.finishedAt !== null && now >= this.notBefore(run, now)) finishedDue = true;
    const due: Run[] = [];
    let nextDue = Infinity;
    for (const run of this.dirty) {
      const notBefore = this.notBefore(run, now);
      if (all || now >= notBefore || (finishedDue && run.finishedAt !== null)) due.push(run);
      else nextDue = Math.min(nextDue, notBefore);
    }
    for (const run of due) this.dirty.delete(run);
    if (nextDue < Infinity) this.arm(nextDue - now);
    if (due.length === 0) return this.writing;
    const snapshots = due.map((run) => {
      run.lastWriteAt = now;
      return this.snapshot(run);
    });
    this.writing = this.writing.then(() => this.write(snapshots));
    return this.writing;
  }

  private snapshot(run: Run): CellRunSnapshot {
    const finished = run.replied && run.idle;
    if (finished) this.runs.delete(runKey(run.kernelId, run.msgId));
    return {
      msgId: run.msgId,
      kernelId: run.kernelId,
      ownerId: run.ownerId,
      notebookPath: run.notebookPath,
      cellId: run.cellId,
      code: run.code,
      startedAt: run.startedAt,
      status: finished ? run.status : "running",
      executionCount: run.executionCount,
      outputs: run.outputs.area.outputs, // the reducer never mutates an area it returned
      clipped: run.outputs.clipped,
      spilledBytes: run.spilledBytes,
      finishedAt: finished ? new Date() : null,
      messagesSeen: run.messagesSeen,
    };
  }

  /** In statements of at most WRITE_BATCH runs, letting the kernels' messages through between them. */
  private async write(snapshots: CellRunSnapshot[]): Promise<void> {
    for (let i = 0; i < snapshots.length; i += WRITE_BATCH) {
      if (i > 0) await new Promise((resolve) => setImmediate(resolve));
      await this.writeBatch(snapshots.slice(i, i + WRITE_BATCH));
    }
  }

  private async writeBatch(snapshots: CellRunSnapshot[]): Promise<void> {
    try {
      await saveCellRuns(this.db, snapshots);
    } catch (error) {
      if (snapshots.length === 1) {
        log.warn(`recording output of ${snapshots[0]!.msgId} failed: ${brief(error)}`);
        return;
      }
      // One bad row (say, its kernel row is gone) must not cost the others theirs: write them one by one.
      for (const snapshot of snapshots) {
        await saveCellRun(this.db, snapshot).catch((rowError) => log.warn(`recording output of ${snapshot.msgId} failed: ${brief(rowError)}`));
      }
    }
  }

  /** The run's outputs were cleared after some were spilled: those are gone from the notebook, so from the file. */
  private clearSpill(run: Run) {
    run.spilledBytes = 0;
    try {
      fs.truncateSync(this.spillFile(run), 0);
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== "ENOENT") log.error(`could not empty the spill file of ${run.msgId}: ${error}`);
    }
  }

  /** Appends the message as it came from the kernel: its content bytes, never parsed and serialised again. */
  private spill(run: Run, msgType: string, raw: RawMessageParts) {
    const line = Buffer.concat([Buffer.from(`{"msg_type":${JSON.stringify(msgType)},"content":`), raw.content, Buffer.from("}\n")]);
    run.spilledBytes += line.length;
    try {
      fs.mkdirSync(this.spillDir, { recursive: true, mode: 0o700 });
      fs.appendFileSync(this.spillFile(run), line, { mode: 0o600 });
    } catch (error) {
      log.error(`could not spill output of ${run.msgId}: ${error}`);
    }
  }

}

/** A resumed run's status at its end (its execute_reply went to the portal process that sent it): from its outputs. */
const endedStatusOf = (run: Run): Run["status"] => (run.outputs.area.outputs.some((o) => o.output_type === "error") ? "error" : "ok");

/** What stored outputs count against the limit, as recordIopub counts them (stream text; else the JSON). */
function storedSizeOf(outputs: JsonObject[]): number {
  let size = 0;
  for (const output of outputs) size += output.output_type === "stream" ? String(output.text ?? "").length : JSON.stringify(output).length;
  return size;
}

/** The database's own reason, not the statement and its parameters (which carry the outputs: megabytes). */
function brief(error: unknown): string {
  const cause = (error as { cause?: unknown }).cause;
  const message = cause instanceof Error ? cause.message : error instanceof Error ? error.message : String(error);
  return message.length > 300 ? `${message.slice(0, 300)}…` : message;
}
