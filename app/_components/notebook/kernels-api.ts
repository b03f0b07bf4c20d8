// The notebook's typed calls outside React (the kernel session): start a kernel with a size, follow its launch,
// learn why it ended. Same endpoint and transformer as the page's tRPC client.
import { createTRPCClient } from "@trpc/client";
import { portalTrpcLinks } from "@/app/_lib/session-ended";
import type { AppRouter } from "@/server/trpc/root";
import { splitProcessLog } from "./process-log";

export const kernelsTrpc = createTRPCClient<AppRouter>({ links: portalTrpcLinks() }).kernels;

export type KernelStatusAnswer = Awaited<ReturnType<typeof kernelsTrpc.status.query>>;

/**
 * Why a kernel ended, in words for its user. `unsaved`: the notebook has edits not yet saved now — the save before
 * culling may not have happened (the page was closed then) or failed, so the words never claim it did.
 */
export function endedWords(endReason: string | null, detail: string | null, unsaved = false): EndedWords {
  const { summary: d, log } = splitProcessLog(detail);
  const words = endedMessage(endReason, d, unsaved);
  return log ? { ...words, log } : words;
}

export interface EndedWords {
  title: string;
  message: string;
  /** What the kernel's process last wrote to stderr (a traceback, a launcher's error): shown apart, folded. */
  log?: string;
}

function endedMessage(endReason: string | null, d: string | null, unsaved: boolean): EndedWords {
  switch (endReason) {
    case "culled":
      return {
        title: "Your kernel was stopped by idle culling",
        message: `It was stopped because it ${d ? (d.startsWith("idle") ? `had been ${d}` : d) : "was idle for longer than your team allows"}. ${
          unsaved ? "Your notebook has changes that are not saved yet: save them (Ctrl+S)" : "Your notebook was saved"
        }; Restart kernel starts a new one.`,
      };
    case "quota":
      return { title: "Your kernel was stopped: budget used up", message: `${d ?? "The monthly budget is used up"}. See Usage for your quota.` };
    case "stopped":
      return { title: "Your kernel was stopped", message: `${d ? `It was ${d}` : "It was shut down"}. Restart kernel starts a new one; your notebook and its outputs are kept.` };
    case "died":
      return { title: "Your kernel died", message: `${d ?? "The kernel process ended unexpectedly"}. Restart kernel starts a new one; your notebook and its outputs are kept.` };
    case "launch_failed":
      return { title: "The kernel didn't start", message: d ?? "The launch failed." };
    default:
      return { title: "The kernel stopped", message: `${d ? `${d}. ` : ""}Restart kernel starts a new one; your notebook and its outputs are kept.` };
  }
}
