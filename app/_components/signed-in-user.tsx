"use client";
// The signed-in user's id for client code that keeps things in this browser (drafts, recent notebooks): keyed by
// user, so a shared browser never shows one user's to another. Provided by the portal shell.
import { createContext, useContext } from "react";

export const SignedInUserId = createContext<string | null>(null);

export function useSignedInUserId(): string {
  const id = useContext(SignedInUserId);
  if (!id) throw new Error("useSignedInUserId outside the portal shell");
  return id;
}
