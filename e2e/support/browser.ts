// What the browser specs do the same way: sign in, reach a notebook cell, run it, keep screenshots and text
// artifacts next to the test's results.
import fs from "node:fs";
import { expect, type Page, type TestInfo } from "@playwright/test";

/** Signs in through the page and waits for the files page (`timeoutMs`: the expect default unless given). */
export async function signIn(page: Page, user: { email: string; password: string }, timeoutMs?: number) {
  await page.goto("/signin");
  await page.getByLabel("Email").fill(user.email);
  await page.getByRole("textbox", { name: "Password" }).fill(user.password);
  await page.getByRole("button", { name: "Sign in" }).click();
  await expect(page).toHaveURL(/\/files$/, timeoutMs === undefined ? undefined : { timeout: timeoutMs });
}

export const cell = (page: Page, n: number) => page.getByRole("region", { name: `Cell ${n}`, exact: true });

export async function runCell(page: Page, n: number, code: string) {
  const editor = cell(page, n).getByRole("textbox").first();
  await editor.click();
  await editor.fill(code);
  await page.keyboard.press("Shift+Enter");
}

/** A screenshot kept on disk (under the suite's test-results/<test>/<name>.png) and attached. */
export async function shot(page: Page, info: TestInfo, name: string) {
  const file = info.outputPath(`${name}.png`);
  await page.screenshot({ path: file, fullPage: true });
  await info.attach(name, { path: file, contentType: "image/png" });
}

/** A text artifact kept on disk and attached. */
export async function keep(info: TestInfo, name: string, body: string) {
  const file = info.outputPath(name);
  fs.writeFileSync(file, body);
  await info.attach(name, { path: file });
}
