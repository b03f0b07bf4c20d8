// Single sign-on through a real OpenID Connect provider (e2e/support/oidc-provider.mjs, started beside the portal
// by playwright.config.ts): the first sign-in makes the analyst's account, the next one finds it by the provider's
// subject; an account whose email the provider did not verify, or outside the domains that may sign up, is refused
// with the reason; signing out at the provider ends the Atrium session (back-channel logout).
import { expect, test, type Page } from "@playwright/test";
import { e2eOidc } from "../playwright.config";
import { atriumCli } from "./support/session";

/** Through the provider's own login and consent pages (its development pages: any login name, any password). */
async function signInThroughProvider(page: Page, login: string) {
  await page.goto("/signin");
  await page.getByRole("button", { name: `Continue with ${e2eOidc.name}` }).click();
  await expect(page).toHaveURL(new RegExp(`^http://127\\.0\\.0\\.1:${e2eOidc.port}/interaction/`));
  await page.getByPlaceholder("Enter any login").fill(login);
  await page.getByPlaceholder("and password").fill("whatever-the-provider-checks");
  await page.getByRole("button", { name: "Sign-in" }).click();
  // The provider asks once per account whether Atrium may have the email and profile.
  const consent = page.getByRole("button", { name: "Continue" });
  if (await consent.isVisible({ timeout: 5_000 }).catch(() => false)) await consent.click();
}

const userRow = (email: string) => atriumCli(["users", "list"]).split("\n").find((line) => line.startsWith(`${email}\t`));

test("an analyst signs in through the OpenID provider: the first sign-in makes the account, the next one finds it", async ({ page, context }) => {
  const login = `olivia${Date.now().toString(36)}`;
  const email = `${login}@sso.e2e.test`;
  expect(userRow(email)).toBeUndefined();
  await signInThroughProvider(page, login);
  await expect(page).toHaveURL(/\/files$/);
  const row = userRow(email);
  expect(row, "the account was made at the first sign-in").toBeDefined();
  expect(row).toContain("analyst");

  // Signed out of Atrium only, and in again: the provider still knows the person (its own session), so the browser
  // comes straight back; the same account (one user with this email).
  await context.clearCookies({ domain: "localhost" });
  await page.goto("/signin");
  await page.getByRole("button", { name: `Continue with ${e2eOidc.name}` }).click();
  await expect(page).toHaveURL(/\/files$/);
  expect(atriumCli(["users", "list"]).split("\n").filter((line) => line.startsWith(`${email}\t`))).toHaveLength(1);
});

test("signing out at the provider ends the Atrium session: the next page load and the API with its cookie are refused", async ({ page, request, browser }) => {
  const login = `pia${Date.now().toString(36)}`;
  // The same person in another browser: another provider session (its own sid), which stays signed in.
  const elsewhere = await browser.newContext();
  const elsewherePage = await elsewhere.newPage();
  await signInThroughProvider(elsewherePage, login);
  await expect(elsewherePage).toHaveURL(/\/files$/);
  await signInThroughProvider(page, login);
  await expect(page).toHaveURL(/\/files$/);
  // The portal's cookie, as a copy of it would be sent (the browser keeps it: the provider is another host).
  const portalCookies = (await page.context().cookies()).filter((c) => c.domain === "localhost");
  const cookie = portalCookies.map((c) => `${c.name}=${c.value}`).join("; ");
  expect((await request.get("/api/kernels", { headers: { cookie } })).status()).toBe(200);

  // At the provider's own sign-out page, confirmed: it POSTs a logout token to the portal before it answers.
  await page.goto(`http://127.0.0.1:${e2eOidc.port}/session/end`);
  await page.getByRole("button", { name: "Yes, sign me out" }).click();
  await expect(page.getByRole("heading", { name: "Sign-out Success" })).toBeVisible();
  expect((await page.context().cookies()).filter((c) => c.domain === "localhost")).toEqual(portalCookies);

  await page.goto("/files");
  await expect(page).toHaveURL(/\/signin/);
  expect((await request.get("/api/kernels", { headers: { cookie } })).status()).toBe(401);
  // Only the Atrium session made from the provider session that ended: the ID token's sid was recorded at sign-in.
  await elsewherePage.goto("/files");
  await expect(elsewherePage).toHaveURL(/\/files$/);
  await elsewhere.close();
});

test("someone outside the domains that may sign up is told to ask an admin, and gets no account", async ({ page }) => {
  const login = `outsider${Date.now().toString(36)}`;
  await signInThroughProvider(page, login);
  await expect(page).toHaveURL(/\/signin/);
  await expect(page.getByRole("form", { name: "Sign in" }).getByRole("alert")).toContainText("Ask an Atrium admin to add you");
  expect(userRow(`${login}@outside.e2e.test`)).toBeUndefined();
});

test("an account whose email the provider did not verify is refused, and told why", async ({ page }) => {
  const login = `unverified${Date.now().toString(36)}`;
  await signInThroughProvider(page, login);
  await expect(page).toHaveURL(/\/signin/);
  await expect(page.getByRole("form", { name: "Sign in" }).getByRole("alert")).toContainText("did not give a verified email address");
  expect(userRow(`${login}@sso.e2e.test`)).toBeUndefined();
});
