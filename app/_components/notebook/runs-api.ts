// The durable-output procedures (notebooks.runs / kernelFor / bindKernel), called over tRPC's plain HTTP
// shape. They are optional for the page: when they fail (an older server, a hiccup) the notebook still works
// from the file and a fresh kernel, and the caller tells the user once. Each call gives up after 15 s: the page
// never waits on an optional answer for long.
import superjson from "superjson";
import type { CellRun } from "@/server/notebooks/merge-runs";

const DEADLINE_MS = 15_000;

async function trpcCall<T>(procedure: string, input: unknown, method: "GET" | "POST"): Promise<T> {
  const serialized = JSON.stringify(superjson.serialize(input));
  const url = method === "GET" ? `/api/trpc/${procedure}?input=${encodeURIComponent(serialized)}` : `/api/trpc/${procedure}`;
  const response = await fetch(url, {
    method,
    credentials: "same-origin",
    headers: method === "POST" ? { "content-type": "application/json" } : {},
    body: method === "POST" ? serialized : undefined,
    signal: AbortSignal.timeout(DEADLINE_MS),
  }).catch((error: Error) => {
    throw new Error(error.name === "TimeoutError" ? `no answer within ${DEADLINE_MS / 1000} s` : "Atrium can't be reached");
  });
  const body = (await response.json().catch(() => null)) as { result?: { data?: unknown }; error?: unknown } | null;
  if (!response.ok || !body?.result) {
    const error = body?.error ? (superjson.deserialize(body.error as never) as { message?: string }) : null;
    throw new Error(error?.message ?? `${procedure} failed (${response.status}).`);
  }
  return superjson.deserialize(body.result.data as never) as T;
}

export const runsApi = {
  runs: (path: string) => trpcCall<CellRun[]>("notebooks.runs", { path }, "GET"),
  kernelFor: (path: string) => trpcCall<{ kernelId: string | null }>("notebooks.kernelFor", { path }, "GET"),
  bindKernel: (path: string, kernelId: string) => trpcCall<void>("notebooks.bindKernel", { path, kernelId }, "POST"),
};
