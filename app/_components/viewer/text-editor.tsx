"use client";
// A text file edited in the viewer (a file the preview read whole; larger ones stay read-only): CodeMirror with the
// language its name says (Python, Markdown, else plain text), saved as a notebook is (DocumentSaver): Ctrl+S or
// Save, autosave 2 s after typing stops, a save on leaving the page, never over a file changed on disk since it
// was opened (the page asks: Reload or Overwrite).
import { Button, Group, Text } from "@mantine/core";
import { defaultKeymap, historyKeymap, indentWithTab } from "@codemirror/commands";
import { markdown } from "@codemirror/lang-markdown";
import { python } from "@codemirror/lang-python";
import { EditorState } from "@codemirror/state";
import { EditorView, keymap, lineNumbers } from "@codemirror/view";
import { useMutation, useQueryClient } from "@tanstack/react-query";
import { useEffect, useRef, useState } from "react";
import { WrappingAlert } from "@/app/_components/files/wrapping-alert";
import { editingBasics, editorTheme } from "@/app/_components/notebook/code-editor";
import { DocumentSaver, type SavedDocument } from "@/app/_components/saving/document-saver";
import { SaveStatus, useLeaveGuard, useSaveShortcut, useSaveState } from "@/app/_components/saving/save-status";
import { extensionOf } from "@/server/files/file-kind";
import { useTRPC } from "@/app/_lib/trpc";
import classes from "./viewer.module.css";

function languageOf(name: string) {
  const extension = extensionOf(name);
  if (extension === "py" || extension === "pyw") return python();
  if (extension === "md" || extension === "markdown") return markdown();
  return [];
}

/** `text` and `mtime`: the file as opened. Later values of them are not taken in: a new key remounts (Reload). */
export function TextEditor({ path, name, text, mtime, onReload }: { path: string; name: string; text: string; mtime: Date; onReload(): void }) {
  const trpc = useTRPC();
  const queryClient = useQueryClient();
  const saveText = useMutation(trpc.files.saveText.mutationOptions());
  const saveRef = useRef(saveText.mutateAsync);
  saveRef.current = saveText.mutateAsync;
  const host = useRef<HTMLDivElement>(null);
  const [opened] = useState({ text, mtime });
  const [saver, setSaver] = useState<DocumentSaver<string> | null>(null);

  useEffect(() => {
    const listeners = new Set<() => void>();
    let saver: DocumentSaver<string> | null = null;
    const view = new EditorView({
      parent: host.current!,
      state: EditorState.create({
        doc: opened.text,
        extensions: [
          lineNumbers(),
          editingBasics(),
          languageOf(name),
          keymap.of([indentWithTab, ...historyKeymap, ...defaultKeymap]),
          editorTheme,
          EditorView.contentAttributes.of({ "aria-label": `Editor of ${name}` }),
          EditorView.updateListener.of((update) => {
            if (update.docChanged) for (const listener of [...listeners]) listener();
          }),
        ],
      }),
    });
    const document: SavedDocument<string> = {
      subscribeChanges: (listener) => (listeners.add(listener), () => void listeners.delete(listener)),
      current: () => view.state.doc.toString(),
      shape: (content) => content,
    };
    saver = new DocumentSaver(document, path, opened.mtime, async ({ content, expectedMtime, force }) => {
      const entry = await saveRef.current({ path, text: content, expectedMtime: expectedMtime ?? opened.mtime, force });
      // Files' listing and the header's size and time follow (the editor keeps what it has).
      void queryClient.invalidateQueries({ queryKey: trpc.files.list.queryKey() });
      void queryClient.invalidateQueries({ queryKey: trpc.files.preview.queryKey({ path }) });
      return { mtime: entry.mtime };
    });
    setSaver(saver);
    return () => {
      saver?.dispose();
      view.destroy();
    };
  }, [path, name, opened, queryClient, trpc]);

  useLeaveGuard(saver);
  useSaveShortcut(saver);

  return (
    <>
      {saver && <SaveBar saver={saver} onReload={onReload} />}
      <div className={classes.editorFrame} role="region" aria-label={`Text of ${name}`} ref={host} />
    </>
  );
}

function SaveBar({ saver, onReload }: { saver: DocumentSaver<string>; onReload(): void }) {
  const { conflict, dirty, saving } = useSaveState(saver);
  return (
    <>
      {conflict && (
        <WrappingAlert color="yellow" title="This file changed on disk" role="alert">
          <Group gap="sm" justify="space-between" wrap="wrap">
            <span>It was changed or deleted since you opened it (in another window, by a job, or by a colleague). Keep which version?</span>
            <Group gap="xs">
              <Button size="xs" variant="default" onClick={() => (saver.discard(), onReload())}>
                Reload
              </Button>
              <Button size="xs" color="yellow" onClick={() => void saver.save({ force: true })}>
                Overwrite
              </Button>
            </Group>
          </Group>
        </WrappingAlert>
      )}
      <Group gap="sm" justify="space-between">
        <Text size="sm" c="dimmed">
          <SaveStatus saver={saver} />
        </Text>
        <Button size="xs" variant="default" onClick={() => void saver.save()} disabled={!dirty || saving || conflict} title="Save (Ctrl+S)">
          Save
        </Button>
      </Group>
    </>
  );
}
