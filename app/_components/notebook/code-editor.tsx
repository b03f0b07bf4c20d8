"use client";
// One cell's CodeMirror 6 editor. It owns its text (the model is told of each change without re-rendering),
// and binds Jupyter's keys: Shift+Enter / Ctrl+Enter / Alt+Enter run, Esc leaves for command mode, Tab
// completes from the kernel (indents at the start of a line), Shift+Tab inspects the name under the cursor.
import { autocompletion, completionKeymap, completionStatus, startCompletion, type CompletionContext, type CompletionResult } from "@codemirror/autocomplete";
import { defaultKeymap, history, historyKeymap, indentLess, indentMore } from "@codemirror/commands";
import { markdown } from "@codemirror/lang-markdown";
import { python } from "@codemirror/lang-python";
import { bracketMatching, HighlightStyle, indentOnInput, indentUnit, syntaxHighlighting } from "@codemirror/language";
import { Compartment, EditorState, Prec } from "@codemirror/state";
import { drawSelection, EditorView, highlightActiveLine, keymap, lineNumbers as lineNumberGutter, placeholder } from "@codemirror/view";
import { tags as t } from "@lezer/highlight";
import { useEffect, useRef, useState } from "react";

export type RunKind = "run" | "run-next" | "run-insert";

export interface EditorActions {
  run(kind: RunKind): void;
  escape(): void;
  focused(): void;
  changed(text: string): void;
  complete(code: string, pos: number): Promise<{ matches: string[]; start: number; end: number } | null>;
  inspect(code: string, pos: number): void;
  save(): void;
  /** Ctrl+Shift+-: split the cell at the cursor. */
  split(text: string, at: number): void;
}

// Colours come from CSS variables (notebook.module.css), so light and dark themes need no second style.
export const highlight = HighlightStyle.define([
  { tag: [t.keyword, t.controlKeyword, t.definitionKeyword, t.moduleKeyword, t.operatorKeyword], color: "var(--cm-keyword)", fontWeight: "600" },
  { tag: [t.string, t.special(t.string)], color: "var(--cm-string)" },
  { tag: [t.number, t.bool, t.null], color: "var(--cm-number)" },
  { tag: [t.comment, t.lineComment, t.blockComment], color: "var(--cm-comment)", fontStyle: "italic" },
  { tag: [t.function(t.variableName), t.function(t.propertyName), t.definition(t.function(t.variableName))], color: "var(--cm-function)" },
  { tag: [t.className, t.definition(t.className), t.typeName], color: "var(--cm-class)" },
  { tag: [t.self, t.special(t.variableName)], color: "var(--cm-keyword)" },
  { tag: t.operator, color: "var(--cm-operator)" },
  { tag: t.heading, fontWeight: "700", color: "var(--cm-keyword)" },
  { tag: t.emphasis, fontStyle: "italic" },
  { tag: t.strong, fontWeight: "700" },
  { tag: t.link, color: "var(--cm-string)", textDecoration: "underline" },
  { tag: t.monospace, color: "var(--cm-string)" },
]);

const theme = EditorView.theme({
  "&": { fontSize: "13px", backgroundColor: "transparent" },
  "&.cm-focused": { outline: "none" },
  ".cm-content": { fontFamily: "var(--mantine-font-family-monospace)", padding: "6px 0", caretColor: "var(--mantine-color-text)" },
  ".cm-line": { padding: "0 8px" },
  ".cm-scroller": { fontFamily: "var(--mantine-font-family-monospace)", lineHeight: "1.45" },
  ".cm-activeLine": { backgroundColor: "transparent" },
  "&.cm-focused .cm-activeLine": { backgroundColor: "var(--cm-active-line)" },
  ".cm-selectionBackground, &.cm-focused .cm-selectionBackground": { backgroundColor: "var(--cm-selection) !important" },
  ".cm-cursor": { borderLeftColor: "var(--mantine-color-text)" },
  ".cm-placeholder": { color: "var(--mantine-color-dimmed)" },
  ".cm-tooltip": { border: "1px solid var(--mantine-color-default-border)", backgroundColor: "var(--mantine-color-body)" },
  ".cm-tooltip-autocomplete ul li[aria-selected]": { backgroundColor: "var(--mantine-primary-color-light)", color: "var(--mantine-color-text)" },
  // Line numbers (L): the same width and padding as the static code's (notebook.module.css), so nothing moves.
  ".cm-gutters": { backgroundColor: "transparent", border: "none", color: "var(--mantine-color-dimmed)" },
  ".cm-activeLineGutter": { backgroundColor: "transparent" },
  ".cm-lineNumbers .cm-gutterElement": { minWidth: "calc(3ch + 8px)", padding: "0 0 0 8px", textAlign: "right" },
});

interface Props {
  initial: string;
  version: number;
  language: "python" | "markdown" | "text";
  label: string;
  autoFocus: boolean;
  actions: EditorActions;
  onView?: (view: EditorView | null) => void;
  /** Show line numbers (toggled for every cell at once, without rebuilding the editor). */
  lineNumbers?: boolean;
}

export function CodeEditor({ initial, version, language, label, autoFocus, actions, onView, lineNumbers = false }: Props) {
  const host = useRef<HTMLDivElement>(null);
  const actionsRef = useRef(actions);
  actionsRef.current = actions;
  const viewRef = useRef<EditorView | null>(null);
  const [gutter] = useState(() => new Compartment());
  const lineNumbersRef = useRef(lineNumbers);
  lineNumbersRef.current = lineNumbers;

  useEffect(() => {
    const a = () => actionsRef.current;
    const kernelCompletion = async (context: CompletionContext): Promise<CompletionResult | null> => {
      if (!context.explicit) return null;
      const code = context.state.doc.toString();
      const reply = await a().complete(code, context.pos);
      if (!reply || reply.matches.length === 0) return null;
      return { from: reply.start, to: reply.end, options: reply.matches.map((label) => ({ label })), filter: false };
    };
    const runKeys = Prec.highest(
      keymap.of([
        { key: "Shift-Enter", run: () => (a().run("run-next"), true) },
        { key: "Mod-Enter", run: () => (a().run("run"), true) },
        { key: "Alt-Enter", run: () => (a().run("run-insert"), true) },
        // Esc closes an open completion list first (the completion keymap's own Escape), as in Jupyter.
        { key: "Escape", run: (view) => (completionStatus(view.state) !== null ? false : (a().escape(), true)) },
        { key: "Mod-s", run: () => (a().save(), true), preventDefault: true },
        { key: "Mod-Shift--", run: (view) => (a().split(view.state.doc.toString(), view.state.selection.main.head), true), preventDefault: true },
        {
          key: "Tab",
          run: (view) => {
            const { from, empty } = view.state.selection.main;
            const line = view.state.doc.lineAt(from);
            const before = line.text.slice(0, from - line.from);
            if (!empty || language !== "python" || /^\s*$/.test(before)) return indentMore(view);
            return startCompletion(view);
          },
          shift: (view) => {
            const { from, empty } = view.state.selection.main;
            const line = view.state.doc.lineAt(from);
            if (!empty || language !== "python" || /^\s*$/.test(line.text.slice(0, from - line.from))) return indentLess(view);
            a().inspect(view.state.doc.toString(), from);
            return true;
          },
        },
      ]),
    );
    const state = EditorState.create({
      doc: initial,
      extensions: [
        runKeys,
        gutter.of(lineNumbersRef.current ? lineNumberGutter() : []),
        history(),
        drawSelection(),
        highlightActiveLine(),
        indentOnInput(),
        bracketMatching(),
        indentUnit.of("    "),
        EditorState.tabSize.of(4),
        language === "python" ? python() : language === "markdown" ? markdown() : [],
        syntaxHighlighting(highlight),
        autocompletion({ override: [kernelCompletion], activateOnTyping: false, icons: false }),
        keymap.of([...completionKeymap, ...historyKeymap, ...defaultKeymap]),
        EditorView.lineWrapping,
        theme,
        placeholder(language === "markdown" ? "Markdown" : ""),
        EditorView.contentAttributes.of({ "aria-label": label }),
        EditorView.updateListener.of((update) => {
          if (update.docChanged) a().changed(update.state.doc.toString());
          if (update.focusChanged && update.view.hasFocus) a().focused();
        }),
      ],
    });
    const view = new EditorView({ state, parent: host.current! });
    viewRef.current = view;
    onView?.(view);
    if (autoFocus) view.focus();
    return () => {
      viewRef.current = null;
      onView?.(null);
      view.destroy();
    };
    // The editor is rebuilt only when its language changes or the text is replaced from outside.
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, [language, version]);

  useEffect(() => {
    viewRef.current?.dispatch({ effects: gutter.reconfigure(lineNumbers ? lineNumberGutter() : []) });
  }, [lineNumbers, gutter]);

  useEffect(() => {
    // keep the accessible name in step with the cell's position
    host.current?.querySelector(".cm-content")?.setAttribute("aria-label", label);
  }, [label]);

  return <div ref={host} />;
}
