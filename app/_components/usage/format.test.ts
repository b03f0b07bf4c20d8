// Regression: dateTime() printed no year, so a token expiring in 2036 read "Nov 28, 06:08 AM", as if already
// expired. A date outside the current year now carries its year; one inside it stays short.
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { axisHours, countdown, dateTime, hoursLeft, sizeFitsNow } from "./format";

describe("dateTime", () => {
  const now = new Date(2026, 11, 1, 6, 12); // 1 Dec 2026, local time
  const cases: [string, Date | string | null, { year: string | null; day: RegExp; time: string }][] = [
    ["this year: no year", new Date(2026, 10, 28, 6, 8), { year: null, day: /Nov 28/, time: "06:08" }],
    ["a later year (a token expiring in 2036)", new Date(2036, 10, 28, 6, 8), { year: "2036", day: /Nov 28/, time: "06:08" }],
    ["an earlier year", new Date(2025, 0, 3, 9, 30), { year: "2025", day: /Jan 3\b/, time: "09:30" }],
    ["an ISO string from the server", new Date(2036, 10, 28, 6, 8).toISOString(), { year: "2036", day: /Nov 28/, time: "06:08" }],
  ];
  for (const [name, input, expected] of cases) {
    it(name, () => {
      const text = dateTime(input, now);
      if (expected.year) assert.match(text, new RegExp(expected.year), text);
      else assert.doesNotMatch(text, /2026/, text);
      // Day, month and time are always there.
      assert.match(text, expected.day);
      assert.ok(text.includes(expected.time), text);
    });
  }

  it("nothing, or nonsense, is a dash", () => {
    assert.equal(dateTime(null, now), "—");
    assert.equal(dateTime(undefined, now), "—");
    assert.equal(dateTime("not a date", now), "—");
  });
});

describe("countdown", () => {
  it("says minutes while there are several, then counts down by 5 s", () => {
    assert.equal(countdown(10 * 60_000), "in 10 min");
    assert.equal(countdown(3 * 60_000 + 1), "in 4 min");
    assert.equal(countdown(3 * 60_000), "in 3 min");
    assert.equal(countdown(2 * 60_000 + 12_000), "in 2 min 15 s");
    assert.equal(countdown(60_000), "in 1 min");
    assert.equal(countdown(44_000), "in 45 s");
    assert.equal(countdown(0), "any moment now");
    assert.equal(countdown(-5_000), "any moment now");
  });
});

describe("axisHours", () => {
  it("keeps the digits a round step needs: no two ticks read the same", () => {
    const ticks = [0, 0.0025, 0.005, 0.0075, 0.01, 0.0125, 0.015].map(axisHours);
    assert.deepEqual(ticks, ["0", "0.0025", "0.005", "0.0075", "0.01", "0.0125", "0.015"]);
    assert.deepEqual([0, 2.5, 5, 7.5, 10, 12.5].map(axisHours), ["0", "2.5", "5", "7.5", "10", "12.5"]);
    assert.deepEqual([0, 250, 500, 1000, 1250].map(axisHours), ["0", "250", "500", "1,000", "1,250"]);
  });
});

describe("hoursLeft", () => {
  it("rounds down to the digits shown: what is left is never overstated", () => {
    assert.deepEqual([199.6, 200, 12.37, 1.999, 0.004, 0].map(hoursLeft), ["199", "200", "12.3", "1.99", "0.004", "0"]);
  });
});

describe("sizeFitsNow", () => {
  const medium = { vcores: 2, memoryMb: 8192, gpus: 0 };
  const plenty = { maxKernels: 3, maxVcores: 8, maxMemoryMb: 32768, maxGpus: 0 };
  it("fits while every limit has room, and says which one is in the way when not", () => {
    assert.deepEqual(sizeFitsNow(medium, plenty, false), { fits: true });
    assert.deepEqual(sizeFitsNow(medium, { maxKernels: null, maxVcores: null, maxMemoryMb: null, maxGpus: null }, false), { fits: true });
    assert.deepEqual(sizeFitsNow(medium, plenty, true), { fits: false, why: "monthly budget used up" });
    assert.deepEqual(sizeFitsNow(medium, { ...plenty, maxKernels: 0 }, false), { fits: false, why: "no kernel left to start" });
    assert.deepEqual(sizeFitsNow(medium, { ...plenty, maxVcores: 1 }, false), { fits: false, why: "1 vCore left" });
    assert.deepEqual(sizeFitsNow(medium, { ...plenty, maxMemoryMb: 4096 }, false), { fits: false, why: "4 GB of memory left" });
    assert.deepEqual(sizeFitsNow({ ...medium, gpus: 1 }, plenty, false), { fits: false, why: "0 GPUs left" });
    assert.deepEqual(sizeFitsNow(medium, { ...plenty, maxVcores: -2 }, false), { fits: false, why: "0 vCores left" }, "over a lowered limit: none left, not minus");
  });
});
