"use client";
// The Files page's dialogs. Each shows its own error, so a refused name is explained where it was typed.
import { Button, Group, Modal, Stack, Text, TextInput } from "@mantine/core";
import { useEffect, useRef, useState, type FormEvent, type ReactNode } from "react";
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
  /** Running kernels of the notebooks it deletes: stopped with them. */
  runningKernels?: number;
  pending: boolean;
  error: unknown;
  onConfirm(entry: FileEntry): void;
  onClose(): void;
}

/** The last non-null value: a dialog keeps showing its entry while it animates closed, so its text does not vanish. */
export function useLastShown<T>(value: T | null): T | null {
  const [shown, setShown] = useState(value);
  useEffect(() => {
    if (value !== null) setShown(value);
  }, [value]);
  return shown;
}

/** A dialog's foot: the error of its last try (where the user acted), then Cancel and its own action. */
export function DialogActions({ error, onCancel, children }: { error: unknown; onCancel(): void; children: ReactNode }) {
  return (
    <>
      {error ? (
        <WrappingAlert color="red" variant="light" role="alert">
          {errorMessage(error)}
        </WrappingAlert>
      ) : null}
      <Group justify="flex-end">
        <Button variant="default" onClick={onCancel}>
          Cancel
        </Button>
        {children}
      </Group>
    </>
  );
}

export function DeleteDialog({ entry, runningKernels = 0, pending, error, onConfirm, onClose }: DeleteDialogProps) {
  const shown = useLastShown(entry);
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
        {runningKernels > 0 && (
          <Text size="sm">
            {folder
              ? `${runningKernels === 1 ? "A notebook in it has a running kernel" : `${runningKernels} notebooks in it have running kernels`}: ${runningKernels === 1 ? "it is" : "they are"} stopped too.`
              : "Its kernel is running: it is stopped too."}
          </Text>
        )}
        <DialogActions error={error} onCancel={onClose}>
          <Button color="red" loading={pending} onClick={() => entry && onConfirm(entry)}>
            Delete
          </Button>
        </DialogActions>
      </Stack>
    </Modal>
  );
}
