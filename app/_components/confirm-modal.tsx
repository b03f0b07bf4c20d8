"use client";
// A destructive action asked once more: what will happen, Cancel, and a red button named for the action.
import { Button, Group, Modal, Text } from "@mantine/core";
import type { ReactNode } from "react";

interface Props {
  opened: boolean;
  title: string;
  children: ReactNode;
  /** The confirm button's name, e.g. "Revoke token". */
  confirmLabel: string;
  pending?: boolean;
  onConfirm: () => void;
  onClose: () => void;
  /**
   * Where the keyboard starts: Cancel (the default: Enter on a destructive question does nothing), or the confirm
   * button where the action is routine and asked by a keyboard flow (Jupyter's "0 0" then Enter restarts).
   */
  initialFocus?: "cancel" | "confirm";
}

export function ConfirmModal({ opened, title, children, confirmLabel, pending, onConfirm, onClose, initialFocus = "cancel" }: Props) {
  return (
    <Modal opened={opened} onClose={onClose} title={title} centered>
      <Text size="sm">{children}</Text>
      <Group justify="flex-end" mt="lg">
        <Button variant="default" onClick={onClose} data-autofocus={initialFocus === "cancel" || undefined}>
          Cancel
        </Button>
        <Button color="red" loading={pending} onClick={onConfirm} data-autofocus={initialFocus === "confirm" || undefined}>
          {confirmLabel}
        </Button>
      </Group>
    </Modal>
  );
}
