// Size profiles: what a kernel reserves (vCores, memory, GPUs), chosen when it starts. A kernelspec may define
// its own in `metadata.atrium.sizes` (or `metadata.atrium.config.sizes`) with `default_size`; otherwise the
// built-in table applies. Pure: no I/O. Launchers turn the chosen profile into YARN or pod resources.
import { z } from "zod";

export interface SizeProfile {
  name: string;
  vcores: number;
  memoryMb: number;
  gpus: number;
}

export const BUILTIN_SIZES: readonly SizeProfile[] = [
  { name: "small", vcores: 1, memoryMb: 2048, gpus: 0 },
  { name: "medium", vcores: 2, memoryMb: 8192, gpus: 0 },
  { name: "large", vcores: 4, memoryMb: 16384, gpus: 0 },
];
export const BUILTIN_DEFAULT_SIZE = "medium";

const SizeJson = z.object({
  vcores: z.number().positive().max(1024),
  memory_mb: z.number().int().positive().max(16 * 1024 * 1024),
  gpus: z.number().int().min(0).max(64).default(0),
});
const SizesJson = z.object({
  sizes: z.record(z.string().regex(/^[a-z0-9_-]{1,32}$/i), SizeJson).optional(),
  default_size: z.string().optional(),
});

export interface SizeTable {
  sizes: SizeProfile[];
  defaultSize: string;
}

/** The sizes a kernelspec offers, from its `metadata.atrium` block; the built-in table when it defines none. */
export function sizeTableOf(atriumMetadata: unknown): SizeTable {
  const meta = (atriumMetadata ?? {}) as { config?: unknown };
  const direct = SizesJson.safeParse(atriumMetadata ?? {});
  const inConfig = SizesJson.safeParse(meta.config ?? {});
  const found = direct.success && direct.data.sizes ? direct.data : inConfig.success && inConfig.data.sizes ? inConfig.data : undefined;
  if (!found?.sizes || Object.keys(found.sizes).length === 0) return { sizes: [...BUILTIN_SIZES], defaultSize: BUILTIN_DEFAULT_SIZE };
  const sizes = Object.entries(found.sizes).map(([name, s]) => ({ name, vcores: s.vcores, memoryMb: s.memory_mb, gpus: s.gpus }));
  const named = found.default_size && sizes.some((s) => s.name === found.default_size) ? found.default_size : undefined;
  // "Medium-ish" when the spec does not say: the middle of its sizes, by vCores.
  const middle = [...sizes].sort((a, b) => a.vcores - b.vcores || a.memoryMb - b.memoryMb)[Math.floor((sizes.length - 1) / 2)]!;
  return { sizes, defaultSize: named ?? (sizes.some((s) => s.name === "medium") ? "medium" : middle.name) };
}

/** The profile a start request gets: the named one, or the default. Unknown names are the caller's error. */
export function chooseSize(table: SizeTable, requested: string | undefined): SizeProfile | { error: string } {
  const name = requested ?? table.defaultSize;
  const found = table.sizes.find((s) => s.name === name);
  if (found) return found;
  return { error: `There is no size "${name}" for this kernel. Sizes: ${table.sizes.map(describeSize).join("; ")}.` };
}

export const describeSize = (s: SizeProfile) =>
  `${s.name} (${s.vcores} vCore${s.vcores === 1 ? "" : "s"}, ${formatMemory(s.memoryMb)}${s.gpus ? `, ${s.gpus} GPU` : ""})`;

export const formatMemory = (mb: number) => (mb % 1024 === 0 ? `${mb / 1024} GB` : `${(mb / 1024).toFixed(1)} GB`);
