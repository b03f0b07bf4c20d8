// How iopub messages become a cell's nbformat outputs — the one reducer both the page (live) and any server
// code that records outputs can share. Pure and browser-safe.
//
// Rules, as Jupyter front ends apply them:
// - consecutive stream messages of the same name extend one output; a carriage return moves to the start of
//   the line and overwrites it (progress bars), a backspace removes the character before it;
// - clear_output(wait=True) clears when the next output arrives, not before (no flicker);
// - update_display_data replaces every output carrying that display id, wherever it is.
import { normalizeMimeBundle, type JsonObject, type MimeBundle, type Output, type StreamOutput } from "./nbformat";

export interface OutputArea {
  outputs: Output[];
  /** A clear_output(wait=True) is waiting for the next output. */
  clearPending: boolean;
}

export const emptyArea = (): OutputArea => ({ outputs: [], clearPending: false });

/** An output as the page holds it: an nbformat output, plus the display id it may be updated through. */
export type LiveOutput = Output & { transient?: { display_id?: string } };

/** Applies one iopub message to an output area; returns the area unchanged for messages that add no output. */
export function applyIopub(area: OutputArea, msgType: string, content: JsonObject): OutputArea {
  switch (msgType) {
    case "clear_output":
      return content.wait ? { ...area, clearPending: true } : { outputs: [], clearPending: false };
    case "stream": {
      const name = typeof content.name === "string" ? content.name : "stdout";
      const text = typeof content.text === "string" ? content.text : "";
      return appendStream(area, name, text);
    }
    case "display_data":
    case "execute_result":
    case "error": {
      const output = outputFromMessage(msgType, content);
      const base = area.clearPending ? [] : area.outputs;
      return { outputs: [...base, output], clearPending: false };
    }
    default:
      return area;
  }
}

export function appendStream(area: OutputArea, name: string, text: string): OutputArea {
  const base = area.clearPending ? [] : area.outputs;
  const last = base[base.length - 1];
  if (last && last.output_type === "stream" && last.name === name) {
    const merged: StreamOutput = { ...last, text: appendStreamText(last.text, text) };
    return { outputs: [...base.slice(0, -1), merged], clearPending: false };
  }
  return { outputs: [...base, { output_type: "stream", name, text: appendStreamText("", text) }], clearPending: false };
}

export function outputFromMessage(msgType: string, content: JsonObject): LiveOutput {
  if (msgType === "error") {
    return {
      output_type: "error",
      ename: String(content.ename ?? "Error"),
      evalue: String(content.evalue ?? ""),
      traceback: Array.isArray(content.traceback) ? content.traceback.map(String) : [],
    };
  }
  const data = normalizeMimeBundle(isObject(content.data) ? (content.data as MimeBundle) : {});
  const metadata = isObject(content.metadata) ? (content.metadata as JsonObject) : {};
  const displayId = isObject(content.transient) ? (content.transient as { display_id?: unknown }).display_id : undefined;
  const transient = typeof displayId === "string" ? { transient: { display_id: displayId } } : {};
  if (msgType === "execute_result") {
    const count = typeof content.execution_count === "number" ? content.execution_count : null;
    return { output_type: "execute_result", data, metadata, execution_count: count, ...transient };
  }
  return { output_type: "display_data", data, metadata, ...transient };
}

/** The outputs with every output of `displayId` replaced by the update's data; null when none carries it. */
export function updateDisplay(outputs: readonly LiveOutput[], displayId: string, content: JsonObject): LiveOutput[] | null {
  let changed = false;
  const next = outputs.map((output) => {
    if (output.output_type !== "display_data" && output.output_type !== "execute_result") return output;
    if (output.transient?.display_id !== displayId) return output;
    changed = true;
    const data = normalizeMimeBundle(isObject(content.data) ? (content.data as MimeBundle) : {});
    const metadata = isObject(content.metadata) ? (content.metadata as JsonObject) : {};
    return { ...output, data, metadata } as LiveOutput;
  });
  return changed ? next : null;
}

/**
 * `prev + chunk` with carriage returns and backspaces applied. Only the last line of `prev` can be touched, so
 * the cost is the size of the chunk plus one line, however long the stream grows. A trailing "\r" is kept
 * (the next chunk may bring the "\n" of a "\r\n", or overwrite the line); renderers hide it.
 */
export function appendStreamText(prev: string, chunk: string): string {
  if (!/[\r\b]/.test(chunk) && !prev.endsWith("\r")) return prev + chunk;
  const cut = prev.lastIndexOf("\n") + 1;
  return prev.slice(0, cut) + applyOverwrites(prev.slice(cut) + chunk);
}

/** Applies "\r" (back to column 0, overwrite) and "\b" (erase one character) within each line. */
export function applyOverwrites(text: string): string {
  const lines = text.replace(/\r\n/g, "\n").split("\n");
  return lines.map(overwriteLine).join("\n");
}

function overwriteLine(line: string): string {
  if (!/[\r\b]/.test(line)) return line;
  const pendingReturn = line.endsWith("\r");
  const body = pendingReturn ? line.slice(0, -1) : line;
  let result = "";
  for (const segment of body.split("\r")) {
    const typed = applyBackspaces(segment);
    result = typed + result.slice(typed.length);
  }
  return pendingReturn ? result + "\r" : result;
}

function applyBackspaces(text: string): string {
  if (!text.includes("\b")) return text;
  const out: string[] = [];
  for (const ch of text) {
    if (ch === "\b") out.pop();
    else out.push(ch);
  }
  return out.join("");
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}
