// The one error type every home store throws for things a user can cause.
// Callers map `code` to tRPC/HTTP status in one place; `message` is shown to the user as is, so it says what
// went wrong and what to do, and never contains host paths (those live in `cause`, for logs only).

export const STORAGE_ERROR_CODES = [
  'INVALID_PATH',
  'NOT_FOUND',
  'ALREADY_EXISTS',
  'NOT_A_DIRECTORY',
  'IS_A_DIRECTORY',
  'PERMISSION_DENIED',
  'CONFLICT',
  'QUOTA_EXCEEDED',
  'UNAVAILABLE',
] as const;

export type StorageErrorCode = (typeof STORAGE_ERROR_CODES)[number];

export class StorageError extends Error {
  override readonly name = 'StorageError';
  readonly code: StorageErrorCode;
  /** The user-relative path the error is about, when there is one. */
  readonly path: string | undefined;

  constructor(code: StorageErrorCode, message: string, options: { path?: string; cause?: unknown } = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.code = code;
    this.path = options.path;
  }
}

export function isStorageError(error: unknown, code?: StorageErrorCode): error is StorageError {
  return error instanceof StorageError && (code === undefined || error.code === code);
}

/**
 * Renders a user path for an error message: quoted, control characters escaped, long input shortened,
 * so a hostile path cannot forge log lines or flood the UI.
 */
export function quotePath(input: string): string {
  const max = 120;
  // Cut by code points, not UTF-16 units, so an emoji is never split into a lone surrogate.
  const shown = input.length > max ? `${Array.from(input).slice(0, max).join('')}…` : input;
  const escaped = shown.replace(/[\p{Cc}\u202a-\u202e\u2066-\u2069]/gu, (ch) => {
    const hex = ch.codePointAt(0)!.toString(16).padStart(4, '0');
    return `\\u${hex}`;
  });
  return `"${escaped}"`;
}

/** Like quotePath, but names the home root in words, since '' reads badly in a message. */
export function describePath(userPath: string): string {
  return userPath === '' ? 'your home folder' : quotePath(userPath);
}
