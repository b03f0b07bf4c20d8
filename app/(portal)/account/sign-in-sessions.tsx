"use client";
// The user's signed-in sessions (one per sign-in, in any browser): this one, the others still open, and those
// that ended in the last week with why. Ending a session signs that browser out at its next request.
import { Alert, Badge, Button, Card, Group, Loader, Table, Text, Title, VisuallyHidden } from "@mantine/core";
import { notifications } from "@mantine/notifications";
import { IconLogout } from "@tabler/icons-react";
import { useMutation, useQuery, useQueryClient } from "@tanstack/react-query";
import { useState } from "react";
import { dateTime } from "@/app/_components/usage/format";
import { errorMessage, useTRPC } from "@/app/_lib/trpc";
import { browserName } from "./browser-name";
import { ConfirmModal } from "@/app/_components/confirm-modal";

const METHOD_NAMES: Record<string, string> = {
  password: "Password",
  ldap: "Directory (LDAP)",
  oidc: "Single sign-on",
};

export function SignInSessions() {
  const trpc = useTRPC();
  const queryClient = useQueryClient();
  const sessions = useQuery({ ...trpc.me.sessions.queryOptions(), refetchInterval: 60_000 });
  const invalidate = () => queryClient.invalidateQueries({ queryKey: trpc.me.sessions.queryKey() });
  const [ending, setEnding] = useState<{ id: string; label: string } | null>(null);
  const [endingOthers, setEndingOthers] = useState(false);
  const endOne = useMutation(
    trpc.me.endSession.mutationOptions({
      onSuccess: () => notifications.show({ color: "indigo", message: "Session ended: that browser is signed out." }),
      onError: (error) => notifications.show({ color: "red", title: "Session not ended", message: errorMessage(error) }),
      onSettled: () => {
        setEnding(null);
        void invalidate();
      },
    }),
  );
  const endOthers = useMutation(
    trpc.me.endOtherSessions.mutationOptions({
      onSuccess: ({ ended }) =>
        notifications.show({
          color: "indigo",
          message: ended === 0 ? "No other session was open; you stay signed in here." : `${sessionCount(ended)} ended; you stay signed in here.`,
        }),
      onError: (error) => notifications.show({ color: "red", title: "Not signed out", message: errorMessage(error) }),
      onSettled: () => {
        setEndingOthers(false);
        void invalidate();
      },
    }),
  );

  return (
    <Card withBorder padding="md" component="section" aria-labelledby="sessions-heading">
      <Group justify="space-between" align="flex-start" mb="xs">
        <div>
          <Title order={4} id="sessions-heading">
            Sessions
          </Title>
          <Text size="sm" c="dimmed">
            Each sign-in, in any browser. End one you don&apos;t recognise, or one on a computer you no longer use.
          </Text>
        </div>
        <Button variant="light" color="red" leftSection={<IconLogout size={16} />} onClick={() => setEndingOthers(true)}>
          Sign out everywhere else
        </Button>
      </Group>

      {sessions.isPending ? (
        <Loader size="sm" />
      ) : sessions.error ? (
        <Alert color="red" title="Your sessions can't be shown">
          {errorMessage(sessions.error)}
        </Alert>
      ) : (
        <Table.ScrollContainer minWidth={680}>
          <Table aria-label="Your sessions" verticalSpacing={6} highlightOnHover>
            <Table.Thead>
              <Table.Tr>
                <Table.Th>Signed in</Table.Th>
                <Table.Th>Browser</Table.Th>
                <Table.Th>Method</Table.Th>
                <Table.Th>Last active</Table.Th>
                <Table.Th>Status</Table.Th>
                <Table.Th>
                  <VisuallyHidden>Actions</VisuallyHidden>
                </Table.Th>
              </Table.Tr>
            </Table.Thead>
            <Table.Tbody>
              {sessions.data.map((s) => (
                <Table.Tr key={s.id}>
                  <Table.Td>{dateTime(s.createdAt)}</Table.Td>
                  <Table.Td>
                    <Text size="sm" title={s.userAgent ?? undefined}>
                      {browserName(s.userAgent)}
                    </Text>
                    {s.address && (
                      <Text size="xs" c="dimmed">
                        from {s.address}
                      </Text>
                    )}
                  </Table.Td>
                  <Table.Td>{METHOD_NAMES[s.method] ?? s.method}</Table.Td>
                  <Table.Td>{dateTime(s.lastSeenAt)}</Table.Td>
                  <Table.Td>
                    {s.current ? (
                      <Badge variant="filled" color="indigo" style={{ overflow: "visible", minWidth: "max-content" }}>
                        This session
                      </Badge>
                    ) : s.open ? (
                      <Badge variant="light" color="teal" style={{ overflow: "visible", minWidth: "max-content" }}>
                        open
                      </Badge>
                    ) : (
                      <Text size="sm" c="dimmed">
                        {s.endedReason === "expired" ? `expired ${dateTime(s.expiresAt)}` : `ended ${dateTime(s.endedAt)}${s.endedReason ? ` · ${s.endedReason}` : ""}`}
                      </Text>
                    )}
                  </Table.Td>
                  <Table.Td ta="right">
                    {s.open && !s.current && (
                      <Button size="xs" variant="light" color="red" onClick={() => setEnding({ id: s.id, label: `${browserName(s.userAgent)} sign-in of ${dateTime(s.createdAt)}` })}>
                        End session
                      </Button>
                    )}
                  </Table.Td>
                </Table.Tr>
              ))}
            </Table.Tbody>
          </Table>
        </Table.ScrollContainer>
      )}

      <ConfirmModal
        opened={ending !== null}
        title="End this session?"
        confirmLabel="End session"
        pending={endOne.isPending}
        onClose={() => setEnding(null)}
        onConfirm={() => ending && endOne.mutate({ id: ending.id })}
      >
        The browser of the {ending?.label} is signed out at its next step, and has to sign in again.
      </ConfirmModal>
      <ConfirmModal
        opened={endingOthers}
        title="Sign out everywhere else?"
        confirmLabel="Sign out everywhere else"
        pending={endOthers.isPending}
        onClose={() => setEndingOthers(false)}
        onConfirm={() => endOthers.mutate()}
      >
        Every other browser signed in as you is signed out; this one stays signed in. Your API tokens keep working — revoke them above if
        needed.
      </ConfirmModal>
    </Card>
  );
}

export const sessionCount = (n: number) => `${n} session${n === 1 ? "" : "s"}`;
