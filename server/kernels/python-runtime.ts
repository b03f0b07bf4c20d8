// Which Python runs local kernels. The embedded default must work at once: ATRIUM_PYTHON if set; else a
// python3 on PATH that has ipykernel; else a venv Atrium creates in its data dir (once, with progress shown).
// Without any Python 3 it says exactly what to install.
import { execFile, spawn } from "node:child_process";
import fs from "node:fs";
import path from "node:path";
import { promisify } from "node:util";
import { StartupError } from "@/server/startup-error";

const run = promisify(execFile);
// ipykernel runs the kernels; cryptography lets the same Python run Atrium's remote launcher.
const KERNEL_PACKAGES = ["ipykernel>=6.29,<8", "cryptography>=42"];

async function hasIpykernel(python: string): Promise<boolean> {
  try {
    await run(python, ["-c", "import ipykernel"], { timeout: 30_000 });
    return true;
  } catch {
    return false;
  }
}

export async function resolveKernelPython(options: { configured?: string; dataDir: string; print?: (line: string) => void }): Promise<string> {
  const print = options.print ?? ((line: string) => console.log(line));
  if (options.configured) {
    if (!(await hasIpykernel(options.configured))) {
      throw new StartupError(`ATRIUM_PYTHON: ${options.configured} cannot import ipykernel. Install it there (\`${options.configured} -m pip install ipykernel\`) or unset ATRIUM_PYTHON.`);
    }
    return options.configured;
  }
  const venvPython = path.join(options.dataDir, "python", "bin", "python");
  if (fs.existsSync(venvPython) && (await hasIpykernel(venvPython))) return venvPython;
  for (const candidate of ["python3", "python"]) if (await hasIpykernel(candidate)) return candidate;

  const base = await findPython3();
  if (!base) {
    throw new StartupError(
      "Atrium runs notebooks with Python 3, and none was found. Install Python 3 with venv (Debian/Ubuntu: `apt-get install python3 python3-venv`), or set ATRIUM_PYTHON to a Python that has ipykernel.",
    );
  }
  print(`Setting up a Python for notebooks in ${path.dirname(path.dirname(venvPython))} (first start only)…`);
  await stream(base, ["-m", "venv", path.dirname(path.dirname(venvPython))], print);
  print(`Installing ${KERNEL_PACKAGES.join(", ")}…`);
  await stream(venvPython, ["-m", "pip", "install", "--disable-pip-version-check", "--progress-bar", "off", ...KERNEL_PACKAGES], print);
  if (!(await hasIpykernel(venvPython))) throw new StartupError(`ipykernel was installed into ${venvPython} but cannot be imported; see the output above.`);
  print("Python for notebooks is ready.");
  return venvPython;
}

async function findPython3(): Promise<string | undefined> {
  for (const candidate of ["python3", "/usr/bin/python3"]) {
    try {
      await run(candidate, ["-c", "import sys, venv, ensurepip; assert sys.version_info >= (3, 9)"], { timeout: 30_000 });
      return candidate;
    } catch {}
  }
  return undefined;
}

function stream(cmd: string, args: string[], print: (line: string) => void): Promise<void> {
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, { stdio: ["ignore", "pipe", "pipe"] });
    const forward = (chunk: Buffer) => chunk.toString().split("\n").filter(Boolean).forEach((line) => print(`  ${line}`));
    child.stdout.on("data", forward);
    child.stderr.on("data", forward);
    const timer = setTimeout(() => child.kill("SIGKILL"), 15 * 60_000);
    child.on("error", reject);
    child.on("close", (code) => {
      clearTimeout(timer);
      if (code === 0) resolve();
      else reject(new StartupError(`\`${cmd} ${args.join(" ")}\` failed (exit ${code}). Fix the problem above, or set ATRIUM_PYTHON to a Python that has ipykernel.`));
    });
  });
}
