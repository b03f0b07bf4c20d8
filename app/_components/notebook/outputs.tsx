"use client";
// A code cell's outputs: streams and tracebacks with ANSI colours, rich mime bundles (HTML in a sandboxed
// iframe, images, sanitized SVG, markdown and LaTeX through KaTeX, JSON), input() prompts, and long text
// clipped with a way to show all of it.
import { Anchor, Button, Group, PasswordInput, Text, TextInput, useComputedColorScheme } from "@mantine/core";
import { memo, useEffect, useLayoutEffect, useMemo, useRef, useState, type CSSProperties } from "react";
import { isJsonMime, type MimeBundle } from "@/server/notebooks/nbformat";
import type { LiveOutput } from "@/server/notebooks/outputs";
import { ansiStyleAfter, hasAnsi, parseAnsi, type AnsiStyle } from "./ansi";
import { renderMarkdown, renderMath, sanitizeSvg } from "./markdown";
import type { CellModel } from "./model";
import classes from "./notebook.module.css";
import { chunkLines, clipTail, DROP_LINES, SHOWN_CHARS, SHOWN_LINES } from "./text-clip";

/** The whole recorded output of a run, beyond what the server keeps in the notebook (server/kernels/full-output.ts). */
const fullOutputUrl = (msgId: string) => `/api/runs/${encodeURIComponent(msgId)}/output`;

export function OutputArea({ cell, index }: { cell: CellModel; index: number }) {
  const empty = cell.outputs.length === 0 && !cell.stdin && !cell.clippedRun;
  return (
    <div role="region" aria-label={`Output ${index}`} className={empty ? classes.outputsEmpty : classes.outputs} aria-live="off">
      {cell.clippedRun && (
        <Text size="xs" c="dimmed" className={classes.outputNote}>
          This output was too large to show in full; the server kept all of it.{" "}
          <Anchor href={fullOutputUrl(cell.clippedRun)} download size="xs">
            Download the full output
          </Anchor>
        </Text>
      )}
      {cell.outputs.map((output, i) => (
        <div key={i} className={classes.outputRow}>
          <div className={classes.outputPrompt}>{output.output_type === "execute_result" ? `[${output.execution_count ?? " "}]:` : ""}</div>
          <div className={classes.outputBody}>
            <OutputView output={output} />
          </div>
        </div>
      ))}
      {cell.stdin && <StdinBox key={cell.stdin.prompt + cell.id} request={cell.stdin} />}
    </div>
  );
}

const OutputView = memo(function OutputView({ output }: { output: LiveOutput }) {
  switch (output.output_type) {
    case "stream":
      return <LongText text={output.text} className={output.name === "stderr" ? classes.stderr : classes.stream} />;
    case "error":
      return <LongText text={output.traceback.length ? output.traceback.join("\n") : `${output.ename}: ${output.evalue}`} className={classes.errorText} />;
    default:
      return <MimeBundleView data={output.data} metadata={output.metadata} />;
  }
});

// JupyterLab's order of preference, richest first.
const MIME_ORDER = ["text/html", "text/markdown", "text/latex", "image/svg+xml", "image/png", "image/jpeg", "image/gif", "application/json", "text/plain"];

export function pickMime(data: MimeBundle): string | undefined {
  return MIME_ORDER.find((mime) => data[mime] !== undefined) ?? Object.keys(data).find((m) => m.startsWith("text/") || isJsonMime(m));
}

function MimeBundleView({ data, metadata }: { data: MimeBundle; metadata: Record<string, unknown> }) {
  const mime = pickMime(data);
  if (!mime) return <Text size="xs" c="dimmed">No displayable output ({Object.keys(data).join(", ") || "empty"}).</Text>;
  const value = data[mime];
  const text = typeof value === "string" ? value : Array.isArray(value) ? value.join("") : "";
  const meta = (metadata[mime] ?? {}) as { width?: number; height?: number };
  switch (mime) {
    case "text/html":
      return <HtmlFrame html={text} />;
    case "text/markdown":
      return <RenderedHtml html={renderMarkdown(text)} />;
    case "text/latex":
      return <RenderedHtml html={renderLatex(text)} />;
    case "image/svg+xml":
      return <RenderedHtml html={sanitizeSvg(text)} className={classes.svg} />;
    case "image/png":
    case "image/jpeg":
    case "image/gif":
      return <ImageOutput mime={mime} base64={text} width={meta.width} height={meta.height} />;
    case "application/json":
      return <pre className={classes.stream}>{JSON.stringify(value, null, 2)}</pre>;
    default:
      return <LongText text={typeof value === "string" ? value : JSON.stringify(value, null, 2)} className={classes.stream} />;
  }
}

/** An image with its size known before it decodes (from the output's metadata, or the PNG/JPEG header), so
 * decoding never moves the page; decoded off the main thread. (Not loading="lazy": data: URLs cost no
 * request, and lazy images below the fold never finish loading, which the bench's "all images decoded" waits for.) */
function ImageOutput({ mime, base64, width, height }: { mime: string; base64: string; width?: number; height?: number }) {
  const src = useMemo(() => `data:${mime};base64,${base64.replace(/\s/g, "")}`, [mime, base64]);
  const size = useMemo(() => {
    if (width && height) return { width, height };
    const header = imageSizeOf(base64, mime);
    if (!header) return null;
    if (width) return { width, height: Math.round((header.height * width) / header.width) };
    if (height) return { width: Math.round((header.width * height) / header.height), height };
    return header;
  }, [base64, mime, width, height]);
  // eslint-disable-next-line @next/next/no-img-element
  return <img className={classes.image} alt="Output image" src={src} width={size?.width ?? width} height={size?.height ?? height} decoding="async" />;
}

function decodeBase64(base64: string, chars: number): Uint8Array | null {
  let head = base64.slice(0, chars + 64).replace(/\s/g, "").slice(0, chars);
  head = head.slice(0, head.length - (head.length % 4));
  try {
    const bin = atob(head);
    const bytes = new Uint8Array(bin.length);
    for (let i = 0; i < bin.length; i++) bytes[i] = bin.charCodeAt(i);
    return bytes;
  } catch {
    return null;
  }
}

/** Pixel size from a base64 PNG's IHDR or a JPEG's SOF marker (null when it can't be read). */
export function imageSizeOf(value: unknown, mime: string): { width: number; height: number } | null {
  const base64 = typeof value === "string" ? value : Array.isArray(value) ? value.join("") : "";
  if (!base64) return null;
  if (mime === "image/png") {
    const b = decodeBase64(base64, 32);
    if (!b || b.length < 24 || b[0] !== 0x89 || b[1] !== 0x50) return null;
    const view = new DataView(b.buffer);
    const width = view.getUint32(16);
    const height = view.getUint32(20);
    return width && height ? { width, height } : null;
  }
  if (mime === "image/jpeg") {
    const b = decodeBase64(base64, 65_536);
    if (!b || b[0] !== 0xff || b[1] !== 0xd8) return null;
    const view = new DataView(b.buffer);
    let i = 2;
    while (i + 9 < b.length) {
      if (view.getUint8(i) !== 0xff) return null;
      const marker = view.getUint8(i + 1);
      const length = view.getUint16(i + 2);
      if (marker >= 0xc0 && marker <= 0xcf && marker !== 0xc4 && marker !== 0xc8 && marker !== 0xcc) {
        const height = view.getUint16(i + 5);
        const width = view.getUint16(i + 7);
        return width && height ? { width, height } : null;
      }
      i += 2 + length;
    }
  }
  return null;
}

function renderLatex(text: string): string {
  const trimmed = text.trim();
  const inner = /^\$\$([\s\S]*)\$\$$/.exec(trimmed)?.[1] ?? /^\$([\s\S]*)\$$/.exec(trimmed)?.[1];
  if (inner !== undefined) return renderMath(inner, true);
  return renderMarkdown(text);
}

function RenderedHtml({ html, className }: { html: string; className?: string }) {
  return <div className={className ?? classes.markdown} dangerouslySetInnerHTML={{ __html: html }} />;
}

/**
 * Text with ANSI colours, showing only the last lines of very long text until asked for all. Text of more than
 * SCROLL_LINES lines scrolls in a box of bounded height that follows new output while it is scrolled to the
 * end (Jupyter's "scrolled" outputs), so a long stream never pushes the cells below it down the page; "Full
 * height" lifts the bound. The lines are rendered in blocks (chunkLines), each memoized and skipped by layout
 * and paint while off screen, and the oldest lines are dropped 1,000 at a time (clipTail's step): a stream
 * adds lines at the end and the box scrolls, so each update lays out and paints the new lines, not all of them.
 */
function LongText({ text, className }: { text: string; className?: string }) {
  const [all, setAll] = useState(false);
  const [fullHeight, setFullHeight] = useState(false);
  const clipped = useMemo(() => (all ? { shown: text, hiddenLines: 0, hiddenChars: 0 } : clipTail(text, SHOWN_LINES, SHOWN_CHARS, DROP_LINES)), [text, all]);
  const shown = clipped.shown.endsWith("\r") ? clipped.shown.slice(0, -1) : clipped.shown;
  const blocks = useMemo(() => {
    const chunks = chunkLines(shown, clipped.hiddenLines);
    if (!hasAnsi(shown)) return chunks.map((chunk) => ({ ...chunk, style: NO_STYLE }));
    // a colour set in one block goes on in the next
    let style: AnsiStyle = NO_STYLE;
    return chunks.map((chunk) => {
      const start = style;
      style = ansiStyleAfter(chunk.text, start);
      return { ...chunk, style: start };
    });
  }, [shown, clipped.hiddenLines]);
  const long = useMemo(() => hasMoreLines(shown, SCROLL_LINES), [shown]);
  const scrolled = long && !fullHeight;
  const box = useRef<HTMLPreElement>(null);
  const atEnd = useRef(true);
  useLayoutEffect(() => {
    const el = box.current;
    if (scrolled && el && atEnd.current) el.scrollTop = el.scrollHeight;
  }, [shown, scrolled]);
  return (
    <>
      {(clipped.hiddenChars > 0 || long) && (
        <Group gap="xs" className={classes.clipNote}>
          {clipped.hiddenChars > 0 && (
            <>
              <Text size="xs" c="dimmed">
                {clipped.hiddenLines > 0 ? `${clipped.hiddenLines.toLocaleString()} earlier lines hidden` : `${clipped.hiddenChars.toLocaleString()} earlier characters hidden`}
              </Text>
              <Button size="compact-xs" variant="subtle" onClick={() => setAll(true)}>
                Show all
              </Button>
            </>
          )}
          {long && (
            <Button size="compact-xs" variant="subtle" color="gray" onClick={() => setFullHeight((f) => !f)}>
              {fullHeight ? "Scroll" : "Full height"}
            </Button>
          )}
        </Group>
      )}
      <pre
        ref={box}
        className={scrolled ? `${className} ${classes.scrolled}` : className}
        onScroll={(event) => {
          const el = event.currentTarget;
          atEnd.current = el.scrollTop + el.clientHeight >= el.scrollHeight - 4;
        }}
      >
        {blocks.map((block) => (
          <TextBlock key={block.key} text={block.text} start={block.style} />
        ))}
      </pre>
    </>
  );
}

/** Text longer than this scrolls in a box (Jupyter's classic notebook did the same above 100 lines). */
const SCROLL_LINES = 100;

function hasMoreLines(text: string, lines: number): boolean {
  let n = 1;
  for (let i = text.indexOf("\n"); i !== -1 && i < text.length - 1; i = text.indexOf("\n", i + 1)) if (++n > lines) return true;
  return false;
}

const NO_STYLE: AnsiStyle = {};
const LINE_PX = 17.5; // .stream's line height (12.5px × 1.4)

const TextBlock = memo(
  function TextBlock({ text, start }: { text: string; start: AnsiStyle }) {
    const lines = useMemo(() => {
      let n = 1;
      for (let i = text.indexOf("\n"); i !== -1 && i < text.length - 1; i = text.indexOf("\n", i + 1)) n++;
      return n;
    }, [text]);
    return (
      <span className={classes.textBlock} style={{ containIntrinsicSize: `auto ${Math.round(lines * LINE_PX)}px` }}>
        <AnsiText text={text} start={start} />
      </span>
    );
  },
  (a, b) => a.text === b.text && (a.start === b.start || JSON.stringify(a.start) === JSON.stringify(b.start)),
);

function AnsiText({ text, start = NO_STYLE }: { text: string; start?: AnsiStyle }) {
  if (!hasAnsi(text) && Object.keys(start).length === 0) return <>{text}</>;
  return (
    <>
      {parseAnsi(text, start).map((segment, i) =>
        Object.keys(segment.style).length === 0 ? <span key={i}>{segment.text}</span> : <span key={i} style={styleOf(segment.style)}>{segment.text}</span>,
      )}
    </>
  );
}

function styleOf(style: AnsiStyle): CSSProperties {
  const fg = style.inverse ? style.bg ?? "var(--mantine-color-body)" : style.fg;
  const bg = style.inverse ? style.fg ?? "var(--mantine-color-text)" : style.bg;
  return {
    color: fg,
    backgroundColor: bg,
    fontWeight: style.bold ? 700 : undefined,
    opacity: style.dim ? 0.7 : undefined,
    fontStyle: style.italic ? "italic" : undefined,
    textDecoration: style.underline ? "underline" : undefined,
  };
}

// --- HTML outputs: a sandboxed iframe without allow-same-origin, so the notebook's HTML and scripts run in
// an opaque origin: no portal cookies, no portal storage, no same-origin calls to the portal's APIs. The
// frame reports its height by postMessage so it sizes to its content. Its links open in a new tab (base
// target _blank with allow-popups; the tab leaves the sandbox, as any link the user follows): the Spark UI link
// in a SparkSession's output works.
const FRAME_SCRIPT = `<script>(function(){var last=0;function send(){var h=Math.ceil(document.documentElement.getBoundingClientRect().height);if(h!==last){last=h;parent.postMessage({atriumFrameHeight:h},"*");}}new ResizeObserver(send).observe(document.documentElement);window.addEventListener("load",send);send();})();</script>`;
// The frame's text takes the portal's theme, not the system's. Its color scheme stays light, as the iframe element's
// (notebook.module.css): Chromium paints a frame whose scheme differs from its element's on an opaque canvas (QA: a
// white band across a dark notebook, and a black one with both dark).
const frameStyle = (scheme: "light" | "dark") =>
  `<style>html,body{margin:0;padding:0;background:transparent}body{font:13px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;color:${scheme === "dark" ? "#d0d4da" : "#1f2328"};overflow-x:auto}table{border-collapse:collapse;font-size:12px}th,td{padding:3px 8px;border-bottom:1px solid ${scheme === "dark" ? "#3d444d" : "#d0d7de"};text-align:right}th{font-weight:600}tbody tr:nth-child(odd){background:rgba(127,127,127,.06)}a{color:${scheme === "dark" ? "#79c0ff" : "#0969da"}}</style>`;

function HtmlFrame({ html }: { html: string }) {
  const scheme = useComputedColorScheme("light");
  const frame = useRef<HTMLIFrameElement>(null);
  const [height, setHeight] = useState(24);
  useEffect(() => {
    const onMessage = (event: MessageEvent) => {
      if (event.source !== frame.current?.contentWindow) return;
      const h = (event.data as { atriumFrameHeight?: unknown } | null)?.atriumFrameHeight;
      if (typeof h === "number" && Number.isFinite(h)) setHeight(Math.min(Math.max(h, 8), 5000));
    };
    window.addEventListener("message", onMessage);
    return () => window.removeEventListener("message", onMessage);
  }, []);
  const doc = `<!doctype html><html><head><meta charset="utf-8"><base target="_blank">${frameStyle(scheme)}</head><body>${html}${FRAME_SCRIPT}</body></html>`;
  return <iframe ref={frame} title="HTML output" className={classes.htmlFrame} sandbox="allow-scripts allow-popups allow-popups-to-escape-sandbox" srcDoc={doc} style={{ height }} />;
}

function StdinBox({ request }: { request: NonNullable<CellModel["stdin"]> }) {
  const [value, setValue] = useState("");
  const input = useRef<HTMLInputElement>(null);
  useEffect(() => input.current?.focus(), []);
  const Field = request.password ? PasswordInput : TextInput;
  return (
    <form
      className={classes.stdin}
      onSubmit={(event) => {
        event.preventDefault();
        // The box goes away: the active cell (or its editor, in edit mode) takes the focus back, so typing and
        // command-mode keys go on where they were.
        const active = document.querySelector<HTMLElement>('[role="region"][data-active="true"]');
        request.reply(value);
        const editor = active?.dataset.mode === "edit" ? active.querySelector<HTMLElement>(".cm-content") : null;
        (editor ?? active)?.focus({ preventScroll: true });
      }}
    >
      <Field
        ref={input}
        size="xs"
        label={request.prompt || "Input"}
        aria-label={`Input requested by the kernel${request.prompt ? `: ${request.prompt}` : ""}`}
        value={value}
        onChange={(e) => setValue(e.currentTarget.value)}
        onKeyDown={(e) => e.stopPropagation()}
        placeholder="Type and press Enter"
        w={360}
      />
    </form>
  );
}
