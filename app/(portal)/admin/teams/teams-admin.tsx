"use client";
import { ActionIcon, Alert, Badge, Button, Card, Group, Modal, Select, SimpleGrid, Stack, Switch, Table, Text, TextInput, Title, Tooltip, VisuallyHidden } from "@mantine/core";
import { useDisclosure } from "@mantine/hooks";
import { notifications } from "@mantine/notifications";
import { IconPlus, IconUserMinus } from "@tabler/icons-react";
import { useMutation, useQuery, useQueryClient } from "@tanstack/react-query";
import { useState, type FormEvent } from "react";
import { ConfirmModal } from "@/app/_components/confirm-modal";
import { errorMessage, useTRPC } from "@/app/_lib/trpc";

/** The server's limits on a team (admin.teams.add), checked here first so the form can say so. */
const TEAM_NAME_MAX = 63;
const TEAM_DESCRIPTION_MAX = 500;

export function TeamsAdmin() {
  const trpc = useTRPC();
  const queryClient = useQueryClient();
  const teams = useQuery(trpc.admin.teams.list.queryOptions());
  const users = useQuery(trpc.admin.users.list.queryOptions());
  const invalidate = () => {
    void queryClient.invalidateQueries({ queryKey: trpc.admin.teams.list.queryKey() });
    void queryClient.invalidateQueries({ queryKey: trpc.admin.users.list.queryKey() });
  };
  const onError = (error: unknown) => notifications.show({ color: "red", title: "Not done", message: errorMessage(error) });
  const setMember = useMutation(
    trpc.admin.teams.setMember.mutationOptions({
      onSuccess: ({ chargedTo }, { teamId, userId }) => {
        invalidate();
        // In several teams: say where the kernels are charged, when not to the team just joined.
        if (!chargedTo || chargedTo.id === teamId) return;
        const email = users.data?.find((u) => u.id === userId)?.email ?? "This user";
        const team = teams.data?.find((t) => t.id === teamId)?.name ?? "this team";
        notifications.show({
          color: "indigo",
          title: `${email} is in ${team} too`,
          message: `Their kernels stay charged to ${chargedTo.name}, the first team they joined: its envelope caps their quota, and its lead sets it.`,
        });
      },
      onError,
    }),
  );
  const removeMember = useMutation(trpc.admin.teams.removeMember.mutationOptions({ onSuccess: invalidate, onError }));
  const [addOpened, add] = useDisclosure(false);
  const [removing, setRemoving] = useState<{ teamId: string; teamName: string; userId: string; email: string } | null>(null);

  return (
    <Stack>
      <Group justify="space-between">
        <Title order={1} size="h2">Teams</Title>
        <Button leftSection={<IconPlus size={16} />} onClick={add.open}>
          Add team
        </Button>
      </Group>
      {teams.error && <Alert color="red">{errorMessage(teams.error)}</Alert>}
      {teams.data?.length === 0 && <Text c="dimmed">No teams yet. Teams group analysts under a team lead, with shared quotas.</Text>}
      <SimpleGrid cols={{ base: 1, lg: 2 }}>
        {teams.data?.map((team) => (
          <Card key={team.id} withBorder>
            <Group justify="space-between" mb="xs">
              <div>
                <Text fw={600}>{team.name}</Text>
                {team.description && (
                  <Text size="xs" c="dimmed">
                    {team.description}
                  </Text>
                )}
              </div>
              <Badge variant="light">{team.members.length} {team.members.length === 1 ? "member" : "members"}</Badge>
            </Group>
            <Table aria-label={`Members of ${team.name}`} verticalSpacing={4}>
              <Table.Thead>
                <Table.Tr>
                  <Table.Th>Member</Table.Th>
                  <Table.Th>Team lead</Table.Th>
                  <Table.Th>
                  <VisuallyHidden>Actions</VisuallyHidden>
                </Table.Th>
                </Table.Tr>
              </Table.Thead>
              <Table.Tbody>
                {team.members.map((m) => (
                  <Table.Tr key={m.userId}>
                    <Table.Td>
                      <Text size="sm">{m.name}</Text>
                      <Text size="xs" c="dimmed">
                        {m.email}
                      </Text>
                    </Table.Td>
                    <Table.Td>
                      <Switch
                        aria-label={`${m.email} is team lead of ${team.name}`}
                        checked={m.role === "lead"}
                        onChange={(e) => setMember.mutate({ teamId: team.id, userId: m.userId, role: e.currentTarget.checked ? "lead" : "member" })}
                      />
                    </Table.Td>
                    <Table.Td>
                      <Tooltip label="Remove from team">
                        <ActionIcon
                          variant="subtle"
                          color="red"
                          aria-label={`Remove ${m.email} from ${team.name}`}
                          onClick={() => setRemoving({ teamId: team.id, teamName: team.name, userId: m.userId, email: m.email })}
                        >
                          <IconUserMinus size={16} />
                        </ActionIcon>
                      </Tooltip>
                    </Table.Td>
                  </Table.Tr>
                ))}
              </Table.Tbody>
            </Table>
            <AddMember
              teamName={team.name}
              candidates={(users.data ?? []).filter((u) => !team.members.some((m) => m.userId === u.id)).map((u) => ({ value: u.id, label: u.email }))}
              onAdd={(userId) => setMember.mutate({ teamId: team.id, userId, role: "member" })}
            />
          </Card>
        ))}
      </SimpleGrid>
      <AddTeamModal opened={addOpened} onClose={add.close} onAdded={invalidate} />
      <ConfirmModal
        opened={removing !== null}
        title="Remove from team?"
        confirmLabel="Remove"
        onConfirm={() => {
          if (removing) removeMember.mutate({ teamId: removing.teamId, userId: removing.userId });
          setRemoving(null);
        }}
        onClose={() => setRemoving(null)}
      >
        {removing?.email} will no longer be a member of {removing?.teamName}.
      </ConfirmModal>
    </Stack>
  );
}

function AddMember({ teamName, candidates, onAdd }: { teamName: string; candidates: { value: string; label: string }[]; onAdd: (userId: string) => void }) {
  const [userId, setUserId] = useState<string | null>(null);
  return (
    <Group mt="sm" gap="xs" align="end">
      <Select
        label={`Add a member to ${teamName}`}
        placeholder="Choose a user"
        data={candidates}
        value={userId}
        onChange={setUserId}
        searchable
        style={{ flex: 1 }}
        size="xs"
      />
      <Button
        size="xs"
        disabled={!userId}
        onClick={() => {
          if (userId) onAdd(userId);
          setUserId(null);
        }}
      >
        Add member
      </Button>
    </Group>
  );
}

function AddTeamModal({ opened, onClose, onAdded }: { opened: boolean; onClose: () => void; onAdded: () => void }) {
  const trpc = useTRPC();
  const [name, setName] = useState("");
  const [description, setDescription] = useState("");
  const add = useMutation(
    trpc.admin.teams.add.mutationOptions({
      onSuccess: () => {
        setName("");
        setDescription("");
        onAdded();
        onClose();
      },
    }),
  );
  const [errors, setErrors] = useState<{ name?: string; description?: string }>({});
  // Checked here, never cut short: a pasted name too long is said to be, not silently shortened.
  const submit = (e: FormEvent) => {
    e.preventDefault();
    const trimmed = name.trim();
    const about = description.trim();
    const found = {
      name: trimmed === "" ? "Enter a name for the team." : trimmed.length > TEAM_NAME_MAX ? `At most ${TEAM_NAME_MAX} characters.` : undefined,
      description: about.length > TEAM_DESCRIPTION_MAX ? `At most ${TEAM_DESCRIPTION_MAX} characters.` : undefined,
    };
    setErrors(found);
    if (found.name || found.description) return;
    add.mutate({ name: trimmed, description: about });
  };
  return (
    <Modal opened={opened} onClose={onClose} title="Add team">
      <form onSubmit={submit}>
        <Stack>
          {add.error && <Alert color="red">{errorMessage(add.error)}</Alert>}
          <TextInput label="Team name" required error={errors.name} value={name} onChange={(e) => setName(e.currentTarget.value)} />
          <TextInput label="Description" error={errors.description} value={description} onChange={(e) => setDescription(e.currentTarget.value)} />
          <Group justify="flex-end">
            <Button variant="default" onClick={onClose}>
              Cancel
            </Button>
            <Button type="submit" loading={add.isPending}>
              Add team
            </Button>
          </Group>
        </Stack>
      </form>
    </Modal>
  );
}
