"use client";
// The upload queue: each file is PUT as the raw request body (the browser streams it from disk, so neither
// side holds it whole), at most a few at a time, with progress from XMLHttpRequest (fetch has no upload
// progress). Oversized files are refused before a byte is sent.
import { pageUserHeaders, reportSessionEnded } from "@/app/_lib/session-ended";
import { useCallback, useEffect, useRef, useState } from "react";
import { formatBytes } from "@/server/files/format";
import { contentUrl, hasSeparator, joinPath } from "./paths";

const PARALLEL = 3;

export type UploadStatus = "queued" | "uploading" | "done" | "failed" | "cancelled";

export interface Upload {
  id: number;
  name: string;
  /** Folder it goes to. */
  dir: string;
  size: number;
  loaded: number;
  status: UploadStatus;
  error?: string;
  /** The name is taken: the user may choose to replace the file. */
  exists?: boolean;
  overwrite?: boolean;
}

interface Options {
  maxUploadBytes: number;
  /** Called when a file has landed in `dir`, to refresh that folder. */
  onUploaded: (dir: string) => void;
}

let nextId = 1;

export function useUploads({ maxUploadBytes, onUploaded }: Options) {
  const [uploads, setUploads] = useState<Upload[]>([]);
  const files = useRef(new Map<number, File>());
  const requests = useRef(new Map<number, XMLHttpRequest>());
  const onUploadedRef = useRef(onUploaded);
  onUploadedRef.current = onUploaded;

  const update = useCallback((id: number, patch: Partial<Upload>) => setUploads((all) => all.map((u) => (u.id === id ? { ...u, ...patch } : u))), []);

  const send = useCallback(
    (upload: Upload) => {
      const file = files.current.get(upload.id);
      if (!file) return;
      const xhr = new XMLHttpRequest();
      requests.current.set(upload.id, xhr);
      xhr.open("PUT", contentUrl(joinPath(upload.dir, upload.name), { overwrite: upload.overwrite }));
      xhr.setRequestHeader("accept", "application/json");
      xhr.setRequestHeader("content-type", "application/octet-stream");
      for (const [name, value] of Object.entries(pageUserHeaders())) xhr.setRequestHeader(name, value);
      xhr.upload.onprogress = (event) => update(upload.id, { loaded: event.loaded });
      xhr.onload = () => {
        requests.current.delete(upload.id);
        if (xhr.status === 201) {
          files.current.delete(upload.id);
          update(upload.id, { status: "done", loaded: upload.size, error: undefined, exists: false });
          onUploadedRef.current(upload.dir);
          return;
        }
        if (xhr.status === 401) reportSessionEnded();
        update(upload.id, { status: "failed", error: serverMessage(xhr), exists: xhr.status === 409 });
      };
      xhr.onerror = () => {
        requests.current.delete(upload.id);
        update(upload.id, { status: "failed", error: "The connection was lost during the upload. Check your network, then retry." });
      };
      xhr.onabort = () => {
        requests.current.delete(upload.id);
        files.current.delete(upload.id);
        update(upload.id, { status: "cancelled" });
      };
      update(upload.id, { status: "uploading", loaded: 0, error: undefined });
      xhr.send(file);
    },
    [update],
  );

  // Start queued uploads whenever a slot is free.
  useEffect(() => {
    const running = uploads.filter((u) => u.status === "uploading").length;
    const waiting = uploads.filter((u) => u.status === "queued").slice(0, Math.max(0, PARALLEL - running));
    for (const upload of waiting) send(upload);
  }, [uploads, send]);

  // Leaving the portal (signing out) cancels what is still in flight (the server then discards the partial file).
  useEffect(() => {
    const inFlight = requests.current;
    return () => inFlight.forEach((xhr) => xhr.abort());
  }, []);

  const add = useCallback(
    (picked: readonly File[], dir: string, refused: readonly { name: string; reason: string }[] = []) => {
      const added: Upload[] = [];
      for (const file of picked) {
        const upload: Upload = { id: nextId++, name: file.name, dir, size: file.size, loaded: 0, status: "queued" };
        if (hasSeparator(file.name)) {
          // It would land in another folder (QA: "back\\slash.txt" was refused as "back does not exist").
          upload.status = "failed";
          upload.error = `${file.name} can't be uploaded under that name: a name here cannot contain "\\" or "/". Rename it on your computer, then upload it.`;
        } else if (file.size > maxUploadBytes) {
          upload.status = "failed";
          upload.error = `${file.name} is ${formatBytes(file.size)}; the largest upload allowed is ${formatBytes(maxUploadBytes)}. Split it, or ask an administrator how to bring in large data.`;
        } else {
          files.current.set(upload.id, file);
        }
        added.push(upload);
      }
      for (const { name, reason } of refused) added.push({ id: nextId++, name, dir, size: 0, loaded: 0, status: "failed", error: reason });
      setUploads((all) => [...all, ...added]);
    },
    [maxUploadBytes],
  );

  const cancel = useCallback((id: number) => requests.current.get(id)?.abort(), []);
  const replace = useCallback((id: number) => update(id, { status: "queued", overwrite: true, exists: false, error: undefined }), [update]);
  const retry = useCallback((id: number) => update(id, { status: "queued", error: undefined }), [update]);
  const dismiss = useCallback((id: number) => {
    files.current.delete(id);
    setUploads((all) => all.filter((u) => u.id !== id));
  }, []);
  const clearFinished = useCallback(() => {
    setUploads((all) => all.filter((u) => u.status === "queued" || u.status === "uploading"));
  }, []);

  return { uploads, add, cancel, replace, retry, dismiss, clearFinished, canRetry: (id: number) => files.current.has(id) };
}

function serverMessage(xhr: XMLHttpRequest): string {
  try {
    const body = JSON.parse(xhr.responseText) as { error?: { message?: unknown } };
    if (typeof body.error?.message === "string") return body.error.message;
  } catch {
    // not JSON: fall through to a message by status
  }
  if (xhr.status === 401) return "Your session has ended. Sign in again, then retry.";
  if (xhr.status === 413) return "The file is larger than the largest upload allowed.";
  return `The upload failed (the server answered ${xhr.status}). Try again; if it keeps happening, tell an administrator.`;
}
