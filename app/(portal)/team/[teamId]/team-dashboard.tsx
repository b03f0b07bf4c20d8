"use client";
// A team lead's page: the team's envelope and use, each member's use against their quota (chart and table),
// their live kernels, a form to set a member's quota inside the envelope, and the team's culling policy
// inside the admin's bounds. Refusals show the server's words in the form that was submitted. Export CSV gives
// the numbers behind the chart and the table.
import { Alert, Anchor, Badge, Button, Card, Checkbox, Group, Loader, Modal, NumberInput, Stack, Switch, Table, Text, Title, Tooltip, VisuallyHidden } from "@mantine/core";
import { notifications } from "@mantine/notifications";
import { IconAdjustments } from "@tabler/icons-react";
import { useMutation, useQuery, useQueryClient } from "@tanstack/react-query";
import { useState, type FormEvent } from "react";
import { UseAgainstLimitChart } from "@/app/_components/usage/charts";
import { ExportCsvButton } from "@/app/_components/usage/export-csv";
import { amount, isoDay, LIMIT_KEYS, LIMIT_NAMES, limitValue, since, usedOf, type LimitKey, type Limits, type UseLike } from "@/app/_components/usage/format";
import { memberLabels, memberUsageCsv } from "@/app/_components/usage/team-usage";
import { QuotaMeters } from "@/app/_components/usage/quota-meters";
import { AS_TYPED, fieldErrors, readNumberField, type FieldValue } from "@/app/_components/usage/number-field";
import { readableError } from "@/app/_components/usage/refusal";
import { errorMessage, useTRPC } from "@/app/_lib/trpc";
import { CULL_RULES, LIMIT_RULES, MEMORY_GB_RULE } from "@/server/quota/input-rules";
import { NO_LIFETIME_LIMIT } from "@/server/culler/policy";

interface Member {
  userId: string;
  email: string;
  name: string;
  role: string;
  explicit: Limits | null;
  limits: Limits;
  use: UseLike;
  remaining: Limits;
  kernels: { id: string; kernelspec: string; startedAt: Date; vcores: number; memoryMb: number; state: string; sizeProfile: string }[];
}

export function TeamDashboard({ teamId, teamName, otherTeams }: { teamId: string; teamName: string; otherTeams: { id: string; name: string }[] }) {
  const trpc = useTRPC();
  const overview = useQuery({ ...trpc.quotas.team.queryOptions({ teamId }), refetchInterval: 15_000 });
  const [editing, setEditing] = useState<Member | null>(null);

  if (overview.isPending) return <Loader size="sm" />;
  if (overview.error) return <Alert color="red" title={`Team ${teamName} can't be shown`}>{errorMessage(overview.error)}</Alert>;
  const { envelope, use, members, renews } = overview.data;
  const liveKernels = members.reduce((n, m) => n + m.kernels.length, 0);
  const labels = memberLabels(members);

  return (
    <Stack gap="md" maw={1200}>
      <Group justify="space-between" align="flex-end">
        <div>
          <Title order={1} size="h2">Team {teamName}</Title>
          <Text size="sm" c="dimmed">
            {members.length} member{members.length === 1 ? "" : "s"} · {liveKernels} live kernel{liveKernels === 1 ? "" : "s"} · budgets renew on{" "}
            {new Date(renews).toLocaleDateString([], { day: "numeric", month: "long", timeZone: "UTC" })}
          </Text>
        </div>
        <Group gap="md">
          {otherTeams.length > 0 && (
            <Group gap="xs">
              <Text size="sm" c="dimmed">
                Other teams:
              </Text>
              {otherTeams.map((t) => (
                <Anchor key={t.id} href={`/team/${t.id}`} size="sm">
                  {t.name}
                </Anchor>
              ))}
            </Group>
          )}
          <ExportCsvButton filename={`atrium-team-${fileSafe(teamName)}-${isoDay(new Date())}.csv`} csv={() => memberUsageCsv(members)} />
        </Group>
      </Group>

      <Card withBorder padding="md">
        <Title order={4}>Team envelope</Title>
        <Text size="xs" c="dimmed" mb="sm">
          Set by an admin. Each member&apos;s quota stays inside it; the meters show the whole team&apos;s use now and this month.
        </Text>
        {envelope ? (
          <QuotaMeters limits={envelope} use={use} />
        ) : (
          <Text size="sm" c="dimmed">
            No envelope: members get the default quota, and you may set any quota.
          </Text>
        )}
      </Card>

      <Card withBorder padding="md">
        <Title order={4} mb="xs">
          This month&apos;s vCore-hours against each budget
        </Title>
        <UseAgainstLimitChart
          label="Members' vCore-hours this month against their budgets"
          unit="vCore-hours"
          data={members.map((m) => ({ name: labels.get(m.userId) ?? m.email, used: m.use.vcoreHours, limit: m.limits.monthlyVcoreHours }))}
        />
      </Card>

      <Card withBorder padding="md">
        <Title order={4} mb="xs">
          Members
        </Title>
        <Table.ScrollContainer minWidth={860}>
          <Table aria-label={`Members of ${teamName}`} verticalSpacing={6} highlightOnHover>
            <Table.Thead>
              <Table.Tr>
                <Table.Th>Member</Table.Th>
                <Table.Th>Live kernels</Table.Th>
                <Table.Th>Kernels</Table.Th>
                <Table.Th>vCores</Table.Th>
                <Table.Th>Memory</Table.Th>
                <Table.Th>vCore-hours this month</Table.Th>
                <Table.Th>
                  <VisuallyHidden>Actions</VisuallyHidden>
                </Table.Th>
              </Table.Tr>
            </Table.Thead>
            <Table.Tbody>
              {members.map((m) => (
                <Table.Tr key={m.userId}>
                  <Table.Td>
                    <Group gap={6} wrap="nowrap">
                      <Text size="sm">{m.name || m.email}</Text>
                      {m.role === "lead" && (
                        <Badge size="xs" variant="light">
                          lead
                        </Badge>
                      )}
                    </Group>
                    <Text size="xs" c="dimmed">
                      {m.email}
                    </Text>
                    {m.chargedTeam && m.chargedTeam.id !== teamId && (
                      <Text size="xs" c="dimmed">
                        kernels charged to team {m.chargedTeam.name}
                      </Text>
                    )}
                    {m.aboveEnvelope.length > 0 && (
                      <Text size="xs" c="orange.8">
                        own quota above the team envelope ({m.aboveEnvelope.map((k) => LIMIT_NAMES[k].toLowerCase()).join(", ")}): the envelope applies
                      </Text>
                    )}
                  </Table.Td>
                  <Table.Td>
                    {m.kernels.length === 0 ? (
                      <Text size="sm" c="dimmed">
                        none
                      </Text>
                    ) : (
                      <Stack gap={2}>
                        {m.kernels.map((k) => (
                          <Text key={k.id} size="xs">
                            {k.kernelspec} · {k.sizeProfile} · {k.state} · {since(k.startedAt)}
                          </Text>
                        ))}
                      </Stack>
                    )}
                  </Table.Td>
                  <UseCell member={m} k="maxKernels" />
                  <UseCell member={m} k="maxVcores" />
                  <UseCell member={m} k="maxMemoryMb" />
                  <UseCell member={m} k="monthlyVcoreHours" />
                  <Table.Td ta="right">
                    <Tooltip label={`Their kernels are charged to team ${m.chargedTeam?.name}: its lead, or an admin, sets their quota`} disabled={m.canSetQuota}>
                      <Button size="xs" variant="light" leftSection={<IconAdjustments size={14} />} aria-label={`Edit quota of ${m.email}`} onClick={() => setEditing(m)} disabled={!m.canSetQuota}>
                        Edit quota
                      </Button>
                    </Tooltip>
                  </Table.Td>
                </Table.Tr>
              ))}
            </Table.Tbody>
          </Table>
        </Table.ScrollContainer>
      </Card>

      <CullPolicyForm teamId={teamId} />

      <MemberQuotaModal teamId={teamId} teamName={teamName} member={editing} envelope={envelope} teamUse={use} onClose={() => setEditing(null)} />
    </Stack>
  );
}

/** A team name as part of a file name: letters, digits, dot, dash and underscore. */
const fileSafe = (name: string) => name.replace(/[^A-Za-z0-9._-]+/g, "-").replace(/^-+|-+$/g, "") || "team";

function UseCell({ member, k }: { member: Member; k: LimitKey }) {
  const used = usedOf(k, member.use);
  const limit = member.limits[k];
  const full = limit !== null && used >= limit - 1e-9;
  return (
    <Table.Td>
      <Text size="sm" c={full ? "red" : undefined} style={{ fontVariantNumeric: "tabular-nums" }}>
        {amount(k, used)}
        <Text span size="xs" c="dimmed">
          {" "}
          / {limit === null ? "∞" : amount(k, limit)}
        </Text>
      </Text>
      {member.explicit?.[k] == null && (
        <Text size="xs" c="dimmed">
          default
        </Text>
      )}
    </Table.Td>
  );
}

// --- a member's quota ---

const INPUT_LABEL: Record<LimitKey, string> = {
  maxKernels: "Concurrent kernels",
  maxVcores: "vCores",
  maxMemoryMb: "Memory (GB)",
  maxGpus: "GPUs",
  monthlyVcoreHours: "Monthly vCore-hours",
};

/** In the form, memory is in GB; everything else as stored. */
const toInput = (k: LimitKey, v: number | null): string | number => (v === null ? "" : k === "maxMemoryMb" ? v / 1024 : v);
/** A field as typed: empty is "the default"; a value the server would refuse is a problem shown beside it. */
const fromInput = (k: LimitKey, v: string | number): FieldValue => {
  const read = readNumberField(v, k === "maxMemoryMb" ? MEMORY_GB_RULE : LIMIT_RULES[k]);
  return read.value !== null && k === "maxMemoryMb" ? { value: Math.round(read.value * 1024), error: null } : read;
};

function MemberQuotaModal({
  teamId,
  teamName,
  member,
  envelope,
  teamUse,
  onClose,
}: {
  teamId: string;
  teamName: string;
  member: Member | null;
  envelope: Limits | null;
  teamUse: UseLike;
  onClose(): void;
}) {
  return (
    <Modal opened={member !== null} onClose={onClose} title={member ? `Quota of ${member.email}` : ""} size="lg" centered>
      {member && <MemberQuotaForm key={member.userId} teamId={teamId} teamName={teamName} member={member} envelope={envelope} teamUse={teamUse} onDone={onClose} />}
    </Modal>
  );
}

function MemberQuotaForm({ teamId, teamName, member, envelope, teamUse, onDone }: { teamId: string; teamName: string; member: Member; envelope: Limits | null; teamUse: UseLike; onDone(): void }) {
  const trpc = useTRPC();
  const queryClient = useQueryClient();
  const [values, setValues] = useState<Record<LimitKey, string | number>>(
    () => Object.fromEntries(LIMIT_KEYS.map((k) => [k, toInput(k, member.explicit?.[k] ?? null)])) as Record<LimitKey, string | number>,
  );
  const save = useMutation(
    trpc.quotas.setMember.mutationOptions({
      onSuccess: () => {
        notifications.show({ color: "indigo", message: `Quota of ${member.email} saved.` });
        void queryClient.invalidateQueries({ queryKey: trpc.quotas.team.queryKey({ teamId }) });
        onDone();
      },
    }),
  );
  const fields = Object.fromEntries(LIMIT_KEYS.map((k) => [k, fromInput(k, values[k])])) as Record<LimitKey, FieldValue>;
  const errors = fieldErrors(fields);
  const [tried, setTried] = useState(false);
  const submit = (e: FormEvent) => {
    e.preventDefault();
    setTried(true);
    if (Object.keys(errors).length > 0) return;
    save.mutate({ teamId, userId: member.userId, limits: Object.fromEntries(LIMIT_KEYS.map((k) => [k, fields[k].value])) as Limits });
  };
  const envelopeText = (k: LimitKey) => {
    const cap = envelope?.[k] ?? null;
    if (cap === null) return "No team envelope for this limit.";
    const used = usedOf(k, teamUse);
    const left = Math.max(0, cap - used);
    const now = k === "monthlyVcoreHours" ? "this month" : "now";
    return `Team envelope: ${limitValue(k, cap)} — the team uses ${amount(k, used)} ${now}, ${limitValue(k, left)} left.`;
  };
  // Below what the member uses now: allowed, and said (QA: a limit of 1 for a member running 3 was saved unremarked).
  const belowUse = (k: LimitKey) => {
    const v = fields[k].value;
    const used = usedOf(k, member.use);
    if (v === null || v >= used) return "";
    return k === "monthlyVcoreHours"
      ? ` Below what they used this month (${amount(k, used)}): new kernels are refused until the budget renews.`
      : ` Below what they use now (${amount(k, used)}): nothing running is stopped; new kernels are refused until they are under it.`;
  };
  const above = (k: LimitKey) => {
    const v = fields[k].value;
    const cap = envelope?.[k] ?? null;
    return v !== null && cap !== null && v > cap;
  };

  return (
    <form onSubmit={submit} aria-label={`Quota of ${member.email}`}>
      <Stack gap="sm">
        <Text size="sm" c="dimmed">
          Leave a field empty for the default (capped by the team envelope). A member&apos;s quota can&apos;t go above team {teamName}&apos;s envelope.
        </Text>
        {tried && Object.keys(errors).length > 0 ? (
          <Alert color="red" title="Quota not saved" role="alert">
            Correct the fields marked below.
          </Alert>
        ) : (
          save.error && (
            <Alert color="red" title="Quota not saved" role="alert">
              {readableError(save.error)}
            </Alert>
          )
        )}
        {LIMIT_KEYS.map((k) => (
          <NumberInput
            key={k}
            label={INPUT_LABEL[k]}
            description={envelopeText(k) + belowUse(k)}
            placeholder={`default: ${limitValue(k, member.limits[k] === null || member.explicit?.[k] != null ? null : member.limits[k])}`}
            value={values[k]}
            onChange={(v) => {
              setValues((old) => ({ ...old, [k]: v }));
              save.reset(); // the last refusal was about the values before this edit
            }}
            min={0}
            {...AS_TYPED}
            error={errors[k] ?? (above(k) ? `Above the team envelope of ${limitValue(k, envelope![k])}` : undefined)}
          />
        ))}
        <Text size="xs" c="dimmed">
          Now: {LIMIT_KEYS.map((k) => `${LIMIT_NAMES[k].toLowerCase()} ${amount(k, usedOf(k, member.use))}`).join(" · ")}
        </Text>
        <Group justify="flex-end">
          <Button variant="default" onClick={onDone}>
            Cancel
          </Button>
          <Button type="submit" loading={save.isPending}>
            Save quota
          </Button>
        </Group>
      </Stack>
    </form>
  );
}

// --- the team's culling policy ---

function CullPolicyForm({ teamId }: { teamId: string }) {
  const trpc = useTRPC();
  const queryClient = useQueryClient();
  const policy = useQuery(trpc.quotas.cullPolicy.queryOptions({ teamId }));
  if (policy.isPending) return <Loader size="sm" />;
  if (policy.error) return <Alert color="red">{errorMessage(policy.error)}</Alert>;
  return (
    <CullPolicyFields
      key={JSON.stringify(policy.data.stored)}
      teamId={teamId}
      data={policy.data}
      onSaved={() => {
        void queryClient.invalidateQueries({ queryKey: trpc.quotas.cullPolicy.queryKey({ teamId }) });
        void queryClient.invalidateQueries({ queryKey: trpc.quotas.team.queryKey({ teamId }) });
      }}
    />
  );
}

interface PolicyData {
  stored: { idleTimeoutMinutes: number | null; cullBusy: boolean | null; cullConnected: boolean | null; maxLifetimeHours: number | null; warningMinutes: number | null } | null;
  effective: { idleTimeoutMinutes: number; cullBusy: boolean; cullConnected: boolean; maxLifetimeHours: number | null; warningMinutes: number };
  bounds: {
    idleTimeoutMinutes: { min: number; max: number; default: number };
    warningMinutes: { min: number; max: number; default: number };
    maxLifetimeHours: { max: number | null; default: number | null };
    allowCullBusy: boolean;
    cullConnectedDefault: boolean;
  };
}

function CullPolicyFields({ teamId, data, onSaved }: { teamId: string; data: PolicyData; onSaved(): void }) {
  const trpc = useTRPC();
  const { stored, effective, bounds } = data;
  // The team's own choices; a field left empty follows the admin's default (and later changes of it), so the form
  // shows what the team chose, not the values in force, and saving unchanged keeps it so (QA: it froze the defaults).
  const [idle, setIdle] = useState<string | number>(stored?.idleTimeoutMinutes ?? "");
  const [warning, setWarning] = useState<string | number>(stored?.warningMinutes ?? "");
  const [lifetime, setLifetime] = useState<string | number>(stored?.maxLifetimeHours === NO_LIFETIME_LIMIT ? "" : (stored?.maxLifetimeHours ?? ""));
  // Offered only where the admin sets no maximum; otherwise the field's empty value is the admin's limit anyway.
  const mayRunUnlimited = bounds.maxLifetimeHours.max === null;
  const [unlimited, setUnlimited] = useState(mayRunUnlimited && stored?.maxLifetimeHours === NO_LIFETIME_LIMIT);
  const [cullBusy, setCullBusy] = useState(effective.cullBusy);
  const [cullConnected, setCullConnected] = useState(effective.cullConnected);
  /** A switch the team never set and left as the default shows it: it stays the default's. */
  const chosen = (own: boolean | null | undefined, inForce: boolean, now: boolean) => (own == null && now === inForce ? null : now);
  const save = useMutation(
    trpc.quotas.setCullPolicy.mutationOptions({
      onSuccess: () => {
        notifications.show({ color: "indigo", message: "Culling policy saved." });
        onSaved();
      },
    }),
  );
  const fields = {
    idle: readNumberField(idle, CULL_RULES.idleTimeoutMinutes),
    warning: readNumberField(warning, CULL_RULES.warningMinutes),
    lifetime: readNumberField(unlimited ? "" : lifetime, CULL_RULES.maxLifetimeHours),
  };
  const errors = fieldErrors(fields);
  const [tried, setTried] = useState(false);
  const submit = (e: FormEvent) => {
    e.preventDefault();
    setTried(true);
    if (Object.keys(errors).length > 0) return;
    save.mutate({
      teamId,
      policy: {
        idleTimeoutMinutes: fields.idle.value,
        warningMinutes: fields.warning.value,
        maxLifetimeHours: unlimited ? NO_LIFETIME_LIMIT : fields.lifetime.value,
        cullBusy: chosen(stored?.cullBusy, effective.cullBusy, cullBusy),
        cullConnected: chosen(stored?.cullConnected, effective.cullConnected, cullConnected),
      },
    });
  };
  return (
    <Card withBorder padding="md" component="form" onSubmit={submit} aria-label="Culling policy">
      <Title order={4}>Idle culling</Title>
      <Text size="xs" c="dimmed" mb="sm">
        Idle kernels are stopped to free room for others; their users are warned first and can keep them running. Within the bounds an admin set.
      </Text>
      <Stack gap="sm" maw={560}>
        {tried && Object.keys(errors).length > 0 ? (
          <Alert color="red" title="Policy not saved" role="alert">
            Correct the fields marked below.
          </Alert>
        ) : (
          save.error && (
            <Alert color="red" title="Policy not saved" role="alert">
              {readableError(save.error)}
            </Alert>
          )
        )}
        <Group grow align="flex-start">
          <NumberInput
            label="Idle timeout (minutes)"
            description={`Between ${bounds.idleTimeoutMinutes.min} and ${bounds.idleTimeoutMinutes.max}; default ${bounds.idleTimeoutMinutes.default}`}
            placeholder={`default: ${bounds.idleTimeoutMinutes.default}`}
            value={idle}
            onChange={setIdle}
            min={1}
            {...AS_TYPED}
            error={errors.idle}
          />
          <NumberInput
            label="Warn before culling (minutes)"
            description={`Between ${bounds.warningMinutes.min} and ${bounds.warningMinutes.max}; default ${bounds.warningMinutes.default}`}
            placeholder={`default: ${bounds.warningMinutes.default}`}
            value={warning}
            onChange={setWarning}
            min={1}
            {...AS_TYPED}
            error={errors.warning}
          />
        </Group>
        <NumberInput
          label="Maximum lifetime (hours)"
          description={lifetimeHint(bounds.maxLifetimeHours)}
          placeholder={unlimited ? "no limit" : bounds.maxLifetimeHours.default ?? bounds.maxLifetimeHours.max ? `default: ${bounds.maxLifetimeHours.default ?? bounds.maxLifetimeHours.max}` : "no limit"}
          value={unlimited ? "" : lifetime}
          onChange={setLifetime}
          disabled={unlimited}
          min={1}
          {...AS_TYPED}
          error={errors.lifetime}
        />
        {mayRunUnlimited && (
          <Checkbox
            label="No lifetime limit"
            description={bounds.maxLifetimeHours.default !== null ? `Kernels of this team run as long as they are used, instead of the admin's default of ${bounds.maxLifetimeHours.default} hours` : "Kept even if the admin sets a default lifetime later"}
            checked={unlimited}
            onChange={(e) => setUnlimited(e.currentTarget.checked)}
          />
        )}
        <Tooltip label="The admin does not allow culling busy kernels" disabled={bounds.allowCullBusy}>
          <div>
            <Switch
              label="Busy kernels can count as idle"
              description={cullBusy ? "On: a long computation that prints nothing can be culled as idle" : "Off: a long computation that prints nothing is never culled"}
              checked={cullBusy}
              disabled={!bounds.allowCullBusy}
              onChange={(e) => setCullBusy(e.currentTarget.checked)}
            />
          </div>
        </Tooltip>
        <Switch
          label="Cull kernels with a notebook open"
          description={cullConnected ? "On: an idle kernel is culled even while its notebook is open in a browser (its user is warned there first)" : "Off: a kernel whose notebook is open in a browser is kept"}
          checked={cullConnected}
          onChange={(e) => setCullConnected(e.currentTarget.checked)}
        />
        <Group>
          <Button type="submit" loading={save.isPending}>
            Save culling policy
          </Button>
        </Group>
      </Stack>
    </Card>
  );
}

/** What the team may choose as a lifetime, and what an empty field means. */
function lifetimeHint({ max, default: fallback }: { max: number | null; default: number | null }): string {
  const empty = fallback !== null ? `empty: the admin's default, ${fallback}` : max !== null ? `empty: ${max}, the admin's limit` : "empty: no limit";
  return max === null ? `Any number of hours; ${empty}` : `At most ${max}; ${empty}`;
}
