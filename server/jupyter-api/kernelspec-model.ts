// Kernelspecs as Jupyter Server shows them: `{name, spec, resources}`, where `spec` is the kernel.json as
// loaded (Jupyter field names, plus Atrium's metadata.atrium) and `resources` maps `logo-64x64`, `kernel.js`…
// to URLs under /kernelspecs/{name}/{file}, which this API also serves (only those files, nothing else from
// the kernelspec's directory).
import { readdir, readFile } from "node:fs/promises";
import path from "node:path";
import type { Kernelspec } from "@/server/kernels/kernelspecs";

export interface KernelspecModel {
  name: string;
  spec: Kernelspec["spec"];
  resources: Record<string, string>;
}

const EXTRA_RESOURCES = new Set(["kernel.js", "kernel.css"]);
const CONTENT_TYPES: Record<string, string> = {
  ".png": "image/png",
  ".svg": "image/svg+xml",
  ".js": "text/javascript; charset=utf-8",
  ".css": "text/css; charset=utf-8",
};

/** Files of a kernelspec's directory that Jupyter publishes as resources. */
const isResourceFile = (file: string) => (file.startsWith("logo-") || EXTRA_RESOURCES.has(file));

async function resourceFiles(spec: Kernelspec): Promise<string[]> {
  const files = await readdir(spec.resourceDir).catch(() => [] as string[]);
  return files.filter(isResourceFile).sort();
}

export async function kernelspecModel(spec: Kernelspec): Promise<KernelspecModel> {
  const resources: Record<string, string> = {};
  for (const file of await resourceFiles(spec)) {
    // Jupyter keys logos without their extension (`logo-64x64`) and other files by their full name.
    const key = file.startsWith("logo-") ? file.slice(0, file.length - path.extname(file).length) : file;
    resources[key] = `/kernelspecs/${encodeURIComponent(spec.name)}/${encodeURIComponent(file)}`;
  }
  return { name: spec.name, spec: spec.spec, resources };
}

/** One published resource file, or undefined when the kernelspec does not publish it. */
export async function readKernelspecResource(spec: Kernelspec, file: string): Promise<{ body: Buffer; contentType: string } | undefined> {
  if (!(await resourceFiles(spec)).includes(file)) return undefined;
  const body = await readFile(path.join(spec.resourceDir, file));
  return { body, contentType: CONTENT_TYPES[path.extname(file).toLowerCase()] ?? "application/octet-stream" };
}
