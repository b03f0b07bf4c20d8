// The audit trail: append-only.
import { desc } from "drizzle-orm";
import type { Database } from "../index";
import { auditLog } from "../schema";

export interface AuditEntry {
  actorId: string | null;
  actorLabel: string;
  action: string;
  targetType: string;
  targetId?: string | null;
  details?: Record<string, unknown>;
}

export async function appendAudit(db: Database, entry: AuditEntry) {
  await db.insert(auditLog).values({ ...entry, targetId: entry.targetId ?? null, details: entry.details ?? {} });
}

export async function listAudit(db: Database, params: { limit: number }) {
  return db.select().from(auditLog).orderBy(desc(auditLog.id)).limit(params.limit);
}
