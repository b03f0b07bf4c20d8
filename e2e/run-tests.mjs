#!/usr/bin/env node
// `npm test`: provisions what the suites need (cached), then runs every suite and prints one closing line,
// "N passed, N failed". `npm test -- unit` (or integration, python, e2e, typecheck) runs just that one.
//   typecheck    tsc over the whole project
//   unit         *.test.ts: pure logic, no services
//   integration  *.db.test.ts on PGlite AND on a private real Postgres; *.int.test.ts (real ipykernel, processes,
//                Debian's OpenLDAP server)
//   python       pytest for the kernel launchers
//   e2e          Playwright in Debian's Chromium against the production build
//   yarn-e2e     Playwright against a portal on the real Hadoop mini cluster (YARN kernels, HDFS homes)
//   k8s-e2e      Playwright against a portal on the real Kubernetes test cluster (pod kernels, PVC homes); root only
import { spawn, spawnSync } from "node:child_process";
import fs from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { ensureChromium, ensureKernelVenv, ensurePostgres, ensureSlapd } from "./provision/provision.mjs";
import { startPostgres } from "./support/postgres.mjs";

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..");
const all = ["typecheck", "unit", "integration", "python", "e2e", "yarn-e2e", "k8s-e2e"];
const selected = process.argv.slice(2).filter((a) => !a.startsWith("-"));
const suites = selected.length ? selected : all;
for (const s of suites) if (!all.includes(s)) fail(`Unknown suite "${s}". Suites: ${all.join(", ")}.`);

function fail(message) {
  console.error(message);
  process.exit(2);
}

function findFiles(suffix, dirs = ["server", "db", "app", "e2e/support", "e2e/clusters"]) {
  const out = [];
  const walk = (dir) => {
    if (!fs.existsSync(dir)) return;
    for (const entry of fs.readdirSync(dir, { withFileTypes: true })) {
      if (entry.name === "node_modules" || entry.name.startsWith(".")) continue;
      const full = path.join(dir, entry.name);
      if (entry.isDirectory()) walk(full);
      else if (entry.name.endsWith(suffix)) out.push(path.relative(root, full));
    }
  };
  for (const d of dirs) walk(path.join(root, d));
  return out.sort();
}

const totals = { passed: 0, failed: 0, skipped: 0 };
const problems = [];
/** How long each step took, printed at the end: where a slow run's time went. */
const timings = [];
const minutesSeconds = (ms) => {
  const seconds = Math.round(ms / 1000);
  return `${Math.floor(seconds / 60)}:${String(seconds % 60).padStart(2, "0")}`;
};

/**
 * Runs a step, streaming its output, and adds what its runner reported to the totals. A step run beside another
 * (`sideBySide`) has a `tag`: each of its lines is printed with it, so the two read apart in the log.
 */
function step(name, cmd, args, { env = {}, parse, timeoutMs = 30 * 60_000, tag } = {}) {
  const label = tag ? `${name} [${tag}]` : name;
  console.log(`\n━━ ${label}`);
  const startedAt = Date.now();
  return new Promise((resolve) => {
    const child = spawn(cmd, args, { cwd: root, env: { ...process.env, ...env }, stdio: ["ignore", "pipe", "pipe"] });
    let output = "";
    const take = (stream, sink) => {
      stream.setEncoding("utf8"); // a character split between chunks is joined, not garbled
      let partial = "";
      stream.on("data", (chunk) => {
        output += chunk;
        if (!tag) return void sink.write(chunk);
        const lines = (partial + chunk).split("\n");
        partial = lines.pop();
        for (const line of lines) sink.write(`[${tag}] ${line}\n`);
      });
      stream.on("end", () => partial && sink.write(`[${tag}] ${partial}\n`));
    };
    take(child.stdout, process.stdout);
    take(child.stderr, process.stderr);
    const timer = setTimeout(() => {
      problems.push(`${label}: timed out after ${timeoutMs / 60000} minutes`);
      child.kill("SIGKILL");
    }, timeoutMs);
    child.on("close", (code) => {
      clearTimeout(timer);
      timings.push({ name: label, ms: Date.now() - startedAt });
      const counts = parse ? parse(output) : { passed: 0, failed: 0, skipped: 0 };
      totals.passed += counts.passed;
      totals.failed += counts.failed;
      totals.skipped += counts.skipped;
      if (code !== 0 && counts.failed === 0) problems.push(`${label}: exited with ${code} without reporting a failed test`);
      if (counts.failed > 0) problems.push(`${label}: ${counts.failed} failed${indent(failingTests(output))}`);
      resolve();
    });
  });
}

/**
 * Steps that share nothing (ports, data dirs, clusters are per step) run side by side: most of their time is
 * spent waiting on kernels, clusters and browsers, not on the CPU, so two lanes nearly halve the wall time.
 */
async function sideBySide(...steps) {
  if (steps.length <= 1) return steps[0]?.();
  const startedAt = Date.now();
  await Promise.all(steps.map((run) => run()));
  timings.push({ name: "  (the steps above, side by side)", ms: Date.now() - startedAt });
}

const last = (output, re) => {
  const matches = [...output.matchAll(re)];
  return matches.length ? Number(matches[matches.length - 1][1]) : 0;
};
const parseNode = (output) => ({ passed: last(output, /^ℹ pass (\d+)/gm), failed: last(output, /^ℹ fail (\d+)/gm), skipped: last(output, /^ℹ skipped (\d+)/gm) + last(output, /^ℹ todo (\d+)/gm) });
const parsePytest = (output) => {
  const line = [...output.matchAll(/^=+ (.*) in [\d.]+s.* =+$/gm)].pop()?.[1] ?? "";
  const n = (word) => Number(new RegExp(`(\\d+) ${word}`).exec(line)?.[1] ?? 0);
  return { passed: n("passed"), failed: n("failed") + n("error"), skipped: n("skipped") };
};
const parsePlaywright = (output) => ({
  passed: last(output, /^\s+(\d+) passed/gm),
  failed: last(output, /^\s+(\d+) failed/gm) + last(output, /^\s+(\d+) flaky/gm),
  skipped: last(output, /^\s+(\d+) skipped/gm),
});
/**
 * What the runner said of its failing tests, repeated at the end of the log: a long run's log is often read
 * from its tail, and the failure itself may be thousands of lines up, between two lanes' interleaved output.
 */
function failingTests(output) {
  const lines = output.split("\n");
  const nodeSummary = lines.lastIndexOf("✖ failing tests:"); // node's spec reporter: names, then each error
  if (nodeSummary >= 0) return lines.slice(nodeSummary + 1).filter((l) => l.trim() && !/\(?node:(internal|async_hooks)/.test(l)).slice(0, 60);
  const playwrightCount = lines.findLastIndex((l) => /^\s+\d+ (failed|flaky)$/.test(l)); // then "[project] › file:line › title"
  if (playwrightCount >= 0) return lines.slice(playwrightCount + 1).filter((l) => /^\s+\[/.test(l)).slice(0, 20);
  return lines.filter((l) => /^(FAILED|ERROR) /.test(l)).slice(0, 20); // pytest's short summary
}
const indent = (lines) => (lines.length ? `\n${lines.map((l) => `    ${l.trimEnd()}`).join("\n")}` : "");
const nodeTest = (files) => [process.execPath, ["--import", "tsx", "--test", "--test-reporter=spec", "--test-timeout=300000", ...files]];

/**
 * Kernels outlive the portal by design (a restarted portal reattaches them), so a browser suite that ends with
 * a kernel still running would leave it behind once its data dir is wiped. After each browser suite, end the
 * kernels started from this checkout's artifacts folder (and nothing else).
 */
function endKernelsUnder(dir) {
  const result = spawnSync("pkill", ["-f", `ipykernel_launcher -f ${dir}`], { stdio: "ignore" });
  if (result.status === 0) console.log(`(ended kernels left running under ${path.relative(root, dir)})`);
}

let postgres;
let exiting = false;
const cleanup = () => {
  if (exiting) return;
  exiting = true;
  try {
    postgres?.stop();
  } catch (error) {
    console.error(`Could not stop the test Postgres: ${error.message}`);
  }
};
process.on("SIGINT", () => (cleanup(), process.exit(130)));
process.on("SIGTERM", () => (cleanup(), process.exit(143)));

try {
  const needsPython = suites.some((s) => ["integration", "python", "e2e", "yarn-e2e", "k8s-e2e"].includes(s));
  const python = needsPython ? ensureKernelVenv() : undefined;
  const testEnv = { NEXT_TELEMETRY_DISABLED: "1", ...(python ? { ATRIUM_PYTHON: python } : {}) };

  if (suites.includes("typecheck")) {
    await step("typecheck (tsc --noEmit)", process.execPath, [path.join(root, "node_modules/typescript/bin/tsc"), "--noEmit", "-p", "."], {
      parse: (out) => (/error TS\d+/.test(out) ? { passed: 0, failed: 1, skipped: 0 } : { passed: 1, failed: 0, skipped: 0 }),
    });
  }
  if (suites.includes("unit")) {
    const files = findFiles(".test.ts").filter((f) => !f.endsWith(".int.test.ts") && !f.endsWith(".db.test.ts"));
    const [cmd, args] = nodeTest(files);
    await step(`unit (${files.length} files)`, cmd, args, { env: testEnv, parse: parseNode });
  }
  if (suites.includes("integration")) {
    const dbFiles = findFiles(".db.test.ts");
    const [cmd, args] = nodeTest(dbFiles);
    postgres = await startPostgres(ensurePostgres());
    await sideBySide(
      () => step(`integration on PGlite (${dbFiles.length} files)`, cmd, args, { env: { ...testEnv, ATRIUM_TEST_DB: "pglite" }, parse: parseNode, tag: "pglite" }),
      () => step(`integration on PostgreSQL (${dbFiles.length} files)`, cmd, args, {
        env: { ...testEnv, ATRIUM_TEST_DB: "postgres", ATRIUM_TEST_POSTGRES_URL: postgres.url },
        parse: parseNode,
        tag: "postgres",
      }),
    );
    // The real-process tests start the whole portal, which serves the production build.
    await step("build the web app", process.execPath, ["server/cli/atrium.mjs", "build"], { env: testEnv });
    // The clusters' jars, venv and binaries are fetched or built once and cached. On a cold machine that takes longer
    // (Kubernetes: ~7 min of go build on 2 cores) than any one test may, so it happens here, before the tests.
    await step("provision the test clusters (cached)", process.execPath, ["e2e/clusters/provision-all.mjs"], { env: testEnv });
    // Two lanes: the files that start a Hadoop or Kubernetes test cluster (each on its own ports, bridge and work
    // dir) beside those that start portals and kernels (free ports, temp dirs).
    const intFiles = findFiles(".int.test.ts");
    const startsCluster = (file) => /\bstart(HadoopCluster|KubernetesCluster|TestCluster)\(/.test(fs.readFileSync(path.join(root, file), "utf8"));
    const intEnv = { ...testEnv, ATRIUM_TEST_POSTGRES_URL: postgres.url, ATRIUM_TEST_SLAPD: ensureSlapd() };
    const lane = (tag, files) => () => step(`integration with real processes (${files.length} files)`, ...nodeTest(files), { env: intEnv, parse: parseNode, tag });
    const intLanes = [
      ["clusters", intFiles.filter(startsCluster)],
      ["portal", intFiles.filter((f) => !startsCluster(f))],
    ].filter(([, files]) => files.length); // node --test given no files would look for its own
    await sideBySide(...intLanes.map(([tag, files]) => lane(tag, files)));
  }
  if (suites.includes("python")) {
    const testsDir = path.join(root, "kernel-launchers", "python", "tests");
    if (fs.existsSync(testsDir)) {
      await step("python launcher (pytest)", python, ["-m", "pytest", "-q", testsDir], { parse: parsePytest });
    }
  }
  // The Kubernetes suite's node runs pods as users' uids in network namespaces: root only. Without root its global
  // setup starts nothing and the spec skips itself, so Playwright reports its tests as skipped (never as passed).
  const asRoot = process.getuid?.() === 0;
  if (suites.includes("e2e") || suites.includes("yarn-e2e") || (suites.includes("k8s-e2e") && asRoot)) {
    ensureChromium();
    if (!suites.includes("integration")) await step("build the web app", process.execPath, ["server/cli/atrium.mjs", "build"], { env: testEnv });
  }
  const playwright = (name, args, env, tag) => () =>
    step(name, process.execPath, [path.join(root, "node_modules/@playwright/test/cli.js"), "test", ...args], { env: { ...testEnv, ...env }, parse: parsePlaywright, tag });
  if (suites.includes("e2e")) {
    // Two lanes, each with its own portal, data dir and OpenID provider (playwright.config.ts keys them by port):
    // the notebook, culling and portal-restart specs, which wait on kernels, beside the pages'.
    const specs = fs.readdirSync(path.join(root, "e2e")).filter((f) => f.endsWith(".spec.ts")).map((f) => `e2e/${f}`).sort();
    const kernelSpecs = specs.filter((f) => /\/(notebook|culling|portal-restart)\.spec\.ts$/.test(f));
    const pageSpecs = specs.filter((f) => !kernelSpecs.includes(f));
    // (Playwright given no files would run them all.)
    const lanes = [
      { tag: "kernels", port: 3917, files: kernelSpecs },
      { tag: "pages", port: 3919, files: pageSpecs },
    ].filter((l) => l.files.length);
    await sideBySide(...lanes.map((l) => playwright("end-to-end (Playwright, Chromium)", l.files, { ATRIUM_E2E_PORT: String(l.port) }, l.tag)));
    for (const l of lanes) endKernelsUnder(path.join(root, "e2e", ".artifacts", `data-${l.port}`));
  }
  // The cluster suites' global setups provision (cached) and start their cluster and portal, on ports, bridges and
  // dirs of their own, and stop them at the end, checking that nothing is left.
  const clusterSuites = [];
  if (suites.includes("yarn-e2e")) {
    clusterSuites.push(playwright("end-to-end on YARN + HDFS (Playwright, Chromium, Hadoop mini cluster)", ["--config", "e2e/yarn/playwright.yarn.config.ts"], {}, "yarn"));
  }
  if (suites.includes("k8s-e2e")) {
    clusterSuites.push(
      playwright(`end-to-end on Kubernetes + PVC homes (Playwright, Chromium, Kubernetes test cluster)${asRoot ? "" : " — skipped: needs root"}`, ["--config", "e2e/kubernetes/playwright.k8s.config.ts"], {}, "k8s"),
    );
  }
  if (clusterSuites.length) await sideBySide(...clusterSuites);
} catch (error) {
  problems.push(error.message);
} finally {
  cleanup();
}

console.log("");
for (const { name, ms } of timings) console.log(`${minutesSeconds(ms).padStart(6)}  ${name}`);
console.log("");
for (const problem of problems) console.log(`✗ ${problem}`);
console.log(`${totals.passed} passed, ${totals.failed} failed${totals.skipped ? `, ${totals.skipped} skipped` : ""}`);
process.exit(problems.length || totals.failed ? 1 : 0);
