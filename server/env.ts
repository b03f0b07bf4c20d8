// The one reader of process.env. Everything Atrium can be configured with is here, validated at boot, so a
// bad value stops the server with a message naming the variable instead of failing later in a request.
// When you add a variable, add it to the README's configuration table too.
import path from "node:path";
import { z } from "zod";

const port = z.coerce.number().int().min(0).max(65535);
const optionalNonEmpty = z
  .string()
  .optional()
  .transform((v) => (v === undefined || v.trim() === "" ? undefined : v.trim()));

const schema = z.object({
  NODE_ENV: z.enum(["development", "production", "test"]).default("production"),
  PORT: port.default(3000),
  HOST: z.string().default("0.0.0.0"),
  ATRIUM_PUBLIC_URL: z.string().url("must be a URL such as https://atrium.example.com").optional(),
  DATABASE_URL: optionalNonEmpty.pipe(
    z
      .string()
      .refine((v) => /^postgres(ql)?:\/\/[^\s]+$/.test(v) && URL.canParse(v), {
        message: "must be a postgres:// or postgresql:// URL, e.g. postgres://atrium:secret@db.example.com:5432/atrium",
      })
      .optional(),
  ),
  ATRIUM_DATA_DIR: z.string().default("./.atrium"),
  ATRIUM_SECRET: optionalNonEmpty.pipe(
    z.string().min(32, "must be at least 32 characters (e.g. `openssl rand -hex 32`)").optional(),
  ),
  ATRIUM_ADMIN_EMAIL: optionalNonEmpty.pipe(z.string().email("must be an email address").optional()),
  ATRIUM_ADMIN_PASSWORD: optionalNonEmpty.pipe(z.string().min(8, "must be at least 8 characters").optional()),
  ATRIUM_SESSION_MAX_AGE_HOURS: z.coerce.number().positive().default(12),
  ATRIUM_TRUST_PROXY: z
    .enum(["true", "false", "1", "0"])
    .default("false")
    .transform((v) => v === "true" || v === "1"),
  ATRIUM_PYTHON: optionalNonEmpty,
  ATRIUM_KERNELSPEC_DIRS: optionalNonEmpty,
  ATRIUM_LAUNCH_RESPONSE_HOST: z.string().default("127.0.0.1"),
  ATRIUM_LAUNCH_RESPONSE_PORT: port.default(0),
  ATRIUM_LAUNCH_ADVERTISED_HOST: optionalNonEmpty,
  ATRIUM_KERNEL_PORT_RANGE: z
    .string()
    .regex(/^\d{1,5}\.\.\d{1,5}$/, "must look like 40000..40999 (or 0..0 for any free port)")
    .default("0..0"),
  ATRIUM_KERNEL_STARTUP_TIMEOUT_SECONDS: z.coerce.number().positive().default(60),
  ATRIUM_DB_CONNECT_TIMEOUT_SECONDS: z.coerce.number().positive().default(10),
  ATRIUM_LOG_LEVEL: z.enum(["debug", "info", "warn", "error"]).default("info"),
});

export type Env = z.output<typeof schema> & { dataDir: string };

export class EnvError extends Error {
  constructor(readonly problems: string[]) {
    super(`Atrium cannot start: its configuration is invalid.\n${problems.map((p) => `  - ${p}`).join("\n")}`);
    this.name = "EnvError";
  }
}

/** Validates the environment. Never prints secret values back, only the variable names. */
export function loadEnv(source: Record<string, string | undefined> = process.env): Env {
  const result = schema.safeParse(source);
  if (!result.success) {
    throw new EnvError(
      result.error.issues.map((issue) => `${issue.path.join(".") || "environment"}: ${issue.message}`),
    );
  }
  return { ...result.data, dataDir: path.resolve(result.data.ATRIUM_DATA_DIR) };
}

let cached: Env | undefined;
/** The validated environment of this process (loaded once). */
export function env(): Env {
  cached ??= loadEnv();
  return cached;
}
