// Durable outputs: listens to every kernel this process holds, whether or not a browser is attached, and
// records each execute request's outputs in Postgres (batched), so a closed tab loses nothing and reopening
// the notebook replays what ran meanwhile. What exceeds the stored limit is appended to a spill file in the
// data dir instead of being dropped.
import fs from "node:fs";
import path from "node:path";
import type { Database } from "@/db";
import { abortRunningCellRuns, saveCellRun } from "@/db/queries/notebooks";
import { log } from "@/server/log";
import type { LiveKernel } from "./live-kernel";
import type { JsonObject } from "@/server/notebooks/nbformat";
import { newRunOutputs, recordIopub, type RunOutputs } from "./outputs";

const FLUSH_INTERVAL_MS = 250;
export const STORED_OUTPUT_LIMIT_BYTES = 4 * 1024 * 1024;

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
  /** Writes for one run happen in order: insert, then updates. */
  chain: Promise<void>;
  timer?: NodeJS.Timeout;
}

export class OutputRecorder {
  private readonly runs = new Map<string, Run>();

  constructor(
    private readonly db: Database,
    private readonly spillDir: string,
    private readonly limitBytes = STORED_OUTPUT_LIMIT_BYTES,
  ) {}

  spillFileOf(msgId: string): string {
    return path.join(this.spillDir, `${msgId.replace(/[^A-Za-z0-9_-]/g, "_")}.jsonl`);
  }

  attach(kernel: LiveKernel): () => void {
    const offSends = kernel.observeSends((channel, msg) => {
      if (channel !== "shell" || msg.header.msg_type !== "execute_request") return;
      const content = msg.content as { code?: unknown; silent?: unknown };
      if (content.silent === true) return;
      const atrium = (msg.metadata as { atrium?: { notebookPath?: unknown; cellId?: unknown } }).atrium;
      const run: Run = {
        msgId: msg.header.msg_id,
        kernelId: kernel.id,
        ownerId: kernel.ownerId,
        notebookPath: typeof atrium?.notebookPath === "string" ? atrium.notebookPath.slice(0, 4096) : null,
        cellId: typeof atrium?.cellId === "string" ? atrium.cellId.slice(0, 256) : null,
        code: typeof content.code === "string" ? content.code.slice(0, 1_000_000) : "",
        startedAt: new Date(),
        outputs: newRunOutputs(),
        status: "running",
        executionCount: null,
        replied: false,
        idle: false,
        spilledBytes: 0,
        chain: Promise.resolve(),
      };
      this.runs.set(run.msgId, run);
      // Nothing is written yet: the first write waits a flush interval (or the end of the run), so a quick
      // cell costs one write, and no database work stands between the request and the kernel's reply.
      this.scheduleFlush(run);
    });
    const offMessages = kernel.subscribe(
      (msg) => {
        const parentId = (msg.parent_header as { msg_id?: string }).msg_id;
        const run = parentId ? this.runs.get(parentId) : undefined;
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
            if ((msg.content as { execution_state?: string }).execution_state === "idle") run.idle = true;
          } else {
            const result = recordIopub(run.outputs, type, msg.content as JsonObject, this.limitBytes);
            if (result.spill) this.spill(run, result.spill);
          }
        } else return;
        this.scheduleFlush(run);
      },
      { countsAsClient: false },
    );
    return () => {
      offSends();
      offMessages();
    };
  }

  /** The kernel died, was stopped or restarted: its unfinished runs are aborted. */
  async kernelEnded(kernelId: string): Promise<void> {
    const pending: Promise<void>[] = [];
    for (const run of this.runs.values()) {
      if (run.kernelId !== kernelId) continue;
      if (run.status === "running") run.status = "aborted";
      run.replied = run.idle = true;
      pending.push(this.flush(run));
    }
    await Promise.all(pending);
    await abortRunningCellRuns(this.db, kernelId).catch((error) => log.warn(`could not abort runs of ${kernelId}: ${error}`));
  }

  /** Writes everything still pending (at shutdown). */
  async flushAll(): Promise<void> {
    await Promise.all([...this.runs.values()].map((run) => this.flush(run)));
  }

  private scheduleFlush(run: Run) {
    if (run.replied && run.idle) {
      void this.flush(run);
      return;
    }
    run.timer ??= setTimeout(() => {
      run.timer = undefined;
      void this.flush(run);
    }, FLUSH_INTERVAL_MS);
  }

  private flush(run: Run): Promise<void> {
    clearTimeout(run.timer);
    run.timer = undefined;
    const finished = run.replied && run.idle;
    if (finished) this.runs.delete(run.msgId);
    const snapshot = {
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
    } as const;
    return this.enqueue(run, () => saveCellRun(this.db, snapshot));
  }

  private enqueue(run: Run, write: () => Promise<void>): Promise<void> {
    run.chain = run.chain.then(write).catch((error) => log.warn(`recording output of ${run.msgId} failed: ${error}`));
    return run.chain;
  }

  private spill(run: Run, text: string) {
    run.spilledBytes += Buffer.byteLength(text);
    try {
      fs.mkdirSync(this.spillDir, { recursive: true, mode: 0o700 });
      fs.appendFileSync(this.spillFileOf(run.msgId), text, { mode: 0o600 });
    } catch (error) {
      log.error(`could not spill output of ${run.msgId}: ${error}`);
    }
  }
}
