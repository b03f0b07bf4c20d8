// Usage against a real database: sessions recorded at admission, busy time from execution states, ends
// settled from the kernel rows; the report's totals equal the sum of the sessions, and the CSV parses back to
// the same numbers.
import assert from "node:assert/strict";
import { randomUUID } from "node:crypto";
import { after, before, describe, it } from "node:test";
import { eq } from "drizzle-orm";
import type { Database } from "@/db";
import { kernels, kernelSessions } from "@/db/schema";
import { markKernelDead, updateKernel, type KernelEndReason } from "@/db/queries/kernels";
import { recordExecutionState } from "@/db/queries/usage";
import { openTestDatabase, testDbKind } from "@/db/testing";
import { cliActor } from "@/server/identity/actor";
import { createTeam, createUser, setMembership } from "@/server/identity/users";
import { admitKernel } from "@/server/quota/service";
import { BUILTIN_SIZES } from "@/server/quota/sizes";
import { parseCsv } from "./report";
import { myUsage, usageCsv, usageReport } from "./service";

const HOUR = 3_600_000;
const close6 = (a: number, b: number, what: string) => assert.ok(Math.abs(a - b) < 1e-4, `${what}: ${a} vs ${b}`);

describe(`usage reports on ${testDbKind}`, () => {
  let db: Database;
  let close: () => Promise<void>;
  const t0 = new Date(Date.UTC(2026, 9, 1)); // 2026-10-01, a closed month
  const expected = { kernelHours: 0, vcoreHours: 0, gbHours: 0, busyHours: 0, culls: 0, failed: 0, sessions: 0 };

  before(async () => {
    ({ db, close } = await openTestDatabase());
    const team = await createTeam(db, cliActor, { name: "Fraud Detection" });
    const users = await Promise.all(["ana", "bob", "cy"].map((n) => createUser(db, cliActor, { email: `${n}@example.com`, password: "password12" })));
    await setMembership(db, cliActor, { teamId: team.id, userId: users[0]!.id, role: "member" });
    // Sessions with known durations, sizes, busy periods and ends.
    const plan: { user: number; size: string; startH: number; hours: number; busy: [number, number][]; end: KernelEndReason; engine?: string }[] = [
      { user: 0, size: "small", startH: 1, hours: 2, busy: [[1.5, 2]], end: "stopped" },
      { user: 0, size: "medium", startH: 5, hours: 3.25, busy: [[5, 6], [7, 7.25]], end: "culled" },
      { user: 1, size: "large", startH: 2, hours: 10, busy: [], end: "died", engine: "yarn" },
      { user: 1, size: "small", startH: 30, hours: 0, busy: [], end: "launch_failed" },
      { user: 2, size: "medium", startH: 48, hours: 1.5, busy: [[48.1, 48.2]], end: "culled" },
    ];
    for (const p of plan) {
      const size = BUILTIN_SIZES.find((s) => s.name === p.size)!;
      const id = randomUUID();
      const start = new Date(t0.getTime() + p.startH * HOUR);
      const end = new Date(start.getTime() + p.hours * HOUR);
      const user = users[p.user]!;
      await admitKernel(db, { kernelId: id, userId: user.id, team: p.user === 0 ? team : null, kernelspec: "python3", launcher: p.engine ?? "local", size, now: start });
      if (p.end !== "launch_failed") await updateKernel(db, id, { state: "idle", startedAt: start, engineId: `pid-${p.startH}` });
      for (const [from, to] of p.busy) {
        await recordExecutionState(db, { kernelId: id, busy: true, at: new Date(t0.getTime() + from * HOUR) });
        await recordExecutionState(db, { kernelId: id, busy: false, at: new Date(t0.getTime() + to * HOUR) });
      }
      await markKernelDead(db, { id, reason: p.end, detail: "test" });
      await db.update(kernels).set({ endedAt: end }).where(eq(kernels.id, id));
      expected.sessions++;
      expected.kernelHours += p.hours;
      expected.vcoreHours += p.hours * size.vcores;
      expected.gbHours += (p.hours * size.memoryMb) / 1024;
      expected.busyHours += p.busy.reduce((n, [a, b]) => n + b - a, 0);
      if (p.end === "culled") expected.culls++;
      if (p.end === "launch_failed") expected.failed++;
    }
  });
  after(() => close());

  it("records one session per kernel, with busy time and the end taken from the kernel row", async () => {
    const report = await usageReport(db, { from: t0, to: new Date(Date.UTC(2026, 10, 1)) }, new Date(Date.UTC(2026, 10, 5)));
    const sessions = await db.select().from(kernelSessions);
    assert.equal(sessions.length, expected.sessions);
    assert.ok(sessions.every((s) => s.endedAt && s.endReason && s.busySince === null), "every session settled");
    assert.equal(report.totals.sessions, expected.sessions);
    close6(report.totals.kernelHours, expected.kernelHours, "kernel-hours");
    close6(report.totals.vcoreHours, expected.vcoreHours, "vCore-hours");
    close6(report.totals.gbHours, expected.gbHours, "GB-hours");
    close6(report.totals.busyHours, expected.busyHours, "busy hours");
    close6(report.totals.idleHours, expected.kernelHours - expected.busyHours, "idle hours");
    assert.equal(report.totals.culls, expected.culls);
    assert.equal(report.totals.failedLaunches, expected.failed);
    // Every breakdown adds up to the same totals.
    for (const breakdown of [report.byTeam, report.byUser, report.byEngine]) {
      close6(breakdown.reduce((n, g) => n + g.vcoreHours, 0), report.totals.vcoreHours, "breakdown");
    }
    close6(report.daily.reduce((n, d) => n + d.vcoreHours, 0), report.totals.vcoreHours, "daily series");
    assert.equal(report.topConsumers[0]?.name, "bob@example.com", "40 vCore-hours on a large kernel");
    assert.deepEqual(report.byEngine.map((e) => e.name).sort(), ["local", "yarn"]);
  });

  it("clips sessions to the range and filters by team, user and engine", async () => {
    const firstDay = await usageReport(db, { from: t0, to: new Date(t0.getTime() + 24 * HOUR) }, new Date(Date.UTC(2026, 10, 5)));
    close6(firstDay.totals.kernelHours, expected.kernelHours - 1.5, "the third day's session is outside");
    const window = await usageReport(db, { from: new Date(t0.getTime() + 6 * HOUR), to: new Date(t0.getTime() + 7 * HOUR) }, new Date(Date.UTC(2026, 10, 5)));
    close6(window.totals.kernelHours, 2, "two sessions overlap 06:00-07:00 for an hour each");
    const yarn = await usageReport(db, { from: t0, to: new Date(Date.UTC(2026, 10, 1)), engine: "yarn" }, new Date());
    close6(yarn.totals.vcoreHours, 40, "yarn only");
  });

  it("the CSV parses back to the same numbers", async () => {
    const filters = { from: t0, to: new Date(Date.UTC(2026, 10, 1)) };
    const now = new Date(Date.UTC(2026, 10, 5));
    const report = await usageReport(db, filters, now);
    const rows = parseCsv(await usageCsv(db, filters, now));
    assert.equal(rows.length, report.totals.sessions);
    const sum = (col: string) => rows.reduce((n, r) => n + Number(r[col]), 0);
    close6(sum("kernel_hours"), report.totals.kernelHours, "csv kernel-hours");
    close6(sum("vcore_hours"), report.totals.vcoreHours, "csv vCore-hours");
    close6(sum("gb_hours"), report.totals.gbHours, "csv GB-hours");
    close6(sum("idle_hours"), report.totals.idleHours, "csv idle hours");
    assert.equal(sum("culled"), report.totals.culls);
    assert.equal(sum("failed_launch"), report.totals.failedLaunches);
    assert.ok(rows.some((r) => r.team === "Fraud Detection"));
  });

  it("an analyst's own usage covers only their sessions this month", async () => {
    const [ana] = await db.select().from(kernelSessions).limit(1);
    const mine = await myUsage(db, ana!.userId);
    assert.equal(mine.totals.sessions, 0, "the seeded sessions are in a past month");
    assert.equal(mine.quota.limits.maxKernels, 3);
  });
});

// Regression: after a restart the admin's usage showed the kernel's first pid ("local pid 8209 running") while
// Admin → Kernels showed the new one (8705). A restart continues the same usage session (same kernel, its
// resources reserved throughout); the live session follows the kernel's current engine id.
describe(`a restarted kernel's usage session on ${testDbKind}`, () => {
  let db: Database;
  let close: () => Promise<void>;
  before(async () => ({ db, close } = await openTestDatabase()));
  after(() => close());

  it("keeps one session from admission, showing the engine the kernel runs on now", async () => {
    const user = await createUser(db, cliActor, { email: "rita@example.com", password: "password12" });
    const size = BUILTIN_SIZES.find((s) => s.name === "small")!;
    const id = randomUUID();
    const start = new Date(Date.UTC(2026, 11, 1, 6, 3));
    const range = { from: new Date(Date.UTC(2026, 11, 1)), to: new Date(Date.UTC(2026, 11, 2)) };
    await admitKernel(db, { kernelId: id, userId: user.id, team: null, kernelspec: "python3", launcher: "local", size, now: start });
    await updateKernel(db, id, { state: "idle", startedAt: start, engineId: "8209" });
    const before = await usageReport(db, range, new Date(start.getTime() + HOUR));
    assert.deepEqual(before.rows.map((r) => [r.engineId, r.endReason]), [["8209", "running"]]);

    // The restart: the same kernel row, a new process.
    await updateKernel(db, id, { engineId: "8705" });
    const after = await usageReport(db, range, new Date(start.getTime() + 2 * HOUR));
    assert.deepEqual(after.rows.map((r) => [r.kernelId, r.engineId, r.endReason]), [[id, "8705", "running"]]);
    close6(after.totals.kernelHours, 2, "one session, counted from admission across the restart");

    await markKernelDead(db, { id, reason: "stopped", detail: "test" });
    await db.update(kernels).set({ endedAt: new Date(start.getTime() + 3 * HOUR) }).where(eq(kernels.id, id));
    const ended = await usageReport(db, range, new Date(start.getTime() + 4 * HOUR));
    assert.deepEqual(ended.rows.map((r) => [r.engineId, r.endReason]), [["8705", "stopped"]]);
    close6(ended.totals.kernelHours, 3, "settled at the kernel's end");
  });
});
