// Words for a refused kernel start, shown where the user acted (the notebook): what limit, and the next step.
// The server's message (what is in use, which kernel to stop, when the budget renews) follows as the detail.
import { splitProcessLog } from "@/app/_components/notebook/process-log";
import { limitValue, type LimitKey } from "./format";

export interface StartRefusal {
  title: string;
  message: string;
  /** The server's own words, when they add something. */
  detail: string | null;
  /** A quota refusal: the Usage page is where the user can act. */
  quota: boolean;
  /** What the kernel's process last wrote to stderr before it failed (shown folded). */
  log?: string | null;
}

interface QuotaDetails {
  scope?: "user" | "team";
  limit?: LimitKey;
  limitValue?: number;
  /** Who can raise the limit (the server knows: no team, or a limit the team's envelope caps, is an admin's). */
  raisedBy?: "team-lead" | "admin";
  /**
   * Whose limit refused: the user's own value or the default, the team's envelope capping the member's limit
   * ("envelope"), or the team's envelope for all members together ("team"). Older servers sent only `scope`.
   */
  source?: "own" | "default" | "envelope" | "team";
  teamName?: string | null;
  /** What the kernel asks for of the limit refused (its vCores, memory…). */
  requested?: number;
}

/** "Your", "Your team Risk's": the owner of the limit that refused, never the user's when it is the team's. */
function whoseLimit(details: QuotaDetails): string {
  const team = details.scope === "team" || details.source === "team" || details.source === "envelope";
  if (!team) return "Your";
  return details.teamName ? `Your team ${details.teamName}'s` : "Your team's";
}

/** A start that failed (not a quota): the launcher's sentence, and the process's last lines apart. */
export function launchFailure(reason: string | null): StartRefusal {
  const { summary, log } = splitProcessLog(reason);
  return { title: "The kernel didn't start", message: summary ?? "The launch failed.", detail: null, quota: false, log };
}

export function startRefusal(error: unknown): StartRefusal {
  const message = error instanceof Error ? error.message : typeof error === "string" ? error : "The kernel didn't start.";
  const data = (error as { data?: { appCode?: string | null; details?: unknown } } | null)?.data;
  if (data?.appCode !== "QUOTA_EXCEEDED") return launchFailure(message);
  const details = (data.details ?? {}) as QuotaDetails;
  const whose = whoseLimit(details);
  // The whole team's use (not only this user's kernels) filled the envelope: a teammate stopping one helps too.
  const whole = details.scope === "team";
  const ask = details.raisedBy === "admin" ? "ask an admin" : "ask your team lead";
  const next = whole ? `stop one in Usage, wait for a teammate to stop theirs, or ${ask}` : `stop one in Usage, or ${ask}`;
  const key = details.limit;
  const cap = details.limitValue;
  let headline: string;
  if (key === "maxKernels" && cap === 0) headline = `${whose} limit is 0 kernels — ${ask} to raise it.`;
  else if (key === "maxKernels" && typeof cap === "number") headline = `${whose} limit of ${limitValue("maxKernels", cap)} is reached — ${next}.`;
  else if (key === "monthlyVcoreHours" && typeof cap === "number") headline = `${whose} monthly budget of ${limitValue(key, cap)} is used up — new kernels can start when it renews, or ${ask}.`;
  // A size bigger than the limit itself: stopping kernels would not help.
  else if (key && typeof cap === "number" && typeof details.requested === "number" && details.requested > cap) headline = `${whose} limit of ${limitValue(key, cap)} is less than this kernel needs — choose a smaller size, or ${ask}.`;
  else if (key && typeof cap === "number") headline = `${whose} limit of ${limitValue(key, cap)} leaves no room for this kernel — stop a kernel in Usage, choose a smaller size, or ${ask}.`;
  else headline = `${whose} quota is reached — ${next}.`;
  return { title: "Kernel not started: quota reached", message: headline, detail: message.replace(/^Quota exceeded:\s*/, ""), quota: true };
}

/**
 * A server error in words: input validation answers with a JSON list of issues, which becomes
 * "idleTimeoutMinutes: needs min <= default <= max"; anything else is the server's message as it is.
 */
export function readableError(error: unknown): string {
  const message = error instanceof Error ? error.message : typeof error === "string" ? error : "Something went wrong. Try again.";
  if (!message.trimStart().startsWith("[")) return message;
  try {
    const issues = JSON.parse(message) as { path?: (string | number)[]; message?: string }[];
    return issues.map((i) => `${i.path?.length ? `${i.path.join(".")}: ` : ""}${i.message ?? "invalid"}`).join("; ");
  } catch {
    return message;
  }
}
