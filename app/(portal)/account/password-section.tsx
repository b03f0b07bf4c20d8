"use client";
// Changing one's own Atrium password. Every other session ends with the old password (a thief's browser too);
// this one stays signed in. People who sign in through a directory or single sign-on have no Atrium password.
import { Alert, Button, Card, Group, PasswordInput, Stack, Text, Title } from "@mantine/core";
import { notifications } from "@mantine/notifications";
import { useMutation, useQueryClient } from "@tanstack/react-query";
import { useState, type FormEvent } from "react";
import { errorMessage, useTRPC } from "@/app/_lib/trpc";
import { sessionCount } from "./sign-in-sessions";

/** server/auth/passwords.ts MIN_PASSWORD_LENGTH, said before the server has to. */
const MIN_LENGTH = 8;

export function PasswordSection({ hasPassword }: { hasPassword: boolean }) {
  return (
    <Card withBorder padding="md" component="section" aria-labelledby="password-heading">
      <Title order={4} id="password-heading" mb="xs">
        Password
      </Title>
      {hasPassword ? (
        <ChangePasswordForm />
      ) : (
        <Text size="sm" c="dimmed">
          You sign in through your organisation&apos;s directory or single sign-on, so Atrium has no password of yours: change it there.
        </Text>
      )}
    </Card>
  );
}

function ChangePasswordForm() {
  const trpc = useTRPC();
  const queryClient = useQueryClient();
  const [current, setCurrent] = useState("");
  const [next, setNext] = useState("");
  const [confirm, setConfirm] = useState("");
  const [mismatch, setMismatch] = useState(false);
  const change = useMutation(
    trpc.me.changePassword.mutationOptions({
      onSuccess: ({ endedSessions }) => {
        notifications.show({
          color: "teal",
          title: "Password changed",
          message:
            endedSessions === 0
              ? "No other session was open; you stay signed in here."
              : `${sessionCount(endedSessions)} elsewhere signed out; you stay signed in here.`,
        });
        setCurrent("");
        setNext("");
        setConfirm("");
        void queryClient.invalidateQueries({ queryKey: trpc.me.sessions.queryKey() });
      },
    }),
  );
  const submit = (e: FormEvent) => {
    e.preventDefault();
    if (next !== confirm) {
      change.reset();
      setMismatch(true);
      return;
    }
    change.mutate({ current, next });
  };
  return (
    <form onSubmit={submit} aria-label="Change password" noValidate>
      <Stack gap="sm" maw={380}>
        {change.error && (
          <Alert color="red" role="alert" variant="light">
            {errorMessage(change.error)}
          </Alert>
        )}
        <PasswordInput label="Current password" autoComplete="current-password" required value={current} onChange={(e) => setCurrent(e.currentTarget.value)} />
        <PasswordInput
          label="New password"
          description={`At least ${MIN_LENGTH} characters.`}
          autoComplete="new-password"
          required
          value={next}
          onChange={(e) => {
            setNext(e.currentTarget.value);
            setMismatch(false);
          }}
        />
        <PasswordInput
          label="Confirm new password"
          autoComplete="new-password"
          required
          value={confirm}
          error={mismatch ? "The new passwords don't match: type the same one twice." : undefined}
          onChange={(e) => {
            setConfirm(e.currentTarget.value);
            setMismatch(false);
          }}
        />
        <Text size="xs" c="dimmed">
          Your other sessions are signed out when the password changes; this one stays.
        </Text>
        <Group>
          <Button type="submit" loading={change.isPending} disabled={!current || !next || !confirm}>
            Change password
          </Button>
        </Group>
      </Stack>
    </form>
  );
}
