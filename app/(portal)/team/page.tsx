import { Anchor, Stack, Text, Title } from "@mantine/core";
import type { Metadata } from "next";
import { notFound, redirect } from "next/navigation";
import { currentUser } from "@/server/auth/current-user";
import { teamsManagedBy } from "./teams-led";

export const metadata: Metadata = { title: "Team" };

// /team: the team a lead manages (straight to it when there is one); a list when they lead several.
export default async function TeamHome() {
  const user = await currentUser();
  if (!user) redirect("/signin");
  const teams = await teamsManagedBy(user);
  if (teams.length === 0) {
    if (user.role === "admin") {
      return (
        <Stack>
          <Title order={1} size="h2">Teams</Title>
          <Text c="dimmed">There are no teams yet. Add one under Admin → Teams.</Text>
        </Stack>
      );
    }
    notFound();
  }
  if (teams.length === 1) redirect(`/team/${teams[0]!.id}`);
  return (
    <Stack gap="xs">
      <Title order={1} size="h2">Your teams</Title>
      <nav aria-label="Teams">
        <Stack gap={6}>
          {teams.map((t) => (
            <Anchor key={t.id} href={`/team/${t.id}`}>
              {t.name}
            </Anchor>
          ))}
        </Stack>
      </nav>
    </Stack>
  );
}
