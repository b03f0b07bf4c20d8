// The Files page as an analyst uses it: folders, uploads by picker and by drag and drop with progress,
// rename, move, download, delete with confirmation, a new notebook, and a refused traversal through the URL.
import fs from "node:fs";
import path from "node:path";
import zlib from "node:zlib";
import { expect, test, type Page } from "@playwright/test";
import { e2eDataDir } from "../playwright.config";
import { createAnalyst, signIn } from "./support/session";

const list = (page: Page) => page.getByRole("table", { name: /^Files in / });
const row = (page: Page, name: string) => list(page).getByRole("row").filter({ has: page.getByRole("link", { name, exact: true }) });

test("an analyst manages files: folder, uploads, rename, download, delete", async ({ page }) => {
  await signIn(page, createAnalyst("files"));
  await expect(page.getByText("This folder is empty")).toBeVisible();
  await page.screenshot({ path: "e2e/.artifacts/files-empty.png" });
  for (const name of ["New notebook", "New folder", "Upload"]) await expect(page.getByRole("button", { name, exact: true })).toBeVisible();

  // New folder, then into it: the URL follows, the breadcrumbs too.
  await page.getByRole("button", { name: "New folder" }).click();
  const folderDialog = page.getByRole("dialog", { name: "New folder" });
  await folderDialog.getByLabel("Folder name").fill("Q3 reports");
  await folderDialog.getByRole("button", { name: "Create folder" }).click();
  await expect(folderDialog).toBeHidden();
  await page.getByRole("link", { name: "Q3 reports", exact: true }).click();
  await expect(page).toHaveURL(/\/files\/Q3%20reports$/);
  await expect(page.getByRole("navigation", { name: "Breadcrumb" })).toContainText("Q3 reports");
  await expect(page.getByText("This folder is empty")).toBeVisible();

  // Upload by the picker.
  const chooser = page.waitForEvent("filechooser");
  await page.getByRole("button", { name: "Upload" }).click();
  await (await chooser).setFiles({ name: "picked.csv", mimeType: "text/csv", buffer: Buffer.from("region,sales\nnorth,10\n") });
  const pickedUpload = page.getByRole("group", { name: "Upload of picked.csv" });
  await expect(pickedUpload.getByRole("progressbar", { name: "Upload progress for picked.csv" })).toHaveAttribute("aria-valuenow", "100");
  await expect(pickedUpload).toContainText("Uploaded");
  await expect(row(page, "picked.csv")).toContainText("22 B");

  // Upload by dropping a file onto the list.
  const dataTransfer = await page.evaluateHandle(() => {
    const transfer = new DataTransfer();
    transfer.items.add(new File(["dropped by drag and drop\n"], "dropped.txt", { type: "text/plain" }));
    return transfer;
  });
  await list(page).dispatchEvent("dragenter", { dataTransfer });
  await expect(page.getByText("Drop to upload to Q3 reports")).toBeVisible();
  await list(page).dispatchEvent("drop", { dataTransfer });
  const droppedUpload = page.getByRole("group", { name: "Upload of dropped.txt" });
  await expect(droppedUpload.getByRole("progressbar", { name: "Upload progress for dropped.txt" })).toHaveAttribute("aria-valuenow", "100");
  await expect(droppedUpload).toContainText("Uploaded");
  await expect(row(page, "dropped.txt")).toBeVisible();
  await page.screenshot({ path: "e2e/.artifacts/files-after-uploads.png" });

  // The same name again is refused, with a way to replace it.
  const again = page.waitForEvent("filechooser");
  await page.getByRole("button", { name: "Upload" }).click();
  await (await again).setFiles({ name: "picked.csv", mimeType: "text/csv", buffer: Buffer.from("region,sales\nsouth,20\n") });
  const conflict = page.getByRole("group", { name: "Upload of picked.csv" }).last();
  await expect(conflict.getByRole("alert")).toContainText('"Q3 reports/picked.csv" already exists');
  await page.screenshot({ path: "e2e/.artifacts/files-upload-conflict.png" });
  await conflict.getByRole("button", { name: "Replace" }).click();
  await expect(conflict).toContainText("Uploaded");

  // A name with a backslash (legal on Linux and macOS) would land in another folder here: refused, saying why.
  const slashed = page.waitForEvent("filechooser");
  await page.getByRole("button", { name: "Upload" }).click();
  await (await slashed).setFiles({ name: "back\\slash.txt", mimeType: "text/plain", buffer: Buffer.from("x") });
  await expect(page.getByRole("group", { name: "Upload of back\\slash.txt" }).getByRole("alert")).toContainText(
    'back\\slash.txt can\'t be uploaded under that name: a name here cannot contain "\\" or "/". Rename it on your computer, then upload it.',
  );

  // Rename.
  await row(page, "picked.csv").getByRole("button", { name: "Rename" }).click();
  const renameDialog = page.getByRole("dialog", { name: "Rename file" });
  await renameDialog.getByLabel("New name").fill("sales.csv");
  await renameDialog.getByRole("button", { name: "Rename" }).click();
  await expect(renameDialog).toBeHidden();
  await expect(row(page, "sales.csv")).toBeVisible();
  await expect(row(page, "picked.csv")).toHaveCount(0);

  // A name that is taken is explained in the dialog.
  await row(page, "sales.csv").getByRole("button", { name: "Rename" }).click();
  await renameDialog.getByLabel("New name").fill("dropped.txt");
  await renameDialog.getByRole("button", { name: "Rename" }).click();
  await expect(renameDialog.getByRole("alert")).toContainText('Something named "dropped.txt" is already in this folder. Choose another name.');
  await page.screenshot({ path: "e2e/.artifacts/files-rename-conflict.png" });
  await renameDialog.getByRole("button", { name: "Cancel" }).click();

  // Download: the row action gives the file's bytes; the name opens the file in the viewer (its own test is below).
  const viaAction = page.waitForEvent("download");
  await row(page, "sales.csv").getByRole("button", { name: "Download" }).click();
  const downloaded = await viaAction;
  expect(downloaded.suggestedFilename()).toBe("sales.csv");
  expect(fs.readFileSync(await downloaded.path(), "utf8")).toBe("region,sales\nsouth,20\n");
  await expect(page.getByRole("link", { name: "dropped.txt", exact: true })).toHaveAttribute("href", "/view/Q3%20reports/dropped.txt");

  // Sorting: by size, largest first on the second click. The whole header cell sorts, not only its label: these
  // clicks land at the cell's left edge, away from the right-aligned "Size" (they used to do nothing).
  const sizeHeader = list(page).getByRole("columnheader", { name: "Size" });
  await expect(sizeHeader.locator("button, a, input, [tabindex]")).toHaveCount(1); // one control per header, none nested
  await sizeHeader.click({ position: { x: 3, y: 3 } });
  await expect(sizeHeader).toHaveAttribute("aria-sort", "ascending");
  await sizeHeader.click({ position: { x: 3, y: 3 } });
  await expect(sizeHeader).toHaveAttribute("aria-sort", "descending");
  await expect(list(page).getByRole("row").nth(1)).toContainText("dropped.txt");
  // And by keyboard: the header's one button, Enter.
  const modifiedHeader = list(page).getByRole("columnheader", { name: "Modified" });
  await modifiedHeader.getByRole("button", { name: "Modified" }).focus();
  await page.keyboard.press("Enter");
  await expect(modifiedHeader).toHaveAttribute("aria-sort", "descending");
  await expect(sizeHeader).toHaveAttribute("aria-sort", "none");

  // Delete, confirmed in a dialog; cancelling keeps the file.
  await row(page, "dropped.txt").getByRole("button", { name: "Delete" }).click();
  const deleteDialog = page.getByRole("dialog", { name: "Delete file?" });
  await expect(deleteDialog).toContainText("dropped.txt will be deleted");
  await expect(deleteDialog).toHaveCSS("opacity", "1"); // opened fully, for the screenshot
  await page.screenshot({ path: "e2e/.artifacts/files-delete-confirm.png" });
  await deleteDialog.getByRole("button", { name: "Cancel" }).click();
  await expect(row(page, "dropped.txt")).toBeVisible();
  await row(page, "dropped.txt").getByRole("button", { name: "Delete" }).click();
  await deleteDialog.getByRole("button", { name: "Delete" }).click();
  await expect(deleteDialog).toBeHidden();
  await expect(row(page, "dropped.txt")).toHaveCount(0);

  // Back and forward move between folders.
  await page.getByRole("navigation", { name: "Breadcrumb" }).getByRole("link", { name: "Home" }).click();
  await expect(page).toHaveURL(/\/files$/);
  await expect(row(page, "Q3 reports")).toBeVisible();
  await page.goBack();
  await expect(page).toHaveURL(/\/files\/Q3%20reports$/);
  await expect(row(page, "sales.csv")).toBeVisible();
  await page.goForward();
  await expect(page).toHaveURL(/\/files$/);

  // A name with "%" and spaces reads the same after a client navigation and after a full load.
  await page.getByRole("button", { name: "New folder" }).click();
  await folderDialog.getByLabel("Folder name").fill("100% done");
  await folderDialog.getByRole("button", { name: "Create folder" }).click();
  await page.getByRole("link", { name: "100% done", exact: true }).click();
  await expect(page).toHaveURL(/\/files\/100%25%20done$/);
  const here = page.getByRole("navigation", { name: "Breadcrumb" }).locator('[aria-current="page"]');
  await expect(here).toHaveText("100% done");
  await expect(page.getByText("This folder is empty")).toBeVisible();
  await page.reload();
  await expect(here).toHaveText("100% done");
  await expect(page.getByText("This folder is empty")).toBeVisible();
  await page.goBack();

  // Deleting a folder says it takes everything inside.
  await row(page, "Q3 reports").getByRole("button", { name: "Delete" }).click();
  const folderDelete = page.getByRole("dialog", { name: "Delete folder?" });
  await expect(folderDelete).toContainText("and everything in it will be deleted");
  await folderDelete.getByRole("button", { name: "Delete" }).click();
  await expect(row(page, "Q3 reports")).toHaveCount(0);
});

test("New notebook creates Untitled.ipynb and opens it", async ({ page }) => {
  await signIn(page, createAnalyst("notebook"));
  await page.getByRole("button", { name: "New notebook" }).click();
  await expect(page).toHaveURL(/\/notebook\/Untitled\.ipynb$/);
  await page.goto("/files");
  await expect(row(page, "Untitled.ipynb")).toBeVisible();
  await expect(row(page, "Untitled.ipynb").getByRole("link", { name: "Untitled.ipynb" })).toHaveAttribute("href", "/notebook/Untitled.ipynb");
  // The file is a valid nbformat 4.5 notebook.
  const response = await page.request.get("/api/files/content/Untitled.ipynb");
  expect(response.status()).toBe(200);
  const notebook = await response.json();
  expect([notebook.nbformat, notebook.nbformat_minor, notebook.metadata.kernelspec.name]).toEqual([4, 5, "python3"]);
  expect(notebook.cells.map((c: { cell_type: string; source: string[] }) => [c.cell_type, c.source])).toEqual([["code", []]]);
  // A second one is Untitled1.ipynb.
  await page.getByRole("button", { name: "New notebook" }).click();
  await expect(page).toHaveURL(/\/notebook\/Untitled1\.ipynb$/);
});

test("a file and a folder are moved to another folder from the Move dialog; a name taken there is refused", async ({ page }) => {
  await signIn(page, createAnalyst("mover"));
  const newFolder = async (name: string) => {
    await page.getByRole("button", { name: "New folder" }).click();
    const dialog = page.getByRole("dialog", { name: "New folder" });
    await dialog.getByLabel("Folder name").fill(name);
    await dialog.getByRole("button", { name: "Create folder" }).click();
    await expect(dialog).toBeHidden();
  };
  await newFolder("archive");
  await newFolder("drafts");
  const upload = async (name: string, text: string) => {
    const response = await page.request.put(`/api/files/content/${name}`, { data: text, headers: { "content-type": "text/plain" } });
    expect(response.status(), await response.text()).toBeLessThan(300);
  };
  await upload("notes.txt", "first notes\n");
  await page.reload();

  // A file: the dialog starts where it is (nothing to do there), then into archive.
  await row(page, "notes.txt").getByRole("button", { name: "Move" }).click();
  const dialog = page.getByRole("dialog", { name: "Move notes.txt" });
  await expect(dialog).toContainText("notes.txt is in Home now: pick the folder to move it to.");
  await expect(dialog.getByRole("button", { name: "Move here" })).toBeDisabled();
  await dialog.getByRole("navigation", { name: "Folders" }).getByRole("button", { name: "archive" }).click();
  await expect(dialog).toContainText("notes.txt will move to Home / archive.");
  await page.screenshot({ path: "e2e/.artifacts/files-move-dialog.png" });
  await dialog.getByRole("button", { name: "Move here" }).click();
  await expect(dialog).toBeHidden();
  await expect(row(page, "notes.txt")).toHaveCount(0);

  // A folder: it is not offered as a place to move itself into.
  await row(page, "drafts").getByRole("button", { name: "Move" }).click();
  const folderDialog = page.getByRole("dialog", { name: "Move drafts" });
  const folders = folderDialog.getByRole("navigation", { name: "Folders" });
  await expect(folders.getByRole("button", { name: "archive" })).toBeVisible();
  await expect(folders.getByRole("button", { name: "drafts" })).toHaveCount(0);
  await folders.getByRole("button", { name: "archive" }).click();
  await folderDialog.getByRole("button", { name: "Move here" }).click();
  await expect(folderDialog).toBeHidden();
  await expect(row(page, "drafts")).toHaveCount(0);
  await page.getByRole("link", { name: "archive", exact: true }).click();
  await expect(row(page, "notes.txt")).toBeVisible();
  await expect(row(page, "drafts")).toBeVisible();
  expect((await page.request.get("/api/files/content/archive/notes.txt")).status()).toBe(200);

  // A name already in the destination: refused in the dialog, which stays open; nothing is replaced.
  await upload("notes.txt", "second notes\n");
  await page.goto("/files");
  await row(page, "notes.txt").getByRole("button", { name: "Move" }).click();
  const again = page.getByRole("dialog", { name: "Move notes.txt" });
  await again.getByRole("navigation", { name: "Folders" }).getByRole("button", { name: "archive" }).click();
  await again.getByRole("button", { name: "Move here" }).click();
  await expect(again.getByRole("alert")).toContainText('"notes.txt" already exists in that folder');
  await again.getByRole("button", { name: "Cancel" }).click();
  expect(await (await page.request.get("/api/files/content/archive/notes.txt")).text()).toBe("first notes\n");
  expect(await (await page.request.get("/api/files/content/notes.txt")).text()).toBe("second notes\n");
});

test("a traversal through the URL is refused with a clear message", async ({ page }) => {
  await signIn(page, createAnalyst("traversal"));
  await page.goto("/files/..%2F..");
  const alert = page.getByRole("main").getByRole("alert");
  await expect(alert).toContainText("This address does not lead to a folder in your home");
  await expect(alert).toContainText('contains "..", which would leave the folder it names');
  await expect(page.getByRole("link", { name: "Go to your home folder" })).toBeVisible();
  await page.screenshot({ path: "e2e/.artifacts/files-traversal.png" });

  // The byte routes refuse the same, and a missing folder is explained in place.
  const raw = await page.request.get("/api/files/content/..%2F..%2Fetc%2Fpasswd");
  expect(raw.status()).toBe(400);
  await page.goto("/files/no-such-folder");
  await expect(alert).toContainText('"no-such-folder" does not exist');
});

test("a folder of 10,000 files stays smooth", async ({ page }) => {
  const analyst = createAnalyst("many");
  await signIn(page, analyst);
  // Made on disk directly: 10,000 uploads would test the network, not the list.
  const home = await homeFolderOf(page);
  fs.mkdirSync(path.join(home, "many"));
  for (let i = 0; i < 10_000; i++) fs.writeFileSync(path.join(home, "many", `file-${String(i).padStart(5, "0")}.txt`), "x");
  const started = Date.now();
  await page.goto("/files/many");
  await expect(row(page, "file-00000.txt")).toBeVisible();
  const shown = Date.now() - started;
  // Only the rows in view are in the page, however long the folder.
  const rendered = await list(page).getByRole("row").count();
  expect(rendered).toBeLessThan(100);
  await expect(list(page)).toHaveAttribute("aria-rowcount", "10001");
  // Scrolling to the end reaches the last file.
  await list(page).evaluate((el) => (el.scrollTop = el.scrollHeight));
  await expect(row(page, "file-09999.txt")).toBeVisible();
  test.info().annotations.push({ type: "timing", description: `10,000 entries shown in ${shown} ms; ${rendered} rows in the DOM` });
  expect(shown).toBeLessThan(10_000);
});

/** The analyst's home folder on disk (the embedded default keeps homes in <data dir>/homes). */
async function homeFolderOf(page: Page): Promise<string> {
  const me = await page.request.get("/api/trpc/me.get");
  const username = (await me.json()).result.data.json.username as string;
  const home = path.join(e2eDataDir, "homes", username);
  if (!fs.existsSync(home)) throw new Error(`no home folder for ${username} at ${home}`);
  return home;
}

test("an upload goes on while the analyst opens another folder and another page", async ({ page }) => {
  await signIn(page, createAnalyst("uploads-on"));
  await page.getByRole("button", { name: "New folder" }).click();
  const folderDialog = page.getByRole("dialog", { name: "New folder" });
  await folderDialog.getByLabel("Folder name").fill("elsewhere");
  await folderDialog.getByRole("button", { name: "Create folder" }).click();
  await expect(folderDialog).toBeHidden();

  // 48 MiB: still on its way when the analyst moves on (the browser streams it through the portal to the home).
  const big = Buffer.alloc(48 * 1024 * 1024, "x");
  const chooser = page.waitForEvent("filechooser");
  await page.getByRole("button", { name: "Upload" }).click();
  await (await chooser).setFiles({ name: "big.bin", mimeType: "application/octet-stream", buffer: big });
  await page.getByRole("link", { name: "elsewhere", exact: true }).click();
  await expect(page).toHaveURL(/\/files\/elsewhere$/);
  await page.getByRole("navigation", { name: "Main" }).getByRole("link", { name: "Notebooks" }).click();
  await expect(page).toHaveURL(/\/notebooks/);
  await page.getByRole("navigation", { name: "Main" }).getByRole("link", { name: "Files" }).click();
  const upload = page.getByRole("group", { name: "Upload of big.bin" });
  await expect(upload).toContainText("Uploaded", { timeout: 60_000 });
  await expect(row(page, "big.bin")).toContainText("48");

  // A folder can't be downloaded: its row has Rename and Delete and no Download button (a disabled one looked
  // pressed), and its Rename and Delete stay in line with a file's.
  const folder = row(page, "elsewhere");
  const file = row(page, "big.bin");
  await expect(folder.getByRole("button", { name: "Download" })).toHaveCount(0);
  await expect(file.getByRole("button", { name: "Download" })).toBeVisible();
  for (const name of ["Rename", "Delete"]) {
    const inFolder = await folder.getByRole("button", { name }).boundingBox();
    const inFile = await file.getByRole("button", { name }).boundingBox();
    expect(inFolder?.x).toBe(inFile?.x);
  }
  await page.screenshot({ path: "e2e/.artifacts/files-folder-row-actions.png" });
});

test("a file opens in the viewer: a CSV as a table, text, a long text cut, images, a binary file", async ({ page }) => {
  await signIn(page, createAnalyst("viewer"));
  // Made on disk directly: this is about showing files, not uploading them.
  const home = await homeFolderOf(page);
  const dir = path.join(home, "data");
  fs.mkdirSync(dir);
  const csv = 'region,note,sales\nnorth,"Smith, Jo",10\nsouth,"said ""hi""\nthen left",20\n';
  fs.writeFileSync(path.join(dir, "sales.csv"), csv);
  fs.writeFileSync(path.join(dir, "notes.txt"), "first line\n\tindented second line\n");
  fs.writeFileSync(path.join(dir, "big.log"), `${"x".repeat(63)}\n`.repeat((3 * 1024 * 1024) / 64)); // exactly 3 MiB
  fs.writeFileSync(path.join(dir, "chart.png"), solidPng(120, 60, [34, 139, 230]));
  fs.writeFileSync(path.join(dir, "logo.svg"), '<svg xmlns="http://www.w3.org/2000/svg" width="80" height="40"><rect width="80" height="40" fill="teal"/><script>parent.svgRan = true</script></svg>');
  fs.writeFileSync(path.join(dir, "weights.dat"), Buffer.from([0x01, 0x02, 0x00, 0x03, 0xff]));

  // Clicking a CSV's name shows it as a table, with a quoted comma and a quoted line break parsed right.
  await page.goto("/files/data");
  await page.getByRole("link", { name: "sales.csv", exact: true }).click();
  await expect(page).toHaveURL(/\/view\/data\/sales\.csv$/);
  const viewer = (name: string) => page.getByRole("region", { name, exact: true });
  const table = viewer("sales.csv").getByRole("table", { name: "sales.csv" });
  await expect(table.getByRole("columnheader")).toHaveText(["region", "note", "sales"]);
  await expect(table.getByRole("row")).toHaveCount(3);
  await expect(table.getByRole("row").nth(1).getByRole("cell")).toHaveText(["north", "Smith, Jo", "10"]);
  await expect(table.getByRole("row").nth(2).getByRole("cell").nth(1)).toHaveAttribute("title", 'said "hi"\nthen left');
  await expect(page.getByRole("navigation", { name: "Breadcrumb" }).locator('[aria-current="page"]')).toHaveText("sales.csv");
  await expect(page.getByText(`${csv.length} B · Modified`)).toBeVisible();
  await page.screenshot({ path: "e2e/.artifacts/viewer-csv.png" });

  // Download works from the viewer, and gives the whole file.
  const downloading = page.waitForEvent("download");
  await page.getByRole("button", { name: "Download", exact: true }).click();
  const downloaded = await downloading;
  expect(downloaded.suggestedFilename()).toBe("sales.csv");
  expect(fs.readFileSync(await downloaded.path(), "utf8")).toBe(csv);

  // The same file as text.
  await viewer("sales.csv").getByRole("switch", { name: "Show as text" }).check();
  await expect(viewer("sales.csv").getByRole("region", { name: "Text of sales.csv" })).toContainText('north,"Smith, Jo",10');
  await expect(table).toHaveCount(0);

  // A text file, whole: no note about a cut.
  await page.getByRole("navigation", { name: "Breadcrumb" }).getByRole("link", { name: "data" }).click();
  await page.getByRole("link", { name: "notes.txt", exact: true }).click();
  await expect(viewer("notes.txt").getByRole("region", { name: "Text of notes.txt" })).toContainText("\tindented second line");
  await expect(page.getByText("Showing the first")).toHaveCount(0);

  // A big text file: only its first MiB is read and shown, and the page says so.
  await page.goto("/view/data/big.log");
  await expect(viewer("big.log").getByText("Showing the first 1 MiB of 3 MiB")).toBeVisible();
  await expect(viewer("big.log").getByRole("link", { name: "Download the whole file" })).toHaveAttribute("href", "/api/files/content/data/big.log");
  expect(await viewer("big.log").locator("pre").evaluate((pre) => pre.textContent?.length)).toBe(1024 * 1024);
  await page.screenshot({ path: "e2e/.artifacts/viewer-text-cut.png" });

  // Images: drawn, no wider than the page; an SVG's script does not run.
  await page.goto("/view/data/chart.png");
  const png = viewer("chart.png").getByRole("img", { name: "chart.png" });
  await expect.poll(() => png.evaluate((img: HTMLImageElement) => img.naturalWidth)).toBe(120);
  await expect(png).toHaveCSS("max-width", "100%");
  await page.screenshot({ path: "e2e/.artifacts/viewer-image.png" });
  await page.goto("/view/data/logo.svg");
  const svg = viewer("logo.svg").getByRole("img", { name: "logo.svg" });
  await expect.poll(() => svg.evaluate((img: HTMLImageElement) => img.naturalWidth)).toBe(80);
  expect(await page.evaluate(() => (window as { svgRan?: boolean }).svgRan)).toBeUndefined();

  // Bytes that are not text: said plainly, with Download.
  await page.goto("/view/data/weights.dat");
  await expect(viewer("weights.dat")).toContainText("This file can't be shown here");
  await expect(page.getByRole("button", { name: "Download", exact: true })).toBeVisible();
  await page.screenshot({ path: "e2e/.artifacts/viewer-binary.png" });

  // A missing file is explained with the way back; a traversal is refused, by the page and by the procedure.
  await page.goto("/view/data/gone.csv");
  const alert = page.getByRole("main").getByRole("alert");
  await expect(alert).toContainText('"gone.csv" doesn\'t exist');
  await expect(alert.getByRole("link", { name: "Back to Files" })).toHaveAttribute("href", "/files/data");
  await page.screenshot({ path: "e2e/.artifacts/viewer-missing.png" });
  await page.goto("/view/..%2F..%2Fetc%2Fpasswd");
  await expect(alert).toContainText("This address does not lead to a file in your home");
  await expect(alert).toContainText('contains "..", which would leave the folder it names');
  const probe = await page.request.get(`/api/trpc/files.preview?input=${encodeURIComponent(JSON.stringify({ json: { path: "../../etc/passwd" } }))}`);
  expect(probe.status()).toBe(400);
});

/** A PNG of one colour, made here so the test needs no image files. */
test("a text file is edited in the viewer: saved with Ctrl+S and on leaving, never over a change made on disk meanwhile", async ({ page }) => {
  await signIn(page, createAnalyst("editor"));
  const home = await homeFolderOf(page);
  const file = path.join(home, "helpers.py");
  fs.writeFileSync(file, "def rate(x):\n    return x * 2\n");
  await page.goto("/files");
  await page.getByRole("link", { name: "helpers.py", exact: true }).click();
  await expect(page).toHaveURL(/\/view\/helpers\.py$/);
  const editor = page.getByRole("textbox", { name: "Editor of helpers.py" });
  const status = page.getByRole("status", { name: "Save status" });
  await expect(editor).toContainText("return x * 2");
  await expect(status).toHaveText(/^Saved /);

  // Ctrl+S writes it at once. (insertText: typed keys would be auto-indented, as they should be.)
  await editor.click();
  await page.keyboard.press("Control+a");
  await page.keyboard.insertText("def rate(x):\n    return x * 2\n\ndef half(x):\n    return x / 2\n");
  await expect(status).toHaveText("Unsaved changes");
  await page.keyboard.press("Control+s");
  await expect(status).toHaveText(/^Saved \d/);
  expect(fs.readFileSync(file, "utf8")).toBe("def rate(x):\n    return x * 2\n\ndef half(x):\n    return x / 2\n");
  await page.screenshot({ path: "e2e/.artifacts/viewer-editor.png" });

  // Changed on disk meanwhile (a job, another window): the next save asks, and the file stays as it was until
  // the user chooses. Overwrite keeps theirs; then, changed again, Reload shows the file's.
  await new Promise((resolve) => setTimeout(resolve, 20));
  fs.writeFileSync(file, "# written by a job\n");
  await editor.click();
  await page.keyboard.insertText("# mine\n");
  await status.click(); // Ctrl+S saves from anywhere on the page, not only from inside the editor
  await expect(editor).not.toBeFocused();
  await page.keyboard.press("Control+s");
  const asked = page.getByRole("alert").filter({ hasText: "This file changed on disk" });
  await expect(asked).toBeVisible();
  await expect(status).toHaveText("Changed on disk");
  expect(fs.readFileSync(file, "utf8")).toBe("# written by a job\n");
  await asked.getByRole("button", { name: "Overwrite" }).click();
  await expect(status).toHaveText(/^Saved \d/);
  expect(fs.readFileSync(file, "utf8")).toContain("# mine");
  await expect(asked).toHaveCount(0);

  await new Promise((resolve) => setTimeout(resolve, 20));
  fs.writeFileSync(file, "# the job again\n");
  await editor.click();
  await page.keyboard.insertText("x = 1\n");
  await page.keyboard.press("Control+s");
  await asked.getByRole("button", { name: "Reload" }).click();
  await expect(editor).toHaveText("# the job again");
  await expect(status).toHaveText(/^Saved /);
  expect(fs.readFileSync(file, "utf8")).toBe("# the job again\n");

  // Edits not yet saved are saved on leaving the page inside the portal (no question, nothing lost).
  await editor.click();
  await page.keyboard.press("Control+a");
  await page.keyboard.insertText("# the job again\ny = 2\n");
  await page.getByRole("link", { name: "Files", exact: true }).first().click();
  await expect(page).toHaveURL(/\/files/);
  await expect.poll(() => fs.readFileSync(file, "utf8"), { timeout: 10_000 }).toBe("# the job again\ny = 2\n");
});

function solidPng(width: number, height: number, [r, g, b]: [number, number, number]): Buffer {
  const chunk = (type: string, data: Buffer) => {
    const body = Buffer.concat([Buffer.from(type, "latin1"), data]);
    const length = Buffer.alloc(4);
    length.writeUInt32BE(data.length);
    const crc = Buffer.alloc(4);
    crc.writeUInt32BE(zlib.crc32(body));
    return Buffer.concat([length, body, crc]);
  };
  const header = Buffer.alloc(13);
  header.writeUInt32BE(width, 0);
  header.writeUInt32BE(height, 4);
  header.set([8, 2, 0, 0, 0], 8); // 8 bits per channel, RGB
  const row = Buffer.concat([Buffer.from([0]), Buffer.from(Array.from({ length: width }, () => [r, g, b]).flat())]);
  const pixels = zlib.deflateSync(Buffer.concat(Array.from({ length: height }, () => row)));
  return Buffer.concat([Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]), chunk("IHDR", header), chunk("IDAT", pixels), chunk("IEND", Buffer.alloc(0))]);
}
