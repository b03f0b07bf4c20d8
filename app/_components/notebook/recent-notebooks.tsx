"use client";
// The Notebooks page: the notebooks this account opened lately (in any browser), newest first, and a way to start a
// new one.
import { ActionIcon, Anchor, Badge, Button, Group, Stack, Table, Text, TextInput, Title, Tooltip } from "@mantine/core";
import { IconX } from "@tabler/icons-react";
import { useMutation, useQuery, useQueryClient } from "@tanstack/react-query";
import Link from "next/link";
import { useRouter } from "next/navigation";
import { useEffect, useState } from "react";
import { errorMessage, useTRPC } from "@/app/_lib/trpc";
import { useSignedInUserId } from "../signed-in-user";
import { newNotebookPath, suggestedNotebookName } from "./new-notebook-name";
import { fileTimeFormat, notebookHref } from "../files/paths";
import { importBrowserRecents } from "./recent";

export function RecentNotebooks() {
  const trpc = useTRPC();
  const router = useRouter();
  const queryClient = useQueryClient();
  const userId = useSignedInUserId();
  // This browser's list from before the server kept it goes into the account first, so it shows in the first answer.
  const [imported, setImported] = useState(false);
  useEffect(() => void importBrowserRecents(userId).then(() => setImported(true)), [userId]);
  // Fetched afresh on every visit: another session may have opened or renamed notebooks since.
  const listed = useQuery({ ...trpc.notebooks.recent.queryOptions(), enabled: imported, staleTime: 0 });
  const recent = listed.data;
  const forget = useMutation(
    trpc.notebooks.forgetRecent.mutationOptions({ onSettled: () => queryClient.invalidateQueries({ queryKey: trpc.notebooks.recent.queryKey() }) }),
  );
  // The field starts with the first Untitled name the home folder does not have (as Files' New notebook picks);
  // `typed` is null until the user types.
  const home = useQuery(trpc.files.list.queryOptions({ path: "" }));
  const [typed, setTyped] = useState<string | null>(null);
  const name = typed ?? (home.data ? suggestedNotebookName(home.data.entries.map((e) => e.name)) : "");
  const [problem, setProblem] = useState<string | null>(null);
  const create = useMutation(trpc.notebooks.create.mutationOptions());

  const submit = () => {
    const wanted = newNotebookPath(name);
    if (wanted.problem !== undefined) return setProblem(wanted.problem);
    setProblem(null);
    create.mutate({ path: wanted.path }, { onSuccess: () => router.push(notebookHref(wanted.path)) });
  };
  // Said in the form, under the name it is about.
  const shown = problem ?? (create.error ? errorMessage(create.error) : null);

  return (
    <Stack gap="md" maw={820}>
      <Group justify="space-between" align="flex-end">
        <Title order={1} size="h2">Notebooks</Title>
        <form onSubmit={(e) => (e.preventDefault(), submit())} noValidate aria-label="New notebook">
          <Group gap="xs" align="flex-start">
            <TextInput
              size="xs"
              label="Notebook name"
              value={name}
              onChange={(e) => {
                setTyped(e.currentTarget.value);
                setProblem(null);
                create.reset();
              }}
              error={shown}
              styles={{ error: { overflowWrap: "anywhere" } }}
              spellCheck={false}
              autoComplete="off"
              w={240}
            />
            <Button size="xs" type="submit" loading={create.isPending} mt={22}>
              New notebook
            </Button>
          </Group>
        </form>
      </Group>
      {listed.error && <Text c="red" size="sm">Recent notebooks couldn't be loaded: {errorMessage(listed.error)}</Text>}
      {forget.error && <Text c="red" size="sm">Not removed from the list: {errorMessage(forget.error)}</Text>}
      {recent && recent.length === 0 && <Text c="dimmed" size="sm">Notebooks you open appear here. Open one from Files, or create one.</Text>}
      {recent && recent.length > 0 && (
        <Table highlightOnHover verticalSpacing={6} aria-label="Recent notebooks">
          <Table.Thead>
            <Table.Tr>
              <Table.Th>Notebook</Table.Th>
              <Table.Th>Last opened</Table.Th>
              <Table.Th w={40} />
            </Table.Tr>
          </Table.Thead>
          <Table.Tbody>
            {recent.map((r) => (
              <Table.Tr key={r.path}>
                <Table.Td>
                  {r.missing ? (
                    // Renames and deletes in Files move or drop entries; a file gone anyway went behind Atrium's back
                    // and may come back, so it stays listed (not a link) until the user removes it.
                    <Group gap="xs" wrap="nowrap">
                      <Text size="sm" c="dimmed" td="line-through" style={{ whiteSpace: "pre-wrap" }}>{r.path}</Text>
                      <Tooltip label="This file is no longer in your home folder: it was moved or deleted outside Files. Remove it from the list, or put the file back.">
                        <Badge size="xs" color="gray" variant="light">Not found</Badge>
                      </Tooltip>
                    </Group>
                  ) : (
                    <Anchor component={Link} href={notebookHref(r.path)} size="sm" style={{ whiteSpace: "pre-wrap" }}>
                      {r.path}
                    </Anchor>
                  )}
                </Table.Td>
                <Table.Td>
                  <Text size="sm" c="dimmed" title={r.openedAt.toISOString()}>{fileTimeFormat.format(r.openedAt)}</Text>
                </Table.Td>
                <Table.Td>
                  <Tooltip label="Remove from this list">
                    <ActionIcon variant="subtle" color="gray" size="sm" aria-label={`Remove ${r.path} from recent notebooks`} loading={forget.isPending && forget.variables?.path === r.path} onClick={() => forget.mutate({ path: r.path })}>
                      <IconX size={14} />
                    </ActionIcon>
                  </Tooltip>
                </Table.Td>
              </Table.Tr>
            ))}
          </Table.Tbody>
        </Table>
      )}
    </Stack>
  );
}
