// The Python that test pods run. The Kubernetes test cluster's node harness runs a pod's command on this host as
// the pod's runAsUser (a user's uid, never root), so the interpreter and its packages must be readable by any
// user: the kernel venv under ~/.cache (root's home, mode 0700) is not. This makes a venv from Debian's
// /usr/bin/python3 in a world-readable cache, with what Atrium's kernel launcher needs (ipykernel,
// cryptography), once per requirements content. In production the kernel image's Python plays this part.
import { createHash } from "node:crypto";
import { execFileSync } from "node:child_process";
import fs from "node:fs";
import path from "node:path";

const requirements = ["ipykernel==6.29.5", "cryptography==44.0.0"];

/** A world-readable cache (not under a home folder). */
export const podCacheDir = process.env.ATRIUM_POD_CACHE_DIR ?? "/var/cache/atrium";

/** The python of a venv any uid can run; created on first use (about a minute), then reused. */
export function ensurePodKernelPython() {
  const key = createHash("sha256").update(requirements.join("\n")).digest("hex").slice(0, 12);
  const venv = path.join(podCacheDir, "pod-venvs", `kernel-${key}`);
  const python = path.join(venv, "bin", "python");
  if (fs.existsSync(path.join(venv, ".complete"))) return python;
  console.log(`[provision] creating the pod kernel venv ${venv} (once; cached)…`);
  fs.rmSync(venv, { recursive: true, force: true });
  fs.mkdirSync(path.dirname(venv), { recursive: true, mode: 0o755 });
  for (let dir = path.dirname(venv); dir !== "/"; dir = path.dirname(dir)) fs.chmodSync(dir, fs.statSync(dir).mode | 0o755);
  const run = (cmd, args) => execFileSync(cmd, args, { stdio: ["ignore", "inherit", "inherit"], timeout: 15 * 60_000, env: { ...process.env, PIP_NO_CACHE_DIR: "1" } });
  run("/usr/bin/python3", ["-m", "venv", venv]);
  run(python, ["-m", "pip", "install", "-q", "--disable-pip-version-check", ...requirements]);
  // pip keeps the umask; make sure every user can read and traverse the venv.
  run("chmod", ["-R", "a+rX", venv]);
  fs.writeFileSync(path.join(venv, ".complete"), new Date().toISOString());
  return python;
}

if (process.argv[1] && import.meta.url.endsWith(path.basename(process.argv[1]))) console.log(ensurePodKernelPython());
