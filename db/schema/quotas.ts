// Quotas and culling policy. A team's row is its envelope (set by admins); a user's row is their quota (set by
// their team lead inside the envelope). A null limit means "not set": the user default for user rows, no
// limit beyond the admin's for team rows. Rows are created lazily (INSERT ... ON CONFLICT DO NOTHING) by
// admission, which locks them (SELECT ... FOR UPDATE) so concurrent starts on any replica are serialized.
import { boolean, doublePrecision, integer, pgEnum, pgTable, smallint, text, timestamp, uuid } from "drizzle-orm/pg-core";
import { teams, users } from "./identity";

/** What happens to a member's running kernels once their monthly budget is used up. */
export const overBudgetAction = pgEnum("over_budget_action", ["keep", "stop"]);

const limits = {
  maxKernels: integer("max_kernels"),
  maxVcores: doublePrecision("max_vcores"),
  maxMemoryMb: integer("max_memory_mb"),
  maxGpus: integer("max_gpus"),
  monthlyVcoreHours: doublePrecision("monthly_vcore_hours"),
};

export const teamQuotas = pgTable("team_quotas", {
  teamId: uuid("team_id")
    .primaryKey()
    .references(() => teams.id, { onDelete: "cascade" }),
  ...limits,
  overBudgetAction: overBudgetAction("over_budget_action").notNull().default("keep"),
  overBudgetGraceMinutes: integer("over_budget_grace_minutes").notNull().default(30),
  updatedAt: timestamp("updated_at", { withTimezone: true }).notNull().defaultNow(),
});

export const userQuotas = pgTable("user_quotas", {
  userId: uuid("user_id")
    .primaryKey()
    .references(() => users.id, { onDelete: "cascade" }),
  ...limits,
  updatedAt: timestamp("updated_at", { withTimezone: true }).notNull().defaultNow(),
});

/** A team's culling policy, set by its lead inside the admin's bounds. Null fields take the bounds' defaults. */
export const teamCullPolicies = pgTable("team_cull_policies", {
  teamId: uuid("team_id")
    .primaryKey()
    .references(() => teams.id, { onDelete: "cascade" }),
  idleTimeoutMinutes: integer("idle_timeout_minutes"),
  cullBusy: boolean("cull_busy"),
  cullConnected: boolean("cull_connected"),
  maxLifetimeHours: integer("max_lifetime_hours"),
  warningMinutes: integer("warning_minutes"),
  updatedAt: timestamp("updated_at", { withTimezone: true }).notNull().defaultNow(),
});

/** The admin's bounds for every team's culling policy: one row (id = 1); absent means the built-in bounds. */
export const cullBounds = pgTable("cull_bounds", {
  id: smallint("id").primaryKey().default(1),
  /** JSON of CullBounds (server/culler/policy.ts); validated when read. */
  bounds: text("bounds").notNull(),
  updatedAt: timestamp("updated_at", { withTimezone: true }).notNull().defaultNow(),
});
