// Long text shown in pieces: a stream of 100,000 lines renders its last lines (and says how many are hidden)
// until the user asks for all of it. Pure; measured from the end so the cost doesn't grow with the stream.
export const SHOWN_LINES = 1_000;
export const SHOWN_CHARS = 200_000;

export interface ClippedText {
  shown: string;
  hiddenLines: number;
  hiddenChars: number;
}

export function clipTail(text: string, maxLines = SHOWN_LINES, maxChars = SHOWN_CHARS): ClippedText {
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
  if (text.length - start > maxChars) start = text.length - maxChars;
  if (start === 0) return { shown: text, hiddenLines: 0, hiddenChars: 0 };
  return { shown: text.slice(start), hiddenLines: countLines(text, start), hiddenChars: start };
}

function countLines(text: string, end: number): number {
  let count = 0;
  for (let i = text.indexOf("\n"); i !== -1 && i < end; i = text.indexOf("\n", i + 1)) count++;
  return count;
}
