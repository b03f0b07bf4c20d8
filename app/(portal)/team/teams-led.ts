// The teams a user may manage on the Team page: the ones they lead; every team for an admin. Server only.
import { listTeams, teamsOfUser } from "@/db/queries/teams";
import type { UserRow } from "@/db/queries/users";
import { services } from "@/server/services";

export async function teamsManagedBy(user: UserRow): Promise<{ id: string; name: string }[]> {
  const db = services().db;
  if (user.role === "admin") return (await listTeams(db)).map((t) => ({ id: t.id, name: t.name }));
  return (await teamsOfUser(db, user.id)).filter((t) => t.role === "lead").map((t) => ({ id: t.id, name: t.name }));
}
