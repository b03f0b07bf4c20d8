"use client";
// The admin's usage report: a date range and team, user and engine filters; totals, charts (per day, top
// consumers, teams), the consumers and sessions behind them, and Export CSV of exactly the report on screen
// (written in the browser from the rows shown, in the server's CSV format, so its sums are the page's totals).
import { Alert, Card, Group, Loader, Select, SimpleGrid, Stack, Table, Text, TextInput, Title } from "@mantine/core";
import { keepPreviousData, useQuery } from "@tanstack/react-query";
import { useMemo, useState } from "react";
import { DailyUsageChart, RankingChart } from "@/app/_components/usage/charts";
import { ExportCsvButton } from "@/app/_components/usage/export-csv";
import { dateTime, hours, isoDay } from "@/app/_components/usage/format";
import { StatCards } from "@/app/_components/usage/stat-cards";
import { errorMessage, useTRPC } from "@/app/_lib/trpc";
import { toCsv } from "@/server/usage/report";

const DAY = 86_400_000;
const ENGINES = [
  { value: "local", label: "Local" },
  { value: "yarn", label: "YARN" },
  { value: "kubernetes", label: "Kubernetes" },
];

function defaultRange() {
  const now = new Date();
  const first = new Date(Date.UTC(now.getUTCFullYear(), now.getUTCMonth(), 1));
  return { from: isoDay(first), to: isoDay(now) };
}

/** The form's days (UTC, both inclusive) as the report's [from, to). */
function rangeOf(from: string, to: string): { from: Date; to: Date } | { error: string } {
  const start = new Date(`${from}T00:00:00Z`);
  const end = new Date(new Date(`${to}T00:00:00Z`).getTime() + DAY);
  if (Number.isNaN(start.getTime()) || Number.isNaN(end.getTime())) return { error: "Choose both dates." };
  if (start >= end) return { error: "The start date must be on or before the end date." };
  if (end.getTime() - start.getTime() > 400 * DAY) return { error: "A report covers at most 400 days." };
  return { from: start, to: end };
}

export function UsageReport() {
  const trpc = useTRPC();
  const initial = useMemo(defaultRange, []);
  const [from, setFrom] = useState(initial.from);
  const [to, setTo] = useState(initial.to);
  const [teamId, setTeamId] = useState<string | null>(null);
  const [userId, setUserId] = useState<string | null>(null);
  const [engine, setEngine] = useState<string | null>(null);
  const teams = useQuery(trpc.admin.teams.list.queryOptions());
  const users = useQuery(trpc.admin.users.list.queryOptions());
  const range = rangeOf(from, to);
  const filters = "error" in range ? null : { ...range, teamId: teamId ?? undefined, userId: userId ?? undefined, engine: engine ?? undefined };
  const report = useQuery({
    ...trpc.usage.report.queryOptions(filters ?? { from: new Date(0), to: new Date(DAY) }),
    enabled: filters !== null,
    placeholderData: keepPreviousData,
    refetchOnWindowFocus: false,
  });

  const engineOptions = useMemo(() => {
    const extra = (report.data?.byEngine ?? []).map((e) => e.name).filter((n) => !ENGINES.some((e) => e.value === n));
    return [...ENGINES, ...extra.map((n) => ({ value: n, label: n }))];
  }, [report.data]);

  // The numbers shown are always the filters' own: none under a refused range or a failed report (the last
  // report's numbers would read as this one's); while a new report loads, the last one stays, dimmed.
  const data = filters && !report.error ? report.data : undefined;
  const t = data?.totals;
  return (
    <Stack gap="md">
      <Group justify="space-between" align="flex-end">
        <div>
          <Title order={1} size="h2">Usage reports</Title>
          <Text size="sm" c="dimmed">
            Every kernel session, clipped to the dates chosen (UTC). Idle hours are reserved but unused.
          </Text>
        </div>
        <ExportCsvButton
          filename={csvFilename(from, to, teams.data?.find((t) => t.id === teamId)?.name, users.data?.find((u) => u.id === userId)?.email, engine)}
          csv={() => toCsv(report.data?.rows ?? [])}
          disabled={!report.data || !filters || report.isFetching}
        />
      </Group>

      <Card withBorder padding="sm">
        <Group gap="sm" align="flex-end" wrap="wrap" role="search" aria-label="Report filters">
          <TextInput type="date" label="From" value={from} onChange={(e) => setFrom(e.currentTarget.value)} w={160} />
          <TextInput type="date" label="To" value={to} onChange={(e) => setTo(e.currentTarget.value)} w={160} />
          <Select
            label="Team"
            placeholder="All teams"
            clearable
            data={(teams.data ?? []).map((tm) => ({ value: tm.id, label: tm.name }))}
            value={teamId}
            onChange={setTeamId}
            w={180}
          />
          <Select
            label="User"
            placeholder="All users"
            clearable
            searchable
            data={(users.data ?? []).map((u) => ({ value: u.id, label: u.email }))}
            value={userId}
            onChange={setUserId}
            w={260}
          />
          <Select label="Engine" placeholder="All engines" clearable data={engineOptions} value={engine} onChange={setEngine} w={160} />
          {report.isFetching && <Loader size="xs" mb={10} />}
        </Group>
        {"error" in range && (
          <Text size="sm" c="red" mt="xs" role="alert">
            {range.error}
          </Text>
        )}
      </Card>

      {report.error && <Alert color="red" title="The report can't be shown">{errorMessage(report.error)}</Alert>}
      {report.isPending && filters && <Loader size="sm" />}

      {data && t && (
        <Stack gap="md" style={{ opacity: report.isPlaceholderData ? 0.55 : 1, transition: "opacity 150ms" }} aria-busy={report.isPlaceholderData}>
          <StatCards
            label="Totals"
            stats={[
              { label: "Sessions", value: String(t.sessions) },
              { label: "Kernel-hours", value: hours(t.kernelHours), exact: t.kernelHours },
              { label: "vCore-hours", value: hours(t.vcoreHours), exact: t.vcoreHours },
              { label: "GB-hours", value: hours(t.gbHours), exact: t.gbHours },
              { label: "Idle hours", value: hours(t.idleHours), exact: t.idleHours, hint: t.kernelHours > 0 ? `${Math.round((t.idleHours / t.kernelHours) * 100)}% of kernel-hours` : undefined },
              { label: "Culls", value: String(t.culls) },
              { label: "Failed launches", value: String(t.failedLaunches) },
            ]}
          />

          <Card withBorder padding="md">
            <Title order={4} mb="xs">
              Use per day
            </Title>
            <DailyUsageChart label="vCore-hours and kernel-hours per day" data={data.daily} height={240} />
          </Card>

          <SimpleGrid cols={{ base: 1, lg: 2 }}>
            <Card withBorder padding="md">
              <Title order={4} mb="xs">
                Top consumers by vCore-hours
              </Title>
              <RankingChart label="Top consumers by vCore-hours" unit="vCore-hours" data={data.topConsumers.map((c) => ({ name: c.name, value: c.vcoreHours }))} />
            </Card>
            <Card withBorder padding="md">
              <Title order={4} mb="xs">
                vCore-hours by team
              </Title>
              <RankingChart label="vCore-hours by team" unit="vCore-hours" data={data.byTeam.map((c) => ({ name: c.name, value: c.vcoreHours }))} />
            </Card>
          </SimpleGrid>

          <Card withBorder padding="md">
            <Title order={4} mb="xs">
              Top consumers
            </Title>
            <GroupTable label="Top consumers" first="User" rows={data.topConsumers} />
            <Title order={5} mt="md" mb="xs">
              By engine
            </Title>
            <GroupTable label="Usage by engine" first="Engine" rows={data.byEngine} />
          </Card>

          <Card withBorder padding="md">
            <Group justify="space-between" mb="xs">
              <Title order={4}>Sessions</Title>
              <Text size="xs" c="dimmed">
                {data.rows.length > 100 ? `The 100 most recent of ${data.rows.length}; all are in the CSV.` : `${data.rows.length} session${data.rows.length === 1 ? "" : "s"}`}
              </Text>
            </Group>
            <Table.ScrollContainer minWidth={980}>
              <Table aria-label="Sessions" verticalSpacing={4} striped fz="sm">
                <Table.Thead>
                  <Table.Tr>
                    <Table.Th>Started</Table.Th>
                    <Table.Th>User</Table.Th>
                    <Table.Th>Team</Table.Th>
                    <Table.Th>Kernel</Table.Th>
                    <Table.Th>Size</Table.Th>
                    <Table.Th>Engine</Table.Th>
                    <Table.Th>End</Table.Th>
                    <Table.Th ta="right">Kernel-h</Table.Th>
                    <Table.Th ta="right">vCore-h</Table.Th>
                    <Table.Th ta="right">GB-h</Table.Th>
                    <Table.Th ta="right">Idle h</Table.Th>
                  </Table.Tr>
                </Table.Thead>
                <Table.Tbody>
                  {[...data.rows]
                    .sort((a, b) => new Date(b.startedAt).getTime() - new Date(a.startedAt).getTime())
                    .slice(0, 100)
                    .map((r) => (
                      <Table.Tr key={r.kernelId}>
                        <Table.Td>{dateTime(r.startedAt)}</Table.Td>
                        <Table.Td>{r.user}</Table.Td>
                        <Table.Td>{r.team || "—"}</Table.Td>
                        <Table.Td>{r.kernelspec}</Table.Td>
                        <Table.Td>{r.size}</Table.Td>
                        <Table.Td>
                          {r.engine}
                          {r.engineId && (
                            <Text span size="xs" c="dimmed" ff="monospace">
                              {" "}
                              {r.engineId.length > 24 ? `${r.engineId.slice(0, 23)}…` : r.engineId}
                            </Text>
                          )}
                        </Table.Td>
                        <Table.Td title={r.endDetail || undefined}>{r.endedAt ? r.endReason.replace("_", " ") || "ended" : "running"}{r.endDetail && <Text span size="xs" c="dimmed" display="block">{r.endDetail}</Text>}</Table.Td>
                        <Table.Td ta="right">{hours(r.kernelHours)}</Table.Td>
                        <Table.Td ta="right">{hours(r.vcoreHours)}</Table.Td>
                        <Table.Td ta="right">{hours(r.gbHours)}</Table.Td>
                        <Table.Td ta="right">{hours(r.idleHours)}</Table.Td>
                      </Table.Tr>
                    ))}
                </Table.Tbody>
              </Table>
            </Table.ScrollContainer>
          </Card>
        </Stack>
      )}
    </Stack>
  );
}

interface GroupRow {
  name: string;
  sessions: number;
  kernelHours: number;
  vcoreHours: number;
  gbHours: number;
  idleHours: number;
  culls: number;
  failedLaunches: number;
}

function GroupTable({ label, first, rows }: { label: string; first: string; rows: GroupRow[] }) {
  if (rows.length === 0) return <Text size="sm" c="dimmed">No sessions in this report.</Text>;
  return (
    <Table aria-label={label} verticalSpacing={4} fz="sm" highlightOnHover>
      <Table.Thead>
        <Table.Tr>
          <Table.Th>{first}</Table.Th>
          <Table.Th ta="right">Sessions</Table.Th>
          <Table.Th ta="right">Kernel-hours</Table.Th>
          <Table.Th ta="right">vCore-hours</Table.Th>
          <Table.Th ta="right">GB-hours</Table.Th>
          <Table.Th ta="right">Idle hours</Table.Th>
          <Table.Th ta="right">Culls</Table.Th>
          <Table.Th ta="right">Failed launches</Table.Th>
        </Table.Tr>
      </Table.Thead>
      <Table.Tbody>
        {rows.map((r) => (
          <Table.Tr key={r.name}>
            <Table.Td>{r.name}</Table.Td>
            <Table.Td ta="right">{r.sessions}</Table.Td>
            <Table.Td ta="right">{hours(r.kernelHours)}</Table.Td>
            <Table.Td ta="right">{hours(r.vcoreHours)}</Table.Td>
            <Table.Td ta="right">{hours(r.gbHours)}</Table.Td>
            <Table.Td ta="right">{hours(r.idleHours)}</Table.Td>
            <Table.Td ta="right">{r.culls}</Table.Td>
            <Table.Td ta="right">{r.failedLaunches}</Table.Td>
          </Table.Tr>
        ))}
      </Table.Tbody>
    </Table>
  );
}

/** The export's name says what it holds: the dates, and the team, user and engine filtered on, by name. */
function csvFilename(from: string, to: string, team: string | undefined, email: string | undefined, engine: string | null): string {
  const safe = (text: string) => text.replace(/[^A-Za-z0-9._-]+/g, "_");
  const parts = [`atrium-usage-${from}-${to}`, team && `team-${safe(team)}`, email && `user-${safe(email.split("@")[0]!)}`, engine && safe(engine)];
  return `${parts.filter(Boolean).join("-")}.csv`;
}
