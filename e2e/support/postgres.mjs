// Starts a private PostgreSQL for the test run: a fresh cluster in a temporary folder, listening on
// 127.0.0.1 at a free port (and a socket in that folder), trust auth for the test user only. Stopped and
// removed at the end. Postgres refuses to run as root, so as root it runs as the `postgres` OS user.
import { execFileSync, spawnSync } from "node:child_process";
import fs from "node:fs";
import net from "node:net";
import os from "node:os";
import path from "node:path";

export async function freePort() {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => {
      const { port } = server.address();
      server.close(() => resolve(port));
    });
  });
}

export async function startPostgres(binDir) {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "atrium-pg-"));
  const asRoot = process.getuid?.() === 0;
  const asPostgres = (cmd, args) => (asRoot ? ["runuser", ["-u", "postgres", "--", cmd, ...args]] : [cmd, args]);
  if (asRoot) {
    fs.chmodSync(dir, 0o755);
    execFileSync("chown", ["postgres:postgres", dir]);
  }
  const data = path.join(dir, "data");
  const port = await freePort();
  const runAs = (cmd, args) => {
    const [c, a] = asPostgres(path.join(binDir, cmd), args);
    const result = spawnSync(c, a, { encoding: "utf8", timeout: 60_000 });
    if (result.status !== 0) throw new Error(`${cmd} failed: ${result.stderr || result.stdout}`);
  };
  runAs("initdb", ["-D", data, "-A", "trust", "-U", "atrium", "--no-sync", "-E", "UTF8"]);
  runAs("pg_ctl", ["-D", data, "-l", path.join(dir, "log"), "-w", "-t", "30", "-o", `-p ${port} -k ${dir} -c listen_addresses=127.0.0.1 -c fsync=off -c max_connections=200`, "start"]);
  const url = `postgres://atrium@127.0.0.1:${port}/postgres`;
  return {
    url,
    port,
    stop() {
      try {
        runAs("pg_ctl", ["-D", data, "-m", "immediate", "-w", "-t", "20", "stop"]);
      } finally {
        fs.rmSync(dir, { recursive: true, force: true });
      }
    },
  };
}
