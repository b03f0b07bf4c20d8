// The audit trail: append-only.
import { and, desc, eq, gte, ilike, like, lt, or, sql } from "drizzle-orm";
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

export interface AuditQuery {
  limit: number;
  /** Entries older than this id (the last one of the page before): newest first, page by page. */
  before?: number;
  /** An action ("user.set_role") or a family of them ("user" for every "user.…"). */
  action?: string;
  /** Words in the actor's label, the target's id or the details (an email, a team's name), any case. */
  search?: string;
  /** From this instant on. */
  since?: Date;
}

/** The audit trail, newest first, filtered (an admin's Audit log page, tests). */
export async function listAudit(db: Database, params: AuditQuery) {
  const pattern = params.search?.trim() ? `%${escapeLike(params.search.trim())}%` : undefined;
  return db
    .select()
    .from(auditLog)
    .where(
      and(
        params.before !== undefined ? lt(auditLog.id, params.before) : undefined,
        params.action ? or(eq(auditLog.action, params.action), like(auditLog.action, `${escapeLike(params.action)}.%`)) : undefined,
        pattern ? or(ilike(auditLog.actorLabel, pattern), ilike(auditLog.targetId, pattern), sql`${auditLog.details}::text ilike ${pattern}`) : undefined,
        params.since ? gte(auditLog.at, params.since) : undefined,
      ),
    )
    .orderBy(desc(auditLog.id))
    .limit(params.limit);
}

/** A LIKE pattern that matches `text` literally (its %, _ and \\ are not wildcards). */
function escapeLike(text: string): string {
  return text.replace(/[\\%_]/g, (c) => `\\${c}`);
}
