"use client";
// One cell: prompt column, editor (or rendered markdown), run timing and outputs. It re-renders
// only for its own changes (per-cell subscription), so a streaming cell never re-renders its neighbours.
import { ActionIcon, Tooltip } from "@mantine/core";
import { IconArrowDown, IconArrowUp, IconTrash } from "@tabler/icons-react";
import type { EditorView } from "@codemirror/view";
import { memo, useCallback, useEffect, useMemo, useRef, useState, useSyncExternalStore, type ReactNode } from "react";
import { CodeEditor, type EditorActions, type RunKind } from "./code-editor";
import { whenNear } from "./lazy-mount";
import type { KernelSession } from "./kernel-session";
import { renderMarkdown } from "./markdown";
import { outputsHidden, type CellModel, type NotebookModel } from "./model";
import classes from "./notebook.module.css";
import { imageSizeOf, OutputArea } from "./outputs";
import { StaticCode } from "./static-code";
import { useLineNumbers } from "./view-prefs";

interface Props {
  id: string;
  index: number;
  model: NotebookModel;
  session: KernelSession;
  onRun(id: string, kind: RunKind): void;
  onSave(): void;
}

export const CellView = memo(function CellView({ id, index, model, session, onRun, onSave }: Props) {
  const cell = useSyncExternalStore(
    (cb) => model.subscribeCell(id, cb),
    () => model.cell(id)!,
    () => model.cell(id)!,
  );
  const active = useSyncExternalStore(model.subscribeUi, () => model.activeId === id, () => false);
  const selected = useSyncExternalStore(model.subscribeUi, () => model.isSelected(id) && model.anchorId !== null, () => false);
  const mode = useSyncExternalStore(model.subscribeUi, () => model.mode, () => "command" as const);
  const lineNumbers = useLineNumbers();
  const wrapper = useRef<HTMLDivElement>(null);
  const view = useRef<EditorView | null>(null);
  const pressedAt = useRef(-Infinity);
  const editing = cell.type !== "markdown" || !cell.rendered;
  // The CodeMirror editor is built lazily: when the cell comes near the viewport (a few per frame), or at
  // once when it is clicked, focused or entered. Until then the code is static text that looks the same.
  const [live, setLive] = useState(false);
  const [focusOnBuild, setFocusOnBuild] = useState(false);
  const wantsEditor = live || (active && mode === "edit");
  useEffect(() => {
    if (wantsEditor) {
      if (!live) setLive(true);
      return;
    }
    if (!editing || !wrapper.current) return;
    return whenNear(wrapper.current, () => setLive(true));
  }, [wantsEditor, live, editing]);
  useEffect(() => {
    // the editor (built in this commit, child effects first) has taken the focus; later rebuilds must not
    if (focusOnBuild && live) setFocusOnBuild(false);
  }, [focusOnBuild, live]);
  const activate = useCallback(() => {
    setFocusOnBuild(true);
    setLive(true);
  }, []);

  useEffect(() => {
    if (!active) return;
    const focused = document.activeElement;
    if (mode === "edit") {
      if (view.current && !view.current.hasFocus) view.current.focus();
    } else {
      const inEditor = !!focused?.closest(".cm-editor");
      const elsewhereInside = wrapper.current?.contains(focused) && !inEditor;
      if (!elsewhereInside && focused !== wrapper.current) wrapper.current?.focus({ preventScroll: true });
    }
    // In edit mode too: Shift+Enter on the last cell adds one below and types into it, which must be in sight, not
    // under the footer (QA: the new cell was 600 px below the window). A cell reached from the keyboard (or the toolbar) scrolls fully into view. One the pointer pressed only
    // when it is out of sight: scrolling under a pointer that is pressing a button in the cell would move the
    // button away before the click lands.
    const rect = wrapper.current?.getBoundingClientRect();
    const byPointer = performance.now() - pressedAt.current < 1000;
    const hidden = byPointer ? rect && (rect.bottom < 100 || rect.top > window.innerHeight - 40) : rect && (rect.top < 96 || rect.bottom > window.innerHeight - 40);
    if (hidden) wrapper.current?.scrollIntoView({ block: "nearest" });
  }, [active, mode, editing]);

  // A cell reached from the keyboard to type in stays in sight while the cells above it grow — Shift+Enter runs the
  // cell above, whose output arrives after this one was scrolled to and pushes it under the footer (QA) — until the
  // user scrolls the page themselves or leaves the cell.
  useEffect(() => {
    const element = wrapper.current;
    const cells = element?.parentElement;
    if (!active || mode !== "edit" || !element || !cells || performance.now() - pressedAt.current < 1000) return;
    const observer = new ResizeObserver(() => {
      const rect = element.getBoundingClientRect();
      if (rect.bottom > window.innerHeight - 40 && rect.top > 96) element.scrollIntoView({ block: "nearest" });
    });
    const stop = () => {
      observer.disconnect();
      window.removeEventListener("wheel", stop);
      window.removeEventListener("touchmove", stop);
    };
    observer.observe(cells);
    window.addEventListener("wheel", stop, { passive: true });
    window.addEventListener("touchmove", stop, { passive: true });
    return stop;
  }, [active, mode]);

  const actions: EditorActions = useMemo(
    () => ({
      run: (kind) => onRun(id, kind),
      escape: () => model.setMode("command"),
      focused: () => model.setActive(id, "edit"),
      changed: (text) => model.setSource(id, text),
      complete: (code, pos) => session.complete(code, pos),
      // The editor shows the answer in its tooltip at the cursor (code-editor.tsx).
      inspect: (code, pos) => session.inspect(code, pos),
      save: onSave,
      split: (text, at) => model.splitAt(id, text, at),
    }),
    [id, model, session, onRun, onSave],
  );

  const [estimate] = useState(() => estimateHeight(cell));
  const running = cell.status !== "idle";
  const language = cell.type === "code" ? "python" : cell.type === "markdown" ? "markdown" : "text";
  const label = `Cell ${index} ${cell.type === "code" ? "code" : cell.type}`;
  return (
    <div
      ref={wrapper}
      role="region"
      aria-label={`Cell ${index}`}
      tabIndex={-1}
      className={classes.cell}
      data-active={active}
      data-selected={selected || undefined}
      data-mode={active ? mode : undefined}
      data-cell-id={id}
      style={{ containIntrinsicSize: `auto ${estimate}px` }}
      onPointerDownCapture={() => (pressedAt.current = performance.now())}
      onMouseDownCapture={(event) => {
        // Shift+click selects from the active cell to this one — except in the editor being typed in, where it extends
        // the text selection, and on the cell's own buttons.
        const target = event.target as HTMLElement;
        if (!event.shiftKey || target.closest('[role="toolbar"]')) return;
        if (target.closest(".cm-editor") && model.activeId === id && model.mode === "edit") return;
        event.preventDefault();
        event.stopPropagation();
        model.extendTo(id);
      }}
      onMouseDown={(event) => {
        // A plain click selects this cell alone (and leaves another cell's editor); the cell's own buttons (move,
        // delete) act on the whole selection, so pressing them keeps it.
        if ((event.target as HTMLElement).closest('[role="toolbar"]')) return;
        if (model.activeId !== id || model.anchorId !== null) model.setActive(id, model.mode === "edit" ? "command" : undefined);
      }}
    >
      <div className={classes.prompt} data-running={running} aria-hidden>
        {cell.type === "code" ? (cell.status === "idle" ? `[${cell.executionCount ?? " "}]:` : "[*]:") : ""}
      </div>
      <div>
        {editing ? (
          <div className={classes.editor}>
            {wantsEditor ? (
              <CodeEditor
                initial={cell.source}
                version={cell.sourceVersion}
                language={language}
                label={label}
                autoFocus={(active && mode === "edit") || focusOnBuild}
                actions={actions}
                onView={(v) => (view.current = v)}
                lineNumbers={lineNumbers}
              />
            ) : (
              <StaticCode source={cell.source} language={language} label={label} onActivate={activate} lineNumbers={lineNumbers} />
            )}
          </div>
        ) : (
          <MarkdownView
            source={cell.source}
            onEdit={() => {
              model.update(id, { rendered: false });
              model.setActive(id, "edit");
            }}
          />
        )}
        {cell.type === "code" && <RunNote cell={cell} />}
        {cell.type === "code" &&
          (outputsHidden(cell) ? (
            <button type="button" className={classes.outputsHidden} onClick={() => model.toggleOutputs(id)}>
              Outputs hidden — show them (O)
            </button>
          ) : (
            <OutputArea cell={cell} index={index} />
          ))}
      </div>
      {active && <CellActions model={model} index={index} />}
    </div>
  );
});

/** The active cell's own buttons (move, delete), for the pointer; the keyboard has Ctrl+Shift+↑/↓ and D D. */
function CellActions({ model, index }: { model: NotebookModel; index: number }) {
  const count = useSyncExternalStore(model.subscribeStructure, () => model.ids.length, () => 0);
  const tool = (label: string, hint: string, disabled: boolean, onClick: () => void, icon: ReactNode) => (
    <Tooltip label={`${label} (${hint})`} openDelay={400}>
      <ActionIcon size="sm" variant="subtle" color="gray" aria-label={label} disabled={disabled} onClick={onClick}>
        {icon}
      </ActionIcon>
    </Tooltip>
  );
  return (
    <div className={classes.cellActions} role="toolbar" aria-label={`Cell ${index} actions`}>
      {tool("Move cell up", "Ctrl+Shift+↑", index <= 1, () => model.move(-1), <IconArrowUp size={14} />)}
      {tool("Move cell down", "Ctrl+Shift+↓", index >= count, () => model.move(1), <IconArrowDown size={14} />)}
      {tool("Delete cell", "D D; Z undoes", false, () => model.deleteSelected(), <IconTrash size={14} />)}
    </div>
  );
}

function MarkdownView({ source, onEdit }: { source: string; onEdit(): void }) {
  const html = useMemo(() => (source.trim() ? renderMarkdown(source) : ""), [source]);
  if (!html) {
    return (
      <div className={classes.markdownEmpty} onDoubleClick={onEdit}>
        Empty markdown cell — double-click or press Enter to edit
      </div>
    );
  }
  return <div className={classes.markdown} onDoubleClick={onEdit} dangerouslySetInnerHTML={{ __html: html }} />;
}

/** A rough height for a cell not yet laid out (content-visibility), so the scrollbar is about right. */
export function estimateHeight(cell: CellModel): number {
  const lines = cell.type === "markdown" && cell.rendered ? 2 : countLines(cell.source, 1000);
  let height = 20 + Math.ceil(lines * 13 * 1.45);
  if (cell.type === "code") {
    for (const output of cell.outputs) {
      if (output.output_type === "stream") height += 6 + countLines(output.text, 60) * 17.5;
      else if (output.output_type === "error") height += 6 + Math.min(output.traceback.length * 2, 60) * 17.5;
      else {
        const meta = (output.metadata ?? {}) as Record<string, { height?: number } | undefined>;
        const image = ["image/png", "image/jpeg", "image/gif"].find((m) => output.data[m] !== undefined);
        height += image ? 8 + (meta[image]?.height ?? imageSizeOf(output.data[image], image)?.height ?? 300) : 24;
      }
    }
  }
  return Math.round(height);
}

function countLines(text: string, cap: number): number {
  let n = 1;
  for (let i = text.indexOf("\n"); i >= 0 && n < cap; i = text.indexOf("\n", i + 1)) n++;
  return n;
}

/** "Queued", "Running 12 s", or after a run its duration — quiet, and only for long enough runs. */
function RunNote({ cell }: { cell: CellModel }) {
  const [, tick] = useState(0);
  useEffect(() => {
    if (cell.status !== "running") return;
    const timer = setInterval(() => tick((n) => n + 1), 1000);
    return () => clearInterval(timer);
  }, [cell.status]);
  let text = "";
  if (cell.status === "queued") text = "Queued";
  else if (cell.status === "running") text = `Running ${formatDuration(Date.now() - (cell.startedAt ?? Date.now()))}`;
  else if (cell.lastDurationMs !== null && cell.lastDurationMs >= 1000) text = `Took ${formatDuration(cell.lastDurationMs)}`;
  if (!text) return null;
  return <div className={classes.runNote}>{text}</div>;
}

export function formatDuration(ms: number): string {
  const s = Math.max(0, Math.round(ms / 1000));
  if (s < 60) return `${s} s`;
  const m = Math.floor(s / 60);
  if (m < 60) return `${m} min ${s % 60} s`;
  return `${Math.floor(m / 60)} h ${m % 60} min`;
}
