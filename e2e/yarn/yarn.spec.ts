// Issue 6, "Must show" 1, on the real Hadoop mini cluster: an analyst of team Risk, in the browser, opens a
// notebook with the YARN kernel (the Spark driver of a cluster-mode application), runs Spark; the RM reports the
// application RUNNING as the analyst in the team's queue; the saved notebook is in the analyst's HDFS home,
// readable through WebHDFS as the analyst and not as another user; shutting the kernel down ends the
// application. Runs only with e2e/yarn/playwright.yarn.config.ts (`npm test -- yarn-e2e`).
import { expect, test, type Page } from "@playwright/test";
import { atriumCli, rest, rmApp, rmUrl, serviceUser, webhdfsUrl, webhdfsOpen } from "./support";
import { keep, runCell, shot, signIn } from "../support/browser";

test.skip(!process.env.ATRIUM_YARN_E2E, "needs the mini cluster: run with e2e/yarn/playwright.yarn.config.ts (npm test -- yarn-e2e)");

const output = (page: Page, n: number) => page.getByRole("region", { name: `Output ${n}`, exact: true });
const kernelStatus = (page: Page) => page.getByRole("status", { name: "Kernel status" });
const LAUNCH_MS = 180_000;
const seconds = (ms: number) => `${(ms / 1000).toFixed(1)} s`;

let appId: string | undefined;

// Nothing is left running: every kernel of the page's user is shut down, and the app killed through the RM.
test.afterEach(async ({ page }) => {
  const listed = await page.request.get("/api/kernels").catch(() => undefined);
  if (listed?.ok()) for (const k of (await listed.json()) as { id: string }[]) await page.request.delete(`/api/kernels/${k.id}`).catch(() => {});
  if (appId) {
    const app = await rmApp(appId, serviceUser).catch(() => undefined);
    if (app?.json?.app && ["NEW", "NEW_SAVING", "SUBMITTED", "ACCEPTED", "RUNNING"].includes(app.json.app.state)) {
      await rest(`${rmUrl}/ws/v1/cluster/apps/${appId}/state?user.name=${serviceUser}`, {
        method: "PUT",
        headers: { "content-type": "application/json" },
        body: JSON.stringify({ state: "KILLED" }),
      }).catch(() => {});
    }
  }
});

test("an analyst runs Spark on YARN as herself in her team's queue, and her notebook is hers in HDFS", async ({ page }, info) => {
  test.setTimeout(10 * 60_000);
  const timings: Record<string, string> = {};
  const t0 = Date.now();

  // The team, its queue and the analyst, with the real CLI against this portal.
  const ana = { email: "ana@risk.e2e.test", password: "analyst-password-1" };
  atriumCli(["teams", "add", "Risk"]);
  atriumCli(["teams", "set-queue", "Risk", "risk"]);
  expect(atriumCli(["users", "add", ana.email, "--name", "Ana Lyst", "--username", "ana", "--password-stdin"], ana.password + "\n")).toContain("username ana");
  atriumCli(["teams", "add-member", "Risk", ana.email]);

  // Every text the kernel status shows, however briefly (the launch phases).
  await page.addInitScript(() => {
    const seen: { t: number; text: string }[] = [];
    (window as unknown as { __statusTexts: typeof seen }).__statusTexts = seen;
    new MutationObserver(() => {
      // The state, then what a launch is doing (the status's description, beside it).
      const el = document.querySelector('[role="status"][aria-label="Kernel status"]');
      const detail = el?.getAttribute("aria-describedby");
      const text = (el?.textContent ?? "") + ((detail && document.getElementById(detail)?.textContent) || "");
      if (text && seen[seen.length - 1]?.text !== text) seen.push({ t: Date.now(), text });
    }).observe(document, { subtree: true, childList: true, characterData: true });
  });
  await signIn(page, ana, 30_000);

  // A new notebook (the default local kernel first), then the YARN kernel.
  await page.goto("/notebook/Spark.ipynb");
  await page.getByRole("button", { name: "Create notebook" }).click();
  await expect(kernelStatus(page)).toHaveText("idle", { timeout: 90_000 });
  const picker = page.getByRole("combobox", { name: "Kernel" });
  await expect(picker.locator("option[value=spark_python_yarn_cluster]")).toHaveText("PySpark on YARN (cluster mode)");
  const pickedAt = Date.now();
  await picker.selectOption("spark_python_yarn_cluster");
  await expect(kernelStatus(page)).not.toHaveText("idle", { timeout: 15_000 });
  // The status says the state; what the launch is doing sits beside it (its description), checked in order below.
  await expect(kernelStatus(page)).toHaveText("starting", { timeout: 30_000 });
  await shot(page, info, "1-yarn-kernel-launching");
  await expect(kernelStatus(page)).toHaveText("idle", { timeout: LAUNCH_MS });
  timings.launch = seconds(Date.now() - pickedAt);
  const texts = await page.evaluate(() => (window as unknown as { __statusTexts: { t: number; text: string }[] }).__statusTexts);
  const launchTexts = texts.filter((s) => s.t >= pickedAt).map((s) => `+${seconds(s.t - pickedAt)} ${s.text}`);
  console.log(`[yarn-e2e] kernel status while launching:\n  ${launchTexts.join("\n  ")}`);
  await keep(info, "launch-phases.txt", launchTexts.join("\n") + "\n");
  // The YARN phases, in order: submitting (with the queue and identity), accepted with the RM's diagnostics.
  // "running"/"connected" last less than one RM poll when the driver connects back quickly, so they may not
  // be seen; they are recorded above when they are.
  const phaseText = launchTexts.join("\n");
  expect(phaseText).toMatch(/submitting to YARN \(queue risk, as ana\)[\s\S]*accepted by YARN[\s\S]*idle$/);

  // Spark runs in the kernel (the driver of the YARN application).
  let started = Date.now();
  await runCell(page, 1, "spark.range(10**6).count()");
  await expect(output(page, 1)).toContainText("1000000", { timeout: 180_000 });
  timings.firstSparkJob = seconds(Date.now() - started);
  await runCell(page, 2, "spark.sparkContext.applicationId");
  await expect(output(page, 2)).toContainText(/'application_\d+_\d+'/, { timeout: 30_000 });
  appId = /(application_\d+_\d+)/.exec((await output(page, 2).textContent()) ?? "")![1];
  await shot(page, info, "2-spark-ran");

  // The RM: that application, RUNNING, as ana, in the team's queue.
  const app = await rmApp(appId!, "ana");
  expect(app.status, app.text).toBe(200);
  console.log(`[yarn-e2e] RM: ${appId} state=${app.json.app.state} user=${app.json.app.user} queue=${app.json.app.queue} tags=${app.json.app.applicationTags}`);
  expect({ state: app.json.app.state, user: app.json.app.user }).toEqual({ state: "RUNNING", user: "ana" });
  expect(app.json.app.queue).toContain("risk");

  // Saved to HDFS: ana's home, /user/ana.
  started = Date.now();
  await page.keyboard.press("Control+s");
  await expect(page.getByTestId("save-state")).toHaveText(/^Saved \d/, { timeout: 30_000 });
  timings.save = seconds(Date.now() - started);
  await shot(page, info, "3-saved");
  const asAna = await webhdfsOpen("/user/ana/Spark.ipynb", "ana");
  expect(asAna.status, asAna.text.slice(0, 500)).toBe(200);
  const sources = (asAna.json.cells as { source: string | string[] }[]).map((c) => (Array.isArray(c.source) ? c.source.join("") : c.source));
  expect(sources).toEqual(expect.arrayContaining(["spark.range(10**6).count()", "spark.sparkContext.applicationId"]));
  expect(asAna.json.metadata.kernelspec.name).toBe("spark_python_yarn_cluster");
  const status = await rest(`${webhdfsUrl}/user/ana/Spark.ipynb?op=GETFILESTATUS&user.name=${serviceUser}`);
  expect([status.json?.FileStatus?.owner, (await rest(`${webhdfsUrl}/user/ana?op=GETFILESTATUS&user.name=${serviceUser}`)).json?.FileStatus?.permission]).toEqual(["ana", "700"]);
  const asBob = await webhdfsOpen("/user/ana/Spark.ipynb", "bob");
  console.log(`[yarn-e2e] WebHDFS OPEN as bob: ${asBob.status} ${asBob.text.slice(0, 200)}`);
  expect(asBob.status).toBe(403);
  expect(asBob.text).toContain("AccessControlException");

  // Shutting the kernel down ends the application.
  const kernels = (await (await page.request.get("/api/kernels")).json()) as { id: string; name: string }[];
  const yarnKernel = kernels.find((k) => k.name === "spark_python_yarn_cluster");
  expect(yarnKernel, JSON.stringify(kernels)).toBeTruthy();
  await page.goto("/files"); // leave the notebook, so the page does not start a new kernel
  started = Date.now();
  expect((await page.request.delete(`/api/kernels/${yarnKernel!.id}`)).ok()).toBe(true);
  let finalState = "";
  await expect
    .poll(async () => (finalState = (await rmApp(appId!, "ana")).json?.app?.state ?? "?"), { timeout: 60_000, intervals: [500] })
    .not.toMatch(/^(NEW|NEW_SAVING|SUBMITTED|ACCEPTED|RUNNING)$/);
  timings.shutdownToAppEnded = `${seconds(Date.now() - started)} (${finalState})`;
  timings.total = seconds(Date.now() - t0);
  console.log(`[yarn-e2e] timings ${JSON.stringify(timings)}`);
  await keep(info, "timings.json", JSON.stringify(timings, null, 2) + "\n");
});
