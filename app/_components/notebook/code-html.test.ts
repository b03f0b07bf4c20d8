// Fenced Python in Markdown cells is highlighted like a code cell, and stays inert text (escaped).
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { classHighlighter } from "@lezer/highlight";
import { highlightedHtml } from "./code-html";

describe("highlightedHtml", () => {
  it("colours Python fences by token, escaping the code", () => {
    const html = highlightedHtml('def f(x):\n    return "<b>" if x else 1\n', "python", classHighlighter)!;
    assert.match(html, /^<pre><code class="language-python">/);
    assert.match(html, /<span class="tok-keyword">def<\/span>/);
    assert.match(html, /<span class="tok-string">&#34;&#60;b&#62;&#34;<\/span>/);
    assert.ok(!html.includes("<b>"), "the code's markup is text, not HTML");
    assert.equal(html.split("\n").length, 4, "lines kept");
  });
  it("leaves other languages, and very long blocks, to the plain renderer", () => {
    assert.equal(highlightedHtml("SELECT 1", "sql", classHighlighter), null);
    assert.equal(highlightedHtml("x = 1", undefined, classHighlighter), null);
    assert.notEqual(highlightedHtml("x = 1", "py title=demo", classHighlighter), null);
    assert.equal(highlightedHtml("x = 1\n".repeat(5000), "python", classHighlighter), null);
  });
});
