// Helpers for end-to-end specs: users made with the real CLI (against the running portal), and signing in
// through the real sign-in page.
import { execFileSync } from "node:child_process";
import { e2eDataDir } from "../../playwright.config";

export function atriumCli(args: string[], stdin = ""): string {
  return execFileSync(process.execPath, ["server/cli/atrium.mjs", ...args], {
    env: { ...process.env, ATRIUM_DATA_DIR: e2eDataDir },
    input: stdin,
    encoding: "utf8",
    timeout: 60_000,
  });
}

let counter = 0;
/** A new analyst with a unique email, created through `npx atrium users add`. */
export function createAnalyst(prefix = "analyst") {
  const email = `${prefix}-${Date.now().toString(36)}-${counter++}@e2e.test`;
  const password = "analyst-password-1";
  atriumCli(["users", "add", email, "--name", "Ana Lyst", "--password-stdin"], password + "\n");
  return { email, password };
}

export { signIn } from "./browser";
