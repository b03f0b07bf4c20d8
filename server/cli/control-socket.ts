// The embedded database (PGlite) belongs to one process. While the portal runs, CLI commands are handed to
// it over a Unix socket in the data dir and run there against the same database. Only the portal's own OS user
// may connect: the socket lives in a folder of mode 0700 (connecting needs search permission on it) and is
// itself 0600. With Postgres the CLI connects directly and this socket isn't used.
import fs from "node:fs";
import net from "node:net";
import path from "node:path";
import type { Services } from "@/server/services";
import { log } from "@/server/log";
import { StartupError } from "@/server/startup-error";
import { runDbCommand, type CommandResult } from "./commands";

export const controlSocketPath = (dataDir: string) => path.join(dataDir, "control", "cli.sock");
/** Where portals before the private folder listened: a CLI of this version still reaches one while it is upgraded. */
const legacyControlSocketPath = (dataDir: string) => path.join(dataDir, "control.sock");
const MAX_REQUEST = 1 << 20;

export async function startControlSocket(services: Services): Promise<{ close(): Promise<void> }> {
  const file = controlSocketPath(services.env.dataDir);
  // Before the bind: the socket is created with the umask's mode and is chmod-ed only after listen, and the
  // data dir may be open to others (mkdir's mode is ignored for a folder that existed), so without a private
  // folder another local user could connect in between.
  ensurePrivateFolder(path.dirname(file));
  fs.rmSync(file, { force: true });
  const server = net.createServer((socket) => {
    let buffer = "";
    socket.setEncoding("utf8");
    socket.on("error", () => socket.destroy());
    socket.on("data", async (chunk: string) => {
      buffer += chunk;
      if (buffer.length > MAX_REQUEST) return socket.destroy();
      const newline = buffer.indexOf("\n");
      if (newline < 0) return;
      socket.removeAllListeners("data");
      let result: CommandResult;
      try {
        const request = JSON.parse(buffer.slice(0, newline)) as { argv?: unknown; stdin?: unknown };
        if (!Array.isArray(request.argv) || !request.argv.every((a) => typeof a === "string")) throw new Error("bad request");
        result = await runDbCommand(services.db, request.argv, typeof request.stdin === "string" ? request.stdin : undefined);
      } catch (error) {
        log.error("control socket command failed", error);
        result = { exitCode: 1, stdout: "", stderr: `Error: ${(error as Error).message}\n` };
      }
      socket.end(JSON.stringify(result) + "\n");
    });
  });
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(file, () => resolve());
  });
  fs.chmodSync(file, 0o600);
  return {
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        fs.rmSync(file, { force: true });
      }),
  };
}

/** Creates `dir` if needed and makes it 0700, refusing one that is not a real folder of the portal's own user. */
function ensurePrivateFolder(dir: string): void {
  fs.mkdirSync(dir, { recursive: true, mode: 0o700 });
  const stat = fs.lstatSync(dir);
  if (!stat.isDirectory()) throw new StartupError(`ATRIUM_DATA_DIR: ${dir} must be a folder for the CLI's control socket, not a link or a file; remove it and start again.`);
  const uid = process.getuid?.();
  if (uid !== undefined && stat.uid !== uid) {
    throw new StartupError(`ATRIUM_DATA_DIR: ${dir} belongs to uid ${stat.uid}, not to the portal's user (uid ${uid}); remove it and start again.`);
  }
  if ((stat.mode & 0o777) !== 0o700) fs.chmodSync(dir, 0o700); // mkdir's mode is masked by umask and ignored if it existed
}

/** Sends a command to the running portal; undefined when no portal is listening. */
export async function sendToRunningPortal(dataDir: string, argv: string[], stdin: string | undefined, timeoutMs = 30_000): Promise<CommandResult | undefined> {
  for (const file of [controlSocketPath(dataDir), legacyControlSocketPath(dataDir)]) {
    const result = fs.existsSync(file) ? await sendTo(file, argv, stdin, timeoutMs) : undefined;
    if (result) return result;
  }
  return undefined;
}

function sendTo(file: string, argv: string[], stdin: string | undefined, timeoutMs: number): Promise<CommandResult | undefined> {
  return new Promise((resolve, reject) => {
    const socket = net.connect(file);
    let reply = "";
    const timer = setTimeout(() => {
      socket.destroy();
      reject(new Error(`The running portal did not answer within ${timeoutMs / 1000} s.`));
    }, timeoutMs);
    socket.setEncoding("utf8");
    socket.on("connect", () => socket.write(JSON.stringify({ argv, stdin }) + "\n"));
    socket.on("data", (chunk: string) => (reply += chunk));
    socket.on("error", (error: NodeJS.ErrnoException) => {
      clearTimeout(timer);
      if (error.code === "ECONNREFUSED" || error.code === "ENOENT") resolve(undefined); // stale socket file
      else reject(error);
    });
    socket.on("end", () => {
      clearTimeout(timer);
      try {
        resolve(JSON.parse(reply) as CommandResult);
      } catch {
        reject(new Error("The running portal sent an unreadable answer."));
      }
    });
  });
}
