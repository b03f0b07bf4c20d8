// Provisions what the test suites need, idempotently, cached outside the checkout under ~/.cache/atrium
// (keyed by version): Debian's PostgreSQL and Chromium, and a Python venv with ipykernel.
// Prints what it does; exits non-zero with a clear message when something can't be had.
import { createHash } from "node:crypto";
import { execFileSync, spawnSync } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";

const here = path.dirname(fileURLToPath(import.meta.url));
export const cacheDir = process.env.ATRIUM_CACHE_DIR ?? path.join(os.homedir(), ".cache", "atrium");

function run(cmd, args, options = {}) {
  const result = spawnSync(cmd, args, { stdio: "inherit", ...options });
  if (result.status !== 0) throw new Error(`${cmd} ${args.join(" ")} failed (exit ${result.status ?? result.signal})`);
}

let aptUpdated = false;
function aptInstall(packages) {
  if (process.getuid?.() !== 0) {
    throw new Error(`Missing ${packages.join(", ")}: install them with \`sudo apt-get install -y ${packages.join(" ")}\` and run the tests again.`);
  }
  const env = { ...process.env, DEBIAN_FRONTEND: "noninteractive" };
  if (!aptUpdated) run("apt-get", ["update", "-q"], { env });
  aptUpdated = true;
  run("apt-get", ["install", "-y", "-q", "--no-install-recommends", ...packages], { env });
}

export function postgresBinDir() {
  const base = "/usr/lib/postgresql";
  if (!fs.existsSync(base)) return undefined;
  const versions = fs.readdirSync(base).filter((v) => fs.existsSync(path.join(base, v, "bin", "initdb"))).sort((a, b) => Number(b) - Number(a));
  return versions[0] ? path.join(base, versions[0], "bin") : undefined;
}

export function ensurePostgres() {
  if (!postgresBinDir()) {
    console.log("[provision] installing Debian's PostgreSQL…");
    aptInstall(["postgresql"]);
  }
  return postgresBinDir();
}

/** Debian's OpenLDAP server, for the directory sign-in tests (server/auth/ldap.int.test.ts). */
export const slapdPath = "/usr/sbin/slapd";
export function ensureSlapd() {
  if (!fs.existsSync(slapdPath)) {
    console.log("[provision] installing Debian's OpenLDAP server (slapd)…");
    aptInstall(["slapd"]);
  }
  return slapdPath;
}

export const chromiumPath = "/usr/bin/chromium";
export function ensureChromium() {
  if (!fs.existsSync(chromiumPath)) {
    console.log("[provision] installing Debian's Chromium…");
    aptInstall(["chromium"]);
  }
  return chromiumPath;
}

/** A venv per requirements file content: changing a pin makes a new one; an unchanged one is reused. */
export function ensureKernelVenv() {
  const requirements = path.join(here, "requirements-kernel.txt");
  const key = createHash("sha256").update(fs.readFileSync(requirements)).digest("hex").slice(0, 12);
  const venv = path.join(cacheDir, "venvs", `kernel-${key}`);
  const python = path.join(venv, "bin", "python");
  const marker = path.join(venv, ".complete");
  if (fs.existsSync(marker)) return python;
  const base = findSystemPython();
  console.log(`[provision] creating the kernel venv ${venv} (once; cached)…`);
  fs.rmSync(venv, { recursive: true, force: true });
  fs.mkdirSync(path.dirname(venv), { recursive: true });
  run(base, ["-m", "venv", venv]);
  run(python, ["-m", "pip", "install", "-q", "--disable-pip-version-check", "-r", requirements]);
  fs.writeFileSync(marker, new Date().toISOString());
  return python;
}

function findSystemPython() {
  for (const candidate of ["python3", "/usr/bin/python3"]) {
    try {
      execFileSync(candidate, ["-c", "import venv, ensurepip"], { stdio: "ignore" });
      return candidate;
    } catch {}
  }
  try {
    aptInstall(["python3-venv"]);
    return "/usr/bin/python3";
  } catch (error) {
    throw new Error(`No Python 3 with venv was found: install python3 and python3-venv (${error.message}).`);
  }
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  ensurePostgres();
  ensureSlapd();
  ensureChromium();
  console.log(`[provision] kernel python: ${ensureKernelVenv()}`);
}
