// nbformat 4: the essential schema (validated with zod), and the two conversions every notebook goes through.
//   parse   file text → a Notebook: validated, multi-line strings joined, cell ids present (upgrading 4.0–4.4
//           to 4.5 the way JupyterLab does), every unknown field kept as it was.
//   format  a Notebook → file text the way Jupyter writes it (keys sorted, one-space indent, multi-line
//           strings split into lists of lines, trailing newline), so a file saved here diffs cleanly against
//           one saved by JupyterLab.
// Pure and browser-safe (the page imports the types and the output helpers). Touch it when nbformat changes.
import { z } from "zod";
import { isNbformat3, upgradeNbformat3 } from "./nbformat-v3";

const multiline = z.union([z.string(), z.array(z.string())]);
const jsonObject = z.record(z.string(), z.unknown());
const mimeBundle = z.record(z.string(), z.unknown());

const streamOutput = z.looseObject({ output_type: z.literal("stream"), name: z.string(), text: multiline });
const displayDataOutput = z.looseObject({ output_type: z.literal("display_data"), data: mimeBundle, metadata: jsonObject.optional() });
const executeResultOutput = z.looseObject({
  output_type: z.literal("execute_result"),
  data: mimeBundle,
  metadata: jsonObject.optional(),
  execution_count: z.number().int().nullable(),
});
const errorOutput = z.looseObject({ output_type: z.literal("error"), ename: z.string(), evalue: z.string(), traceback: z.array(z.string()) });
export const outputSchema = z.discriminatedUnion("output_type", [streamOutput, displayDataOutput, executeResultOutput, errorOutput]);

const cellId = z.string().regex(/^[a-zA-Z0-9-_]{1,64}$/, "a cell id is 1 to 64 letters, digits, '-' or '_'");
const codeCell = z.looseObject({
  cell_type: z.literal("code"),
  id: cellId.optional(),
  source: multiline,
  metadata: jsonObject,
  outputs: z.array(outputSchema),
  execution_count: z.number().int().nullable(),
});
const markdownCell = z.looseObject({ cell_type: z.literal("markdown"), id: cellId.optional(), source: multiline, metadata: jsonObject, attachments: jsonObject.optional() });
const rawCell = z.looseObject({ cell_type: z.literal("raw"), id: cellId.optional(), source: multiline, metadata: jsonObject, attachments: jsonObject.optional() });
export const cellSchema = z.discriminatedUnion("cell_type", [codeCell, markdownCell, rawCell]);

export const notebookSchema = z.looseObject({
  nbformat: z.literal(4, { error: "Only nbformat 4 notebooks (and version 3 ones, upgraded as they open) can be opened here." }),
  nbformat_minor: z.number().int().min(0),
  metadata: jsonObject,
  cells: z.array(cellSchema),
});

// --- the shapes the page works with: strings joined, ids present ---

export type JsonObject = Record<string, unknown>;
export type MimeBundle = Record<string, unknown>;

export interface StreamOutput { output_type: "stream"; name: "stdout" | "stderr" | string; text: string; [extra: string]: unknown }
export interface DisplayDataOutput { output_type: "display_data"; data: MimeBundle; metadata: JsonObject; [extra: string]: unknown }
export interface ExecuteResultOutput { output_type: "execute_result"; data: MimeBundle; metadata: JsonObject; execution_count: number | null; [extra: string]: unknown }
export interface ErrorOutput { output_type: "error"; ename: string; evalue: string; traceback: string[]; [extra: string]: unknown }
export type Output = StreamOutput | DisplayDataOutput | ExecuteResultOutput | ErrorOutput;

interface CellBase { id: string; source: string; metadata: JsonObject; [extra: string]: unknown }
export interface CodeCell extends CellBase { cell_type: "code"; outputs: Output[]; execution_count: number | null }
export interface MarkdownCell extends CellBase { cell_type: "markdown" }
export interface RawCell extends CellBase { cell_type: "raw" }
export type Cell = CodeCell | MarkdownCell | RawCell;
export type CellType = Cell["cell_type"];

/** The notebook without its cells: format version, metadata, and any top-level fields we don't know. */
export interface NotebookBase { nbformat: 4; nbformat_minor: number; metadata: JsonObject; [extra: string]: unknown }
export interface Notebook extends NotebookBase { cells: Cell[] }

/** `upgradedFrom`: the file was an older nbformat (3), read as version 4, which its next save writes. */
export type ParseResult = { ok: true; notebook: Notebook; upgradedFrom?: 3 } | { ok: false; problem: string };

/** Validates a notebook (file text or parsed JSON) and normalizes it for editing. Never throws. */
export function parseNotebook(input: string | unknown): ParseResult {
  let json: unknown = input;
  if (typeof input === "string") {
    try {
      json = JSON.parse(input);
    } catch (error) {
      return { ok: false, problem: `The file is not valid JSON (${(error as Error).message}).` };
    }
  }
  const upgradedFrom = isNbformat3(json) ? 3 : undefined;
  if (isNbformat3(json)) json = upgradeNbformat3(json);
  const parsed = notebookSchema.safeParse(json);
  if (!parsed.success) return { ok: false, problem: describeIssue(parsed.error.issues[0]) };
  const nb = parsed.data;
  const seen = new Set<string>();
  const cells = nb.cells.map((cell): Cell => {
    let id = typeof cell.id === "string" ? cell.id : newCellId();
    while (seen.has(id)) id = newCellId(); // duplicate ids are invalid in 4.5; JupyterLab renames them too
    seen.add(id);
    const base = { ...cell, id, source: joinLines(cell.source) };
    if (cell.cell_type !== "code") return base as Cell;
    return { ...base, cell_type: "code", outputs: cell.outputs.map(normalizeOutput), execution_count: cell.execution_count } as CodeCell;
  });
  // Cell ids arrived in 4.5: a file of an older minor version gains them, and says so.
  const minor = Math.max(nb.nbformat_minor, 5);
  return { ok: true, notebook: { ...nb, nbformat: 4, nbformat_minor: minor, cells } as Notebook, ...(upgradedFrom && { upgradedFrom }) };
}

function describeIssue(issue: z.core.$ZodIssue | undefined): string {
  if (!issue) return "The notebook is not valid nbformat 4.";
  const where = issue.path.length ? ` at ${issue.path.join(".")}` : "";
  return `The notebook is not valid nbformat 4${where}: ${issue.message}`;
}

export function normalizeOutput(output: z.infer<typeof outputSchema> | Output): Output {
  switch (output.output_type) {
    case "stream":
      return { ...output, text: joinLines(output.text) } as StreamOutput;
    case "error":
      return output as ErrorOutput;
    default:
      return { ...output, data: normalizeMimeBundle(output.data), metadata: output.metadata ?? {} } as Output;
  }
}

/** Mime values that are lists of lines (text, base64 images) become one string; JSON values stay as they are. */
export function normalizeMimeBundle(data: MimeBundle): MimeBundle {
  const out: MimeBundle = {};
  for (const [mime, value] of Object.entries(data)) {
    out[mime] = Array.isArray(value) && !isJsonMime(mime) && value.every((v) => typeof v === "string") ? value.join("") : value;
  }
  return out;
}

export function isJsonMime(mime: string): boolean {
  return mime === "application/json" || /^application\/.+\+json$/.test(mime);
}

export const joinLines = (value: string | string[]): string => (Array.isArray(value) ? value.join("") : value);

/** "a\nb\n" → ["a\n", "b\n"], as nbformat writes multi-line strings. */
export function splitLines(text: string): string[] {
  const lines: string[] = [];
  let start = 0;
  for (;;) {
    const nl = text.indexOf("\n", start);
    if (nl === -1) break;
    lines.push(text.slice(start, nl + 1));
    start = nl + 1;
  }
  if (start < text.length) lines.push(text.slice(start));
  return lines;
}

/** The file text for a notebook, as Jupyter writes it. Transient fields (display ids) are not saved. */
export function formatNotebook(nb: Notebook): string {
  const cells = nb.cells.map((cell) => {
    const out: JsonObject = { ...cell, source: splitLines(cell.source) };
    if (cell.cell_type === "code") out.outputs = (cell as CodeCell).outputs.map(outputForFile);
    return out;
  });
  return JSON.stringify(sortKeys({ ...nb, cells }), null, 1) + "\n";
}

export function outputForFile(output: Output): JsonObject {
  const { transient: _transient, ...rest } = output as Output & { transient?: unknown };
  if (rest.output_type === "stream") return { ...rest, text: splitLines(rest.text as string) };
  if (rest.output_type === "error") return rest;
  const data: MimeBundle = {};
  for (const [mime, value] of Object.entries(rest.data as MimeBundle)) {
    data[mime] = typeof value === "string" && splitsInFile(mime) ? splitLines(value) : value;
  }
  return { ...rest, data, metadata: rest.metadata ?? {} };
}

/** nbformat writes text mimes (and JavaScript, SVG) as lists of lines; images and JSON stay as they are. */
const splitsInFile = (mime: string) => mime.startsWith("text/") || mime === "application/javascript" || mime === "image/svg+xml";

function sortKeys(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(sortKeys);
  if (value && typeof value === "object") {
    const out: JsonObject = {};
    for (const key of Object.keys(value).sort()) out[key] = sortKeys((value as JsonObject)[key]);
    return out;
  }
  return value;
}

/** A cell id as JupyterLab makes them: a uuid without dashes would do, but short random ids read better. */
export function newCellId(): string {
  const bytes = new Uint8Array(8);
  globalThis.crypto.getRandomValues(bytes);
  return Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("");
}

/** A notebook's metadata.kernelspec: which kernel it runs on, as Jupyter records it. */
export type NotebookKernelspec = { name: string; display_name: string; language?: string };

/** A new notebook (nbformat 4.5) with one empty code cell, recording its kernelspec when one is given. */
export function emptyNotebook(kernelspec?: NotebookKernelspec): Notebook {
  return {
    nbformat: 4,
    nbformat_minor: 5,
    metadata: {
      ...(kernelspec ? { kernelspec: { name: kernelspec.name, display_name: kernelspec.display_name, language: kernelspec.language ?? "python" } } : {}),
      language_info: { name: "python" },
    },
    cells: [{ cell_type: "code", id: newCellId(), source: "", metadata: {}, outputs: [], execution_count: null }],
  };
}
