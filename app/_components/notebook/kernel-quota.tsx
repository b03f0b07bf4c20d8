"use client";
// The notebook's quota and culling surfaces: the Size select beside the Kernel picker, the footer's size and
// what is left of the user's quota, and the banners under the toolbar — a refused start (with the next step),
// the idle-culling warning with "Keep running" (the notebook is saved when the deadline nears), and why the
// kernel stopped after it did.
import { Anchor, Button, Code, Group, NativeSelect, Text, Tooltip } from "@mantine/core";
import { IconAlertTriangle, IconClockPause, IconPlayerPlay } from "@tabler/icons-react";
import { useMutation, useQuery, useQueryClient } from "@tanstack/react-query";
import Link from "next/link";
import { useEffect, useRef, useState, useSyncExternalStore } from "react";
import { countdown, hours, hoursLeft, limitValue, memory, sizeLabel } from "@/app/_components/usage/format";
import { errorMessage, useTRPC } from "@/app/_lib/trpc";
import { WrappingAlert } from "../files/wrapping-alert";
import type { KernelSession, SessionStatus } from "./kernel-session";
import { endedWords } from "./kernels-api";

const useStatus = (session: KernelSession) => useSyncExternalStore(session.subscribe, session.getStatus, session.getStatus);

function useSizes() {
  const trpc = useTRPC();
  return useQuery({ ...trpc.quotas.sizes.queryOptions(), staleTime: 5 * 60_000 });
}

function useQuota(status: SessionStatus) {
  const trpc = useTRPC();
  const queryClient = useQueryClient();
  const quota = useQuery({ ...trpc.quotas.mine.queryOptions(), refetchInterval: 30_000 });
  // A kernel started, stopped or was refused: what is left has changed.
  const key = `${status.kernelId}:${status.state === "dead" ? "dead" : "live"}:${status.refusal ? "refused" : ""}`;
  useEffect(() => {
    void queryClient.invalidateQueries({ queryKey: trpc.quotas.mine.queryKey() });
  }, [key, queryClient, trpc]);
  return quota;
}

/** The Size select beside the Kernel combobox; picking a size (`onPick`) replaces a running kernel with one of that size. */
export function SizeSelect({ session, onPick }: { session: KernelSession; onPick(size: string): void }) {
  const status = useStatus(session);
  const sizes = useSizes();
  const quota = useQuota(status);
  const table = sizes.data?.find((s) => s.kernelspec === status.kernelName);
  if (!table) return <NativeSelect size="xs" aria-label="Size" data={[{ value: "", label: "Size" }]} disabled w={190} />;
  const value = status.size ?? table.defaultSize;
  const left = quota.data?.remaining;
  const hint = left
    ? `Left now: ${limitValue("maxKernels", left.maxKernels)}, ${limitValue("maxVcores", left.maxVcores)}, ${left.maxMemoryMb === null ? "no memory limit" : memory(left.maxMemoryMb)}`
    : "Kernel size";
  return (
    <Tooltip label={hint} openDelay={400}>
      <NativeSelect
        size="xs"
        aria-label="Size"
        value={value}
        data={table.sizes.map((s) => ({ value: s.name, label: sizeLabel(s) }))}
        onChange={(e) => onPick(e.currentTarget.value)}
        w={190}
      />
    </Tooltip>
  );
}

/** The footer's size and what is left of the user's quota: visible before a kernel starts. */
export function QuotaFooter({ session }: { session: KernelSession }) {
  const status = useStatus(session);
  const sizes = useSizes();
  const quota = useQuota(status);
  const table = sizes.data?.find((s) => s.kernelspec === status.kernelName);
  const size = table?.sizes.find((s) => s.name === (status.size ?? table.defaultSize));
  const q = quota.data;
  const parts: string[] = [];
  if (size) parts.push(`${size.name} (${hours(size.vcores)} vCore${size.vcores === 1 ? "" : "s"}, ${memory(size.memoryMb)})`);
  if (q) {
    // Where the team's shared envelope leaves less than the user's own limit, that is what is left, said as the team's.
    const inTeam = (key: (typeof q.limitedByTeam)[number]) => (q.team && q.limitedByTeam.includes(key) ? ` in team ${q.team.name}` : "");
    if (q.remaining.maxKernels !== null) {
      parts.push(inTeam("maxKernels") ? `${q.remaining.maxKernels} kernel${q.remaining.maxKernels === 1 ? "" : "s"} left${inTeam("maxKernels")}` : `${q.remaining.maxKernels} of ${q.limits.maxKernels} kernels left`);
    }
    if (q.remaining.monthlyVcoreHours !== null) parts.push(`${hoursLeft(q.remaining.monthlyVcoreHours)} vCore-hours left this month${inTeam("monthlyVcoreHours")}`);
  }
  if (!parts.length) return null;
  return (
    <Anchor component={Link} href="/usage" size="xs" c="dimmed" data-testid="quota-footer" underline="hover">
      {parts.join(" · ")}
    </Anchor>
  );
}

/** Banners under the toolbar: a refused start, the culling warning, why the kernel stopped. */
export function KernelBanners({ session, onSave, dirty }: { session: KernelSession; onSave(): Promise<unknown> | void; dirty: boolean }) {
  const status = useStatus(session);
  if (status.refusal) {
    const r = status.refusal;
    return (
      <WrappingAlert color={r.quota ? "orange" : "red"} mt="xs" title={r.title} icon={<IconAlertTriangle size={18} />} role="alert">
        <Group justify="space-between" wrap="nowrap" align="flex-start">
          <div>
            <Text size="sm" fw={500}>
              {r.message}
            </Text>
            {r.detail && (
              <Text size="xs" c="dimmed" mt={4}>
                {r.detail}
              </Text>
            )}
            {r.log && <ProcessLog log={r.log} />}
          </div>
          <Group gap="xs" wrap="nowrap" flex="none">
            {r.quota && (
              <Button size="xs" variant="default" component={Link} href="/usage">
                Open Usage
              </Button>
            )}
            <Button size="xs" variant="light" leftSection={<IconPlayerPlay size={14} />} onClick={() => void session.restart()}>
              Try again
            </Button>
          </Group>
        </Group>
      </WrappingAlert>
    );
  }
  if (status.ended && status.state === "dead") {
    const words = endedWords(status.ended.endReason, status.ended.detail, dirty);
    return (
      <WrappingAlert color="gray" mt="xs" title={words.title} role="alert">
        <Group justify="space-between" wrap="nowrap" align="flex-start">
          <div>
            <Text size="sm">{localTimes(words.message)}</Text>
            {words.log && <ProcessLog log={words.log} />}
          </div>
          <Button size="xs" variant="light" flex="none" leftSection={<IconPlayerPlay size={14} />} onClick={() => void session.restart()}>
            Start a new kernel
          </Button>
        </Group>
      </WrappingAlert>
    );
  }
  if (!status.kernelId || status.state === "dead") return null;
  return <CullWarning kernelId={status.kernelId} onSave={onSave} dirty={dirty} />;
}

/** The kernel process's last stderr lines, folded: there when someone needs the traceback, out of the way otherwise. */
function ProcessLog({ log }: { log: string }) {
  return (
    <details style={{ marginTop: 6 }}>
      <summary style={{ cursor: "pointer", fontSize: "var(--mantine-font-size-xs)" }}>What the kernel printed last</summary>
      <Code block mt={4} style={{ whiteSpace: "pre-wrap", wordBreak: "break-word", maxHeight: 200, overflow: "auto" }}>
        {log}
      </Code>
    </details>
  );
}

const SAVE_BEFORE_MS = 60_000;

/**
 * The server's reasons and warnings name instants as ISO timestamps (UTC, as recorded); a user reads them in
 * their own time: "14:05", or "Dec 3, 14:05" when not today.
 */
function localTimes(text: string): string {
  return text.replace(/\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(?::\d{2}(?:\.\d+)?)?Z/g, (iso) => {
    const at = new Date(iso);
    if (Number.isNaN(at.getTime())) return iso;
    const time = at.toLocaleTimeString([], { hour: "2-digit", minute: "2-digit" });
    return at.toDateString() === new Date().toDateString() ? time : `${at.toLocaleDateString([], { month: "short", day: "numeric" })}, ${time}`;
  });
}

function CullWarning({ kernelId, onSave, dirty }: { kernelId: string; onSave(): Promise<unknown> | void; dirty: boolean }) {
  const trpc = useTRPC();
  const queryClient = useQueryClient();
  const warnings = useQuery({ ...trpc.kernels.cullWarnings.queryOptions(), refetchInterval: 15_000, refetchIntervalInBackground: true });
  const keep = useMutation(
    trpc.kernels.keepAlive.mutationOptions({
      onSuccess: () => void queryClient.invalidateQueries({ queryKey: trpc.kernels.cullWarnings.queryKey() }),
    }),
  );
  const warning = warnings.data?.find((w) => w.kernelId === kernelId) ?? null;
  const deadline = warning?.deadline ? new Date(warning.deadline).getTime() : null;
  const [now, setNow] = useState(() => Date.now());
  useEffect(() => {
    if (!warning) return;
    const timer = setInterval(() => setNow(Date.now()), 5_000);
    return () => clearInterval(timer);
  }, [warning]);

  // Save the notebook before its kernel is stopped: once per warning, when the deadline is near.
  const savedFor = useRef<number | null>(null);
  const dirtyRef = useRef(dirty);
  dirtyRef.current = dirty;
  useEffect(() => {
    if (deadline === null || savedFor.current === deadline) return;
    const save = () => {
      if (savedFor.current === deadline) return;
      savedFor.current = deadline;
      if (dirtyRef.current) void onSave();
    };
    const wait = deadline - SAVE_BEFORE_MS - Date.now();
    if (wait <= 0) return save();
    const timer = setTimeout(save, wait);
    return () => clearTimeout(timer);
  }, [deadline, onSave]);

  if (!warning) return null;
  // `now` ticks only while a warning shows: a warning that appears long after the page opened is counted from
  // when it was fetched, not from the last tick (which said "in 61 min" for a deadline a minute away).
  const when = deadline === null ? "soon" : countdown(deadline - Math.max(now, warnings.dataUpdatedAt));
  if (warning.kind === "idle") {
    return (
      <WrappingAlert color="yellow" mt="xs" icon={<IconClockPause size={18} />} role="alert" aria-label="Idle kernel warning">
        <Group justify="space-between" wrap="nowrap">
          <Text size="sm">
            Your kernel will be stopped {when} because it has been idle. Your notebook is saved first.
            {keep.error && (
              <Text span c="red" size="sm">
                {" "}
                {errorMessage(keep.error)}
              </Text>
            )}
          </Text>
          <Button size="xs" color="yellow" variant="filled" flex="none" loading={keep.isPending} onClick={() => keep.mutate({ id: kernelId })}>
            Keep running
          </Button>
        </Group>
      </WrappingAlert>
    );
  }
  return (
    <WrappingAlert color="orange" mt="xs" icon={<IconClockPause size={18} />} role="alert" aria-label="Kernel warning">
      <Text size="sm">{localTimes(warning.message)}</Text>
    </WrappingAlert>
  );
}
