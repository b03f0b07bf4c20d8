// A whole portal as a real process (`atrium start`) on a free loopback port, for tests of several replicas on
// one Postgres. Started in its own process group and stopped as a whole; every wait has a deadline.
import { spawn, type ChildProcess } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { projectRoot } from "@/server/main";
import { freePort } from "./postgres.mjs";

export interface PortalProcess {
  child: ChildProcess;
  base: string;
  output: () => string;
  /** The portal's own data dir (a temp dir), removed when the portal is stopped. */
  dataDir: string;
  /** How it was started: restartPortalProcess starts it again the same way, on the same port and data dir. */
  options: PortalOptions;
  port: number;
}

export interface PortalOptions {
  /** Postgres; without it, the embedded database in the data dir (which a restart keeps). */
  databaseUrl?: string;
  secret: string;
  python: string;
  env?: Record<string, string>;
}

export async function startPortalProcess(options: PortalOptions, at?: { port: number; dataDir: string }): Promise<PortalProcess> {
  const port = at?.port ?? ((await freePort()) as number);
  const dataDir = at?.dataDir ?? fs.mkdtempSync(path.join(os.tmpdir(), "atrium-replica-"));
  const child = spawn(process.execPath, [path.join(projectRoot, "server/cli/atrium.mjs"), "start"], {
    cwd: projectRoot,
    detached: true,
    env: {
      ...process.env,
      NODE_ENV: "production",
      PORT: String(port),
      HOST: "127.0.0.1",
      DATABASE_URL: options.databaseUrl ?? "", // empty: the embedded database, whatever this process was given
      ATRIUM_DATA_DIR: dataDir,
      ATRIUM_SECRET: options.secret,
      ATRIUM_PYTHON: options.python,
      ATRIUM_ADMIN_EMAIL: "admin@example.com",
      ATRIUM_ADMIN_PASSWORD: "admin-password-1",
      ATRIUM_LOG_LEVEL: "warn",
      ...options.env,
    },
    stdio: ["ignore", "pipe", "pipe"],
  });
  let output = "";
  child.stdout!.on("data", (d) => (output += d));
  child.stderr!.on("data", (d) => (output += d));
  const deadline = Date.now() + 120_000;
  while (!output.includes("Atrium is running at")) {
    if (child.exitCode !== null) throw new Error(`portal exited with ${child.exitCode}:\n${output}`);
    if (Date.now() > deadline) throw new Error(`portal did not start within 120 s:\n${output}`);
    await new Promise((r) => setTimeout(r, 100));
  }
  return { child, base: `http://127.0.0.1:${port}`, output: () => output, dataDir, options, port };
}

/** Stops the portal as a deploy would (SIGTERM, its kernels left running) and starts it again where it was. */
export async function restartPortalProcess(portal: PortalProcess): Promise<PortalProcess> {
  await stopProcessGroup(portal.child);
  return startPortalProcess(portal.options, { port: portal.port, dataDir: portal.dataDir });
}

/** SIGTERM to the portal's process group, SIGKILL after 20 s; then its data dir goes. */
export async function stopPortalProcess(portal: PortalProcess): Promise<void> {
  await stopProcessGroup(portal.child);
  fs.rmSync(portal.dataDir, { recursive: true, force: true });
}

async function stopProcessGroup(child: ChildProcess): Promise<void> {
  const pid = child.pid!;
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise((r) => child.once("exit", r));
  const signal = (s: NodeJS.Signals) => {
    try {
      process.kill(-pid, s);
    } catch {
      // the group is gone already
    }
  };
  signal("SIGTERM");
  const timer = setTimeout(() => signal("SIGKILL"), 20_000);
  await exited;
  clearTimeout(timer);
}
