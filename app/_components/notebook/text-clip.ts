// Long text shown in pieces: a stream of 100,000 lines renders its last lines (and says how many are hidden)
// until the user asks for all of it. Pure; measured from the end so the cost doesn't grow with the stream.
export const SHOWN_LINES = 1_000;
export const SHOWN_CHARS = 200_000;
/** Streams drop their oldest shown lines this many at a time (see clipTail). */
export const DROP_LINES = 1_000;
/** Lines per block of rendered text: new output re-lays out the last block, not all the lines shown. */
export const CHUNK_LINES = 50;

export interface ClippedText {
  shown: string;
  hiddenLines: number;
  hiddenChars: number;
}

/**
 * The tail of `text`: its last `maxLines` lines (at most `maxChars` characters). With `step`, the number of
 * hidden lines is rounded down to a multiple of it, so a growing stream shows between maxLines and
 * maxLines + step − 1 lines and drops its oldest lines `step` at a time: between drops, new output only adds
 * lines at the end and what is already on screen stays where it is (nothing to lay out or paint again).
 */
export function clipTail(text: string, maxLines = SHOWN_LINES, maxChars = SHOWN_CHARS, step = 1): ClippedText {
  if (text.length <= maxChars && text.length < maxLines * 2) return { shown: text, hiddenLines: 0, hiddenChars: 0 };
  let pos = text.endsWith("\n") ? text.length - 1 : text.length;
  let lines = 0;
  while (lines < maxLines) {
    const nl = text.lastIndexOf("\n", pos - 1);
    if (nl === -1) {
      pos = 0;
      break;
    }
    pos = nl;
    lines++;
  }
  let start = pos === 0 ? 0 : pos + 1;
  if (step > 1 && start > 0) {
    for (let back = countLines(text, start) % step; back > 0 && start > 0; back--) start = text.lastIndexOf("\n", start - 2) + 1;
  }
  if (text.length - start > maxChars) start = text.length - maxChars;
  if (start === 0) return { shown: text, hiddenLines: 0, hiddenChars: 0 };
  return { shown: text.slice(start), hiddenLines: countLines(text, start), hiddenChars: start };
}

function countLines(text: string, end: number): number {
  let count = 0;
  for (let i = text.indexOf("\n"); i !== -1 && i < end; i = text.indexOf("\n", i + 1)) count++;
  return count;
}

export interface TextChunk {
  /** Which block of the whole text (line / CHUNK_LINES): the same lines keep the same key as more arrive. */
  key: number;
  text: string;
}

/**
 * Splits `text`, whose first line is line `firstLine` of the whole output, into blocks of `chunkLines` lines
 * aligned on multiples of `chunkLines` of the whole output. As a stream grows (and the shown tail slides), the
 * blocks in the middle keep their key and text, so only the first and last blocks change. Each block but the
 * last ends with its "\n"; joined, the blocks are `text`.
 */
export function chunkLines(text: string, firstLine = 0, chunkLines = CHUNK_LINES): TextChunk[] {
  const chunks: TextChunk[] = [];
  let pos = 0;
  let line = firstLine;
  while (pos < text.length) {
    const key = Math.floor(line / chunkLines);
    const lines = (key + 1) * chunkLines - line;
    let end = pos;
    for (let n = 0; n < lines && end < text.length; n++) {
      const nl = text.indexOf("\n", end);
      end = nl === -1 ? text.length : nl + 1;
    }
    chunks.push({ key, text: text.slice(pos, end) });
    line += lines;
    pos = end;
  }
  return chunks;
}
