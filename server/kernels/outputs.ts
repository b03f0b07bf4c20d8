// Pure: one recorded execute request's outputs. The iopub → nbformat rules are the notebook's own reducer
// (server/notebooks/outputs.ts, shared with the page); this adds the stored size limit. Beyond the limit
// outputs are not dropped: they are handed back to be spilled to disk, and the run is marked clipped.
import type { JsonObject } from "@/server/notebooks/nbformat";
import { applyIopub, emptyArea, updateDisplay, type LiveOutput, type OutputArea } from "@/server/notebooks/outputs";

export interface RunOutputs {
  area: OutputArea;
  storedBytes: number;
  clipped: boolean;
}

export const newRunOutputs = (): RunOutputs => ({ area: emptyArea(), storedBytes: 0, clipped: false });

export interface RecordResult {
  changed: boolean;
  /** The message goes to the spill file, as it came: it did not fit, or an earlier one did not (order is kept). */
  spill?: true;
  /** The outputs were cleared: what was spilled before is gone too (empty the spill file first). */
  clearSpill?: true;
}

const ADDS_OUTPUT = new Set(["stream", "display_data", "execute_result", "error"]);

export function recordIopub(state: RunOutputs, msgType: string, content: JsonObject, limitBytes: number): RecordResult {
  if (msgType === "update_display_data") {
    const displayId = (content.transient as { display_id?: unknown } | undefined)?.display_id;
    const updated = typeof displayId === "string" ? updateDisplay(state.area.outputs as LiveOutput[], displayId, content) : null;
    if (!updated) return { changed: false };
    state.area = { ...state.area, outputs: updated };
    return { changed: true };
  }
  if (msgType === "clear_output") {
    state.area = applyIopub(state.area, msgType, content);
    return { changed: true, ...(state.area.clearPending ? {} : restart(state)) };
  }
  if (!ADDS_OUTPUT.has(msgType)) return { changed: false };
  // A clear_output(wait=True) takes effect now, with the first output after it.
  const cleared = state.area.clearPending ? ((state.area = emptyArea()), restart(state)) : {};
  const size = msgType === "stream" ? String(content.text ?? "").length : JSON.stringify(content).length;
  // Once one message went to the spill file, every later one follows it there, so the stored part and the
  // spill file together are the output in its order.
  if (state.clipped || state.storedBytes + size > limitBytes) {
    state.clipped = true;
    return { changed: true, spill: true, ...cleared };
  }
  state.storedBytes += size;
  state.area = applyIopub(state.area, msgType, content);
  return { changed: true, ...cleared };
}

/** After an effective clear: nothing stored, and nothing spilled that still counts. */
function restart(state: RunOutputs): Pick<RecordResult, "clearSpill"> {
  state.storedBytes = 0;
  if (!state.clipped) return {};
  state.clipped = false;
  return { clearSpill: true };
}
