// Markdown (cells and text/markdown outputs) → sanitized HTML, with $…$ / $$…$$ math set by KaTeX, and fenced
// Python coloured like a code cell (code-html.ts).
// Math is cut out before marked sees it (so `_` and `*` inside formulas are not emphasis), the HTML is
// sanitized with DOMPurify, and KaTeX's own output (trusted, no scripts) is put back last.
// Browser only: DOMPurify needs a DOM. Touch when adding markdown extensions.
import DOMPurify from "dompurify";
import katex from "katex";
import { Marked } from "marked";
import { highlight, mountHighlightStyle } from "./code-editor";
import { highlightedHtml } from "./code-html";

const marked = new Marked({ gfm: true, breaks: false });
// Fenced Python is coloured as a code cell is (false: marked renders any other block itself, plain).
marked.use({
  renderer: {
    code({ text, lang }) {
      const html = highlightedHtml(text, lang, highlight);
      if (html === null) return false;
      mountHighlightStyle();
      return html;
    },
  },
});

export function renderMath(tex: string, displayMode: boolean): string {
  return katex.renderToString(tex, { displayMode, throwOnError: false, output: "htmlAndMathml" });
}

/** Math spans in markdown: $$…$$, \[…\], $…$ (not money like "$5 and $6"), \(…\). Code spans are left alone. */
const MATH = /(`+)[\s\S]*?\1|\$\$([\s\S]+?)\$\$|\\\[([\s\S]+?)\\\]|(?<![\\$\w])\$(?!\s)((?:\\.|[^$\n\\])+?)(?<!\s)\$(?!\w)|\\\(([\s\S]+?)\\\)/g;

// A link in a rendered cell opens beside the notebook, never in its place (JupyterLab does the same); an anchor
// within the page (#...) stays.
DOMPurify.addHook("afterSanitizeAttributes", (node) => {
  if (node.tagName !== "A" || !node.hasAttribute("href") || node.getAttribute("href")!.startsWith("#")) return;
  node.setAttribute("target", "_blank");
  node.setAttribute("rel", "noopener noreferrer");
});

export function renderMarkdown(source: string): string {
  const math: string[] = [];
  const withoutMath = source.replace(MATH, (whole, ticks, display1, display2, inline1, inline2) => {
    if (ticks) return whole;
    const display = display1 ?? display2;
    const tex = display ?? inline1 ?? inline2;
    math.push(renderMath(tex, display !== undefined));
    return `\uE000MATH${math.length - 1}\uE000`;
  });
  const html = marked.parse(withoutMath, { async: false }) as string;
  const clean = DOMPurify.sanitize(html, { ADD_ATTR: ["target"], FORBID_TAGS: ["style"] });
  return clean.replace(/\uE000MATH(\d+)\uE000/g, (_, i: string) => math[Number(i)] ?? "");
}

export function sanitizeSvg(svg: string): string {
  return DOMPurify.sanitize(svg, { USE_PROFILES: { svg: true, svgFilters: true } });
}
