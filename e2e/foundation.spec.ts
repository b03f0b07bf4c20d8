// Issue 2's promises, as a person would check them in the browser.
import { expect, test } from "@playwright/test";
import { e2eAdmin } from "../playwright.config";
import { atriumCli, createAnalyst, signIn } from "./support/session";

test("an anonymous visitor is sent to the sign-in page", async ({ page }) => {
  await page.goto("/");
  await expect(page).toHaveURL(/\/signin$/);
  await expect(page.getByRole("heading", { name: "Sign in" })).toBeVisible();
  await expect(page.getByLabel("Email")).toBeVisible();
});

test("the admin signs in and manages users", async ({ page }) => {
  await signIn(page, e2eAdmin);
  await expect(page.getByRole("link", { name: "Admin" })).toBeVisible();
  await page.getByRole("link", { name: "Admin" }).click();
  await expect(page).toHaveURL(/\/admin\/users$/);
  await expect(page.getByRole("table", { name: "Users" }).getByRole("cell", { name: e2eAdmin.email, exact: true })).toBeVisible();

  await page.getByRole("button", { name: "Add user" }).click();
  const dialog = page.getByRole("dialog", { name: "Add user" });
  await dialog.getByLabel("Email").fill(`made-in-ui-${Date.now()}@e2e.test`);
  await dialog.getByLabel("Initial password").fill("ui-password-1");
  await dialog.getByRole("button", { name: "Add user" }).click();
  await expect(page.getByText(/Added made-in-ui-/)).toBeVisible();
});

test("the admin sees each user's uid/gid and changes them; root and a uid another user holds are refused with a clear message", async ({ page }) => {
  const analyst = createAnalyst("posix");
  // `users list` prints every user's uid and gid (a private group numbered like the uid by default).
  const posixIds = () => {
    const [header, ...rows] = atriumCli(["users", "list"]).trim().split("\n").map((line) => line.split("\t"));
    const of = (email: string) => rows.find((r) => r[0] === email)!;
    return (email: string) => ({ uid: of(email)[header!.indexOf("UID")], gid: of(email)[header!.indexOf("GID")] });
  };
  const before = posixIds();
  const { uid } = before(analyst.email);
  expect(before(analyst.email).gid).toBe(uid);
  const adminUid = before(e2eAdmin.email).uid;

  await signIn(page, e2eAdmin);
  await page.goto("/admin/users");
  const row = page.getByRole("row").filter({ hasText: analyst.email });
  await expect(row).toContainText(`${uid} / ${uid}`);
  await row.getByRole("button", { name: `Actions for ${analyst.email}` }).click();
  await page.getByRole("menuitem", { name: "Set uid and gid" }).click();
  const dialog = page.getByRole("dialog", { name: `uid and gid of ${analyst.email}` });
  await expect(dialog.getByLabel("UID")).toHaveValue(uid!);

  await dialog.getByLabel("UID").fill("0");
  await dialog.getByRole("button", { name: "Save" }).click();
  await expect(dialog.getByRole("alert")).toHaveText("The uid 0 is root's: a user's pods never run as root.");
  await dialog.getByLabel("UID").fill(adminUid!);
  await dialog.getByRole("button", { name: "Save" }).click();
  await expect(dialog.getByRole("alert")).toHaveText(`The uid ${adminUid} belongs to ${e2eAdmin.email}; each user needs their own.`);

  const fresh = String(600000 + (Date.now() % 100000));
  await dialog.getByLabel("UID").fill(fresh);
  await dialog.getByLabel("GID").fill("5000");
  await dialog.getByRole("button", { name: "Save" }).click();
  await expect(page.getByText(`${analyst.email} now runs as uid ${fresh}, gid 5000.`)).toBeVisible();
  await expect(dialog).toHaveCount(0);
  await expect(row).toContainText(`${fresh} / 5000`);
  expect(posixIds()(analyst.email)).toEqual({ uid: fresh, gid: "5000" });
});

test("an analyst made with the CLI signs in and is refused on admin pages and procedures", async ({ page }) => {
  const analyst = createAnalyst();
  await signIn(page, analyst);
  await expect(page.getByRole("button", { name: "Account menu" })).toContainText("Analyst");
  await expect(page.getByRole("link", { name: "Admin" })).toHaveCount(0);

  const response = await page.goto("/admin/users");
  expect(response?.status()).toBe(403);
  await expect(page.getByRole("heading", { name: /You don.t have access to this page/ })).toBeVisible();

  const procedure = await page.request.get("/api/trpc/admin.users.list");
  expect(procedure.status()).toBe(403);
  const body = await procedure.json();
  expect(body.error.json.message).toBe("Only admins can do this.");
  const teams = await page.request.post("/api/trpc/admin.teams.add", { data: { json: { name: "sneaky" } } });
  expect(teams.status()).toBe(403);
});

test("a wrong password gets a clear message, and the 6th quick failure is throttled", async ({ page }) => {
  const analyst = createAnalyst("throttled");
  await page.goto("/signin");
  for (let attempt = 1; attempt <= 5; attempt++) {
    await page.getByLabel("Email").fill(analyst.email);
    await page.getByRole("textbox", { name: "Password" }).fill(`wrong-${attempt}`);
    await page.getByRole("button", { name: "Sign in" }).click();
    await expect(page.getByRole("form", { name: "Sign in" }).getByRole("alert")).toHaveText("Incorrect email or password.");
  }
  // The right password, too late: the account is throttled.
  await page.getByRole("textbox", { name: "Password" }).fill(analyst.password);
  await page.getByRole("button", { name: "Sign in" }).click();
  await expect(page.getByRole("form", { name: "Sign in" }).getByRole("alert")).toContainText("Too many failed sign-in attempts. Try again in 15 minutes");
  await expect(page).toHaveURL(/\/signin/);
});

test("an unknown email gets the same message as a wrong password", async ({ page }) => {
  await page.goto("/signin");
  await page.getByLabel("Email").fill("nobody-at-all@e2e.test");
  await page.getByRole("textbox", { name: "Password" }).fill("whatever-1");
  await page.getByRole("button", { name: "Sign in" }).click();
  await expect(page.getByRole("form", { name: "Sign in" }).getByRole("alert")).toHaveText("Incorrect email or password.");
});

test("signing out ends the session, also for a copy of its cookie", async ({ page, browser }) => {
  await signIn(page, createAnalyst("signout"));
  // What someone who copied the cookie (another device, a stolen laptop's profile) would hold.
  const copied = await page.context().cookies();
  const copy = await browser.newContext();
  await copy.addCookies(copied);
  const copyPage = await copy.newPage();
  await copyPage.goto("/files");
  await expect(copyPage).toHaveURL(/\/files/);

  await page.getByRole("button", { name: "Account menu" }).click();
  await page.getByRole("menuitem", { name: "Sign out" }).click();
  await expect(page).toHaveURL(/\/signin/);
  await page.goto("/files");
  await expect(page).toHaveURL(/\/signin$/);
  // The session ended on the server: the copy no longer signs anyone in.
  await copyPage.goto("/files");
  await expect(copyPage).toHaveURL(/\/signin/);
  expect((await copyPage.request.get("/api/kernels")).status()).toBe(401);
  await copy.close();
});

test("the admin resets a user's password: too short is refused in the form, the user's open session ends, and only the new password signs in", async ({ page, browser }) => {
  const analyst = createAnalyst("reset");
  const userPage = await (await browser.newContext()).newPage();
  await signIn(userPage, analyst);

  await signIn(page, e2eAdmin);
  await page.goto("/admin/users");
  await page.getByRole("button", { name: `Actions for ${analyst.email}` }).click();
  await page.getByRole("menuitem", { name: "Reset password" }).click();
  const dialog = page.getByRole("dialog", { name: `Reset the password of ${analyst.email}` });
  const field = dialog.getByRole("textbox", { name: "New password" });
  await field.fill("short");
  await dialog.getByRole("button", { name: "Reset password" }).click();
  await expect(dialog.getByText("At least 8 characters.", { exact: true })).toBeVisible();
  const newPassword = `reset-${Date.now()}`;
  await field.fill(newPassword);
  await dialog.getByRole("button", { name: "Reset password" }).click();
  await expect(dialog).toBeHidden();
  await expect(page.getByText(`${analyst.email} has a new password, and was signed out everywhere.`)).toBeVisible();

  // The user's open session ended; the old password no longer signs in, the new one does.
  await userPage.goto("/files");
  await expect(userPage).toHaveURL(/\/signin/);
  await userPage.getByLabel("Email").fill(analyst.email);
  await userPage.getByRole("textbox", { name: "Password" }).fill(analyst.password);
  await userPage.getByRole("button", { name: "Sign in" }).click();
  await expect(userPage.getByRole("form", { name: "Sign in" }).getByRole("alert")).toHaveText("Incorrect email or password.");
  await signIn(userPage, { email: analyst.email, password: newPassword });
  await userPage.context().close();
});
