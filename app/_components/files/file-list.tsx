"use client";
// The folder's entries as an accessible table, virtualized so a folder of 10,000 files renders only the
// rows in view. Accepts files dropped onto it.
import { ActionIcon, Center, EmptyState, Loader, Text, UnstyledButton, VisuallyHidden } from "@mantine/core";
import { IconArrowDown, IconArrowUp, IconDownload, IconFile, IconFolderFilled, IconFolderShare, IconNotebook, IconPencil, IconTrash, IconUpload } from "@tabler/icons-react";
import { useVirtualizer } from "@tanstack/react-virtual";
import Link from "next/link";
import { useRef, useState, type DragEvent, type ReactNode } from "react";
import { formatBytes } from "@/server/files/format";
import classes from "./file-list.module.css";
import { fileTimeFormat, folderHref, isNotebook, notebookHref, viewHref } from "./paths";
import type { FileEntry, Sort, SortKey } from "./types";

const ROW_HEIGHT = 40;
const HEADER_HEIGHT = 36;

export interface DroppedFiles {
  files: File[];
  /** Things that were dropped but cannot be uploaded (folders), with the reason. */
  refused: { name: string; reason: string }[];
}

interface Props {
  label: string;
  entries: FileEntry[] | undefined;
  loading: boolean;
  /** Replaces the table (an error, with what to do next). */
  problem?: ReactNode;
  sort: Sort;
  onSort(key: SortKey): void;
  onRename(entry: FileEntry): void;
  onMove(entry: FileEntry): void;
  onDownload(entry: FileEntry): void;
  onDelete(entry: FileEntry): void;
  onDrop(dropped: DroppedFiles): void;
  dropTargetName: string;
}

export function FileList({ label, entries, loading, problem, sort, onSort, onRename, onMove, onDownload, onDelete, onDrop, dropTargetName }: Props) {
  const scroller = useRef<HTMLDivElement>(null);
  const [dragging, setDragging] = useState(false);
  const depth = useRef(0);
  const count = entries?.length ?? 0;
  const virtualizer = useVirtualizer({
    count,
    getScrollElement: () => scroller.current,
    estimateSize: () => ROW_HEIGHT,
    overscan: 10,
    scrollMargin: HEADER_HEIGHT,
    getItemKey: (index) => entries?.[index]?.path ?? index,
  });

  const hasFiles = (event: DragEvent) => Array.from(event.dataTransfer.types).includes("Files");
  const dragHandlers = {
    onDragEnter(event: DragEvent) {
      if (!hasFiles(event)) return;
      event.preventDefault();
      depth.current++;
      setDragging(true);
    },
    onDragOver(event: DragEvent) {
      if (!hasFiles(event)) return;
      event.preventDefault();
      event.dataTransfer.dropEffect = "copy";
    },
    onDragLeave() {
      depth.current = Math.max(0, depth.current - 1);
      if (depth.current === 0) setDragging(false);
    },
    onDrop(event: DragEvent) {
      event.preventDefault();
      depth.current = 0;
      setDragging(false);
      onDrop(readDrop(event.dataTransfer));
    },
  };

  let body: ReactNode;
  if (problem) body = <div style={{ padding: 16 }}>{problem}</div>;
  else if (loading || !entries)
    body = (
      <Center h={160}>
        <Loader size="sm" aria-label="Loading the folder" />
      </Center>
    );
  else if (entries.length === 0)
    body = (
      <Center h="100%" mih={220}>
        <EmptyState icon={<IconUpload size={22} />} title="This folder is empty" description="Drop files here, or use Upload. New notebook starts a notebook in this folder." />
      </Center>
    );
  else
    body = (
      <div ref={scroller} className={classes.scroller} role="table" aria-label={label} aria-rowcount={count + 1}>
        <div role="rowgroup" className={classes.header}>
          <div role="row" aria-rowindex={1} className={`${classes.row} ${classes.header}`}>
            <SortHeader label="Name" sortKey="name" sort={sort} onSort={onSort} />
            <SortHeader label="Size" sortKey="size" sort={sort} onSort={onSort} align="right" />
            <SortHeader label="Modified" sortKey="modified" sort={sort} onSort={onSort} className={classes.modifiedHeader} />
            <div role="columnheader" style={{ textAlign: "right" }}>
              <VisuallyHidden>Actions</VisuallyHidden>
            </div>
          </div>
        </div>
        <div role="rowgroup" className={classes.body} style={{ height: virtualizer.getTotalSize(), position: "relative" }}>
          {virtualizer.getVirtualItems().map((item) => {
            const entry = entries[item.index]!;
            return (
              <div
                key={item.key}
                role="row"
                aria-rowindex={item.index + 2}
                className={classes.row}
                style={{ position: "absolute", top: 0, left: 0, width: "100%", transform: `translateY(${item.start - HEADER_HEIGHT}px)` }}
              >
                <EntryRow entry={entry} onRename={onRename} onMove={onMove} onDownload={onDownload} onDelete={onDelete} />
              </div>
            );
          })}
        </div>
      </div>
    );

  return (
    <div className={classes.frame} {...dragHandlers}>
      {body}
      {dragging && (
        <div className={classes.dropOverlay} aria-hidden>
          <Text fw={600}>Drop to upload to {dropTargetName}</Text>
        </div>
      )}
    </div>
  );
}

/**
 * A sortable column's header: aria-sort on the header, one button inside it. The button fills the whole cell, so
 * a click anywhere in the header sorts (it used to be only the label's width), and it stays the one thing to focus.
 */
function SortHeader({ label, sortKey, sort, onSort, align, className }: { label: string; sortKey: SortKey; sort: Sort; onSort(key: SortKey): void; align?: "right"; className?: string }) {
  const active = sort.key === sortKey;
  const Arrow = sort.direction === "ascending" ? IconArrowUp : IconArrowDown;
  return (
    <div role="columnheader" aria-sort={active ? sort.direction : "none"} className={`${classes.sortHeader} ${className ?? ""}`}>
      <UnstyledButton className={classes.sortButton} data-align={align} onClick={() => onSort(sortKey)} title={`Sort by ${label.toLowerCase()}`}>
        {label}
        {active && <Arrow size={12} aria-hidden />}
      </UnstyledButton>
    </div>
  );
}

function EntryRow({ entry, onRename, onMove, onDownload, onDelete }: { entry: FileEntry } & Pick<Props, "onRename" | "onMove" | "onDownload" | "onDelete">) {
  const folder = entry.type === "directory";
  const notebook = !folder && isNotebook(entry.name);
  const Icon = folder ? IconFolderFilled : notebook ? IconNotebook : IconFile;
  const iconColor = folder ? "var(--mantine-color-yellow-6)" : notebook ? "var(--mantine-color-orange-6)" : "var(--mantine-color-dimmed)";
  return (
    <>
      <div role="cell" className={classes.name}>
        <Icon size={18} color={iconColor} aria-hidden style={{ flex: "none" }} />
        {folder ? (
          <Link className={classes.nameLink} href={folderHref(entry.path)} title={entry.name}>
            {entry.name}
          </Link>
        ) : notebook ? (
          <Link className={classes.nameLink} href={notebookHref(entry.path)} title={entry.name}>
            {entry.name}
          </Link>
        ) : (
          // Any other file opens in the viewer (text, tables, images); Download is the row action.
          <Link className={classes.nameLink} href={viewHref(entry.path)} title={entry.name}>
            {entry.name}
          </Link>
        )}
      </div>
      <div role="cell" className={classes.numeric}>
        {folder ? "—" : formatBytes(entry.size)}
      </div>
      <div role="cell" className={classes.modified} title={entry.mtime.toISOString()}>
        {fileTimeFormat.format(entry.mtime)}
      </div>
      <div role="cell" className={classes.actions}>
        <ActionIcon variant="subtle" color="gray" aria-label="Rename" title={`Rename ${entry.name}`} onClick={() => onRename(entry)}>
          <IconPencil size={16} />
        </ActionIcon>
        <ActionIcon variant="subtle" color="gray" aria-label="Move" title={`Move ${entry.name} to another folder`} onClick={() => onMove(entry)}>
          <IconFolderShare size={16} />
        </ActionIcon>
        {folder ? (
          // A folder can't be downloaded: no button (a disabled one read as pressed), only its room, so the
          // Delete buttons stay in one column.
          <span className={classes.actionSpace} aria-hidden />
        ) : (
          <ActionIcon variant="subtle" color="gray" aria-label="Download" title={`Download ${entry.name}`} onClick={() => onDownload(entry)}>
            <IconDownload size={16} />
          </ActionIcon>
        )}
        <ActionIcon variant="subtle" color="red" aria-label="Delete" title={`Delete ${entry.name}`} onClick={() => onDelete(entry)}>
          <IconTrash size={16} />
        </ActionIcon>
      </div>
    </>
  );
}

function readDrop(transfer: DataTransfer): DroppedFiles {
  const files: File[] = [];
  const refused: DroppedFiles["refused"] = [];
  const items = Array.from(transfer.items ?? []);
  if (items.length > 0) {
    for (const item of items) {
      if (item.kind !== "file") continue;
      const file = item.getAsFile();
      const asEntry = typeof item.webkitGetAsEntry === "function" ? item.webkitGetAsEntry() : null;
      if (asEntry?.isDirectory) {
        refused.push({ name: asEntry.name, reason: `${asEntry.name} is a folder. Folders cannot be uploaded yet; create the folder with New folder and drop the files inside it.` });
      } else if (file) files.push(file);
    }
  } else {
    files.push(...Array.from(transfer.files));
  }
  return { files, refused };
}
