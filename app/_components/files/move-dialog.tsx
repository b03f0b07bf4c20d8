"use client";
// "Move" on a file or folder: pick the destination folder by browsing the home's folders inside the dialog, then
// move there (files.rename with the new folder: a notebook keeps its kernel and outputs, server/files/moves.ts).
// A folder cannot be moved into itself, so it is not offered as a destination; the folder it is in already is
// shown, but moving there does nothing and is not offered either.
import { Alert, Anchor, Breadcrumbs, Button, Loader, Modal, NavLink, ScrollArea, Stack, Text } from "@mantine/core";
import { IconFolder } from "@tabler/icons-react";
import { useQuery } from "@tanstack/react-query";
import { useState } from "react";
import { errorMessage, useTRPC } from "@/app/_lib/trpc";
import { DialogActions, useLastShown } from "./dialogs";
import { crumbsOf, joinPath, parentOf } from "./paths";
import type { FileEntry } from "./types";

interface MoveDialogProps {
  entry: FileEntry | null;
  pending: boolean;
  error: unknown;
  /** `to`: the entry's path in the chosen folder. */
  onMove(entry: FileEntry, to: string): void;
  onClose(): void;
}

export function MoveDialog({ entry, pending, error, onMove, onClose }: MoveDialogProps) {
  const shown = useLastShown(entry);
  return (
    <Modal opened={entry !== null} onClose={onClose} title={shown ? `Move ${shown.name}` : "Move"} size="lg">
      {/* Keyed so each opening starts in the folder the entry is in. */}
      {shown && <MoveForm key={shown.path} entry={shown} pending={pending} error={error} onMove={onMove} onClose={onClose} />}
    </Modal>
  );
}

/** Whether `path` is `folder` or inside it. */
function isWithin(path: string, folder: string): boolean {
  return path === folder || path.startsWith(`${folder}/`);
}

function MoveForm({ entry, pending, error, onMove, onClose }: Omit<MoveDialogProps, "entry"> & { entry: FileEntry }) {
  const trpc = useTRPC();
  const from = parentOf(entry.path);
  const [folder, setFolder] = useState(from);
  const listing = useQuery(trpc.files.list.queryOptions({ path: folder }, { staleTime: 2_000 }));
  const folders = (listing.data?.entries ?? [])
    .filter((e) => e.type === "directory" && !(entry.type === "directory" && isWithin(e.path, entry.path)))
    .sort((a, b) => a.name.localeCompare(b.name, undefined, { numeric: true, sensitivity: "base" }));
  const crumbs = crumbsOf(folder);
  const here = folder === from;
  const where = folder === "" ? "Home" : `Home / ${folder}`;

  return (
    <Stack>
      <nav aria-label="Destination folder">
        <Breadcrumbs separatorMargin={6} styles={{ root: { flexWrap: "wrap" } }}>
          {crumbs.map((crumb, i) =>
            i === crumbs.length - 1 ? (
              <Text key={crumb.path} fw={600} size="sm" aria-current="location">
                {crumb.label}
              </Text>
            ) : (
              <Anchor key={crumb.path} component="button" type="button" size="sm" onClick={() => setFolder(crumb.path)}>
                {crumb.label}
              </Anchor>
            ),
          )}
        </Breadcrumbs>
      </nav>
      <ScrollArea.Autosize mah={280} type="auto">
        {listing.isPending ? (
          <Loader size="sm" aria-label="Loading folders" />
        ) : listing.error ? (
          <Alert color="red" variant="light" role="alert">
            This folder could not be opened: {errorMessage(listing.error)}
          </Alert>
        ) : folders.length === 0 ? (
          <Text size="sm" c="dimmed">
            No folders in here.
          </Text>
        ) : (
          <nav aria-label="Folders">
            {folders.map((f) => (
              <NavLink key={f.path} component="button" type="button" label={f.name} title={`Open ${f.name}`} leftSection={<IconFolder size={16} aria-hidden />} onClick={() => setFolder(f.path)} />
            ))}
          </nav>
        )}
      </ScrollArea.Autosize>
      <Text size="sm">
        {here ? (
          <>
            <b>{entry.name}</b> is in {where} now: pick the folder to move it to.
          </>
        ) : (
          <>
            <b>{entry.name}</b> will move to <b>{where}</b>.
          </>
        )}
      </Text>
      <DialogActions error={error} onCancel={onClose}>
        <Button loading={pending} disabled={here || !!listing.error} onClick={() => onMove(entry, joinPath(folder, entry.name))}>
          Move here
        </Button>
      </DialogActions>
    </Stack>
  );
}
