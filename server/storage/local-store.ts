// HomeStore on the local filesystem: the embedded default, one folder per user under a base directory.
//
// Confinement (which host path a user path may reach) lives in local-confinement.ts; this file decides what
// each operation is allowed to do, and atomic-file.ts how bytes reach the disk.

import { constants as fsConstants, promises as fs, type Stats } from 'node:fs';
import type { FileHandle } from 'node:fs/promises';
import path from 'node:path';
import type { Readable } from 'node:stream';

import {
  SourceStreamError,
  fillTempFile,
  isStream,
  linkIntoPlace,
  removeQuietly,
  syncDirectory,
  tempPathBeside,
} from './atomic-file';
import { StorageError, describePath, quotePath } from './errors';
import { fromFsError, isErrno, storageError } from './fs-errors';
import {
  DEFAULT_READ_LIMIT,
  checkPrefixLength,
  collectPrefix,
  collectWithLimit,
  exactBytes,
  tooLargeToRead,
  type FilePrefix,
  type HomeEntry,
  type HomeStore,
  type OpenedFile,
  type ReadLimit,
  type WriteData,
  type WriteOptions,
} from './home-store';
import { HomeConfinement } from './local-confinement';
import { TEMP_PREFIX, isSameOrInside, normalizePath } from './paths';
import { nameOf, parentOf, withTargetLock } from './target-lock';

/** Lowercase letters, digits, '.', '_' and '-', not starting with a dot (so never '.', '..' or hidden). */
const USERNAME = /^[a-z0-9_-][a-z0-9._-]{0,63}$/;

/**
 * The store for `<baseDir>/<username>` (a relative baseDir is taken from the working directory). Throws
 * INVALID_PATH for a user name that cannot be a folder name. Call ensureHome() before first use.
 */
export function localHomeStoreFor(baseDir: string, username: string): LocalHomeStore {
  if (typeof username !== 'string' || !USERNAME.test(username)) {
    throw new StorageError(
      'INVALID_PATH',
      `The user name ${quotePath(String(username))} cannot be used as a home folder name: it must be 1 to 64 ` +
        `lowercase letters, digits, ".", "_" or "-", and not start with a dot. Ask an administrator to fix the account name.`,
    );
  }
  return new LocalHomeStore(path.join(path.resolve(baseDir), username));
}

function childOf(rel: string, name: string): string {
  return rel === '' ? name : `${rel}/${name}`;
}

async function lstatOrNull(hostPath: string): Promise<Stats | null> {
  try {
    return await fs.lstat(hostPath);
  } catch (error) {
    if (isErrno(error, 'ENOENT', 'ENOTDIR')) return null;
    throw error;
  }
}

function notRegular(rel: string): StorageError {
  return new StorageError(
    'INVALID_PATH',
    `${describePath(rel)} is not a regular file or folder (it may be a device, socket or pipe). Choose a file or folder.`,
    { path: rel },
  );
}

function checkExpectedMtime(rel: string, current: Stats | null, expected: Date): void {
  if (current === null) {
    throw new StorageError(
      'CONFLICT',
      `${describePath(rel)} was deleted after you opened it. Save it under a new name, or reload the folder.`,
      { path: rel },
    );
  }
  if (current.mtime.getTime() !== expected.getTime()) {
    throw new StorageError(
      'CONFLICT',
      `${describePath(rel)} was changed elsewhere (another tab, a kernel or another user) after you opened it ` +
        `(last saved ${current.mtime.toISOString()}). ` +
        'Reload it to see those changes, or save your version under another name.',
      { path: rel },
    );
  }
}

export class LocalHomeStore implements HomeStore {
  /** Host path of the home folder (absolute; may itself be a link, e.g. to another volume). */
  readonly root: string;

  private readonly jail: HomeConfinement;

  constructor(root: string) {
    this.root = path.resolve(root);
    this.jail = new HomeConfinement(this.root);
  }

  async ensureHome(): Promise<void> {
    try {
      // 0700: homes of different users share a base directory and must not see each other. An existing
      // home keeps its mode: an administrator may have set it on purpose.
      await fs.mkdir(this.root, { recursive: true, mode: 0o700 });
      const stats = await fs.stat(this.root);
      if (stats.isDirectory()) return;
    } catch (error) {
      if (!isErrno(error, 'EEXIST', 'ENOTDIR')) throw fromFsError(error, '');
    }
    throw new StorageError(
      'UNAVAILABLE',
      'The place for your home folder is taken by a file, so the folder cannot be created. Tell an administrator.',
    );
  }

  async list(userPath: string): Promise<HomeEntry[]> {
    const rel = normalizePath(userPath);
    const { home, hostPath } = await this.jail.resolve(rel);
    let dirents;
    try {
      dirents = await fs.readdir(hostPath, { withFileTypes: true });
    } catch (error) {
      throw fromFsError(error, rel);
    }
    const entries = await Promise.all(
      dirents
        .filter((dirent) => !dirent.name.startsWith(TEMP_PREFIX))
        .map((dirent) => this.listedEntry(home, path.join(hostPath, dirent.name), childOf(rel, dirent.name))),
    );
    return entries
      .filter((entry): entry is HomeEntry => entry !== null)
      .sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  }

  async stat(userPath: string): Promise<HomeEntry> {
    const rel = normalizePath(userPath);
    const { hostPath } = await this.jail.resolve(rel);
    try {
      // hostPath is already a real path, so lstat sees the target and never a link.
      return this.toEntry(rel, await fs.lstat(hostPath));
    } catch (error) {
      throw fromFsError(error, rel);
    }
  }

  async read(userPath: string): Promise<Readable> {
    return (await this.open(userPath)).body;
  }

  async open(userPath: string): Promise<OpenedFile> {
    const rel = normalizePath(userPath);
    const { handle, stats } = await this.openForRead(rel);
    // The size is the open handle's (fstat), and only that range is read: a writer appending meanwhile adds
    // nothing, and an atomic save replacing the file leaves this handle on the old one.
    const stream = handle.createReadStream(stats.size > 0 ? { start: 0, end: stats.size - 1 } : {});
    return { entry: this.toEntry(rel, stats), body: exactBytes(stream, stats.size, rel) };
  }

  async readBytes(userPath: string, limit: ReadLimit = {}): Promise<Buffer> {
    const rel = normalizePath(userPath);
    const maxBytes = limit.maxBytes ?? DEFAULT_READ_LIMIT;
    const { handle, stats } = await this.openForRead(rel);
    if (stats.size > maxBytes) {
      await handle.close();
      throw tooLargeToRead(rel, maxBytes);
    }
    return collectWithLimit(handle.createReadStream(), maxBytes, rel);
  }

  async readText(userPath: string, limit?: ReadLimit): Promise<string> {
    return (await this.readBytes(userPath, limit)).toString('utf8');
  }

  async readPrefix(userPath: string, maxBytes: number): Promise<FilePrefix> {
    checkPrefixLength(maxBytes);
    const rel = normalizePath(userPath);
    const { handle, stats } = await this.openForRead(rel);
    const entry = this.toEntry(rel, stats);
    // Only the range wanted is read from disk, sized by the open handle (as open() does).
    const length = Math.min(stats.size, maxBytes);
    if (length === 0) {
      await handle.close();
      return { entry, bytes: Buffer.alloc(0), truncated: stats.size > 0 };
    }
    const bytes = await collectPrefix(handle.createReadStream({ start: 0, end: length - 1 }), length);
    return { entry, bytes, truncated: stats.size > length };
  }

  async write(userPath: string, data: WriteData, options: WriteOptions = {}): Promise<HomeEntry> {
    let tempPath: string | undefined;
    let rel = userPath;
    try {
      rel = normalizePath(userPath);
      if (rel === '') throw storageError('IS_A_DIRECTORY', rel);
      const { expectedMtime } = options;
      const overwrite = options.overwrite === true || expectedMtime !== undefined;
      const { hostPath } = await this.jail.resolve(rel);

      // Fail before consuming a possibly large upload when the answer is already known.
      const before = await lstatOrNull(hostPath);
      if (before?.isDirectory()) throw storageError('IS_A_DIRECTORY', rel);
      if (before && !overwrite) throw storageError('ALREADY_EXISTS', rel);
      if (expectedMtime) checkExpectedMtime(rel, before, expectedMtime);

      tempPath = tempPathBeside(hostPath);
      try {
        // Keep the replaced file's permission bits, minus setuid/setgid: new content must not inherit privileges.
        await fillTempFile(tempPath, data, before ? before.mode & 0o777 : undefined);
      } catch (error) {
        // ENOENT when creating the temp file means the parent folder is missing: name the folder.
        if (isErrno(error, 'ENOENT')) throw fromFsError(error, parentOf(rel));
        throw error;
      }

      const placed = tempPath;
      await withTargetLock(hostPath, async () => {
        // Checked again at the last moment: another save may have landed while we were writing.
        if (expectedMtime) checkExpectedMtime(rel, await lstatOrNull(hostPath), expectedMtime);
        if (overwrite) await fs.rename(placed, hostPath);
        else await linkIntoPlace(placed, hostPath);
      });
      tempPath = undefined;
      await syncDirectory(path.dirname(hostPath));
      return this.toEntry(rel, await fs.lstat(hostPath));
    } catch (error) {
      if (isStream(data)) data.destroy();
      // The caller's own stream failing is their error, passed back unchanged (never mapped as a disk error).
      if (error instanceof SourceStreamError) throw error.original;
      throw fromFsError(error, rel);
    } finally {
      if (tempPath !== undefined) await removeQuietly(tempPath);
    }
  }

  async mkdir(userPath: string, options: { parents?: boolean } = {}): Promise<HomeEntry> {
    const rel = normalizePath(userPath);
    const parents = options.parents === true;
    if (rel === '') {
      if (parents) return this.stat('');
      throw storageError('ALREADY_EXISTS', rel);
    }
    const { hostPath } = await this.jail.resolve(rel);
    try {
      await fs.mkdir(hostPath, { recursive: parents });
      return this.toEntry(rel, await fs.lstat(hostPath));
    } catch (error) {
      throw isErrno(error, 'ENOENT') ? fromFsError(error, parentOf(rel)) : fromFsError(error, rel);
    }
  }

  async rename(from: string, to: string, options: { overwrite?: boolean } = {}): Promise<HomeEntry> {
    const source = normalizePath(from);
    const target = normalizePath(to);
    if (source === '' || target === '') {
      throw new StorageError(
        'INVALID_PATH',
        'Your home folder itself cannot be moved or replaced. Choose a file or folder inside it.',
      );
    }
    if (source === target) return this.stat(source);
    if (isSameOrInside(source, target)) {
      throw new StorageError(
        'INVALID_PATH',
        `${describePath(source)} cannot be moved into itself (${describePath(target)}). Choose a destination outside it.`,
        { path: target },
      );
    }
    const sourceHost = await this.jail.resolveEntry(source);
    const targetHost = await this.jail.resolveEntry(target);
    const sourceStats = await lstatOrNull(sourceHost);
    if (sourceStats === null) throw storageError('NOT_FOUND', source);

    try {
      await withTargetLock(targetHost, async () => {
        if (!options.overwrite) {
          const existing = await lstatOrNull(targetHost);
          // Same inode: a case-only rename on a case-insensitive filesystem, not a collision.
          const sameFile = existing && existing.ino === sourceStats.ino && existing.dev === sourceStats.dev;
          if (existing && !sameFile) throw storageError('ALREADY_EXISTS', target);
        }
        await fs.rename(sourceHost, targetHost);
      });
    } catch (error) {
      // The source was there a moment ago, so ENOENT almost always means the destination folder is missing.
      throw isErrno(error, 'ENOENT') ? fromFsError(error, parentOf(target)) : fromFsError(error, target);
    }
    await syncDirectory(path.dirname(targetHost));
    return this.entryAfterMove(target, targetHost);
  }

  async delete(userPath: string, options: { recursive?: boolean } = {}): Promise<void> {
    const rel = normalizePath(userPath);
    if (rel === '') {
      throw new StorageError('INVALID_PATH', 'Your home folder itself cannot be deleted. Choose a file or folder inside it.');
    }
    const hostPath = await this.jail.resolveEntry(rel);
    try {
      const stats = await fs.lstat(hostPath);
      if (!stats.isDirectory()) {
        await fs.unlink(hostPath); // a link is removed, not what it points to
      } else if (options.recursive) {
        await fs.rm(hostPath, { recursive: true }); // does not follow links inside the tree
      } else {
        await fs.rmdir(hostPath);
      }
    } catch (error) {
      throw isErrno(error, 'EEXIST') ? storageError('CONFLICT', rel, error) : fromFsError(error, rel);
    }
  }

  private toEntry(rel: string, stats: Stats): HomeEntry {
    let type: HomeEntry['type'];
    if (stats.isFile()) type = 'file';
    else if (stats.isDirectory()) type = 'directory';
    else throw notRegular(rel);
    return { name: nameOf(rel), path: rel, type, size: stats.size, mtime: stats.mtime, mode: stats.mode & 0o777 };
  }

  /** An entry for list(), or null for what list() leaves out: links that escape, dangling links, devices, races. */
  private async listedEntry(home: string, hostPath: string, rel: string): Promise<HomeEntry | null> {
    try {
      let stats = await fs.lstat(hostPath);
      if (stats.isSymbolicLink()) {
        const real = await fs.realpath(hostPath);
        this.jail.refuseOutside(home, real, rel);
        stats = await fs.stat(real);
      }
      return stats.isFile() || stats.isDirectory() ? this.toEntry(rel, stats) : null;
    } catch {
      return null;
    }
  }

  /** rename() moves links as links; describe one without following it outside the home. */
  private async entryAfterMove(rel: string, hostPath: string): Promise<HomeEntry> {
    const stats = await fs.lstat(hostPath).catch((error: unknown) => {
      throw fromFsError(error, rel);
    });
    if (!stats.isSymbolicLink()) return this.toEntry(rel, stats);
    try {
      return await this.stat(rel);
    } catch {
      return { name: nameOf(rel), path: rel, type: 'file', size: 0, mtime: stats.mtime };
    }
  }

  private async openForRead(rel: string): Promise<{ handle: FileHandle; stats: Stats }> {
    const { hostPath } = await this.jail.resolve(rel);
    let handle: FileHandle;
    try {
      // O_NOFOLLOW: a link swapped in after resolve() is refused. O_NONBLOCK: opening a named pipe must
      // not hang a thread waiting for a writer; it has no effect on regular files.
      handle = await fs.open(hostPath, fsConstants.O_RDONLY | fsConstants.O_NOFOLLOW | fsConstants.O_NONBLOCK);
    } catch (error) {
      throw fromFsError(error, rel);
    }
    try {
      const stats = await handle.stat();
      if (stats.isDirectory()) throw storageError('IS_A_DIRECTORY', rel);
      if (!stats.isFile()) throw notRegular(rel);
      return { handle, stats };
    } catch (error) {
      await handle.close();
      throw fromFsError(error, rel);
    }
  }
}
