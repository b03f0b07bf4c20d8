// CSV and TSV as the viewer's table needs them: the first line is the header, then at most `maxRows` rows.
// Quoted fields may hold the delimiter, line breaks and doubled quotes (""), as RFC 4180 writes them; a stray
// quote inside an unquoted field is kept as text, as spreadsheet programs do. Pure; see delimited.test.ts.

export interface DelimitedOptions {
  delimiter: string;
  /** Data rows to return after the header; parsing stops once it has them. */
  maxRows: number;
  /**
   * The text is the start of a longer file: its last row may be cut midway (even inside a quoted field), so a
   * row the text does not finish is left out rather than shown short.
   */
  cut?: boolean;
}

export interface DelimitedTable {
  /** The first row; empty for an empty text. */
  header: string[];
  rows: string[][];
  /** More rows follow in the text than `maxRows`. */
  moreRows: boolean;
  /** The text ended inside a row that the file finishes later (only with `cut`). */
  lastRowCut: boolean;
  /** The widest row's number of fields, header included. */
  columns: number;
}

export function parseDelimited(text: string, options: DelimitedOptions): DelimitedTable {
  const { delimiter, maxRows, cut = false } = options;
  const separator = delimiter.charCodeAt(0);
  const records: string[][] = [];
  let moreRows = false;
  let lastRowCut = false;
  let record: string[] = [];
  let quoted = false; // the record has a quoted field: `""` alone on a line is a row, a blank line is not
  let i = 0;
  const n = text.length;

  // Each pass reads one field and what ends it: the delimiter, a line break, or the end of the text.
  while (i < n) {
    if (records.length > maxRows) {
      // The header and maxRows rows are in: say whether anything but blank lines is left.
      moreRows = text.slice(i).trim() !== "";
      break;
    }
    let field = "";
    if (text.charCodeAt(i) === QUOTE) {
      quoted = true;
      i++;
      for (;;) {
        const quote = text.indexOf('"', i);
        if (quote === -1) {
          // Never closed: the rest of the text is this field (the end of the row, below, decides its fate).
          field += text.slice(i);
          i = n;
          break;
        }
        field += text.slice(i, quote);
        i = quote + 1;
        if (text.charCodeAt(i) !== QUOTE) break;
        field += '"'; // "" is one quote
        i++;
      }
    }
    // Unquoted text, or what follows a closing quote, up to the delimiter or the end of the line.
    let end = i;
    while (end < n) {
      const c = text.charCodeAt(end);
      if (c === separator || c === LF || c === CR) break;
      end++;
    }
    field += text.slice(i, end);
    i = end;
    record.push(field);
    if (i >= n) break;
    const c = text.charCodeAt(i++);
    if (c === separator) {
      if (i === n) record.push(""); // "a,b," then the end: one last, empty field
      continue;
    }
    if (c === CR && text.charCodeAt(i) === LF) i++;
    pushRecord(records, record, quoted);
    record = [];
    quoted = false;
  }
  // A row the text ends without a line break: whole in a whole file, maybe cut short in a prefix of one.
  if (record.length > 0) {
    if (cut) lastRowCut = true;
    else pushRecord(records, record, quoted);
  }

  const [header = [], ...rows] = records;
  const columns = records.reduce((widest, row) => Math.max(widest, row.length), 0);
  return { header, rows, moreRows, lastRowCut, columns };
}

const QUOTE = 0x22;
const LF = 0x0a;
const CR = 0x0d;

/** Blank lines carry no row (a trailing one is common); a line with only delimiters is a row of empty fields. */
function pushRecord(records: string[][], record: string[], quoted: boolean) {
  if (!quoted && record.length === 1 && record[0] === "") return;
  records.push(record);
}
