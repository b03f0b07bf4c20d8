// nbformat 3 → 4, as Jupyter upgrades an old notebook when it opens one: the worksheets' cells in order, code
// cells' `input` and `prompt_number` as `source` and `execution_count`, heading cells as Markdown headings, and
// outputs renamed (pyout → execute_result, pyerr → error, a stream's `stream` → `name`) with their short mime keys
// (png, html, ...) as mime types. What it does not know it keeps, for the nbformat 4 schema to judge. Pure.
import type { JsonObject } from "./nbformat";

type Json = JsonObject;

/** v3 output keys that hold data, and the mime type each becomes. */
const V3_MIME_KEYS: Record<string, string> = {
  text: "text/plain",
  html: "text/html",
  svg: "image/svg+xml",
  png: "image/png",
  jpeg: "image/jpeg",
  latex: "text/latex",
  json: "application/json",
  javascript: "application/javascript",
  pdf: "application/pdf",
  markdown: "text/markdown",
};

const isObject = (value: unknown): value is Json => typeof value === "object" && value !== null && !Array.isArray(value);

/** Whether this parsed JSON is a version 3 notebook (the only older version still met in practice). */
export function isNbformat3(json: unknown): json is Json {
  return isObject(json) && json.nbformat === 3 && Array.isArray(json.worksheets);
}

/** The nbformat 4.0 notebook of a version 3 one. */
export function upgradeNbformat3(nb: Json): Json {
  const { worksheets, nbformat: _v, nbformat_minor: _m, metadata, ...rest } = nb;
  const sheets = Array.isArray(worksheets) ? worksheets.filter(isObject) : [];
  const cells = sheets.flatMap((sheet) => (Array.isArray(sheet.cells) ? sheet.cells.filter(isObject).map(upgradeCell) : []));
  // v3's notebook name lived in its metadata; v4 takes the name from the file.
  const { name: _name, signature: _signature, ...kept } = isObject(metadata) ? metadata : {};
  return { ...rest, metadata: kept, nbformat: 4, nbformat_minor: 0, cells };
}

function upgradeCell(cell: Json): Json {
  const metadata = isObject(cell.metadata) ? { ...cell.metadata } : {};
  switch (cell.cell_type) {
    case "code": {
      const { input, prompt_number, language: _language, collapsed, outputs, ...rest } = cell;
      if (typeof collapsed === "boolean") metadata.collapsed = collapsed;
      return {
        ...rest,
        cell_type: "code",
        metadata,
        source: input ?? "",
        execution_count: typeof prompt_number === "number" ? prompt_number : null,
        outputs: Array.isArray(outputs) ? outputs.filter(isObject).map(upgradeOutput) : [],
      };
    }
    case "heading": {
      // A heading cell becomes Markdown: "#" per level, on one line.
      const level = typeof cell.level === "number" && cell.level >= 1 ? Math.min(6, Math.floor(cell.level)) : 1;
      const text = (Array.isArray(cell.source) ? cell.source.join("") : String(cell.source ?? "")).split("\n").join(" ").trim();
      return { cell_type: "markdown", metadata, source: `${"#".repeat(level)} ${text}` };
    }
    default:
      return { ...cell, metadata, source: cell.source ?? "" };
  }
}

function upgradeOutput(output: Json): Json {
  switch (output.output_type) {
    case "pyout": {
      const { data, metadata } = mimeBundleOf(output);
      return { output_type: "execute_result", execution_count: typeof output.prompt_number === "number" ? output.prompt_number : null, data, metadata };
    }
    case "display_data":
      return { output_type: "display_data", ...mimeBundleOf(output) };
    case "pyerr":
      return { output_type: "error", ename: output.ename ?? "", evalue: output.evalue ?? "", traceback: Array.isArray(output.traceback) ? output.traceback : [] };
    case "stream":
      return { output_type: "stream", name: output.stream ?? output.name ?? "stdout", text: output.text ?? "" };
    default:
      return output;
  }
}

/** The v3 output's data keys as a v4 mime bundle; a key that already is a mime type is kept as it is. */
function mimeBundleOf(output: Json): { data: Json; metadata: Json } {
  const data: Json = {};
  for (const [key, value] of Object.entries(output)) {
    const mime = V3_MIME_KEYS[key] ?? (key.includes("/") ? key : undefined);
    if (mime) data[mime] = value;
  }
  const metadata: Json = {};
  // v3 kept per-mime metadata under the short key (e.g. metadata.png.width).
  if (isObject(output.metadata)) for (const [key, value] of Object.entries(output.metadata)) metadata[V3_MIME_KEYS[key] ?? key] = value;
  return { data, metadata };
}
