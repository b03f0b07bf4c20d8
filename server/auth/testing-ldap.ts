// A real OpenLDAP server for tests: Debian's slapd (npm test provisions it; ATRIUM_TEST_SLAPD names it), with its own
// configuration and database in a temporary folder, on a free loopback port, stopped at the end. Every wait has a
// deadline. Entries are added as the directory's administrator.
import { spawn, type ChildProcess } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { Attribute, Change, Client } from "ldapts";
import { freePort } from "@/e2e/support/postgres.mjs";

export const DIRECTORY_BASE = "dc=atrium,dc=test";
export const PEOPLE = `ou=people,${DIRECTORY_BASE}`;
const ADMIN = { dn: `cn=admin,${DIRECTORY_BASE}`, password: "directory-admin-secret" };

export function requireSlapd(): string {
  const slapd = process.env.ATRIUM_TEST_SLAPD ?? "/usr/sbin/slapd";
  if (!fs.existsSync(slapd)) throw new Error("No slapd: npm test provisions Debian's OpenLDAP server (apt-get install slapd), or set ATRIUM_TEST_SLAPD.");
  return slapd;
}

export interface TestDirectory {
  url: string;
  /** Adds an entry under ou=people with these attributes (objectClass inetOrgPerson). */
  addPerson(uid: string, attributes: { cn: string; sn?: string; mail?: string; userPassword: string }): Promise<string>;
  /** Deletes the entry under ou=people (someone who left). */
  removePerson(uid: string): Promise<void>;
  /** Replaces one attribute of the entry under ou=people. */
  setAttribute(uid: string, attribute: string, value: string): Promise<void>;
  stop(): Promise<void>;
}

export async function startDirectory(): Promise<TestDirectory> {
  const slapd = requireSlapd();
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "atrium-slapd-"));
  fs.mkdirSync(path.join(dir, "db"));
  const config = path.join(dir, "slapd.conf");
  fs.writeFileSync(
    config,
    [
      "include /etc/ldap/schema/core.schema",
      "include /etc/ldap/schema/cosine.schema",
      "include /etc/ldap/schema/inetorgperson.schema",
      `pidfile ${path.join(dir, "slapd.pid")}`,
      "modulepath /usr/lib/ldap",
      "moduleload back_mdb",
      "database mdb",
      "maxsize 10485760",
      `suffix "${DIRECTORY_BASE}"`,
      `rootdn "${ADMIN.dn}"`,
      `rootpw ${ADMIN.password}`,
      `directory ${path.join(dir, "db")}`,
      // As directories are usually set up: passwords only for binding, entries readable once bound or anonymously.
      "access to attrs=userPassword by anonymous auth by * none",
      "access to * by * read",
      "",
    ].join("\n"),
  );
  const port = (await freePort()) as number;
  const url = `ldap://127.0.0.1:${port}`;
  // -d 0: in the foreground (a child this test owns), logging nothing.
  const child: ChildProcess = spawn(slapd, ["-f", config, "-h", `${url}/`, "-d", "0"], { stdio: ["ignore", "ignore", "pipe"] });
  let stderr = "";
  child.stderr!.on("data", (d) => (stderr += d));
  const stop = async () => {
    if (child.exitCode === null && child.signalCode === null) {
      const exited = new Promise((resolve) => child.once("exit", resolve));
      child.kill("SIGTERM");
      const timer = setTimeout(() => child.kill("SIGKILL"), 5_000);
      await exited;
      clearTimeout(timer);
    }
    fs.rmSync(dir, { recursive: true, force: true });
  };
  const admin = new Client({ url, timeout: 5_000, connectTimeout: 2_000 });
  const deadline = Date.now() + 15_000;
  for (;;) {
    try {
      await admin.bind(ADMIN.dn, ADMIN.password);
      break;
    } catch (error) {
      if (child.exitCode !== null || Date.now() > deadline) {
        await stop();
        throw new Error(`slapd did not start within 15 s (${String(error)}): ${stderr}`);
      }
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
  }
  await admin.add(DIRECTORY_BASE, { objectClass: ["top", "dcObject", "organization"], dc: "atrium", o: "Atrium tests" });
  await admin.add(PEOPLE, { objectClass: ["top", "organizationalUnit"], ou: "people" });
  return {
    url,
    async addPerson(uid, attributes) {
      const dn = `uid=${uid},${PEOPLE}`;
      const values: Record<string, string | string[]> = { objectClass: ["top", "person", "organizationalPerson", "inetOrgPerson"], uid, sn: attributes.sn ?? attributes.cn, ...attributes };
      await admin.add(dn, values);
      return dn;
    },
    async removePerson(uid) {
      await admin.del(`uid=${uid},${PEOPLE}`);
    },
    async setAttribute(uid, type, value) {
      await admin.modify(`uid=${uid},${PEOPLE}`, new Change({ operation: "replace", modification: new Attribute({ type, values: [value] }) }));
    },
    async stop() {
      await admin.unbind().catch(() => {});
      await stop();
    },
  };
}
