// Guards deferred-cells.ts: which cells open as placeholders, and that every placeholder is rendered, top to
// bottom, a slice at a time (here without a DOM: no IntersectionObserver, idle time from timers).
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { DeferredCells, firstScreensEnd } from "./deferred-cells";

const ids = (n: number) => Array.from({ length: n }, (_, i) => `c${i}`);

describe("firstScreensEnd", () => {
  for (const [what, heights, screen, expected] of [
    ["cells of 100 px fill two 900 px screens after 19 cells", 100, 900, 19],
    ["one cell taller than two screens is still rendered", 5000, 900, 1],
    ["a short notebook is rendered whole", 10, 900, 30],
  ] as const) {
    it(what, () => assert.equal(firstScreensEnd(ids(30), () => heights, screen), expected));
  }
});

describe("DeferredCells", () => {
  it("opens with the first screens rendered and the rest deferred; cells added later are never deferred", () => {
    const deferred = new DeferredCells(ids(100), () => 100, 900, () => ids(100));
    assert.equal(deferred.isDeferred("c18"), false);
    assert.equal(deferred.isDeferred("c19"), true);
    assert.equal(deferred.isDeferred("new"), false);
  });

  it("renders every waiting placeholder in idle time, in document order", async () => {
    const order = ids(60);
    const deferred = new DeferredCells(order, () => 100, 900, () => order);
    const woken: string[] = [];
    const element = {} as Element;
    for (const id of [...order].reverse()) if (deferred.isDeferred(id)) deferred.wait(id, element, () => woken.push(id));
    deferred.rendered("c30"); // became active: rendered at once, not woken again
    const start = Date.now();
    while (woken.length < 40 && Date.now() - start < 5_000) await new Promise((r) => setTimeout(r, 10));
    assert.deepEqual(woken, order.slice(19).filter((id) => id !== "c30"));
  });

  it("forgets a placeholder that left the page", async () => {
    const order = ids(30);
    const deferred = new DeferredCells(order, () => 100, 900, () => order);
    const woken: string[] = [];
    const stop = deferred.wait("c25", {} as Element, () => woken.push("c25"));
    deferred.wait("c26", {} as Element, () => woken.push("c26"));
    stop();
    const start = Date.now();
    while (woken.length < 1 && Date.now() - start < 5_000) await new Promise((r) => setTimeout(r, 10));
    // top to bottom: c25 would have come before c26
    assert.deepEqual(woken, ["c26"]);
  });
});
