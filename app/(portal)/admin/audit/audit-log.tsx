"use client";
// The audit trail of administrative actions (who changed a role, a quota, a password; who stopped whose kernel),
// newest first: filtered by kind of action and by words (an email, a team), a page at a time.
import { Alert, Button, Code, Group, Loader, NativeSelect, Stack, Table, Text, TextInput, Title } from "@mantine/core";
import { useDebouncedValue } from "@mantine/hooks";
import { IconSearch } from "@tabler/icons-react";
import { useQuery, useQueryClient } from "@tanstack/react-query";
import { useState } from "react";
import { dateTime } from "@/app/_components/usage/format";
import { errorMessage, useTRPC } from "@/app/_lib/trpc";
import type { AppRouter } from "@/server/trpc/root";
import type { inferRouterOutputs } from "@trpc/server";

type Entry = inferRouterOutputs<AppRouter>["admin"]["audit"][number];

const PAGE = 100;

/** The families of actions an admin filters by (the action's first word). */
const FAMILIES = [
  { value: "user", label: "Users" },
  { value: "team", label: "Teams" },
  { value: "quota", label: "Quotas" },
  { value: "cull", label: "Culling policy" },
  { value: "kernel", label: "Kernels" },
  { value: "token", label: "API tokens" },
  { value: "sso", label: "Single sign-on" },
];

/** What each recorded action means, in words; an action not listed shows as recorded. */
const ACTION_NAMES: Record<string, string> = {
  "user.create": "Added a user",
  "user.set_role": "Changed a role",
  "user.reset_password": "Reset a password",
  "user.change_password": "Changed their password",
  "user.end_sessions": "Signed a user out everywhere",
  "user.set_posix_ids": "Set uid and gid",
  "user.disable": "Disabled an account",
  "user.enable": "Enabled an account",
  "user.identity.link": "Linked a sign-in identity",
  "user.identity.unlink": "Unlinked a sign-in identity",
  "team.create": "Created a team",
  "team.set_member": "Set a team member",
  "team.remove_member": "Removed a team member",
  "team.set_queue": "Set a team's YARN queue",
  "quota.user.set": "Set a user's quota",
  "quota.team.set": "Set a team's envelope",
  "cull.policy.set": "Set a team's culling policy",
  "cull.bounds.set": "Set the culling bounds",
  "kernel.stop": "Stopped a kernel",
  "token.create": "Created an API token",
  "token.revoke": "Revoked an API token",
  "sso.backchannel_logout": "Ended sessions (sign-on provider's logout)",
};

export function AuditLog() {
  const trpc = useTRPC();
  const queryClient = useQueryClient();
  const [family, setFamily] = useState("");
  const [typed, setTyped] = useState("");
  const [search] = useDebouncedValue(typed.trim(), 300);
  const filter = { limit: PAGE, action: family || undefined, search: search || undefined };
  const first = useQuery(trpc.admin.audit.queryOptions(filter));
  // Older pages, for the filter they were loaded under (a new filter starts again from the newest).
  const [older, setOlder] = useState<{ key: string; entries: Entry[]; done: boolean }>({ key: "", entries: [], done: false });
  const key = JSON.stringify(filter);
  const olderHere = older.key === key ? older : { key, entries: [], done: false };
  const [loading, setLoading] = useState(false);
  const [olderError, setOlderError] = useState<string | null>(null);
  const entries = [...(first.data ?? []), ...olderHere.entries];
  const more = first.data !== undefined && first.data.length === PAGE && !olderHere.done;

  const loadOlder = async () => {
    const last = entries.at(-1);
    if (!last) return;
    setLoading(true);
    setOlderError(null);
    try {
      const page = await queryClient.fetchQuery(trpc.admin.audit.queryOptions({ ...filter, before: last.id }));
      setOlder({ key, entries: [...olderHere.entries, ...page], done: page.length < PAGE });
    } catch (error) {
      setOlderError(errorMessage(error));
    } finally {
      setLoading(false);
    }
  };

  return (
    <Stack gap="md">
      <Group justify="space-between" align="flex-end">
        <div>
          <Title order={1} size="h2">
            Audit log
          </Title>
          <Text size="sm" c="dimmed">
            Every administrative change, newest first: who did what, to whom, when.
          </Text>
        </div>
        <Group gap="sm" align="flex-end">
          <NativeSelect label="Kind" data={[{ value: "", label: "All actions" }, ...FAMILIES]} value={family} onChange={(e) => setFamily(e.currentTarget.value)} w={190} />
          <TextInput
            label="Search"
            placeholder="Email, team, id"
            leftSection={<IconSearch size={14} />}
            value={typed}
            onChange={(e) => setTyped(e.currentTarget.value)}
            w={240}
          />
        </Group>
      </Group>
      {first.error && <Alert color="red">{errorMessage(first.error)}</Alert>}
      {first.isPending && <Loader size="sm" aria-label="Loading the audit log" />}
      {first.data && entries.length === 0 && <Text c="dimmed">{family || search ? "No entry matches." : "Nothing recorded yet."}</Text>}
      {entries.length > 0 && (
        <Table.ScrollContainer minWidth={900}>
          <Table aria-label="Audit log" verticalSpacing={6} striped>
            <Table.Thead>
              <Table.Tr>
                <Table.Th>When</Table.Th>
                <Table.Th>Who</Table.Th>
                <Table.Th>Action</Table.Th>
                <Table.Th>Target</Table.Th>
                <Table.Th>Details</Table.Th>
              </Table.Tr>
            </Table.Thead>
            <Table.Tbody>
              {entries.map((entry) => (
                <Table.Tr key={entry.id}>
                  <Table.Td style={{ whiteSpace: "nowrap" }} title={new Date(entry.at).toISOString()}>
                    {dateTime(new Date(entry.at))}
                  </Table.Td>
                  <Table.Td>{entry.actorLabel}</Table.Td>
                  <Table.Td>
                    <Text size="sm">{ACTION_NAMES[entry.action] ?? entry.action}</Text>
                    <Text size="xs" c="dimmed" ff="monospace">
                      {entry.action}
                    </Text>
                  </Table.Td>
                  <Table.Td style={{ overflowWrap: "anywhere", maxWidth: 280 }}>{targetOf(entry)}</Table.Td>
                  <Table.Td>
                    <DetailsText entry={entry} />
                  </Table.Td>
                </Table.Tr>
              ))}
            </Table.Tbody>
          </Table>
        </Table.ScrollContainer>
      )}
      {olderError && <Alert color="red">{`Older entries could not be loaded: ${olderError}`}</Alert>}
      {more && (
        <Group justify="center">
          <Button variant="default" loading={loading} onClick={() => void loadOlder()}>
            Load older entries
          </Button>
        </Group>
      )}
    </Stack>
  );
}

/** The details' words that name a target, in the order one is picked. */
const TARGET_KEYS = ["email", "name", "team"];

/** The detail that names the target as a person reads it (an email, a name, a team), if the entry recorded one. */
function targetKeyOf(entry: Entry): string | undefined {
  const details = entry.details as Record<string, unknown>;
  return TARGET_KEYS.find((key) => typeof details[key] === "string");
}

/** The target as a person reads it: the email or name the entry recorded, else its kind and id. */
function targetOf(entry: Entry): string {
  const key = targetKeyOf(entry);
  if (key) return (entry.details as Record<string, string>)[key]!;
  if (entry.targetType === "cull_bounds") return "Culling bounds (all teams)";
  return entry.targetId ? `${entry.targetType} ${entry.targetId}` : entry.targetType;
}

/** The rest of the details (what the Target column shows is not repeated). */
function DetailsText({ entry }: { entry: Entry }) {
  const targetKey = targetKeyOf(entry);
  const shown = Object.entries(entry.details as Record<string, unknown>).filter(([key]) => key !== targetKey);
  if (shown.length === 0) return <Text size="sm" c="dimmed">—</Text>;
  return (
    <Stack gap={2}>
      {shown.map(([key, value]) => (
        <Text key={key} size="xs" style={{ overflowWrap: "anywhere" }}>
          {key}: <Code fz="xs">{typeof value === "string" ? value : JSON.stringify(value)}</Code>
        </Text>
      ))}
    </Stack>
  );
}
