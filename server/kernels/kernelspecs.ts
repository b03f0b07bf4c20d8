// Kernelspecs: Jupyter `kernel.json` files plus Atrium's `metadata.atrium.launcher` (which launcher
// starts the kernel) and its `config`. Loaded from kernel-launchers/kernelspecs/<name>/kernel.json and
// any extra directories an admin configures. The spec itself keeps Jupyter's snake_case so the
// /api/kernelspecs endpoint can serve it as is.
import { readdir, readFile } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { z } from 'zod';

/** The kernelspecs shipped in the repository. */
export const BUNDLED_KERNELSPECS_DIR = fileURLToPath(
  new URL('../../kernel-launchers/kernelspecs', import.meta.url),
);

/** Jupyter's rule for kernelspec names (the directory name). */
const KERNEL_NAME = /^[a-z0-9._-]+$/i;

export const AtriumSpecMetadataSchema = z.object({
  launcher: z.string().min(1),
  config: z.record(z.string(), z.unknown()).default({}),
});

export const KernelJsonSchema = z.object({
  argv: z.array(z.string()).min(1),
  display_name: z.string().min(1),
  language: z.string().min(1),
  interrupt_mode: z.enum(['signal', 'message']).default('signal'),
  env: z.record(z.string(), z.string()).default({}),
  metadata: z.looseObject({ atrium: AtriumSpecMetadataSchema }),
});
export type KernelJson = z.infer<typeof KernelJsonSchema>;

export interface Kernelspec {
  /** The directory name, e.g. `python3`. */
  name: string;
  /** The directory holding kernel.json and its resources (logos); `{resource_dir}` in argv. */
  resourceDir: string;
  /** The validated kernel.json, Jupyter field names. */
  spec: KernelJson;
}

export class KernelspecError extends Error {
  constructor(
    readonly file: string,
    message: string,
  ) {
    super(`kernelspec ${file}: ${message}`);
    this.name = 'KernelspecError';
  }
}

/** Reads and validates one `<dir>/kernel.json`. */
export async function loadKernelspec(resourceDir: string): Promise<Kernelspec> {
  const file = path.join(resourceDir, 'kernel.json');
  const name = path.basename(resourceDir);
  if (!KERNEL_NAME.test(name)) {
    throw new KernelspecError(file, `directory name "${name}" is not a valid kernel name (letters, digits, . _ -)`);
  }
  let json: unknown;
  try {
    json = JSON.parse(await readFile(file, 'utf8'));
  } catch (error) {
    throw new KernelspecError(file, `cannot read as JSON: ${(error as Error).message}`);
  }
  const parsed = KernelJsonSchema.safeParse(json);
  if (!parsed.success) throw new KernelspecError(file, z.prettifyError(parsed.error));
  return { name, resourceDir, spec: parsed.data };
}

/**
 * Loads every `<dir>/<name>/kernel.json` under `dirs`, in order; a later directory overrides an earlier
 * one's kernelspec of the same name, so admins can replace a bundled spec. Missing directories and
 * subdirectories without kernel.json are skipped; an invalid kernel.json fails the load, naming the file.
 */
export async function loadKernelspecs(
  dirs: readonly string[] = [BUNDLED_KERNELSPECS_DIR],
): Promise<Map<string, Kernelspec>> {
  const specs = new Map<string, Kernelspec>();
  for (const dir of dirs) {
    let entries;
    try {
      entries = await readdir(dir, { withFileTypes: true });
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') continue;
      throw error;
    }
    const names = entries.filter((entry) => entry.isDirectory()).map((entry) => entry.name).sort();
    for (const name of names) {
      const resourceDir = path.join(dir, name);
      const hasSpec = await readdir(resourceDir).then((files) => files.includes('kernel.json'));
      if (hasSpec) specs.set(name, await loadKernelspec(resourceDir));
    }
  }
  return specs;
}

/** `metadata.atrium.launcher`: which registered launcher starts kernels of this spec. */
export function launcherName(spec: Kernelspec): string {
  return spec.spec.metadata.atrium.launcher;
}

export function launcherConfig(spec: Kernelspec): Record<string, unknown> {
  return spec.spec.metadata.atrium.config;
}
