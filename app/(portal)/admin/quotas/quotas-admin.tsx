"use client";
// The admin's side of quotas: each team's envelope (the room its lead shares out among members) with the
// team's use now, and the bounds inside which team leads set their culling policy.
import { Alert, Button, Card, Group, Loader, Modal, NumberInput, Select, Stack, Switch, Table, Text, Title } from "@mantine/core";
import { notifications } from "@mantine/notifications";
import { IconAdjustments } from "@tabler/icons-react";
import { useMutation, useQuery, useQueryClient } from "@tanstack/react-query";
import { useState, type FormEvent } from "react";
import { amount, LIMIT_KEYS, type LimitKey, type Limits, type UseLike, usedOf } from "@/app/_components/usage/format";
import { readableError } from "@/app/_components/usage/refusal";
import { errorMessage, useTRPC } from "@/app/_lib/trpc";

interface TeamEnvelope {
  teamId: string;
  name: string;
  envelope: Limits | null;
  overBudgetAction: string;
  use: UseLike;
}

const HEAD: Record<LimitKey, string> = {
  maxKernels: "Kernels",
  maxVcores: "vCores",
  maxMemoryMb: "Memory",
  maxGpus: "GPUs",
  monthlyVcoreHours: "vCore-hours / month",
};
const INPUT_LABEL: Record<LimitKey, string> = {
  maxKernels: "Concurrent kernels",
  maxVcores: "vCores",
  maxMemoryMb: "Memory (GB)",
  maxGpus: "GPUs",
  monthlyVcoreHours: "Monthly vCore-hours",
};

export function QuotasAdmin() {
  const trpc = useTRPC();
  const teams = useQuery({ ...trpc.quotas.teams.queryOptions(), refetchInterval: 30_000 });
  const [editing, setEditing] = useState<TeamEnvelope | null>(null);
  return (
    <Stack gap="md">
      <div>
        <Title order={2}>Quotas</Title>
        <Text size="sm" c="dimmed">
          A team&apos;s envelope caps every member&apos;s quota and the team&apos;s use together; team leads share it out on their Team page.
        </Text>
      </div>
      <Card withBorder padding="md">
        <Title order={4} mb="xs">
          Team envelopes
        </Title>
        {teams.error && <Alert color="red">{errorMessage(teams.error)}</Alert>}
        {teams.isPending && <Loader size="sm" />}
        {teams.data?.length === 0 && <Text c="dimmed">No teams yet: add one under Teams.</Text>}
        {teams.data && teams.data.length > 0 && (
          <Table.ScrollContainer minWidth={820}>
            <Table aria-label="Team envelopes" verticalSpacing={6} highlightOnHover>
              <Table.Thead>
                <Table.Tr>
                  <Table.Th>Team</Table.Th>
                  {LIMIT_KEYS.map((k) => (
                    <Table.Th key={k}>{HEAD[k]}</Table.Th>
                  ))}
                  <Table.Th>Over budget</Table.Th>
                  <Table.Th aria-label="Actions" />
                </Table.Tr>
              </Table.Thead>
              <Table.Tbody>
                {teams.data.map((t) => (
                  <Table.Tr key={t.teamId}>
                    <Table.Td fw={500}>{t.name}</Table.Td>
                    {LIMIT_KEYS.map((k) => {
                      const cap = t.envelope?.[k] ?? null;
                      const used = usedOf(k, t.use);
                      return (
                        <Table.Td key={k} style={{ fontVariantNumeric: "tabular-nums" }}>
                          <Text size="sm" c={cap !== null && used >= cap ? "red" : undefined}>
                            {amount(k, used)}
                            <Text span size="xs" c="dimmed">
                              {" "}
                              / {cap === null ? "∞" : amount(k, cap)}
                            </Text>
                          </Text>
                        </Table.Td>
                      );
                    })}
                    <Table.Td>{t.overBudgetAction === "stop" ? "stop kernels" : "keep kernels"}</Table.Td>
                    <Table.Td ta="right">
                      <Button size="xs" variant="light" leftSection={<IconAdjustments size={14} />} aria-label={`Edit envelope of ${t.name}`} onClick={() => setEditing(t)}>
                        Edit envelope
                      </Button>
                    </Table.Td>
                  </Table.Tr>
                ))}
              </Table.Tbody>
            </Table>
          </Table.ScrollContainer>
        )}
      </Card>
      <CullBoundsCard />
      <Modal opened={editing !== null} onClose={() => setEditing(null)} title={editing ? `Envelope of team ${editing.name}` : ""} centered size="lg">
        {editing && <EnvelopeForm key={editing.teamId} team={editing} onDone={() => setEditing(null)} />}
      </Modal>
    </Stack>
  );
}

function EnvelopeForm({ team, onDone }: { team: TeamEnvelope; onDone(): void }) {
  const trpc = useTRPC();
  const queryClient = useQueryClient();
  const [values, setValues] = useState<Record<LimitKey, string | number>>(
    () => Object.fromEntries(LIMIT_KEYS.map((k) => { const v = team.envelope?.[k] ?? null; return [k, v === null ? "" : k === "maxMemoryMb" ? v / 1024 : v]; })) as Record<LimitKey, string | number>,
  );
  const [overBudget, setOverBudget] = useState<"keep" | "stop">(team.overBudgetAction === "stop" ? "stop" : "keep");
  const [grace, setGrace] = useState<string | number>("");
  const save = useMutation(
    trpc.quotas.setTeam.mutationOptions({
      onSuccess: () => {
        notifications.show({ color: "indigo", message: `Envelope of ${team.name} saved.` });
        void queryClient.invalidateQueries({ queryKey: trpc.quotas.teams.queryKey() });
        onDone();
      },
    }),
  );
  const submit = (e: FormEvent) => {
    e.preventDefault();
    const limits = Object.fromEntries(
      LIMIT_KEYS.map((k) => {
        const v = values[k];
        if (v === "") return [k, null];
        const n = Number(v);
        return [k, k === "maxMemoryMb" ? Math.round(n * 1024) : n];
      }),
    ) as Limits;
    save.mutate({ teamId: team.teamId, limits, overBudgetAction: overBudget, overBudgetGraceMinutes: grace === "" ? undefined : Number(grace) });
  };
  return (
    <form onSubmit={submit} aria-label={`Envelope of team ${team.name}`}>
      <Stack gap="sm">
        <Text size="sm" c="dimmed">
          Empty: no envelope for that limit (members get the default). The team uses now:{" "}
          {LIMIT_KEYS.map((k) => `${HEAD[k].toLowerCase()} ${amount(k, usedOf(k, team.use))}`).join(" · ")}.
        </Text>
        {save.error && (
          <Alert color="red" title="Envelope not saved" role="alert">
            {readableError(save.error)}
          </Alert>
        )}
        {LIMIT_KEYS.map((k) => (
          <NumberInput
            key={k}
            label={INPUT_LABEL[k]}
            placeholder="no envelope"
            value={values[k]}
            onChange={(v) => setValues((old) => ({ ...old, [k]: v }))}
            min={0}
            allowNegative={false}
            allowDecimal={k === "maxVcores" || k === "monthlyVcoreHours" || k === "maxMemoryMb"}
          />
        ))}
        <Group grow align="flex-start">
          <Select
            label="When a member's budget is used up"
            data={[
              { value: "keep", label: "Keep running kernels" },
              { value: "stop", label: "Stop them after a grace period" },
            ]}
            value={overBudget}
            onChange={(v) => setOverBudget(v === "stop" ? "stop" : "keep")}
            allowDeselect={false}
          />
          <NumberInput label="Grace period (minutes)" placeholder="unchanged" value={grace} onChange={setGrace} min={0} allowDecimal={false} allowNegative={false} disabled={overBudget === "keep"} />
        </Group>
        <Group justify="flex-end">
          <Button variant="default" onClick={onDone}>
            Cancel
          </Button>
          <Button type="submit" loading={save.isPending}>
            Save envelope
          </Button>
        </Group>
      </Stack>
    </form>
  );
}

interface Bounds {
  idleTimeoutMinutes: { min: number; max: number; default: number };
  warningMinutes: { min: number; max: number; default: number };
  maxLifetimeHours: { max: number | null; default: number | null };
  allowCullBusy: boolean;
  cullConnectedDefault: boolean;
}

function CullBoundsCard() {
  const trpc = useTRPC();
  const bounds = useQuery(trpc.quotas.cullBounds.queryOptions());
  return (
    <Card withBorder padding="md">
      <Title order={4}>Culling bounds</Title>
      <Text size="xs" c="dimmed" mb="sm">
        Team leads choose their team&apos;s idle culling policy inside these bounds; teams that choose nothing get the defaults.
      </Text>
      {bounds.error && <Alert color="red">{errorMessage(bounds.error)}</Alert>}
      {bounds.isPending && <Loader size="sm" />}
      {bounds.data && <CullBoundsForm key={JSON.stringify(bounds.data)} bounds={bounds.data} />}
    </Card>
  );
}

function CullBoundsForm({ bounds }: { bounds: Bounds }) {
  const trpc = useTRPC();
  const queryClient = useQueryClient();
  const [b, setB] = useState(bounds);
  const [problem, setProblem] = useState<string | null>(null);
  const save = useMutation(
    trpc.quotas.setCullBounds.mutationOptions({
      onSuccess: () => {
        notifications.show({ color: "indigo", message: "Culling bounds saved." });
        void queryClient.invalidateQueries({ queryKey: trpc.quotas.cullBounds.queryKey() });
      },
    }),
  );
  const n = (v: string | number) => (v === "" ? 0 : Number(v));
  const nn = (v: string | number) => (v === "" ? null : Number(v));
  const range = (key: "idleTimeoutMinutes" | "warningMinutes", part: "min" | "max" | "default") => (v: string | number) =>
    setB((old) => ({ ...old, [key]: { ...old[key], [part]: n(v) } }));
  return (
    <form
      aria-label="Culling bounds"
      onSubmit={(e) => {
        e.preventDefault();
        const bad = (["idleTimeoutMinutes", "warningMinutes"] as const).find((k) => !(b[k].min <= b[k].default && b[k].default <= b[k].max));
        setProblem(bad ? `${bad === "idleTimeoutMinutes" ? "Idle timeout" : "Warning"}: the default must be between the least and the most (min <= default <= max).` : null);
        if (!bad) save.mutate(b);
      }}
    >
      <Stack gap="sm" maw={720}>
        {(problem || save.error) && (
          <Alert color="red" title="Bounds not saved" role="alert">
            {problem ?? readableError(save.error)}
          </Alert>
        )}
        <Group grow align="flex-start">
          <NumberInput label="Idle timeout: least (minutes)" value={b.idleTimeoutMinutes.min} onChange={range("idleTimeoutMinutes", "min")} min={1} allowDecimal={false} />
          <NumberInput label="Idle timeout: most (minutes)" value={b.idleTimeoutMinutes.max} onChange={range("idleTimeoutMinutes", "max")} min={1} allowDecimal={false} />
          <NumberInput label="Idle timeout: default (minutes)" value={b.idleTimeoutMinutes.default} onChange={range("idleTimeoutMinutes", "default")} min={1} allowDecimal={false} />
        </Group>
        <Group grow align="flex-start">
          <NumberInput label="Warning: least (minutes)" value={b.warningMinutes.min} onChange={range("warningMinutes", "min")} min={1} allowDecimal={false} />
          <NumberInput label="Warning: most (minutes)" value={b.warningMinutes.max} onChange={range("warningMinutes", "max")} min={1} allowDecimal={false} />
          <NumberInput label="Warning: default (minutes)" value={b.warningMinutes.default} onChange={range("warningMinutes", "default")} min={1} allowDecimal={false} />
        </Group>
        <Group grow align="flex-start">
          <NumberInput
            label="Maximum lifetime: most (hours)"
            placeholder="no limit"
            value={b.maxLifetimeHours.max ?? ""}
            onChange={(v) => setB((old) => ({ ...old, maxLifetimeHours: { ...old.maxLifetimeHours, max: nn(v) } }))}
            min={1}
            allowDecimal={false}
          />
          <NumberInput
            label="Maximum lifetime: default (hours)"
            placeholder="no limit"
            value={b.maxLifetimeHours.default ?? ""}
            onChange={(v) => setB((old) => ({ ...old, maxLifetimeHours: { ...old.maxLifetimeHours, default: nn(v) } }))}
            min={1}
            allowDecimal={false}
          />
        </Group>
        <Switch label="Teams may let busy kernels count as idle" checked={b.allowCullBusy} onChange={(e) => { const checked = e.currentTarget.checked; setB((old) => ({ ...old, allowCullBusy: checked })); }} />
        <Switch
          label="Cull kernels with a notebook open, unless a team says otherwise"
          checked={b.cullConnectedDefault}
          onChange={(e) => { const checked = e.currentTarget.checked; setB((old) => ({ ...old, cullConnectedDefault: checked })); }}
        />
        <Group>
          <Button type="submit" loading={save.isPending}>
            Save culling bounds
          </Button>
        </Group>
      </Stack>
    </form>
  );
}
