"use client";
// A user's limits against what they use now (and this month): one labelled meter per limit.
import { Group, Progress, SimpleGrid, Stack, Text } from "@mantine/core";
import { amount, LIMIT_KEYS, LIMIT_NAMES, limitValue, usedOf, type LimitKey, type Limits, type UseLike } from "./format";

/** `team`: where the team's shared envelope leaves less than a limit does, what it leaves (quotas.mine). */
export function QuotaMeters({ limits, use, cols = 5, team }: { limits: Limits; use: UseLike; cols?: number; team?: { name: string; remaining: Limits; limited: readonly LimitKey[] } }) {
  return (
    <SimpleGrid cols={{ base: 1, sm: 2, lg: cols }} spacing="md" role="list" aria-label="Quota">
      {LIMIT_KEYS.map((key) => (
        <Meter
          key={key}
          name={LIMIT_NAMES[key]}
          limitKey={key}
          limit={limits[key]}
          used={usedOf(key, use)}
          teamLeft={team?.limited.includes(key) ? { name: team.name, left: team.remaining[key] ?? 0 } : undefined}
        />
      ))}
    </SimpleGrid>
  );
}

function Meter({ name, limitKey, limit, used, teamLeft }: { name: string; limitKey: LimitKey; limit: number | null; used: number; teamLeft?: { name: string; left: number } }) {
  const none = limit === 0 && used === 0;
  const pct = limit === null || none ? 0 : limit === 0 ? 100 : Math.min(100, (used / limit) * 100);
  const ownLeft = limit === null ? null : Math.max(0, limit - used);
  const left = teamLeft ? teamLeft.left : ownLeft;
  const color = pct >= 100 ? "red" : pct >= 80 ? "orange" : "indigo";
  return (
    <Stack gap={4} role="listitem" aria-label={name}>
      <Group justify="space-between" gap={4} wrap="nowrap">
        <Text size="xs" c="dimmed" fw={500}>
          {name}
        </Text>
        <Text size="xs" c={left === 0 && !none ? "red" : "dimmed"}>
          {left === null ? "no limit" : none ? "not included" : `${limitValue(limitKey, left)} left${teamLeft ? ` in team ${teamLeft.name}` : ""}`}
        </Text>
      </Group>
      <Progress value={pct} color={color} size="sm" aria-label={`${name} used`} />
      <Text size="sm">
        {amount(limitKey, used)}
        <Text span c="dimmed" size="sm">
          {" "}
          of {limitValue(limitKey, limit)}
        </Text>
      </Text>
    </Stack>
  );
}
