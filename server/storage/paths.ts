// Path rules for user-relative paths inside a home folder. Pure functions, no I/O: every store (local,
// WebHDFS, PVC) runs a path through normalizePath() before touching anything, so all backends accept and
// refuse exactly the same names. Change a rule here and the table in paths.test.ts together.
//
// A normalized path uses '/' between segments, is Unicode NFC, has no '.', '..' or empty segments and no
// leading or trailing slash. '' is the home folder itself. A leading '/' means "from the home root", as in
// the Jupyter contents API; paths that name a place outside the home's namespace (a Windows drive, a UNC
// share, '~', a URL) are refused rather than reinterpreted.

import { StorageError, quotePath } from './errors';

export { StorageError, isStorageError, type StorageErrorCode } from './errors';

/** Limits shared with Linux and HDFS: NAME_MAX and PATH_MAX, both counted in UTF-8 bytes. */
export const MAX_SEGMENT_BYTES = 255;
export const MAX_PATH_BYTES = 4096;

/**
 * Stores write to `<dir>/.atrium-tmp-<random>` and rename into place. The prefix is reserved: users cannot
 * name a file with it, list() hides it, and anything carrying it is ours to clean up.
 */
export const TEMP_PREFIX = '.atrium-tmp-';

// Anything longer cannot normalize to a valid path; refusing early bounds the work done on hostile input.
const MAX_RAW_LENGTH = MAX_PATH_BYTES * 4;

// C0, DEL and C1 controls (NUL included), and the bidi overrides used to disguise file extensions.
const FORBIDDEN_CHARS = /[\p{Cc}\u202a-\u202e\u2066-\u2069]/u;
// A lone UTF-16 surrogate cannot be encoded as UTF-8; it would turn into U+FFFD and alias another name.
const LONE_SURROGATE = /\p{Cs}/u;
// 'C:' or 'C:/...'; a name like 'a:b.csv' is an ordinary POSIX file name and stays allowed.
const WINDOWS_DRIVE = /^[A-Za-z]:(\/|$)/;
const URL_SCHEME = /^[A-Za-z][A-Za-z0-9+.-]*:\/\//;

function invalid(input: string, problem: string, fix: string): StorageError {
  return new StorageError('INVALID_PATH', `The path ${quotePath(input)} ${problem}. ${fix}`, { path: input });
}

/**
 * Validates and normalizes a user-relative path. Throws StorageError('INVALID_PATH') with a message that
 * says what is wrong and what to do instead.
 */
export function normalizePath(input: string): string {
  if (typeof input !== 'string') {
    throw new StorageError('INVALID_PATH', 'A path must be text. Pass the path as a string.');
  }
  if (input.length > MAX_RAW_LENGTH) {
    throw invalid(input, `is longer than ${MAX_PATH_BYTES} bytes`, 'Use a shorter path.');
  }
  if (LONE_SURROGATE.test(input)) {
    throw invalid(input, 'contains characters that are not valid Unicode', 'Rename it using valid text.');
  }
  const text = input.normalize('NFC');
  if (FORBIDDEN_CHARS.test(text)) {
    throw invalid(text, 'contains control characters (such as NUL or a line break)', 'Remove them from the name.');
  }
  // Backslashes are treated as separators so "..\\..\\x" cannot slip past the '..' check on any backend.
  const slashed = text.replace(/\\/g, '/');
  if (slashed.startsWith('//')) {
    throw invalid(text, 'looks like a network share', 'Use a path inside your home folder, such as "projects/data.csv".');
  }
  if (WINDOWS_DRIVE.test(slashed)) {
    throw invalid(text, 'looks like a Windows drive path', 'Use a path inside your home folder, such as "projects/data.csv".');
  }
  if (URL_SCHEME.test(slashed)) {
    throw invalid(text, 'looks like a URL', 'Use a path inside your home folder, such as "projects/data.csv".');
  }

  const segments: string[] = [];
  for (const segment of slashed.split('/')) {
    if (segment === '' || segment === '.') continue;
    if (segment === '..') {
      throw invalid(text, 'contains "..", which would leave the folder it names', 'Use a path inside your home folder without "..".');
    }
    if (segments.length === 0 && segment === '~') {
      throw invalid(text, 'starts with "~"', 'Paths are already inside your home folder; drop the leading "~/".');
    }
    if (segment.trim() === '') {
      throw invalid(text, 'has a name made only of spaces', 'Give the file or folder a visible name.');
    }
    if (Buffer.byteLength(segment, 'utf8') > MAX_SEGMENT_BYTES) {
      throw invalid(text, `has a name longer than ${MAX_SEGMENT_BYTES} bytes`, 'Use a shorter name.');
    }
    if (segment.startsWith(TEMP_PREFIX)) {
      throw invalid(text, `uses the reserved prefix "${TEMP_PREFIX}"`, 'Choose a name that does not start with it.');
    }
    segments.push(segment);
  }

  const normalized = segments.join('/');
  if (Buffer.byteLength(normalized, 'utf8') > MAX_PATH_BYTES) {
    throw invalid(text, `is longer than ${MAX_PATH_BYTES} bytes`, 'Use a shorter path.');
  }
  return normalized;
}

/**
 * For paths taken from a URL (a route segment, a query value as sent on the wire): percent-decodes exactly
 * once, then normalizes. A decoded '%2F' becomes a separator and '%2e%2e' becomes '..', which is refused.
 * Pass an array for catch-all route segments; each part is decoded on its own and joined with '/'.
 * Do not call it on values a framework has already decoded, or a literal '%' in a name would be decoded twice.
 */
export function decodeUserPath(raw: string | readonly string[]): string {
  const parts = typeof raw === 'string' ? [raw] : raw;
  const decoded = parts.map((part) => {
    try {
      return decodeURIComponent(part);
    } catch (cause) {
      throw new StorageError(
        'INVALID_PATH',
        `The path ${quotePath(part)} has a malformed percent-encoding. Encode the path with encodeURIComponent.`,
        { path: part, cause },
      );
    }
  });
  return normalizePath(decoded.join('/'));
}

/** The segments of a path; [] for the home root. */
export function splitPath(userPath: string): string[] {
  const normalized = normalizePath(userPath);
  return normalized === '' ? [] : normalized.split('/');
}

/** Joins path parts and normalizes the result; later parts may contain '/' too. */
export function joinPath(...parts: string[]): string {
  return normalizePath(parts.join('/'));
}

/** The folder containing a path: '' for a top-level name, null for the home root (it has no parent). */
export function parentPath(userPath: string): string | null {
  const normalized = normalizePath(userPath);
  if (normalized === '') return null;
  const slash = normalized.lastIndexOf('/');
  return slash === -1 ? '' : normalized.slice(0, slash);
}

/** The last segment of a path; '' for the home root. */
export function baseName(userPath: string): string {
  const normalized = normalizePath(userPath);
  return normalized.slice(normalized.lastIndexOf('/') + 1);
}

/**
 * The extension with its dot, as written ('.ipynb', '.GZ'); '' when there is none. Like a shell, a leading
 * dot starts a hidden name rather than an extension ('.bashrc' has none), and a trailing dot is no extension.
 */
export function extensionOf(userPath: string): string {
  const name = baseName(userPath);
  const dot = name.lastIndexOf('.');
  if (dot <= 0 || dot === name.length - 1) return '';
  return name.slice(dot);
}

/** True when `candidate` is `ancestor` or somewhere below it (both normalized first). */
export function isSameOrInside(ancestor: string, candidate: string): boolean {
  const a = normalizePath(ancestor);
  const c = normalizePath(candidate);
  return a === '' || c === a || c.startsWith(`${a}/`);
}
