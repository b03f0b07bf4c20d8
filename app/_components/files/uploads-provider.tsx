"use client";
// The upload queue lives with the portal's shell, not with one folder's page: uploads go on while the analyst opens
// another folder, a notebook or any other page, and the Files page shows them wherever it is. Closing or reloading
// the tab while files are still uploading asks first (the browser's own "leave site?" prompt).
import { useQueryClient } from "@tanstack/react-query";
import { createContext, useContext, useEffect, type ReactNode } from "react";
import { useTRPC } from "@/app/_lib/trpc";
import { useUploads } from "./use-uploads";

type UploadQueue = ReturnType<typeof useUploads>;

const Uploads = createContext<UploadQueue | null>(null);

export function UploadsProvider({ maxUploadBytes, children }: { maxUploadBytes: number; children: ReactNode }) {
  const trpc = useTRPC();
  const queryClient = useQueryClient();
  // A file that landed refreshes its folder's listing, whichever folder is on screen.
  const queue = useUploads({ maxUploadBytes, onUploaded: (dir) => void queryClient.invalidateQueries({ queryKey: trpc.files.list.queryKey({ path: dir }) }) });
  const busy = queue.uploads.some((u) => u.status === "queued" || u.status === "uploading");
  useEffect(() => {
    if (!busy) return;
    const warn = (event: BeforeUnloadEvent) => event.preventDefault();
    window.addEventListener("beforeunload", warn);
    return () => window.removeEventListener("beforeunload", warn);
  }, [busy]);
  return <Uploads.Provider value={queue}>{children}</Uploads.Provider>;
}

export function useUploadQueue(): UploadQueue {
  const queue = useContext(Uploads);
  if (!queue) throw new Error("useUploadQueue outside the portal shell");
  return queue;
}
