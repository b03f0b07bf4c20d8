// `npx atrium <command>`: start the portal, migrate, and manage users, teams and tokens.
import fs from "node:fs";
import path from "node:path";
import { spawnSync } from "node:child_process";
import { DatabaseConfigError, openDatabase } from "@/db";
import { EnvError, loadEnv, type Env } from "@/server/env";
import { setLogLevel } from "@/server/log";
import { StartupError } from "@/server/startup-error";
import { reserveConfiguredServiceUsernames } from "@/server/identity/names";
import { runDbCommand, USAGE } from "./commands";
import { sendToRunningPortal } from "./control-socket";

export async function main(argv: string[]): Promise<number> {
  const [command] = argv;
  if (!command || command === "help" || command === "--help" || command === "-h") {
    console.log(USAGE);
    return command ? 0 : 2;
  }
  try {
    const env = loadEnv();
    setLogLevel(env.ATRIUM_LOG_LEVEL);
    if (command === "start") return await start(env, argv.includes("--dev"));
    if (command === "build") {
      const { projectRoot } = await import("@/server/main");
      ensureProductionBuild(projectRoot);
      return 0;
    }
    if (command === "migrate") return await migrate(env);
    return await databaseCommand(env, argv);
  } catch (error) {
    if (error instanceof EnvError || error instanceof DatabaseConfigError || error instanceof StartupError) {
      console.error(error.message);
      return 1;
    }
    throw error;
  }
}

async function start(env: Env, dev: boolean): Promise<number> {
  const { projectRoot, startServer } = await import("@/server/main");
  // The database is checked before the build, so a bad DATABASE_URL is reported at once.
  const server = await startServer({ env, dev, beforeWebApp: dev ? undefined : () => ensureProductionBuild(projectRoot) });
  console.log(`Atrium is running at ${server.url} (database: ${server.services.dbKind === "pglite" ? `embedded, in ${env.dataDir}` : "Postgres"})`);
  await new Promise<void>((resolve) => {
    const stop = (signal: string) => {
      console.log(`\n${signal} received: stopping Atrium…`);
      server.close().then(resolve, (error) => {
        console.error("Error while stopping:", error);
        resolve();
      });
    };
    process.once("SIGINT", () => stop("SIGINT"));
    process.once("SIGTERM", () => stop("SIGTERM"));
  });
  return 0;
}

/** `npm start` serves a production build; it builds once (and again after the sources change). */
function ensureProductionBuild(root: string) {
  const buildId = path.join(root, ".next", "BUILD_ID");
  const builtAt = fs.existsSync(buildId) ? fs.statSync(buildId).mtimeMs : 0;
  if (builtAt && newestSourceMtime(root) <= builtAt) return;
  console.log(builtAt ? "Sources changed since the last build: rebuilding the web app…" : "Building the web app (first start only; about a minute)…");
  const result = spawnSync(process.execPath, [path.join(root, "node_modules", "next", "dist", "bin", "next"), "build"], {
    cwd: root,
    stdio: "inherit",
    env: { ...process.env, NEXT_TELEMETRY_DISABLED: "1" },
  });
  if (result.status !== 0) throw new StartupError("The web app failed to build (see the output above).");
}

function newestSourceMtime(root: string): number {
  let newest = 0;
  const walk = (dir: string) => {
    for (const entry of fs.readdirSync(dir, { withFileTypes: true })) {
      if (entry.name.startsWith(".") || entry.name === "node_modules") continue;
      const full = path.join(dir, entry.name);
      if (entry.isDirectory()) walk(full);
      else if (/\.(tsx?|css|json|mjs)$/.test(entry.name)) newest = Math.max(newest, fs.statSync(full).mtimeMs);
    }
  };
  for (const dir of ["app", "server", "db", "public"]) if (fs.existsSync(path.join(root, dir))) walk(path.join(root, dir));
  for (const file of ["next.config.ts", "package.json"]) if (fs.existsSync(path.join(root, file))) newest = Math.max(newest, fs.statSync(path.join(root, file)).mtimeMs);
  return newest;
}

async function migrate(env: Env): Promise<number> {
  if (!env.DATABASE_URL && (await sendToRunningPortal(env.dataDir, ["users", "list"], undefined))) {
    console.log("The running portal applied every migration when it started; nothing to do.");
    return 0;
  }
  const database = await openDatabase({ url: env.DATABASE_URL, pgliteDir: path.join(env.dataDir, "pgdata"), connectTimeoutSeconds: env.ATRIUM_DB_CONNECT_TIMEOUT_SECONDS });
  await database.close();
  console.log(`Migrations applied (${database.kind === "pglite" ? `embedded database in ${env.dataDir}` : "Postgres"}).`);
  return 0;
}

async function databaseCommand(env: Env, argv: string[]): Promise<number> {
  const stdin = argv.includes("--password-stdin") ? fs.readFileSync(0, "utf8") : undefined;
  let result = env.DATABASE_URL ? undefined : await sendToRunningPortal(env.dataDir, argv, stdin);
  if (!result) {
    const database = await openDatabase({ url: env.DATABASE_URL, pgliteDir: path.join(env.dataDir, "pgdata"), connectTimeoutSeconds: env.ATRIUM_DB_CONNECT_TIMEOUT_SECONDS });
    // As in the portal: no user added here gets a service account's name.
    reserveConfiguredServiceUsernames(env);
    try {
      result = await runDbCommand(database.db, argv, stdin);
    } finally {
      await database.close();
    }
  }
  process.stdout.write(result.stdout);
  process.stderr.write(result.stderr);
  return result.exitCode;
}
