"use client";
// The Files page: breadcrumbs and actions on top, uploads in progress, then the folder's entries (each with
// Rename, Move, Download, Delete).
// The folder is the URL's (/files/<path>), so back and forward move between folders.
import { Anchor, Button, Group, Stack, VisuallyHidden } from "@mantine/core";
import { downloadUrl } from "@/app/_lib/download";
import { IconFolderPlus, IconNotebook, IconUpload } from "@tabler/icons-react";
import { useMutation, useQuery, useQueryClient } from "@tanstack/react-query";
import Link from "next/link";
import { useRouter } from "next/navigation";
import { useCallback, useMemo, useRef, useState } from "react";
import { errorMessage, useTRPC } from "@/app/_lib/trpc";
import { FileBreadcrumbs } from "./breadcrumbs";
import { DeleteDialog, NameDialog } from "./dialogs";
import { FileList, type DroppedFiles } from "./file-list";
import { MoveDialog } from "./move-dialog";
import { contentUrl, folderHref, isNotebook, joinPath, notebookHref, parentOf } from "./paths";
import { WrappingAlert } from "./wrapping-alert";
import { sortEntries } from "./sort";
import type { FileEntry, Sort, SortKey } from "./types";
import { UploadPanel } from "./upload-panel";
import { useUploadQueue } from "./uploads-provider";

interface Props {
  /** The folder shown, normalized by the server ('' is the home folder). */
  path: string;
}

export function FileBrowser({ path }: Props) {
  const trpc = useTRPC();
  const queryClient = useQueryClient();
  const router = useRouter();
  const listing = useQuery(trpc.files.list.queryOptions({ path }, { staleTime: 2_000 }));
  const refresh = useCallback((dir: string) => queryClient.invalidateQueries({ queryKey: trpc.files.list.queryKey({ path: dir }) }), [queryClient, trpc]);

  const [sort, setSort] = useState<Sort>({ key: "name", direction: "ascending" });
  const onSort = (key: SortKey) =>
    setSort((current) => (current.key === key ? { key, direction: current.direction === "ascending" ? "descending" : "ascending" } : { key, direction: key === "modified" ? "descending" : "ascending" }));
  const entries = useMemo(() => (listing.data ? sortEntries(listing.data.entries, sort) : undefined), [listing.data, sort]);

  // Errors from the toolbar and the rows are shown just above the list, next to where the user acted.
  const [actionError, setActionError] = useState<string | null>(null);

  const uploads = useUploadQueue();
  const picker = useRef<HTMLInputElement>(null);

  const newNotebook = useMutation(
    trpc.files.newNotebook.mutationOptions({
      onSuccess: ({ path: created }) => {
        void refresh(path);
        router.push(notebookHref(created));
      },
      onError: (error) => setActionError(`The notebook was not created: ${errorMessage(error)}`),
    }),
  );

  const [creatingFolder, setCreatingFolder] = useState(false);
  const mkdir = useMutation(
    trpc.files.mkdir.mutationOptions({
      onSuccess: () => {
        setCreatingFolder(false);
        void refresh(path);
      },
    }),
  );

  const [renaming, setRenaming] = useState<FileEntry | null>(null);
  const rename = useMutation(
    trpc.files.rename.mutationOptions({
      onSuccess: () => {
        setRenaming(null);
        void refresh(path);
      },
    }),
  );

  const [moving, setMoving] = useState<FileEntry | null>(null);
  const move = useMutation(
    trpc.files.rename.mutationOptions({
      onSuccess: (_moved, { to }) => {
        setMoving(null);
        void refresh(path);
        void refresh(parentOf(to));
      },
    }),
  );

  const [deleting, setDeleting] = useState<FileEntry | null>(null);
  const mayHoldNotebooks = deleting !== null && (deleting.type === "directory" || isNotebook(deleting.name));
  const orphans = useQuery({ ...trpc.files.kernelsUnder.queryOptions({ path: deleting?.path ?? "" }), enabled: mayHoldNotebooks, staleTime: 0 });
  const remove = useMutation(
    trpc.files.delete.mutationOptions({
      onSuccess: () => {
        setDeleting(null);
        void refresh(path);
      },
    }),
  );

  const download = async (entry: FileEntry) => {
    setActionError(null);
    try {
      // Checked first so a file that is gone or out of reach is explained here, not as a failed download.
      await queryClient.fetchQuery(trpc.files.stat.queryOptions({ path: entry.path }, { staleTime: 0 }));
    } catch (error) {
      setActionError(`${entry.name} was not downloaded: ${errorMessage(error)}`);
      void refresh(path);
      return;
    }
    downloadUrl(contentUrl(entry.path), entry.name);
  };

  const folderName = path === "" ? "Home" : path.slice(path.lastIndexOf("/") + 1);
  const listError = listing.error ? (
    <WrappingAlert color="red" variant="light" title="This folder could not be opened" role="alert">
      <Stack gap="xs">
        <span>{errorMessage(listing.error)}</span>
        <Group gap="md">
          {path !== "" && (
            <Anchor component={Link} href={folderHref("")} size="sm">
              Go to your home folder
            </Anchor>
          )}
          <Anchor component="button" type="button" size="sm" onClick={() => void listing.refetch()}>
            Try again
          </Anchor>
        </Group>
      </Stack>
    </WrappingAlert>
  ) : undefined;

  return (
    <Stack gap="sm" style={{ height: "calc(100dvh - var(--app-shell-header-height, 52px) - 2 * var(--mantine-spacing-md))" }}>
      {/* The page's heading for screen readers; the breadcrumbs say the same on screen. */}
      <VisuallyHidden component="h1">{path ? `Files: ${path}` : "Files"}</VisuallyHidden>
      <Group justify="space-between" wrap="wrap" gap="sm">
        <FileBreadcrumbs path={path} />
        <Group gap="xs">
          <Button
            leftSection={<IconNotebook size={16} />}
            loading={newNotebook.isPending}
            disabled={!!listing.error}
            onClick={() => {
              setActionError(null);
              newNotebook.mutate({ dir: path });
            }}
          >
            New notebook
          </Button>
          <Button
            variant="default"
            leftSection={<IconFolderPlus size={16} />}
            disabled={!!listing.error}
            onClick={() => {
              mkdir.reset();
              setCreatingFolder(true);
            }}
          >
            New folder
          </Button>
          <Button variant="default" leftSection={<IconUpload size={16} />} disabled={!!listing.error} onClick={() => picker.current?.click()}>
            Upload
          </Button>
          <input
            ref={picker}
            type="file"
            multiple
            hidden
            aria-label="Files to upload"
            onChange={(event) => {
              const files = Array.from(event.currentTarget.files ?? []);
              event.currentTarget.value = ""; // picking the same file again must fire change again
              if (files.length) uploads.add(files, path);
            }}
          />
        </Group>
      </Group>

      {actionError && (
        <WrappingAlert color="red" variant="light" withCloseButton closeButtonLabel="Dismiss" onClose={() => setActionError(null)} role="alert">
          {actionError}
        </WrappingAlert>
      )}

      <UploadPanel
        uploads={uploads.uploads}
        onCancel={uploads.cancel}
        onReplace={uploads.replace}
        onRetry={uploads.retry}
        onDismiss={uploads.dismiss}
        onClearFinished={uploads.clearFinished}
        canRetry={uploads.canRetry}
      />

      <FileList
        label={`Files in ${folderName}`}
        entries={entries}
        loading={listing.isPending}
        problem={listError}
        sort={sort}
        onSort={onSort}
        onRename={(entry) => {
          rename.reset();
          setRenaming(entry);
        }}
        onMove={(entry) => {
          move.reset();
          setMoving(entry);
        }}
        onDownload={(entry) => void download(entry)}
        onDelete={(entry) => {
          remove.reset();
          setDeleting(entry);
        }}
        onDrop={({ files, refused }: DroppedFiles) => {
          if (listing.error) return;
          if (files.length || refused.length) uploads.add(files, path, refused);
        }}
        dropTargetName={folderName}
      />

      <NameDialog
        opened={creatingFolder}
        title="New folder"
        label="Folder name"
        submitLabel="Create folder"
        initialName="Untitled Folder"
        pending={mkdir.isPending}
        error={nameTaken(mkdir.error, mkdir.variables?.path)}
        onSubmit={(name) => mkdir.mutate({ path: joinPath(path, name) })}
        onClose={() => setCreatingFolder(false)}
      />
      <NameDialog
        opened={renaming !== null}
        title={renaming ? `Rename ${renaming.type === "directory" ? "folder" : "file"}` : "Rename"}
        label="New name"
        submitLabel="Rename"
        initialName={renaming?.name ?? ""}
        selectStem={renaming?.type === "file"}
        pending={rename.isPending}
        error={nameTaken(rename.error, rename.variables?.to)}
        onSubmit={(name) => renaming && rename.mutate({ from: renaming.path, to: joinPath(path, name) })}
        onClose={() => setRenaming(null)}
      />
      <MoveDialog entry={moving} pending={move.isPending} error={move.error} onMove={(entry, to) => move.mutate({ from: entry.path, to })} onClose={() => setMoving(null)} />
      <DeleteDialog
        entry={deleting}
        runningKernels={mayHoldNotebooks ? (orphans.data?.length ?? 0) : 0}
        pending={remove.isPending}
        error={remove.error}
        onConfirm={(entry) => remove.mutate({ path: entry.path, recursive: entry.type === "directory" })}
        onClose={() => setDeleting(null)}
      />
    </Stack>
  );
}

/** In a name dialog there is nothing to "replace": say plainly that the name is taken. */
function nameTaken(error: unknown, path: string | undefined): unknown {
  const appCode = (error as { data?: { appCode?: unknown } } | null)?.data?.appCode;
  if (appCode !== "ALREADY_EXISTS" || !path) return error;
  const name = path.slice(path.lastIndexOf("/") + 1);
  return new Error(`Something named "${name}" is already in this folder. Choose another name.`);
}
