"use client";
// One cell's CodeMirror 6 editor. It owns its text (the model is told of each change without re-rendering),
// and binds Jupyter's keys: Shift+Enter / Ctrl+Enter / Alt+Enter run, Esc leaves for command mode, Tab
// completes from the kernel (indents at the start of a line), Shift+Tab inspects the name under the cursor.
// What Tab inserts is decided in completion.ts; the Shift+Tab documentation tooltip lives here, in the editor,
// so Esc, typing and clicks close it the way CodeMirror's own tooltips close.
import {
  autocompletion,
  closeCompletion,
  completionKeymap,
  completionStatus,
  startCompletion,
  type CompletionContext,
  type CompletionResult,
} from "@codemirror/autocomplete";
import { defaultKeymap, history, historyKeymap, indentLess, indentMore } from "@codemirror/commands";
import { markdown } from "@codemirror/lang-markdown";
import { python } from "@codemirror/lang-python";
import { bracketMatching, HighlightStyle, indentOnInput, indentUnit, syntaxHighlighting } from "@codemirror/language";
import { Compartment, EditorState, Prec, StateEffect, StateField, type Extension, type Text } from "@codemirror/state";
import { drawSelection, EditorView, highlightActiveLine, keymap, lineNumbers as lineNumberGutter, placeholder, showTooltip, type Tooltip } from "@codemirror/view";
import { tags as t } from "@lezer/highlight";
import { useEffect, useRef, useState } from "react";
import { documentationText, planCompletion, tabIndents, type CompleteReply } from "./completion";
import classes from "./notebook.module.css";

export type RunKind = "run" | "run-next" | "run-insert";

export interface EditorActions {
  run(kind: RunKind): void;
  escape(): void;
  focused(): void;
  changed(text: string): void;
  complete(code: string, pos: number): Promise<CompleteReply | null>;
  /** Shift+Tab: the kernel's text for the name at `pos` (KernelSession.inspect), shown in a tooltip at the cursor. */
  inspect(code: string, pos: number): Promise<string | null>;
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

/** What every code editor here has (cells, the file editor): undo history, selection, brackets, 4-space indents, colours. */
let highlightMounted = false;
/** The highlight style's classes are in a style module CodeMirror mounts with the first editor; mount it now. */
export function mountHighlightStyle() {
  if (highlightMounted || typeof document === "undefined" || !highlight.module) return;
  highlightMounted = true;
  const StyleModule = highlight.module.constructor as unknown as { mount(root: Document, modules: unknown): void };
  StyleModule.mount(document, highlight.module);
}

export function editingBasics(): Extension {
  return [history(), drawSelection(), highlightActiveLine(), indentOnInput(), bracketMatching(), indentUnit.of("    "), EditorState.tabSize.of(4), syntaxHighlighting(highlight)];
}

/** What the notebook page's sticky bars cover: the header and toolbar above (cell scroll-margin: 96px), the footer below. */
const STICKY_MARGINS = { top: 96, bottom: 40 };

export const editorTheme = EditorView.theme({
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

// --- the Shift+Tab documentation tooltip ---

interface Documentation {
  pos: number;
  /** null: the kernel had none (a quiet hint is shown). */
  text: string | null;
}

const setDocumentation = StateEffect.define<Documentation | null>();

/** The open documentation tooltip; typing or moving the cursor closes it, as in JupyterLab. */
const documentationField = StateField.define<Documentation | null>({
  create: () => null,
  update(open, tr) {
    for (const effect of tr.effects) if (effect.is(setDocumentation)) open = effect.value;
    if (open && (tr.docChanged || (tr.selection && !tr.effects.some((e) => e.is(setDocumentation))))) return null;
    return open;
  },
});

let tooltipIds = 0;

/** Closes the tooltip once focus has left both the editor and the tooltip (a click elsewhere, Tab away). Checked
 * after the event, since focus moves after focusout, so it never dispatches from inside another update. */
function closeWhenFocusLeaves(view: EditorView) {
  setTimeout(() => {
    if (!view.dom.isConnected || !view.state.field(documentationField, false)) return;
    if (!view.dom.contains(document.activeElement)) view.dispatch({ effects: setDocumentation.of(null) });
  });
}

/** The tooltip, its ARIA link from the editor, and its closing on Esc (from within it) or on focus leaving. */
function documentationTooltip() {
  const id = `cm-documentation-${++tooltipIds}`;
  const tooltipOf = (doc: Documentation): Tooltip => ({
    pos: doc.pos,
    above: false,
    create: (view) => {
      const dom = document.createElement("div");
      dom.id = id;
      dom.className = classes.docTooltip!;
      dom.setAttribute("role", "tooltip");
      dom.setAttribute("aria-label", "Documentation");
      // Focusable, so a click in it (to scroll or select) keeps it open, and Esc from it still closes it.
      dom.tabIndex = -1;
      if (doc.text === null) dom.dataset.empty = "";
      dom.textContent = doc.text ?? "No documentation";
      dom.addEventListener("keydown", (event) => {
        if (event.key !== "Escape") return;
        event.preventDefault();
        event.stopPropagation();
        view.focus();
        view.dispatch({ effects: setDocumentation.of(null) });
      });
      dom.addEventListener("focusout", () => closeWhenFocusLeaves(view));
      return { dom };
    },
  });
  return [
    documentationField,
    showTooltip.compute([documentationField], (state) => {
      const doc = state.field(documentationField);
      return doc ? tooltipOf(doc) : null;
    }),
    EditorView.contentAttributes.compute([documentationField], (state): Record<string, string> => (state.field(documentationField) ? { "aria-describedby": id } : {})),
    EditorView.domEventObservers({ focusout: (_event, view) => closeWhenFocusLeaves(view) }),
  ];
}

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
    let alive = true;
    // The list Tab has already fetched (and maybe extended by the common prefix), for the source to show as is.
    let fetched: { doc: Text; pos: number; result: CompletionResult } | null = null;
    const kernelCompletion = async (context: CompletionContext): Promise<CompletionResult | null> => {
      if (!context.explicit) return null;
      const ready = fetched;
      fetched = null;
      if (ready && ready.doc === context.state.doc && ready.pos === context.pos) return ready.result;
      const code = context.state.doc.toString();
      const reply = await a().complete(code, context.pos);
      if (!reply || reply.matches.length === 0) return null;
      return { from: reply.start, to: reply.end, options: reply.matches.map((label) => ({ label })), filter: false };
    };
    /** Tab: ask the kernel; one match goes straight in, several are listed after their common prefix goes in. */
    const completeAtCursor = (view: EditorView) => {
      const doc = view.state.doc;
      const pos = view.state.selection.main.head;
      const code = doc.toString();
      void a()
        .complete(code, pos)
        .then((reply) => {
          // A reply to text that has since changed, or a cursor that has moved, is dropped: typing is never held up.
          if (!alive || view.state.doc !== doc || view.state.selection.main.head !== pos) return;
          const plan = planCompletion(code, reply);
          if (plan.kind === "none") return;
          closeCompletion(view);
          if (plan.kind === "insert") {
            view.dispatch({
              changes: { from: plan.from, to: plan.to, insert: plan.text },
              selection: { anchor: plan.from + plan.text.length },
              userEvent: "input.complete",
              scrollIntoView: true,
            });
            return;
          }
          let to = plan.to;
          if (plan.insert !== null) {
            const shift = plan.insert.length - (plan.to - plan.from);
            view.dispatch({
              changes: { from: plan.from, to: plan.to, insert: plan.insert },
              selection: { anchor: pos + shift },
              userEvent: "input.complete",
              scrollIntoView: true,
            });
            to += shift;
          }
          const result: CompletionResult = { from: plan.from, to, options: plan.options.map((label) => ({ label })), filter: false };
          fetched = { doc: view.state.doc, pos: view.state.selection.main.head, result };
          startCompletion(view);
        });
      return true;
    };
    /** Shift+Tab: the kernel's documentation for the name at the cursor, in a tooltip there. */
    const inspectAtCursor = (view: EditorView) => {
      const doc = view.state.doc;
      const pos = view.state.selection.main.head;
      void a().inspect(doc.toString(), pos).then((text) => {
        if (!alive || view.state.doc !== doc || view.state.selection.main.head !== pos) return;
        view.dispatch({ effects: setDocumentation.of({ pos, text: documentationText(text) }) });
      });
      return true;
    };
    /** Tab and Shift+Tab go to the kernel in a code cell with no selection and something before the cursor. */
    const completes = (view: EditorView) => {
      const { head, empty } = view.state.selection.main;
      const line = view.state.doc.lineAt(head);
      return empty && language === "python" && !tabIndents(line.text.slice(0, head - line.from));
    };
    const runKeys = Prec.highest(
      keymap.of([
        { key: "Shift-Enter", run: () => (a().run("run-next"), true) },
        { key: "Mod-Enter", run: () => (a().run("run"), true) },
        { key: "Alt-Enter", run: () => (a().run("run-insert"), true) },
        // Esc closes the documentation tooltip, or else an open completion list (the completion keymap's own
        // Escape), before it leaves for command mode, as in Jupyter.
        {
          key: "Escape",
          run: (view) => {
            if (view.state.field(documentationField)) return view.dispatch({ effects: setDocumentation.of(null) }), true;
            return completionStatus(view.state) !== null ? false : (a().escape(), true);
          },
        },
        { key: "Mod-s", run: () => (a().save(), true), preventDefault: true },
        { key: "Mod-Shift--", run: (view) => (a().split(view.state.doc.toString(), view.state.selection.main.head), true), preventDefault: true },
        {
          key: "Tab",
          run: (view) => (completes(view) ? completeAtCursor(view) : indentMore(view)),
          shift: (view) => (completes(view) ? inspectAtCursor(view) : indentLess(view)),
        },
      ]),
    );
    const state = EditorState.create({
      doc: initial,
      extensions: [
        runKeys,
        documentationTooltip(),
        gutter.of(lineNumbersRef.current ? lineNumberGutter() : []),
        editingBasics(),
        language === "python" ? python() : language === "markdown" ? markdown() : [],
        autocompletion({ override: [kernelCompletion], activateOnTyping: false, icons: false }),
        keymap.of([...completionKeymap, ...historyKeymap, ...defaultKeymap]),
        EditorView.lineWrapping,
        // The cursor is kept clear of the page's sticky header and toolbar, and of the footer, as it moves.
        EditorView.scrollMargins.of(() => STICKY_MARGINS),
        editorTheme,
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
      alive = false;
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
