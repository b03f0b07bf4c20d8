// The signed-in user for server components (pages and layouts): the same rules as every other request
// (session.ts: an open session row, an enabled account), re-read from the database so a disabled account, an ended
// session or a changed role takes effect on the next page load.
import { headers } from "next/headers";
import type { UserRow } from "@/db/queries/users";
import { services } from "@/server/services";
import { identify } from "./session";

export async function currentUser(): Promise<UserRow | null> {
  const s = services();
  const cookie = (await headers()).get("cookie") ?? undefined;
  // Pages are for browsers: the session cookie only (a token is for the API).
  return identify({ cookie }, { db: s.db, secret: s.secret, sessionCookieName: s.sessionCookieName });
}
