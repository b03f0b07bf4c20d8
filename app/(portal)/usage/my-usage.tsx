"use client";
// The analyst's own usage: what is left of their quota, this month's use with a chart, their running kernels
// (stop one here to free room), and the sizes they can start. Export CSV gives this month's sessions, in the
// admin report's format.
import { Alert, Anchor, Badge, Button, Card, Group, Loader, Stack, Table, Text, Title, VisuallyHidden } from "@mantine/core";
import { notifications } from "@mantine/notifications";
import { IconPlayerStop } from "@tabler/icons-react";
import { useMutation, useQuery, useQueryClient } from "@tanstack/react-query";
import Link from "next/link";
import { useState } from "react";
import { ConfirmModal } from "@/app/_components/confirm-modal";
import { notebookHref } from "@/app/_components/files/paths";
import { DailyUsageChart } from "@/app/_components/usage/charts";
import { ExportCsvButton } from "@/app/_components/usage/export-csv";
import { dateTime, hours, isoDay, limitValue, memory, since, sizeFitsNow } from "@/app/_components/usage/format";
import { QuotaMeters } from "@/app/_components/usage/quota-meters";
import { StatCards } from "@/app/_components/usage/stat-cards";
import { kernelApi } from "@/app/_lib/kernel/rest";
import { errorMessage, useTRPC } from "@/app/_lib/trpc";
import { toCsv } from "@/server/usage/report";

export function MyUsage() {
  const trpc = useTRPC();
  const queryClient = useQueryClient();
  const usage = useQuery({ ...trpc.usage.mine.queryOptions(), refetchInterval: 30_000 });
  const sizes = useQuery(trpc.quotas.sizes.queryOptions());
  const [stopping, setStopping] = useState<{ id: string; kernelspec: string; notebook: string | null } | null>(null);
  const stop = useMutation({
    mutationFn: (id: string) => kernelApi.shutdown(id),
    onSuccess: () => {
      notifications.show({ color: "indigo", message: "Kernel stopped." });
      void queryClient.invalidateQueries({ queryKey: trpc.usage.mine.queryKey() });
      void queryClient.invalidateQueries({ queryKey: trpc.quotas.mine.queryKey() });
    },
    onError: (error) => notifications.show({ color: "red", title: "Not stopped", message: errorMessage(error) }),
  });

  if (usage.isPending) return <Loader size="sm" />;
  if (usage.error) return <Alert color="red" title="Your usage can't be shown">{errorMessage(usage.error)}</Alert>;
  const { quota, totals, daily, month, sessions } = usage.data;
  const renews = new Date(quota.budget.renews);
  const monthName = new Date(month.from).toLocaleDateString([], { month: "long", year: "numeric", timeZone: "UTC" });

  return (
    <Stack gap="md" maw={1200}>
      <Group justify="space-between" align="flex-end">
        <div>
          <Title order={1} size="h2">Your usage</Title>
          <Text size="sm" c="dimmed">
            {monthName}
            {quota.team ? ` · team ${quota.team.name}` : ""} · the monthly budget renews on {renews.toLocaleDateString([], { day: "numeric", month: "long", timeZone: "UTC" })}
          </Text>
        </div>
        <ExportCsvButton filename={`atrium-my-usage-${isoDay(new Date(month.from)).slice(0, 7)}.csv`} csv={() => toCsv(sessions)} />
      </Group>

      {quota.budget.exhausted && (
        <Alert color="red" title="Monthly budget used up">
          You have used {hours(quota.budget.used)} of {limitValue("monthlyVcoreHours", quota.budget.limit)} this month. New kernels can start
          again on {isoDay(renews)}; until then {quota.budget.raisedBy === "team-lead" ? "your team lead" : "an admin"} can raise your budget.
        </Alert>
      )}

      <Card withBorder padding="md">
        <Title order={4} mb="sm">
          Remaining quota
        </Title>
        <QuotaMeters
          limits={quota.limits}
          use={quota.use}
          team={quota.team ? { name: quota.team.name, remaining: quota.remaining, limited: quota.limitedByTeam } : undefined}
        />
      </Card>

      <StatCards
        label="This month"
        stats={[
          { label: "Kernel-hours", value: hours(totals.kernelHours) },
          { label: "vCore-hours", value: hours(totals.vcoreHours), hint: quota.limits.monthlyVcoreHours === null ? undefined : `of ${hours(quota.limits.monthlyVcoreHours)} budget` },
          { label: "GB-hours", value: hours(totals.gbHours) },
          { label: "Idle hours", value: hours(totals.idleHours), hint: "reserved but unused" },
          { label: "Culled", value: String(totals.culls) },
        ]}
      />

      <Card withBorder padding="md">
        <Title order={4} mb="xs">
          Use per day
        </Title>
        <DailyUsageChart label="Your vCore-hours per day" data={daily} />
      </Card>

      <Card withBorder padding="md">
        <Group justify="space-between" mb="xs">
          <Title order={4}>Running kernels</Title>
          <Text size="sm" c="dimmed">
            {quota.kernels.length} of {limitValue("maxKernels", quota.limits.maxKernels)}
          </Text>
        </Group>
        {quota.kernels.length === 0 ? (
          <Text size="sm" c="dimmed">
            No kernels running. Open a notebook from <Link href="/files">Files</Link> to start one.
          </Text>
        ) : (
          <Table aria-label="Your running kernels" verticalSpacing={6} highlightOnHover>
            <Table.Thead>
              <Table.Tr>
                <Table.Th>Kernel</Table.Th>
                <Table.Th>Notebook</Table.Th>
                <Table.Th>Size</Table.Th>
                <Table.Th>State</Table.Th>
                <Table.Th>Running for</Table.Th>
                <Table.Th>
                  <VisuallyHidden>Actions</VisuallyHidden>
                </Table.Th>
              </Table.Tr>
            </Table.Thead>
            <Table.Tbody>
              {quota.kernels.map((k) => (
                <Table.Tr key={k.id}>
                  <Table.Td>
                    <Text size="sm">{k.kernelspec}</Text>
                    <Text size="xs" c="dimmed" ff="monospace">
                      {k.id.slice(0, 8)}
                    </Text>
                  </Table.Td>
                  <Table.Td>
                    {/* The notebook the kernel is bound to, as errors name it: open it to use or stop the kernel there. */}
                    {k.notebook ? (
                      <Anchor component={Link} href={notebookHref(k.notebook)} size="sm" style={{ wordBreak: "break-all", whiteSpace: "pre-wrap" }}>
                        {k.notebook}
                      </Anchor>
                    ) : (
                      <Text size="sm" c="dimmed">
                        —
                      </Text>
                    )}
                  </Table.Td>
                  <Table.Td>
                    <Text size="sm">{k.sizeProfile}</Text>
                    <Text size="xs" c="dimmed">
                      {hours(k.vcores)} vCores · {memory(k.memoryMb)}
                    </Text>
                  </Table.Td>
                  <Table.Td>
                    <Badge variant="light" color={k.state === "busy" ? "orange" : k.state === "starting" ? "yellow" : "green"}>
                      {k.state}
                    </Badge>
                  </Table.Td>
                  <Table.Td>{since(k.startedAt)}</Table.Td>
                  <Table.Td ta="right">
                    <Button
                      size="xs"
                      variant="light"
                      color="red"
                      leftSection={<IconPlayerStop size={14} />}
                      aria-label={`Stop kernel ${k.id.slice(0, 8)}`}
                      onClick={() => setStopping({ id: k.id, kernelspec: k.kernelspec, notebook: k.notebook })}
                    >
                      Stop
                    </Button>
                  </Table.Td>
                </Table.Tr>
              ))}
            </Table.Tbody>
          </Table>
        )}
      </Card>

      <Card withBorder padding="md">
        <Title order={4} mb="xs">
          Sizes you can start
        </Title>
        <Text size="sm" c="dimmed" mb="xs">
          Pick a size in a notebook&apos;s toolbar, beside the kernel. Right now you have {limitValue("maxVcores", quota.remaining.maxVcores)} and{" "}
          {quota.remaining.maxMemoryMb === null ? "unlimited memory" : memory(quota.remaining.maxMemoryMb)} left.
        </Text>
        {sizes.data && (
          <Table aria-label="Kernel sizes" verticalSpacing={4}>
            <Table.Thead>
              <Table.Tr>
                <Table.Th>Kernel</Table.Th>
                <Table.Th>Size</Table.Th>
                <Table.Th>vCores</Table.Th>
                <Table.Th>Memory</Table.Th>
                <Table.Th>GPUs</Table.Th>
                <Table.Th>Fits now</Table.Th>
              </Table.Tr>
            </Table.Thead>
            <Table.Tbody>
              {sizes.data.flatMap((spec) =>
                spec.sizes.map((s, i) => {
                  const fit = sizeFitsNow(s, quota.remaining, quota.budget.exhausted);
                  return (
                    <Table.Tr key={`${spec.kernelspec}/${s.name}`}>
                      <Table.Td>{i === 0 ? spec.displayName : ""}</Table.Td>
                      <Table.Td>
                        {s.name}
                        {s.name === spec.defaultSize && (
                          <Badge size="xs" variant="light" ml={6}>
                            default
                          </Badge>
                        )}
                      </Table.Td>
                      <Table.Td>{hours(s.vcores)}</Table.Td>
                      <Table.Td>{memory(s.memoryMb)}</Table.Td>
                      <Table.Td>{s.gpus}</Table.Td>
                      <Table.Td>
                        <Text size="sm" c={fit.fits ? "green" : "red"}>
                          {fit.fits ? "yes" : `no: ${fit.why}`}
                        </Text>
                      </Table.Td>
                    </Table.Tr>
                  );
                }),
              )}
            </Table.Tbody>
          </Table>
        )}
      </Card>

      <Card withBorder padding="md">
        <Title order={4} mb="xs">
          Sessions this month
        </Title>
        {sessions.length === 0 ? (
          <Text size="sm" c="dimmed">
            No kernel sessions yet this month.
          </Text>
        ) : (
          <Table aria-label="Your kernel sessions this month" verticalSpacing={4} striped>
            <Table.Thead>
              <Table.Tr>
                <Table.Th>Started</Table.Th>
                <Table.Th>Kernel</Table.Th>
                <Table.Th>Size</Table.Th>
                <Table.Th>Ended</Table.Th>
                <Table.Th ta="right">Kernel-hours</Table.Th>
                <Table.Th ta="right">vCore-hours</Table.Th>
                <Table.Th ta="right">Idle hours</Table.Th>
              </Table.Tr>
            </Table.Thead>
            <Table.Tbody>
              {[...sessions]
                .sort((a, b) => new Date(b.startedAt).getTime() - new Date(a.startedAt).getTime())
                .slice(0, 25)
                .map((s) => (
                  <Table.Tr key={s.kernelId}>
                    <Table.Td>{dateTime(s.startedAt)}</Table.Td>
                    <Table.Td>{s.kernelspec}</Table.Td>
                    <Table.Td>{s.size}</Table.Td>
                    <Table.Td>{s.endedAt ? `${dateTime(s.endedAt)} · ${s.endReason.replace("_", " ")}` : "running"}</Table.Td>
                    <Table.Td ta="right">{hours(s.kernelHours)}</Table.Td>
                    <Table.Td ta="right">{hours(s.vcoreHours)}</Table.Td>
                    <Table.Td ta="right">{hours(s.idleHours)}</Table.Td>
                  </Table.Tr>
                ))}
            </Table.Tbody>
          </Table>
        )}
      </Card>

      <ConfirmModal
        opened={stopping !== null}
        title="Stop this kernel?"
        confirmLabel="Stop kernel"
        pending={stop.isPending}
        onClose={() => setStopping(null)}
        onConfirm={() => stopping && stop.mutate(stopping.id, { onSettled: () => setStopping(null) })}
      >
        The {stopping?.kernelspec} kernel {stopping?.id.slice(0, 8)}{stopping?.notebook ? ` (${stopping.notebook})` : ""} stops now; variables in it are lost. Notebooks keep their saved outputs.
      </ConfirmModal>
    </Stack>
  );
}
