// The loop shared by the culler and the orphan sweep: runs on its interval, never overlaps, survives a failed run,
// and stop() waits for a run in progress.
import assert from "node:assert/strict";
import { test } from "node:test";
import { Periodic } from "./periodic";

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

test("runs every interval after start(), goes on after a failed run, and stops", async () => {
  let runs = 0;
  const loop = new Periodic("test work", 20, async () => {
    runs++;
    if (runs === 1) throw new Error("the first run fails");
    return runs;
  });
  loop.start();
  const deadline = Date.now() + 5_000;
  while (runs < 3 && Date.now() < deadline) await sleep(10);
  await loop.stop();
  assert.ok(runs >= 3, `ran ${runs} times within 5 s`);
  const after = runs;
  await sleep(100);
  assert.equal(runs, after, "no run after stop()");
});

test("a run asked for while one is going joins it; stop() waits for it", async () => {
  let started = 0;
  let finish!: () => void;
  const loop = new Periodic("test work", 60_000, async () => {
    started++;
    await new Promise<void>((r) => (finish = r));
    return started;
  });
  const first = loop.runOnce();
  const second = loop.runOnce();
  assert.equal(started, 1, "one run, joined");
  let stopped = false;
  const stopping = loop.stop().then(() => (stopped = true));
  await sleep(20);
  assert.equal(stopped, false, "stop() waits for the run in progress");
  finish();
  assert.deepEqual(await Promise.all([first, second]), [1, 1]);
  await stopping;
  const later = loop.runOnce();
  assert.equal(started, 2, "a later run starts afresh");
  finish();
  assert.equal(await later, 2);
});

test("a failed run the loop joined is logged once, by whoever asked for it, not again by the loop", async (t) => {
  const logged: string[] = [];
  t.mock.method(console, "error", (line: string) => logged.push(line));
  let fail!: (error: Error) => void;
  let runs = 0;
  const loop = new Periodic("joined work", 20, () => {
    runs++;
    return new Promise<number>((_, reject) => (fail = reject));
  });
  const asked = loop.runOnce().catch((error: Error) => logged.push(`asker: ${error.message}`));
  loop.start(); // its first tick joins the run in progress
  await sleep(60);
  assert.equal(runs, 1, "the loop joined the run in progress");
  fail(new Error("boom"));
  await asked;
  // The loop's own next run fails too, and that one is the loop's to log.
  const deadline = Date.now() + 5_000;
  while (runs < 2 && Date.now() < deadline) await sleep(10);
  fail(new Error("boom again"));
  while (!logged.some((line) => line.includes("boom again")) && Date.now() < deadline) await sleep(10);
  await loop.stop();
  assert.deepEqual(
    logged.map((line) => line.replace(/^\S+ ERROR\s+/, "")),
    ["asker: boom", "joined work failed: boom again"],
  );
});
