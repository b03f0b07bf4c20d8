// The save request of a notebook, made in a Web Worker: encoding a big notebook (superjson, JSON) and handing a
// multi-megabyte body to fetch took 100–280 ms of the page's main thread for a 6.9 MB notebook (200 plots),
// after every pause in typing. Here it costs the page only the copy of the notebook into this worker.
// Same procedure, same checks: notebooks.save writes atomically and refuses (CONFLICT) a file changed on disk.
// Started by off-thread-save.ts; one message in (id, input), one out (id, mtime or error).
import { createTRPCClient, httpLink } from "@trpc/client";
import superjson from "superjson";
import type { AppRouter } from "@/server/trpc/root";
import type { SaveReply, SaveRequest } from "./off-thread-save";
import { SAVE_DEADLINE_MS } from "./saver";

// The headers of the request being made (the page sends its own with each one: see SaveRequest).
let requestHeaders: Record<string, string> = {};
const client = createTRPCClient<AppRouter>({ links: [httpLink({ url: "/api/trpc", transformer: superjson, headers: () => requestHeaders })] });

const scope = self as unknown as { onmessage: ((event: MessageEvent<SaveRequest>) => void) | null; postMessage(message: SaveReply): void };

scope.onmessage = (event) => {
  const { id, input, headers } = event.data;
  requestHeaders = headers; // read by the link as this request starts, below
  // The saver gives up at the same deadline; the request is ended too, not left holding a connection.
  client.notebooks.save.mutate(input, { signal: AbortSignal.timeout(SAVE_DEADLINE_MS) }).then(
    ({ mtime }) => scope.postMessage({ id, ok: true, mtime: new Date(mtime) }),
    (error: { message?: string; data?: { code?: string } | null }) =>
      scope.postMessage({ id, ok: false, message: error.message || "The notebook couldn't be saved.", code: error.data?.code ?? null }),
  );
};
