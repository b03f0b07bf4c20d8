// Kernel metrics for /metrics: launches and their latency, culls, quota refusals — counted in this process,
// labelled by team (never by user) — plus kernels by state, read from the database at scrape time so every
// replica reports the same gauge. Prometheus sums the per-replica counters.
// The registry is process-wide through a global symbol (like services.ts), because Next loads its own copy of
// our modules; recording into it never throws.

export const LAUNCH_BUCKETS_SECONDS = [0.5, 1, 2, 5, 10, 20, 30, 60, 120, 300] as const;

type Labels = Record<string, string>;
const key = (labels: Labels) => JSON.stringify(Object.entries(labels).sort(([a], [b]) => a.localeCompare(b)));

class Counter {
  readonly values = new Map<string, { labels: Labels; value: number }>();
  inc(labels: Labels, by = 1) {
    const k = key(labels);
    const entry = this.values.get(k) ?? { labels, value: 0 };
    entry.value += by;
    this.values.set(k, entry);
  }
}

class Histogram {
  readonly series = new Map<string, { labels: Labels; buckets: number[]; sum: number; count: number }>();
  constructor(readonly bounds: readonly number[]) {}
  observe(labels: Labels, value: number) {
    const k = key(labels);
    const s = this.series.get(k) ?? { labels, buckets: this.bounds.map(() => 0), sum: 0, count: 0 };
    this.bounds.forEach((b, i) => {
      if (value <= b) s.buckets[i]!++;
    });
    s.sum += value;
    s.count++;
    this.series.set(k, s);
  }
}

export type LaunchOutcome = "started" | "failed" | "timeout";

export class KernelMetrics {
  readonly launches = new Counter();
  readonly launchSeconds = new Histogram(LAUNCH_BUCKETS_SECONDS);
  readonly culls = new Counter();
  readonly refusals = new Counter();

  launchFinished(team: string | null, kernelspec: string, outcome: LaunchOutcome, seconds: number) {
    const labels = { team: team ?? "", kernelspec };
    this.launches.inc({ ...labels, outcome });
    if (outcome === "started") this.launchSeconds.observe(labels, seconds);
  }

  culled(team: string | null, reason: string) {
    this.culls.inc({ team: team ?? "", reason });
  }

  quotaRefused(team: string | null, scope: string, limit: string) {
    this.refusals.inc({ team: team ?? "", scope, limit });
  }

  /** Prometheus text format 0.0.4. `kernelsByState` comes from the database at scrape time. */
  render(kernelsByState: { state: string; team: string | null; count: number }[]): string {
    const out: string[] = [];
    const head = (name: string, type: string, help: string) => out.push(`# HELP ${name} ${help}`, `# TYPE ${name} ${type}`);
    head("atrium_kernels", "gauge", "Kernels that are not dead, by state and team.");
    for (const row of kernelsByState) out.push(`atrium_kernels${fmt({ state: row.state, team: row.team ?? "" })} ${row.count}`);
    head("atrium_kernel_launches_total", "counter", "Kernel launches by outcome, team and kernelspec (this replica).");
    for (const { labels, value } of this.launches.values.values()) out.push(`atrium_kernel_launches_total${fmt(labels)} ${value}`);
    head("atrium_kernel_launch_seconds", "histogram", "Time from admission to a kernel answering, for successful launches.");
    for (const s of this.launchSeconds.series.values()) {
      this.launchSeconds.bounds.forEach((b, i) => out.push(`atrium_kernel_launch_seconds_bucket${fmt({ ...s.labels, le: String(b) })} ${s.buckets[i]}`));
      out.push(`atrium_kernel_launch_seconds_bucket${fmt({ ...s.labels, le: "+Inf" })} ${s.count}`);
      out.push(`atrium_kernel_launch_seconds_sum${fmt(s.labels)} ${s.sum}`);
      out.push(`atrium_kernel_launch_seconds_count${fmt(s.labels)} ${s.count}`);
    }
    head("atrium_kernel_culls_total", "counter", "Kernels stopped by the culler, by reason and team (this replica).");
    for (const { labels, value } of this.culls.values.values()) out.push(`atrium_kernel_culls_total${fmt(labels)} ${value}`);
    head("atrium_quota_refusals_total", "counter", "Kernel starts refused by quota, by limit and team (this replica).");
    for (const { labels, value } of this.refusals.values.values()) out.push(`atrium_quota_refusals_total${fmt(labels)} ${value}`);
    return out.join("\n") + "\n";
  }
}

const escape = (v: string) => v.replace(/\\/g, "\\\\").replace(/\n/g, "\\n").replace(/"/g, '\\"');
const fmt = (labels: Labels) => {
  const parts = Object.entries(labels).map(([k, v]) => `${k}="${escape(v)}"`);
  return parts.length ? `{${parts.join(",")}}` : "";
};

const KEY = Symbol.for("atrium.kernelMetrics");
type Holder = { [KEY]?: KernelMetrics };

/** This process's metrics registry. */
export function kernelMetrics(): KernelMetrics {
  const holder = globalThis as Holder;
  return (holder[KEY] ??= new KernelMetrics());
}
