// Errors a user can cause, typed by code, each saying what happened and what to do. They are mapped to tRPC
// and HTTP codes here and nowhere else. The brand is a global symbol, not `instanceof`, because Next's bundle
// and the custom server load this module separately: an AppError made in one is still recognised in the other.
const BRAND = Symbol.for("atrium.AppError");

export const errorCodes = {
  BAD_REQUEST: { http: 400, trpc: "BAD_REQUEST" },
  UNAUTHENTICATED: { http: 401, trpc: "UNAUTHORIZED" },
  FORBIDDEN: { http: 403, trpc: "FORBIDDEN" },
  NOT_FOUND: { http: 404, trpc: "NOT_FOUND" },
  CONFLICT: { http: 409, trpc: "CONFLICT" },
  ALREADY_EXISTS: { http: 409, trpc: "CONFLICT" },
  THROTTLED: { http: 429, trpc: "TOO_MANY_REQUESTS" },
  QUOTA_EXCEEDED: { http: 403, trpc: "FORBIDDEN" },
  LAUNCH_FAILED: { http: 500, trpc: "INTERNAL_SERVER_ERROR" },
  LAUNCH_TIMEOUT: { http: 504, trpc: "TIMEOUT" },
  UNAVAILABLE: { http: 503, trpc: "INTERNAL_SERVER_ERROR" },
  INTERNAL: { http: 500, trpc: "INTERNAL_SERVER_ERROR" },
} as const;

export type ErrorCode = keyof typeof errorCodes;

export class AppError extends Error {
  readonly [BRAND] = true;
  constructor(
    readonly code: ErrorCode,
    message: string,
    readonly details?: Record<string, unknown>,
  ) {
    super(message);
    this.name = "AppError";
  }
}

export function isAppError(value: unknown): value is AppError {
  return typeof value === "object" && value !== null && (value as Record<symbol, unknown>)[BRAND] === true;
}

export function httpStatusOf(error: unknown): number {
  return isAppError(error) ? errorCodes[error.code].http : 500;
}

export function trpcCodeOf(error: AppError) {
  return errorCodes[error.code].trpc;
}

export const notFound = (what: string) => new AppError("NOT_FOUND", `${what} was not found.`);

// Errors from the storage layer carry codes of their own; they become AppErrors here, so every surface
// (tRPC, the Jupyter API, file downloads) maps them the same way.
const storageCodes: Record<string, ErrorCode> = {
  INVALID_PATH: "BAD_REQUEST",
  NOT_FOUND: "NOT_FOUND",
  ALREADY_EXISTS: "ALREADY_EXISTS",
  NOT_A_DIRECTORY: "BAD_REQUEST",
  IS_A_DIRECTORY: "BAD_REQUEST",
  PERMISSION_DENIED: "FORBIDDEN",
  CONFLICT: "CONFLICT",
  QUOTA_EXCEEDED: "QUOTA_EXCEEDED",
  UNAVAILABLE: "UNAVAILABLE",
};

/** The AppError an error stands for, when it is one a user can act on; undefined for internal errors. */
export function asAppError(error: unknown): AppError | undefined {
  if (isAppError(error)) return error;
  const e = error as { name?: unknown; code?: unknown; message?: unknown } | null;
  if (e && e.name === "StorageError" && typeof e.code === "string" && storageCodes[e.code]) {
    return new AppError(storageCodes[e.code]!, String(e.message), { storageCode: e.code });
  }
  return undefined;
}
