import { defineConfig } from "drizzle-kit";

// Migrations are generated from db/schema and committed; the same files run on PGlite and on Postgres.
export default defineConfig({
  dialect: "postgresql",
  schema: "./db/schema/index.ts",
  out: "./db/migrations",
});
