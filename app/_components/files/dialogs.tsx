"use client";
// The Files page's dialogs. Each shows its own error, so a refused name is explained where it was typed.
import { Button, Group, Modal, Stack, Text, TextInput } from "@mantine/core";
import { useEffect, useRef, useState, type FormEvent } from "react";
import { errorMessage } from "@/app/_lib/trpc";
import { nameProblem } from "./paths";
import type { FileEntry } from "./types";
import { WrappingAlert } from "./wrapping-alert";

interface NameDialogProps {
  opened: boolean;
  title: string;
  label: string;
  submitLabel: string;
  initialName: string;
  /** Selects the name without its extension, as file managers do on rename. */
  selectStem?: boolean;
  pending: boolean;
  error: unknown;
  onSubmit(name: string): void;
  onClose(): void;
}

export function NameDialog(props: NameDialogProps) {
  return (
    <Modal opened={props.opened} onClose={props.onClose} title={props.title}>
      {/* Keyed so each opening starts from the initial name, with no stale text from the last time. */}
      <NameForm key={props.initialName} {...props} />
    </Modal>
  );
}

function NameForm({ label, submitLabel, initialName, selectStem, pending, error, onSubmit, onClose }: NameDialogProps) {
  const [name, setName] = useState(initialName);
  const [problem, setProblem] = useState<string | null>(null);
  const selected = useRef(false);

  const submit = (event: FormEvent) => {
    event.preventDefault();
    // Spaces around a typed name are a slip; a name left as it was keeps its own (QA: renaming " a.txt" unchanged
    // renamed it to "a.txt").
    const chosen = name === initialName ? name : name.trim();
    const refused = nameProblem(chosen);
    if (refused) return setProblem(refused);
    setProblem(null);
    onSubmit(chosen);
  };

  const shown = problem ?? (error ? errorMessage(error) : null);
  return (
    <form onSubmit={submit}>
      <Stack>
        <TextInput
          label={label}
          value={name}
          onChange={(e) => {
            setName(e.currentTarget.value);
            setProblem(null);
          }}
          onFocus={(e) => {
            if (selected.current) return;
            selected.current = true;
            const el = e.currentTarget;
            const dot = el.value.lastIndexOf(".");
            el.setSelectionRange(0, selectStem && dot > 0 ? dot : el.value.length);
          }}
          data-autofocus
          error={shown ? true : undefined}
          spellCheck={false}
          autoComplete="off"
        />
        {shown && (
          <WrappingAlert color="red" variant="light" role="alert">
            {shown}
          </WrappingAlert>
        )}
        <Group justify="flex-end">
          <Button variant="default" onClick={onClose}>
            Cancel
          </Button>
          <Button type="submit" loading={pending}>
            {submitLabel}
          </Button>
        </Group>
      </Stack>
    </form>
  );
}

interface DeleteDialogProps {
  entry: FileEntry | null;
  pending: boolean;
  error: unknown;
  onConfirm(entry: FileEntry): void;
  onClose(): void;
}

export function DeleteDialog({ entry, pending, error, onConfirm, onClose }: DeleteDialogProps) {
  // Keep the last entry while the modal animates closed, so its text does not vanish mid-transition.
  const [shown, setShown] = useState(entry);
  useEffect(() => {
    if (entry) setShown(entry);
  }, [entry]);
  const folder = shown?.type === "directory";
  return (
    <Modal opened={entry !== null} onClose={onClose} title={folder ? "Delete folder?" : "Delete file?"}>
      <Stack>
        <Text size="sm">
          {folder ? (
            <>
              The folder <b>{shown?.name}</b> and everything in it will be deleted. This cannot be undone.
            </>
          ) : (
            <>
              <b>{shown?.name}</b> will be deleted. This cannot be undone.
            </>
          )}
        </Text>
        {error ? (
          <WrappingAlert color="red" variant="light" role="alert">
            {errorMessage(error)}
          </WrappingAlert>
        ) : null}
        <Group justify="flex-end">
          <Button variant="default" onClick={onClose}>
            Cancel
          </Button>
          <Button color="red" loading={pending} onClick={() => entry && onConfirm(entry)}>
            Delete
          </Button>
        </Group>
      </Stack>
    </Modal>
  );
}
