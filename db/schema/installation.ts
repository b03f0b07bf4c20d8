// One row that names this installation (every replica sharing the database shares it). What Atrium creates on
// a shared cluster (YARN applications, pods, Secrets) carries this id, so an orphan sweep only ever touches its
// own installation's engines, never those of another Atrium using the same cluster or namespace.
import { sql } from "drizzle-orm";
import { check, pgTable, smallint, timestamp, uuid } from "drizzle-orm/pg-core";

export const installation = pgTable(
  "installation",
  {
    /** Always 1: the table holds one row. */
    singleton: smallint("singleton").primaryKey().default(1),
    id: uuid("id").notNull().defaultRandom(),
    createdAt: timestamp("created_at", { withTimezone: true }).notNull().defaultNow(),
  },
  (t) => [check("installation_one_row", sql`${t.singleton} = 1`)],
);
