"use client";
// What every editing page shows and does about saving, on top of a DocumentSaver: its state as one quiet line
// ("Saved 12:04", "Unsaved changes", ...), and the browser's own question before a tab with unsaved edits closes.
import { useEffect, useSyncExternalStore } from "react";
import { shortFileTime } from "../files/paths";
import type { SaveState, Saver } from "./document-saver";

export function useSaveState(saver: Saver): SaveState {
  return useSyncExternalStore(saver.subscribe, saver.getState, saver.getState);
}

export function saveStatusText(state: SaveState): string {
  if (state.error) return `Not saved: ${state.error}`;
  if (state.saving) return "Saving…";
  if (state.conflict) return "Changed on disk";
  if (state.dirty) return "Unsaved changes";
  return state.savedAt ? `Saved ${shortFileTime(state.savedAt)}` : "Saved";
}

/** The save state as a live status (screen readers hear it change; tests read it by its name). */
export function SaveStatus({ saver }: { saver: Saver }) {
  const state = useSaveState(saver);
  return (
    <span data-testid="save-state" role="status" aria-label="Save status" aria-live="polite" style={{ color: state.error ? "var(--mantine-color-red-7)" : undefined }}>
      {saveStatusText(state)}
    </span>
  );
}

/**
 * Closing the tab or leaving the portal with edits not yet saved asks first (the browser's own question), and
 * starts the save at once, so staying finds it done.
 */
export function useLeaveGuard(saver: Saver | null) {
  useEffect(() => {
    if (!saver) return;
    const warn = (event: BeforeUnloadEvent) => {
      if (!saver.hasUnsavedEdits()) return;
      event.preventDefault();
      event.returnValue = "";
      if (!saver.state.conflict) void saver.save();
    };
    window.addEventListener("beforeunload", warn);
    return () => window.removeEventListener("beforeunload", warn);
  }, [saver]);
}

/**
 * Ctrl+S (Cmd+S) saves the open document wherever the focus is on the page (an editor, a button, the page itself),
 * never the browser's "Save page as".
 */
export function useSaveShortcut(saver: Saver | null) {
  useEffect(() => {
    if (!saver) return;
    const onKey = (event: KeyboardEvent) => {
      if ((event.ctrlKey || event.metaKey) && !event.altKey && event.key.toLowerCase() === "s") {
        event.preventDefault();
        event.stopPropagation();
        void saver.save();
      }
    };
    window.addEventListener("keydown", onKey, true);
    return () => window.removeEventListener("keydown", onKey, true);
  }, [saver]);
}
