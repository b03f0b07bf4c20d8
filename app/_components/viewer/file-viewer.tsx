"use client";
// A file in the home folder: text (in an editor when the preview holds all of it, text-editor.tsx), a CSV/TSV
// table, an image, or a plain "can't be shown here".
// Breadcrumbs, size, modified date and Download on top; the content fills the rest of the page. What to show is
// the files.preview procedure's call (it reads at most the first PREVIEW_BYTES); the bytes of a download or an
// image come from the same route as Download in Files, so the same session, home and path rules apply.
import { Anchor, Button, Center, EmptyState, Group, Loader, Stack, Switch, Text, VisuallyHidden } from "@mantine/core";
import { IconDownload, IconFileOff } from "@tabler/icons-react";
import { useQuery } from "@tanstack/react-query";
import Link from "next/link";
import { useRouter } from "next/navigation";
import { useEffect, useMemo, useState, type ReactNode } from "react";
import { FileBreadcrumbs } from "@/app/_components/files/breadcrumbs";
import { contentUrl, folderHref, isNotebook } from "@/app/_components/files/paths";
import { WrappingAlert } from "@/app/_components/files/wrapping-alert";
import { downloadUrl } from "@/app/_lib/download";
import { errorMessage, useTRPC } from "@/app/_lib/trpc";
import { formatBytes } from "@/server/files/format";
import { quotePath } from "@/server/storage/errors";
import type { FilePreview } from "@/server/trpc/routers/files";
import { ImageView } from "./image-view";
import { fileTimeFormat, parentOf } from "@/app/_components/files/paths";
import { TableView, parseForTable, rowsShown } from "./table-view";
import { TextEditor } from "./text-editor";
import { TextView } from "./text-view";
import classes from "./viewer.module.css";


export function FileViewer({ path }: { path: string }) {
  const trpc = useTRPC();
  const router = useRouter();
  const name = path.slice(path.lastIndexOf("/") + 1);
  const preview = useQuery(trpc.files.preview.queryOptions({ path }, { staleTime: 2_000 }));
  const data = preview.data;
  // An editor shows the file as it opened it; Reload (after a change on disk) opens it afresh.
  const [generation, setGeneration] = useState(0);
  const reload = () => void preview.refetch().then(() => setGeneration((n) => n + 1));

  // A folder's address under /view: show it where folders are shown.
  useEffect(() => {
    if (data?.kind === "directory") router.replace(folderHref(path));
  }, [data?.kind, path, router]);

  const download = () => downloadUrl(contentUrl(path), name);

  let body: ReactNode;
  if (preview.error) body = <OpenError name={name} path={path} error={preview.error} onRetry={() => void preview.refetch()} />;
  else if (!data || data.kind === "directory")
    body = (
      <Center h={160}>
        <Loader size="sm" aria-label={`Loading ${name}`} />
      </Center>
    );
  else body = <Content path={path} name={name} preview={data} generation={generation} onReload={reload} />;

  const file = data && data.kind !== "directory" ? data.entry : undefined;
  return (
    <Stack gap="sm" style={{ height: "calc(100dvh - var(--app-shell-header-height, 52px) - 2 * var(--mantine-spacing-md))" }}>
      <VisuallyHidden component="h1">{name}</VisuallyHidden>
      <Group justify="space-between" wrap="wrap" gap="sm">
        <FileBreadcrumbs path={path} />
        {file && (
          <Group gap="md" wrap="nowrap">
            <Text size="sm" c="dimmed" style={{ whiteSpace: "nowrap" }}>
              {formatBytes(file.size)} · <span title={file.mtime.toISOString()}>Modified {fileTimeFormat.format(file.mtime)}</span>
            </Text>
            <Button variant="default" leftSection={<IconDownload size={16} />} onClick={download} title={`Download ${name}`}>
              Download
            </Button>
          </Group>
        )}
      </Group>
      <section className={classes.body} aria-label={name}>
        {body}
      </section>
    </Stack>
  );
}

type Shown = Exclude<FilePreview, { kind: "directory" }>;

function Content({ path, name, preview, generation, onReload }: { path: string; name: string; preview: Shown; generation: number; onReload(): void }) {
  switch (preview.kind) {
    case "image":
      return <ImageView path={path} name={name} svg={preview.svg} />;
    case "binary":
      return (
        <Center mih={220}>
          <EmptyState
            icon={<IconFileOff size={22} />}
            title="This file can't be shown here"
            description={preview.reason ?? `${name} is not text or an image. Download it to open it in a program that reads this kind of file.`}
          />
        </Center>
      );
    case "csv":
    case "tsv":
      return <DelimitedContent path={path} name={name} preview={preview} delimiter={preview.kind === "csv" ? "," : "\t"} />;
    case "text":
      if (!preview.truncated && !isNotebook(name)) return <TextEditor key={`${path}:${generation}`} path={path} name={name} text={preview.text} mtime={preview.entry.mtime} onReload={onReload} />;
      return (
        <>
          {preview.truncated && <CutNote path={path} name={name} preview={preview} />}
          <TextView name={name} text={preview.text} />
        </>
      );
  }
}

type TextPreview = Extract<FilePreview, { kind: "text" | "csv" | "tsv" }>;

function DelimitedContent({ path, name, preview, delimiter }: { path: string; name: string; preview: TextPreview; delimiter: string }) {
  const [asText, setAsText] = useState(false);
  const table = useMemo(() => parseForTable(preview.text, delimiter, preview.truncated), [preview.text, delimiter, preview.truncated]);
  let note: ReactNode = null;
  if (asText) note = preview.truncated ? <CutNote path={path} name={name} preview={preview} /> : null;
  else if (preview.truncated || table.moreRows)
    note = (
      <Text size="sm" c="dimmed">
        Showing the first {rowsShown(table.rows.length)}
        {preview.truncated ? `, from the first ${formatBytes(preview.previewBytes)} of ${formatBytes(preview.entry.size)}` : ""} —{" "}
        <DownloadAnchor path={path} name={name} />
      </Text>
    );
  else if (table.columns > 0)
    note = (
      <Text size="sm" c="dimmed">
        {rowsShown(table.rows.length)}
      </Text>
    );
  return (
    <>
      <Group justify="space-between" gap="sm" wrap="wrap">
        <div style={{ minWidth: 0 }}>{note}</div>
        <Switch label="Show as text" checked={asText} onChange={(event) => setAsText(event.currentTarget.checked)} size="sm" />
      </Group>
      {asText ? <TextView name={name} text={preview.text} /> : <TableView name={name} table={table} />}
    </>
  );
}

function CutNote({ path, name, preview }: { path: string; name: string; preview: TextPreview }) {
  return (
    <Text size="sm" c="dimmed">
      Showing the first {formatBytes(preview.previewBytes)} of {formatBytes(preview.entry.size)} — <DownloadAnchor path={path} name={name} />
    </Text>
  );
}

function DownloadAnchor({ path, name }: { path: string; name: string }) {
  return (
    <Anchor href={contentUrl(path)} download={name} size="sm">
      Download the whole file
    </Anchor>
  );
}

function OpenError({ name, path, error, onRetry }: { name: string; path: string; error: unknown; onRetry(): void }) {
  const appCode = (error as { data?: { appCode?: unknown } } | null)?.data?.appCode;
  const missing = appCode === "NOT_FOUND";
  const folder = parentOf(path);
  return (
    <WrappingAlert color="red" variant="light" title={missing ? `${quotePath(name)} doesn't exist` : `${quotePath(name)} could not be opened`} role="alert" maw={720}>
      <Stack gap="xs">
        <span>{missing ? "It may have been renamed, moved or deleted. Its folder shows what is there now." : errorMessage(error)}</span>
        <Group gap="md">
          <Anchor component={Link} href={folderHref(folder)} size="sm">
            Back to Files
          </Anchor>
          {!missing && (
            <Anchor component="button" type="button" size="sm" onClick={onRetry}>
              Try again
            </Anchor>
          )}
        </Group>
      </Stack>
    </WrappingAlert>
  );
}
