// ANSI SGR escape sequences (colours, bold, underline...) → styled text segments. Tracebacks and coloured logs
// use them; everything else a terminal might do (cursor moves, erase) is dropped, as Jupyter front ends do.
// Pure: the renderer turns segments into <span>s, so nothing here touches HTML and nothing is ever injected.
export interface AnsiStyle {
  fg?: string;
  bg?: string;
  bold?: boolean;
  dim?: boolean;
  italic?: boolean;
  underline?: boolean;
  inverse?: boolean;
}

export interface AnsiSegment {
  text: string;
  style: AnsiStyle;
}

const NAMES = ["black", "red", "green", "yellow", "blue", "magenta", "cyan", "white"];

/** The CSS colour of palette entry 0–15 (theme variables) or 16–255 (the xterm cube and greys). */
export function paletteColor(index: number): string {
  if (index < 8) return `var(--ansi-${NAMES[index]})`;
  if (index < 16) return `var(--ansi-bright-${NAMES[index - 8]})`;
  if (index < 232) {
    const i = index - 16;
    const level = (v: number) => (v === 0 ? 0 : 55 + v * 40);
    return `rgb(${level(Math.floor(i / 36))}, ${level(Math.floor(i / 6) % 6)}, ${level(i % 6)})`;
  }
  const grey = 8 + (index - 232) * 10;
  return `rgb(${grey}, ${grey}, ${grey})`;
}

// ESC [ params letter (CSI), and the other escape forms we skip (OSC ... BEL/ST, two-character escapes).
const ESCAPE = /\x1b\[([0-9;:?]*)([@-~])|\x1b\][^\x07\x1b]*(?:\x07|\x1b\\)|\x1b[@-_]/g;

export function hasAnsi(text: string): boolean {
  return text.includes("\x1b");
}

/** Styled segments of `text`; `initial` is the style in force where it starts (a later piece of a longer text). */
export function parseAnsi(text: string, initial: AnsiStyle = {}): AnsiSegment[] {
  const segments: AnsiSegment[] = [];
  let style: AnsiStyle = initial;
  let last = 0;
  const push = (chunk: string) => {
    if (!chunk) return;
    const previous = segments[segments.length - 1];
    if (previous && previous.style === style) previous.text += chunk;
    else segments.push({ text: chunk, style });
  };
  for (const match of text.matchAll(ESCAPE)) {
    push(text.slice(last, match.index));
    last = match.index + match[0].length;
    if (match[2] === "m") style = applySgr(style, match[1] ?? "");
  }
  push(text.slice(last));
  return segments;
}

/** The style in force at the end of `text` when `initial` was in force at its start. */
export function ansiStyleAfter(text: string, initial: AnsiStyle = {}): AnsiStyle {
  let style = initial;
  for (const match of text.matchAll(ESCAPE)) if (match[2] === "m") style = applySgr(style, match[1] ?? "");
  return style;
}

function applySgr(current: AnsiStyle, params: string): AnsiStyle {
  const codes = params === "" ? [0] : params.split(/[;:]/).map((p) => (p === "" ? 0 : Number(p)));
  let style = { ...current };
  for (let i = 0; i < codes.length; i++) {
    const code = codes[i]!;
    if (code === 0) style = {};
    else if (code === 1) style.bold = true;
    else if (code === 2) style.dim = true;
    else if (code === 3) style.italic = true;
    else if (code === 4) style.underline = true;
    else if (code === 7) style.inverse = true;
    else if (code === 22) (style.bold = false), (style.dim = false);
    else if (code === 23) style.italic = false;
    else if (code === 24) style.underline = false;
    else if (code === 27) style.inverse = false;
    else if (code >= 30 && code <= 37) style.fg = paletteColor(code - 30);
    else if (code === 39) delete style.fg;
    else if (code >= 40 && code <= 47) style.bg = paletteColor(code - 40);
    else if (code === 49) delete style.bg;
    else if (code >= 90 && code <= 97) style.fg = paletteColor(code - 90 + 8);
    else if (code >= 100 && code <= 107) style.bg = paletteColor(code - 100 + 8);
    else if (code === 38 || code === 48) {
      const key = code === 38 ? "fg" : "bg";
      if (codes[i + 1] === 5 && codes[i + 2] !== undefined) {
        style[key] = paletteColor(clamp(codes[i + 2]!));
        i += 2;
      } else if (codes[i + 1] === 2 && codes[i + 4] !== undefined) {
        style[key] = `rgb(${clamp(codes[i + 2]!)}, ${clamp(codes[i + 3]!)}, ${clamp(codes[i + 4]!)})`;
        i += 4;
      }
    }
  }
  return style;
}

const clamp = (n: number) => Math.max(0, Math.min(255, Math.floor(n) || 0));

/** The text with every escape sequence removed (for copying, searching, and plain renderings). */
export function stripAnsi(text: string): string {
  return text.replace(ESCAPE, "");
}
