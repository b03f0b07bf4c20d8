import type { ReactNode } from "react";
import { teamsOfUser } from "@/db/queries/teams";
import { currentUser } from "@/server/auth/current-user";
import { DEFAULT_MAX_UPLOAD_BYTES } from "@/server/files/limits";
import { services } from "@/server/services";
import { PortalShell } from "../_components/portal-shell";
import { SignInRedirect } from "../signin/sign-in-redirect";

export const dynamic = "force-dynamic";

export default async function PortalLayout({ children }: { children: ReactNode }) {
  const user = await currentUser();
  // Signed out: to the sign-in page, which leads back here (the page asked for is known only to the router).
  if (!user) return <SignInRedirect />;
  const teams = await teamsOfUser(services().db, user.id);
  const isTeamLead = teams.some((t) => t.role === "lead");
  return (
    <PortalShell
      user={{ id: user.id, name: user.name, email: user.email, role: user.role === "admin" ? "Admin" : isTeamLead ? "Team lead" : "Analyst" }}
      showTeam={isTeamLead || user.role === "admin"}
      showAdmin={user.role === "admin"}
      maxUploadBytes={DEFAULT_MAX_UPLOAD_BYTES}
    >
      {children}
    </PortalShell>
  );
}
