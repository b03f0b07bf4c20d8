// A fresh, migrated database for one test file: PGlite in memory, or — when the runner sets
// ATRIUM_TEST_DB=postgres — a new database on the private Postgres it started (dropped afterwards).
// The integration suite runs every `*.db.test.ts` file once on each, so the same queries are proven on both.
import { randomBytes } from "node:crypto";
import { openDatabase, type OpenDatabase } from "./index";

export const testDbKind = (process.env.ATRIUM_TEST_DB ?? "pglite") as "pglite" | "postgres";

export async function openTestDatabase(): Promise<OpenDatabase & { url?: string }> {
  if (testDbKind !== "postgres") return openDatabase({});
  const adminUrl = process.env.ATRIUM_TEST_POSTGRES_URL;
  if (!adminUrl) throw new Error("ATRIUM_TEST_DB=postgres needs ATRIUM_TEST_POSTGRES_URL (npm test sets both).");
  const { default: postgres } = await import("postgres");
  const name = `atrium_t_${randomBytes(6).toString("hex")}`;
  const admin = postgres(adminUrl, { max: 1, onnotice: () => {} });
  await admin.unsafe(`create database ${name}`);
  const url = Object.assign(new URL(adminUrl), { pathname: `/${name}` }).toString();
  const opened = await openDatabase({ url });
  return {
    ...opened,
    url,
    close: async () => {
      await opened.close();
      await admin.unsafe(`drop database if exists ${name} with (force)`);
      await admin.end({ timeout: 5 });
    },
  };
}
