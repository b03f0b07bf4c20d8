// The embedded database (PGlite) belongs to one process. While the portal runs, CLI commands are handed to
// it over a Unix socket in the data dir (mode 0600: only the portal's own OS user can use it) and run there
// against the same database. With Postgres the CLI connects directly and this socket isn't used.
import fs from "node:fs";
import net from "node:net";
import path from "node:path";
import type { Services } from "@/server/services";
import { log } from "@/server/log";
import { runDbCommand, type CommandResult } from "./commands";

export const controlSocketPath = (dataDir: string) => path.join(dataDir, "control.sock");
const MAX_REQUEST = 1 << 20;

export async function startControlSocket(services: Services): Promise<{ close(): Promise<void> }> {
  const file = controlSocketPath(services.env.dataDir);
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

/** Sends a command to the running portal; undefined when no portal is listening. */
export async function sendToRunningPortal(dataDir: string, argv: string[], stdin: string | undefined, timeoutMs = 30_000): Promise<CommandResult | undefined> {
  const file = controlSocketPath(dataDir);
  if (!fs.existsSync(file)) return undefined;
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
