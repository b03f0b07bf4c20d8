// Sizes in words a user reads at a glance; shared by server messages and the Files page. Counted in 1024s and
// labelled so (KiB, MiB, ...), as the portal's other size messages are (notebook and home-store limits say MiB):
// 300,000,000 bytes is 286 MiB, never "286 MB".
const UNITS = ["KiB", "MiB", "GiB", "TiB", "PiB"];

export function formatBytes(bytes: number): string {
  if (!Number.isFinite(bytes) || bytes < 0) return "—";
  if (bytes < 1024) return `${bytes} B`;
  let value = bytes / 1024;
  let unit = 0;
  while (value >= 1024 && unit < UNITS.length - 1) {
    value /= 1024;
    unit++;
  }
  let shown = value >= 100 ? Math.round(value) : Math.round(value * 10) / 10;
  // 1023.97 KiB rounds to 1024: say 1 MiB instead.
  if (shown >= 1024 && unit < UNITS.length - 1) {
    shown = 1;
    unit++;
  }
  return `${shown} ${UNITS[unit]}`;
}
