// What Tab and Shift+Tab do in a code cell, as JupyterLab does it — pure, so it is tested by tables of cases
// (completion.test.ts); code-editor.tsx applies the plans to CodeMirror. Touch this file when the kernel's
// complete_reply handling or the rule for "Tab indents here" changes.
import { stripAnsi } from "./ansi";

/** The kernel's complete_reply, as KernelSession.complete returns it. */
export interface CompleteReply {
  matches: string[];
  start: number;
  end: number;
}

/**
 * What to do with a complete_reply: nothing; replace [from, to) with the only match; or put the matches' common
 * prefix in [from, to) (`insert`, when it says more than what was typed) and show the list of `options`.
 */
export type CompletionPlan =
  | { kind: "none" }
  | { kind: "insert"; from: number; to: number; text: string }
  | { kind: "list"; from: number; to: number; insert: string | null; options: string[] };

/** Tab indents (never completes) when the line holds only whitespace before the cursor, as in JupyterLab. */
export function tabIndents(lineBeforeCursor: string): boolean {
  return /^\s*$/.test(lineBeforeCursor);
}

/** The longest string every one of `words` starts with. */
export function commonPrefix(words: readonly string[]): string {
  if (words.length === 0) return "";
  let prefix = words[0]!;
  for (const word of words) {
    let n = 0;
    while (n < prefix.length && n < word.length && prefix.charCodeAt(n) === word.charCodeAt(n)) n++;
    prefix = prefix.slice(0, n);
    if (!prefix) break;
  }
  return prefix;
}

/** The plan for a reply to a request made with `code`; a reply whose range lies outside the code does nothing. */
export function planCompletion(code: string, reply: CompleteReply | null): CompletionPlan {
  if (!reply) return { kind: "none" };
  const { start, end } = reply;
  if (!Number.isInteger(start) || !Number.isInteger(end) || start < 0 || end < start || end > code.length) return { kind: "none" };
  const options = [...new Set(reply.matches)];
  if (options.length === 0) return { kind: "none" };
  if (options.length === 1) return { kind: "insert", from: start, to: end, text: options[0]! };
  const typed = code.slice(start, end);
  const prefix = commonPrefix(options);
  // Only a prefix that extends what was typed is inserted: matches need not start with it (dict keys, paths).
  const insert = prefix.length > typed.length && prefix.startsWith(typed) ? prefix : null;
  return { kind: "list", from: start, to: end, insert, options };
}

/** The tooltip's text for an inspect_reply's text/plain: ANSI colours dropped, blank edges trimmed; null when empty. */
export function documentationText(text: string | null | undefined): string | null {
  if (typeof text !== "string") return null;
  const plain = stripAnsi(text).replace(/^\s*\n/, "").trimEnd();
  return plain ? plain : null;
}
