// A kernel's death or failed start as the launchers word it, split for people: the sentence for a banner, and
// the lines the process last wrote to stderr apart (a raw traceback is no sentence; it is shown folded).

/** How server/kernels/launchers/child-exit.ts joins a death and the stderr tail. */
const STDERR_MARK = "; last stderr:\n";

/**
 * A death reason as the launchers give it ("process 812 exited with code 1; last stderr:\n<lines>"): the sentence
 * for the banner, and the process's last lines apart — a raw traceback is no sentence. A kill by SIGKILL says what
 * it most often means.
 */
export function splitProcessLog(detail: string | null): { summary: string | null; log: string | null } {
  const text = detail?.trim() || null;
  if (!text) return { summary: null, log: null };
  const at = text.indexOf(STDERR_MARK);
  let summary = at < 0 ? text : text.slice(0, at).trim();
  const log = at < 0 ? null : text.slice(at + STDERR_MARK.length).trim() || null;
  if (/killed by SIGKILL$/.test(summary)) summary += " (most often: it ran out of memory)";
  return { summary, log };
}
