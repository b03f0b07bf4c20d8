// The admin's culling bounds, stored as one JSON row and validated when read; the built-in bounds otherwise.
import { z } from "zod";
import type { Database, Tx } from "@/db";
import { readCullBounds, writeCullBounds } from "@/db/queries/quotas";
import { DEFAULT_CULL_BOUNDS, type CullBounds } from "./policy";

const range = z.object({ min: z.number().int().min(1), max: z.number().int().min(1), default: z.number().int().min(1) }).refine((r) => r.min <= r.default && r.default <= r.max, {
  message: "needs min <= default <= max",
});
export const CullBoundsSchema = z.object({
  idleTimeoutMinutes: range,
  warningMinutes: range,
  maxLifetimeHours: z.object({ max: z.number().int().min(1).nullable(), default: z.number().int().min(1).nullable() }),
  allowCullBusy: z.boolean(),
  cullConnectedDefault: z.boolean(),
});

export async function loadCullBounds(db: Database | Tx): Promise<CullBounds> {
  const json = await readCullBounds(db);
  if (!json) return DEFAULT_CULL_BOUNDS;
  const parsed = CullBoundsSchema.safeParse(JSON.parse(json));
  return parsed.success ? parsed.data : DEFAULT_CULL_BOUNDS;
}

export async function saveCullBounds(db: Database, bounds: CullBounds) {
  await writeCullBounds(db, JSON.stringify(CullBoundsSchema.parse(bounds)));
}
