// One row that names this installation (every replica sharing the database shares it). What Atrium creates on
// a shared cluster (YARN applications, pods, Secrets) carries this id, so an orphan sweep only ever touches its
// own installation's engines, never those of another Atrium using the same cluster or namespace.
import { sql } from "drizzle-orm";
import { check, pgTable, smallint, text, timestamp, uuid } from "drizzle-orm/pg-core";

export const installation = pgTable(
  "installation",
  {
    /** Always 1: the table holds one row. */
    singleton: smallint("singleton").primaryKey().default(1),
    id: uuid("id").notNull().defaultRandom(),
    createdAt: timestamp("created_at", { withTimezone: true }).notNull().defaultNow(),
    /**
     * Which physical database the id was made or confirmed in (Postgres's system identifier and the database's
     * oid). A copy (a dump restored for staging, a restore) differs, and does not sweep until told whose it is.
     */
    databaseIdentity: text("database_identity"),
  },
  (t) => [check("installation_one_row", sql`${t.singleton} = 1`)],
);
