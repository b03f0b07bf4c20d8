// Every kernel is a row: who owns it, where it runs, its state, and (encrypted) how to reach it again.
// Any replica can read a row and reattach; a restarted portal reconnects the kernels that are still alive.
import { index, jsonb, pgEnum, pgTable, text, timestamp, uuid } from "drizzle-orm/pg-core";
import { teams, users } from "./identity";

/** A kernel's input_request as it sent it: the message's four JSON parts. */
export interface SavedInputRequest {
  header: Record<string, unknown>;
  parent_header: Record<string, unknown>;
  metadata: Record<string, unknown>;
  content: Record<string, unknown>;
}

export const kernelState = pgEnum("kernel_state", ["starting", "idle", "busy", "restarting", "dead"]);
export const kernelEndReason = pgEnum("kernel_end_reason", ["stopped", "culled", "died", "quota", "launch_failed"]);

export const kernels = pgTable(
  "kernels",
  {
    /** The kernel id clients use in /api/kernels/{id}. */
    id: uuid("id").primaryKey(),
    ownerId: uuid("owner_id")
      .notNull()
      .references(() => users.id, { onDelete: "cascade" }),
    teamId: uuid("team_id").references(() => teams.id, { onDelete: "set null" }),
    kernelspec: text("kernelspec").notNull(),
    launcher: text("launcher").notNull(),
    /** The engine's own id: a pid, a YARN application id, a pod name. */
    engineId: text("engine_id"),
    /**
     * The portal host whose process it is, for a kernel that runs as a process of the portal's own host (local
     * kernels): only a portal on that host can reach, signal or judge it. Null: a cluster kernel, any replica's.
     */
    portalHost: text("portal_host"),
    sizeProfile: text("size_profile"),
    state: kernelState("state").notNull().default("starting"),
    /** Why it is in this state, in words (a launch phase, or why it died). */
    stateDetail: text("state_detail"),
    /** The launcher's saved state incl. connection info and keys, sealed with ATRIUM_SECRET. */
    sealedLaunchState: text("sealed_launch_state"),
    /** The KERNEL_* variables the client started it with (allow-listed), sealed: a restart launches with them again. */
    sealedClientEnv: text("sealed_client_env"),
    createdAt: timestamp("created_at", { withTimezone: true }).notNull().defaultNow(),
    startedAt: timestamp("started_at", { withTimezone: true }),
    lastActivityAt: timestamp("last_activity_at", { withTimezone: true }).notNull().defaultNow(),
    endedAt: timestamp("ended_at", { withTimezone: true }),
    endReason: kernelEndReason("end_reason"),
    /**
     * While it starts or restarts: until when the portal process launching it vouches for it (renewed while the
     * launch runs). Another process reattaching kernels leaves a row with a live lease to that launch.
     */
    launchLeaseUntil: timestamp("launch_lease_until", { withTimezone: true }),
    /**
     * Until when a portal replica last said a client (a browser, JupyterLab) is attached to it: the culler that
     * acts may run on a replica the client is not connected to. Renewed every culling sweep by each replica.
     */
    clientsSeenUntil: timestamp("clients_seen_until", { withTimezone: true }),
    /**
     * The input_request a cell waits on (it called input()) that no client has answered yet: a portal that
     * reattaches the kernel (after a restart, or another replica) asks it again of the clients that attach.
     */
    openInput: jsonb("open_input").$type<SavedInputRequest>(),
  },
  (t) => [index("kernels_owner_idx").on(t.ownerId), index("kernels_state_idx").on(t.state)],
);

/**
 * Each portal host's last sign of life, written every half minute by its portal. A local kernel is a process of one
 * host: one whose host has not been heard from for long (a container replaced, a machine gone) is presumed gone with
 * it, by whichever replica looks (server/kernels/portal-hosts.ts).
 */
export const portalHosts = pgTable("portal_hosts", {
  name: text("name").primaryKey(),
  seenAt: timestamp("seen_at", { withTimezone: true }).notNull().defaultNow(),
});
