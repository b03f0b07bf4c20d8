// Durable outputs meet the file: when a notebook opens, the server's record of each cell's latest run
// (notebooks.runs) is laid over the cells read from disk. Pure; the page calls it once per open.
//
// A run wins over the file when it ended after the file was written (or has not ended): the file cannot hold
// its final outputs. A run that ended before the last write is already in the file — or the user cleared or
// edited those outputs since, and the file is what they meant. Keep this rule in one place.
//
// Outputs belong to the code that made them. A run that began after the file was written, and ran other code than
// the file holds, ran an edit that never reached the file (the browser died before its save): the run's code comes
// back with its outputs, or the file would pair old code with new outputs (QA). An edit saved after the run began
// is the user's newer word and stays, as it does on a live page.
import { normalizeOutput, type Cell, type CodeCell, type Output } from "./nbformat";

export type RunStatus = "running" | "ok" | "error" | "aborted";

export interface CellRun {
  cellId: string;
  msgId: string;
  kernelId: string;
  status: RunStatus;
  executionCount: number | null;
  /** nbformat output objects, as recorded (multi-line strings may be lists). */
  outputs: unknown[];
  /** The server kept only part of the output. */
  clipped: boolean;
  startedAt: Date | string;
  finishedAt: Date | string | null;
  /** The code the run executed (as recorded, up to its limit); absent from older answers. */
  code?: string;
  /** Held in memory by the portal that answered: the msg_ids of its latest outputs, which `outputs` has. */
  recentOutputIds?: string[];
}

export interface MergedRuns {
  cells: Cell[];
  /** Cells whose run is still going: the page shows them running and routes their live iopub to them. */
  running: { cellId: string; msgId: string; startedAt: Date }[];
  /** Cells whose shown outputs were clipped by the server, with the run whose full output it holds. */
  clipped: { cellId: string; msgId: string }[];
  /** Cells whose outputs came from a run rather than from the file. */
  replaced: string[];
  /** Cells whose code came from their run: the edit it ran never reached the file. */
  restoredCode: string[];
}

/** Longer code than this was cut when recorded (output-recorder.ts): it cannot stand for what ran. */
const RECORDED_CODE_LIMIT = 1_000_000;

export function mergeRuns(cells: readonly Cell[], runs: readonly CellRun[], fileMtime: Date): MergedRuns {
  const byCell = new Map<string, CellRun>();
  for (const run of runs) {
    const known = byCell.get(run.cellId);
    if (!known || toDate(run.startedAt) > toDate(known.startedAt)) byCell.set(run.cellId, run);
  }
  const running: MergedRuns["running"] = [];
  const clipped: { cellId: string; msgId: string }[] = [];
  const replaced: string[] = [];
  const restoredCode: string[] = [];
  const merged = cells.map((cell) => {
    const run = byCell.get(cell.id);
    if (!run || cell.cell_type !== "code") return cell;
    const ended = run.finishedAt === null || run.status === "running" ? null : toDate(run.finishedAt);
    if (ended && ended.getTime() <= fileMtime.getTime()) return cell;
    if (run.status === "running") running.push({ cellId: cell.id, msgId: run.msgId, startedAt: toDate(run.startedAt) });
    if (run.clipped) clipped.push({ cellId: cell.id, msgId: run.msgId });
    replaced.push(cell.id);
    const outputs = outputsOfRun(run);
    const merged = { ...cell, outputs, execution_count: run.executionCount ?? (run.status === "running" ? null : cell.execution_count) } as CodeCell;
    if (ranUnsavedEdit(run, cell.source, fileMtime)) {
      restoredCode.push(cell.id);
      merged.source = run.code!;
    }
    return merged;
  });
  return { cells: merged, running, clipped, replaced, restoredCode };
}

/** The run began after the file was written and ran other code than it holds (never nothing: that erases no cell). */
function ranUnsavedEdit(run: CellRun, source: string, fileMtime: Date): boolean {
  const code = run.code;
  if (!code || code.length >= RECORDED_CODE_LIMIT || code === source) return false;
  return toDate(run.startedAt).getTime() > fileMtime.getTime();
}

/** A run's recorded outputs as a cell holds them. */
export function outputsOfRun(run: CellRun): Output[] {
  return run.outputs.flatMap((o): Output[] => (isOutput(o) ? [normalizeOutput(o)] : []));
}

function isOutput(value: unknown): value is Output {
  if (!value || typeof value !== "object") return false;
  const type = (value as { output_type?: unknown }).output_type;
  if (type === "stream") return typeof (value as { text?: unknown }).text === "string" || Array.isArray((value as { text?: unknown }).text);
  if (type === "error") return Array.isArray((value as { traceback?: unknown }).traceback);
  if (type === "display_data" || type === "execute_result") return typeof (value as { data?: unknown }).data === "object";
  return false;
}

const toDate = (value: Date | string): Date => (value instanceof Date ? value : new Date(value));
