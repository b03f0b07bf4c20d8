"use client";
import {
  ActionIcon,
  AppShell,
  Avatar,
  Badge,
  Burger,
  Group,
  Menu,
  NavLink,
  Text,
  Tooltip,
  UnstyledButton,
  useMantineColorScheme,
} from "@mantine/core";
import { useDisclosure } from "@mantine/hooks";
import {
  IconChartBar,
  IconChevronDown,
  IconFolder,
  IconLogout,
  IconMoon,
  IconNotebook,
  IconSettings,
  IconSun,
  IconUserCircle,
  IconUsersGroup,
} from "@tabler/icons-react";
import { signOut } from "next-auth/react";
import { ConfirmModal } from "./confirm-modal";
import { SessionEndedDialog } from "./session-ended-dialog";
import { setPageUser } from "@/app/_lib/session-ended";
import { clearDraftsOf } from "./notebook/saver";
import { discardOpenDocuments, saveOpenDocuments } from "./saving/document-saver";
import { UNSCOPED_RECENT_KEY } from "./notebook/recent";
import { UploadsProvider } from "./files/uploads-provider";
import { SignedInUserId } from "./signed-in-user";
import Link from "next/link";
import { usePathname } from "next/navigation";
import { useRef, useState, type ReactNode } from "react";

interface Props {
  user: { id: string; name: string; email: string; role: string };
  showTeam: boolean;
  showAdmin: boolean;
  maxUploadBytes: number;
  children: ReactNode;
}

export function PortalShell({ user, showTeam, showAdmin, maxUploadBytes, children }: Props) {
  // In render, not an effect: the pages' first calls (their effects run before this one's) carry it too.
  setPageUser(user.id);
  const [opened, { toggle }] = useDisclosure();
  const pathname = usePathname();
  // Sign-out saves the open notebook first; what can't be saved (a conflict, a refusal) is asked about.
  const [unsavedAtSignOut, setUnsavedAtSignOut] = useState<string[]>([]);
  const [signingOut, setSigningOut] = useState(false);
  const signOutNow = () => {
    discardOpenDocuments();
    forgetBrowserCopies(user.id);
    void signOut({ redirectTo: "/signin" });
  };
  const askSignOut = async () => {
    setSigningOut(true);
    const unsaved = await saveOpenDocuments().finally(() => setSigningOut(false));
    if (unsaved.length) setUnsavedAtSignOut(unsaved);
    else signOutNow();
  };
  const links = [
    { href: "/files", label: "Files", icon: IconFolder },
    { href: "/notebooks", label: "Notebooks", icon: IconNotebook },
    { href: "/usage", label: "Usage", icon: IconChartBar },
    ...(showTeam ? [{ href: "/team", label: "Team", icon: IconUsersGroup }] : []),
    ...(showAdmin ? [{ href: "/admin/users", label: "Admin", icon: IconSettings }] : []),
  ];
  return (
    <SignedInUserId.Provider value={user.id}>
    <UploadsProvider maxUploadBytes={maxUploadBytes}>
    <AppShell header={{ height: 52 }} navbar={{ width: 210, breakpoint: "sm", collapsed: { mobile: !opened } }} padding="md">
      <AppShell.Header>
        <Group h="100%" px="md" justify="space-between">
          <Group gap="sm">
            <Burger opened={opened} onClick={toggle} hiddenFrom="sm" size="sm" aria-label="Toggle navigation" />
            <Text component={Link} href="/files" fw={700} fz="lg">
              Atrium
            </Text>
          </Group>
          <Group gap="xs">
            <ColorSchemeToggle />
            <Menu position="bottom-end" withinPortal>
              <Menu.Target>
                <UnstyledButton aria-label={`${user.name} ${user.role}: Account menu`}>
                  <Group gap={8}>
                    <Avatar size="sm" radius="xl" color="indigo">
                      {initials(user.name)}
                    </Avatar>
                    <div>
                      <Text size="sm" fw={500} lh={1.1}>
                        {user.name}
                      </Text>
                      <Badge size="xs" variant="light">
                        {user.role}
                      </Badge>
                    </div>
                    <IconChevronDown size={14} />
                  </Group>
                </UnstyledButton>
              </Menu.Target>
              <Menu.Dropdown>
                <Menu.Label>{user.email}</Menu.Label>
                <Menu.Item component={Link} href="/account" leftSection={<IconUserCircle size={16} />}>
                  Account
                </Menu.Item>
                <Menu.Item leftSection={<IconLogout size={16} />} disabled={signingOut} onClick={() => void askSignOut()}>
                  Sign out
                </Menu.Item>
              </Menu.Dropdown>
            </Menu>
          </Group>
        </Group>
      </AppShell.Header>
      <AppShell.Navbar p="xs" aria-label="Main">
        {links.map((link) => (
          <NavLink
            key={link.href}
            component={Link}
            href={link.href}
            label={link.label}
            leftSection={<link.icon size={18} stroke={1.6} />}
            active={pathname === link.href || pathname.startsWith(link.href.replace(/\/users$/, "") + "/")}
          />
        ))}
      </AppShell.Navbar>
      <AppShell.Main>{children}</AppShell.Main>
    </AppShell>
    <ConfirmModal
      opened={unsavedAtSignOut.length > 0}
      title="Sign out without saving?"
      confirmLabel="Sign out anyway"
      onClose={() => setUnsavedAtSignOut([])}
      onConfirm={signOutNow}
    >
      {`Changes to ${unsavedAtSignOut.join(", ")} could not be saved (see the notebook's footer). Signing out loses them: this browser forgets them too.`}
    </ConfirmModal>
    <SessionEndedDialog user={user} />
    </UploadsProvider>
    </SignedInUserId.Provider>
  );
}

/**
 * Both buttons are rendered, and CSS shows the one for the scheme on screen (from the attribute Mantine's script sets
 * on <html> before the first paint). Choosing one in render cannot work: a stored choice is unknown to the server, so
 * its HTML and the browser's first render would differ (React's hydration error on every page load in dark). The
 * pressed button hides itself, so focus moves to the one shown (a keyboard user stays where they were).
 */
function ColorSchemeToggle() {
  const { setColorScheme } = useMantineColorScheme();
  const dark = useRef<HTMLButtonElement>(null);
  const light = useRef<HTMLButtonElement>(null);
  const switchTo = (next: "dark" | "light") => {
    setColorScheme(next);
    const shown = next === "dark" ? light : dark;
    requestAnimationFrame(() => shown.current?.focus());
  };
  return (
    <>
      {(["dark", "light"] as const).map((next) => (
        <Tooltip key={next} label={`Switch to ${next} theme`}>
          <ActionIcon
            ref={next === "dark" ? dark : light}
            variant="subtle"
            color="gray"
            aria-label={`Switch to ${next} theme`}
            onClick={() => switchTo(next)}
            darkHidden={next === "dark"}
            lightHidden={next === "light"}
          >
            {next === "dark" ? <IconMoon size={18} /> : <IconSun size={18} />}
          </ActionIcon>
        </Tooltip>
      ))}
    </>
  );
}

const initials = (name: string) =>
  name
    .split(/\s+/)
    .map((part) => part[0] ?? "")
    .join("")
    .slice(0, 2)
    .toUpperCase();

/** At sign-out: the user's unsaved drafts leave this browser (it may be shared), and the list kept before it was per user. */
function forgetBrowserCopies(userId: string) {
  clearDraftsOf(userId);
  try {
    localStorage.removeItem(UNSCOPED_RECENT_KEY);
  } catch {
    // storage unavailable: nothing kept
  }
}
