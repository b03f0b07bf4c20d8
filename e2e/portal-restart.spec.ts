// A portal restarted (a deploy: SIGTERM, then `atrium start` again) while a notebook's cell runs: the page
// reconnects on its own, the cell's output goes on where the new portal took the kernel up, nothing printed after
// that is lost, the place where output could not be heard says so, and the cell ends with its count — the reply
// to its execute_request went to the portal process that stopped. A portal of its own (embedded database in a
// temp dir, a free loopback port), so the suite's portal is never restarted under other tests.
import fs from "node:fs";
import { expect, test, type Page } from "@playwright/test";
import { restartPortalProcess, startPortalProcess, stopPortalProcess, type PortalProcess } from "./support/portal-process";

const python = process.env.ATRIUM_PYTHON;
const admin = { email: "admin@example.com", password: "admin-password-1" }; // portal-process.ts's first admin

let portal: PortalProcess | undefined;
test.afterEach(async ({ page }) => {
  // A stopped portal leaves its kernels running (that is what a restart relies on): they are shut down first.
  if (!portal) return;
  const listed = await page.request.get(`${portal.base}/api/kernels`).catch(() => null);
  for (const kernel of listed?.ok() ? ((await listed.json()) as { id: string }[]) : []) await page.request.delete(`${portal.base}/api/kernels/${kernel.id}`);
  await stopPortalProcess(portal);
  portal = undefined;
});

const cell = (page: Page, n: number) => page.getByRole("region", { name: `Cell ${n}`, exact: true });
const output = (page: Page, n: number) => page.getByRole("region", { name: `Output ${n}`, exact: true });
const kernelStatus = (page: Page) => page.getByRole("status", { name: "Kernel status" });

/** A portal of this test's own, signed in as its admin, with a new notebook open and its kernel idle. */
async function portalWithNotebook(page: Page, name: string): Promise<string> {
  expect(python, "ATRIUM_PYTHON names the kernel interpreter (npm test provisions it)").toBeTruthy();
  portal = await startPortalProcess({ secret: "portal-restart-e2e-secret-0123456789abcdef", python: python! });
  const base = portal.base;
  await page.goto(`${base}/signin`);
  await page.getByLabel("Email").fill(admin.email);
  await page.getByRole("textbox", { name: "Password" }).fill(admin.password);
  await page.getByRole("button", { name: "Sign in", exact: true }).click();
  await page.waitForURL(/\/files/);
  await page.goto(`${base}/notebook/${name}`);
  await page.getByRole("button", { name: "Create notebook" }).click();
  await expect(kernelStatus(page)).toHaveText("idle", { timeout: 90_000 });
  return base;
}

async function runFirstCell(page: Page, code: string) {
  const editor = cell(page, 1).getByRole("textbox").first();
  await editor.click();
  await editor.fill(code);
  await page.keyboard.press("Control+Enter");
}

test("a portal restarted while a cell runs: the page reconnects, the cell's output goes on and the cell ends", async ({ page }) => {
  test.setTimeout(240_000);
  const base = await portalWithNotebook(page, "Restart.ipynb");
  await runFirstCell(page, "import time\nfor i in range(40):\n    print('t', i, flush=True)\n    time.sleep(0.5)\nprint('finished')");
  await expect(output(page, 1)).toContainText("t 2", { timeout: 30_000 });

  portal = await restartPortalProcess(portal!);
  // The rest of the run shows as it comes, then its end: no longer running, with its execution count.
  await expect(output(page, 1)).toContainText("finished", { timeout: 60_000 });
  await expect(cell(page, 1)).not.toContainText("Running", { timeout: 10_000 });
  await expect(cell(page, 1)).toContainText("[1]:");
  await expect(kernelStatus(page)).toHaveText("idle");

  // Before the restart and after the new portal took the kernel up, no line is missing; between, the output says
  // that what was printed while no portal listened is not there.
  const text = (await output(page, 1).innerText()).trim();
  const [before, after] = text.split(/\[Atrium restarted while this cell ran[^\]]*\]/);
  expect(after, `the gap is marked in:\n${text}`).toBeDefined();
  const numbers = (part: string) => [...part.matchAll(/^t (\d+)$/gm)].map((m) => Number(m[1]));
  const consecutive = (list: number[]) => list.every((n, i) => i === 0 || n === list[i - 1]! + 1);
  expect(numbers(before!)[0]).toBe(0);
  expect(consecutive(numbers(before!)), before).toBe(true);
  expect(consecutive(numbers(after!)), after).toBe(true);
  expect(numbers(after!).at(-1)).toBe(39);
  expect(after!.trim().endsWith("finished")).toBe(true);

  // Saved as shown: the file holds the same output, and the cell's count.
  await page.keyboard.press("Control+s");
  await expect(page.getByRole("status", { name: "Save status" })).toHaveText(/^Saved/, { timeout: 15_000 });
  const me = await (await page.request.get(`${base}/api/trpc/me.get`)).json();
  const saved = JSON.parse(fs.readFileSync(`${portal.dataDir}/homes/${me.result.data.json.username}/Restart.ipynb`, "utf8"));
  expect(saved.cells[0].execution_count).toBe(1);
  expect(saved.cells[0].outputs.map((o: { text: string[] }) => o.text.join("")).join("")).toContain("t 39\nfinished\n");
});

test("a portal restarted while a cell waits on input(): the page asks again, and the answer finishes the cell", async ({ page }) => {
  test.setTimeout(240_000);
  await portalWithNotebook(page, "Asks.ipynb");
  await runFirstCell(page, 'name = input("Name? ")\nprint("hello", name)');
  const question = output(page, 1).getByRole("textbox", { name: /Input requested by the kernel/ });
  await expect(question).toBeVisible({ timeout: 30_000 });

  portal = await restartPortalProcess(portal!);
  // Opened again after the restart (the page that asked kept its question; a reload, another tab or another replica
  // has only what the new portal knows): the portal took the kernel up still waiting and asks again, and the kernel
  // takes the answer from this page although its request went out through the portal that stopped.
  await page.reload();
  await expect(kernelStatus(page)).toHaveText("busy", { timeout: 60_000 });
  await expect(question).toBeVisible({ timeout: 30_000 });
  await question.fill("Grace");
  await question.press("Enter");
  await expect(output(page, 1)).toContainText("hello Grace", { timeout: 30_000 });
  await expect(kernelStatus(page)).toHaveText("idle");
  await expect(cell(page, 1)).toContainText("[1]:");
});
