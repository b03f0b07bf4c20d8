// The theme a user chose is kept in this browser, and pages load in it without a React error: the server cannot know
// the stored choice, so what it renders must not depend on it (regression: a page error on every load in dark).
import { expect, test } from "@playwright/test";
import { createAnalyst, signIn } from "./support/session";

test("a chosen dark theme survives a reload, with no page error, and switches back", async ({ page }) => {
  const errors: string[] = [];
  page.on("pageerror", (error) => errors.push(error.message));
  await signIn(page, createAnalyst("theme"));
  await expect(page.getByRole("button", { name: "Switch to dark theme" })).toBeVisible();
  await page.getByRole("button", { name: "Switch to dark theme" }).click();
  await expect(page.locator("html")).toHaveAttribute("data-mantine-color-scheme", "dark");
  for (const path of ["/files", "/usage", "/account"]) {
    await page.goto(path);
    await expect(page.locator("html")).toHaveAttribute("data-mantine-color-scheme", "dark");
    // Only the button for the other theme is shown (and named) in dark.
    await expect(page.getByRole("button", { name: "Switch to light theme" })).toBeVisible();
    await expect(page.getByRole("button", { name: "Switch to dark theme" })).toBeHidden();
  }
  await page.reload();
  // From the keyboard: the pressed button hides itself, and focus moves to the one shown.
  await page.getByRole("button", { name: "Switch to light theme" }).focus();
  await page.keyboard.press("Enter");
  await expect(page.locator("html")).toHaveAttribute("data-mantine-color-scheme", "light");
  await expect(page.getByRole("button", { name: "Switch to dark theme" })).toBeFocused();
  expect(errors, "no React error while pages loaded").toEqual([]);
});
