// Durable outputs: every execute request a kernel runs, with the outputs it produced, recorded by the server
// whether or not a browser is attached. Reopening a notebook replays what ran meanwhile.
import { bigint, boolean, index, integer, jsonb, pgEnum, pgTable, primaryKey, text, timestamp, uuid } from "drizzle-orm/pg-core";
import { kernels } from "./kernels";
import { users } from "./identity";

export const cellRunStatus = pgEnum("cell_run_status", ["running", "ok", "error", "aborted"]);

export const cellRuns = pgTable(
  "cell_runs",
  {
    /** The execute_request's msg_id. */
    msgId: text("msg_id").primaryKey(),
    kernelId: uuid("kernel_id")
      .notNull()
      .references(() => kernels.id, { onDelete: "cascade" }),
    ownerId: uuid("owner_id")
      .notNull()
      .references(() => users.id, { onDelete: "cascade" }),
    /** Home-relative notebook path and nbformat cell id, when the client said (Atrium's notebook does). */
    notebookPath: text("notebook_path"),
    cellId: text("cell_id"),
    code: text("code").notNull().default(""),
    status: cellRunStatus("status").notNull().default("running"),
    executionCount: integer("execution_count"),
    /** nbformat output objects. */
    outputs: jsonb("outputs").$type<unknown[]>().notNull().default([]),
    /** Stream text beyond the stored limit goes to a spill file; this counts it. */
    spilledBytes: bigint("spilled_bytes", { mode: "number" }).notNull().default(0),
    clipped: boolean("clipped").notNull().default(false),
    /**
     * How many of the run's messages the last write had seen. Two portal replicas may record one run (the one
     * its request went through, and one that took the kernel up after a restart and missed some of it): the
     * write that saw more is kept, never overwritten by one that saw less.
     */
    messagesSeen: integer("messages_seen").notNull().default(0),
    startedAt: timestamp("started_at", { withTimezone: true }).notNull().defaultNow(),
    finishedAt: timestamp("finished_at", { withTimezone: true }),
    updatedAt: timestamp("updated_at", { withTimezone: true }).notNull().defaultNow(),
  },
  (t) => [index("cell_runs_notebook_idx").on(t.ownerId, t.notebookPath, t.cellId, t.startedAt), index("cell_runs_kernel_idx").on(t.kernelId)],
);

/** Which kernel a user's notebook is using, so reopening it reconnects (Jupyter's "sessions"). */
export const notebookKernels = pgTable(
  "notebook_kernels",
  {
    ownerId: uuid("owner_id")
      .notNull()
      .references(() => users.id, { onDelete: "cascade" }),
    path: text("path").notNull(),
    kernelId: uuid("kernel_id")
      .notNull()
      .references(() => kernels.id, { onDelete: "cascade" }),
    updatedAt: timestamp("updated_at", { withTimezone: true }).notNull().defaultNow(),
  },
  (t) => [primaryKey({ columns: [t.ownerId, t.path] })],
);

/**
 * The notebooks each user opened, with when they last did: the Notebooks page lists them newest first. Kept on
 * the server (not in a browser) so every session of the account shows one list. Keyed by path like the tables
 * above, so a rename or delete in Files moves or drops the entry with them (db/queries/notebooks.ts).
 */
export const recentNotebooks = pgTable(
  "recent_notebooks",
  {
    ownerId: uuid("owner_id")
      .notNull()
      .references(() => users.id, { onDelete: "cascade" }),
    /** Home-relative, normalized, as notebooks.open received it. */
    path: text("path").notNull(),
    openedAt: timestamp("opened_at", { withTimezone: true }).notNull().defaultNow(),
  },
  (t) => [primaryKey({ columns: [t.ownerId, t.path] }), index("recent_notebooks_owner_opened_idx").on(t.ownerId, t.openedAt)],
);
