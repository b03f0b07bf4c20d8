"use client";
// One line per upload: name, a progress bar, where it stands, and what the user can do next.
import { ActionIcon, Box, Button, Group, Paper, Progress, Stack, Text } from "@mantine/core";
import { IconCheck, IconX } from "@tabler/icons-react";
import { formatBytes } from "@/server/files/format";
import type { Upload } from "./use-uploads";

interface Props {
  uploads: Upload[];
  onCancel(id: number): void;
  onReplace(id: number): void;
  onRetry(id: number): void;
  onDismiss(id: number): void;
  onClearFinished(): void;
  canRetry(id: number): boolean;
}

export function UploadPanel({ uploads, onCancel, onReplace, onRetry, onDismiss, onClearFinished, canRetry }: Props) {
  if (uploads.length === 0) return null;
  const active = uploads.filter((u) => u.status === "queued" || u.status === "uploading").length;
  return (
    <Paper withBorder p="xs" radius="sm" component="section" aria-label="Uploads">
      <Group justify="space-between" mb={6}>
        <Text size="sm" fw={600}>
          {active > 0 ? `Uploading ${active} of ${uploads.length}` : "Uploads"}
        </Text>
        <Button size="compact-xs" variant="subtle" color="gray" onClick={onClearFinished} disabled={active === uploads.length}>
          Clear finished
        </Button>
      </Group>
      {/* A plain box, not ScrollArea: its table-like content grew as wide as the longest name, so a sideways scroll
          hid every row's status (QA). Here a long name is cut in its row. */}
      <Box mah={180} style={{ overflowY: "auto", overflowX: "hidden" }}>
        <Stack gap={6}>
          {uploads.map((u) => (
            <UploadRow key={u.id} upload={u} {...{ onCancel, onReplace, onRetry, onDismiss }} retryable={canRetry(u.id)} />
          ))}
        </Stack>
      </Box>
    </Paper>
  );
}

function UploadRow({ upload: u, onCancel, onReplace, onRetry, onDismiss, retryable }: { upload: Upload; retryable: boolean } & Pick<Props, "onCancel" | "onReplace" | "onRetry" | "onDismiss">) {
  const percent = u.status === "done" ? 100 : u.size > 0 ? Math.min(100, Math.floor((u.loaded / u.size) * 100)) : 0;
  const color = u.status === "failed" ? "red" : u.status === "done" ? "teal" : u.status === "cancelled" ? "gray" : undefined;
  return (
    <div role="group" aria-label={`Upload of ${u.name}`}>
      <Group gap="xs" wrap="nowrap" justify="space-between">
        <Text size="sm" truncate="end" style={{ flex: 1, minWidth: 0 }} title={u.name}>
          {u.name}
        </Text>
        <Text size="xs" c={color ?? "dimmed"} style={{ whiteSpace: "nowrap" }} aria-live="polite">
          {u.status === "done" ? (
            <Group gap={4} component="span">
              <IconCheck size={12} /> Uploaded
            </Group>
          ) : u.status === "uploading" ? (
            `${formatBytes(u.loaded)} of ${formatBytes(u.size)}`
          ) : u.status === "queued" ? (
            "Waiting"
          ) : u.status === "cancelled" ? (
            "Cancelled"
          ) : (
            "Not uploaded"
          )}
        </Text>
        {u.status === "failed" && u.exists && (
          <Button size="compact-xs" variant="light" color="red" onClick={() => onReplace(u.id)}>
            Replace
          </Button>
        )}
        {u.status === "failed" && !u.exists && retryable && (
          <Button size="compact-xs" variant="light" onClick={() => onRetry(u.id)}>
            Retry
          </Button>
        )}
        {u.status === "uploading" || u.status === "queued" ? (
          <ActionIcon size="sm" variant="subtle" color="gray" aria-label={`Cancel upload of ${u.name}`} onClick={() => (u.status === "queued" ? onDismiss(u.id) : onCancel(u.id))}>
            <IconX size={14} />
          </ActionIcon>
        ) : (
          <ActionIcon size="sm" variant="subtle" color="gray" aria-label={`Dismiss ${u.name}`} onClick={() => onDismiss(u.id)}>
            <IconX size={14} />
          </ActionIcon>
        )}
      </Group>
      <Progress.Root size="sm" mt={4}>
        <Progress.Section value={percent} color={color} aria-label={`Upload progress for ${u.name}`} animated={u.status === "uploading"} striped={u.status === "uploading"} />
      </Progress.Root>
      {u.error && (
        <Text size="xs" c="red" mt={2} role="alert" style={{ overflowWrap: "anywhere" }}>
          {u.error}
        </Text>
      )}
    </div>
  );
}
