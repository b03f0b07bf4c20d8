// The admin's culling bounds, stored as one JSON row and validated when read; the built-in bounds otherwise.
import { z } from "zod";
import type { Database, Tx } from "@/db";
import { appendAudit } from "@/db/queries/audit";
import { readCullBounds, writeCullBounds } from "@/db/queries/quotas";
import type { Actor } from "@/server/identity/actor";
import { AppError } from "@/server/errors";
import { boundsViolations, DEFAULT_CULL_BOUNDS, type CullBounds } from "./policy";

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

/** Stores the bounds, unaudited: for seeding and tests. An admin's change goes through setCullBounds. */
export async function saveCullBounds(db: Database, bounds: CullBounds): Promise<CullBounds> {
  const parsed = CullBoundsSchema.parse(bounds);
  await writeCullBounds(db, JSON.stringify(parsed));
  return parsed;
}

/**
 * An admin changes the bounds: stored, then audited like the other admin settings, with the bounds they replace
 * (one global row: without them the old values would be nowhere once overwritten).
 */
export async function setCullBounds(db: Database, actor: Actor, bounds: CullBounds): Promise<void> {
  const problems = boundsViolations(bounds);
  if (problems.length) throw new AppError("BAD_REQUEST", `The culling bounds were not saved: ${problems.join("; ")}.`, { problems });
  const previous = await loadCullBounds(db);
  const saved = await saveCullBounds(db, bounds);
  await appendAudit(db, { actorId: actor.id, actorLabel: actor.label, action: "cull.bounds.set", targetType: "cull_bounds", targetId: null, details: { ...saved, previous } });
}
