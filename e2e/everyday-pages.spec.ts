// The Files, Notebooks, notebook, Account and sign-in pages as a person meets them (regressions from a QA session),
// checked: signing in leads back to the page asked for (and never off the site), the Notebooks page's
// name field and its list (the account's, in every session), long names in alerts, token days, an unchanged
// password, a confirmed kernel restart, size units, and the favicon.
import fs from "node:fs";
import path from "node:path";
import { expect, test, type Page } from "@playwright/test";
import { e2eDataDir } from "../playwright.config";
import { cell, runCell } from "./support/browser";
import { createAnalyst, signIn } from "./support/session";

const output = (page: Page, n: number) => page.getByRole("region", { name: `Output ${n}`, exact: true });
const kernelStatus = (page: Page) => page.getByRole("status", { name: "Kernel status" });
const list = (page: Page) => page.getByRole("table", { name: /^Files in / });
const row = (page: Page, name: string) => list(page).getByRole("row").filter({ has: page.getByRole("link", { name, exact: true }) });

// Every kernel a test started is shut down (the portal keeps kernels alive across page loads on purpose).
test.afterEach(async ({ page }) => {
  const listed = await page.request.get("/api/kernels");
  if (!listed.ok()) return;
  for (const kernel of (await listed.json()) as { id: string }[]) await page.request.delete(`/api/kernels/${kernel.id}`);
});

async function signInOnPage(page: Page, user: { email: string; password: string }) {
  await page.getByLabel("Email").fill(user.email);
  await page.getByRole("textbox", { name: "Password" }).fill(user.password);
  await page.getByRole("button", { name: "Sign in" }).click();
}

async function homeDir(page: Page): Promise<string> {
  const me = await (await page.request.get("/api/trpc/me.get")).json();
  return path.join(e2eDataDir, "homes", me.result.data.json.username);
}

test("signing in leads back to the page asked for, and never to another site", async ({ browser, request }) => {
  const user = createAnalyst("callback");
  // The server itself answers with the redirect (no page of the portal is rendered for a stranger).
  const answer = await request.get("/usage?range=30d", { maxRedirects: 0 });
  expect(answer.status()).toBe(307);
  expect(answer.headers().location).toBe("/signin?callbackUrl=%2Fusage%3Frange%3D30d");

  for (const [asked, landed] of [
    ["/notebook/Untitled1.ipynb", /\/notebook\/Untitled1\.ipynb$/],
    ["/files/Data%20sets%20%C3%BC", /\/files\/Data%20sets%20%C3%BC$/],
    ["/usage?range=30d", /\/usage\?range=30d$/],
  ] as const) {
    const context = await browser.newContext();
    const page = await context.newPage();
    await page.goto(asked);
    await expect(page).toHaveURL(/\/signin\?callbackUrl=/);
    await signInOnPage(page, user);
    await expect(page).toHaveURL(landed);
    await context.close();
  }

  // A link that would leave the site after signing in leads to Files instead.
  for (const evil of ["https://evil.example/", "//evil.example/", "/\\evil.example/", "/\t/evil.example/"]) {
    const context = await browser.newContext();
    const page = await context.newPage();
    await page.goto(`/signin?callbackUrl=${encodeURIComponent(evil)}`);
    await signInOnPage(page, user);
    await expect(page).toHaveURL(/^http:\/\/localhost:\d+\/files$/);
    await context.close();
  }
});

test("the Notebooks page starts from a free name and refuses an empty one in the form", async ({ page }) => {
  await signIn(page, createAnalyst("notebooks-name"));
  // Untitled.ipynb exists: the field offers the next free name, as Files' New notebook picks it.
  fs.writeFileSync(path.join(await homeDir(page), "Untitled.ipynb"), JSON.stringify({ cells: [], metadata: {}, nbformat: 4, nbformat_minor: 5 }));
  await page.goto("/notebooks");
  const form = page.getByRole("form", { name: "New notebook" });
  const name = form.getByLabel("Notebook name");
  await expect(name).toHaveValue("Untitled1.ipynb");

  for (const typed of ["", "   ", ".ipynb"]) {
    await name.fill(typed);
    await form.getByRole("button", { name: "New notebook" }).click();
    await expect(name).toHaveAttribute("aria-invalid", "true");
    await expect(form).toContainText(typed === ".ipynb" ? 'Enter a name before ".ipynb".' : "Enter a name for the notebook.");
    await expect(page).toHaveURL(/\/notebooks$/);
  }
  expect(fs.existsSync(path.join(await homeDir(page), ".ipynb")), "no hidden .ipynb file").toBe(false);
  await page.screenshot({ path: "e2e/.artifacts/qa-notebooks-empty-name.png" });

  // A taken name is explained in the form too.
  await name.fill("Untitled.ipynb");
  await form.getByRole("button", { name: "New notebook" }).click();
  await expect(form).toContainText("already exists");

  await page.reload();
  await expect(name).toHaveValue("Untitled1.ipynb");
  await form.getByRole("button", { name: "New notebook" }).click();
  await expect(page).toHaveURL(/\/notebook\/Untitled1\.ipynb$/);
});

// Regression: the list lived in each browser's localStorage, so another session of the same user did not show what
// this one opened, a renamed notebook left its old entry, and dates read "12/2/2026, 3:55:49 PM" beside Files'
// "Dec 2, 2026, 3:52 PM".
test("the Notebooks page lists what the account opened in any session, newest first, and follows a rename", async ({ page, browser }) => {
  const user = createAnalyst("recent");
  await signIn(page, user);
  const home = await homeDir(page);
  const oneCell = JSON.stringify({
    cells: [{ cell_type: "code", id: "c1", metadata: {}, source: ["1 + 1"], outputs: [], execution_count: null }],
    metadata: {},
    nbformat: 4,
    nbformat_minor: 5,
  });
  for (const name of ["First.ipynb", "Second.ipynb", "Kept in this browser.ipynb"]) fs.writeFileSync(path.join(home, name), oneCell);
  for (const name of ["First.ipynb", "Second.ipynb"]) {
    await page.goto(`/notebook/${encodeURIComponent(name)}`);
    await expect(cell(page, 1)).toContainText("1 + 1", { timeout: 30_000 });
  }

  // Another browser of the same user, which still holds a list kept the old way: it is imported once, then dropped.
  const other = await browser.newContext();
  try {
    const elsewhere = await other.newPage();
    await signIn(elsewhere, user);
    const me = (await (await elsewhere.request.get("/api/trpc/me.get")).json()).result.data.json as { id: string };
    const oldKey = `atrium.recent-notebooks:${me.id}`;
    await elsewhere.evaluate(([key]) => localStorage.setItem(key!, JSON.stringify([{ path: "Kept in this browser.ipynb", openedAt: "2026-01-05T09:30:00.000Z" }])), [oldKey]);
    await elsewhere.goto("/notebooks");
    const recent = elsewhere.getByRole("table", { name: "Recent notebooks" });
    const rows = recent.getByRole("row").filter({ has: elsewhere.getByRole("cell") });
    await expect(rows).toHaveCount(3);
    await expect(rows.nth(0)).toContainText("Second.ipynb");
    await expect(rows.nth(1)).toContainText("First.ipynb");
    await expect(rows.nth(2)).toContainText("Kept in this browser.ipynb");
    // Dates as the Files page writes them.
    await expect(rows.nth(0).getByRole("cell").nth(1)).toHaveText(/^[A-Z][a-z]{2} \d{1,2}, \d{4}, \d{1,2}:\d{2}\s[AP]M$/);
    expect(await elsewhere.evaluate(([key]) => localStorage.getItem(key!), [oldKey])).toBeNull();

    // Renamed in Files (from the first browser): the entry moves, keeping its place.
    const renamed = await page.request.post("/api/trpc/files.rename", { data: { json: { from: "First.ipynb", to: "Renamed.ipynb" } } });
    expect(renamed.ok()).toBe(true);
    await elsewhere.reload();
    await expect(rows).toHaveCount(3);
    await expect(rows.nth(1)).toContainText("Renamed.ipynb");
    await expect(recent).not.toContainText("First.ipynb");
    await rows.nth(1).getByRole("link", { name: "Renamed.ipynb" }).click();
    await expect(elsewhere).toHaveURL(/\/notebook\/Renamed\.ipynb$/);
    await expect(cell(elsewhere, 1)).toContainText("1 + 1", { timeout: 30_000 }); // opened (and so recorded) before leaving
    await elsewhere.goto("/notebooks");
    await expect(rows.nth(0)).toContainText("Renamed.ipynb");

    // Deleted behind Atrium's back (not through Files): listed as not found, not a link, until removed.
    fs.rmSync(path.join(home, "Kept in this browser.ipynb"));
    await elsewhere.reload();
    await expect(rows.nth(2)).toContainText("Not found");
    await expect(rows.nth(2).getByRole("link")).toHaveCount(0);
    await elsewhere.screenshot({ path: "e2e/.artifacts/qa-recent-notebooks.png" });
    await rows.nth(2).getByRole("button", { name: "Remove Kept in this browser.ipynb from recent notebooks" }).click();
    await expect(rows).toHaveCount(2);
  } finally {
    await other.close();
  }
});

test("a refused long name wraps inside its alert", async ({ page }) => {
  await signIn(page, createAnalyst("long-name"));
  await page.getByRole("button", { name: "New folder" }).click();
  const dialog = page.getByRole("dialog", { name: "New folder" });
  await dialog.getByLabel("Folder name").fill("x".repeat(300));
  await dialog.getByRole("button", { name: "Create folder" }).click();
  const alert = dialog.getByRole("alert");
  await expect(alert).toContainText("longer than 255 bytes");
  await page.screenshot({ path: "e2e/.artifacts/qa-long-name-alert.png" });
  const [alertBox, dialogBox] = [await alert.boundingBox(), await dialog.boundingBox()];
  expect(alertBox!.x + alertBox!.width).toBeLessThanOrEqual(dialogBox!.x + dialogBox!.width);
  // Nothing inside the alert runs past its edge.
  const overflow = await alert.evaluate((el) => Math.max(...[el, ...el.querySelectorAll("*")].map((e) => e.getBoundingClientRect().right)) - el.getBoundingClientRect().right);
  expect(overflow).toBeLessThanOrEqual(1);
});

test("token days out of range are explained, never changed", async ({ page }) => {
  await signIn(page, createAnalyst("token-days"));
  await page.goto("/account");
  const form = page.getByRole("form", { name: "Create an API token" });
  await form.getByLabel("Token name").fill("laptop");
  for (const days of ["100000", "-5", "0", "1.5"]) {
    await form.getByLabel("Expires in (days)").fill(days);
    await form.getByRole("button", { name: "Create token" }).click();
    await expect(form.getByRole("alert")).toHaveText("Enter a whole number of days from 1 to 3650, or leave it empty for a token that doesn't expire.");
    await expect(form.getByLabel("Expires in (days)")).toHaveValue(days);
  }
  await expect(page.getByText("You have no API tokens yet.")).toBeVisible();
  await page.screenshot({ path: "e2e/.artifacts/qa-token-days.png" });
  await form.getByLabel("Expires in (days)").fill("3650");
  await form.getByRole("button", { name: "Create token" }).click();
  await expect(page.getByRole("textbox", { name: "New token" })).toHaveValue(/^atr_/);
});

test("a new password equal to the current one is refused", async ({ page }) => {
  const user = createAnalyst("same-password");
  await signIn(page, user);
  await page.goto("/account");
  const form = page.getByRole("form", { name: "Change password" });
  for (const name of ["Current password", "New password", "Confirm new password"]) await form.getByRole("textbox", { name, exact: true }).fill(user.password);
  await form.getByRole("button", { name: "Change password" }).click();
  await expect(form.getByRole("alert")).toHaveText("Your new password is the same as your current one. Choose a different new password.");
  await expect(page.getByText("Password changed")).toHaveCount(0);
});

test("Restart kernel asks first, and the question works from the keyboard", async ({ page }) => {
  test.setTimeout(180_000);
  await signIn(page, createAnalyst("restart"));
  await page.goto("/notebook/Restart.ipynb");
  await page.getByRole("button", { name: "Create notebook" }).click();
  await expect(kernelStatus(page)).toHaveText("idle", { timeout: 90_000 });
  await runCell(page, 1, "x = 41");
  await expect(cell(page, 1)).toContainText("[1]:");

  // Asked, then cancelled with Escape: the variables are still there.
  const restartButton = page.getByRole("button", { name: "Restart kernel", exact: true });
  await restartButton.focus();
  await page.keyboard.press("Enter");
  const dialog = page.getByRole("dialog", { name: "Restart the kernel?" });
  await expect(dialog).toContainText("All variables will be lost.");
  await page.screenshot({ path: "e2e/.artifacts/qa-restart-confirm.png" });
  await page.keyboard.press("Escape");
  await expect(dialog).toBeHidden();
  await runCell(page, 2, "print(x + 1)");
  await expect(output(page, 2)).toHaveText("42");

  // Asked, then confirmed with Enter (the keyboard starts on Restart, as in Jupyter): a new kernel, without x.
  await restartButton.focus();
  await page.keyboard.press("Enter");
  await expect(dialog).toBeVisible();
  await expect(dialog.getByRole("button", { name: "Restart", exact: true })).toBeFocused();
  await page.keyboard.press("Enter");
  await expect(dialog).toBeHidden();
  await expect(kernelStatus(page)).toHaveText("idle", { timeout: 30_000 });
  await runCell(page, 3, 'print("x" in globals())');
  await expect(output(page, 3)).toHaveText("False");
  await expect(cell(page, 3)).toContainText("[1]:");
});

test("sizes are labelled in the binary units they are counted in", async ({ page }) => {
  await signIn(page, createAnalyst("sizes"));
  // A sparse file: 300,000,000 bytes on paper, nothing on disk.
  const file = path.join(await homeDir(page), "big.bin");
  fs.closeSync(fs.openSync(file, "w"));
  fs.truncateSync(file, 300_000_000);
  await page.reload();
  await expect(row(page, "big.bin")).toContainText("286 MiB");
});

test("every page has a favicon", async ({ page, request }) => {
  for (const icon of ["/favicon.ico", "/favicon.svg"]) {
    const response = await request.get(icon);
    expect(response.status(), icon).toBe(200);
    expect(response.headers()["content-type"]).toMatch(/^image\//);
  }
  await page.goto("/signin");
  await expect(page.locator('head link[rel="icon"][href^="/favicon.svg"]')).toHaveCount(1);
  await signIn(page, createAnalyst("favicon"));
  await expect(page.locator('head link[rel="icon"][href^="/favicon.svg"]')).toHaveCount(1);
});
