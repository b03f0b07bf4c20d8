// Issue 7, "Must show", on a real Kubernetes control plane (e2e/clusters/kubernetes: real kube-apiserver, etcd,
// controller-manager and scheduler; a node harness running pods as processes in their own network namespaces
// with real PVC bind mounts), in the browser: an analyst of team Risk signs in (her home claim is made), browses
// her home through her file-server pod, creates a notebook and picks the Kubernetes kernel; the code runs as her
// uid in her home mount; the API server has her pod with her uid/gid, the size's requests and limits and her
// claim; the saved notebook is on her volume; stopping the kernel from the UI deletes the pod. Then a size the
// node cannot fit ends the launch with the scheduler's reason in the notebook, far before the launch deadline,
// and leaves no pod. Runs only with e2e/kubernetes/playwright.k8s.config.ts (`npm test -- k8s-e2e`, as root).
import fs from "node:fs";
import path from "node:path";
import { expect, test, type Page, type TestInfo } from "@playwright/test";
import { LABELS, homeClaimName, selectorOf } from "../../server/kubernetes/names";
import { LAUNCH_TIMEOUT_SECONDS, NODE_CPUS, adminApi, atriumCli, isRoot, readClusterInfo, seconds, until } from "./support";
import { keep, runCell, shot, signIn } from "../support/browser";

test.skip(!process.env.ATRIUM_K8S_E2E, "needs the Kubernetes test cluster: run with e2e/kubernetes/playwright.k8s.config.ts (npm test -- k8s-e2e)");
test.skip(!isRoot, "the Kubernetes test cluster needs root (its node runs pods as users' uids in network namespaces)");

const output = (page: Page, n: number) => page.getByRole("region", { name: `Output ${n}`, exact: true });
const kernelStatus = (page: Page) => page.getByRole("status", { name: "Kernel status" });
const LAUNCH_MS = 120_000; // a pod kernel is up in seconds here; generous for a loaded machine
const FAIL_FAST_MS = 45_000; // a pod that cannot run must end the launch far sooner than the deadline
const STEP_MS = 30_000;
const NAMESPACE = "atrium-risk"; // ATRIUM_K8S_NAMESPACE=atrium-{team}
const ana = { email: "ana@risk.k8s-e2e.test", password: "analyst-password-1", username: "ana" };
let anaUid = 0;

/** Records every text the kernel status shows, however briefly (the launch phases). */
async function recordStatusTexts(page: Page) {
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
}

/** The status texts shown since `since`, with their offsets, printed and kept. The elapsed-time suffix is dropped. */
async function launchPhases(page: Page, info: TestInfo, since: number, label: string): Promise<string[]> {
  const texts = await page.evaluate(() => (window as unknown as { __statusTexts: { t: number; text: string }[] }).__statusTexts);
  const lines: string[] = [];
  for (const s of texts.filter((s) => s.t >= since)) {
    const text = s.text.replace(/ · (\d+ h )?(\d+ min ?)?(\d+ s)?$/, "");
    if (lines.at(-1)?.replace(/^\+\S+ s /, "") !== text) lines.push(`+${seconds(s.t - since)} ${text}`);
  }
  console.log(`[k8s-e2e] kernel status while launching (${label}):\n  ${lines.join("\n  ")}`);
  await keep(info, `launch-phases-${label}.txt`, lines.join("\n") + "\n");
  return lines;
}

/** Pods in the team namespace matching labels, as the cluster admin sees them. */
const podsMatching = async (selector: Record<string, string>) => {
  const r = await adminApi().request("GET", `/api/v1/namespaces/${NAMESPACE}/pods?labelSelector=${encodeURIComponent(selectorOf(selector))}`);
  expect(r.status, r.text).toBe(200);
  return r.json.items as any[];
};

// The team and the analyst, with the real CLI against this portal (before she first signs in: her claim goes
// to her team's namespace). `users list` prints her uid, which her pods must run as.
// Playwright runs beforeAll again in the fresh worker that follows a failed test: she is made once per portal.
test.beforeAll(() => {
  if (!process.env.ATRIUM_K8S_E2E || !isRoot) return;
  if (!atriumCli(["users", "list"]).includes(`${ana.email}\t`)) {
    atriumCli(["teams", "add", "Risk"]);
    expect(atriumCli(["users", "add", ana.email, "--name", "Ana Lyst", "--username", ana.username, "--password-stdin"], ana.password + "\n")).toContain(`username ${ana.username}`);
    atriumCli(["teams", "add-member", "Risk", ana.email]);
  }
  const listed = atriumCli(["users", "list"]).trim().split("\n");
  const header = listed[0]!.split("\t");
  const row = listed.find((line) => line.startsWith(`${ana.email}\t`))!.split("\t");
  anaUid = Number(row[header.indexOf("UID")]);
  expect(anaUid, listed.join("\n")).toBeGreaterThanOrEqual(1000);
  expect(row[header.indexOf("GID")]).toBe(String(anaUid)); // a private group numbered like the uid
});

// Nothing is left running: every kernel of the page's user is shut down through the Jupyter API.
test.afterEach(async ({ page }) => {
  const listed = await page.request.get("/api/kernels").catch(() => undefined);
  if (listed?.ok()) for (const k of (await listed.json()) as { id: string }[]) await page.request.delete(`/api/kernels/${k.id}`).catch(() => {});
});

test("an analyst runs Python in a pod as her own uid with her PVC as home, and stopping the kernel deletes the pod", async ({ page }, info) => {
  const timings: Record<string, string> = {};
  const t0 = Date.now();
  const cluster = readClusterInfo();
  const api = adminApi(cluster);
  await recordStatusTexts(page);

  // Signing in makes her home claim (and nothing else): Bound, in her team's namespace, her storage class.
  await signIn(page, ana, 30_000);
  const claimPath = `/api/v1/namespaces/${NAMESPACE}/persistentvolumeclaims/${homeClaimName(ana.username)}`;
  const claim = await until("her home claim to be Bound", async () => {
    const r = await api.request("GET", claimPath);
    return r.status === 200 && r.json.status?.phase === "Bound" ? r.json : undefined;
  }, STEP_MS);
  expect(claim.spec.storageClassName).toBe(cluster.storageClass);
  expect(claim.metadata.labels[LABELS.user]).toBe(ana.username);

  // Files: her (empty) home, listed through her file-server pod, which runs as her uid with her claim mounted.
  let started = Date.now();
  await expect(page.getByText("This folder is empty")).toBeVisible({ timeout: LAUNCH_MS });
  timings.firstListing = seconds(Date.now() - started);
  const [fileServer] = await podsMatching({ [LABELS.component]: "fileserver", [LABELS.user]: ana.username });
  expect(fileServer, "her file-server pod").toBeTruthy();
  expect(fileServer.spec.securityContext.runAsUser).toBe(anaUid);
  expect(fileServer.spec.volumes.find((v: any) => v.name === "home").persistentVolumeClaim).toEqual({ claimName: homeClaimName(ana.username) });
  console.log(`[k8s-e2e] files through pod ${NAMESPACE}/${fileServer.metadata.name} (uid ${fileServer.spec.securityContext.runAsUser}, ${fileServer.status.phase}); first listing ${timings.firstListing}`);
  await shot(page, info, "1-files-on-pvc");

  // A new notebook (written to her volume by the file server), first on the default local kernel.
  await page.getByRole("button", { name: "New notebook" }).click();
  await expect(page).toHaveURL(/\/notebook\/.+\.ipynb$/, { timeout: STEP_MS });
  const notebookName = decodeURIComponent(new URL(page.url()).pathname.split("/").pop()!);
  await expect(kernelStatus(page)).toHaveText("idle", { timeout: 90_000 });

  // The Kubernetes kernel, picked in the toolbar.
  const picker = page.getByRole("combobox", { name: "Kernel" });
  await expect(picker.locator("option[value=python_kubernetes]")).toHaveText("Python 3 on Kubernetes");
  const pickedAt = Date.now();
  await picker.selectOption("python_kubernetes");
  await expect(kernelStatus(page)).not.toHaveText("idle", { timeout: 15_000 });
  await expect(kernelStatus(page)).toHaveText("idle", { timeout: LAUNCH_MS });
  const launchMs = Date.now() - pickedAt;
  timings.launch = seconds(launchMs);
  const phases = await launchPhases(page, info, pickedAt, "python_kubernetes-medium");
  // What the pod watch reported reached the notebook (creating / scheduled / pulling / running, then connected).
  // The page asks for the phase every 350 ms, and a pod here runs within half a second: a launch shorter than a
  // second may end before a poll lands on a pod phase. The unschedulable test below sees the pod watch's word
  // reach the page every time.
  if (launchMs >= 1_000) {
    expect(phases.join("\n")).toMatch(/creating pod atrium-kernel-|scheduled on atrium-node|pulling image atrium\/kernel:dev|running on atrium-node/);
  }
  expect(phases.at(-1)).toMatch(/idle$/);
  await expect(page.getByRole("combobox", { name: "Size" })).toHaveValue("medium");

  // The code runs as her uid, in her home mount.
  started = Date.now();
  await runCell(page, 1, "import os; print(os.getuid(), os.getcwd())");
  await expect(output(page, 1)).toContainText(`${anaUid} /home/atrium`, { timeout: STEP_MS });
  timings.firstCell = seconds(Date.now() - started);
  await shot(page, info, "2-ran-in-pod");

  // The API server's view of her kernel's pod: her uid/gid, the size's requests and limits, her claim as home.
  const kernels = (await (await page.request.get("/api/kernels")).json()) as { id: string; name: string }[];
  const kernel = kernels.find((k) => k.name === "python_kubernetes");
  expect(kernel, JSON.stringify(kernels)).toBeTruthy();
  const [pod] = await podsMatching({ [LABELS.kernelId]: kernel!.id });
  expect(pod, `a pod labelled with kernel ${kernel!.id}`).toBeTruthy();
  await keep(info, "kernel-pod.json", JSON.stringify(pod, null, 2));
  expect(pod.spec.securityContext).toMatchObject({ runAsUser: anaUid, runAsGroup: anaUid, runAsNonRoot: true });
  const container = pod.spec.containers[0];
  expect(container.resources).toEqual({ requests: { cpu: "2", memory: "8Gi" }, limits: { cpu: "2", memory: "8Gi" } }); // medium: 2 vCores, 8 GB
  expect(pod.spec.volumes.find((v: any) => v.name === "home").persistentVolumeClaim).toEqual({ claimName: homeClaimName(ana.username) });
  expect(container.volumeMounts).toContainEqual(expect.objectContaining({ name: "home", mountPath: "/home/atrium" }));
  expect(pod.metadata.labels).toMatchObject({ [LABELS.user]: ana.username, [LABELS.team]: "Risk", [LABELS.component]: "kernel" });
  expect(pod.status.phase).toBe("Running");
  console.log(
    `[k8s-e2e] pod ${NAMESPACE}/${pod.metadata.name}: runAsUser=${pod.spec.securityContext.runAsUser} runAsGroup=${pod.spec.securityContext.runAsGroup} ` +
      `resources=${JSON.stringify(container.resources)} home=${homeClaimName(ana.username)} podIP=${pod.status.podIP}`,
  );

  // Saved: the notebook is on her volume (the PV's folder on the node), written as her uid, and in the browser.
  started = Date.now();
  await page.keyboard.press("Control+s");
  await expect(page.getByTestId("save-state")).toHaveText(/^Saved \d/, { timeout: STEP_MS });
  timings.save = seconds(Date.now() - started);
  const pv = await api.get(`/api/v1/persistentvolumes/${claim.spec.volumeName}`);
  const volumeDir: string = pv.spec.local?.path ?? pv.spec.hostPath?.path;
  const onVolume = path.join(volumeDir, notebookName);
  const saved = JSON.parse(fs.readFileSync(onVolume, "utf8"));
  const sources = (saved.cells as { source: string | string[] }[]).map((c) => (Array.isArray(c.source) ? c.source.join("") : c.source));
  expect(sources).toContain("import os; print(os.getuid(), os.getcwd())");
  expect(saved.metadata.kernelspec.name).toBe("python_kubernetes");
  expect(fs.statSync(onVolume).uid).toBe(anaUid);
  console.log(`[k8s-e2e] saved ${notebookName} on PV ${pv.metadata.name} (${volumeDir}), owner uid ${fs.statSync(onVolume).uid}`);
  await page.goto("/files");
  await expect(page.getByRole("link", { name: notebookName, exact: true })).toBeVisible({ timeout: STEP_MS });
  await shot(page, info, "3-saved-notebook-in-files");

  // Stopped from the UI (Usage → Stop): the pod is deleted.
  await page.goto("/usage");
  await page.getByRole("button", { name: `Stop kernel ${kernel!.id.slice(0, 8)}` }).click();
  const dialog = page.getByRole("dialog", { name: "Stop this kernel?" });
  started = Date.now();
  await dialog.getByRole("button", { name: "Stop kernel" }).click();
  await until("the kernel's pod to be deleted", async () => (await podsMatching({ [LABELS.kernelId]: kernel!.id })).length === 0, STEP_MS);
  timings.stopToPodGone = seconds(Date.now() - started);
  expect((await api.request("GET", `/api/v1/namespaces/${NAMESPACE}/pods/${pod.metadata.name}`)).status).toBe(404);
  await expect(page.getByText("No kernels running.")).toBeVisible({ timeout: STEP_MS });
  await shot(page, info, "4-kernel-stopped");
  timings.total = seconds(Date.now() - t0);
  console.log(`[k8s-e2e] timings ${JSON.stringify(timings)}`);
  await keep(info, "timings.json", JSON.stringify(timings, null, 2) + "\n");
});

test("a size the node cannot fit ends the launch with the scheduler's reason in the notebook, long before the deadline, and leaves no pod", async ({ page }, info) => {
  await recordStatusTexts(page);
  await signIn(page, ana, 30_000);
  await page.goto("/notebook/Oversized.ipynb");
  await page.getByRole("button", { name: "Create notebook" }).click();
  await expect(kernelStatus(page)).toHaveText("idle", { timeout: 90_000 });
  const picker = page.getByRole("combobox", { name: "Kernel" });
  await picker.selectOption("python_kubernetes");
  await expect(kernelStatus(page)).not.toHaveText("idle", { timeout: 15_000 });
  await expect(kernelStatus(page)).toHaveText("idle", { timeout: LAUNCH_MS });

  // "large" (4 vCores) is within her quota, but the node has NODE_CPUS: the scheduler refuses the pod.
  const size = page.getByRole("combobox", { name: "Size" });
  await expect(size.locator("option[value=large]")).toHaveCount(1);
  const pickedAt = Date.now();
  await size.selectOption("large");
  const refusal = page.getByRole("alert").filter({ hasText: "The kernel didn't start" });
  await expect(refusal).toBeVisible({ timeout: FAIL_FAST_MS });
  const tookMs = Date.now() - pickedAt;
  const message = (await refusal.textContent()) ?? "";
  console.log(`[k8s-e2e] unschedulable size: the notebook said, ${seconds(tookMs)} after the size was picked (launch deadline ${LAUNCH_TIMEOUT_SECONDS} s):\n  ${message}`);
  await launchPhases(page, info, pickedAt, "python_kubernetes-large");
  await shot(page, info, "5-unschedulable-reason");
  expect(message).toMatch(/cannot be scheduled/);
  expect(message).toMatch(/0\/1 nodes are available: .*Insufficient cpu/);
  expect(tookMs).toBeLessThan(LAUNCH_TIMEOUT_SECONDS * 1000 / 4);
  await expect(kernelStatus(page)).toHaveText("dead");

  // No kernel pod of hers is left: neither the medium one it replaced nor the one that could not be scheduled.
  const gone = Date.now();
  await until("her kernel pods to be deleted", async () => (await podsMatching({ [LABELS.component]: "kernel", [LABELS.user]: ana.username })).length === 0, STEP_MS);
  const failedPod = /pod (atrium-risk\/)?(atrium-kernel-[a-z0-9-]+)/.exec(message)?.[2];
  if (failedPod) expect((await adminApi().request("GET", `/api/v1/namespaces/${NAMESPACE}/pods/${failedPod}`)).status).toBe(404);
  await keep(
    info,
    "timings.json",
    JSON.stringify({ pickedToReason: seconds(tookMs), launchDeadline: `${LAUNCH_TIMEOUT_SECONDS} s`, nodeCpus: NODE_CPUS, podsGoneAfterReason: seconds(Date.now() - gone) }, null, 2) + "\n",
  );
});
