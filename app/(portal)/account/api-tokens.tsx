"use client";
// Personal API tokens: what lets JupyterLab (`--gateway-url`), `jupyter server` or a script use Atrium's Jupyter
// API as this user. A new token is shown once, here, with a command ready to paste; Atrium keeps only its hash.
import { ActionIcon, Alert, Badge, Button, Card, Code, CopyButton, Group, Loader, Stack, Table, Text, TextInput, Title, Tooltip, VisuallyHidden } from "@mantine/core";
import { notifications } from "@mantine/notifications";
import { IconCheck, IconCopy, IconKey } from "@tabler/icons-react";
import { useMutation, useQuery, useQueryClient } from "@tanstack/react-query";
import { useState, type FormEvent } from "react";
import { dateTime } from "@/app/_components/usage/format";
import { errorMessage, useTRPC } from "@/app/_lib/trpc";
import { ConfirmModal } from "@/app/_components/confirm-modal";
import { MAX_TOKEN_DAYS, MAX_TOKEN_NAME, tokenExpiryDays } from "@/server/auth/token-rules";

interface NewToken {
  id: string;
  name: string;
  token: string;
}

export function ApiTokens() {
  const trpc = useTRPC();
  const queryClient = useQueryClient();
  const tokens = useQuery(trpc.me.tokens.queryOptions());
  const invalidate = () => queryClient.invalidateQueries({ queryKey: trpc.me.tokens.queryKey() });
  const [created, setCreated] = useState<NewToken | null>(null);
  const [revoking, setRevoking] = useState<{ id: string; name: string } | null>(null);
  const revoke = useMutation(
    trpc.me.revokeToken.mutationOptions({
      onSuccess: (_data, { id }) => {
        notifications.show({ color: "indigo", message: `Token “${revoking?.name ?? ""}” revoked: anything still using it is refused from now on.` });
        if (created?.id === id) setCreated(null);
        void invalidate();
      },
      onError: (error) => notifications.show({ color: "red", title: "Not revoked", message: errorMessage(error) }),
      onSettled: () => setRevoking(null),
    }),
  );

  return (
    <Card withBorder padding="md" component="section" aria-labelledby="api-tokens-heading">
      <Title order={4} id="api-tokens-heading">
        API tokens
      </Title>
      <Text size="sm" c="dimmed" mb="sm">
        A token lets JupyterLab or <Code>jupyter server --gateway-url</Code>, and your scripts, use Atrium&apos;s Jupyter API as you: their
        kernels run here, under your quota.
      </Text>

      <CreateTokenForm
        onCreated={(t) => {
          setCreated(t);
          void invalidate();
        }}
      />
      {created && <NewTokenPanel created={created} onDone={() => setCreated(null)} />}

      {tokens.isPending ? (
        <Loader size="sm" mt="md" />
      ) : tokens.error ? (
        <Alert color="red" mt="md" title="Your tokens can't be shown">
          {errorMessage(tokens.error)}
        </Alert>
      ) : tokens.data.length === 0 ? (
        <Text size="sm" c="dimmed" mt="md">
          You have no API tokens yet.
        </Text>
      ) : (
        <Table.ScrollContainer minWidth={640} mt="md">
          <Table aria-label="Your API tokens" verticalSpacing={6} highlightOnHover>
            <Table.Thead>
              <Table.Tr>
                <Table.Th>Name</Table.Th>
                <Table.Th>Token</Table.Th>
                <Table.Th>Created</Table.Th>
                <Table.Th>Last used</Table.Th>
                <Table.Th>Expires</Table.Th>
                <Table.Th>Status</Table.Th>
                <Table.Th>
                  <VisuallyHidden>Actions</VisuallyHidden>
                </Table.Th>
              </Table.Tr>
            </Table.Thead>
            <Table.Tbody>
              {tokens.data.map((t) => {
                const status = tokenStatus(t);
                return (
                  <Table.Tr key={t.id}>
                    <Table.Td style={{ overflowWrap: "anywhere", maxWidth: 280 }}>{t.name}</Table.Td>
                    <Table.Td>
                      <Text ff="monospace" size="sm" style={{ whiteSpace: "nowrap" }}>
                        {t.prefix}…
                      </Text>
                    </Table.Td>
                    <Table.Td>{dateTime(t.createdAt)}</Table.Td>
                    <Table.Td>{t.lastUsedAt ? dateTime(t.lastUsedAt) : "never"}</Table.Td>
                    <Table.Td>{t.expiresAt ? dateTime(t.expiresAt) : "never"}</Table.Td>
                    <Table.Td>
                      <Badge variant="light" color={status === "active" ? "teal" : status === "revoked" ? "red" : "gray"} style={{ overflow: "visible", minWidth: "max-content" }}>
                        {status}
                      </Badge>
                    </Table.Td>
                    <Table.Td ta="right">
                      {status === "active" && (
                        <Button size="xs" variant="light" color="red" onClick={() => setRevoking({ id: t.id, name: t.name })}>
                          Revoke
                        </Button>
                      )}
                    </Table.Td>
                  </Table.Tr>
                );
              })}
            </Table.Tbody>
          </Table>
        </Table.ScrollContainer>
      )}

      <ConfirmModal
        opened={revoking !== null}
        title="Revoke this token?"
        confirmLabel="Revoke token"
        pending={revoke.isPending}
        onClose={() => setRevoking(null)}
        onConfirm={() => revoking && revoke.mutate({ id: revoking.id })}
      >
        “{revoking?.name}” stops working at once: JupyterLab, servers and scripts using it are refused until they get a new token. This can&apos;t
        be undone.
      </ConfirmModal>
    </Card>
  );
}

function tokenStatus(t: { revoked: boolean; expiresAt: Date | string | null }): "active" | "revoked" | "expired" {
  if (t.revoked) return "revoked";
  if (t.expiresAt && new Date(t.expiresAt).getTime() <= Date.now()) return "expired";
  return "active";
}

function CreateTokenForm({ onCreated }: { onCreated: (t: NewToken) => void }) {
  const trpc = useTRPC();
  const [name, setName] = useState("");
  const [days, setDays] = useState("");
  const [daysProblem, setDaysProblem] = useState<string | null>(null);
  const create = useMutation(
    trpc.me.createToken.mutationOptions({
      onSuccess: (result, input) => {
        onCreated({ id: result.id, token: result.token, name: input.name });
        setName("");
        setDays("");
      },
    }),
  );
  const submit = (e: FormEvent) => {
    e.preventDefault();
    if (!name.trim()) return;
    // Checked here, as typed: a number out of range is explained, never quietly changed into another.
    const expiry = tokenExpiryDays(days);
    if (expiry.problem !== undefined) return setDaysProblem(expiry.problem);
    create.mutate({ name: name.trim(), expiresInDays: expiry.days });
  };
  return (
    <form onSubmit={submit} aria-label="Create an API token" noValidate>
      <Stack gap="xs">
        {daysProblem ? (
          <Alert color="red" role="alert" variant="light" id="token-days-problem">
            {daysProblem}
          </Alert>
        ) : (
          create.error && (
            <Alert color="red" role="alert" variant="light">
              {errorMessage(create.error)}
            </Alert>
          )
        )}
        <Group align="flex-end" gap="sm" wrap="wrap">
          <TextInput
            label="Token name"
            placeholder="e.g. laptop JupyterLab"
            required
            maxLength={MAX_TOKEN_NAME}
            // The field takes no more than MAX_TOKEN_NAME characters (a longer paste is cut): said once it matters.
            description={name.length >= MAX_TOKEN_NAME - 10 ? `${name.length} of ${MAX_TOKEN_NAME} characters` : undefined}
            value={name}
            onChange={(e) => setName(e.currentTarget.value)}
            w={260}
          />
          <TextInput
            label="Expires in (days)"
            placeholder="never"
            inputMode="numeric"
            autoComplete="off"
            value={days}
            onChange={(e) => {
              setDays(e.currentTarget.value);
              setDaysProblem(null);
            }}
            error={daysProblem ? true : undefined}
            aria-describedby={daysProblem ? "token-days-problem" : undefined}
            w={150}
          />
          <Button type="submit" leftSection={<IconKey size={16} />} loading={create.isPending} disabled={!name.trim()}>
            Create token
          </Button>
        </Group>
        <Text size="xs" c="dimmed">
          Whole days from 1 to {MAX_TOKEN_DAYS}; leave the days empty for a token that doesn&apos;t expire. You can revoke any token here.
        </Text>
      </Stack>
    </form>
  );
}

// In Chromium at device pixel ratio 1, a fixed-height input (Mantine's default) cut off the "_" of 14px DejaVu Sans
// Mono, the fallback where JetBrains Mono isn't installed, whatever its line-height: the token read "atr gla3v…".
// Height from a 20px line box plus padding shows it, and the field stays 36px, as tall as the Copy button.
const MONOSPACE_INPUT = {
  fontFamily: "var(--mantine-font-family-monospace)",
  height: "auto",
  lineHeight: "20px",
  paddingBlock: "calc((var(--input-height) - 22px) / 2)",
} as const;

/** The token, once: copy it now, with a command that uses it against this portal. */
function NewTokenPanel({ created, onDone }: { created: NewToken; onDone: () => void }) {
  const origin = typeof window === "undefined" ? "" : window.location.origin;
  const command = `jupyter lab --gateway-url=${origin} --GatewayClient.auth_token=${created.token}`;
  return (
    <Alert
      color="teal"
      variant="light"
      mt="md"
      title={`Token “${created.name}” created`}
      withCloseButton
      closeButtonLabel="Hide the new token"
      onClose={onDone}
    >
      <Stack gap="xs">
        <Group align="flex-end" gap="xs" wrap="nowrap">
          <TextInput
            label="New token"
            readOnly
            value={created.token}
            onFocus={(e) => e.currentTarget.select()}
            styles={{ input: MONOSPACE_INPUT }}
            style={{ flex: 1 }}
          />
          <CopyButton value={created.token}>
            {({ copied, copy }) => (
              // The name stays "Copy" (a stable name for screen readers); the icon and colour say it worked.
              <Tooltip label="Copied" opened={copied} withArrow>
                <Button variant="default" c={copied ? "teal" : undefined} leftSection={copied ? <IconCheck size={16} /> : <IconCopy size={16} />} onClick={copy}>
                  Copy
                </Button>
              </Tooltip>
            )}
          </CopyButton>
        </Group>
        <Text size="sm">Copy it now: Atrium keeps only a fingerprint of it, so it won&apos;t be shown again.</Text>
        <Text size="sm">To start JupyterLab on your machine with its kernels running on Atrium:</Text>
        <Group gap="xs" wrap="nowrap" align="flex-start">
          <Code block aria-label="Example command" style={{ flex: 1, whiteSpace: "pre-wrap", wordBreak: "break-all" }}>
            {command}
          </Code>
          <CopyButton value={command}>
            {({ copied, copy }) => (
              <Tooltip label={copied ? "Copied" : "Copy command"} withArrow>
                <ActionIcon variant="subtle" color={copied ? "teal" : "gray"} aria-label="Copy command" onClick={copy}>
                  {copied ? <IconCheck size={16} /> : <IconCopy size={16} />}
                </ActionIcon>
              </Tooltip>
            )}
          </CopyButton>
        </Group>
      </Stack>
    </Alert>
  );
}
