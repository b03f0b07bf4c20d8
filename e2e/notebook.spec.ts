// The notebook page, as an analyst uses it: run code, see every kind of output, answer input(), interrupt and
// restart the kernel, save, reload — and find everything where it was, in a file JupyterLab can open.
import { execFileSync } from "node:child_process";
import fs from "node:fs";
import path from "node:path";
import { expect, test, type APIRequestContext, type Page } from "@playwright/test";
import { e2eDataDir } from "../playwright.config";
import { createAnalyst, signIn } from "./support/session";

// Every kernel a test started is shut down (the portal keeps kernels alive across page loads on purpose).
test.afterEach(async ({ page }) => {
  const listed = await page.request.get("/api/kernels");
  if (!listed.ok()) return;
  for (const kernel of (await listed.json()) as { id: string }[]) await page.request.delete(`/api/kernels/${kernel.id}`);
});

const cell = (page: Page, n: number) => page.getByRole("region", { name: `Cell ${n}`, exact: true });
const output = (page: Page, n: number) => page.getByRole("region", { name: `Output ${n}`, exact: true });
const kernelStatus = (page: Page) => page.getByRole("status", { name: "Kernel status" });

/** Types code into cell n's editor and runs it with Shift+Enter (which moves on, adding a cell at the end). */
async function runCell(page: Page, n: number, code: string) {
  const editor = cell(page, n).getByRole("textbox").first();
  await editor.click();
  await editor.fill(code);
  await page.keyboard.press("Shift+Enter");
}

async function openNewNotebook(page: Page, name: string) {
  await page.goto(`/notebook/${name}`);
  await page.getByRole("button", { name: "Create notebook" }).click();
  await expect(kernelStatus(page)).toHaveText("idle", { timeout: 90_000 });
}

/** The server's recorded runs of a notebook's cells, as "status[ clipped]" joined by commas. */
async function recordedRuns(api: APIRequestContext, notebook: string): Promise<string> {
  const input = encodeURIComponent(JSON.stringify({ json: { path: notebook } }));
  const body = await (await api.get(`/api/trpc/notebooks.runs?input=${input}`)).json();
  const runs: { status: string; clipped: boolean }[] = body.result?.data?.json ?? [];
  return runs.map((run) => (run.clipped ? `${run.status} clipped` : run.status)).join(",");
}

async function homeFile(page: Page, name: string): Promise<string> {
  const me = await (await page.request.get("/api/trpc/me.get")).json();
  return path.join(e2eDataDir, "homes", me.result.data.json.username, name);
}

// A real matplotlib figure, rendered inline as image/png (the kernel venv has matplotlib).
const PNG_CODE = `%matplotlib inline
import matplotlib.pyplot as plt
plt.plot([1, 2, 3], [1, 4, 9])
plt.title("squares")
plt.show()`;

const HTML_PROBE = `from IPython.display import HTML, display
display(HTML("""<div id="probe">pending</div><a id="link" href="/favicon.svg">a link</a><script>
(async () => {
  const out = [];
  try { out.push("cookie=" + document.cookie); } catch (e) { out.push("cookie-blocked"); }
  try { const r = await fetch("/api/trpc/me.get", { credentials: "include" }); out.push("fetch=" + r.status + ":" + (await r.text()).slice(0, 300)); }
  catch (e) { out.push("fetch-blocked"); }
  document.getElementById("probe").textContent = out.join(" | ");
})();
</script>"""))`;

test("an analyst runs code, sees every kind of output, and finds it all again after a reload", async ({ page }) => {
  test.setTimeout(240_000);
  const analyst = createAnalyst("notebook");
  await signIn(page, analyst);
  await openNewNotebook(page, "Test.ipynb");
  await expect(page.getByRole("combobox", { name: "Kernel" })).toBeVisible();
  for (const name of ["Save", "Add cell", "Run cell", "Run all", "Interrupt kernel", "Restart kernel"]) {
    await expect(page.getByRole("button", { name, exact: true })).toBeVisible();
  }

  await runCell(page, 1, 'print("hi")');
  await expect(output(page, 1)).toHaveText("hi");

  await runCell(page, 2, "1+1");
  await expect(output(page, 2)).toContainText("2");
  await expect(output(page, 2)).toContainText("[2]:");

  await runCell(page, 3, PNG_CODE);
  const image = output(page, 3).getByRole("img");
  await expect(image).toHaveAttribute("src", /^data:image\/png;base64,/);
  await expect.poll(() => image.evaluate((img: HTMLImageElement) => img.naturalWidth)).toBeGreaterThan(100);

  await runCell(page, 4, "def divide(a):\n    return a / 0\ndivide(1)");
  await expect(output(page, 4)).toContainText("ZeroDivisionError");
  // The traceback keeps IPython's colours: ANSI codes became styled spans, not escape characters.
  expect(await output(page, 4).locator("span[style*='color']").count()).toBeGreaterThan(2);
  await expect(output(page, 4)).not.toContainText("\u001b[");

  await runCell(page, 5, 'name = input("Name? ")\nprint("hello", name)');
  const answer = output(page, 5).getByRole("textbox", { name: /Input requested by the kernel/ });
  await answer.fill("Ada");
  await answer.press("Enter");
  await expect(output(page, 5)).toContainText("hello Ada");
  // Answered, the focus is back where the user was: in the new cell's editor (Shift+Enter made it).
  await expect(cell(page, 6).getByRole("textbox").first()).toBeFocused();

  await runCell(page, 6, "import time\ntime.sleep(60)");
  await expect(kernelStatus(page)).toHaveText("busy");
  await expect(cell(page, 6)).toContainText("Running");
  await page.getByRole("button", { name: "Interrupt kernel" }).click();
  await expect(output(page, 6)).toContainText("KeyboardInterrupt", { timeout: 15_000 });
  await expect(kernelStatus(page)).toHaveText("idle");

  // A restart is confirmed first, as in Jupyter (all variables are lost).
  await page.getByRole("button", { name: "Restart kernel" }).click();
  await page.getByRole("dialog", { name: "Restart the kernel?" }).getByRole("button", { name: "Restart", exact: true }).click();
  await expect(kernelStatus(page)).toHaveText("idle", { timeout: 30_000 });
  await expect(page.getByRole("alert").filter({ hasText: "restarted from another window" })).toHaveCount(0); // this page's own
  await runCell(page, 7, 'marker = "same kernel"\nprint("after restart")');
  await expect(output(page, 7)).toHaveText("after restart");
  await expect(cell(page, 7)).toContainText("[1]:");

  // Notebook HTML runs in a sandboxed frame without the portal's origin: no cookies, no portal APIs.
  await runCell(page, 8, HTML_PROBE);
  const frame = output(page, 8).locator("iframe");
  await expect(frame).toHaveAttribute("sandbox", "allow-scripts allow-popups allow-popups-to-escape-sandbox");
  const probe = page.frameLocator(`[aria-label="Output 8"] iframe`).locator("#probe");
  // Its links open, in a new tab (as the Spark UI link in a SparkSession's output must).
  const [opened] = await Promise.all([
    page.context().waitForEvent("page", { timeout: 10_000 }),
    page.frameLocator(`[aria-label="Output 8"] iframe`).locator("#link").click(),
  ]);
  await expect.poll(() => opened.url(), { timeout: 10_000 }).toMatch(/\/favicon\.svg$/);
  await opened.close();
  await expect(probe).not.toHaveText("pending");
  const seen = (await probe.textContent()) ?? "";
  console.log(`HTML output probe saw: ${seen}`);
  expect(seen).toContain("cookie-blocked");
  expect(seen).not.toContain(analyst.email);
  expect(seen).not.toMatch(/authjs|session-token/);

  await page.getByRole("button", { name: "Save" }).click();
  await expect(page.getByTestId("save-state")).toHaveText(/^Saved \d/);

  // The file is nbformat 4 that Jupyter's own validator accepts, with ids and outputs in their places.
  const file = await homeFile(page, "Test.ipynb");
  const saved = JSON.parse(fs.readFileSync(file, "utf8"));
  expect(saved.nbformat).toBe(4);
  expect(saved.cells[0].id).toMatch(/^[0-9a-f]+$/);
  expect(saved.cells[0].outputs[0]).toEqual({ name: "stdout", output_type: "stream", text: ["hi\n"] });
  expect(saved.cells[1].outputs[0].data["text/plain"]).toEqual(["2"]);
  if (process.env.ATRIUM_PYTHON) {
    const cells = execFileSync(process.env.ATRIUM_PYTHON, ["-c", "import nbformat,sys; nb=nbformat.read(sys.argv[1], as_version=4); nbformat.validate(nb); print(len(nb.cells))", file], { encoding: "utf8" });
    expect(Number(cells.trim())).toBe(saved.cells.length);
  }

  await page.reload();
  await expect(kernelStatus(page)).toHaveText("idle", { timeout: 60_000 });
  await expect(output(page, 1)).toHaveText("hi");
  await expect(output(page, 2)).toContainText("2");
  await expect(output(page, 3).getByRole("img")).toBeVisible();
  await expect(output(page, 4)).toContainText("ZeroDivisionError");
  await expect(output(page, 5)).toContainText("hello Ada");
  await expect(output(page, 7)).toHaveText("after restart");
  // Reopening reconnected to the same kernel (notebooks.kernelFor): its variables are still there.
  await runCell(page, 9, "print(marker)");
  await expect(output(page, 9)).toHaveText("same kernel");
  await cell(page, 4).scrollIntoViewIfNeeded();
  await page.screenshot({ path: "e2e/.artifacts/notebook-light.png" });
  await page.getByRole("button", { name: "Switch to dark theme" }).click();
  await page.screenshot({ path: "e2e/.artifacts/notebook-dark.png" });
  await page.getByRole("button", { name: "Switch to light theme" }).click();
});

test("an HTML output follows the portal's theme, not the system's: no light band in a dark notebook", async ({ page }) => {
  test.setTimeout(120_000);
  await signIn(page, createAnalyst("dark-html"));
  await openNewNotebook(page, "Dark.ipynb");
  await runCell(page, 1, 'from IPython.display import HTML, display\ndisplay(HTML("<table><tr><th>a</th></tr><tr><td>1</td></tr></table>"))');
  const frame = () => page.frames().find((f) => f.url() === "about:srcdoc");
  const textInFrame = async () => (await frame()?.evaluate(() => getComputedStyle(document.body).color)) ?? "";
  // Chromium paints a frame on an opaque canvas (white in light, near-black in dark) when its document's color scheme
  // differs from its iframe element's: the two are the same (light) whatever the portal's theme.
  const schemes = async () => [await output(page, 1).locator("iframe").evaluate((el) => getComputedStyle(el).colorScheme), await frame()?.evaluate(() => getComputedStyle(document.documentElement).colorScheme)];
  await expect.poll(textInFrame).toBe("rgb(31, 35, 40)");
  expect(await schemes()).toEqual(["light", "normal"]);
  await page.getByRole("button", { name: "Switch to dark theme" }).click();
  await expect(page.locator("html")).toHaveAttribute("data-mantine-color-scheme", "dark");
  await expect.poll(textInFrame).toBe("rgb(208, 212, 218)"); // light text on the dark page
  expect(await schemes()).toEqual(["light", "normal"]);
  await page.screenshot({ path: "e2e/.artifacts/notebook-dark-html.png" });
  await page.getByRole("button", { name: "Switch to light theme" }).click();
  await expect.poll(textInFrame).toBe("rgb(31, 35, 40)");
});

test("outputs of a cell that ran while the page was closed are there when it reopens", async ({ page }) => {
  test.setTimeout(120_000);
  await signIn(page, createAnalyst("durable"));
  await openNewNotebook(page, "Durable.ipynb");
  await runCell(page, 1, 'import time\nfor i in range(8):\n    print("tick", i, flush=True)\n    time.sleep(0.5)\nprint("finished")');
  await expect(output(page, 1)).toContainText("tick 1");
  await page.reload();
  await expect(kernelStatus(page)).toHaveText(/idle|busy/, { timeout: 60_000 });
  // Outputs recorded by the server while no page listened, then the live rest, in one place.
  await expect(output(page, 1)).toContainText("finished", { timeout: 20_000 });
  await expect(output(page, 1)).toContainText("tick 0");
  await expect(cell(page, 1)).not.toContainText("[*]:");
});

test("an edit run but never saved (the browser died) comes back with its outputs, never old code with new outputs", async ({ page, context }) => {
  test.setTimeout(120_000);
  await signIn(page, createAnalyst("crashed-tab"));
  await openNewNotebook(page, "Crashed.ipynb");
  const file = await homeFile(page, "Crashed.ipynb");
  await runCell(page, 1, "print('BBB')");
  await expect(output(page, 1)).toHaveText("BBB");
  await page.keyboard.press("Control+s");
  await expect(page.getByRole("status", { name: "Save status" })).toHaveText(/^Saved/);

  // From here no save reaches the server, as when the browser dies before its autosave, and no draft is left.
  const tab = await context.newPage();
  await tab.route("**/api/trpc/notebooks.save**", (route) => route.abort());
  await tab.goto("/notebook/Crashed.ipynb");
  await expect(kernelStatus(tab)).toHaveText("idle", { timeout: 30_000 });
  await page.close();
  const editor = cell(tab, 1).getByRole("textbox").first();
  await editor.click();
  await editor.fill("total = 10 * 3\nprint('total =', total)");
  await tab.keyboard.press("Control+Enter");
  await expect(output(tab, 1)).toHaveText("total = 30");
  await tab.evaluate(() => localStorage.clear());
  await tab.close();
  expect(JSON.parse(fs.readFileSync(file, "utf8")).cells[0].source.join("")).toBe("print('BBB')");

  const reopened = await context.newPage();
  await reopened.goto("/notebook/Crashed.ipynb");
  await expect(output(reopened, 1)).toHaveText("total = 30");
  await expect(cell(reopened, 1)).toContainText("print('total =', total)");
  const notice = reopened.getByText("A cell's code was run but never saved before this page last closed");
  await expect(notice).toBeVisible();
  // The notice stands clear of the footer (its save state and kernel status), not over it (QA).
  const [noticeBox, footerBox] = [(await notice.boundingBox())!, (await reopened.getByTestId("notebook-footer").boundingBox())!];
  expect(noticeBox.y + noticeBox.height, "the notice ends above the footer").toBeLessThanOrEqual(footerBox.y);
  await expect(reopened.getByRole("status", { name: "Save status" })).toHaveText(/^Saved/, { timeout: 15_000 });
  const saved = JSON.parse(fs.readFileSync(file, "utf8"));
  expect(saved.cells[0].source.join("")).toBe("total = 10 * 3\nprint('total =', total)");
  expect(saved.cells[0].outputs[0].text.join("")).toBe("total = 30\n");
});

test("a notebook reopened while its kernel waits on input() asks again, and the answer finishes the cell", async ({ page }) => {
  test.setTimeout(120_000);
  await signIn(page, createAnalyst("reinput"));
  await openNewNotebook(page, "Asks.ipynb");
  await runCell(page, 1, 'name = input("Name? ")\nprint("hello", name)');
  const question = (p: Page) => output(p, 1).getByRole("textbox", { name: /Input requested by the kernel/ });
  await expect(question(page)).toBeVisible();
  await page.reload();
  // The kernel still waits: the reopened page shows it busy, and the question under the cell that asked.
  await expect(kernelStatus(page)).toHaveText("busy", { timeout: 60_000 });
  await expect(question(page)).toBeVisible({ timeout: 20_000 });
  await expect(output(page, 1)).toContainText("Name?");
  await question(page).fill("Grace");
  await question(page).press("Enter");
  await expect(output(page, 1)).toContainText("hello Grace");
  await expect(kernelStatus(page)).toHaveText("idle");
  await expect(cell(page, 1)).not.toContainText("[*]:");
});

test("closing the tab while a cell runs loses nothing: reopened after it ends, all 20 lines are there", async ({ page, context }) => {
  test.setTimeout(150_000);
  await signIn(page, createAnalyst("closedtab"));
  await openNewNotebook(page, "Closed.ipynb");
  await runCell(page, 1, "import time\nfor i in range(20):\n    print(i, flush=True)\n    time.sleep(1)");
  await expect(output(page, 1)).toContainText("0");
  await page.close();

  // Nobody is watching now. Wait (with a deadline) until the server has recorded the end of the run.
  await expect.poll(() => recordedRuns(context.request, "Closed.ipynb"), { timeout: 60_000, intervals: [1_000] }).toBe("ok");

  const reopened = await context.newPage();
  await reopened.goto("/notebook/Closed.ipynb");
  const lines = Array.from({ length: 20 }, (_, i) => String(i)).join("\n");
  await expect(output(reopened, 1)).toHaveText(lines, { timeout: 30_000 });
  await expect(cell(reopened, 1)).not.toContainText("[*]:");
});

test("reloading twice while a cell prints loses no line and shows none twice", async ({ page }) => {
  test.setTimeout(120_000);
  await signIn(page, createAnalyst("reloads"));
  await openNewNotebook(page, "Reloads.ipynb");
  // Regression (QA, 10 of 10 runs): the page read the run as the database had it (a flush behind) and attached its
  // socket a moment later; what was printed between the two was lost, and then saved over the file.
  await runCell(page, 1, "import time\nfor i in range(30):\n    print(i, flush=True)\n    time.sleep(0.2)");
  await expect(output(page, 1)).toContainText("3");
  await page.reload();
  await expect(output(page, 1)).toContainText("10", { timeout: 15_000 });
  await page.reload();
  const lines = Array.from({ length: 30 }, (_, i) => String(i)).join("\n");
  await expect(output(page, 1)).toHaveText(lines, { timeout: 30_000 });
  await expect(cell(page, 1)).not.toContainText("[*]:");
});

test("an output too large to keep in full says so, and its link downloads all of it", async ({ page, context }) => {
  test.setTimeout(150_000);
  await signIn(page, createAnalyst("hugeout"));
  await openNewNotebook(page, "Huge.ipynb");
  // ~5.5 MB of text, more than the 4 MiB the server keeps in the notebook; printed after the tab is gone.
  await runCell(page, 1, 'import time\ntime.sleep(2)\nfor i in range(60000):\n    print(f"{i:07d}", "x" * 80)');
  await expect(cell(page, 1)).toContainText("[*]:");
  await page.close();

  const api = context.request;
  await expect.poll(() => recordedRuns(api, "Huge.ipynb"), { timeout: 90_000, intervals: [1_000] }).toBe("ok clipped");

  const reopened = await context.newPage();
  await reopened.goto("/notebook/Huge.ipynb");
  const link = output(reopened, 1).getByRole("link", { name: "Download the full output" });
  await expect(link).toBeVisible({ timeout: 30_000 });
  await expect(output(reopened, 1)).toContainText("too large to show in full");
  const download = await api.get((await link.getAttribute("href"))!);
  expect(download.status()).toBe(200);
  const text = await download.text();
  const lines = text.split("\n").filter(Boolean);
  expect(lines.length).toBe(60000);
  expect(lines[0]).toBe(`0000000 ${"x".repeat(80)}`);
  expect(lines[59999]).toBe(`0059999 ${"x".repeat(80)}`);
});

test("long and overwritten streams render without freezing the page", async ({ page }) => {
  test.setTimeout(180_000);
  await signIn(page, createAnalyst("stream"));
  await openNewNotebook(page, "Streams.ipynb");

  await runCell(page, 1, 'import sys, time\nfor i in range(5):\n    print(f"\\r{i * 25}%", end="", flush=True)\n    time.sleep(0.05)\nprint("\\ndone")');
  await expect(output(page, 1)).toHaveText("100%\ndone");

  await runCell(page, 2, "for i in range(100000):\n    print(i)");
  // While 100,000 lines stream in, the page keeps answering.
  const started = Date.now();
  let worst = 0;
  while (Date.now() - started < 4000) {
    const t = Date.now();
    await page.evaluate(() => new Promise((resolve) => requestAnimationFrame(resolve)));
    worst = Math.max(worst, Date.now() - t);
  }
  await expect(output(page, 2)).toContainText("99999", { timeout: 60_000 });
  await expect(output(page, 2)).toContainText("earlier lines hidden");
  console.log(`longest animation frame while streaming 100,000 lines: ${worst} ms`);
  expect(worst).toBeLessThan(1500);
  await output(page, 2).getByRole("button", { name: "Show all" }).click();
  await expect(output(page, 2).getByText("earlier lines hidden")).toHaveCount(0);
  const all = (await output(page, 2).locator("pre").last().textContent()) ?? "";
  expect(all.startsWith("0\n1\n2\n")).toBe(true);
  expect(all.trimEnd().endsWith("99999")).toBe(true);
});

test("Shift+Enter at the end of a long notebook keeps the new cell in sight, above the footer, as it is typed in", async ({ page }) => {
  test.setTimeout(120_000);
  await signIn(page, createAnalyst("long-notebook"));
  await page.setViewportSize({ width: 1280, height: 720 });
  await openNewNotebook(page, "Long.ipynb");
  for (let n = 1; n <= 8; n++) {
    await runCell(page, n, `for i in range(${n === 8 ? 40 : 3}):\n    print(${n}, i)`);
    await expect(output(page, n)).toContainText(`${n} ${n === 8 ? 39 : 2}`);
  }
  const footer = page.getByTestId("notebook-footer");
  const newCell = cell(page, 9);
  const inSight = async () => {
    const cellBox = (await newCell.getByRole("textbox").first().boundingBox())!;
    const footerBox = (await footer.boundingBox())!;
    return cellBox.y >= 90 && cellBox.y + cellBox.height <= footerBox.y;
  };
  await expect.poll(inSight, { message: "the new cell's editor is between the toolbar and the footer" }).toBe(true);
  await page.keyboard.type("xyz = 1\nprint(xyz)\n# a third line\n# a fourth");
  await expect(newCell).toContainText("# a fourth");
  await expect.poll(inSight, { message: "still in sight after typing four lines" }).toBe(true);
});

test("command mode keys and markdown with math", async ({ page }) => {
  test.setTimeout(120_000);
  await signIn(page, createAnalyst("keys"));
  await openNewNotebook(page, "Keys.ipynb");
  const editor = cell(page, 1).getByRole("textbox").first();
  await editor.click();
  await editor.fill("# Title\n\nEuler: $e^{i\\pi} + 1 = 0$, see [the docs](https://docs.example.org/euler)\n\n```python\ndef area(r):\n    return 3.14 * r ** 2\n```");
  await page.keyboard.press("Escape");
  await page.keyboard.press("m");
  await page.keyboard.press("Shift+Enter");
  await expect(cell(page, 1).getByRole("heading", { name: "Title" })).toBeVisible();
  await expect(cell(page, 1).locator(".katex")).toBeVisible();
  // Fenced Python is coloured as a code cell is: its keyword in another colour than the code around it.
  const keyword = cell(page, 1).locator("pre code span").filter({ hasText: /^def$/ });
  await expect(keyword).toBeVisible();
  const colours = await keyword.evaluate((span) => [getComputedStyle(span).color, getComputedStyle(span.parentElement!).color]);
  expect(colours[0]).not.toBe(colours[1]);
  // A link opens beside the notebook, not in its place.
  const link = cell(page, 1).getByRole("link", { name: "the docs" });
  await expect(link).toHaveAttribute("target", "_blank");
  await expect(link).toHaveAttribute("rel", "noopener noreferrer");
  await expect(cell(page, 2)).toBeVisible();
  await page.keyboard.press("Escape");
  await page.keyboard.press("b");
  await expect(cell(page, 3)).toBeVisible();
  await page.keyboard.press("d");
  await page.keyboard.press("d");
  await expect(cell(page, 3)).toHaveCount(0);
  await page.keyboard.press("z");
  await expect(cell(page, 3)).toBeVisible();
  // Enter on the rendered markdown cell edits it again.
  await page.keyboard.press("k");
  await page.keyboard.press("k");
  await page.keyboard.press("Enter");
  await expect(cell(page, 1).getByRole("textbox").first()).toBeFocused();

  // L shows line numbers in every cell, and this browser remembers it; H lists the keys.
  const code = cell(page, 2).getByRole("textbox").first();
  await code.click();
  await code.fill("a = 1\n");
  await page.keyboard.press("Control+End");
  await page.keyboard.type("b = 2");
  await page.keyboard.press("Escape");
  await page.keyboard.press("l");
  await expect(cell(page, 2).locator(".cm-lineNumbers .cm-gutterElement").filter({ hasText: /^2$/ })).toBeVisible();
  // Ctrl+Z out of an editor is not the browser's undo, which would take the typing out of cell 2 unseen.
  await page.keyboard.press("k");
  await page.keyboard.press("Control+z");
  await page.keyboard.press("j");
  await expect(cell(page, 2)).toContainText("b = 2");
  await page.keyboard.press("h");
  const keys = page.getByRole("dialog", { name: "Keyboard shortcuts" });
  await expect(keys).toContainText("Show or hide line numbers");
  await page.keyboard.press("Escape");
  await expect(keys).toBeHidden();
  await expect(page.getByTestId("save-state")).toHaveText(/^Saved/, { timeout: 15_000 });
  await page.reload();
  // After a load the cells show static code until they are edited: numbered the same way.
  await expect(cell(page, 2).locator("[data-line-numbers], .cm-lineNumbers").first()).toBeVisible({ timeout: 30_000 });
  await page.getByRole("button", { name: "Keyboard shortcuts" }).click();
  await expect(keys).toContainText("Merge the selected cells, or the cell below, into the first");
});

test("cells are split, merged, moved, hidden and deleted from the keyboard, and moved and deleted with the cell's buttons", async ({ page }) => {
  test.setTimeout(120_000);
  await signIn(page, createAnalyst("cellops"));
  await openNewNotebook(page, "Cells.ipynb");
  const text = (n: number) => cell(page, n).getByRole("textbox").first();

  // Split at the cursor (Ctrl+Shift+-): the line after the cursor becomes cell 2.
  await text(1).click();
  await text(1).fill("a = 1\nprint(a)");
  await page.keyboard.press("Control+Home");
  await page.keyboard.press("End");
  await page.keyboard.press("Control+Shift+Minus");
  await expect(text(2)).toHaveText("print(a)");
  await expect(text(1)).toHaveText("a = 1");

  // Run cell 2 (a is not defined yet), hide its output with O, show it again.
  await page.keyboard.press("Shift+Enter");
  await expect(output(page, 2)).toContainText("NameError");
  await page.keyboard.press("Escape");
  await page.keyboard.press("k");
  await page.keyboard.press("o");
  await expect(output(page, 2)).toHaveCount(0);
  await cell(page, 2).getByRole("button", { name: "Outputs hidden — show them (O)" }).click();
  await expect(output(page, 2)).toContainText("NameError");

  // Move cell 2 above cell 1 with Ctrl+Shift+↑, then back down with the cell's own button.
  await cell(page, 2).click({ position: { x: 20, y: 10 } });
  await page.keyboard.press("Control+Shift+ArrowUp");
  await expect(text(1)).toHaveText("print(a)");
  await cell(page, 1).getByRole("button", { name: "Move cell down" }).click();
  await expect(text(1)).toHaveText("a = 1");
  await expect(text(2)).toHaveText("print(a)");
  await page.screenshot({ path: "e2e/.artifacts/qa-cell-actions.png" });

  // Merge cell 2 into cell 1 (Shift+M on cell 1), then undo (Z) brings both back.
  await cell(page, 1).click({ position: { x: 20, y: 10 } });
  await page.keyboard.press("Shift+M");
  await expect(text(1)).toHaveText("a = 1print(a)"); // CodeMirror lines read as one text; the blank line is between
  await page.keyboard.press("z");
  await expect(text(2)).toHaveText("print(a)");

  // Delete with the cell's button; Z brings it back.
  await cell(page, 2).click({ position: { x: 20, y: 10 } });
  await cell(page, 2).getByRole("button", { name: "Delete cell" }).click();
  await expect(text(2)).not.toHaveText("print(a)");
  await page.keyboard.press("z");
  await expect(text(2)).toHaveText("print(a)");

  // Several cells: Shift+↑ selects cells 2 and 1; Ctrl+Enter runs both in order; D D deletes both; Z brings both back.
  await cell(page, 2).click({ position: { x: 20, y: 10 } });
  await page.keyboard.press("Shift+ArrowUp");
  const selection = page.getByRole("status", { name: "Selection" });
  await expect(selection).toHaveText("2 cells selected");
  await expect(page.locator("[data-selected]")).toHaveCount(2);
  await page.keyboard.press("Control+Enter");
  await expect(output(page, 2)).not.toContainText("NameError");
  await expect(output(page, 2)).toHaveText("1");
  await page.keyboard.press("d");
  await page.keyboard.press("d");
  await expect(text(1)).toHaveText("");
  await page.keyboard.press("z");
  await expect(text(1)).toHaveText("a = 1");
  await expect(text(2)).toHaveText("print(a)");
  await expect(selection).toHaveText("2 cells selected");
  // Ctrl+A selects them all; Esc goes back to one.
  await page.keyboard.press("Escape");
  await page.keyboard.press("Control+a");
  await expect(selection).toHaveText("3 cells selected");
  await page.keyboard.press("Escape");
  await expect(selection).toHaveText("");
  await cell(page, 1).click({ position: { x: 20, y: 10 } });
  await page.keyboard.press("Shift+ArrowDown");
  // Shift+click reaches further; Esc goes back to one cell.
  await cell(page, 3).click({ position: { x: 20, y: 10 }, modifiers: ["Shift"] });
  await expect(selection).toHaveText("3 cells selected");
  await page.keyboard.press("Escape");
  await expect(selection).toHaveText("");
  await expect(page.locator("[data-selected]")).toHaveCount(0);
  // Shift+click on another cell's code selects too; the active cell's trash button deletes the whole selection.
  await text(1).click({ modifiers: ["Shift"] });
  await expect(selection).toHaveText("3 cells selected");
  await cell(page, 1).getByRole("button", { name: "Delete cell" }).click();
  await expect(cell(page, 2)).toHaveCount(0);
  await page.keyboard.press("z");
  await expect(text(2)).toHaveText("print(a)");
  await expect(selection).toHaveText("3 cells selected");
  await page.keyboard.press("Escape");

  // What was done is what is saved.
  await page.keyboard.press("Control+s");
  await expect(page.getByTestId("save-state")).toHaveText(/^Saved \d/, { timeout: 15_000 });
  const saved = JSON.parse(fs.readFileSync(await homeFile(page, "Cells.ipynb"), "utf8"));
  expect(saved.cells.slice(0, 2).map((c: { source: string[] }) => c.source.join(""))).toEqual(["a = 1", "print(a)"]);

  // Run all above (from cell 3) runs cells 1 and 2 only; Run this cell and all below, from cell 3, runs it.
  await text(1).fill("a = 7");
  await text(3).fill("print(a * 10)");
  await page.keyboard.press("Escape");
  const more = page.getByRole("button", { name: "More kernel actions" });
  await more.click();
  await page.getByRole("menuitem", { name: "Run all above" }).click();
  await expect(output(page, 2)).toHaveText("7");
  await expect(output(page, 3)).toHaveCount(0);
  await more.click();
  await page.getByRole("menuitem", { name: "Run this cell and all below" }).click();
  await expect(output(page, 3)).toHaveText("70");
});

test("a save never silently overwrites a file changed on disk", async ({ page }) => {
  test.setTimeout(120_000);
  await signIn(page, createAnalyst("conflict"));
  await openNewNotebook(page, "Conflict.ipynb");
  const file = await homeFile(page, "Conflict.ipynb");
  const onDisk = JSON.parse(fs.readFileSync(file, "utf8"));
  onDisk.cells[0].source = ["print('changed elsewhere')"];
  await new Promise((r) => setTimeout(r, 20)); // a different mtime than the page's
  fs.writeFileSync(file, JSON.stringify(onDisk, null, 1) + "\n");

  const editor = cell(page, 1).getByRole("textbox").first();
  await editor.click();
  await editor.fill("print('mine')");
  await page.keyboard.press("Control+s");
  const dialog = page.getByRole("dialog", { name: "This notebook changed on disk" });
  await expect(dialog).toBeVisible();
  expect(JSON.parse(fs.readFileSync(file, "utf8")).cells[0].source).toEqual(["print('changed elsewhere')"]);
  await dialog.getByRole("button", { name: "Reload" }).click();
  await expect(cell(page, 1)).toContainText("changed elsewhere");

  // Unsaved edits survive a reload: the browser asks before leaving them, and the page offers the draft back.
  await cell(page, 1).getByRole("textbox").first().fill("print('draft')");
  await page.waitForTimeout(700); // the draft is written half a second after the last edit
  const asked = new Promise<string>((resolve) => page.once("dialog", (dialog) => (resolve(dialog.type()), void dialog.accept())));
  await page.reload();
  expect(await asked).toBe("beforeunload");
  await page.getByRole("button", { name: "Restore" }).click({ timeout: 30_000 }).catch(async () => {
    // autosave won the race and the edit is in the file: that's fine too
  });
  await expect(cell(page, 1)).toContainText("draft");

  // Keep both: this page's version goes beside the file as Conflict-Copy1.ipynb, and the page shows the file as it is.
  await expect(page.getByTestId("save-state")).toHaveText(/^Saved/, { timeout: 15_000 }); // "Saved" alone: nothing to save since the reload
  const again = JSON.parse(fs.readFileSync(file, "utf8"));
  again.cells[0].source = ["print('changed elsewhere again')"];
  await new Promise((r) => setTimeout(r, 20));
  fs.writeFileSync(file, JSON.stringify(again, null, 1) + "\n");
  await cell(page, 1).getByRole("textbox").first().fill("print('kept')");
  await page.keyboard.press("Control+s");
  await dialog.getByRole("button", { name: "Save mine as a copy" }).click();
  await expect(dialog).toBeHidden();
  await expect(cell(page, 1)).toContainText("changed elsewhere again");
  const copy = await homeFile(page, "Conflict-Copy1.ipynb");
  expect(JSON.parse(fs.readFileSync(copy, "utf8")).cells[0].source).toEqual(["print('kept')"]);
  expect(JSON.parse(fs.readFileSync(file, "utf8")).cells[0].source).toEqual(["print('changed elsewhere again')"]);
  await page.getByRole("link", { name: "Conflict-Copy1.ipynb" }).click();
  await expect(page).toHaveURL(/Conflict-Copy1\.ipynb/);
  await expect(cell(page, 1)).toContainText("print('kept')", { timeout: 30_000 });
});

test("leaving a notebook and coming back in the portal shows what was saved, and the next save asks nothing", async ({ page }) => {
  test.setTimeout(120_000);
  await signIn(page, createAnalyst("comeback"));
  await openNewNotebook(page, "Comeback.ipynb");
  await expect(page.getByTestId("save-state")).toHaveText(/^Saved \d/, { timeout: 15_000 });
  const editor = () => cell(page, 1).getByRole("textbox").first();
  await editor().click();
  await editor().fill("print('first')");
  await page.keyboard.press("Control+s");
  await expect(page.getByTestId("save-state")).toHaveText(/^Saved \d/, { timeout: 15_000 });

  // Away and back without a page load: the page must not rebuild from the copy it read when it first opened.
  const nav = page.getByRole("navigation", { name: "Main" });
  await nav.getByRole("link", { name: "Files" }).click();
  await expect(page).toHaveURL(/\/files/);
  await nav.getByRole("link", { name: "Notebooks" }).click();
  await page.getByRole("link", { name: "Comeback.ipynb" }).click();
  await expect(cell(page, 1)).toContainText("print('first')", { timeout: 30_000 });
  await editor().click();
  await editor().fill("print('second')");
  await page.keyboard.press("Control+s");
  await expect(page.getByTestId("save-state")).toHaveText(/^Saved \d/, { timeout: 15_000 });
  await expect(page.getByRole("dialog", { name: "This notebook changed on disk" })).toHaveCount(0);
  const file = await homeFile(page, "Comeback.ipynb");
  const savedSource = () => JSON.parse(fs.readFileSync(file, "utf8")).cells[0].source;
  expect(savedSource()).toEqual(["print('second')"]);

  // An edit, then away at once (before the autosave): leaving the notebook saves it.
  await editor().click();
  await editor().fill("print('third')");
  await nav.getByRole("link", { name: "Files" }).click();
  await expect(page).toHaveURL(/\/files/);
  await expect.poll(savedSource, { timeout: 15_000 }).toEqual(["print('third')"]);

  // An edit, then signing out at once: the notebook is saved before the session ends.
  await page.goBack();
  await expect(cell(page, 1)).toContainText("print('third')", { timeout: 30_000 });
  await editor().click();
  await editor().fill("print('fourth')");
  await page.getByRole("button", { name: "Account menu" }).click();
  await page.getByRole("menuitem", { name: "Sign out" }).click();
  await expect(page).toHaveURL(/\/signin/, { timeout: 15_000 });
  expect(savedSource()).toEqual(["print('fourth')"]);
});

test("opening a notebook writes nothing to it: one without a kernelspec or in nbformat 3 changes only with the user's save", async ({ page }) => {
  test.setTimeout(120_000);
  await signIn(page, createAnalyst("untouched"));
  const plain = await homeFile(page, "Plain.ipynb");
  const old = await homeFile(page, "Old.ipynb");
  fs.mkdirSync(path.dirname(plain), { recursive: true });
  // Written elsewhere, yesterday: no kernelspec recorded (as some tools write them), and an IPython 2 era file.
  const plainText = JSON.stringify({ nbformat: 4, nbformat_minor: 5, metadata: {}, cells: [{ id: "c1", cell_type: "code", source: ["1 + 1"], metadata: {}, outputs: [], execution_count: null }] }, null, 1) + "\n";
  const oldText = JSON.stringify({ nbformat: 3, nbformat_minor: 0, metadata: { name: "Old" }, worksheets: [{ cells: [{ cell_type: "code", input: "2 + 2", language: "python", outputs: [], prompt_number: 1, metadata: {} }], metadata: {} }] }, null, 1) + "\n";
  const yesterday = new Date(Math.floor((Date.now() - 26 * 3600_000) / 1000) * 1000); // whole seconds: utimes keeps them exactly
  for (const [file, text] of [[plain, plainText], [old, oldText]] as const) {
    fs.writeFileSync(file, text);
    fs.utimesSync(file, yesterday, yesterday);
  }

  for (const [name, file, text] of [["Plain.ipynb", plain, plainText], ["Old.ipynb", old, oldText]] as const) {
    await page.goto(`/notebook/${name}`);
    await expect(kernelStatus(page)).toHaveText("idle", { timeout: 90_000 });
    // The footer says when the file was last written: yesterday, so with its date.
    await expect(page.getByTestId("save-state")).toHaveText(/^Saved .*\d{4}/);
    // An autosave would come 2 s after a change: give it twice that, then the file must be as it was.
    await page.waitForTimeout(4_000);
    expect(fs.readFileSync(file, "utf8"), name).toBe(text);
    expect(Math.round(fs.statSync(file).mtimeMs), name).toBe(yesterday.getTime());
  }

  // The user's first save records the kernelspec the notebook ran on (Old.ipynb is open: its save is version 4).
  const editor = cell(page, 1).getByRole("textbox").first();
  await editor.click();
  await editor.fill("3 + 3");
  await page.keyboard.press("Control+s");
  await expect(page.getByTestId("save-state")).toHaveText(/^Saved \d{1,2}:\d{2}/, { timeout: 15_000 });
  const saved = JSON.parse(fs.readFileSync(old, "utf8"));
  expect([saved.nbformat, saved.metadata.kernelspec?.name, saved.cells[0].source]).toEqual([4, "python3", ["3 + 3"]]);
});

test("a notebook moved away on disk while edited: the dialog says so, the safe choice has the focus, and it is saved here again", async ({ page }) => {
  test.setTimeout(120_000);
  await signIn(page, createAnalyst("movedaway"));
  await openNewNotebook(page, "Moved.ipynb");
  await expect(kernelStatus(page)).toHaveText("idle", { timeout: 90_000 });
  const file = await homeFile(page, "Moved.ipynb");
  fs.renameSync(file, await homeFile(page, "Moved2.ipynb"));
  const editor = cell(page, 1).getByRole("textbox").first();
  await editor.click();
  await editor.fill("print('kept')");
  await page.keyboard.press("Control+s");
  const dialog = page.getByRole("dialog", { name: "This notebook changed on disk" });
  // Regression (QA): "Reload" had the focus, and Enter threw the edits away for a "doesn't exist yet" page.
  await expect(dialog).toContainText("Moved.ipynb was moved or deleted since you opened it.");
  await expect(dialog.getByRole("button", { name: "Save mine as a copy" })).toBeFocused();
  await dialog.getByRole("button", { name: "Save here again" }).click();
  await expect(dialog).toBeHidden();
  await expect(page.getByTestId("save-state")).toHaveText(/^Saved/, { timeout: 15_000 });
  expect(JSON.parse(fs.readFileSync(file, "utf8")).cells[0].source).toEqual(["print('kept')"]);
});

test("a notebook written for a kernel this portal does not offer says so, runs on the default, and keeps asking for its own", async ({ page }) => {
  test.setTimeout(120_000);
  await signIn(page, createAnalyst("rkernel"));
  const file = await homeFile(page, "R.ipynb");
  fs.mkdirSync(path.dirname(file), { recursive: true });
  const kernelspec = { name: "ir", display_name: "R", language: "R" };
  fs.writeFileSync(file, JSON.stringify({ nbformat: 4, nbformat_minor: 5, metadata: { kernelspec }, cells: [{ id: "c1", cell_type: "code", source: ["1 + 1"], metadata: {}, outputs: [], execution_count: null }] }));
  await page.goto("/notebook/R.ipynb");
  // Regression (QA): it switched to Python without a word, and the next save wrote python3 into the file.
  await expect(page.getByText('This notebook was written for the kernel "R", which this portal does not offer')).toBeVisible({ timeout: 30_000 });
  await expect(kernelStatus(page)).toHaveText("idle", { timeout: 90_000 });
  const editor = cell(page, 1).getByRole("textbox").first();
  await editor.click();
  await editor.fill("2 + 2");
  await page.keyboard.press("Control+s");
  await expect(page.getByTestId("save-state")).toHaveText(/^Saved \d{1,2}:\d{2}/, { timeout: 15_000 });
  const saved = JSON.parse(fs.readFileSync(file, "utf8"));
  expect([saved.metadata.kernelspec, saved.cells[0].source]).toEqual([kernelspec, ["2 + 2"]]);
});

test("a notebook is renamed from its title: edits saved first, then the same kernel and outputs under the new name", async ({ page }) => {
  test.setTimeout(120_000);
  await signIn(page, createAnalyst("renamer"));
  await openNewNotebook(page, "Draft.ipynb");
  await runCell(page, 1, "x = 7\nprint('before the rename')");
  await expect(output(page, 1)).toHaveText("before the rename");
  const editor = cell(page, 2).getByRole("textbox").first();
  await editor.click();
  await editor.fill("# typed, not saved yet");

  // A name already taken is refused where it was typed.
  const taken = await homeFile(page, "Taken.ipynb");
  fs.writeFileSync(taken, JSON.stringify({ cells: [], metadata: {}, nbformat: 4, nbformat_minor: 5 }));
  await page.getByRole("button", { name: "Rename notebook" }).click();
  const dialog = page.getByRole("dialog", { name: "Rename notebook" });
  await expect(dialog.getByLabel("New name")).toHaveValue("Draft.ipynb");
  await dialog.getByLabel("New name").fill("Taken");
  await dialog.getByRole("button", { name: "Rename", exact: true }).click();
  await expect(dialog.getByRole("alert")).toContainText("already exists");

  // Another name: the page follows it, attached to the same kernel (x is still there), the edit saved.
  await dialog.getByLabel("New name").fill("Final");
  await dialog.getByRole("button", { name: "Rename", exact: true }).click();
  await expect(page).toHaveURL(/\/notebook\/Final\.ipynb$/);
  await expect(page.getByRole("button", { name: "Rename notebook Final.ipynb" })).toBeVisible();
  await expect(kernelStatus(page)).toHaveText("idle", { timeout: 30_000 });
  await expect(output(page, 1)).toHaveText("before the rename");
  await expect(cell(page, 2)).toContainText("# typed, not saved yet");
  expect(fs.existsSync(await homeFile(page, "Draft.ipynb"))).toBe(false);
  expect(fs.readFileSync(await homeFile(page, "Final.ipynb"), "utf8")).toContain("# typed, not saved yet");
  await runCell(page, 2, "print(x)");
  await expect(output(page, 2)).toHaveText("7");

  // A narrow window: the toolbar wraps onto a second row; the kernel status and every control stay on screen.
  await page.setViewportSize({ width: 760, height: 800 });
  await expect(kernelStatus(page)).toBeInViewport();
  await expect(page.getByRole("button", { name: "Keyboard shortcuts" })).toBeInViewport();
  await expect(page.getByRole("combobox", { name: "Kernel" })).toBeInViewport();
  await page.screenshot({ path: "e2e/.artifacts/notebook-narrow.png" });
});

test("a second window on the same notebook is told when the first one saves or renames it", async ({ page, context }) => {
  test.setTimeout(120_000);
  await signIn(page, createAnalyst("two-windows"));
  await openNewNotebook(page, "Shared.ipynb");
  const other = await context.newPage();
  await other.goto("/notebook/Shared.ipynb");
  await expect(kernelStatus(other)).toHaveText("idle", { timeout: 30_000 });
  const lookAgain = () => other.evaluate(() => window.dispatchEvent(new Event("focus"))); // as when its window is picked

  // The first window saves an edit: the second says so when it is looked at again, and Reload shows the edit.
  const editor = cell(page, 1).getByRole("textbox").first();
  await editor.click();
  await editor.fill("print('from the first window')");
  await page.keyboard.press("Control+s");
  await expect(page.getByRole("status", { name: "Save status" })).toHaveText(/^Saved/);
  await lookAgain();
  const changed = other.getByRole("alert").filter({ hasText: "This notebook changed on disk" });
  await expect(changed).toBeVisible({ timeout: 10_000 });
  await changed.getByRole("button", { name: "Reload" }).click();
  await expect(cell(other, 1)).toContainText("print('from the first window')");
  await expect(changed).toBeHidden();
  await lookAgain();
  await expect(other.getByRole("alert").filter({ hasText: "changed on disk" })).toHaveCount(0); // nothing new: quiet

  // Dismissed, a change is not said again; a newer one is.
  for (const text of ["print('second')", "print('third')"]) {
    await editor.click();
    await editor.fill(text);
    await page.keyboard.press("Control+s");
    await expect(page.getByRole("status", { name: "Save status" })).toHaveText(/^Saved/);
    await lookAgain();
    await expect(changed).toBeVisible({ timeout: 10_000 });
    await changed.getByRole("button", { name: "Dismiss" }).click();
    await expect(changed).toBeHidden();
    await lookAgain();
    await other.waitForTimeout(500);
    await expect(changed).toBeHidden();
  }

  // A cell run in the first window shows its run and output live in the second, which holds the same code.
  await editor.click();
  await editor.fill("import time\nfor i in range(3):\n    print('tick', i, flush=True)\n    time.sleep(1)");
  await page.keyboard.press("Control+s");
  await expect(page.getByRole("status", { name: "Save status" })).toHaveText(/^Saved/);
  await lookAgain();
  await changed.getByRole("button", { name: "Reload" }).click();
  await expect(cell(other, 1)).toContainText("print('tick', i, flush=True)");
  await editor.click();
  await page.keyboard.press("Control+Enter");
  await expect(cell(other, 1)).toContainText("Running");
  await expect(output(other, 1)).toContainText("tick 0");
  await expect(output(other, 1)).toContainText("tick 2", { timeout: 15_000 });
  await expect(cell(other, 1)).not.toContainText("Running");
  await expect(cell(other, 1)).toContainText("[1]:");
  // The run is the first window's to save: the second has nothing to save, and the first is asked nothing.
  await expect(other.getByRole("status", { name: "Save status" })).not.toHaveText("Unsaved changes");
  await page.waitForTimeout(3_000); // past an autosave's pause
  await expect(page.getByRole("dialog", { name: "This notebook changed on disk" })).toHaveCount(0);

  // The first window renames it: the second says it is gone from this name.
  await page.getByRole("button", { name: "Rename notebook" }).click();
  await page.getByRole("dialog", { name: "Rename notebook" }).getByLabel("New name").fill("Moved");
  await page.getByRole("dialog", { name: "Rename notebook" }).getByRole("button", { name: "Rename", exact: true }).click();
  await expect(page).toHaveURL(/\/notebook\/Moved\.ipynb$/);
  await lookAgain();
  await expect(other.getByRole("alert").filter({ hasText: "This notebook was renamed or deleted elsewhere" })).toBeVisible({ timeout: 10_000 });
  await other.close();
});

test("replacing a kernel that holds variables asks first; a fresh one is replaced unasked; a stopped one says so", async ({ page }) => {
  test.setTimeout(180_000);
  await signIn(page, createAnalyst("switcher"));
  await openNewNotebook(page, "Switch.ipynb");
  const picker = page.getByRole("combobox", { name: "Kernel" });
  const dialog = page.getByRole("dialog", { name: "Switch to Python 3 (local)?" });

  // Nothing ran yet: another kernel is picked without a question; the size chosen goes with it when offered there.
  const size = page.getByRole("combobox", { name: "Size" });
  await size.selectOption("small");
  await expect(kernelStatus(page)).toHaveText("idle", { timeout: 90_000 });
  await picker.selectOption("python3_remote_local");
  await expect(kernelStatus(page)).toHaveText("idle", { timeout: 90_000 });
  await expect(picker).toHaveValue("python3_remote_local");
  await expect(size).toHaveValue("small");
  await runCell(page, 1, "x = 41");
  await expect(cell(page, 1)).toContainText("[1]:");

  // Now it holds x: picking another kernel asks, the keyboard on Cancel; Enter keeps the kernel and x.
  await picker.selectOption("python3");
  await expect(dialog).toContainText("all its variables are lost");
  await expect(dialog.getByRole("button", { name: "Cancel" })).toBeFocused();
  await page.keyboard.press("Enter");
  await expect(dialog).toBeHidden();
  await expect(picker).toHaveValue("python3_remote_local");
  await runCell(page, 2, "print(x + 1)");
  await expect(output(page, 2)).toHaveText("42");

  // Confirmed: a new kernel of the picked kind, without x.
  await picker.selectOption("python3");
  await dialog.getByRole("button", { name: "Switch kernel" }).click();
  await expect(picker).toHaveValue("python3");
  await expect(kernelStatus(page)).toHaveText("idle", { timeout: 90_000 });
  await runCell(page, 3, 'print("x" in globals())');
  await expect(output(page, 3)).toHaveText("False");

  // The kernel stopped elsewhere (Usage, an admin): running a cell says so at once, and the cell is not left queued.
  const kernels = (await (await page.request.get("/api/kernels")).json()) as { id: string }[];
  for (const kernel of kernels) expect((await page.request.delete(`/api/kernels/${kernel.id}`)).status()).toBe(204);
  await expect(kernelStatus(page)).toHaveText("dead", { timeout: 15_000 });
  await runCell(page, 4, "print('never')");
  await expect(page.getByRole("alert").filter({ hasText: "The kernel has stopped." })).toBeVisible({ timeout: 10_000 });
  await expect(cell(page, 4)).not.toContainText("Queued");
  await expect(output(page, 4)).toHaveCount(0); // nothing ran: no output area
  // Running a cell that has outputs keeps them, and its count: nothing ran to replace them.
  await cell(page, 3).click();
  await page.getByRole("button", { name: "Run cell" }).click();
  await expect(page.getByRole("alert").filter({ hasText: "Restart the kernel (the toolbar's Restart kernel, or 0 0 on the keyboard)" })).toBeVisible({ timeout: 10_000 });
  await expect(output(page, 3)).toHaveText("False");
  await expect(cell(page, 3)).toContainText("[1]:");
  await page.keyboard.press("Control+s");
  await expect(page.getByTestId("save-state")).toHaveText(/^Saved \d/, { timeout: 15_000 });
  const saved = JSON.parse(fs.readFileSync(await homeFile(page, "Switch.ipynb"), "utf8"));
  expect(saved.cells[2].outputs.map((o: { text?: string[] }) => o.text?.join(""))).toEqual(["False\n"]);
});

test("a kernel that dies says how, keeps what its process printed last folded away, and a new one starts", async ({ page }) => {
  test.setTimeout(120_000);
  await signIn(page, createAnalyst("crasher"));
  await openNewNotebook(page, "Crash.ipynb");
  await runCell(page, 1, "print('before')");
  await expect(output(page, 1)).toHaveText("before");
  // A line on the process's own stderr (the copy of fd 2 that ipykernel keeps for the terminal), then a hard exit:
  // a crash in native code looks like this to the portal.
  await runCell(page, 2, "import os, sys\nos.write(sys.stderr._original_stdstream_copy, b'fatal: the extension gave up\\n')\nos._exit(3)");
  const banner = page.getByRole("alert").filter({ hasText: "Your kernel died" });
  await expect(banner).toBeVisible({ timeout: 20_000 });
  await expect(banner).toContainText(/process \d+ exited with code 3\. Restart kernel starts a new one; your notebook and its outputs are kept\./);
  await expect(banner).not.toContainText("last stderr");
  // The raw lines are there for whoever needs them, folded under the sentence.
  const printed = banner.getByText("fatal: the extension gave up");
  await expect(printed).toBeHidden();
  await banner.getByText("What the kernel printed last").click();
  await expect(printed).toBeVisible();
  await expect(kernelStatus(page)).toHaveText("dead");
  await expect(output(page, 1)).toHaveText("before");
  await banner.getByRole("button", { name: "Start a new kernel" }).click();
  await expect(kernelStatus(page)).toHaveText("idle", { timeout: 90_000 });
  await expect(banner).toBeHidden();
  await runCell(page, 3, "print('after')");
  await expect(output(page, 3)).toHaveText("after");
});

test("deleting a folder stops the kernels of its notebooks, and the dialog says so first", async ({ page }) => {
  test.setTimeout(120_000);
  await signIn(page, createAnalyst("deleter"));
  await page.request.post("/api/trpc/files.mkdir", { data: { json: { path: "Work" } } });
  await openNewNotebook(page, "Work/Run.ipynb");
  const [kernel] = (await (await page.request.get("/api/kernels")).json()) as { id: string }[];
  expect(kernel).toBeDefined();

  await page.goto("/files");
  const row = page.getByRole("table", { name: /^Files in / }).getByRole("row").filter({ has: page.getByRole("link", { name: "Work", exact: true }) });
  await row.getByRole("button", { name: "Delete" }).click();
  const dialog = page.getByRole("dialog", { name: "Delete folder?" });
  await expect(dialog).toContainText("A notebook in it has a running kernel: it is stopped too.");
  await dialog.getByRole("button", { name: "Delete" }).click();
  await expect(dialog).toBeHidden();
  await expect.poll(async () => ((await (await page.request.get("/api/kernels")).json()) as unknown[]).length).toBe(0);
  const input = encodeURIComponent(JSON.stringify({ json: { id: kernel!.id } }));
  const status = await (await page.request.get(`/api/trpc/kernels.status?input=${input}`)).json();
  expect(status.result.data.json.detail).toBe("stopped because its notebook Work/Run.ipynb was deleted");
});

test("a restart from another window or client stops what was running and waiting here, and says so", async ({ page }) => {
  test.setTimeout(120_000);
  await signIn(page, createAnalyst("restarted"));
  await openNewNotebook(page, "Restarted.ipynb");
  await runCell(page, 1, "x = 1");
  await expect(cell(page, 1)).toContainText("[1]:");
  await runCell(page, 2, "import time\ntime.sleep(1.2)");
  await expect(cell(page, 2)).toContainText("Took 1 s");
  await runCell(page, 2, "import time\ntime.sleep(120)");
  await expect(cell(page, 2)).toContainText("Running");
  await runCell(page, 3, "print('after the sleep')");
  await expect(cell(page, 3)).toContainText("Queued");

  // Another client (JupyterLab, a script, another window) restarts the kernel through the Jupyter API.
  const [kernel] = (await (await page.request.get("/api/kernels")).json()) as { id: string }[];
  expect((await page.request.post(`/api/kernels/${kernel!.id}/restart`)).status()).toBe(200);
  await expect(page.getByRole("alert").filter({ hasText: "The kernel was restarted from another window or client" })).toBeVisible({ timeout: 15_000 });
  await expect(cell(page, 2)).not.toContainText("Running");
  await expect(cell(page, 2)).not.toContainText("Took"); // the last run's time went with it (QA: "Took 1 s" stayed)
  await expect(cell(page, 3)).not.toContainText("Queued");
  await expect(output(page, 3)).toHaveCount(0); // never ran
  await expect(kernelStatus(page)).toHaveText("idle", { timeout: 30_000 });
  await runCell(page, 4, 'print("x" in globals())');
  await expect(output(page, 4)).toHaveText("False");
});

test("Tab inserts a single completion at once and Shift+Tab shows the documentation in a tooltip Esc closes", async ({ page }) => {
  test.setTimeout(150_000);
  await signIn(page, createAnalyst("complete"));
  await openNewNotebook(page, "Completion.ipynb");
  await runCell(page, 1, "import collections");
  await expect(cell(page, 1)).toContainText("[1]:");
  await expect(kernelStatus(page)).toHaveText("idle");

  // Regression: a single match showed a one-item list instead of going straight in.
  const editor = cell(page, 2).getByRole("textbox").first();
  await editor.click();
  await page.keyboard.type("collections.Ord");
  await page.keyboard.press("Tab");
  await expect(editor).toHaveText("collections.OrderedDict");
  await expect(page.getByRole("listbox")).toHaveCount(0);

  // Several matches: their common prefix goes in, and the list is shown; Esc closes the list only.
  await editor.fill("collections.Us");
  await page.keyboard.press("End");
  await page.keyboard.press("Tab");
  await expect(editor).toHaveText("collections.User");
  await expect(page.getByRole("listbox")).toContainText("UserDict");
  await page.keyboard.press("Escape");
  await expect(page.getByRole("listbox")).toHaveCount(0);
  await expect(editor).toBeFocused();

  // Shift+Tab: the kernel's documentation at the cursor; Esc closes it and stays in the editor, in edit mode.
  const docs = page.getByRole("tooltip", { name: "Documentation" });
  await editor.fill("print");
  await page.keyboard.press("End");
  await page.keyboard.press("Shift+Tab");
  await expect(docs).toBeVisible({ timeout: 10_000 });
  await expect(docs).toContainText(/print\(|Prints the values/);
  await expect(docs).not.toContainText("\x1b");
  await page.keyboard.press("Escape");
  await expect(docs).toBeHidden();
  await expect(editor).toBeFocused();
  await expect(cell(page, 2)).toHaveAttribute("data-mode", "edit");

  // Typing closes it too, and goes into the cell as usual.
  await page.keyboard.press("Shift+Tab");
  await expect(docs).toBeVisible({ timeout: 10_000 });
  await page.keyboard.type("(");
  await expect(docs).toBeHidden();
  await expect(editor).toHaveText(/^print\(/);
});

test("the notebook downloads as it is on screen: as a notebook with its outputs, and as a Python script that runs", async ({ page }) => {
  test.setTimeout(120_000);
  await signIn(page, createAnalyst("download"));
  await openNewNotebook(page, "Export Me.ipynb");
  await runCell(page, 1, "%matplotlib inline\nanswer = 6 * 7\nprint(answer)");
  await expect(output(page, 1)).toContainText("42");
  const editor = cell(page, 2).getByRole("textbox").first();
  await editor.click();
  await editor.fill("print('unsaved', answer)"); // not saved yet: the downloads have it all the same

  const fetched = async (item: string) => {
    await page.getByRole("button", { name: "Download" }).click();
    const downloading = page.waitForEvent("download");
    await page.getByRole("menuitem", { name: item }).click();
    const download = await downloading;
    return { name: download.suggestedFilename(), text: fs.readFileSync((await download.path())!, "utf8") };
  };
  const script = await fetched("Python script (.py)");
  expect(script.name).toBe("Export Me.py");
  expect(script.text).toBe("# %%\n# %matplotlib inline\nanswer = 6 * 7\nprint(answer)\n\n# %%\nprint('unsaved', answer)\n");
  expect(execFileSync("python3", ["-"], { input: script.text, encoding: "utf8" })).toBe("42\nunsaved 42\n");

  const notebook = await fetched("Notebook (.ipynb)");
  expect(notebook.name).toBe("Export Me.ipynb");
  const parsed = JSON.parse(notebook.text) as { cells: { source: string[]; outputs?: { text?: string[] }[] }[] };
  expect(parsed.cells[0]!.outputs?.[0]?.text).toEqual(["42\n"]);
  expect(parsed.cells[1]!.source.join("")).toBe("print('unsaved', answer)");
});
