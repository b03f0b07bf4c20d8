"use client";
// A row of totals: one small card per number, each labelled so a screen reader (and a test) reads it as a pair.
import { Paper, SimpleGrid, Text } from "@mantine/core";

export interface Stat {
  label: string;
  value: string;
  /** The unrounded number behind the value (its title, and data-value for checks). */
  exact?: number;
  hint?: string;
}

export function StatCards({ stats, label }: { stats: Stat[]; label: string }) {
  return (
    <SimpleGrid cols={{ base: 2, sm: 3, lg: stats.length > 6 ? 4 : stats.length }} spacing="sm" role="list" aria-label={label}>
      {stats.map((s) => (
        <Paper key={s.label} withBorder p="sm" radius="md" role="listitem" aria-label={s.label}>
          <Text size="xs" c="dimmed" fw={500} tt="uppercase" style={{ letterSpacing: 0.3 }}>
            {s.label}
          </Text>
          <Text
            fz={22}
            fw={600}
            lh={1.3}
            data-testid={`stat-${s.label}`}
            data-value={s.exact}
            title={s.exact !== undefined ? String(s.exact) : undefined}
            style={{ fontVariantNumeric: "tabular-nums" }}
          >
            {s.value}
          </Text>
          {s.hint && (
            <Text size="xs" c="dimmed">
              {s.hint}
            </Text>
          )}
        </Paper>
      ))}
    </SimpleGrid>
  );
}
