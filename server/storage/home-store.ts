// The contract every home-folder backend implements: local folder now, WebHDFS and Kubernetes PVC later.
// Call sites hold a HomeStore and never branch on the backend. contract.ts is the executable form of the
// rules written here; a new backend is done when it passes runHomeStoreContract().
//
// All paths are user-relative ('' is the home root) and go through paths.ts normalizePath() before any I/O.
// Every failure a user can cause is a StorageError with a code (see errors.ts).

import type { Readable } from 'node:stream';

import { StorageError, describePath } from './errors';

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

/** readBytes/readText are for notebooks and small files; large files go through read() as a stream. */
export const DEFAULT_READ_LIMIT = 32 * 1024 * 1024;

export interface HomeStore {
  /** Creates the home folder if missing (private to its owner). Idempotent; call before first use. */
  ensureHome(): Promise<void>;

  /** Entries of a folder, sorted by name, without the store's own temp files. */
  list(path: string): Promise<HomeEntry[]>;

  stat(path: string): Promise<HomeEntry>;

  /** A stream of a file's bytes. The caller must consume or destroy it. */
  read(path: string): Promise<Readable>;
  readBytes(path: string, limit?: ReadLimit): Promise<Buffer>;
  /** UTF-8 text. */
  readText(path: string, limit?: ReadLimit): Promise<string>;

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
