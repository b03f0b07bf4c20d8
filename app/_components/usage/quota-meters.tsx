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
  const ownLeft = limit === null ? null : Math.max(0, limit - used);
  // Where the team's shared envelope leaves less than the user's own limit, that is what the user can still use: the
  // bar and the remainder say so, and the line below names the team (their own limit alone would read as more).
  const left = teamLeft ? teamLeft.left : ownLeft;
  const cap = teamLeft ? used + teamLeft.left : limit;
  const pct = cap === null || none ? 0 : cap === 0 ? 100 : Math.min(100, (used / cap) * 100);
  const color = pct >= 100 ? "red" : pct >= 80 ? "orange" : "indigo";
  return (
    <Stack gap={4} role="listitem" aria-label={name}>
      <Group justify="space-between" gap={4} wrap="nowrap">
        <Text size="xs" c="dimmed" fw={500}>
          {name}
        </Text>
        <Text size="xs" c={left === 0 && !none ? "red" : "dimmed"}>
          {left === null ? "no limit" : none ? "not included" : `${limitValue(limitKey, left)} left`}
        </Text>
      </Group>
      <Progress value={pct} color={color} size="sm" aria-label={`${name} used`} />
      <Text size="sm">
        {amount(limitKey, used)}
        <Text span c="dimmed" size="sm">
          {" "}
          of {limitValue(limitKey, limit)}
          {teamLeft ? " (your limit)" : ""}
        </Text>
      </Text>
      {teamLeft && (
        <Text size="xs" c="dimmed">
          {teamLeft.left === 0
            ? `Team ${teamLeft.name}'s members have used all of its shared limit.`
            : `Team ${teamLeft.name} has ${limitValue(limitKey, teamLeft.left)} left in its shared limit, for all its members together.`}
        </Text>
      )}
    </Stack>
  );
}
