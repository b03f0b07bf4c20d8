// Usage reports over the recorded sessions: settle the ended ones first, then build the report (report.ts).
import type { Database } from "@/db";
import { listLiveKernels, notebooksOfKernels } from "@/db/queries/kernels";
import { sessionsOverlapping, settleEndedSessions, type SessionFilters } from "@/db/queries/usage";
import { budgetMonth } from "@/server/quota/policy";
import { quotaStatus } from "@/server/quota/service";
import { buildReport, toCsv, type SessionInput } from "./report";

export async function usageReport(db: Database, filters: SessionFilters, now = new Date()) {
  await settleEndedSessions(db, now);
  const rows = await sessionsOverlapping(db, filters);
  const sessions: SessionInput[] = rows.map(({ session: s, userEmail, teamName }) => ({
    kernelId: s.kernelId,
    userId: s.userId,
    userEmail,
    teamId: s.teamId,
    teamName,
    kernelspec: s.kernelspec,
    engine: s.engine,
    engineId: s.engineId,
    sizeProfile: s.sizeProfile,
    vcores: s.vcores,
    memoryMb: s.memoryMb,
    gpus: s.gpus,
    startedAt: s.startedAt,
    endedAt: s.endedAt,
    endReason: s.endReason,
    endDetail: s.endDetail,
    busyMs: Number(s.busyMs),
    busySince: s.busySince,
  }));
  return buildReport(sessions, { from: filters.from, to: filters.to }, now);
}

export async function usageCsv(db: Database, filters: SessionFilters, now = new Date()) {
  const report = await usageReport(db, filters, now);
  return toCsv(report.rows);
}

/** An analyst's own usage this month, with their limits and what is left. */
export async function myUsage(db: Database, userId: string, now = new Date()) {
  const month = budgetMonth(now);
  const report = await usageReport(db, { from: month.start, to: month.renews, userId }, now);
  return { month: { from: month.start, to: month.renews }, totals: report.totals, daily: report.daily, sessions: report.rows, quota: await quotaStatus(db, userId, now) };
}

/** Every live kernel with its owner, for the admin's live-kernels table. */
export async function liveKernelsForAdmin(db: Database) {
  const rows = await listLiveKernels(db);
  const notebooks = await notebooksOfKernels(db, rows.map((r) => r.kernel.id));
  return rows.map((r) => ({
    id: r.kernel.id,
    owner: r.ownerEmail,
    kernelspec: r.kernel.kernelspec,
    /** The notebook it is bound to, a path in its owner's home; null when none. */
    notebook: notebooks.get(r.kernel.id) ?? null,
    size: r.kernel.sizeProfile,
    state: r.kernel.state,
    engine: r.kernel.launcher,
    engineId: r.kernel.engineId,
    startedAt: r.kernel.startedAt ?? r.kernel.createdAt,
    lastActivityAt: r.kernel.lastActivityAt,
  }));
}
