"use client";
// The notebook page: opens the file (notebooks.open), lays the server's record of recent runs over it
// (notebooks.runs), connects the kernel, and wires the toolbar, the cells, command-mode keys, saving,
// conflicts and drafts together.
import { Anchor, Button, Center, Group, Loader, Modal, Stack, Text, VisuallyHidden } from "@mantine/core";
import { notifications } from "@mantine/notifications";
import { useMutation, useQuery, useQueryClient } from "@tanstack/react-query";
import Link from "next/link";
import { useRouter } from "next/navigation";
import { useCallback, useEffect, useRef, useState, useSyncExternalStore } from "react";
import "katex/dist/katex.min.css";
import { errorMessage, useTRPC } from "@/app/_lib/trpc";
import { ConfirmModal } from "@/app/_components/confirm-modal";
import { mergeRuns } from "@/server/notebooks/merge-runs";
import { formatNotebook, type Notebook } from "@/server/notebooks/nbformat";
import { notebookToScript, scriptName } from "@/server/notebooks/script";
import { downloadText } from "@/app/_lib/download";
import { NameDialog } from "../files/dialogs";
import { joinPath, notebookHref, parentOf } from "../files/paths";
import { WrappingAlert } from "../files/wrapping-alert";
import { CellList } from "./cell-list";
import type { RunKind } from "./code-editor";
import { KernelBanners, QuotaFooter } from "./kernel-quota";
import { KernelSession } from "./kernel-session";
import { NotebookModel } from "./model";
import { offThreadSave } from "./off-thread-save";
import classes from "./notebook.module.css";
import { addRecent } from "./recent";
import { runsApi } from "./runs-api";
import { useSignedInUserId } from "../signed-in-user";
import { adoptUnscopedDraft, clearDraft, draftKey, NotebookSaver, readDraft, withOutputsFrom, type Draft } from "./saver";
import { SaveStatus, useLeaveGuard, useSaveShortcut, useSaveState } from "../saving/save-status";
import { NotebookToolbar, type KernelChange } from "./toolbar";
import { ShortcutsHelp } from "./shortcuts-help";
import { toggleLineNumbers } from "./view-prefs";

const notify = (message: string, kind: "error" | "info" = "error") =>
  notifications.show({ message, color: kind === "error" ? "red" : "indigo", autoClose: kind === "error" ? 8000 : 4000 });

interface Built {
  model: NotebookModel;
  session: KernelSession;
  saver: NotebookSaver;
  draft: Draft | null;
  fileMtime: Date;
}

export function NotebookApp({ path }: { path: string }) {
  const trpc = useTRPC();
  const [generation, setGeneration] = useState(0);
  const userId = useSignedInUserId();
  // Read afresh each time the page opens (gcTime 0: no copy kept after leaving, whose mtime would be stale after the
  // saves made since), and never behind the editor's back while it is open (a refetch rebuilds it).
  const opened = useQuery({
    ...trpc.notebooks.open.queryOptions({ path }),
    staleTime: Infinity,
    gcTime: 0,
    refetchOnWindowFocus: false,
    refetchOnReconnect: false,
    retry: false,
  });
  const create = useMutation(trpc.notebooks.create.mutationOptions());
  const save = useMutation(trpc.notebooks.save.mutationOptions());
  const saveRef = useRef(save.mutateAsync);
  saveRef.current = save.mutateAsync;
  const [built, setBuilt] = useState<Built | null>(null);
  const [restoring, setRestoring] = useState<Notebook | null>(null);

  useEffect(() => {
    if (!opened.data) return;
    let cancelled = false;
    let made: Built | null = null;
    const { notebook, mtime } = opened.data;
    void (async () => {
      const runs = await runsApi.runs(path).catch((error: Error) => {
        notify(`Outputs recorded while this notebook was closed couldn't be loaded (${error.message}). The file's outputs are shown.`);
        return [];
      });
      if (cancelled) return;
      const base = restoring ?? notebook;
      const merged = mergeRuns(base.cells, runs, new Date(mtime));
      const model = new NotebookModel({ ...base, cells: merged.cells });
      for (const { cellId, msgId } of merged.clipped) model.update(cellId, { clippedRun: msgId });
      const session = new KernelSession(model, path, notify);
      session.adoptRunning(merged.running);
      const saver = new NotebookSaver(model, path, new Date(mtime), offThreadSave((input) => saveRef.current(input)), { userId });
      const stored = restoring ? null : (readDraft(draftKey(userId, path)) ?? adoptUnscopedDraft(userId, path, new Date(mtime)));
      const draft = stored && { ...stored, notebook: withOutputsFrom(stored.notebook, notebook) };
      made = { model, session, saver, draft: draft && differs(draft.notebook, notebook) ? draft : null, fileMtime: new Date(mtime) };
      if (restoring || merged.replaced.length) saver.markDirty();
      const restored = merged.restoredCode.length;
      if (restored && !restoring) {
        notify(`${restored === 1 ? "A cell's code was" : `${restored} cells' code was`} run but never saved before this page last closed: it is back, with what it printed.`, "info");
      }
      void session.start();
      if (opened.data.notice && !restoring) notify(opened.data.notice, "info");
      addRecent(userId, path);
      setBuilt(made);
    })();
    return () => {
      cancelled = true;
      made?.session.dispose();
      made?.saver.dispose();
    };
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, [opened.data, generation]);

  if (opened.isPending) return <Center h={200}><Loader size="sm" /></Center>;
  if (opened.error) {
    const notFound = (opened.error as { data?: { code?: string } }).data?.code === "NOT_FOUND";
    return (
      <Stack maw={560} gap="sm" mt="md">
        <WrappingAlert color={notFound ? "gray" : "red"} title={notFound ? `${path} doesn't exist yet` : "This notebook can't be opened"}>
          {notFound ? "Create it as a new, empty notebook?" : errorMessage(opened.error)}
        </WrappingAlert>
        {notFound && (
          <Group>
            <Button
              loading={create.isPending}
              onClick={() =>
                create.mutate({ path }, { onSuccess: () => void opened.refetch(), onError: (error) => notify(errorMessage(error)) })
              }
            >
              Create notebook
            </Button>
          </Group>
        )}
      </Stack>
    );
  }
  if (!built) return <Center h={200}><Loader size="sm" /></Center>;
  return (
    <NotebookEditor
      key={`${generation}`}
      path={path}
      built={built}
      onReload={async (options) => {
        built.saver.discard(); // the user chose the file (or a draft) over this page's edits: nothing saved on the way out
        clearDraft(draftKey(userId, path));
        setRestoring(options?.restore ?? null);
        setBuilt(null);
        // A restored draft is saved against the file's current mtime (this page may have saved since it opened).
        await opened.refetch();
        setGeneration((g) => g + 1);
      }}
    />
  );
}

function differs(a: Notebook, b: Notebook): boolean {
  const shape = (nb: Notebook) => JSON.stringify(nb.cells.map((c) => [c.cell_type, c.source]));
  return shape(a) !== shape(b);
}

interface EditorProps {
  path: string;
  built: Built;
  onReload(options?: { restore?: Notebook }): Promise<void>;
}

function NotebookEditor({ path, built, onReload }: EditorProps) {
  const { model, session, saver } = built;
  const userId = useSignedInUserId();
  const trpc = useTRPC();
  const queryClient = useQueryClient();
  const [draft, setDraft] = useState(built.draft);
  const lastKey = useRef<{ key: string; at: number } | null>(null);

  const onSave = useCallback(() => void saver.save(), [saver]);

  const onRun = useCallback(
    (id: string, kind: RunKind) => {
      // Several cells selected: they all run, in order, and the next steps go from the last of them.
      const ids = (model.isSelected(id) ? model.selectedIds : [id]).filter((x) => model.cell(x));
      if (ids.length === 0) return;
      void session.runCells(ids);
      const lastId = ids.at(-1)!;
      const index = model.indexOf(lastId);
      if (kind === "run") {
        if (ids.length === 1) model.setActive(id, "command");
        else model.setMode("command"); // Ctrl+Enter keeps the selection, to run it again
      } else if (kind === "run-insert" || (kind === "run-next" && index === model.ids.length - 1)) {
        model.setActive(lastId);
        const added = model.insertRelative(1, "code");
        model.setActive(added.id, "edit");
      } else {
        model.setActive(model.ids[index + 1] ?? lastId, "command");
      }
    },
    [model, session],
  );

  useSaveShortcut(saver);

  useLeaveGuard(saver);

  const restart = useCallback(
    async (runAll: boolean) => {
      const ok = await session.restart();
      if (ok && runAll) void session.runAll();
    },
    [session],
  );
  // A restart loses every variable, so it is asked first, as Jupyter does (toolbar, menu and "0 0" alike).
  // `runAll` outlives `open` so the words stay while the modal animates closed.
  const [restartAsked, setRestartAsked] = useState({ open: false, runAll: false });
  const askRestart = useCallback((runAll: boolean) => setRestartAsked({ open: true, runAll }), []);
  // Replacing the kernel (another kernelspec or size, or a fresh one) is asked first when it would lose variables:
  // the Kernel and Size lists change on an arrow key, so a slip must not end hours of work.
  const [replaceAsked, setReplaceAsked] = useState<{ open: boolean; change: KernelChange | null }>({ open: false, change: null });
  const replaceKernel = useCallback(
    (change: KernelChange) => {
      if (change.kind === "kernelspec") {
        // The size chosen goes with it when the other kernelspec offers one of that name (QA: it fell back silently).
        const offered = queryClient.getQueryData(trpc.quotas.sizes.queryKey())?.find((s) => s.kernelspec === change.name)?.sizes;
        const size = session.status.size;
        void session.changeKernel(change.name, size && offered?.some((s) => s.name === size) ? size : undefined);
      }
      else if (change.kind === "size") void session.changeSize(change.size);
      else void session.changeKernel(session.status.kernelName ?? session.wantedKernelName());
    },
    [session, queryClient, trpc],
  );
  const askReplaceKernel = useCallback(
    (change: KernelChange) => (session.replacingLosesState() ? setReplaceAsked({ open: true, change }) : replaceKernel(change)),
    [session, replaceKernel],
  );

  const [shortcutsOpen, setShortcutsOpen] = useState(false);
  const rename = useRenameNotebook(path, saver);

  /** Jupyter's command-mode keys (focus on a cell, not in an editor or a field); H lists them (shortcuts-help.tsx). */
  const onKeyDown = (event: React.KeyboardEvent<HTMLDivElement>) => {
    const target = event.target as HTMLElement;
    if (target.closest(".cm-editor, input, textarea, select, button, iframe, a[href], [contenteditable]")) return;
    const id = model.activeId;
    if (!id) return;
    const key = event.key;
    const twice = (k: string) => {
      const hit = lastKey.current?.key === k && Date.now() - lastKey.current.at < 800;
      lastKey.current = hit ? null : { key: k, at: Date.now() };
      return hit;
    };
    const handled = () => event.preventDefault();
    if (event.shiftKey && key === "Enter") return handled(), onRun(id, "run-next");
    if ((event.ctrlKey || event.metaKey) && key === "Enter") return handled(), onRun(id, "run");
    if (event.altKey && key === "Enter") return handled(), onRun(id, "run-insert");
    if ((event.ctrlKey || event.metaKey) && event.shiftKey && (key === "ArrowUp" || key === "ArrowDown")) return handled(), model.move(key === "ArrowUp" ? -1 : 1);
    if ((event.ctrlKey || event.metaKey) && !event.shiftKey && key.toLowerCase() === "a") return handled(), model.selectAll();
    // Not the browser's own undo and redo: out of an editor, they would replay typing into whichever cell's editor
    // last had it (unseen, and saved). Z undoes a cell deletion here.
    if ((event.ctrlKey || event.metaKey) && ["z", "y"].includes(key.toLowerCase())) return handled();
    if (event.ctrlKey || event.metaKey || event.altKey) return;
    if (event.shiftKey) {
      // Shift+V pastes above, Shift+M merges the selected cells, or the cell below, into the first (Jupyter's keys).
      if (key === "V") return handled(), model.pasteBelow(true);
      if (key === "M") return handled(), model.mergeSelected();
      // Shift+↑/↓ (Shift+K/J) select several cells: D D, C, X, V, M, Y, R, O, Shift+M, moving and running act on them all.
      if (key === "ArrowUp" || key === "K") return handled(), model.extendSelection(-1);
      if (key === "ArrowDown" || key === "J") return handled(), model.extendSelection(1);
      if (key === "L") return handled(), toggleLineNumbers(); // JupyterLab's "all cells"; L does the same here
      if (key !== "Enter") return;
    }
    switch (key) {
      case "Escape":
        if (model.anchorId !== null) model.setActive(id); // back to the active cell alone
        return;
      case "Enter":
        handled();
        if (model.cell(id)?.type === "markdown") model.update(id, { rendered: false });
        model.setActive(id, "edit");
        return;
      case "ArrowUp":
      case "k":
        handled();
        return model.selectRelative(-1);
      case "ArrowDown":
      case "j":
        handled();
        return model.selectRelative(1);
      case "a":
        handled();
        model.insertRelative(0);
        return;
      case "b":
        handled();
        model.insertRelative(1);
        return;
      case "d":
        if (twice("d")) model.deleteSelected();
        return handled();
      case "z":
        handled();
        return model.undoDelete();
      case "m":
        handled();
        return model.changeSelectedType("markdown");
      case "y":
        handled();
        return model.changeSelectedType("code");
      case "r":
        handled();
        return model.changeSelectedType("raw");
      case "c":
        handled();
        return model.copySelected();
      case "x":
        handled();
        return model.copySelected(true);
      case "v":
        handled();
        return model.pasteBelow();
      case "o":
        handled();
        return model.toggleSelectedOutputs();
      case "l":
        handled();
        return toggleLineNumbers();
      case "h":
        handled();
        return setShortcutsOpen(true);
      case "i":
        if (twice("i")) void session.interrupt();
        return handled();
      case "0":
        if (twice("0")) askRestart(false);
        return handled();
    }
  };

  return (
    <div className={classes.root}>
      <VisuallyHidden component="h1">{`Notebook ${path}`}</VisuallyHidden>
      <NotebookToolbar
        title={path}
        onRename={rename.ask}
        model={model}
        session={session}
        onSave={onSave}
        onAddCell={() => {
          const cell = model.insertRelative(1, "code");
          model.setActive(cell.id, "edit");
        }}
        onRunCell={() => model.activeId && onRun(model.activeId, "run-next")}
        onRunAll={() => void session.runAll()}
        onRunFrom={(part) => {
          const index = Math.max(0, model.activeIndex);
          void session.runCells(part === "above" ? model.ids.slice(0, index) : model.ids.slice(index));
        }}
        onRestart={askRestart}
        onClearOutputs={() => model.ids.forEach((id) => model.clearOutputs(id))}
        onReplaceKernel={askReplaceKernel}
        onShowShortcuts={() => setShortcutsOpen(true)}
        onDownload={(format) => {
          model.flush(); // output still queued is in the copy too
          const notebook = model.toNotebook();
          if (format === "py") downloadText(notebookToScript(notebook), scriptName(path), "text/x-python");
          else downloadText(formatNotebook(notebook), path.split("/").pop() || "notebook.ipynb", "application/x-ipynb+json");
        }}
      />
      <ShortcutsHelp opened={shortcutsOpen} onClose={() => setShortcutsOpen(false)} />
      <SaveAwareBanners saver={saver} session={session} onSave={onSave} />
      <DiskChangeBanner path={path} saver={saver} onReload={onReload} />
      {draft && (
        <WrappingAlert color="yellow" mt="xs" title="Unsaved changes found">
          <Group justify="space-between" wrap="nowrap">
            <Text size="sm">
              This browser kept changes from {new Date(draft.savedAt).toLocaleString()} that were not saved.
              {new Date(draft.baseMtime).getTime() !== built.fileMtime.getTime() && " The file has changed since; restoring replaces it when saved."}
            </Text>
            <Group gap="xs" wrap="nowrap">
              <Button size="xs" onClick={() => void onReload({ restore: draft.notebook })}>
                Restore
              </Button>
              <Button size="xs" variant="default" onClick={() => (clearDraft(draftKey(userId, path)), setDraft(null))}>
                Discard
              </Button>
            </Group>
          </Group>
        </WrappingAlert>
      )}
      <div className={classes.cells} onKeyDown={onKeyDown}>
        <CellList model={model} session={session} onRun={onRun} onSave={onSave} />
      </div>
      <Footer saver={saver} session={session} model={model} />
      <ConflictModal path={path} model={model} saver={saver} onReload={onReload} />
      <NameDialog
        opened={rename.open}
        title="Rename notebook"
        label="New name"
        submitLabel="Rename"
        initialName={path.split("/").pop() ?? path}
        selectStem
        pending={rename.pending}
        error={rename.error}
        onSubmit={(name) => void rename.to(name)}
        onClose={rename.close}
      />
      <ConfirmModal
        opened={restartAsked.open}
        title={restartAsked.runAll ? "Restart the kernel and run all cells?" : "Restart the kernel?"}
        confirmLabel="Restart"
        initialFocus="confirm"
        onClose={() => setRestartAsked((asked) => ({ ...asked, open: false }))}
        onConfirm={() => {
          setRestartAsked((asked) => ({ ...asked, open: false }));
          void restart(restartAsked.runAll);
        }}
      >
        All variables will be lost.{restartAsked.runAll && " Then every cell runs again, from the top."}
      </ConfirmModal>
      <ConfirmModal
        opened={replaceAsked.open}
        {...replaceQuestion(replaceAsked.change, session)}
        onClose={() => setReplaceAsked((asked) => ({ ...asked, open: false }))}
        onConfirm={() => {
          setReplaceAsked((asked) => ({ ...asked, open: false }));
          if (replaceAsked.change) replaceKernel(replaceAsked.change);
        }}
      />
    </div>
  );
}

/** The question asked before a kernel with variables is replaced, in the words of what the user picked. */
function replaceQuestion(change: KernelChange | null, session: KernelSession): { title: string; confirmLabel: string; children: string } {
  const lost = "The running kernel is shut down and all its variables are lost.";
  if (change?.kind === "kernelspec") {
    const name = session.specs?.kernelspecs[change.name]?.spec.display_name ?? change.name;
    return { title: `Switch to ${name}?`, confirmLabel: "Switch kernel", children: `${lost} A new ${name} kernel starts.` };
  }
  if (change?.kind === "size") return { title: `Start a ${change.size} kernel?`, confirmLabel: "Change size", children: `${lost} A new kernel starts at this size.` };
  return { title: "Shut down the kernel and start a new one?", confirmLabel: "Shut down", children: lost };
}

// The save state lives in these small components (not in NotebookEditor), so typing and autosaves don't
// re-render the component that renders every cell.

function SaveAwareBanners({ saver, session, onSave }: { saver: NotebookSaver; session: KernelSession; onSave(): void }) {
  const dirty = useSaveState(saver).dirty;
  return <KernelBanners session={session} onSave={onSave} dirty={dirty} />;
}

/** How often an open, visible notebook looks at its file (and at once when its window gets the focus back). */
const DISK_CHECK_MS = 20_000;

/**
 * Another window, a colleague's job or a kernel may write the file this page shows: when the window gets the focus
 * back, and every 20 s while it is visible, the file's time is compared with what this page last read or wrote
 * (NotebookSaver.compareWithDisk), and a change is said at once, instead of at the next save's conflict question.
 */
function DiskChangeBanner({ path, saver, onReload }: { path: string; saver: NotebookSaver; onReload(): Promise<void> }) {
  const trpc = useTRPC();
  const queryClient = useQueryClient();
  // What was found, keyed by the file's time (a newer change is said again after a Dismiss of an older one).
  const [seen, setSeen] = useState<{ kind: "changed" | "gone"; key: string } | null>(null);
  const [dismissed, setDismissed] = useState<string | null>(null);
  const dirty = useSyncExternalStore(saver.subscribe, () => saver.hasUnsavedEdits(), () => false);
  useEffect(() => {
    let stopped = false;
    let looking = false; // one look at a time: a portal slow to answer does not collect a stat every 20 s
    const look = async () => {
      if (stopped || looking || document.visibilityState !== "visible") return;
      looking = true;
      let key = "gone";
      const found = await saver
        .compareWithDisk(async () => {
          try {
            const entry = await queryClient.fetchQuery({ ...trpc.files.stat.queryOptions({ path }), staleTime: 0, gcTime: 0, retry: false });
            key = `changed ${new Date(entry.mtime).getTime()}`;
            return new Date(entry.mtime);
          } catch (error) {
            if ((error as { data?: { code?: string } }).data?.code === "NOT_FOUND") return null;
            throw error;
          }
        })
        .catch(() => undefined) // the portal unreachable: said by the next save, not here
        .finally(() => (looking = false));
      if (stopped || found === undefined) return;
      setSeen(found === "same" ? null : { kind: found, key });
    };
    const onVisible = () => void look();
    window.addEventListener("focus", onVisible);
    document.addEventListener("visibilitychange", onVisible);
    const timer = setInterval(() => void look(), DISK_CHECK_MS);
    return () => {
      stopped = true;
      window.removeEventListener("focus", onVisible);
      document.removeEventListener("visibilitychange", onVisible);
      clearInterval(timer);
    };
  }, [path, saver, queryClient, trpc]);
  // With unsaved edits here, a change on disk is asked about by the save itself (the conflict question): one prompt.
  if (!seen || dismissed === seen.key || (dirty && seen.kind === "changed")) return null;
  const gone = seen.kind === "gone";
  return (
    <WrappingAlert color="yellow" mt="xs" title={gone ? "This notebook was renamed or deleted elsewhere" : "This notebook changed on disk"} role="alert">
      <Group justify="space-between" wrap="nowrap">
        <Text size="sm">
          {gone
            ? `${path} is no longer there (renamed or deleted in another window, or by a program). What this page shows is kept here only until you leave: save it under this name again, or keep editing.`
            : "Another window or a program wrote it since this page loaded or saved it. Reload to see that version."}
        </Text>
        <Group gap="xs" wrap="nowrap">
          {gone ? (
            <Button size="xs" onClick={() => void saver.save({ force: true }).then((saved) => saved && setSeen(null))}>
              Save here again
            </Button>
          ) : (
            <Button size="xs" onClick={() => void onReload()}>
              Reload
            </Button>
          )}
          <Button size="xs" variant="default" onClick={() => setDismissed(seen.key)}>
            Dismiss
          </Button>
        </Group>
      </Group>
    </WrappingAlert>
  );
}

/**
 * Renaming the open notebook (its title in the toolbar), as JupyterLab does: this page's edits are saved first, the
 * file is renamed in place (its kernel, recorded outputs and recent entry follow it on the server), and the page
 * opens it under its new name, attached to the same kernel. A name without an extension gets ".ipynb".
 */
function useRenameNotebook(path: string, saver: NotebookSaver) {
  const trpc = useTRPC();
  const router = useRouter();
  const renameFile = useMutation(trpc.files.rename.mutationOptions());
  const [open, setOpen] = useState(false);
  const [problem, setProblem] = useState<string | null>(null);
  const [saving, setSaving] = useState(false);
  const to = async (name: string) => {
    const target = joinPath(parentOf(path), /\.ipynb$/i.test(name) ? name : `${name}.ipynb`);
    if (target === path) return setOpen(false);
    setProblem(null);
    if (saver.hasUnsavedEdits()) {
      setSaving(true);
      const saved = await saver.save().finally(() => setSaving(false));
      if (!saved) {
        return setProblem(saver.state.conflict
          ? "The file changed on disk since you opened it: answer that question first, then rename."
          : `Your changes couldn't be saved first, so the notebook was not renamed${saver.state.error ? ` (${saver.state.error})` : ""}. Try again.`);
      }
    }
    renameFile.mutate(
      { from: path, to: target },
      {
        onSuccess: () => {
          setOpen(false);
          saver.discard(); // everything is saved: nothing may be written under the old name on the way out
          router.replace(notebookHref(target));
        },
      },
    );
  };
  return {
    open,
    pending: saving || renameFile.isPending,
    error: problem ? { message: problem } : renameFile.error,
    ask: useCallback(() => (renameFile.reset(), setProblem(null), setOpen(true)), [renameFile]),
    close: () => setOpen(false),
    to,
  };
}

// Three ways out, one of which loses nothing: overwrite the file, reload it (losing this page's edits), or keep both —
// this page's version written beside it as name-CopyN.ipynb, then the file as it is on disk shown here.
function ConflictModal({ path, model, saver, onReload }: { path: string; model: NotebookModel; saver: NotebookSaver; onReload(): Promise<void> }) {
  const { conflict, saving, error } = useSaveState(saver);
  const trpc = useTRPC();
  const saveCopy = useMutation(trpc.notebooks.saveCopy.mutationOptions());
  const keepBoth = () =>
    saveCopy.mutate(
      { path, notebook: (model.flush(), model.toNotebook()) }, // flushed: output still queued is in the copy too
      {
        onSuccess: (copy) => {
          notifications.show({
            color: "indigo",
            autoClose: 15_000,
            message: (
              <>
                Your version is saved as{" "}
                <Anchor component={Link} href={notebookHref(copy.path)} size="sm">
                  {copy.path}
                </Anchor>
                . This page now shows {path} as it is on disk.
              </>
            ),
          });
          void onReload();
        },
      },
    );
  // Moved or deleted rather than changed: reloading would show nothing to reload, so the choices say so.
  const onDisk = useQuery({ ...trpc.files.stat.queryOptions({ path }), enabled: conflict, staleTime: 0, gcTime: 0, retry: false });
  const gone = conflict && (onDisk.error as { data?: { code?: string } } | null)?.data?.code === "NOT_FOUND";
  const busy = saving || saveCopy.isPending;
  const failure = saveCopy.error ? `Saving a copy failed: ${errorMessage(saveCopy.error)}` : error ? `${gone ? "Saving" : "Overwriting"} failed: ${error}` : null;
  return (
    <Modal opened={conflict} onClose={() => undefined} withCloseButton={false} title="This notebook changed on disk" centered size="lg">
      <Text size="sm">
        {gone
          ? `${path} was moved or deleted since you opened it. Save your version here again, or keep it as a copy beside where it was? Reloading would lose your unsaved changes.`
          : `Someone (or something) changed or deleted ${path} since you opened it. Overwrite it with your version, keep both (your version is saved as a copy beside it), or reload the file and lose your unsaved changes?`}
      </Text>
      {failure && (
        <Text size="sm" c="red" mt="sm" role="alert">
          {failure}
        </Text>
      )}
      <Group justify="flex-end" mt="md">
        <Button variant="default" disabled={busy} onClick={() => void onReload()}>
          Reload and lose my changes
        </Button>
        {/* The choice that loses nothing has the focus: Enter, a reflex, must not throw the user's edits away (QA). */}
        <Button variant="light" loading={saveCopy.isPending} disabled={saving} onClick={keepBoth} data-autofocus>
          Save mine as a copy
        </Button>
        <Button color={gone ? undefined : "red"} loading={saving} disabled={saveCopy.isPending} onClick={() => (saveCopy.reset(), void saver.save({ force: true }))}>
          {gone ? "Save here again" : "Overwrite"}
        </Button>
      </Group>
    </Modal>
  );
}

function Footer({ saver, session, model }: { saver: NotebookSaver; session: KernelSession; model: NotebookModel }) {
  // How many cells a multi-cell selection holds, also said to screen readers (the tint alone shows it to the eye).
  const selectedCount = useSyncExternalStore(model.subscribeUi, () => (model.anchorId === null ? 1 : model.selectedIds.length), () => 1);
  const status = useSyncExternalStore(session.subscribe, session.getStatus, session.getStatus);
  const spec = status.kernelName ? session.specs?.kernelspecs[status.kernelName] : undefined;
  const launcher = (spec?.spec.metadata?.atrium as { launcher?: string } | undefined)?.launcher;
  const engine = launcher === "yarn" ? "YARN" : launcher === "kubernetes" ? "Kubernetes" : launcher === "local" ? "local" : launcher;
  return (
    <Group className={classes.footer} justify="space-between" gap="xs" data-testid="notebook-footer">
      <SaveStatus saver={saver} />
      <Group gap="md" wrap="nowrap">
        <span role="status" aria-label="Selection" aria-live="polite">
          {selectedCount > 1 ? `${selectedCount} cells selected` : ""}
        </span>
        <QuotaFooter session={session} />
        <span>
          {status.displayName ?? "No kernel"}
          {engine ? ` · ${engine}` : ""}
        </span>
      </Group>
    </Group>
  );
}
