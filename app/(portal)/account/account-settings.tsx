"use client";
// The signed-in user's own account: who they are, their API tokens, their signed-in sessions and their password.
// Each section loads and fails on its own, so a slow list never hides the others.
import { Alert, Badge, Group, Loader, Stack, Text, Title } from "@mantine/core";
import { useQuery } from "@tanstack/react-query";
import { errorMessage, useTRPC } from "@/app/_lib/trpc";
import { ApiTokens } from "./api-tokens";
import { PasswordSection } from "./password-section";
import { SignInSessions } from "./sign-in-sessions";

export function AccountSettings() {
  const trpc = useTRPC();
  const me = useQuery(trpc.me.get.queryOptions());

  return (
    <Stack gap="md" maw={1100}>
      <div>
        <Title order={1} size="h2">Account</Title>
        {me.data && (
          <Group gap={6} mt={2}>
            <Text size="sm" c="dimmed">
              {me.data.name} · {me.data.email} · username <Text span ff="monospace" size="sm">{me.data.username}</Text>
            </Text>
            {me.data.teams.map((t) => (
              <Badge key={t.id} size="xs" variant="light" color="gray">
                {t.role === "lead" ? `${t.name} (lead)` : t.name}
              </Badge>
            ))}
          </Group>
        )}
      </div>
      <ApiTokens />
      <SignInSessions />
      {me.isPending ? (
        <Loader size="sm" />
      ) : me.error ? (
        <Alert color="red" title="Your account can't be shown">
          {errorMessage(me.error)}
        </Alert>
      ) : (
        <PasswordSection hasPassword={me.data.hasPassword} />
      )}
    </Stack>
  );
}
