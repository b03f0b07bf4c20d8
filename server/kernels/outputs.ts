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
  /** What did not fit under the limit: one line of JSON (the message type and content), for the spill file. */
  spill?: string;
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
    if (!state.area.clearPending) state.storedBytes = 0;
    return { changed: true };
  }
  if (!ADDS_OUTPUT.has(msgType)) return { changed: false };
  if (state.area.clearPending) state.storedBytes = 0;
  const size = msgType === "stream" ? String(content.text ?? "").length : JSON.stringify(content).length;
  if (state.storedBytes + size > limitBytes) {
    state.clipped = true;
    return { changed: true, spill: JSON.stringify({ msg_type: msgType, content }) + "\n" };
  }
  state.storedBytes += size;
  state.area = applyIopub(state.area, msgType, content);
  return { changed: true };
}
