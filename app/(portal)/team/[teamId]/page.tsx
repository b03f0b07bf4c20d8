import type { Metadata } from "next";
import { notFound, redirect } from "next/navigation";
import { currentUser } from "@/server/auth/current-user";
import { teamsManagedBy } from "../teams-led";
import { TeamDashboard } from "./team-dashboard";

export const metadata: Metadata = { title: "Team" };

// Another team's page is "not found" to a lead, as the quota procedures answer for its data.
export default async function TeamPage({ params }: { params: Promise<{ teamId: string }> }) {
  const { teamId } = await params;
  const user = await currentUser();
  if (!user) redirect("/signin");
  const teams = await teamsManagedBy(user);
  const team = teams.find((t) => t.id === teamId);
  if (!team) notFound();
  return <TeamDashboard teamId={team.id} teamName={team.name} otherTeams={teams.filter((t) => t.id !== team.id)} />;
}
