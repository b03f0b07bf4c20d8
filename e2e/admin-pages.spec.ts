// The admin, team and usage pages as a person meets them (regressions from a QA session): role changes
// are confirmed (and giving up one's own admin role says what happens, then leads somewhere still open);
// refused input reads as sentences naming the field, in the form and from the procedures; dates share one
// format; every usage chart has Export CSV; the team chart names members and its "Left" legend is legible.
import fs from "node:fs";
import { expect, test, type Locator, type Page } from "@playwright/test";
import { e2eAdmin } from "../playwright.config";
import { parseCsv } from "../server/usage/report";
import { atriumCli, createAnalyst, signIn } from "./support/session";

const uniq = () => Date.now().toString(36) + Math.floor(Math.random() * 1e4).toString(36);

async function openActions(page: Page, email: string) {
  await page.getByRole("table", { name: "Users" }).getByRole("row").filter({ hasText: email }).getByRole("button", { name: `Actions for ${email}` }).click();
}

const roleCell = (page: Page, email: string) => page.getByRole("table", { name: "Users" }).getByRole("row").filter({ hasText: email }).getByRole("cell").nth(3);

test("role changes are confirmed; giving up one's own admin role warns, then leads to Files", async ({ page }) => {
  const carl = createAnalyst("carl");
  await signIn(page, e2eAdmin);
  await page.goto("/admin/users");

  // Cancelled: nothing changes.
  await openActions(page, carl.email);
  await page.getByRole("menuitem", { name: "Make admin" }).click();
  const dialog = page.getByRole("dialog", { name: "Make this user an admin?" });
  await expect(dialog).toContainText(`${carl.email} will be able to manage every user`);
  // The keyboard starts on Cancel: Enter on a question that gives power away does nothing.
  await expect(dialog.getByRole("button", { name: "Cancel" })).toBeFocused();
  await dialog.getByRole("button", { name: "Cancel" }).click();
  await expect(dialog).toBeHidden();
  await expect(roleCell(page, carl.email)).toHaveText("analyst");

  // Confirmed: done, said, and the table shows it.
  await openActions(page, carl.email);
  await page.getByRole("menuitem", { name: "Make admin" }).click();
  await dialog.getByRole("button", { name: "Make admin" }).click();
  await expect(page.getByText(`${carl.email} is an admin now.`)).toBeVisible();
  await expect(roleCell(page, carl.email)).toHaveText("admin");
  await page.context().clearCookies();

  // Carl, now an admin, gives the role up on his own row.
  await signIn(page, carl);
  await page.goto("/admin/users");
  await openActions(page, carl.email);
  await page.getByRole("menuitem", { name: "Make analyst" }).click();
  const self = page.getByRole("dialog", { name: "Give up your admin role?" });
  await expect(self).toContainText("You will lose admin access at once");
  await page.screenshot({ path: test.info().outputPath("self-demotion-confirm.png") });
  await self.getByRole("button", { name: "Make analyst" }).click();
  await expect(page).toHaveURL(/\/files$/);
  await expect(page.getByText("You no longer have access to the admin pages.")).toBeVisible();
  await expect(page.getByText("Only admins can do this.")).toHaveCount(0);
  await expect(page.getByRole("navigation", { name: "Main" }).getByRole("link", { name: "Admin" })).toHaveCount(0);
  await expect(page.getByRole("button", { name: "Account menu" })).toContainText("Analyst");
});

test("refused input reads as a sentence naming the field, in the form and from the procedures", async ({ page }) => {
  await signIn(page, e2eAdmin);

  // The procedures themselves (every one goes through the same formatter).
  const post = async (path: string, json: unknown) => (await (await page.request.post(`/api/trpc/${path}`, { data: { json } })).json()).error.json.message as string;
  expect(await post("admin.teams.add", { name: "t".repeat(70) })).toBe("Name: at most 63 characters.");
  expect(await post("admin.teams.add", { name: "     " })).toBe("Name: required.");
  expect(await post("admin.users.add", { email: `long-${uniq()}@e2e.test`, name: "n".repeat(150), password: "password-12" })).toBe("Name: at most 120 characters.");

  // The forms: a name too long is said to be (never cut short), and a name of spaces is refused where it was typed.
  await page.goto("/admin/teams");
  await page.getByRole("button", { name: "Add team" }).click();
  const teamForm = page.getByRole("dialog", { name: "Add team" });
  await teamForm.getByLabel("Team name").fill("t".repeat(70));
  await teamForm.getByRole("button", { name: "Add team" }).click();
  await expect(teamForm.getByText("At most 63 characters.")).toBeVisible();
  await expect(teamForm.getByLabel("Team name")).toHaveValue("t".repeat(70));
  await teamForm.getByLabel("Team name").fill("     ");
  await teamForm.getByRole("button", { name: "Add team" }).click();
  await expect(teamForm.getByText("Enter a name for the team.")).toBeVisible();
  await expect(teamForm.getByText(/too_small|"code"/)).toHaveCount(0);
  await teamForm.getByRole("button", { name: "Cancel" }).click();

  await page.goto("/admin/users");
  await page.getByRole("button", { name: "Add user" }).click();
  const userForm = page.getByRole("dialog", { name: "Add user" });
  await userForm.getByLabel("Email").fill(`long-${uniq()}@e2e.test`);
  await userForm.getByLabel("Name").fill("n".repeat(150));
  await userForm.getByLabel("Initial password").fill("password-12");
  await userForm.getByRole("button", { name: "Add user" }).click();
  await expect(userForm.getByText("At most 120 characters.")).toBeVisible();
  await expect(userForm.getByLabel("Name")).toHaveValue("n".repeat(150));
});

test("the users' last sign-in uses the portal's one date format", async ({ page }) => {
  await signIn(page, e2eAdmin);
  await page.goto("/admin/users");
  const lastSignIn = page.getByRole("table", { name: "Users" }).getByRole("row").filter({ hasText: e2eAdmin.email }).getByRole("cell").nth(7);
  // Formatted as every other date (dateTime: "Dec 1, 06:12 AM"), not the browser's "12/1/2026, 6:12:01 AM".
  await expect(lastSignIn).toHaveText(/\d{2}:\d{2}/);
  await expect(lastSignIn).not.toHaveText(/\d+\/\d+\/\d{4}|\d:\d{2}:\d{2}/);
});

/** The WCAG contrast of two CSS colours as the browser computes them. */
async function contrastOf(page: Page, target: Locator, property: "fill" | "color"): Promise<number> {
  const color = await target.evaluate((el, prop) => getComputedStyle(el)[prop as "fill"], property);
  const background = await page.evaluate(() => getComputedStyle(document.body).backgroundColor);
  return page.evaluate(
    ([a, b]: [string, string]) => {
      const rgb = (c: string) => {
        const canvas = document.createElement("canvas").getContext("2d")!;
        canvas.fillStyle = c;
        canvas.fillRect(0, 0, 1, 1);
        return [...canvas.getImageData(0, 0, 1, 1).data.slice(0, 3)];
      };
      const lum = (c: number[]) => {
        const [r, g, bl] = c.map((v) => {
          const s = v / 255;
          return s <= 0.03928 ? s / 12.92 : ((s + 0.055) / 1.055) ** 2.4;
        });
        return 0.2126 * r! + 0.7152 * g! + 0.0722 * bl!;
      };
      const [l1, l2] = [lum(rgb(a)), lum(rgb(b))].sort((x, y) => y - x);
      return (l1! + 0.05) / (l2! + 0.05);
    },
    [color, background] as [string, string],
  );
}

test("the team page names members in its chart, its Left legend is legible in both themes, and it exports CSV", async ({ page }) => {
  const team = `qa-${uniq()}`;
  const lead = createAnalyst("qalead");
  const member = createAnalyst("qamember");
  atriumCli(["teams", "add", team]);
  atriumCli(["teams", "add-member", team, lead.email, "--lead"]);
  atriumCli(["teams", "add-member", team, member.email]);
  atriumCli(["quota", "set", "--team", team, "--monthly-vcore-hours", "300"]);

  await signIn(page, lead);
  await page.getByRole("navigation", { name: "Main" }).getByRole("link", { name: "Team" }).click();
  await expect(page.getByRole("heading", { name: `Team ${team}` })).toBeVisible();
  const chart = page.getByRole("figure", { name: "Members' vCore-hours this month against their budgets" });
  // Both are "Ana Lyst": the name first, the email beside it to tell them apart; never the email alone.
  // (Each bar carries its member's whole label; the axis shortens long ones.)
  await expect(chart.locator("path.recharts-rectangle[name]").first()).toBeVisible();
  const labels = [...new Set(await chart.locator("path.recharts-rectangle[name]").evaluateAll((bars) => bars.map((b) => b.getAttribute("name"))))].sort();
  expect(labels).toEqual([`Ana Lyst (${lead.email})`, `Ana Lyst (${member.email})`].sort());

  for (const scheme of ["light", "dark"] as const) {
    await page.emulateMedia({ colorScheme: scheme });
    const left = chart.locator(".recharts-legend-item").filter({ hasText: "Left" });
    await expect(left).toBeVisible();
    const icon = contrastOf(page, left.locator("path.recharts-symbols"), "fill");
    expect(await icon, `the Left swatch against the ${scheme} background`).toBeGreaterThanOrEqual(3);
    expect(await contrastOf(page, left.getByText("Left", { exact: true }), "color"), `the Left label on ${scheme}`).toBeGreaterThanOrEqual(4.5);
    await page.screenshot({ path: test.info().outputPath(`team-chart-${scheme}.png`), fullPage: true });
  }
  await page.emulateMedia({ colorScheme: "light" });

  const downloading = page.waitForEvent("download");
  await page.getByRole("button", { name: "Export CSV" }).click();
  const download = await downloading;
  expect(download.suggestedFilename()).toMatch(new RegExp(`^atrium-team-${team}-\\d{4}-\\d{2}-\\d{2}\\.csv$`));
  const rows = parseCsv(fs.readFileSync((await download.path())!, "utf8"));
  expect(rows.map((r) => r.email).sort()).toEqual([lead.email, member.email].sort());
  expect(rows.find((r) => r.email === lead.email)?.role).toBe("lead");
  expect(rows.every((r) => r.monthly_vcore_hours !== "")).toBe(true);
});

test("an analyst exports their own usage as CSV", async ({ page }) => {
  const analyst = createAnalyst("qausage");
  await signIn(page, analyst);
  await page.getByRole("navigation", { name: "Main" }).getByRole("link", { name: "Usage" }).click();
  await expect(page.getByRole("heading", { name: "Your usage" })).toBeVisible();
  const downloading = page.waitForEvent("download");
  await page.getByRole("button", { name: "Export CSV" }).click();
  const download = await downloading;
  expect(download.suggestedFilename()).toMatch(/^atrium-my-usage-\d{4}-\d{2}\.csv$/);
  const text = fs.readFileSync((await download.path())!, "utf8");
  // The admin report's columns (the same writer); no sessions yet this month.
  expect(text.split("\r\n")[0]).toBe("kernel_id,user,team,kernelspec,engine,engine_id,size,vcores,memory_gb,gpus,started_at,ended_at,end_reason,kernel_hours,vcore_hours,gb_hours,busy_hours,idle_hours,culled,failed_launch,end_detail");
  expect(parseCsv(text)).toEqual([]);
});

test("the audit log shows who did what to whom, filters by kind and words, and pages to older entries", async ({ page }) => {
  const dana = createAnalyst("audited");
  await signIn(page, e2eAdmin);
  await page.goto("/admin/users");
  await openActions(page, dana.email);
  await page.getByRole("menuitem", { name: "Make admin" }).click();
  await page.getByRole("dialog", { name: "Make this user an admin?" }).getByRole("button", { name: "Make admin" }).click();
  await expect(page.getByText(`${dana.email} is an admin now.`)).toBeVisible();

  await page.getByRole("tab", { name: "Audit log" }).click();
  await expect(page).toHaveURL(/\/admin\/audit$/);
  await expect(page.getByRole("heading", { name: "Audit log", level: 1 })).toBeVisible();
  const log = page.getByRole("table", { name: "Audit log" });
  const row = log.getByRole("row").filter({ hasText: "Changed a role" }).filter({ hasText: dana.email });
  await expect(row).toHaveCount(1);
  await expect(row).toContainText(e2eAdmin.email); // who
  await expect(row).toContainText("user.set_role");
  await expect(row).toContainText("admin"); // the new role, in the details
  await page.screenshot({ path: "e2e/.artifacts/admin-audit-log.png", fullPage: true });

  // Words narrow it to the entries naming them: the user's creation (by the CLI) and the role change.
  await page.getByRole("textbox", { name: "Search" }).fill(dana.email);
  await expect(log.getByRole("row")).toHaveCount(3); // the header and two entries
  await expect(log).toContainText("Added a user");
  // A kind that none of them is: nothing matches, and it says so.
  await page.getByRole("combobox", { name: "Kind" }).selectOption("Quotas");
  await expect(page.getByText("No entry matches.")).toBeVisible();

  // More than a page of entries: the older ones load below, each once.
  const batch = uniq();
  for (let i = 0; i < 101; i++) {
    const added = await page.request.post("/api/trpc/admin.users.add", { data: { json: { email: `bulk-${batch}-${i}@e2e.test`, password: "bulk-pass-1", role: "analyst" } } });
    expect(added.ok()).toBe(true);
  }
  await page.reload();
  await page.getByRole("combobox", { name: "Kind" }).selectOption("Users");
  await expect(log.getByRole("row")).toHaveCount(101);
  await page.getByRole("button", { name: "Load older entries" }).click();
  await expect.poll(() => log.getByRole("row").count()).toBeGreaterThan(101);
  const times = await log.getByRole("row").evaluateAll((rows) => rows.slice(1).map((r) => r.querySelector("td")?.getAttribute("title") ?? ""));
  expect([...times].sort().reverse()).toEqual(times);
});
