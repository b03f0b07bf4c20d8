// Saves through save-worker.ts, so a big notebook's save request is encoded and sent off the main thread. The
// page's cost is the structured clone of the notebook into the worker. If the worker can't start (or dies),
// saving goes on through the page's own tRPC client (`fallback`), with the same result.
import { pageUserHeaders } from "@/app/_lib/session-ended";
import type { SaveCall } from "./saver";

type SaveInput = Parameters<SaveCall>[0];
export interface SaveRequest {
  id: number;
  input: SaveInput;
  /** The page's own headers (the user it was opened for: session-ended.ts), for the worker's request. */
  headers: Record<string, string>;
}
export type SaveReply = { id: number; ok: true; mtime: Date } | { id: number; ok: false; message: string; code: string | null };

/** An error shaped like a tRPC client error, which the saver reads (`data.code === "CONFLICT"`). */
class SaveError extends Error {
  constructor(
    message: string,
    readonly data: { code: string | null },
  ) {
    super(message);
  }
}

interface Pending {
  input: SaveInput;
  resolve(value: { mtime: Date }): void;
  reject(error: unknown): void;
}

let worker: Worker | null = null;
let broken = false;
const pending = new Map<number, Pending>();
let nextId = 1;

function theWorker(): Worker | null {
  if (worker || broken || typeof Worker === "undefined") return worker;
  try {
    worker = new Worker(new URL("./save-worker.ts", import.meta.url), { name: "notebook-save" });
  } catch {
    broken = true;
    return null;
  }
  worker.onmessage = (event: MessageEvent<SaveReply>) => {
    const reply = event.data;
    const waiting = pending.get(reply.id);
    if (!waiting) return;
    pending.delete(reply.id);
    if (reply.ok) waiting.resolve({ mtime: reply.mtime });
    else waiting.reject(new SaveError(reply.message, { code: reply.code }));
  };
  return worker;
}

/** A SaveCall that saves in the worker; `fallback` (the page's tRPC mutation) when there is none. */
export function offThreadSave(fallback: SaveCall): SaveCall {
  const giveUp = () => {
    // The worker didn't load or crashed: the saves it held go through the page instead (nothing was written
    // for them, or the mtime check turns a repeat into CONFLICT rather than a silent overwrite).
    broken = true;
    worker?.terminate();
    worker = null;
    const held = [...pending.values()];
    pending.clear();
    for (const p of held) fallback(p.input).then(p.resolve, p.reject);
  };
  return (input) => {
    const w = theWorker();
    if (!w) return fallback(input);
    w.onerror = giveUp;
    w.onmessageerror = giveUp;
    return new Promise((resolve, reject) => {
      const id = nextId++;
      pending.set(id, { input, resolve, reject });
      try {
        w.postMessage({ id, input, headers: pageUserHeaders() } satisfies SaveRequest);
      } catch {
        pending.delete(id);
        fallback(input).then(resolve, reject);
      }
    });
  };
}
