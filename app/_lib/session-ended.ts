"use client";
// The sign-in behind this page ended (it expired, the user signed out in another tab, an admin disabled the account or
// ended their sessions): whatever notices first reports it here (a tRPC call answered UNAUTHORIZED, the kernel
// WebSocket closed with 1008, a save refused), and the portal shell shows one dialog (session-ended-dialog.tsx)
// instead of a trail of failures. Nothing on the page is discarded: the user can sign in again in another tab and
// carry on here.
import type { TRPCLink } from "@trpc/client";
import { httpBatchLink } from "@trpc/client";
import { observable } from "@trpc/server/observable";
import { useSyncExternalStore } from "react";
import superjson from "superjson";
import type { AppRouter } from "@/server/trpc/root";
import { PAGE_USER_HEADER } from "@/server/trpc/page-user";

let ended = false;
/** The user this page was opened for (the portal shell says, once signed in), sent with every call. */
let pageUser: string | null = null;

export function setPageUser(userId: string | null): void {
  pageUser = userId;
}

/** The header that makes the server refuse this page's calls once the browser is signed in as someone else. */
export function pageUserHeaders(): Record<string, string> {
  return pageUser ? { [PAGE_USER_HEADER]: pageUser } : {};
}
const listeners = new Set<() => void>();

/** Reports that the portal no longer knows this page's user. */
export function reportSessionEnded(): void {
  if (ended) return;
  ended = true;
  for (const listener of listeners) listener();
}

/** The user signed in again (checked by the dialog): calls may go on. */
export function clearSessionEnded(): void {
  if (!ended) return;
  ended = false;
  for (const listener of listeners) listener();
}

function subscribe(listener: () => void): () => void {
  listeners.add(listener);
  return () => listeners.delete(listener);
}

/** Calls `then` once the user has signed in again (at once if the session has not ended); returns a cancel. */
export function whenSignedInAgain(then: () => void): () => void {
  if (!ended) {
    then();
    return () => {};
  }
  const listener = () => {
    if (ended) return;
    listeners.delete(listener);
    then();
  };
  listeners.add(listener);
  return () => listeners.delete(listener);
}

export function useSessionEnded(): boolean {
  return useSyncExternalStore(subscribe, () => ended, () => false);
}

/** Whether a tRPC error (or a save's reply) says the caller is not signed in. */
export function isSignedOutError(error: unknown): boolean {
  const data = (error as { data?: { code?: string; httpStatus?: number } | null } | null)?.data;
  return data?.code === "UNAUTHORIZED" || data?.httpStatus === 401;
}

/** Reports a signed-out answer to any call, and passes every result on unchanged. */
export const sessionEndedLink: TRPCLink<AppRouter> = () => ({ next, op }) =>
  observable((observer) =>
    next(op).subscribe({
      next: (value) => observer.next(value),
      error: (error) => {
        if (isSignedOutError(error)) reportSessionEnded();
        observer.error(error);
      },
      complete: () => observer.complete(),
    }),
  );

/** The links of every tRPC client on the portal's pages. */
export function portalTrpcLinks() {
  return [sessionEndedLink, httpBatchLink({ url: "/api/trpc", transformer: superjson, headers: pageUserHeaders })];
}
