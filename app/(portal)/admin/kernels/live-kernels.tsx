"use client";
// Every live kernel on every engine, refreshed every few seconds; an admin can stop any of them (confirmed).
import { Alert, Badge, Button, Group, Loader, Stack, Table, Text, TextInput, Title, VisuallyHidden } from "@mantine/core";
import { notifications } from "@mantine/notifications";
import { IconPlayerStop, IconSearch } from "@tabler/icons-react";
import { useMutation, useQuery, useQueryClient } from "@tanstack/react-query";
import { useState } from "react";
import { ConfirmModal } from "@/app/_components/confirm-modal";
import { dateTime, since } from "@/app/_components/usage/format";
import { errorMessage, useTRPC } from "@/app/_lib/trpc";

const STATE_COLOR: Record<string, string> = { idle: "green", busy: "orange", starting: "yellow", restarting: "yellow" };

export function LiveKernels() {
  const trpc = useTRPC();
  const queryClient = useQueryClient();
  const live = useQuery({ ...trpc.usage.live.queryOptions(), refetchInterval: 5_000 });
  const [filter, setFilter] = useState("");
  const [stopping, setStopping] = useState<{ id: string; owner: string | null; kernelspec: string } | null>(null);
  const stop = useMutation(
    trpc.usage.stopKernel.mutationOptions({
      onSuccess: () => {
        notifications.show({ color: "indigo", message: "Kernel stopped." });
        void queryClient.invalidateQueries({ queryKey: trpc.usage.live.queryKey() });
      },
      onError: (error) => notifications.show({ color: "red", title: "Not stopped", message: errorMessage(error) }),
      onSettled: () => setStopping(null),
    }),
  );
  const rows = (live.data ?? []).filter((k) => !filter || `${k.owner} ${k.kernelspec} ${k.notebook ?? ""} ${k.engine} ${k.engineId ?? ""} ${k.id}`.toLowerCase().includes(filter.toLowerCase()));

  return (
    <Stack gap="md">
      <Group justify="space-between" align="flex-end">
        <div>
          <Title order={1} size="h2">Live kernels</Title>
          <Text size="sm" c="dimmed">
            {live.data ? `${live.data.length} running on all engines` : "Every running kernel, on every engine"} · refreshed every 5 s
          </Text>
        </div>
        <TextInput
          aria-label="Filter kernels"
          placeholder="Filter by owner, kernel, notebook, engine id"
          leftSection={<IconSearch size={14} />}
          value={filter}
          onChange={(e) => setFilter(e.currentTarget.value)}
          w={300}
        />
      </Group>
      {live.error && <Alert color="red">{errorMessage(live.error)}</Alert>}
      {live.isPending && <Loader size="sm" />}
      {live.data && rows.length === 0 && <Text c="dimmed">{filter ? "No kernel matches." : "No kernels are running."}</Text>}
      {rows.length > 0 && (
        <Table.ScrollContainer minWidth={900}>
          <Table aria-label="Live kernels" verticalSpacing={6} highlightOnHover>
            <Table.Thead>
              <Table.Tr>
                <Table.Th>Owner</Table.Th>
                <Table.Th>Kernel</Table.Th>
                <Table.Th>Notebook</Table.Th>
                <Table.Th>Size</Table.Th>
                <Table.Th>Engine</Table.Th>
                <Table.Th>State</Table.Th>
                <Table.Th>Started</Table.Th>
                <Table.Th>Last activity</Table.Th>
                <Table.Th>
                  <VisuallyHidden>Actions</VisuallyHidden>
                </Table.Th>
              </Table.Tr>
            </Table.Thead>
            <Table.Tbody>
              {rows.map((k) => (
                <Table.Tr key={k.id}>
                  <Table.Td>{k.owner ?? "—"}</Table.Td>
                  <Table.Td>
                    <Text size="sm">{k.kernelspec}</Text>
                    <Text size="xs" c="dimmed" ff="monospace">
                      {k.id.slice(0, 8)}
                    </Text>
                  </Table.Td>
                  {/* A path in the owner's home: text, not a link (an admin can't open another user's notebook). */}
                  <Table.Td>
                    <Text size="sm" c={k.notebook ? undefined : "dimmed"} style={{ wordBreak: "break-all", whiteSpace: "pre-wrap" }}>
                      {k.notebook ?? "—"}
                    </Text>
                  </Table.Td>
                  <Table.Td>{k.size ?? "—"}</Table.Td>
                  <Table.Td>
                    <Text size="sm">{k.engine}</Text>
                    {k.engineId && (
                      <Text size="xs" c="dimmed" ff="monospace">
                        {k.engineId}
                      </Text>
                    )}
                  </Table.Td>
                  <Table.Td>
                    <Badge variant="light" color={STATE_COLOR[k.state] ?? "gray"}>
                      {k.state}
                    </Badge>
                  </Table.Td>
                  <Table.Td>
                    <Text size="sm">{dateTime(k.startedAt)}</Text>
                    <Text size="xs" c="dimmed">
                      {since(k.startedAt)}
                    </Text>
                  </Table.Td>
                  <Table.Td>{since(k.lastActivityAt)} ago</Table.Td>
                  <Table.Td ta="right">
                    <Button
                      size="xs"
                      variant="light"
                      color="red"
                      leftSection={<IconPlayerStop size={14} />}
                      aria-label={`Stop kernel ${k.id.slice(0, 8)} of ${k.owner ?? "unknown"}`}
                      onClick={() => setStopping({ id: k.id, owner: k.owner, kernelspec: k.kernelspec })}
                    >
                      Stop kernel
                    </Button>
                  </Table.Td>
                </Table.Tr>
              ))}
            </Table.Tbody>
          </Table>
        </Table.ScrollContainer>
      )}
      <ConfirmModal
        opened={stopping !== null}
        title="Stop this kernel?"
        confirmLabel="Stop kernel"
        pending={stop.isPending}
        onConfirm={() => stopping && stop.mutate({ id: stopping.id })}
        onClose={() => setStopping(null)}
      >
        {stopping?.owner ?? "Its owner"}&apos;s {stopping?.kernelspec} kernel ({stopping?.id.slice(0, 8)}) stops now. Whatever it holds in
        memory is lost; the owner sees that an admin stopped it.
      </ConfirmModal>
    </Stack>
  );
}
