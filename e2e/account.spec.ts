// The Account page as its user meets it, and the admin's "Sign out everywhere": a personal API token made in the
// page works against the Jupyter API until it is revoked there; "Sign out everywhere else", a password change and an
// admin's sign-out end the other browsers' sessions for real (their next page load is the sign-in page) while the
// browser that asked stays signed in.
import fs from "node:fs";
import path from "node:path";
import { expect, test, type Browser, type Locator, type Page } from "@playwright/test";
import { browserName } from "@/app/(portal)/account/browser-name";
import { e2eAdmin, e2eDataDir } from "../playwright.config";
import { createAnalyst, signIn } from "./support/session";

/** A browser of its own (cookies not shared with the others), signed in as `user`. */
async function signedInBrowser(browser: Browser, user: { email: string; password: string }): Promise<Page> {
  const page = await (await browser.newContext()).newPage();
  await signIn(page, user);
  return page;
}

/** The Account page, reached as a user does: the user menu in the top bar. */
async function openAccount(page: Page) {
  await page.getByRole("button", { name: "Account menu" }).click();
  await page.getByRole("menuitem", { name: "Account", exact: true }).click();
  await expect(page).toHaveURL(/\/account$/);
  await expect(page.getByRole("heading", { name: "Account", exact: true })).toBeVisible();
}

/** The next page load of a signed-out browser lands on the sign-in page, and its cookie no longer opens the API. */
async function expectSignedOut(page: Page) {
  await page.goto("/files");
  await expect(page).toHaveURL(/\/signin(\?|$)/);
  await expect(page.getByRole("button", { name: "Sign in" })).toBeVisible();
  expect((await page.request.get("/api/trpc/me.get")).status()).toBe(401);
}

async function expectSignedIn(page: Page) {
  await page.goto("/files");
  await expect(page).toHaveURL(/\/files$/);
  expect((await page.request.get("/api/trpc/me.get")).status()).toBe(200);
}

/** A password field by its name (the label's text also carries the "required" asterisk). */
const field = (scope: Locator, name: string) => scope.getByRole("textbox", { name, exact: true });
const sessionsTable = (page: Page) => page.getByRole("table", { name: "Your sessions" });

test("a token made on the Account page opens the Jupyter API until it is revoked there", async ({ page, request, baseURL }) => {
  const user = createAnalyst("tokens");
  await signIn(page, user);
  await page.context().grantPermissions(["clipboard-read", "clipboard-write"]);
  await openAccount(page);

  await page.getByLabel("Token name").fill("e2e laptop");
  await page.getByLabel("Expires in (days)").fill("30");
  await page.getByRole("button", { name: "Create token" }).click();
  const shown = page.getByRole("textbox", { name: "New token" });
  await expect(shown).toHaveValue(/^atr_/);
  const token = await shown.inputValue();
  await expect(page.getByText("won't be shown again")).toBeVisible();
  const origin = new URL(baseURL!).origin;
  await expect(page.getByLabel("Example command")).toHaveText(`jupyter lab --gateway-url=${origin} --GatewayClient.auth_token=${token}`);
  await page.getByRole("button", { name: "Copy", exact: true }).click();
  expect(await page.evaluate(() => navigator.clipboard.readText())).toBe(token);
  await page.screenshot({ path: "e2e/.artifacts/account-new-token.png", fullPage: true });
  // The field alone, at device pixel ratio 1: its "_" used to be clipped away (look at this one).
  await shown.screenshot({ path: "e2e/.artifacts/account-new-token-field.png" });

  const tokens = page.getByRole("table", { name: "Your API tokens" });
  for (const header of ["Name", "Token", "Created", "Last used", "Expires", "Status"]) await expect(tokens.getByRole("columnheader", { name: header, exact: true })).toBeVisible();
  const row = tokens.getByRole("row").filter({ hasText: "e2e laptop" });
  await expect(row).toContainText(token.slice(0, 10));
  await expect(row).toContainText("active");

  // `request` carries no cookie: the token alone lets it in, and nothing else does.
  const kernels = (auth?: string) => request.get("/api/kernels", { headers: auth ? { Authorization: auth } : {} });
  expect((await kernels()).status()).toBe(401);
  expect((await kernels(`token ${token}`)).status()).toBe(200);

  // Revoke, confirmed: the token is refused from then on.
  await row.getByRole("button", { name: "Revoke" }).click();
  const dialog = page.getByRole("dialog", { name: "Revoke this token?" });
  await dialog.getByRole("button", { name: "Revoke token" }).click();
  await expect(dialog).toBeHidden();
  await expect(row).toContainText("revoked");
  await expect(row.getByRole("button", { name: "Revoke" })).toHaveCount(0);
  await expect(shown).toBeHidden();
  expect((await kernels(`token ${token}`)).status()).toBe(401);
  await page.screenshot({ path: "e2e/.artifacts/account-token-revoked.png", fullPage: true });
});

test("ending one session, then Sign out everywhere else, signs the other browsers out and keeps this one", async ({ browser }) => {
  const user = createAnalyst("elsewhere");
  const a = await signedInBrowser(browser, user);
  const b = await signedInBrowser(browser, user);
  const c = await signedInBrowser(browser, user);
  await openAccount(a);

  const sessions = sessionsTable(a);
  for (const header of ["Signed in", "Browser", "Method", "Last active", "Status"]) await expect(sessions.getByRole("columnheader", { name: header, exact: true })).toBeVisible();
  const current = sessions.getByRole("row").filter({ hasText: "This session" });
  await expect(current).toHaveCount(1);
  await expect(current).toContainText("Password");
  // Which browser, and from where: what the sign-in request said (the User-Agent the test's browser sends).
  await expect(current).toContainText(browserName(await a.evaluate(() => navigator.userAgent)));
  await expect(current).toContainText(/Chrome on \w+/);
  await expect(current).toContainText(/from (127\.0\.0\.1|::1|::ffff:127\.0\.0\.1)/);
  await expect(current.getByRole("button")).toHaveCount(0); // this one ends by Sign out, in the user menu
  await expect(sessions.getByRole("button", { name: "End session" })).toHaveCount(2); // b's and c's
  await a.screenshot({ path: "e2e/.artifacts/account-sessions.png", fullPage: true });

  // One of the two, confirmed.
  await sessions.getByRole("button", { name: "End session" }).first().click();
  const endOne = a.getByRole("dialog", { name: "End this session?" });
  await endOne.getByRole("button", { name: "End session" }).click();
  await expect(endOne).toBeHidden();
  await expect(sessions.getByRole("button", { name: "End session" })).toHaveCount(1);

  // Then every other one: only the one left was still open.
  await a.getByRole("button", { name: "Sign out everywhere else" }).click();
  const dialog = a.getByRole("dialog", { name: "Sign out everywhere else?" });
  await dialog.getByRole("button", { name: "Sign out everywhere else" }).click();
  await expect(dialog).toBeHidden();
  await expect(a.getByText("1 session ended; you stay signed in here.")).toBeVisible();
  await expect(sessions.getByRole("button", { name: "End session" })).toHaveCount(0);
  await expect(sessions.getByRole("row").filter({ hasText: "ended by the user" })).toHaveCount(2);

  await expectSignedOut(b);
  await expectSignedOut(c);
  await expectSignedIn(a);
  for (const p of [a, b, c]) await p.context().close();
});

test("changing the password signs the other browser out, keeps this one, and only the new password signs in", async ({ browser }) => {
  const user = createAnalyst("password");
  const newPassword = "a-new-password-2";
  const a = await signedInBrowser(browser, user);
  const b = await signedInBrowser(browser, user);
  await openAccount(a);

  const form = a.getByRole("form", { name: "Change password" });
  // The two new ones must match: said by the field, before anything is sent.
  await field(form, "Current password").fill(user.password);
  await field(form, "New password").fill(newPassword);
  await field(form, "Confirm new password").fill("something-else-3");
  await form.getByRole("button", { name: "Change password" }).click();
  await expect(form.getByText("The new passwords don't match")).toBeVisible();

  // A wrong current password: the server's words, by the form.
  await field(form, "Current password").fill("not-my-password");
  await field(form, "Confirm new password").fill(newPassword);
  await form.getByRole("button", { name: "Change password" }).click();
  await expect(form.getByRole("alert")).toHaveText("Your current password is not correct.");
  await a.screenshot({ path: "e2e/.artifacts/account-password-wrong.png", fullPage: true });

  await field(form, "Current password").fill(user.password);
  await form.getByRole("button", { name: "Change password" }).click();
  await expect(a.getByText("1 session elsewhere signed out; you stay signed in here.")).toBeVisible();
  await expect(form.getByRole("alert")).toHaveCount(0);
  await expect(field(form, "Current password")).toHaveValue("");

  await expectSignedOut(b);
  await expectSignedIn(a);

  // The old password no longer signs in; the new one does.
  const c = await (await browser.newContext()).newPage();
  await c.goto("/signin");
  await c.getByLabel("Email").fill(user.email);
  await c.getByRole("textbox", { name: "Password" }).fill(user.password);
  await c.getByRole("button", { name: "Sign in" }).click();
  await expect(c.getByRole("form", { name: "Sign in" }).getByRole("alert")).toHaveText("Incorrect email or password.");
  await expect(c).toHaveURL(/\/signin(\?|$)/);
  await signIn(c, { email: user.email, password: newPassword });
  for (const p of [a, b, c]) await p.context().close();
});

test("an admin's Sign out everywhere ends the user's open session", async ({ browser }) => {
  const user = createAnalyst("admin-signout");
  const userPage = await signedInBrowser(browser, user);
  const admin = await signedInBrowser(browser, e2eAdmin);
  await admin.goto("/admin/users");
  await admin.getByRole("button", { name: `Actions for ${user.email}` }).click();
  await admin.getByRole("menuitem", { name: "Sign out everywhere" }).click();
  const dialog = admin.getByRole("dialog", { name: "Sign this user out everywhere?" });
  await expect(dialog).toContainText(user.email);
  await dialog.getByRole("button", { name: "Sign out everywhere" }).click();
  await expect(dialog).toBeHidden();
  await expect(admin.getByText(`${user.email} is signed out everywhere: 1 session ended.`)).toBeVisible();
  await admin.screenshot({ path: "e2e/.artifacts/admin-sign-out-everywhere.png" });

  await expectSignedOut(userPage);
  await expectSignedIn(admin);
  // Signed out is not locked out: the user signs in again.
  await signIn(userPage, user);
  await userPage.context().close();
  await admin.context().close();
});

test("a notebook whose session ends meanwhile says so once, keeps the edit, and saves it after signing in again in another tab", async ({ browser }) => {
  const user = createAnalyst("session-ends");
  const a = await signedInBrowser(browser, user);
  await a.goto("/notebook/signed-out.ipynb");
  await a.getByRole("button", { name: "Create notebook" }).click();
  const kernelStatus = a.getByRole("status", { name: "Kernel status" });
  await expect(kernelStatus).toHaveText("idle", { timeout: 90_000 });
  // The kernel socket the page opened with the session that is about to end: the portal closes it (1008) within its
  // 30-s credential recheck, and the page opens another once signed in again.
  const reopened = a.waitForEvent("websocket", { predicate: (ws) => ws.url().includes("/channels"), timeout: 120_000 });

  // The same user elsewhere ends every other session: a's among them.
  const b = await signedInBrowser(browser, user);
  await openAccount(b);
  await b.getByRole("button", { name: "Sign out everywhere else" }).click();
  await b.getByRole("dialog", { name: "Sign out everywhere else?" }).getByRole("button", { name: "Sign out everywhere else" }).click();
  await expect(b.getByText("1 session ended; you stay signed in here.")).toBeVisible();

  // a types; its autosave is refused: one dialog says why, and the edit stays on the page.
  const editor = a.getByRole("region", { name: "Cell 1", exact: true }).getByRole("textbox").first();
  await editor.click();
  await editor.fill("print('kept ' + 'across sign-in')");
  const dialog = a.getByRole("dialog", { name: "You are signed out" });
  await expect(dialog).toBeVisible({ timeout: 15_000 });
  await a.screenshot({ path: "e2e/.artifacts/session-ended-dialog.png" });
  await dialog.getByRole("button", { name: "Continue" }).click();
  await expect(dialog.getByRole("alert")).toHaveText("Still signed out: sign in in the other tab first.");

  // Signed in again in a new tab of the same browser; Continue then saves what waited, and the kernel works.
  const tab = await a.context().newPage();
  await signIn(tab, user);
  await tab.close();
  await dialog.getByRole("button", { name: "Continue" }).click();
  await expect(dialog).toBeHidden();
  await expect(a.getByTestId("save-state")).toHaveText(/^Saved/, { timeout: 15_000 });
  const me = await (await a.request.get("/api/trpc/me.get")).json();
  const file = path.join(e2eDataDir, "homes", me.result.data.json.username, "signed-out.ipynb");
  expect(fs.readFileSync(file, "utf8")).toContain("kept ' + 'across sign-in");
  // Regression (CI): after that close the page stayed "disconnected" and refused every run.
  await reopened;
  await expect(kernelStatus).toHaveText("idle");
  await editor.click();
  await a.keyboard.press("Shift+Enter");
  await expect(a.getByRole("region", { name: "Output 1", exact: true })).toContainText("kept across sign-in", { timeout: 30_000 });
  const kernels = (await (await a.request.get("/api/kernels")).json()) as { id: string }[];
  for (const kernel of kernels) await a.request.delete(`/api/kernels/${kernel.id}`);
  await a.context().close();
  await b.context().close();
});

test("a page whose browser signs in as someone else meanwhile never saves as them: it says so and offers a reload", async ({ browser }) => {
  const ana = createAnalyst("page-owner");
  const bob = createAnalyst("next-user");
  const page = await signedInBrowser(browser, ana);
  await page.goto("/notebook/mine.ipynb");
  await page.getByRole("button", { name: "Create notebook" }).click();
  await expect(page.getByRole("status", { name: "Kernel status" })).toHaveText("idle", { timeout: 90_000 });

  // Another tab of the same browser: Ana signs out, Bob signs in (the cookie the open page sends is Bob's now).
  const tab = await page.context().newPage();
  await tab.goto("/files");
  await tab.getByRole("button", { name: "Account menu" }).click();
  await tab.getByRole("menuitem", { name: "Sign out" }).click();
  await expect(tab).toHaveURL(/\/signin/);
  await signIn(tab, bob);
  const username = async () => ((await (await tab.request.get("/api/trpc/me.get")).json()) as { result: { data: { json: { username: string } } } }).result.data.json.username;
  const bobHome = path.join(e2eDataDir, "homes", await username());

  const editor = page.getByRole("region", { name: "Cell 1", exact: true }).getByRole("textbox").first();
  await editor.click();
  await editor.fill("ana_only = 'not for bob'");
  const dialog = page.getByRole("dialog", { name: "You are signed out" });
  await expect(dialog).toBeVisible({ timeout: 15_000 });
  await dialog.getByRole("button", { name: "Continue" }).click();
  await expect(dialog.getByRole("alert")).toContainText(`This browser is now signed in as ${bob.email}, and this page is ${ana.email}'s: it saves nothing as ${bob.email}.`);
  await expect(dialog.getByRole("button", { name: "Reload" })).toBeVisible();
  // Ana back in the other tab: Continue keeps the page, and what waited is saved as hers.
  await tab.getByRole("button", { name: "Account menu" }).click();
  await tab.getByRole("menuitem", { name: "Sign out" }).click();
  await expect(tab).toHaveURL(/\/signin/);
  await signIn(tab, ana);
  await dialog.getByRole("button", { name: "Continue" }).click();
  await expect(dialog).toBeHidden();
  await expect(page.getByTestId("save-state")).toHaveText(/^Saved/, { timeout: 15_000 });
  // Nothing of Ana's page reached Bob's home; her notebook has her edit.
  expect(fs.existsSync(path.join(bobHome, "mine.ipynb"))).toBe(false);
  expect(fs.readFileSync(path.join(e2eDataDir, "homes", await username(), "mine.ipynb"), "utf8")).toContain("not for bob");
  await page.context().close();
});
