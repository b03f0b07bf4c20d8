// Pure: how iopub messages become nbformat outputs for one execute request — streams merged, display
// updates applied by display_id, clear_output(wait=True) deferred to the next output — and where the stored
// size limit lies. Beyond the limit, outputs are not dropped: they are handed back to be spilled to disk.

export type NbOutput =
  | { output_type: "stream"; name: string; text: string }
  | { output_type: "display_data"; data: Record<string, unknown>; metadata: Record<string, unknown>; transient?: undefined }
  | { output_type: "execute_result"; execution_count: number | null; data: Record<string, unknown>; metadata: Record<string, unknown> }
  | { output_type: "error"; ename: string; evalue: string; traceback: string[] };

export interface RunOutputs {
  outputs: NbOutput[];
  /** display_id → indexes of outputs showing it. */
  displays: Map<string, number[]>;
  clearPending: boolean;
  storedBytes: number;
  clipped: boolean;
}

export const newRunOutputs = (): RunOutputs => ({ outputs: [], displays: new Map(), clearPending: false, storedBytes: 0, clipped: false });

export interface ApplyResult {
  changed: boolean;
  /** What did not fit under the limit, as one line of JSON per output, for the spill file. */
  spill?: string;
}

const obj = (v: unknown): Record<string, unknown> => (v && typeof v === "object" && !Array.isArray(v) ? (v as Record<string, unknown>) : {});
const str = (v: unknown) => (typeof v === "string" ? v : "");

export function applyIopub(state: RunOutputs, msgType: string, rawContent: unknown, limitBytes: number): ApplyResult {
  const content = obj(rawContent);
  if (msgType === "clear_output") {
    if (content.wait === true) {
      state.clearPending = true;
      return { changed: false };
    }
    clear(state);
    return { changed: true };
  }
  if (msgType === "update_display_data") {
    const id = str(obj(content.transient).display_id);
    const targets = state.displays.get(id);
    if (!id || !targets) return { changed: false };
    for (const index of targets) {
      const output = state.outputs[index];
      if (output && (output.output_type === "display_data" || output.output_type === "execute_result")) {
        output.data = obj(content.data);
        output.metadata = obj(content.metadata);
      }
    }
    return { changed: true };
  }
  const output = toOutput(msgType, content);
  if (!output) return { changed: false };
  if (state.clearPending) {
    clear(state);
    state.clearPending = false;
  }
  const size = approximateSize(output);
  if (state.storedBytes + size > limitBytes) {
    state.clipped = true;
    return { changed: true, spill: JSON.stringify(output) + "\n" };
  }
  state.storedBytes += size;
  const last = state.outputs[state.outputs.length - 1];
  if (output.output_type === "stream" && last?.output_type === "stream" && last.name === output.name) {
    last.text += output.text;
    return { changed: true };
  }
  state.outputs.push(output);
  const displayId = str(obj(content.transient).display_id);
  if (displayId && (output.output_type === "display_data" || output.output_type === "execute_result")) {
    state.displays.set(displayId, [...(state.displays.get(displayId) ?? []), state.outputs.length - 1]);
  }
  return { changed: true };
}

function clear(state: RunOutputs) {
  state.outputs = [];
  state.displays.clear();
  state.storedBytes = 0;
}

function toOutput(msgType: string, content: Record<string, unknown>): NbOutput | undefined {
  switch (msgType) {
    case "stream":
      return { output_type: "stream", name: str(content.name) || "stdout", text: str(content.text) };
    case "display_data":
      return { output_type: "display_data", data: obj(content.data), metadata: obj(content.metadata) };
    case "execute_result":
      return {
        output_type: "execute_result",
        execution_count: typeof content.execution_count === "number" ? content.execution_count : null,
        data: obj(content.data),
        metadata: obj(content.metadata),
      };
    case "error":
      return {
        output_type: "error",
        ename: str(content.ename),
        evalue: str(content.evalue),
        traceback: Array.isArray(content.traceback) ? content.traceback.map(String) : [],
      };
    default:
      return undefined;
  }
}

function approximateSize(output: NbOutput): number {
  if (output.output_type === "stream") return output.text.length;
  return JSON.stringify(output).length;
}
