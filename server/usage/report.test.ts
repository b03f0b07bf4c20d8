// Report arithmetic and CSV, by cases: clipping, busy time spread over a clipped session, running sessions,
// and a CSV that round-trips quotes, commas and newlines and neutralises formulas.
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { buildReport, parseCsv, toCsv, usageRow, type SessionInput } from "./report";

const H = 3_600_000;
const t0 = Date.parse("2026-10-01T00:00:00Z");
const at = (h: number) => new Date(t0 + h * H);
const session = (s: Partial<SessionInput> = {}): SessionInput => ({
  kernelId: "k1", userId: "u1", userEmail: "ana@example.com", teamId: null, teamName: null, kernelspec: "python3", engine: "local", engineId: "1234",
  sizeProfile: "medium", vcores: 2, memoryMb: 8192, gpus: 0, startedAt: at(0), endedAt: at(4), endReason: "stopped", busyMs: 1 * H, busySince: null, ...s,
});

describe("usage rows", () => {
  const cases: [string, Partial<SessionInput>, number, number, { kernelHours: number; vcoreHours: number; gbHours: number; busyHours: number }][] = [
    ["whole session", {}, 0, 10, { kernelHours: 4, vcoreHours: 8, gbHours: 32, busyHours: 1 }],
    ["clipped to half: busy time spread evenly", {}, 2, 10, { kernelHours: 2, vcoreHours: 4, gbHours: 16, busyHours: 0.5 }],
    ["outside the range", {}, 5, 10, { kernelHours: 0, vcoreHours: 0, gbHours: 0, busyHours: 0 }],
    ["running, busy now", { endedAt: null, endReason: null, busyMs: 0, busySince: at(5) }, 0, 10, { kernelHours: 6, vcoreHours: 12, gbHours: 48, busyHours: 1 }],
    ["failed launch", { endedAt: at(0), endReason: "launch_failed", busyMs: 0 }, 0, 10, { kernelHours: 0, vcoreHours: 0, gbHours: 0, busyHours: 0 }],
  ];
  for (const [name, s, from, to, expected] of cases) {
    it(name, () => {
      const r = usageRow(session(s), at(from), at(to), at(6));
      for (const [k, v] of Object.entries(expected)) assert.ok(Math.abs(r[k as keyof typeof expected] - v) < 1e-9, `${k}: ${r[k as keyof typeof expected]} vs ${v}`);
      assert.ok(Math.abs(r.idleHours - (r.kernelHours - r.busyHours)) < 1e-9);
    });
  }
  it("counts culls and failed launches that end in the range", () => {
    const report = buildReport([session({ endReason: "culled" }), session({ kernelId: "k2", endedAt: at(0), endReason: "launch_failed" }), session({ kernelId: "k3", startedAt: at(-10), endedAt: at(-5), endReason: "culled" })], { from: at(0), to: at(10) }, at(12));
    assert.deepEqual([report.totals.culls, report.totals.failedLaunches, report.totals.sessions], [1, 1, 2]);
  });
});

describe("CSV", () => {
  it("round-trips awkward text and neutralises formulas", () => {
    const rows = buildReport([session({ teamName: 'Fraud, "A"\nB', userEmail: "=cmd|'/c calc'!A1" })], { from: at(0), to: at(10) }, at(12)).rows;
    const back = parseCsv(toCsv(rows));
    assert.equal(back.length, 1);
    assert.equal(back[0]!.team, 'Fraud, "A"\nB');
    assert.equal(back[0]!.user, "'=cmd|'/c calc'!A1");
    assert.equal(Number(back[0]!.vcore_hours), 8);
  });
});
