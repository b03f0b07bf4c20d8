"use client";
// A cell's code as static, highlighted, read-only text, laid out like the CodeMirror editor that replaces it
// (same font, size, line height, padding and wrapping), so nothing moves when the editor is built.
import { highlightCode } from "@lezer/highlight";
import { pythonLanguage } from "@codemirror/lang-python";
import { markdownLanguage } from "@codemirror/lang-markdown";
import { memo, useMemo, type ReactNode } from "react";
import { highlight, mountHighlightStyle } from "./code-editor";
import classes from "./notebook.module.css";

interface Props {
  source: string;
  language: "python" | "markdown" | "text";
  label: string;
  onActivate(): void;
  lineNumbers?: boolean;
}

export const StaticCode = memo(function StaticCode({ source, language, label, onActivate, lineNumbers = false }: Props) {
  const lines = useMemo(() => {
    mountHighlightStyle();
    const out: ReactNode[][] = [];
    let current: ReactNode[] = [];
    out.push(current);
    const newLine = () => out.push((current = []));
    const parser = language === "python" ? pythonLanguage.parser : language === "markdown" ? markdownLanguage.parser : null;
    if (!parser || source.length > 20_000) {
      source.split("\n").forEach((line, i) => {
        if (i > 0) newLine();
        if (line) current.push(line);
      });
      return out;
    }
    let key = 0;
    highlightCode(
      source,
      parser.parse(source),
      highlight,
      (text, cls) => current.push(cls ? <span key={key++} className={cls}>{text}</span> : text),
      newLine,
    );
    return out;
  }, [source, language]);

  return (
    <div
      className={classes.staticCode}
      data-line-numbers={lineNumbers || undefined}
      role="textbox"
      aria-label={label}
      aria-multiline="true"
      aria-readonly="true"
      tabIndex={0}
      onMouseDown={(event) => {
        // The editor replaces this element and takes the focus itself; don't let the press move it elsewhere.
        event.preventDefault();
        onActivate();
      }}
      onFocus={onActivate}
    >
      {lines.map((parts, i) => (
        <div key={i} className={classes.staticLine}>
          {parts.length ? parts : <br />}
        </div>
      ))}
    </div>
  );
});
