// Quotas, culling and usage as people meet them: a team lead shares out the team's envelope (and can't go
// past it, or reach another team); an admin reads usage reports, filters them, exports the CSV and finds the
// page's totals in it, and stops a live kernel; an analyst at their kernel limit is told what to do, and sees
// the launch phase while a kernel starts.
import fs from "node:fs";
import { expect, test, type Page } from "@playwright/test";
import { e2eAdmin } from "../playwright.config";
import { hours } from "../app/_components/usage/format";
import { parseCsv } from "../server/usage/report";
import { atriumCli, createAnalyst, signIn } from "./support/session";

// Kernels a test started are shut down (as whoever is signed in at the end; admins see all).
test.afterEach(async ({ page }) => {
  const listed = await page.request.get("/api/kernels");
  if (!listed.ok()) return;
  for (const kernel of (await listed.json()) as { id: string }[]) await page.request.delete(`/api/kernels/${kernel.id}`);
});

const kernelStatus = (page: Page) => page.getByRole("status", { name: "Kernel status" });
const uniq = () => Date.now().toString(36) + Math.floor(Math.random() * 1e4).toString(36);

async function signOut(page: Page) {
  await page.context().clearCookies();
}

async function teamIds(page: Page): Promise<Record<string, string>> {
  const answer = await page.request.get("/api/trpc/admin.teams.list");
  expect(answer.ok()).toBe(true);
  const teams = (await answer.json()).result.data.json as { id: string; name: string }[];
  return Object.fromEntries(teams.map((t) => [t.name, t.id]));
}

async function openNewNotebook(page: Page, name: string) {
  await page.goto(`/notebook/${name}`);
  await page.getByRole("button", { name: "Create notebook" }).click();
}

test("a team lead sets a member's quota inside the envelope, is refused above it, and can't reach another team", async ({ page, browser }) => {
  test.setTimeout(120_000);
  const team = `data-${uniq()}`;
  const other = `other-${uniq()}`;
  const lead = createAnalyst("lead");
  const member = createAnalyst("member");
  const outsider = createAnalyst("outsider");
  atriumCli(["teams", "add", team]);
  atriumCli(["teams", "add", other]);
  atriumCli(["teams", "add-member", team, lead.email, "--lead"]);
  atriumCli(["teams", "add-member", team, member.email]);
  atriumCli(["teams", "add-member", other, outsider.email]);
  atriumCli(["quota", "set", "--team", team, "--max-kernels", "4", "--max-vcores", "16", "--max-memory-gb", "64", "--monthly-vcore-hours", "500"]);

  await signIn(page, e2eAdmin);
  const ids = await teamIds(page);
  await signOut(page);

  await signIn(page, lead);
  await page.getByRole("navigation", { name: "Main" }).getByRole("link", { name: "Team" }).click();
  await expect(page).toHaveURL(new RegExp(`/team/${ids[team]}$`));
  await expect(page.getByRole("heading", { name: `Team ${team}` })).toBeVisible();
  const members = page.getByRole("table", { name: `Members of ${team}` });
  await expect(members.getByRole("row", { name: new RegExp(member.email) })).toBeVisible();
  await expect(page.getByRole("figure", { name: "Members' vCore-hours this month against their budgets" })).toBeVisible();
  await page.screenshot({ path: test.info().outputPath("team-page.png"), fullPage: true });

  // Inside the envelope: saved, and the table shows the new limit. The form says what is left.
  await page.getByRole("button", { name: `Edit quota of ${member.email}` }).click();
  const form = page.getByRole("dialog", { name: `Quota of ${member.email}` });
  await expect(form.getByText("Team envelope: 4 kernels — the team uses 0 now, 4 kernels left.")).toBeVisible();
  await form.getByLabel("Concurrent kernels").fill("2");
  await form.getByLabel("vCores").fill("6");
  await form.getByRole("button", { name: "Save quota" }).click();
  await expect(form).toBeHidden();
  const row = members.getByRole("row", { name: new RegExp(member.email) });
  await expect(row.getByRole("cell").nth(2)).toContainText("0 / 2");
  await expect(row.getByRole("cell").nth(3)).toContainText("0 / 6");

  // Above the envelope: refused with the server's words, in the form.
  await page.getByRole("button", { name: `Edit quota of ${member.email}` }).click();
  await form.getByLabel("Concurrent kernels").fill("9");
  await form.getByRole("button", { name: "Save quota" }).click();
  const refusal = form.getByRole("alert");
  await expect(refusal).toContainText("Quota not saved");
  await expect(refusal).toContainText(`concurrent kernels 9 is above team ${team}'s envelope of 4`);
  await expect(refusal).toContainText("Ask an admin to raise the envelope first.");
  await page.screenshot({ path: test.info().outputPath("refused-above-envelope.png") });
  await form.getByRole("button", { name: "Cancel" }).click();
  await expect(row.getByRole("cell").nth(2)).toContainText("0 / 2");

  // The culling policy: outside the admin's bounds is refused with the bounds named.
  const policy = page.getByRole("form", { name: "Culling policy" });
  await policy.getByLabel("Idle timeout (minutes)").fill("2");
  await policy.getByRole("button", { name: "Save culling policy" }).click();
  await expect(policy.getByRole("alert")).toContainText("the idle timeout must be between 5 and");
  await policy.getByLabel("Idle timeout (minutes)").fill("30");
  await policy.getByRole("button", { name: "Save culling policy" }).click();
  await expect(policy.getByRole("alert")).toBeHidden();
  await expect(page.getByText("Culling policy saved.")).toBeVisible();
  // What the lead left empty stays the admin's default (shown as the placeholder), not frozen at today's value.
  await page.reload();
  await expect(policy.getByLabel("Idle timeout (minutes)")).toHaveValue("30");
  await expect(policy.getByLabel("Warn before culling (minutes)")).toHaveValue("");
  await expect(policy.getByLabel("Warn before culling (minutes)")).toHaveAttribute("placeholder", /^default: \d+$/);
  // Where the admin sets no maximum lifetime, the team may choose none explicitly (an admin's default would apply
  // to an empty field); it is kept as chosen.
  const unlimited = policy.getByRole("checkbox", { name: "No lifetime limit" });
  await expect(unlimited).not.toBeChecked();
  await unlimited.check();
  await expect(policy.getByLabel("Maximum lifetime (hours)")).toBeDisabled();
  await policy.getByRole("button", { name: "Save culling policy" }).click();
  await expect(page.getByText("Culling policy saved.").last()).toBeVisible();
  await page.reload();
  await expect(unlimited).toBeChecked();
  await expect(policy.getByLabel("Maximum lifetime (hours)")).toBeDisabled();
  await expect(policy.getByLabel("Idle timeout (minutes)")).toHaveValue("30");

  // Another team: the page is not found, and so is its data through the procedure.
  await page.goto(`/team/${ids[other]}`);
  await expect(page.getByRole("heading", { name: "Page not found" })).toBeVisible();
  const input = encodeURIComponent(JSON.stringify({ json: { teamId: ids[other] } }));
  const tampered = await page.request.get(`/api/trpc/quotas.team?input=${input}`);
  expect(tampered.status()).toBe(404);
  const setOther = await page.request.post("/api/trpc/quotas.setMember", {
    data: { json: { teamId: ids[other], userId: ids[other], limits: { maxKernels: 1, maxVcores: null, maxMemoryMb: null, maxGpus: null, monthlyVcoreHours: null } } },
  });
  expect(setOther.status()).toBe(404);
  // Admin pages stay closed to a lead.
  await page.goto("/admin/usage");
  await expect(page.getByRole("heading", { name: "You don’t have access to this page" })).toBeVisible();

  // The team's 2 kernels shared: the lead runs one, so the member's own 2 leave them 1. Their Usage page says what
  // they can still start, and why.
  atriumCli(["quota", "set", "--team", team, "--max-kernels", "2", "--max-vcores", "16", "--max-memory-gb", "64", "--monthly-vcore-hours", "500"]);
  const leads = await page.request.post("/api/kernels", { data: { name: "python3" } });
  expect(leads.status()).toBe(201);
  const memberPage = await (await browser.newContext()).newPage();
  await signIn(memberPage, member);
  await memberPage.getByRole("navigation", { name: "Main" }).getByRole("link", { name: "Usage" }).click();
  const kernelsMeter = memberPage.getByRole("list", { name: "Quota" }).getByRole("listitem", { name: "Concurrent kernels" });
  await expect(kernelsMeter).toContainText("1 kernel left");
  await expect(kernelsMeter).toContainText("0 of 2 kernels (your limit)");
  await expect(kernelsMeter).toContainText(`Team ${team} has 1 kernel left in its shared limit, for all its members together.`);
  await memberPage.context().close();
  expect((await page.request.delete(`/api/kernels/${((await leads.json()) as { id: string }).id}`)).status()).toBe(204);
});

test("an admin filters usage reports, sees totals and charts, exports the CSV with the same totals, and stops a live kernel", async ({ page }) => {
  test.setTimeout(180_000);
  const analyst = createAnalyst("usage");
  await signIn(page, analyst);
  // Two sessions: one stopped by its owner, one left running for the admin to stop.
  const first = await page.request.post("/api/kernels", { data: { name: "python3" } });
  expect(first.status()).toBe(201);
  const firstId = ((await first.json()) as { id: string }).id;
  await page.waitForTimeout(1500);
  expect((await page.request.delete(`/api/kernels/${firstId}`)).status()).toBe(204);
  const second = await page.request.post("/api/kernels", { data: { name: "python3" } });
  expect(second.status()).toBe(201);
  const secondId = ((await second.json()) as { id: string }).id;
  await signOut(page);

  await signIn(page, e2eAdmin);
  await page.getByRole("navigation", { name: "Main" }).getByRole("link", { name: "Admin" }).click();
  await page.getByRole("tab", { name: "Kernels" }).click();
  await expect(page).toHaveURL(/\/admin\/kernels$/);
  const live = page.getByRole("table", { name: "Live kernels" });
  const stop = live.getByRole("button", { name: `Stop kernel ${secondId.slice(0, 8)} of ${analyst.email}` });
  await expect(stop).toBeVisible();
  await page.screenshot({ path: test.info().outputPath("admin-live-kernels.png") });
  await stop.click();
  const confirm = page.getByRole("dialog", { name: "Stop this kernel?" });
  await expect(confirm).toContainText(analyst.email);
  await confirm.getByRole("button", { name: "Stop kernel" }).click();
  await expect(stop).toBeHidden();

  await page.getByRole("tab", { name: "Usage" }).click();
  await expect(page).toHaveURL(/\/admin\/usage$/);
  await expect(page.getByRole("heading", { name: "Usage reports" })).toBeVisible();
  const totals = page.getByRole("list", { name: "Totals" });
  await expect(totals).toBeVisible();

  // Filter to the analyst and the local engine: their two sessions.
  await page.getByRole("combobox", { name: "User", exact: true }).fill(analyst.email);
  await page.getByRole("option", { name: analyst.email }).click();
  await page.getByRole("combobox", { name: "Engine", exact: true }).click();
  await page.getByRole("option", { name: "Local" }).click();
  const stat = (label: string) => totals.getByRole("listitem", { name: label }).getByTestId(`stat-${label}`);
  await expect(stat("Sessions")).toHaveText("2");
  await expect(page.getByRole("table", { name: "Sessions" }).getByRole("row")).toHaveCount(3);
  await page.screenshot({ path: test.info().outputPath("admin-usage-report.png"), fullPage: true });
  await expect(page.getByRole("table", { name: "Top consumers" })).toContainText(analyst.email);
  const daily = page.getByRole("figure", { name: "vCore-hours and kernel-hours per day" });
  await expect(daily.locator("path.recharts-rectangle").first()).toBeVisible();
  await expect(page.getByRole("figure", { name: "Top consumers by vCore-hours" }).locator("path.recharts-rectangle")).toHaveCount(1);

  // What the page shows (rounded) and the number behind it.
  const shown: Record<string, { text: string; exact: number }> = {};
  for (const label of ["Kernel-hours", "vCore-hours", "GB-hours", "Idle hours"]) {
    shown[label] = { text: (await stat(label).textContent()) ?? "", exact: Number(await stat(label).getAttribute("data-value")) };
    expect(shown[label]!.text).toBe(hours(shown[label]!.exact));
  }
  expect(shown["Kernel-hours"]!.exact).toBeGreaterThan(0);

  const downloading = page.waitForEvent("download");
  await page.getByRole("button", { name: "Export CSV" }).click();
  const download = await downloading;
  // Named by what it holds: the dates, the user (by name) and the engine.
  const localPart = analyst.email.split("@")[0]!.replace(/[^A-Za-z0-9._-]+/g, "_").replace(/\./g, "\\.");
  expect(download.suggestedFilename()).toMatch(new RegExp(`^atrium-usage-\\d{4}-\\d{2}-\\d{2}-\\d{4}-\\d{2}-\\d{2}-user-${localPart}-local\\.csv$`));
  const rows = parseCsv(fs.readFileSync((await download.path())!, "utf8"));
  expect(rows.map((r) => r.kernel_id).sort()).toEqual([firstId, secondId].sort());
  expect(rows.every((r) => r.user === analyst.email && r.engine === "local")).toBe(true);
  // The CSV's columns add up to the page's totals (the CSV has six decimals per row).
  const sum = (column: string) => rows.reduce((total, r) => total + Number(r[column]), 0);
  for (const [label, column] of [["Kernel-hours", "kernel_hours"], ["vCore-hours", "vcore_hours"], ["GB-hours", "gb_hours"], ["Idle hours", "idle_hours"]] as const) {
    expect(Math.abs(sum(column) - shown[label]!.exact), `${label}: CSV ${sum(column)} vs page ${shown[label]!.exact}`).toBeLessThanOrEqual(rows.length * 5e-7 + 1e-12);
  }
  expect(rows.find((r) => r.kernel_id === secondId)?.end_reason).toBe("stopped");
  // Who stopped it, beside why: the owner, or an admin (named).
  expect(rows.find((r) => r.kernel_id === secondId)?.end_detail).toMatch(/^stopped by admin \S+@\S+$/);
  expect(rows.find((r) => r.kernel_id === firstId)?.end_detail).toMatch(/^stopped by /);

  // Another engine: nothing of theirs.
  await page.getByRole("combobox", { name: "Engine", exact: true }).click();
  await page.getByRole("option", { name: "YARN" }).click();
  await expect(stat("Sessions")).toHaveText("0");
  await page.getByRole("combobox", { name: "Engine", exact: true }).click();
  await page.getByRole("option", { name: "Local" }).click();
  await expect(stat("Sessions")).toHaveText("2");

  // A refused range shows no numbers: the last report's would read as this one's.
  const from = page.getByLabel("From", { exact: true });
  const fromBefore = await from.inputValue();
  await from.fill("2099-01-01");
  await expect(page.getByRole("alert").filter({ hasText: "The start date must be on or before the end date." })).toBeVisible();
  await expect(totals).toBeHidden();
  await from.fill(fromBefore);
  await expect(stat("Sessions")).toHaveText("2");
});

test("an analyst at their kernel limit is told what to do; the launch phase shows while a kernel starts", async ({ page }) => {
  test.setTimeout(180_000);
  const analyst = createAnalyst("limited");
  atriumCli(["quota", "set", "--user", analyst.email, "--max-kernels", "1"]);
  // Every text the kernel status shows, however briefly.
  await page.addInitScript(() => {
    const seen: string[] = [];
    const states: string[] = [];
    (window as unknown as { __kernelStatusTexts: string[] }).__kernelStatusTexts = seen;
    (window as unknown as { __kernelStates: string[] }).__kernelStates = states;
    new MutationObserver(() => {
      // The state, then what a launch is doing (the status's description, beside it).
      const el = document.querySelector('[role="status"][aria-label="Kernel status"]');
      const detail = el?.getAttribute("aria-describedby");
      const text = (el?.textContent ?? "") + ((detail && document.getElementById(detail)?.textContent) || "");
      if (text && seen[seen.length - 1] !== text) seen.push(text);
      if (el?.textContent && states[states.length - 1] !== el.textContent) states.push(el.textContent);
    }).observe(document, { subtree: true, childList: true, characterData: true });
  });
  await signIn(page, analyst);

  await openNewNotebook(page, "First.ipynb");
  await expect(page.getByRole("combobox", { name: "Size" })).toBeVisible();
  await expect(page.getByRole("combobox", { name: "Size" })).toHaveValue("medium");
  await expect(kernelStatus(page)).toHaveText("idle", { timeout: 90_000 });
  const texts = await page.evaluate(() => (window as unknown as { __kernelStatusTexts: string[] }).__kernelStatusTexts);
  // While it starts, the status names the phase and the elapsed time. (A local kernel starts faster than the
  // page polls, so the server's own phases are often skipped here; the YARN end-to-end test, whose launches
  // take seconds, checks that "submitting to YARN" and "accepted by YARN" reach the page.)
  expect(texts.some((t) => /^starting · [a-z][^·]* · \d+ s$/.test(t)), texts.join(" | ")).toBe(true);
  // The status element's own text is only ever the state (UI.md); the phase is its description, beside it.
  const states = await page.evaluate(() => (window as unknown as { __kernelStates: string[] }).__kernelStates);
  expect(states.every((s) => /^(starting|idle|busy|restarting|dead|disconnected|reconnecting|unknown)$/.test(s)), states.join(" | ")).toBe(true);
  expect(states).toContain("starting");
  await expect(page.getByTestId("quota-footer")).toContainText("medium (2 vCores, 8 GB) · 0 of 1 kernels left");

  // A second notebook needs a second kernel: refused, with the limit and the next step, where they acted.
  await openNewNotebook(page, "Second.ipynb");
  const refusal = page.getByRole("alert").filter({ hasText: "Kernel not started" });
  // In no team: only an admin can raise it.
  await expect(refusal).toContainText("Your limit of 1 kernel is reached — stop one in Usage, or ask an admin.");
  await expect(refusal).toContainText("To free room, stop kernel");
  await expect(kernelStatus(page)).toHaveText("no kernel");
  await page.screenshot({ path: test.info().outputPath("kernel-limit-refusal.png") });

  // The next step works: stop the other kernel in Usage, come back, and the notebook's kernel starts.
  await refusal.getByRole("link", { name: "Open Usage" }).click();
  await expect(page.getByRole("heading", { name: "Your usage" })).toBeVisible();
  await expect(page.getByRole("list", { name: "Quota" }).getByRole("listitem", { name: "Concurrent kernels" })).toContainText("0 kernels left");
  await expect(page.getByRole("figure", { name: "Your vCore-hours per day" })).toBeVisible();
  await page.screenshot({ path: test.info().outputPath("analyst-usage.png"), fullPage: true });
  const running = page.getByRole("table", { name: "Your running kernels" });
  await expect(running.getByRole("row")).toHaveCount(2);
  // The kernel is named by the notebook it runs for, as the refusal named it: a link that opens it.
  await expect(running.getByRole("columnheader", { name: "Notebook", exact: true })).toBeVisible();
  await expect(running.getByRole("link", { name: "First.ipynb" })).toHaveAttribute("href", "/notebook/First.ipynb");
  await running.getByRole("button", { name: /^Stop kernel / }).click();
  await page.getByRole("dialog", { name: "Stop this kernel?" }).getByRole("button", { name: "Stop kernel" }).click();
  await expect(page.getByText("No kernels running.")).toBeVisible();
  await page.goBack();
  await expect(page).toHaveURL(/Second\.ipynb$/);
  await expect(kernelStatus(page)).toHaveText("idle", { timeout: 90_000 });
  await expect(page.getByRole("alert").filter({ hasText: "Kernel not started" })).toBeHidden();
});

test("an admin sets a team's envelope and the culling bounds", async ({ page }) => {
  const team = `env-${uniq()}`;
  atriumCli(["teams", "add", team]);
  await signIn(page, e2eAdmin);
  await page.goto("/admin/quotas");
  const envelopes = page.getByRole("table", { name: "Team envelopes" });
  await envelopes.getByRole("button", { name: `Edit envelope of ${team}` }).click();
  const form = page.getByRole("dialog", { name: `Envelope of team ${team}` });
  // Regression (QA): "-2" became 2 and was saved. Wrong values are refused beside the field; nothing is saved.
  const kernelsField = form.getByLabel("Concurrent kernels");
  await kernelsField.fill("-2");
  await expect(kernelsField).toHaveValue("-2");
  await expect(kernelsField).toHaveAttribute("aria-invalid", "true");
  await expect(form.getByText("Concurrent kernels must be zero or more, not -2")).toBeVisible();
  await form.getByRole("button", { name: "Save envelope" }).click();
  await expect(form.getByRole("alert")).toContainText("Envelope not saved");
  await kernelsField.fill("2.5");
  await expect(form.getByText("Concurrent kernels must be a whole number, not 2.5")).toBeVisible();
  await form.getByLabel("Memory (GB)").fill("99999999");
  await expect(form.getByText("Memory must be at most 1,048,576 GB")).toBeVisible();
  await page.screenshot({ path: test.info().outputPath("admin-envelope-invalid.png") });
  await form.getByLabel("Memory (GB)").fill("");
  await expect(form).toBeVisible();
  const stored = await page.request.get("/api/trpc/quotas.teams");
  const envelopeNow = ((await stored.json()).result.data.json as { name: string; envelope: unknown }[]).find((t) => t.name === team)?.envelope;
  expect(envelopeNow ?? null, "nothing was saved").toBeNull();
  await kernelsField.fill("5");
  await expect(kernelsField).not.toHaveAttribute("aria-invalid", "true");
  await form.getByLabel("Monthly vCore-hours").fill("300");
  await form.getByRole("button", { name: "Save envelope" }).click();
  await expect(form).toBeHidden();
  const row = envelopes.getByRole("row", { name: new RegExp(team) });
  await expect(row.getByRole("cell").nth(1)).toHaveText("0 / 5");
  await expect(row.getByRole("cell").nth(5)).toHaveText("0 / 300");
  // The bounds refuse a default outside their range, with the server's words.
  const bounds = page.getByRole("form", { name: "Culling bounds" });
  await bounds.getByLabel("Idle timeout: least (minutes)").fill("-5");
  await expect(bounds.getByText("Idle timeout must be at least 1 minute, not -5")).toBeVisible();
  await bounds.getByLabel("Idle timeout: least (minutes)").fill("5");
  await bounds.getByLabel("Idle timeout: default (minutes)").fill("1");
  await bounds.getByRole("button", { name: "Save culling bounds" }).click();
  await expect(bounds.getByRole("alert")).toContainText("min <= default <= max");
  await page.screenshot({ path: test.info().outputPath("admin-quotas.png"), fullPage: true });
});

// Regression (QA): with the team's envelope at 1 kernel and the analyst's own quota at the default 3, the banner
// blamed "your limit". It names the team's envelope; the kernels are listed by their notebooks.
test("a refusal by the team envelope names the team; kernels are listed by notebook for the owner and the admin", async ({ page }) => {
  test.setTimeout(180_000);
  const team = `risk-${uniq()}`;
  const analyst = createAnalyst("enveloped");
  atriumCli(["teams", "add", team]);
  atriumCli(["teams", "add-member", team, analyst.email]);
  atriumCli(["quota", "set", "--team", team, "--max-kernels", "1"]);
  await signIn(page, analyst);
  await openNewNotebook(page, "Envelope First.ipynb");
  await expect(kernelStatus(page)).toHaveText("idle", { timeout: 90_000 });
  await openNewNotebook(page, "Envelope Second.ipynb");
  const refusal = page.getByRole("alert").filter({ hasText: "Kernel not started" });
  await expect(refusal).toContainText(`Your team ${team}'s limit of 1 kernel is reached — stop one in Usage, or ask an admin.`);
  await expect(refusal).toContainText(`team ${team}'s envelope, which caps your limit`);
  await expect(refusal).not.toContainText("(your limit)");
  await expect(refusal).toContainText("Envelope First.ipynb");
  await page.screenshot({ path: test.info().outputPath("envelope-refusal.png") });

  await page.goto("/usage");
  const running = page.getByRole("table", { name: "Your running kernels" });
  await expect(running.getByRole("link", { name: "Envelope First.ipynb" })).toHaveAttribute("href", "/notebook/Envelope%20First.ipynb");
  await signOut(page);

  await signIn(page, e2eAdmin);
  await page.goto("/admin/kernels");
  const live = page.getByRole("table", { name: "Live kernels" });
  await expect(live.getByRole("columnheader", { name: "Notebook", exact: true })).toBeVisible();
  const row = live.getByRole("row").filter({ hasText: analyst.email });
  // An admin sees the path as text: it is in the owner's home, not theirs to open.
  await expect(row).toContainText("Envelope First.ipynb");
  await expect(row.getByRole("link")).toHaveCount(0);
  await page.screenshot({ path: test.info().outputPath("admin-live-kernels-notebook.png") });
});

test("another size is asked for in place of the running kernel: admitted at the kernel limit, and refused over the vCore limit with the kernel kept", async ({ page }) => {
  test.setTimeout(180_000);
  const analyst = createAnalyst("resize");
  atriumCli(["quota", "set", "--user", analyst.email, "--max-kernels", "1", "--max-vcores", "2"]);
  await signIn(page, analyst);
  await openNewNotebook(page, "Resize.ipynb");
  await expect(kernelStatus(page)).toHaveText("idle", { timeout: 90_000 });
  const size = page.getByRole("combobox", { name: "Size" });
  await expect(size).toHaveValue("medium");
  const editor = (n: number) => page.getByRole("region", { name: `Cell ${n}`, exact: true }).getByRole("textbox").first();
  const output = (n: number) => page.getByRole("region", { name: `Output ${n}`, exact: true });
  await editor(1).click();
  await editor(1).fill("x = 41");
  await page.keyboard.press("Shift+Enter");
  await expect(kernelStatus(page)).toHaveText("idle");

  // At the limit of one kernel, a smaller size still starts: it takes the running kernel's place.
  await size.selectOption("small");
  await page.getByRole("dialog", { name: "Start a small kernel?" }).getByRole("button", { name: "Change size" }).click();
  await expect(page.getByTestId("quota-footer")).toContainText("small (1 vCore, 2 GB) · 0 of 1 kernels left", { timeout: 90_000 });
  await expect(kernelStatus(page)).toHaveText("idle", { timeout: 90_000 });
  await editor(2).click();
  await editor(2).fill("y = 7\nprint('x' in globals())");
  await page.keyboard.press("Shift+Enter");
  await expect(output(2)).toContainText("False"); // a new kernel: the old one's variables are gone with it
  const kernels = async () => ((await (await page.request.get("/api/kernels")).json()) as { id: string }[]).length;
  expect(await kernels()).toBe(1);

  // Over the vCore limit: refused, and the kernel the user has keeps running, variables and all.
  await size.selectOption("large");
  await page.getByRole("dialog", { name: "Start a large kernel?" }).getByRole("button", { name: "Change size" }).click();
  await expect(page.getByText(/Your limit of 2 vCores is less than this kernel needs — choose a smaller size, or ask an admin\. The kernel you have keeps running\./)).toBeVisible();
  await expect(size).toHaveValue("small");
  await expect(kernelStatus(page)).toHaveText("idle");
  await editor(3).click();
  await editor(3).fill("print(y * 6)");
  await page.keyboard.press("Shift+Enter");
  await expect(output(3)).toContainText("42");
  expect(await kernels()).toBe(1);
});
