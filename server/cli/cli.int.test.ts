// The CLI and the server's start-up, run as real processes: bad configuration and bad input end with a clear
// message and a non-zero exit, never a stack trace.
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { after, describe, it } from "node:test";
import { freePort } from "@/e2e/support/postgres.mjs";

const cli = path.resolve(import.meta.dirname, "atrium.mjs");
const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), "atrium-cli-"));

function atrium(args: string[], env: Record<string, string> = {}, stdin?: string): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [cli, ...args], {
      env: { PATH: process.env.PATH, HOME: process.env.HOME, ATRIUM_DATA_DIR: dataDir, ...env } as unknown as NodeJS.ProcessEnv,
      stdio: "pipe",
    });
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (d) => (stdout += d));
    child.stderr.on("data", (d) => (stderr += d));
    const timer = setTimeout(() => {
      child.kill("SIGKILL");
      reject(new Error(`atrium ${args.join(" ")} did not finish within 60 s`));
    }, 60_000);
    child.on("close", (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
    child.stdin.end(stdin ?? "");
  });
}

const noStackTrace = (text: string) => assert.doesNotMatch(text, /^\s+at .+:\d+:\d+\)?$/m, `no stack trace in:\n${text}`);

describe("atrium CLI", () => {
  after(() => fs.rmSync(dataDir, { recursive: true, force: true }));

  it("refuses to start with a malformed DATABASE_URL, naming the variable", async () => {
    const r = await atrium(["start"], { DATABASE_URL: "mysql://root:hunter2@db/atrium" });
    assert.equal(r.code, 1);
    assert.match(r.stderr, /DATABASE_URL: must be a postgres:\/\//);
    assert.doesNotMatch(r.stderr + r.stdout, /hunter2/);
    noStackTrace(r.stderr);
  });

  it("refuses to start when Postgres is unreachable, naming the variable", async () => {
    const port = await freePort();
    const r = await atrium(["start"], { DATABASE_URL: `postgres://atrium:hunter2@127.0.0.1:${port}/atrium`, ATRIUM_DB_CONNECT_TIMEOUT_SECONDS: "5" });
    assert.equal(r.code, 1);
    assert.match(r.stderr, /DATABASE_URL: could not connect to Postgres at postgres:\/\/atrium:\*\*\*@127\.0\.0\.1:\d+\/atrium \(connection refused\)/);
    assert.doesNotMatch(r.stderr, /hunter2/);
    noStackTrace(r.stderr);
  });

  it("manages users, teams and tokens on the embedded database", async () => {
    const added = await atrium(["users", "add", "ana@example.com", "--name", "Ana Lyst", "--password-stdin"], {}, "analyst-pass\n");
    assert.equal(added.code, 0, added.stderr);
    assert.match(added.stdout, /Created analyst ana@example.com \(username ana\)/);
    assert.equal((await atrium(["teams", "add", "Risk"])).code, 0);
    assert.equal((await atrium(["teams", "add-member", "Risk", "ana@example.com", "--lead"])).code, 0);
    const list = await atrium(["users", "list"]);
    assert.match(list.stdout, /^EMAIL\tUSERNAME\tROLE\tSTATUS\tTEAMS\tUID\tGID$/m);
    assert.match(list.stdout, /ana@example.com\tana\tanalyst\tactive\tRisk\(lead\)\t(\d+)\t\1$/m, "the uid, and a private gid numbered like it");
    const posix = await atrium(["users", "set-posix", "ana@example.com", "4321", "5000"]);
    assert.equal(posix.code, 0, posix.stderr);
    assert.match((await atrium(["users", "list"])).stdout, /ana@example.com\t.*\t4321\t5000$/m);
    const token = await atrium(["tokens", "create", "--user", "ana@example.com", "--name", "laptop"]);
    assert.match(token.stdout.trim(), /^atr_[A-Za-z0-9_-]{43}$/);
    const listed = await atrium(["tokens", "list", "--user", "ana@example.com"]);
    const line = new RegExp(`^([0-9a-f-]{36})  ${token.stdout.trim().slice(0, 10)}…  active  .*  laptop$`, "m").exec(listed.stdout);
    assert.ok(line, listed.stdout);
    assert.ok(!listed.stdout.includes(token.stdout.trim()), "never the secret");
    const revoked = await atrium(["tokens", "revoke", "--user", "ana@example.com", line[1]!]);
    assert.equal(revoked.code, 0, revoked.stderr);
    assert.match((await atrium(["tokens", "list", "--user", "ana@example.com"])).stdout, /  revoked  .*  laptop$/m);
    const again = await atrium(["tokens", "revoke", "--user", "ana@example.com", "not-an-id"]);
    assert.equal(again.code, 1);
    assert.match(again.stderr, /ana@example.com has no token not-an-id/);
  });

  it("says what was wrong with bad input and exits non-zero", async () => {
    const cases: [string[], number, RegExp][] = [
      [["users", "add", "not-an-email", "--password", "whatever1"], 1, /"not-an-email" is not a valid email address/],
      [["users", "add", "ana@example.com", "--password", "whatever1"], 1, /already exists/],
      [["users", "set-role", "ana@example.com", "teamLead"], 2, /ROLE must be analyst or admin/],
      [["users", "set-role", "ghost@example.com", "admin"], 1, /No user ghost@example.com exists/],
      [["teams", "add-member", "Nope", "ana@example.com"], 1, /No team Nope exists/],
      [["tokens", "create"], 2, /tokens create needs --user EMAIL/],
      [["frobnicate"], 2, /Unknown command "frobnicate"/],
      // A mistyped option is refused, never dropped (QA: `--rol admin --pasword …` made an analyst, exit 0).
      [["users", "add", "typo@example.com", "--rol", "admin", "--pasword", "secret-123"], 2, /Unknown option --rol for `users add`\. Its options: --name, --role, --username, --password, --password-stdin\./],
      [["users", "add", "typo@example.com", "extra-word"], 2, /Unexpected "extra-word" after `users add` typo@example.com/],
      [["users", "list", "--json"], 2, /Unknown option --json for `users list`\. It takes no options\./],
      [["teams", "add-member", "Risk", "ana@example.com", "--leader"], 2, /Unknown option --leader for `teams add-member`\. Its options: --lead\./],
      [["teams", "add-member", "Risk", "ana@example.com", "--lead=yes"], 2, /--lead takes no value/],
      // The Account page's rules for a token, here too (QA: no name, expiring in 2300).
      [["tokens", "create", "--user", "ana@example.com", "--expires-days", "99999"], 2, /--expires-days: Enter a whole number of days from 1 to 3650, or leave --expires-days out/],
      [["tokens", "create", "--user", "ana@example.com", "--name", " "], 2, /--name: A token needs a name/],
      // The forms' rules for quotas: memory that would be stored as 0 MB is not "a little" (QA: 0.0001 GB was taken).
      [["quota", "set", "--user", "ana@example.com", "--max-memory-gb", "0.0001"], 2, /--max-memory-gb must be 0 or at least 0\.001 GB, not 0\.0001; or "default"/],
      [["quota", "set", "--user", "ana@example.com", "--max-kernels", "1.5"], 2, /--max-kernels must be a whole number, not 1\.5/],
    ];
    for (const [args, code, message] of cases) {
      const r = await atrium(args);
      assert.equal(r.code, code, `${args.join(" ")}: ${r.stderr}`);
      assert.match(r.stderr, message);
      noStackTrace(r.stderr);
    }
    assert.doesNotMatch((await atrium(["users", "list"])).stdout, /typo@example\.com/, "a refused command made nothing");
  });
});
