// The signed-in user for server components (pages and layouts), re-read from the database so a disabled
// account or a changed role takes effect on the next page load.
import { findUserById, type UserRow } from "@/db/queries/users";
import { services } from "@/server/services";
import { auth } from "./config";

export async function currentUser(): Promise<UserRow | null> {
  const session = await auth();
  const id = session?.user?.id;
  if (!id) return null;
  const user = await findUserById(services().db, id);
  return user && !user.disabledAt ? user : null;
}
