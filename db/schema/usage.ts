// Usage: one row per kernel session, written by admission in the same transaction as the kernel row, with the
// resources it reserved. Busy time is accumulated from execution_state transitions; the end (time, reason,
// engine id) is settled from the kernel row by the culler's sweep, so every path that ends a kernel (stop,
// cull, death, failed launch, a crashed replica) is covered. Sessions outlive their kernel rows (no FK).
import { bigint, doublePrecision, index, integer, pgEnum, pgTable, primaryKey, text, timestamp, uuid } from "drizzle-orm/pg-core";
import { kernelEndReason } from "./kernels";

export const kernelSessions = pgTable(
  "kernel_sessions",
  {
    kernelId: uuid("kernel_id").primaryKey(),
    userId: uuid("user_id").notNull(),
    teamId: uuid("team_id"),
    kernelspec: text("kernelspec").notNull(),
    /** The launcher: local, yarn, kubernetes... */
    engine: text("engine").notNull(),
    /** The engine's own id (pid, YARN application id, pod name), copied from the kernel row. */
    engineId: text("engine_id"),
    sizeProfile: text("size_profile").notNull(),
    vcores: doublePrecision("vcores").notNull(),
    memoryMb: integer("memory_mb").notNull(),
    gpus: integer("gpus").notNull(),
    /** Admission time: resources are reserved from here. */
    startedAt: timestamp("started_at", { withTimezone: true }).notNull().defaultNow(),
    endedAt: timestamp("ended_at", { withTimezone: true }),
    endReason: kernelEndReason("end_reason"),
    endDetail: text("end_detail"),
    busyMs: bigint("busy_ms", { mode: "number" }).notNull().default(0),
    /** Set while the kernel is busy: the start of the open busy period. */
    busySince: timestamp("busy_since", { withTimezone: true }),
  },
  (t) => [index("kernel_sessions_started_idx").on(t.startedAt), index("kernel_sessions_user_idx").on(t.userId, t.startedAt)],
);

export const kernelWarningKind = pgEnum("kernel_warning_kind", ["idle", "lifetime", "budget", "admin"]);

/**
 * Why a kernel may be stopped soon, one row per kind: idle (activity clears it), its maximum lifetime, an
 * exhausted budget (deadline null: the team keeps running kernels), or an admin's stop request. The notebook
 * page shows these; `claimedAt` marks the one sweep that stops the kernel.
 */
export const kernelWarnings = pgTable(
  "kernel_warnings",
  {
    kernelId: uuid("kernel_id").notNull(),
    ownerId: uuid("owner_id").notNull(),
    kind: kernelWarningKind("kind").notNull(),
    message: text("message").notNull(),
    warnedAt: timestamp("warned_at", { withTimezone: true }).notNull().defaultNow(),
    deadline: timestamp("deadline", { withTimezone: true }),
    claimedAt: timestamp("claimed_at", { withTimezone: true }),
  },
  (t) => [primaryKey({ columns: [t.kernelId, t.kind] }), index("kernel_warnings_owner_idx").on(t.ownerId)],
);
