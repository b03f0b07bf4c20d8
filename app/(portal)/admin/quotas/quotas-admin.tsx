"use client";
// The admin's side of quotas: each team's envelope (the room its lead shares out among members) with the
// team's use now, and the bounds inside which team leads set their culling policy.
import { Alert, Button, Card, Group, Loader, Modal, NumberInput, Select, Stack, Switch, Table, Text, Title, VisuallyHidden } from "@mantine/core";
import { notifications } from "@mantine/notifications";
import { IconAdjustments } from "@tabler/icons-react";
import { useMutation, useQuery, useQueryClient } from "@tanstack/react-query";
import { useState, type FormEvent } from "react";
import { amount, LIMIT_KEYS, type LimitKey, type Limits, type UseLike, usedOf } from "@/app/_components/usage/format";
import { AS_TYPED, fieldErrors, readNumberField, type FieldValue } from "@/app/_components/usage/number-field";
import { readableError } from "@/app/_components/usage/refusal";
import { errorMessage, useTRPC } from "@/app/_lib/trpc";
import { CULL_RULES, GRACE_RULE, LIMIT_RULES, MEMORY_GB_RULE } from "@/server/quota/input-rules";

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

/** An envelope field as typed (memory in GB): empty is "no envelope"; memory goes out in whole MB. */
function envelopeField(k: LimitKey, raw: string | number): FieldValue {
  const read = readNumberField(raw, k === "maxMemoryMb" ? MEMORY_GB_RULE : LIMIT_RULES[k]);
  return read.value !== null && k === "maxMemoryMb" ? { value: Math.round(read.value * 1024), error: null } : read;
}

export function QuotasAdmin() {
  const trpc = useTRPC();
  const teams = useQuery({ ...trpc.quotas.teams.queryOptions(), refetchInterval: 30_000 });
  const [editing, setEditing] = useState<TeamEnvelope | null>(null);
  return (
    <Stack gap="md">
      <div>
        <Title order={1} size="h2">Quotas</Title>
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
                  <Table.Th>
                  <VisuallyHidden>Actions</VisuallyHidden>
                </Table.Th>
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
  // Each field as typed, checked as the server will: a problem shows beside its field and nothing is sent.
  const fields = Object.fromEntries(LIMIT_KEYS.map((k) => [k, envelopeField(k, values[k])])) as Record<LimitKey, FieldValue>;
  const graceField = overBudget === "keep" ? ({ value: null, error: null } as const) : readNumberField(grace, GRACE_RULE);
  const errors = { ...fieldErrors(fields), ...fieldErrors({ grace: graceField }) };
  const [tried, setTried] = useState(false);
  const submit = (e: FormEvent) => {
    e.preventDefault();
    setTried(true);
    if (Object.keys(errors).length > 0) return;
    const limits = Object.fromEntries(LIMIT_KEYS.map((k) => [k, fields[k].value])) as Limits;
    save.mutate({ teamId: team.teamId, limits, overBudgetAction: overBudget, overBudgetGraceMinutes: graceField.value ?? undefined });
  };
  return (
    <form onSubmit={submit} aria-label={`Envelope of team ${team.name}`}>
      <Stack gap="sm">
        <Text size="sm" c="dimmed">
          Empty: no envelope for that limit (members get the default). The team uses now:{" "}
          {LIMIT_KEYS.map((k) => `${HEAD[k].toLowerCase()} ${amount(k, usedOf(k, team.use))}`).join(" · ")}.
        </Text>
        {tried && Object.keys(errors).length > 0 ? (
          <Alert color="red" title="Envelope not saved" role="alert">
            Correct the fields marked below.
          </Alert>
        ) : (
          save.error && (
            <Alert color="red" title="Envelope not saved" role="alert">
              {readableError(save.error)}
            </Alert>
          )
        )}
        {LIMIT_KEYS.map((k) => (
          <NumberInput
            key={k}
            label={INPUT_LABEL[k]}
            placeholder="no envelope"
            value={values[k]}
            onChange={(v) => setValues((old) => ({ ...old, [k]: v }))}
            min={0}
            {...AS_TYPED}
            error={errors[k]}
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
          <NumberInput label="Grace period (minutes)" placeholder="unchanged" value={grace} onChange={setGrace} min={0} {...AS_TYPED} error={errors.grace} disabled={overBudget === "keep"} />
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
  // The numbers as typed (a field may be empty or "-" while it is edited); the switches as they are.
  type Part = "idleTimeoutMinutes.min" | "idleTimeoutMinutes.max" | "idleTimeoutMinutes.default" | "warningMinutes.min" | "warningMinutes.max" | "warningMinutes.default" | "maxLifetimeHours.max" | "maxLifetimeHours.default";
  const [raw, setRaw] = useState<Record<Part, string | number>>(() => ({
    "idleTimeoutMinutes.min": bounds.idleTimeoutMinutes.min,
    "idleTimeoutMinutes.max": bounds.idleTimeoutMinutes.max,
    "idleTimeoutMinutes.default": bounds.idleTimeoutMinutes.default,
    "warningMinutes.min": bounds.warningMinutes.min,
    "warningMinutes.max": bounds.warningMinutes.max,
    "warningMinutes.default": bounds.warningMinutes.default,
    "maxLifetimeHours.max": bounds.maxLifetimeHours.max ?? "",
    "maxLifetimeHours.default": bounds.maxLifetimeHours.default ?? "",
  }));
  const [flags, setFlags] = useState({ allowCullBusy: bounds.allowCullBusy, cullConnectedDefault: bounds.cullConnectedDefault });
  const [problem, setProblem] = useState<string | null>(null);
  const fields: Record<Part, FieldValue> = {
    "idleTimeoutMinutes.min": readNumberField(raw["idleTimeoutMinutes.min"], CULL_RULES.idleTimeoutMinutes, "required"),
    "idleTimeoutMinutes.max": readNumberField(raw["idleTimeoutMinutes.max"], CULL_RULES.idleTimeoutMinutes, "required"),
    "idleTimeoutMinutes.default": readNumberField(raw["idleTimeoutMinutes.default"], CULL_RULES.idleTimeoutMinutes, "required"),
    "warningMinutes.min": readNumberField(raw["warningMinutes.min"], CULL_RULES.warningMinutes, "required"),
    "warningMinutes.max": readNumberField(raw["warningMinutes.max"], CULL_RULES.warningMinutes, "required"),
    "warningMinutes.default": readNumberField(raw["warningMinutes.default"], CULL_RULES.warningMinutes, "required"),
    "maxLifetimeHours.max": readNumberField(raw["maxLifetimeHours.max"], CULL_RULES.maxLifetimeHours),
    "maxLifetimeHours.default": readNumberField(raw["maxLifetimeHours.default"], CULL_RULES.maxLifetimeHours),
  };
  const errors = fieldErrors(fields);
  const num = (part: Part) => fields[part].value ?? 0;
  const b: Bounds = {
    idleTimeoutMinutes: { min: num("idleTimeoutMinutes.min"), max: num("idleTimeoutMinutes.max"), default: num("idleTimeoutMinutes.default") },
    warningMinutes: { min: num("warningMinutes.min"), max: num("warningMinutes.max"), default: num("warningMinutes.default") },
    maxLifetimeHours: { max: fields["maxLifetimeHours.max"].value, default: fields["maxLifetimeHours.default"].value },
    ...flags,
  };
  const field = (part: Part) => ({ value: raw[part], onChange: (v: string | number) => setRaw((old) => ({ ...old, [part]: v })), min: 1, ...AS_TYPED, error: errors[part] });
  const save = useMutation(
    trpc.quotas.setCullBounds.mutationOptions({
      onSuccess: () => {
        notifications.show({ color: "indigo", message: "Culling bounds saved." });
        void queryClient.invalidateQueries({ queryKey: trpc.quotas.cullBounds.queryKey() });
      },
    }),
  );
  return (
    <form
      aria-label="Culling bounds"
      onSubmit={(e) => {
        e.preventDefault();
        if (Object.keys(errors).length > 0) return setProblem("Correct the fields marked below.");
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
          <NumberInput label="Idle timeout: least (minutes)" {...field("idleTimeoutMinutes.min")} />
          <NumberInput label="Idle timeout: most (minutes)" {...field("idleTimeoutMinutes.max")} />
          <NumberInput label="Idle timeout: default (minutes)" {...field("idleTimeoutMinutes.default")} />
        </Group>
        <Group grow align="flex-start">
          <NumberInput label="Warning: least (minutes)" {...field("warningMinutes.min")} />
          <NumberInput label="Warning: most (minutes)" {...field("warningMinutes.max")} />
          <NumberInput label="Warning: default (minutes)" {...field("warningMinutes.default")} />
        </Group>
        <Group grow align="flex-start">
          <NumberInput label="Maximum lifetime: most (hours)" placeholder="no limit" {...field("maxLifetimeHours.max")} />
          <NumberInput label="Maximum lifetime: default (hours)" placeholder="no limit" {...field("maxLifetimeHours.default")} />
        </Group>
        <Switch label="Teams may let busy kernels count as idle" checked={flags.allowCullBusy} onChange={(e) => { const checked = e.currentTarget.checked; setFlags((old) => ({ ...old, allowCullBusy: checked })); }} />
        <Switch
          label="Cull kernels with a notebook open, unless a team says otherwise"
          checked={flags.cullConnectedDefault}
          onChange={(e) => { const checked = e.currentTarget.checked; setFlags((old) => ({ ...old, cullConnectedDefault: checked })); }}
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
