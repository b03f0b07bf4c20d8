// The CLI's control socket: no other local user may connect to it at any moment, also not between the bind and
// the chmod, whatever the umask and the data dir's mode.
import assert from "node:assert/strict";
import fs from "node:fs";
import net from "node:net";
import os from "node:os";
import path from "node:path";
import { describe, it, type TestContext } from "node:test";
import type { Services } from "@/server/services";
import { StartupError } from "@/server/startup-error";
import { controlSocketPath, sendToRunningPortal, startControlSocket } from "./control-socket";

/** A data dir as an admin may have made it: open to all (boot's mkdir mode is ignored for an existing folder). */
function openDataDir(t: TestContext): string {
  const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), "atrium-control-"));
  fs.chmodSync(dataDir, 0o755);
  t.after(() => fs.rmSync(dataDir, { recursive: true, force: true }));
  return dataDir;
}

const servicesOn = (dataDir: string) => ({ env: { dataDir } }) as Services;
const modeOf = (file: string) => fs.statSync(file).mode & 0o777;

/** What blocks another user: connecting needs write permission on the socket and search permission on its folder. */
function othersCouldConnect(socketFile: string): boolean {
  return (modeOf(socketFile) & 0o022) !== 0 && (modeOf(path.dirname(socketFile)) & 0o011) !== 0;
}

describe("the CLI control socket", () => {
  // Regression: the socket was bound in the data dir with the umask's mode and chmod-ed 0600 only after listen.
  it("lets no other user connect from the moment it listens, under umask 0 in a data dir open to all", async (t) => {
    const dataDir = openDataDir(t);
    const file = controlSocketPath(dataDir);
    // Looked at as "listening" is emitted: before startControlSocket runs any code after its listen.
    let openToOthersAtListen: boolean | undefined;
    const listen = net.Server.prototype.listen;
    t.after(() => {
      net.Server.prototype.listen = listen;
    });
    net.Server.prototype.listen = function (this: net.Server, ...args: unknown[]) {
      const server = (listen as (...a: unknown[]) => net.Server).apply(this, args);
      this.once("listening", () => (openToOthersAtListen ??= othersCouldConnect(file)));
      return server;
    } as typeof listen;

    const umask = process.umask(0);
    let control: Awaited<ReturnType<typeof startControlSocket>>;
    try {
      control = await startControlSocket(servicesOn(dataDir));
    } finally {
      process.umask(umask);
    }
    t.after(() => control.close());

    assert.equal(openToOthersAtListen, false, "another user could connect when the socket began listening");
    assert.equal(modeOf(file), 0o600);
    assert.equal(modeOf(path.dirname(file)), 0o700);
    // The CLI still finds it (this command fails before it needs the database).
    const reply = await sendToRunningPortal(dataDir, ["no-such", "command"], undefined, 5_000);
    assert.equal(reply?.exitCode, 2);
    assert.match(reply?.stderr ?? "", /Unknown command "no-such command"/);
  });

  it("makes an existing socket folder private, and refuses one that is a link", async (t) => {
    const dataDir = openDataDir(t);
    const folder = path.dirname(controlSocketPath(dataDir));
    fs.mkdirSync(folder);
    fs.chmodSync(folder, 0o777);
    const control = await startControlSocket(servicesOn(dataDir));
    await control.close();
    assert.equal(modeOf(folder), 0o700);

    const linked = openDataDir(t);
    fs.symlinkSync(dataDir, path.dirname(controlSocketPath(linked)));
    await assert.rejects(startControlSocket(servicesOn(linked)), (error: unknown) => error instanceof StartupError && /not a link/.test(error.message));
  });
});

describe("the CLI during an upgrade", () => {
  it("reaches a running portal of the version before, which listened on <data dir>/control.sock", async (t) => {
    const dataDir = openDataDir(t);
    const legacy = path.join(dataDir, "control.sock");
    const server = net.createServer((socket) => {
      socket.once("data", () => socket.end(JSON.stringify({ exitCode: 0, stdout: "from the old portal\n", stderr: "" })));
    });
    await new Promise<void>((resolve) => server.listen(legacy, resolve));
    t.after(() => new Promise<void>((resolve) => server.close(() => resolve())));
    const result = await sendToRunningPortal(dataDir, ["users", "list"], undefined, 5_000);
    assert.equal(result?.stdout, "from the old portal\n");
  });
});
