// The team lead's page, pure: how each member is labelled (in the chart as in the table), and the CSV of the
// numbers behind the chart, written by the usage exports' one CSV writer.
import { csvText } from "@/server/usage/report";
import type { Limits, UseLike } from "./format";

export interface MemberUsage {
  userId: string;
  name: string;
  email: string;
  role: string;
  use: UseLike;
  limits: Limits;
}

/**
 * Each member's label, by user id: their name (the email when they have none); a name two members share gets
 * the email beside it, so no two bars read alike.
 */
export function memberLabels(members: readonly Pick<MemberUsage, "userId" | "name" | "email">[]): Map<string, string> {
  const plain = (m: { name: string; email: string }) => m.name.trim() || m.email;
  const counts = new Map<string, number>();
  for (const m of members) counts.set(plain(m), (counts.get(plain(m)) ?? 0) + 1);
  return new Map(members.map((m) => [m.userId, (counts.get(plain(m)) ?? 0) > 1 && plain(m) !== m.email ? `${plain(m)} (${m.email})` : plain(m)]));
}

export const TEAM_CSV_COLUMNS = [
  "member", "email", "role",
  "kernels", "max_kernels", "vcores", "max_vcores", "memory_gb", "max_memory_gb", "gpus", "max_gpus",
  "vcore_hours_this_month", "monthly_vcore_hours", "vcore_hours_left",
] as const;

/** One line per member: what they use now and this month, against their limits (empty: no limit). */
export function memberUsageCsv(members: readonly MemberUsage[]): string {
  const labels = memberLabels(members);
  const gb = (mb: number | null) => (mb === null ? null : mb / 1024);
  return csvText(
    TEAM_CSV_COLUMNS,
    members.map((m) => [
      labels.get(m.userId) ?? m.email, m.email, m.role,
      m.use.kernels, m.limits.maxKernels, m.use.vcores, m.limits.maxVcores, gb(m.use.memoryMb), gb(m.limits.maxMemoryMb), m.use.gpus, m.limits.maxGpus,
      m.use.vcoreHours, m.limits.monthlyVcoreHours, m.limits.monthlyVcoreHours === null ? null : Math.max(0, m.limits.monthlyVcoreHours - m.use.vcoreHours),
    ]),
  );
}
