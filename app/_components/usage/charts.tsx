"use client";
// Usage charts, drawn with Recharts in Mantine's colours (CSS variables, so light and dark both work). Each
// chart is a figure named for what it shows; the numbers behind it are in a table or the CSV beside it.
import { Box, Text } from "@mantine/core";
import type { ReactNode } from "react";
import { Bar, BarChart, CartesianGrid, Legend, ResponsiveContainer, Tooltip, XAxis, YAxis } from "recharts";
import { axisHours, hours } from "./format";

const AXIS = { fill: "var(--mantine-color-dimmed)", fontSize: 11 };
const GRID = "var(--mantine-color-default-border)";
const TOOLTIP = {
  contentStyle: {
    background: "var(--mantine-color-body)",
    border: "1px solid var(--mantine-color-default-border)",
    borderRadius: 6,
    fontSize: 12,
    boxShadow: "var(--mantine-shadow-sm)",
  },
  labelStyle: { color: "var(--mantine-color-text)", fontWeight: 600 },
  itemStyle: { padding: 0 },
  cursor: { fill: "var(--mantine-color-default-hover)" },
};

export const CHART_COLORS = {
  primary: "var(--mantine-color-indigo-6)",
  secondary: "var(--mantine-color-teal-5)",
  /**
   * What is left of a limit: gray-6 on the light theme, dark-2 on the dark one (Mantine's dimmed colour), at least
   * 3:1 against either background. (gray-4 was all but invisible on white, its legend too.)
   */
  muted: "var(--mantine-color-dimmed)",
  warn: "var(--mantine-color-orange-6)",
};

// Legend text in the theme's text colour (Recharts colours it like the series, which a pale series makes faint).
const LEGEND = {
  wrapperStyle: { fontSize: 12 },
  iconType: "circle" as const,
  iconSize: 8,
  formatter: (value: string) => <span style={{ color: "var(--mantine-color-text)" }}>{value}</span>,
};

function ChartFrame({ label, height, empty, children }: { label: string; height: number; empty?: boolean; children: ReactNode }) {
  return (
    <Box component="figure" role="figure" aria-label={label} m={0} h={height} pos="relative" data-chart>
      {empty ? (
        <Text size="sm" c="dimmed" ta="center" pt={height / 2 - 12}>
          Nothing recorded yet
        </Text>
      ) : (
        children
      )}
    </Box>
  );
}

const shortDay = (day: string) => {
  const d = new Date(`${day}T00:00:00Z`);
  return d.toLocaleDateString([], { day: "numeric", month: "short", timeZone: "UTC" });
};

/** vCore-hours (and kernel-hours) per day. */
export function DailyUsageChart({
  label,
  data,
  height = 220,
  showKernelHours = true,
}: {
  label: string;
  data: { day: string; vcoreHours: number; kernelHours: number }[];
  height?: number;
  showKernelHours?: boolean;
}) {
  const empty = data.every((d) => d.vcoreHours === 0 && d.kernelHours === 0);
  return (
    <ChartFrame label={label} height={height} empty={empty}>
      <ResponsiveContainer width="100%" height="100%">
        <BarChart data={data} margin={{ top: 8, right: 8, bottom: 0, left: 16 }} barGap={1}>
          <CartesianGrid vertical={false} stroke={GRID} strokeDasharray="3 3" />
          <XAxis dataKey="day" tickFormatter={shortDay} tick={AXIS} tickLine={false} axisLine={{ stroke: GRID }} minTickGap={16} />
          <YAxis tick={AXIS} tickLine={false} axisLine={false} tickFormatter={axisHours} width={56} />
          <Tooltip {...TOOLTIP} labelFormatter={(day) => shortDay(String(day))} formatter={(v) => hours(Number(v))} />
          <Legend {...LEGEND} />
          <Bar dataKey="vcoreHours" name="vCore-hours" fill={CHART_COLORS.primary} radius={[3, 3, 0, 0]} isAnimationActive={false} />
          {showKernelHours && <Bar dataKey="kernelHours" name="Kernel-hours" fill={CHART_COLORS.secondary} radius={[3, 3, 0, 0]} isAnimationActive={false} />}
        </BarChart>
      </ResponsiveContainer>
    </ChartFrame>
  );
}

/** One horizontal bar per name (top consumers, teams, engines). */
export function RankingChart({ label, data, unit, height }: { label: string; data: { name: string; value: number }[]; unit: string; height?: number }) {
  const h = height ?? Math.max(120, 34 * data.length + 40);
  return (
    <ChartFrame label={label} height={h} empty={data.length === 0 || data.every((d) => d.value === 0)}>
      <ResponsiveContainer width="100%" height="100%">
        <BarChart data={data} layout="vertical" margin={{ top: 4, right: 16, bottom: 0, left: 8 }}>
          <CartesianGrid horizontal={false} stroke={GRID} strokeDasharray="3 3" />
          <XAxis type="number" tick={AXIS} tickLine={false} axisLine={{ stroke: GRID }} tickFormatter={axisHours} />
          <YAxis type="category" dataKey="name" tick={AXIS} tickLine={false} axisLine={false} width={170} tickFormatter={(v: string) => (v.length > 26 ? `${v.slice(0, 25)}…` : v)} />
          <Tooltip {...TOOLTIP} formatter={(v) => [`${hours(Number(v))} ${unit}`, ""]} separator="" />
          <Bar dataKey="value" name={unit} fill={CHART_COLORS.primary} radius={[0, 3, 3, 0]} barSize={16} isAnimationActive={false} />
        </BarChart>
      </ResponsiveContainer>
    </ChartFrame>
  );
}

/** Use against a limit, one bar per member: what is used, and what is left of the limit. */
export function UseAgainstLimitChart({
  label,
  data,
  unit,
}: {
  label: string;
  data: { name: string; used: number; limit: number | null }[];
  unit: string;
}) {
  const rows = data.map((d) => ({ name: d.name, used: d.used, left: d.limit === null ? 0 : Math.max(0, d.limit - d.used), over: d.limit !== null && d.used > d.limit }));
  const h = Math.max(120, 34 * rows.length + 56);
  return (
    <ChartFrame label={label} height={h} empty={rows.length === 0}>
      <ResponsiveContainer width="100%" height="100%">
        <BarChart data={rows} layout="vertical" margin={{ top: 4, right: 16, bottom: 0, left: 8 }}>
          <CartesianGrid horizontal={false} stroke={GRID} strokeDasharray="3 3" />
          <XAxis type="number" tick={AXIS} tickLine={false} axisLine={{ stroke: GRID }} tickFormatter={axisHours} />
          <YAxis type="category" dataKey="name" tick={AXIS} tickLine={false} axisLine={false} width={170} tickFormatter={(v: string) => (v.length > 26 ? `${v.slice(0, 25)}…` : v)} />
          <Tooltip {...TOOLTIP} formatter={(v, name) => [`${hours(Number(v))} ${unit}`, name]} />
          <Legend {...LEGEND} />
          <Bar dataKey="used" name="Used" stackId="q" fill={CHART_COLORS.primary} barSize={16} isAnimationActive={false} />
          <Bar dataKey="left" name="Left" stackId="q" fill={CHART_COLORS.muted} radius={[0, 3, 3, 0]} barSize={16} isAnimationActive={false} />
        </BarChart>
      </ResponsiveContainer>
    </ChartFrame>
  );
}
