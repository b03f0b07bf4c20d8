// What a client may send to the Jupyter API, checked at the boundary with zod (guard, don't cast).
// POST /api/kernels takes Jupyter's `{name?, env?, path?}`. Of `env`, only KERNEL_* variables go on to the
// launcher, and never KERNEL_USERNAME or KERNEL_ID: Atrium sets those from the authenticated user and the
// kernel row (a JEG client sends KERNEL_USERNAME; it is ignored, not refused, so such clients keep working).
// KERNEL_SIZE names the size to start in (one of the kernelspec's sizes, as the start dialog offers them): how a
// gateway client, which has no dialog, chooses one; it is the start's size, not a variable of the kernel's.
// Values are single lines of bounded size because remote launchers put them on command lines and in templates.
import { z } from "zod";

const MAX_ENV_ENTRIES = 128;
const MAX_ENV_VALUE = 4096;
const KERNEL_ENV_NAME = /^KERNEL_[A-Z0-9_]{1,64}$/;
/** Set by Atrium from trusted values only, or (KERNEL_SIZE) taken as the start's size. */
const RESERVED = new Set(["KERNEL_USERNAME", "KERNEL_ID", "KERNEL_SIZE"]);

export const StartKernelBodySchema = z
  .object({
    name: z
      .string()
      .max(64)
      .regex(/^[A-Za-z0-9._-]*$/, "must be a kernelspec name (letters, digits, . _ -)")
      .optional(),
    env: z
      .record(z.string().max(128), z.string().max(MAX_ENV_VALUE, `values must be at most ${MAX_ENV_VALUE} characters`))
      .refine((env) => Object.keys(env).length <= MAX_ENV_ENTRIES, `at most ${MAX_ENV_ENTRIES} variables`)
      .optional(),
    // Jupyter Server's notebook path; kernels start in the user's home folder whatever it says.
    path: z.string().max(4096).nullish(),
  })
  .superRefine((body, ctx) => {
    for (const [name, value] of Object.entries(body.env ?? {})) {
      if (KERNEL_ENV_NAME.test(name) && /[\0-\x1f\x7f]/.test(value)) {
        ctx.addIssue({ code: "custom", path: ["env", name], message: "must be a single line without control characters" });
      }
    }
  });

export type StartKernelBody = z.infer<typeof StartKernelBodySchema>;

/** The variables the launcher gets from the client: KERNEL_* names only, reserved ones dropped. */
export function clientKernelEnv(env: Record<string, string> | undefined): Record<string, string> {
  const kept: Record<string, string> = {};
  for (const [name, value] of Object.entries(env ?? {})) {
    if (KERNEL_ENV_NAME.test(name) && !RESERVED.has(name)) kept[name] = value;
  }
  return kept;
}

/** The size a client asks for in KERNEL_SIZE, if any; the kernel manager checks it against the kernelspec's sizes. */
export function clientKernelSize(env: Record<string, string> | undefined): string | undefined {
  const size = env?.KERNEL_SIZE?.trim();
  return size ? size : undefined;
}

/** Zod's issues as one sentence for a 400 body. */
export function describeIssues(error: z.ZodError): string {
  return error.issues.map((issue) => `${issue.path.join(".") || "body"}: ${issue.message}`).join("; ");
}
