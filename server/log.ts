// A small leveled logger. Lines are prefixed with the time and level; structured enough to grep.
type Level = "debug" | "info" | "warn" | "error";
const order: Record<Level, number> = { debug: 10, info: 20, warn: 30, error: 40 };
let threshold: Level = "info";

export function setLogLevel(level: Level) {
  threshold = level;
}

function write(level: Level, message: string, extra: unknown[]) {
  if (order[level] < order[threshold]) return;
  const line = `${new Date().toISOString()} ${level.toUpperCase().padEnd(5)} ${message}`;
  (level === "error" || level === "warn" ? console.error : console.log)(line, ...extra);
}

export const log = {
  debug: (message: string, ...extra: unknown[]) => write("debug", message, extra),
  info: (message: string, ...extra: unknown[]) => write("info", message, extra),
  warn: (message: string, ...extra: unknown[]) => write("warn", message, extra),
  error: (message: string, ...extra: unknown[]) => write("error", message, extra),
};
