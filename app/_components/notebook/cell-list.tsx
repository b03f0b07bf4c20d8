"use client";
// The notebook's cells, in order. In a big notebook the cells beyond the first screens start as placeholders
// of about their height and are rendered a few at a time (deferred-cells.ts); the active cell is rendered at
// once wherever it is, so keyboard moves and new cells never wait.
import { memo, useCallback, useLayoutEffect, useRef, useState, useSyncExternalStore } from "react";
import { CellView, estimateHeight } from "./cell";
import type { RunKind } from "./code-editor";
import { DeferredCells } from "./deferred-cells";
import type { KernelSession } from "./kernel-session";
import type { NotebookModel } from "./model";
import classes from "./notebook.module.css";

interface Props {
  model: NotebookModel;
  session: KernelSession;
  onRun(id: string, kind: RunKind): void;
  onSave(): void;
}

export function CellList({ model, session, onRun, onSave }: Props) {
  const ids = useSyncExternalStore(model.subscribeStructure, () => model.ids, () => model.ids);
  const [deferred] = useState(
    () =>
      new DeferredCells(
        model.ids,
        (id) => estimateHeight(model.cell(id)!),
        typeof window === "undefined" ? 900 : window.innerHeight,
        () => model.ids,
      ),
  );
  return (
    <>
      {ids.map((id, i) => (
        <CellSlot key={id} id={id} index={i + 1} model={model} session={session} onRun={onRun} onSave={onSave} deferred={deferred} />
      ))}
    </>
  );
}

const CellSlot = memo(function CellSlot({ deferred, ...props }: Props & { id: string; index: number; deferred: DeferredCells }) {
  const [ready, setReady] = useState(() => !deferred.isDeferred(props.id));
  const wake = useCallback(() => setReady(true), []);
  if (ready) return <CellView {...props} />;
  return <CellPlaceholder id={props.id} model={props.model} deferred={deferred} wake={wake} />;
});

function CellPlaceholder({ id, model, deferred, wake }: { id: string; model: NotebookModel; deferred: DeferredCells; wake(): void }) {
  const element = useRef<HTMLDivElement>(null);
  const active = useSyncExternalStore(model.subscribeUi, () => model.activeId === id, () => false);
  const [height] = useState(() => estimateHeight(model.cell(id)!));
  useLayoutEffect(() => {
    if (active) {
      deferred.rendered(id);
      wake();
      return;
    }
    return deferred.wait(id, element.current!, wake);
  }, [active, id, deferred, wake]);
  return <div ref={element} className={classes.cellPlaceholder} data-cell-placeholder={id} style={{ height }} />;
}
