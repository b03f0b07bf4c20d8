// Low-level pieces of an atomic local write: fill a temp file in the target's folder (same filesystem, so
// the final rename is atomic), make it durable, and move it into place. Kept apart from local-store.ts so
// the store reads as policy (what is allowed) and this file as mechanism (how bytes reach the disk).

import { randomBytes } from 'node:crypto';
import { promises as fs } from 'node:fs';
import type { FileHandle } from 'node:fs/promises';
import path from 'node:path';
import type { Readable } from 'node:stream';

import type { WriteData } from './home-store';
import { isErrno } from './fs-errors';
import { TEMP_PREFIX } from './paths';

export function isStream(data: WriteData): data is Readable {
  return typeof data !== 'string' && !(data instanceof Uint8Array);
}

export function tempPathBeside(target: string): string {
  // Random only: the target's own name could already use the whole 255-byte budget.
  return path.join(path.dirname(target), `${TEMP_PREFIX}${randomBytes(8).toString('hex')}`);
}

/** Thrown for errors raised by the caller's stream, so they are not mistaken for disk errors. */
export class SourceStreamError extends Error {
  constructor(readonly original: unknown) {
    super('The data being written failed before it was complete.', { cause: original });
  }
}

async function writeAll(handle: FileHandle, buffer: Uint8Array): Promise<void> {
  // FileHandle.write may write less than asked; loop until the chunk is on disk.
  let offset = 0;
  while (offset < buffer.byteLength) {
    const { bytesWritten } = await handle.write(buffer, offset, buffer.byteLength - offset);
    offset += bytesWritten;
  }
}

/**
 * Creates `tempPath` exclusively and fills it with `data`, then fsyncs it, so after a crash the renamed
 * file is never empty or torn. A stream is consumed one chunk at a time with each write awaited, which
 * gives back-pressure and bounded memory. `mode` (when replacing a file) keeps its permission bits.
 */
export async function fillTempFile(tempPath: string, data: WriteData, mode: number | undefined): Promise<void> {
  const handle = await fs.open(tempPath, 'wx', 0o666);
  try {
    if (mode !== undefined) await handle.chmod(mode);
    if (typeof data === 'string') {
      await writeAll(handle, Buffer.from(data, 'utf8'));
    } else if (data instanceof Uint8Array) {
      await writeAll(handle, data);
    } else {
      const chunks = data[Symbol.asyncIterator]() as AsyncIterator<unknown>;
      for (;;) {
        let next: IteratorResult<unknown>;
        try {
          next = await chunks.next();
        } catch (error) {
          throw new SourceStreamError(error);
        }
        if (next.done) break;
        const chunk = next.value;
        if (typeof chunk === 'string') await writeAll(handle, Buffer.from(chunk, 'utf8'));
        else if (chunk instanceof Uint8Array) await writeAll(handle, chunk);
        else throw new SourceStreamError(new TypeError('A stream written to a home store must yield bytes or text.'));
      }
    }
    await handle.sync();
  } catch (error) {
    // Stop the caller's stream on our failure too (ENOSPC midway): nobody will read the rest.
    if (isStream(data)) data.destroy();
    throw error;
  } finally {
    await handle.close();
  }
}

/**
 * Moves `tempPath` to `target` only if `target` does not exist. A hard link fails atomically with EEXIST
 * when the name is taken, which a check-then-rename cannot promise; filesystems without hard links fall
 * back to check-then-rename (callers hold a lock for the target, so this process cannot race itself).
 */
export async function linkIntoPlace(tempPath: string, target: string): Promise<void> {
  try {
    await fs.link(tempPath, target);
    await fs.unlink(tempPath);
  } catch (error) {
    if (!isErrno(error, 'EPERM', 'ENOTSUP', 'EOPNOTSUPP', 'ENOSYS', 'EXDEV')) throw error;
    const existing = await fs.lstat(target).catch((statError: unknown) => {
      if (isErrno(statError, 'ENOENT')) return null;
      throw statError;
    });
    if (existing) throw Object.assign(new Error('target exists'), { code: 'EEXIST' });
    await fs.rename(tempPath, target);
  }
}

/** Makes a rename durable. Best effort: some filesystems cannot fsync a directory, and the data is safe anyway. */
export async function syncDirectory(dir: string): Promise<void> {
  try {
    const handle = await fs.open(dir, 'r');
    try {
      await handle.sync();
    } finally {
      await handle.close();
    }
  } catch {
    // ignored on purpose, see above
  }
}

export async function removeQuietly(file: string): Promise<void> {
  await fs.rm(file, { force: true }).catch(() => undefined);
}
