// The contract every home-folder backend implements: local folder now, WebHDFS and Kubernetes PVC later.
// Call sites hold a HomeStore and never branch on the backend. contract.ts is the executable form of the
// rules written here; a new backend is done when it passes runHomeStoreContract().
//
// All paths are user-relative ('' is the home root) and go through paths.ts normalizePath() before any I/O.
// Every failure a user can cause is a StorageError with a code (see errors.ts).

import { Readable } from 'node:stream';

import { StorageError, describePath, isStorageError } from './errors';

export type EntryType = 'file' | 'directory';

export interface HomeEntry {
  /** Last path segment; '' for the home root. */
  name: string;
  /** Normalized user-relative path; '' for the home root. */
  path: string;
  type: EntryType;
  /** Bytes for files; backend-defined (often 0 or a block size) for directories. */
  size: number;
  mtime: Date;
  /** POSIX permission bits (e.g. 0o644) where the backend has them. */
  mode?: number;
}

/** Data to write. A stream is consumed chunk by chunk, never buffered whole; the store takes ownership of it. */
export type WriteData = string | Uint8Array | Readable;

export interface WriteOptions {
  /** Replace an existing file. Without it (and without expectedMtime), an existing file is ALREADY_EXISTS. */
  overwrite?: boolean;
  /**
   * Optimistic concurrency: the mtime the caller last saw. If the file's mtime differs now, or the file is
   * gone, the write fails with CONFLICT and the file is untouched. Implies overwrite. Compared to the
   * millisecond; two saves within the same millisecond cannot be told apart.
   */
  expectedMtime?: Date;
}

export interface ReadLimit {
  /** Refuse files larger than this with QUOTA_EXCEEDED instead of loading them. Default DEFAULT_READ_LIMIT. */
  maxBytes?: number;
}

/** A file opened for streaming: what it was when opened, and its bytes. */
export interface OpenedFile {
  /** As the open handle saw it, so `entry.size` matches what `body` yields (a separate stat() may not). */
  entry: HomeEntry;
  /**
   * Exactly `entry.size` bytes: bytes appended after opening are left out, and a file that shrank meanwhile
   * fails the stream rather than ending it short. The caller must consume or destroy it.
   */
  body: Readable;
}

/** The first bytes of a file (see HomeStore.readPrefix). */
export interface FilePrefix {
  /** The file as it was when its bytes were read. */
  entry: HomeEntry;
  /** At most the maxBytes asked for: the whole file when it fits. */
  bytes: Buffer;
  /** More bytes follow `bytes` in the file (its size was larger than maxBytes). */
  truncated: boolean;
}

/** readBytes/readText are for notebooks and small files; large files go through read() as a stream. */
export const DEFAULT_READ_LIMIT = 32 * 1024 * 1024;

export interface HomeStore {
  /** Creates the home folder if missing (private to its owner). Idempotent; call before first use. */
  ensureHome(): Promise<void>;

  /** Entries of a folder, sorted by name, without the store's own temp files. */
  list(path: string): Promise<HomeEntry[]>;

  stat(path: string): Promise<HomeEntry>;

  /** A stream of a file's bytes, as many as it had when opened (see open()). The caller must consume or destroy it. */
  read(path: string): Promise<Readable>;
  /**
   * The file's entry and its bytes from one opening: what a download needs, whose declared length must be
   * what it sends even when the file grows or shrinks meanwhile (a kernel appending to a log, an editor
   * truncating in place).
   */
  open(path: string): Promise<OpenedFile>;
  readBytes(path: string, limit?: ReadLimit): Promise<Buffer>;
  /** UTF-8 text. */
  readText(path: string, limit?: ReadLimit): Promise<string>;
  /**
   * The file's first `maxBytes` bytes at most, and its entry: a preview of a file of any size. Unlike readBytes,
   * a larger file is not refused; only that much of it is fetched from the backend and held in memory.
   */
  readPrefix(path: string, maxBytes: number): Promise<FilePrefix>;

  /**
   * Atomic: readers see the old content or the new content, never a mix; a failed write (including a
   * stream that errors midway) leaves the old content. The parent folder must exist.
   */
  write(path: string, data: WriteData, options?: WriteOptions): Promise<HomeEntry>;

  /** Without parents, the parent must exist and the path must not. With parents, like `mkdir -p`. */
  mkdir(path: string, options?: { parents?: boolean }): Promise<HomeEntry>;

  /** Moves a file or folder. The destination's parent must exist; an existing destination needs overwrite. */
  rename(from: string, to: string, options?: { overwrite?: boolean }): Promise<HomeEntry>;

  /** A non-empty folder needs recursive (else CONFLICT). A link is removed, never what it points to. */
  delete(path: string, options?: { recursive?: boolean }): Promise<void>;
}

/**
 * Reads a whole stream into memory, refusing more than maxBytes. Shared by backends for readBytes(), so
 * the limit holds even when a file grows between stat() and read().
 */
/**
 * Writes `data` under the first of `paths` that does not exist yet, never over a file (a name taken meanwhile is
 * skipped, so two writers at once get two files); null when every one of them is taken.
 */
export async function writeUnderFreeName(store: HomeStore, paths: Iterable<string>, data: WriteData): Promise<HomeEntry | null> {
  for (const path of paths) {
    try {
      return await store.write(path, data);
    } catch (error) {
      if (!isStorageError(error, 'ALREADY_EXISTS')) throw error;
    }
  }
  return null;
}

export async function collectWithLimit(stream: Readable, maxBytes: number, userPath: string): Promise<Buffer> {
  const chunks: Buffer[] = [];
  let total = 0;
  try {
    for await (const chunk of stream as AsyncIterable<Buffer | string>) {
      const buffer = typeof chunk === 'string' ? Buffer.from(chunk) : chunk;
      total += buffer.length;
      if (total > maxBytes) throw tooLargeToRead(userPath, maxBytes);
      chunks.push(buffer);
    }
  } finally {
    stream.destroy();
  }
  return Buffer.concat(chunks, total);
}

/**
 * The first `maxBytes` bytes of `stream` (fewer when it ends first); stops reading there and destroys the stream,
 * so a backend that cannot ask for a range still holds no more than about one chunk beyond the limit.
 */
export async function collectPrefix(stream: Readable, maxBytes: number): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const part of upTo(stream, maxBytes)) chunks.push(part);
  return Buffer.concat(chunks);
}

/** The chunks of `source` up to `limit` bytes in all (the last one cut), then the source is destroyed. */
async function* upTo(source: Readable, limit: number): AsyncGenerator<Buffer> {
  let taken = 0;
  try {
    if (limit <= 0) return;
    for await (const chunk of source as AsyncIterable<Buffer | string>) {
      const buffer = typeof chunk === 'string' ? Buffer.from(chunk) : chunk;
      const part = buffer.length > limit - taken ? buffer.subarray(0, limit - taken) : buffer;
      taken += part.length;
      yield part;
      if (taken >= limit) return;
    }
  } finally {
    source.destroy();
  }
}

/** Refuses a prefix length that is not a whole, non-negative number of bytes (a caller's bug, not a user's). */
export function checkPrefixLength(maxBytes: number): void {
  if (!Number.isSafeInteger(maxBytes) || maxBytes < 0) throw new RangeError(`readPrefix needs a whole number of bytes, got ${maxBytes}`);
}

/**
 * Exactly `size` bytes of `source` (see OpenedFile.body): passes bytes until `size`, then stops and destroys
 * the source; fails with CONFLICT when the source ends first. Destroying the result destroys the source.
 */
export function exactBytes(source: Readable, size: number, userPath: string): Readable {
  async function* take(): AsyncGenerator<Buffer> {
    let sent = 0;
    for await (const part of upTo(source, size)) {
      sent += part.length;
      yield part;
    }
    if (sent < size) throw shrankWhileRead(userPath, size, sent);
  }
  const exact = Readable.from(take(), { objectMode: false });
  // Destroyed before its first read (a HEAD request), the generator never runs its finally: close the source here.
  exact.once('close', () => source.destroy());
  return exact;
}

function shrankWhileRead(userPath: string, size: number, sent: number): StorageError {
  const subject = describePath(userPath);
  return new StorageError(
    'CONFLICT',
    `${subject.charAt(0).toUpperCase()}${subject.slice(1)} got shorter while it was being read (${sent} of ${size} bytes): ` +
      'something changed it meanwhile. Try again once it is no longer being written.',
    { path: userPath },
  );
}

function formatBytes(bytes: number): string {
  if (bytes >= 1024 * 1024) return `${Math.round((bytes / (1024 * 1024)) * 10) / 10} MiB`;
  if (bytes >= 1024) return `${Math.round((bytes / 1024) * 10) / 10} KiB`;
  return `${bytes} bytes`;
}

export function tooLargeToRead(userPath: string, maxBytes: number): StorageError {
  const subject = describePath(userPath);
  return new StorageError(
    'QUOTA_EXCEEDED',
    `${subject.charAt(0).toUpperCase()}${subject.slice(1)} is larger than ${formatBytes(maxBytes)}, the limit for ` +
      'opening a file in one piece. Download it instead.',
    { path: userPath },
  );
}
