"use client";
import { Alert, Badge, Button, Group, Menu, Modal, NumberInput, PasswordInput, Select, Stack, Table, Text, TextInput, Title, ActionIcon, VisuallyHidden } from "@mantine/core";
import { useDisclosure } from "@mantine/hooks";
import { notifications } from "@mantine/notifications";
import { IconDots, IconUserPlus } from "@tabler/icons-react";
import { useMutation, useQuery, useQueryClient } from "@tanstack/react-query";
import { useRouter } from "next/navigation";
import { useState, type FormEvent } from "react";
import { ConfirmModal } from "@/app/_components/confirm-modal";
import { useSignedInUserId } from "@/app/_components/signed-in-user";
import { dateTime } from "@/app/_components/usage/format";
import { errorMessage, useTRPC } from "@/app/_lib/trpc";

/** The server's limits on a new user's fields (admin.users.add), checked here first so the form can say so. */
const EMAIL_MAX = 254;
const NAME_MAX = 120;

interface RoleChange {
  id: string;
  email: string;
  role: "analyst" | "admin";
  /** The admin is changing their own role: they lose admin access at once. */
  self: boolean;
}

export function UsersAdmin() {
  const trpc = useTRPC();
  const queryClient = useQueryClient();
  const users = useQuery(trpc.admin.users.list.queryOptions());
  const invalidate = () => queryClient.invalidateQueries({ queryKey: trpc.admin.users.list.queryKey() });
  const onError = (error: unknown) => notifications.show({ color: "red", title: "Not done", message: errorMessage(error) });
  const me = useSignedInUserId();
  const router = useRouter();
  const [roleChange, setRoleChange] = useState<RoleChange | null>(null);
  const setRole = useMutation(
    trpc.admin.users.setRole.mutationOptions({
      onSuccess: (_, { userId, role }) => {
        if (userId === me && role !== "admin") {
          // This page (and every admin procedure) is closed to them now: go where they can still work, and let
          // the portal's shell drop the Admin link and show the new role.
          notifications.show({ color: "orange", title: "You are an analyst now", message: "You no longer have access to the admin pages." });
          router.replace("/files");
          router.refresh();
          return;
        }
        const email = users.data?.find((u) => u.id === userId)?.email ?? "The user";
        notifications.show({ color: "teal", message: role === "admin" ? `${email} is an admin now.` : `${email} is an analyst now.` });
        void invalidate();
      },
      onError,
      onSettled: () => setRoleChange(null),
    }),
  );
  const setDisabled = useMutation(trpc.admin.users.setDisabled.mutationOptions({ onSuccess: invalidate, onError }));
  const [addOpened, add] = useDisclosure(false);
  const [confirm, setConfirm] = useState<{ id: string; email: string } | null>(null);
  const [posix, setPosix] = useState<PosixTarget | null>(null);
  const [signingOut, setSigningOut] = useState<{ id: string; email: string } | null>(null);
  const [resetting, setResetting] = useState<{ id: string; email: string } | null>(null);
  const endSessions = useMutation(
    trpc.admin.users.endSessions.mutationOptions({
      onSuccess: ({ ended }, { userId }) => {
        const email = users.data?.find((u) => u.id === userId)?.email ?? "The user";
        notifications.show({
          color: "teal",
          message: ended === 0 ? `${email} had no open session.` : `${email} is signed out everywhere: ${ended} session${ended === 1 ? "" : "s"} ended.`,
        });
      },
      onError,
      onSettled: () => setSigningOut(null),
    }),
  );

  return (
    <Stack>
      <Group justify="space-between">
        <Title order={1} size="h2">Users</Title>
        <Button leftSection={<IconUserPlus size={16} />} onClick={add.open}>
          Add user
        </Button>
      </Group>
      {users.error && <Alert color="red">{errorMessage(users.error)}</Alert>}
      {/* On a narrow screen the table scrolls inside its box: the page, its tabs and the row menus stay in view. */}
      <Table.ScrollContainer minWidth={880}>
        <Table striped highlightOnHover verticalSpacing="xs" aria-label="Users">
          <Table.Thead>
            <Table.Tr>
              <Table.Th>Name</Table.Th>
              <Table.Th>Email</Table.Th>
              <Table.Th>Username</Table.Th>
              <Table.Th>Role</Table.Th>
              <Table.Th>Teams</Table.Th>
              <Table.Th title="What the user's Kubernetes pods run as, and who owns the files on their home volume">UID / GID</Table.Th>
              <Table.Th>Status</Table.Th>
              <Table.Th>Last sign-in</Table.Th>
              <Table.Th>
                    <VisuallyHidden>Actions</VisuallyHidden>
                  </Table.Th>
            </Table.Tr>
          </Table.Thead>
          <Table.Tbody>
            {users.data?.map((u) => (
              <Table.Tr key={u.id}>
                <Table.Td>{u.name}</Table.Td>
                <Table.Td>{u.email}</Table.Td>
                <Table.Td>
                  <Text ff="monospace" size="sm">
                    {u.username}
                  </Text>
                </Table.Td>
                <Table.Td>
                  <Badge variant="light" color={u.role === "admin" ? "grape" : "gray"} style={{ overflow: "visible", minWidth: "max-content" }}>
                    {u.role}
                  </Badge>
                </Table.Td>
                <Table.Td>{u.teams.map((t) => (t.role === "lead" ? `${t.name} (lead)` : t.name)).join(", ") || "—"}</Table.Td>
                <Table.Td>
                  <Text ff="monospace" size="sm" style={{ whiteSpace: "nowrap" }}>
                    {u.posixUid} / {u.posixGid ?? u.posixUid}
                  </Text>
                </Table.Td>
                <Table.Td>{u.disabled ? <Badge color="red" variant="light" style={{ overflow: "visible", minWidth: "max-content" }}>disabled</Badge> : <Badge color="teal" variant="light" style={{ overflow: "visible", minWidth: "max-content" }}>active</Badge>}</Table.Td>
                <Table.Td>{u.lastSignInAt ? dateTime(u.lastSignInAt) : "never"}</Table.Td>
                <Table.Td>
                  <Menu position="bottom-end">
                    <Menu.Target>
                      <ActionIcon variant="subtle" color="gray" aria-label={`Actions for ${u.email}`}>
                        <IconDots size={16} />
                      </ActionIcon>
                    </Menu.Target>
                    <Menu.Dropdown>
                      <Menu.Item onClick={() => setRoleChange({ id: u.id, email: u.email, role: u.role === "admin" ? "analyst" : "admin", self: u.id === me })}>
                        {u.role === "admin" ? "Make analyst" : "Make admin"}
                      </Menu.Item>
                      <Menu.Item onClick={() => setPosix({ id: u.id, email: u.email, uid: u.posixUid, gid: u.posixGid })}>Set uid and gid</Menu.Item>
                      <Menu.Item onClick={() => setResetting({ id: u.id, email: u.email })}>Reset password</Menu.Item>
                      <Menu.Item onClick={() => setSigningOut({ id: u.id, email: u.email })}>Sign out everywhere</Menu.Item>
                      {u.disabled ? (
                        <Menu.Item onClick={() => setDisabled.mutate({ userId: u.id, disabled: false })}>Enable</Menu.Item>
                      ) : (
                        // Not for one's own account: the server refuses it (nobody could enable it but another admin).
                        u.id !== me && (
                          <Menu.Item color="red" onClick={() => setConfirm({ id: u.id, email: u.email })}>
                            Disable
                          </Menu.Item>
                        )
                      )}
                    </Menu.Dropdown>
                  </Menu>
                </Table.Td>
              </Table.Tr>
            ))}
          </Table.Tbody>
        </Table>
      </Table.ScrollContainer>
      {/* Mounted while open: each opening starts empty, without the last attempt's errors. */}
      {addOpened && <AddUserModal onClose={add.close} onAdded={invalidate} />}
      {posix && <PosixIdsModal key={posix.id} target={posix} onClose={() => setPosix(null)} onSaved={invalidate} />}
      {resetting && <ResetPasswordModal key={resetting.id} target={resetting} onClose={() => setResetting(null)} />}
      <ConfirmModal
        opened={roleChange !== null}
        title={roleChange?.self ? "Give up your admin role?" : roleChange?.role === "admin" ? "Make this user an admin?" : "Make this admin an analyst?"}
        confirmLabel={roleChange?.role === "admin" ? "Make admin" : "Make analyst"}
        pending={setRole.isPending}
        onConfirm={() => roleChange && setRole.mutate({ userId: roleChange.id, role: roleChange.role })}
        onClose={() => setRoleChange(null)}
      >
        {roleChange?.self
          ? "You will lose admin access at once: the admin pages close to you, and only another admin can make you an admin again."
          : roleChange?.role === "admin"
            ? `${roleChange?.email} will be able to manage every user, team, quota and kernel, and read the audit log and usage reports.`
            : `${roleChange?.email} loses admin access at once; their own notebooks and kernels are not touched.`}
      </ConfirmModal>
      <ConfirmModal
        opened={signingOut !== null}
        title="Sign this user out everywhere?"
        confirmLabel="Sign out everywhere"
        pending={endSessions.isPending}
        onConfirm={() => signingOut && endSessions.mutate({ userId: signingOut.id })}
        onClose={() => setSigningOut(null)}
      >
        Every browser session of {signingOut?.email} ends now; they can sign in again at once. Their API tokens keep working (disable the
        account to stop those too).
      </ConfirmModal>
      <ConfirmModal
        opened={confirm !== null}
        title="Disable this account?"
        confirmLabel="Disable"
        onConfirm={() => {
          if (confirm) setDisabled.mutate({ userId: confirm.id, disabled: true });
          setConfirm(null);
        }}
        onClose={() => setConfirm(null)}
      >
        {confirm?.email} will be signed out and can no longer sign in or use API tokens. Their running kernels are stopped within a minute (their notebooks stay in their home). You can enable the account again later.
      </ConfirmModal>
    </Stack>
  );
}

function AddUserModal({ onClose, onAdded }: { onClose: () => void; onAdded: () => void }) {
  const trpc = useTRPC();
  const [form, setForm] = useState({ email: "", name: "", password: "", role: "analyst" as "analyst" | "admin" });
  const add = useMutation(
    trpc.admin.users.add.mutationOptions({
      onSuccess: (user) => {
        notifications.show({ color: "teal", message: `Added ${user.email} (username ${user.username}).` });
        setForm({ email: "", name: "", password: "", role: "analyst" });
        onAdded();
        onClose();
      },
    }),
  );
  const [errors, setErrors] = useState<{ email?: string; name?: string }>({});
  const submit = (e: FormEvent) => {
    e.preventDefault();
    const email = form.email.trim();
    const name = form.name.trim();
    const found = {
      email: email.length < 3 ? "Enter the user's email address." : email.length > EMAIL_MAX ? `At most ${EMAIL_MAX} characters.` : undefined,
      name: name.length > NAME_MAX ? `At most ${NAME_MAX} characters.` : undefined,
    };
    setErrors(found);
    add.reset(); // the last answer is about what was sent then, not what the form holds now
    if (found.email || found.name) return;
    add.mutate({ ...form, email, name: name || undefined });
  };
  return (
    <Modal opened onClose={onClose} title="Add user">
      <form onSubmit={submit}>
        <Stack>
          {add.error && <Alert color="red">{errorMessage(add.error)}</Alert>}
          <TextInput
            label="Email"
            required
            error={errors.email}
            value={form.email}
            onChange={(e) => setForm({ ...form, email: e.currentTarget.value })}
          />
          <TextInput label="Name" error={errors.name} value={form.name} onChange={(e) => setForm({ ...form, name: e.currentTarget.value })} />
          <PasswordInput
            label="Initial password"
            description="At least 8 characters. Share it with the user privately."
            required
            value={form.password}
            onChange={(e) => setForm({ ...form, password: e.currentTarget.value })}
          />
          <Select
            label="Role"
            data={[
              { value: "analyst", label: "Analyst" },
              { value: "admin", label: "Admin" },
            ]}
            value={form.role}
            onChange={(v) => setForm({ ...form, role: v === "admin" ? "admin" : "analyst" })}
            allowDeselect={false}
          />
          <Group justify="flex-end">
            <Button variant="default" onClick={onClose}>
              Cancel
            </Button>
            <Button type="submit" loading={add.isPending}>
              Add user
            </Button>
          </Group>
        </Stack>
      </form>
    </Modal>
  );
}

interface PosixTarget {
  id: string;
  email: string;
  uid: number;
  gid: number | null;
}

/**
 * The uid/gid a user's Kubernetes pods run as. The server refuses root, the system range and a uid another user
 * holds, and audits the change; its message shows here, where the admin acted.
 */
function PosixIdsModal({ target, onClose, onSaved }: { target: PosixTarget; onClose: () => void; onSaved: () => void }) {
  const trpc = useTRPC();
  const [uid, setUid] = useState<number | string>(target.uid);
  const [gid, setGid] = useState<number | string>(target.gid ?? "");
  const save = useMutation(
    trpc.admin.users.setPosixIds.mutationOptions({
      onSuccess: (ids) => {
        notifications.show({ color: "teal", message: `${target.email} now runs as uid ${ids.uid}, gid ${ids.gid}.` });
        onSaved();
        onClose();
      },
    }),
  );
  const submit = (e: FormEvent) => {
    e.preventDefault();
    save.mutate({ userId: target.id, uid: Number(uid), gid: gid === "" ? null : Number(gid) });
  };
  return (
    <Modal opened onClose={onClose} title={`uid and gid of ${target.email}`}>
      <form onSubmit={submit}>
        <Stack>
          {save.error && <Alert color="red">{errorMessage(save.error)}</Alert>}
          <NumberInput
            label="UID"
            description="What this user's Kubernetes pods run as: 1000 or more, and no other user's."
            required
            allowDecimal={false}
            allowNegative={false}
            hideControls
            value={uid}
            onChange={setUid}
          />
          <NumberInput
            label="GID"
            description="Leave empty for a private group numbered like the uid."
            allowDecimal={false}
            allowNegative={false}
            hideControls
            value={gid}
            onChange={setGid}
          />
          <Text size="xs" c="dimmed">
            Kernels already running keep their ids, and files already on the user&apos;s home volume keep their owner.
          </Text>
          <Group justify="flex-end">
            <Button variant="default" onClick={onClose}>
              Cancel
            </Button>
            <Button type="submit" loading={save.isPending} disabled={uid === ""}>
              Save
            </Button>
          </Group>
        </Stack>
      </form>
    </Modal>
  );
}

/**
 * A new password for a user who lost theirs: the server checks it as any password, signs the user out everywhere
 * (whoever knew the old one is out too) and audits the reset; the admin hands the new one over privately.
 */
function ResetPasswordModal({ target, onClose }: { target: { id: string; email: string }; onClose: () => void }) {
  const trpc = useTRPC();
  const [password, setPassword] = useState("");
  const [problem, setProblem] = useState<string | undefined>();
  const reset = useMutation(
    trpc.admin.users.resetPassword.mutationOptions({
      onSuccess: () => {
        notifications.show({ color: "teal", message: `${target.email} has a new password, and was signed out everywhere.` });
        onClose();
      },
    }),
  );
  const submit = (e: FormEvent) => {
    e.preventDefault();
    const found = password.length < 8 ? "At least 8 characters." : undefined;
    setProblem(found);
    if (!found) reset.mutate({ userId: target.id, password });
  };
  return (
    <Modal opened onClose={onClose} title={`Reset the password of ${target.email}`}>
      <form onSubmit={submit}>
        <Stack>
          {reset.error && <Alert color="red">{errorMessage(reset.error)}</Alert>}
          <PasswordInput
            label="New password"
            description="At least 8 characters. Share it with the user privately: their open sessions end now."
            required
            data-autofocus
            error={problem}
            value={password}
            onChange={(e) => setPassword(e.currentTarget.value)}
          />
          <Group justify="flex-end">
            <Button variant="default" onClick={onClose}>
              Cancel
            </Button>
            <Button type="submit" color="red" loading={reset.isPending}>
              Reset password
            </Button>
          </Group>
        </Stack>
      </form>
    </Modal>
  );
}
