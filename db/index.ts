// Opens Atrium's database: PGlite inside the data dir by default (nothing to install), real Postgres when
// DATABASE_URL is set. Both run the same committed migrations, and every query is written once against the
// common drizzle type, so the integration suite can run the same queries on both.
import fs from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";
import type { PgDatabase, PgQueryResultHKT } from "drizzle-orm/pg-core";
import * as schema from "./schema";

export { schema };
export type Database = PgDatabase<PgQueryResultHKT, typeof schema>;
/** A transaction, usable wherever a Database is. */
export type Tx = Parameters<Parameters<Database["transaction"]>[0]>[0];

export interface OpenDatabase {
  db: Database;
  kind: "pglite" | "postgres";
  close(): Promise<void>;
}

export class DatabaseConfigError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "DatabaseConfigError";
  }
}

export const migrationsFolder = path.join(path.dirname(fileURLToPath(import.meta.url)), "migrations");
const MIGRATION_LOCK = 7_261_001; // advisory lock id: replicas starting together migrate one at a time

export interface OpenOptions {
  /** postgres:// URL; when absent, PGlite is used. */
  url?: string;
  /** PGlite's directory; absent means in memory (tests). */
  pgliteDir?: string;
  connectTimeoutSeconds?: number;
  migrate?: boolean;
}

export async function openDatabase(options: OpenOptions): Promise<OpenDatabase> {
  const opened = options.url ? await openPostgres(options.url, options.connectTimeoutSeconds ?? 10) : await openPglite(options.pgliteDir);
  if (options.migrate !== false) {
    try {
      await opened.migrate();
    } catch (error) {
      await opened.close().catch(() => {});
      throw error;
    }
  }
  return opened;
}

async function openPglite(dir: string | undefined): Promise<OpenDatabase & { migrate(): Promise<void> }> {
  const { PGlite } = await import("@electric-sql/pglite");
  const { drizzle } = await import("drizzle-orm/pglite");
  const { migrate } = await import("drizzle-orm/pglite/migrator");
  let releaseLock = () => {};
  if (dir) {
    fs.mkdirSync(dir, { recursive: true, mode: 0o700 });
    releaseLock = lockDataDir(dir);
  }
  let client;
  try {
    client = dir ? await PGlite.create(dir) : await PGlite.create();
  } catch (error) {
    releaseLock();
    throw new DatabaseConfigError(
      `Could not open the embedded database in ${dir ?? "memory"}: ${(error as Error).message}. ` +
        `If the folder is damaged, move it aside and start again, or set DATABASE_URL to use Postgres.`,
    );
  }
  const db = drizzle(client, { schema }) as unknown as Database;
  return {
    db,
    kind: "pglite",
    migrate: () => migrate(drizzle(client, { schema }), { migrationsFolder }),
    close: async () => {
      await client.close();
      releaseLock();
    },
  };
}

async function openPostgres(url: string, connectTimeoutSeconds: number): Promise<OpenDatabase & { migrate(): Promise<void> }> {
  const { default: postgres } = await import("postgres");
  const { drizzle } = await import("drizzle-orm/postgres-js");
  const { migrate } = await import("drizzle-orm/postgres-js/migrator");
  const client = postgres(url, { connect_timeout: connectTimeoutSeconds, max: 10, onnotice: () => {} });
  try {
    await client`select 1`;
  } catch (error) {
    await client.end({ timeout: 1 }).catch(() => {});
    throw new DatabaseConfigError(
      `DATABASE_URL: could not connect to Postgres at ${redactUrl(url)} (${describePgError(error)}). ` +
        `Check that the server is running and reachable and that the user, password and database name are right.`,
    );
  }
  const db = drizzle(client, { schema });
  return {
    db: db as unknown as Database,
    kind: "postgres",
    migrate: async () => {
      const reserved = await client.reserve();
      try {
        await reserved`select pg_advisory_lock(${MIGRATION_LOCK})`;
        await migrate(db, { migrationsFolder });
      } finally {
        await reserved`select pg_advisory_unlock(${MIGRATION_LOCK})`.catch(() => {});
        reserved.release();
      }
    },
    close: () => client.end({ timeout: 5 }),
  };
}

/** PGlite is single-process: a second portal on the same data dir would corrupt it, so refuse that. */
function lockDataDir(dir: string): () => void {
  const lockFile = path.join(dir, "atrium.pid");
  for (let attempt = 0; attempt < 2; attempt++) {
    try {
      fs.writeFileSync(lockFile, String(process.pid), { flag: "wx" });
      return () => fs.rmSync(lockFile, { force: true });
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== "EEXIST") throw error;
      const holder = Number(fs.readFileSync(lockFile, "utf8"));
      if (holder && holder !== process.pid && isAlive(holder)) {
        throw new DatabaseConfigError(
          `The embedded database in ${dir} is in use by another Atrium process (pid ${holder}). ` +
            `Stop it first, or give this one its own ATRIUM_DATA_DIR, or use Postgres (DATABASE_URL) to run several replicas.`,
        );
      }
      fs.rmSync(lockFile, { force: true }); // stale: its process is gone
    }
  }
  throw new DatabaseConfigError(`Could not lock the embedded database in ${dir}.`);
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === "EPERM";
  }
}

export function redactUrl(url: string): string {
  try {
    const parsed = new URL(url);
    if (parsed.password) parsed.password = "***";
    return parsed.toString();
  } catch {
    return "(unparseable URL)";
  }
}

function describePgError(error: unknown): string {
  const e = error as { code?: string; message?: string };
  if (e.code === "ECONNREFUSED") return "connection refused";
  if (e.code === "ENOTFOUND") return "host not found";
  if (e.code === "CONNECT_TIMEOUT" || e.code === "ETIMEDOUT") return "timed out";
  if (e.code === "28P01") return "password authentication failed";
  if (e.code === "3D000") return "database does not exist";
  return e.message ?? String(error);
}
