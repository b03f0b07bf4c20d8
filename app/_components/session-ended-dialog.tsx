"use client";
// Shown once the portal no longer knows this page's user (session-ended.ts): instead of every call failing in its
// own words, one question. The page keeps what it holds: the user signs in again in a new tab and continues here
// (what waits is saved then), or signs in again here (leaving the page, which asks first about unsaved changes).
import { Alert, Anchor, Button, Group, Modal, Stack, Text } from "@mantine/core";
import { useQueryClient } from "@tanstack/react-query";
import { useState } from "react";
import { clearSessionEnded, useSessionEnded } from "@/app/_lib/session-ended";
import { errorMessage } from "@/app/_lib/trpc";
import { signInHref } from "@/app/signin/callback-url";
import { saveOpenDocuments } from "./saving/document-saver";

export function SessionEndedDialog({ user }: { user: { id: string; email: string } }) {
  const ended = useSessionEnded();
  const queryClient = useQueryClient();
  const [checking, setChecking] = useState(false);
  const [problem, setProblem] = useState<{ text: string; otherUser: boolean } | null>(null);

  const carryOn = async () => {
    setChecking(true);
    setProblem(null);
    try {
      const me = await whoIsSignedIn();
      if (!me) {
        setProblem({ text: "Still signed out: sign in in the other tab first.", otherUser: false });
        return;
      }
      if (me.id !== user.id) {
        // Another person's session now: this page (its files, its kernels) must not act for them.
        setProblem({
          text: `This browser is now signed in as ${me.email}, and this page is ${user.email}'s: it saves nothing as ${me.email}. To keep its changes, sign in as ${user.email} again and choose Continue; Reload goes on as ${me.email}, leaving behind what this page has not saved.`,
          otherUser: true,
        });
        return;
      }
      clearSessionEnded();
      // What failed while signed out is asked again; what the page already holds is not reloaded under it (a
      // notebook's own content refetched while it saves would take the page back to the file as it was).
      void queryClient.invalidateQueries({ predicate: (query) => query.state.status === "error" });
      void saveOpenDocuments();
    } catch (error) {
      setProblem({ text: `The portal could not be reached (${errorMessage(error)}). Try again.`, otherUser: false });
    } finally {
      setChecking(false);
    }
  };

  const here = typeof window === "undefined" ? "/files" : window.location.pathname + window.location.search;
  return (
    <Modal opened={ended} onClose={() => {}} withCloseButton={false} closeOnClickOutside={false} closeOnEscape={false} title="You are signed out" centered>
      <Stack gap="sm">
        <Text size="sm">
          Your session ended: it expired, you signed out in another tab, or an administrator ended it. Nothing on this page is lost yet.
        </Text>
        <Text size="sm">
          To keep working here,{" "}
          <Anchor href={signInHref("/files")} target="_blank" rel="noopener">
            sign in in a new tab
          </Anchor>
          , then come back and choose Continue: changes not saved yet are saved then.
        </Text>
        {problem && (
          <Alert color={problem.otherUser ? "orange" : "red"} role="alert">
            {problem.text}
          </Alert>
        )}
        <Group justify="flex-end">
          {problem?.otherUser ? (
            <Button variant="default" color="red" onClick={() => window.location.reload()}>
              Reload
            </Button>
          ) : (
            <Button variant="default" onClick={() => window.location.assign(signInHref(here))}>
              Sign in again
            </Button>
          )}
          <Button loading={checking} onClick={() => void carryOn()} data-autofocus>
            Continue
          </Button>
        </Group>
      </Stack>
    </Modal>
  );
}

/**
 * Who the browser is signed in as now, whoever this page was opened for (so without the page's own header, which
 * would have the question refused): null when no one is.
 */
async function whoIsSignedIn(): Promise<{ id: string; email: string } | null> {
  const response = await fetch("/api/trpc/me.get", { credentials: "same-origin", signal: AbortSignal.timeout(15_000) });
  if (response.status === 401) return null;
  if (!response.ok) throw new Error(`the portal answered ${response.status}`);
  const body = (await response.json()) as { result?: { data?: { json?: { id: string; email: string } } } };
  const me = body.result?.data?.json;
  if (!me) throw new Error("the portal's answer was not understood");
  return me;
}
