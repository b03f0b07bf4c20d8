// Fenced code in Markdown (```python), highlighted as a code cell is: the same parser and the same colours, as HTML
// for the Markdown renderer (markdown.ts). Pure; the highlighter names the classes (code-editor.tsx's in the page).
import { pythonLanguage } from "@codemirror/lang-python";
import { highlightCode, type Highlighter } from "@lezer/highlight";

/** Fence languages read as Python (what Jupyter's own Markdown highlights as Python). */
const PYTHON_FENCES = new Set(["python", "py", "python3", "ipython", "ipython3"]);
/** Longer blocks stay plain: highlighting is for reading, not worth a slow cell. */
const MAX_HIGHLIGHTED = 20_000;

const escapeHtml = (text: string) => text.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);

/** The block as `<pre><code>` with coloured spans, or null when its language is not one highlighted here. */
export function highlightedHtml(code: string, language: string | undefined, highlighter: Highlighter): string | null {
  const fence = (language ?? "").trim().split(/\s+/)[0]!.toLowerCase();
  if (!PYTHON_FENCES.has(fence) || code.length > MAX_HIGHLIGHTED) return null;
  let html = "";
  highlightCode(
    code,
    pythonLanguage.parser.parse(code),
    highlighter,
    (text, classes) => (html += classes ? `<span class="${escapeHtml(classes)}">${escapeHtml(text)}</span>` : escapeHtml(text)),
    () => (html += "\n"),
  );
  return `<pre><code class="language-${fence}">${html}</code></pre>\n`;
}
