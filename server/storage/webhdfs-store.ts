// HomeStore on HDFS through WebHDFS: one analyst's home folder `<homeRoot>/<username>`, every call made as
// that analyst (HDFS checks the permissions, not Atrium). This file decides what each operation is allowed to
// do and in which order; webhdfs-client.ts knows the REST calls.
//
// Atomic writes: the bytes go to `<folder>/.atrium-tmp-<random>` (CREATE, never replacing, never creating the
// folder), then a rename2 (RENAME with renameoptions) moves it into place: NONE when the file must not exist
// (HDFS refuses atomically if it does, so of concurrent creates exactly one wins), OVERWRITE to replace it
// (atomic in the NameNode). So there is no delete-then-rename window in which the file is missing or a
// reader sees a partial file. What HDFS cannot do is a conditional rename: `expectedMtime` is checked before
// the upload and again just before the rename, under a per-process lock; two replicas saving the same file
// in the same instant can still both pass the check (see WriteOptions).
//
// HDFS creates missing parents on MKDIRS, so mkdir() without `parents` and write() check the parent first;
// a parent deleted in that instant may be re-created by MKDIRS (CREATE itself never does: createparent=false).

import { randomBytes } from 'node:crypto';
import { Readable } from 'node:stream';

import { SourceStreamError, isStream } from './atomic-file';
import { StorageError, describePath } from './errors';
import { storageError } from './fs-errors';
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
import { TEMP_PREFIX, isSameOrInside, normalizePath } from './paths';
import {
  WebHdfsError,
  toStorageError,
  type FileStatus,
  type WebHdfsClient,
  type WebHdfsSession,
} from './webhdfs-client';
import { nameOf, parentOf, withTargetLock } from './target-lock';

/** Homes are private to their owner. */
export const HOME_MODE = 0o700;

export interface WebHdfsHomeStoreOptions {
  client: WebHdfsClient;
  /** The analyst: owner of the home, and the user every call is made as. */
  username: string;
  /** Absolute HDFS path of the home folder, e.g. /user/ana. */
  homeDir: string;
}

function isRemote(error: unknown, exception: string, pattern?: RegExp): boolean {
  return error instanceof WebHdfsError && error.exception === exception && (pattern === undefined || pattern.test(error.message));
}

function checkExpectedMtime(rel: string, current: FileStatus | null, expected: Date): void {
  if (current === null) {
    throw new StorageError(
      'CONFLICT',
      `${describePath(rel)} was deleted after you opened it. Save it under a new name, or reload the folder.`,
      { path: rel },
    );
  }
  if (current.modificationTime !== expected.getTime()) {
    throw new StorageError(
      'CONFLICT',
      `${describePath(rel)} was changed elsewhere (another tab, a kernel or another user) after you opened it ` +
        `(last saved ${new Date(current.modificationTime).toISOString()}). ` +
        'Reload it to see those changes, or save your version under another name.',
      { path: rel },
    );
  }
}

/** Maps stream errors (a DataNode that stalls or resets mid-file) to StorageErrors about the file. */
function mapStreamErrors(source: Readable, rel: string, wrap: (stream: AsyncIterable<Buffer>) => Readable): Readable {
  async function* guarded(): AsyncGenerator<Buffer> {
    try {
      for await (const chunk of source as AsyncIterable<Buffer>) yield chunk;
    } catch (error) {
      throw toStorageError(error, rel);
    } finally {
      source.destroy();
    }
  }
  return wrap(guarded());
}

export class WebHdfsHomeStore implements HomeStore {
  readonly username: string;
  readonly homeDir: string;
  /** Everything a user does goes through this: HDFS checks it as the analyst. */
  private readonly fs: WebHdfsSession;
  /** The service user, only for creating the home; null when calls go as the analyst directly. */
  private readonly service: WebHdfsSession | null;
  private readonly serviceUser: string | undefined;

  constructor(options: WebHdfsHomeStoreOptions) {
    if (!options.homeDir.startsWith('/') || options.homeDir.endsWith('/')) {
      throw new Error(`homeDir must be an absolute HDFS path without a trailing slash, got ${JSON.stringify(options.homeDir)}`);
    }
    this.username = options.username;
    this.homeDir = options.homeDir;
    this.fs = options.client.as(options.username);
    this.service = options.client.asService();
    this.serviceUser = options.client.serviceUser;
  }

  /** The HDFS path of a normalized user path. */
  hdfsPathOf(rel: string): string {
    return rel === '' ? this.homeDir : `${this.homeDir}/${rel}`;
  }

  /**
   * Creates the home as the service user (mode 0700), then gives it to the analyst. Also finishes a home
   * left half-made (still owned by the service user) by a crash between those steps. An existing home
   * owned by the analyst keeps its mode: an administrator may have set it on purpose. Without a service
   * user, the analyst creates their own home (the home root must be writable to them, e.g. 1777).
   */
  async ensureHome(): Promise<void> {
    const creator = this.service ?? this.fs;
    try {
      const existing = await creator.getFileStatusOrNull(this.homeDir);
      if (existing && existing.type !== 'DIRECTORY') {
        throw new StorageError(
          'UNAVAILABLE',
          'The place for your home folder on HDFS is taken by a file, so the folder cannot be created. Tell an administrator.',
        );
      }
      // Done, unless a crash left it between mkdir and chown (still owned by the service user).
      if (existing && (this.service === null || existing.owner !== this.serviceUser)) return;
      if (!existing) {
        // MKDIRS gives its permission to every folder it creates, so the home root (usually there already)
        // is made first with the cluster's default mode: analysts must be able to pass through it.
        // MKDIRS is idempotent, so two replicas creating the same home at once both succeed.
        await creator.mkdirs(this.homeDir.slice(0, this.homeDir.lastIndexOf('/')) || '/');
        await creator.mkdirs(this.homeDir, HOME_MODE);
      }
      if (this.service !== null) await this.service.setOwner(this.homeDir, this.username);
      // MKDIRS applies the cluster's umask; set the mode explicitly.
      await creator.setPermission(this.homeDir, HOME_MODE);
    } catch (error) {
      throw toStorageError(error, '');
    }
  }

  async list(userPath: string): Promise<HomeEntry[]> {
    const rel = normalizePath(userPath);
    let statuses: FileStatus[];
    try {
      statuses = await this.fs.listStatus(this.hdfsPathOf(rel));
    } catch (error) {
      throw toStorageError(error, rel);
    }
    // LISTSTATUS of a file answers with the file itself, under an empty name.
    if (statuses.length === 1 && statuses[0]?.pathSuffix === '' && statuses[0].type !== 'DIRECTORY') {
      throw storageError('NOT_A_DIRECTORY', rel);
    }
    return statuses
      .filter((status) => status.type !== 'SYMLINK' && status.pathSuffix !== '' && !status.pathSuffix.startsWith(TEMP_PREFIX))
      .map((status) => this.toEntry(rel === '' ? status.pathSuffix : `${rel}/${status.pathSuffix}`, status))
      .sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  }

  async stat(userPath: string): Promise<HomeEntry> {
    const rel = normalizePath(userPath);
    return this.toEntry(rel, await this.statusOf(rel));
  }

  async read(userPath: string): Promise<Readable> {
    return (await this.open(userPath)).body;
  }

  async open(userPath: string): Promise<OpenedFile> {
    const rel = normalizePath(userPath);
    // WebHDFS has no open handle to ask: the status comes first, and OPEN reads exactly its length (bytes
    // appended since are left out; a file cut shorter fails the stream).
    const status = await this.fileStatusOf(rel);
    const body = exactBytes(await this.openStream(rel, status, status.length), status.length, rel);
    return { entry: this.toEntry(rel, status), body: this.failIfReplaced(body, rel, status) };
  }

  /**
   * The bytes of `body`, failing at the end if the file was replaced meanwhile (a save renames a new file over it):
   * those bytes may be the start of the new file under the old one's length. A failed download says so; a file
   * only appended to keeps its id, and its first bytes are still the ones announced.
   */
  private failIfReplaced(body: Readable, rel: string, opened: FileStatus): Readable {
    if (opened.fileId === undefined) return body;
    const statusOf = () => this.fileStatusOf(rel);
    async function* checked(): AsyncGenerator<Buffer> {
      for await (const chunk of body as AsyncIterable<Buffer>) yield chunk;
      const now = await statusOf().catch(() => undefined);
      if (now?.fileId !== opened.fileId) {
        throw new StorageError('CONFLICT', `${describePath(rel)} was replaced while it was being read (saved again, say). Download it again.`, { path: rel });
      }
    }
    return Readable.from(checked(), { objectMode: false });
  }

  async readBytes(userPath: string, limit: ReadLimit = {}): Promise<Buffer> {
    const rel = normalizePath(userPath);
    const maxBytes = limit.maxBytes ?? DEFAULT_READ_LIMIT;
    const status = await this.fileStatusOf(rel);
    if (status.length > maxBytes) throw tooLargeToRead(rel, maxBytes);
    // collectWithLimit holds the limit even when the file grew since the status.
    return collectWithLimit(await this.openStream(rel, status), maxBytes, rel);
  }

  async readText(userPath: string, limit?: ReadLimit): Promise<string> {
    return (await this.readBytes(userPath, limit)).toString('utf8');
  }

  async readPrefix(userPath: string, maxBytes: number): Promise<FilePrefix> {
    checkPrefixLength(maxBytes);
    const rel = normalizePath(userPath);
    const status = await this.fileStatusOf(rel);
    // OPEN with a length: the DataNode sends only the prefix, however large the file.
    const length = Math.min(status.length, maxBytes);
    const bytes = length === 0 ? Buffer.alloc(0) : await collectPrefix(await this.openStream(rel, status, length), length);
    return { entry: this.toEntry(rel, status), bytes, truncated: status.length > length };
  }

  async write(userPath: string, data: WriteData, options: WriteOptions = {}): Promise<HomeEntry> {
    let rel = userPath;
    let temp: string | undefined;
    try {
      rel = normalizePath(userPath);
      if (rel === '') throw storageError('IS_A_DIRECTORY', rel);
      const { expectedMtime } = options;
      const overwrite = options.overwrite === true || expectedMtime !== undefined;
      const target = this.hdfsPathOf(rel);
      const parent = parentOf(rel);

      // Fail before consuming a possibly large upload when the answer is already known.
      const [parentStatus, before] = await Promise.allSettled([
        this.fs.getFileStatusOrNull(this.hdfsPathOf(parent)),
        this.fs.getFileStatusOrNull(target),
      ]);
      if (parentStatus.status === 'rejected') throw toStorageError(parentStatus.reason, parent);
      if (parentStatus.value === null) throw storageError('NOT_FOUND', parent);
      if (parentStatus.value.type !== 'DIRECTORY') throw storageError('NOT_A_DIRECTORY', parent);
      if (before.status === 'rejected') throw toStorageError(before.reason, rel);
      const current = before.value;
      if (current?.type === 'DIRECTORY') throw storageError('IS_A_DIRECTORY', rel);
      if (current && !overwrite) throw storageError('ALREADY_EXISTS', rel);
      if (expectedMtime) checkExpectedMtime(rel, current, expectedMtime);

      // Random only: the target's own name may already use the whole 255-byte budget.
      const tempName = `${TEMP_PREFIX}${randomBytes(8).toString('hex')}`;
      temp = this.hdfsPathOf(parent === '' ? tempName : `${parent}/${tempName}`);
      // A replaced file keeps its permission bits (never more than rwx for anyone: no sticky bit on files).
      await this.fs.create(temp, data, { permission: current ? Number.parseInt(current.permission, 8) & 0o777 : undefined });

      const placed = temp;
      await withTargetLock(`hdfs:${target}`, async () => {
        // Checked again at the last moment: another save may have landed while we were uploading.
        if (expectedMtime) checkExpectedMtime(rel, await this.fs.getFileStatusOrNull(target), expectedMtime);
        await this.fs.rename(placed, target, { overwrite });
      });
      temp = undefined;
      return this.toEntry(rel, await this.fs.getFileStatus(target));
    } catch (error) {
      if (isStream(data)) data.destroy();
      // The caller's own stream failing is their error, passed back unchanged.
      if (error instanceof SourceStreamError) throw error.original;
      if (isRemote(error, 'IOException', /must both be directories/)) throw storageError('IS_A_DIRECTORY', rel, error);
      throw toStorageError(error, rel);
    } finally {
      // Also after a broken upload: the DataNode closes what it received as a (hidden) partial file.
      if (temp !== undefined) await this.fs.delete(temp).catch(() => undefined);
    }
  }

  async mkdir(userPath: string, options: { parents?: boolean } = {}): Promise<HomeEntry> {
    const rel = normalizePath(userPath);
    const parents = options.parents === true;
    if (rel === '') {
      if (parents) return this.stat('');
      throw storageError('ALREADY_EXISTS', rel);
    }
    const target = this.hdfsPathOf(rel);
    try {
      if (!parents) {
        // MKDIRS is always `mkdir -p` and succeeds on an existing folder: check what plain mkdir refuses.
        const parent = parentOf(rel);
        const [parentStatus, existing] = await Promise.allSettled([
          this.fs.getFileStatusOrNull(this.hdfsPathOf(parent)),
          this.fs.getFileStatusOrNull(target),
        ]);
        if (parentStatus.status === 'rejected') throw toStorageError(parentStatus.reason, parent);
        if (parentStatus.value === null) throw storageError('NOT_FOUND', parent);
        if (parentStatus.value.type !== 'DIRECTORY') throw storageError('NOT_A_DIRECTORY', parent);
        if (existing.status === 'rejected') throw existing.reason;
        if (existing.value !== null) throw storageError('ALREADY_EXISTS', rel);
      }
      await this.fs.mkdirs(target);
      return this.toEntry(rel, await this.fs.getFileStatus(target));
    } catch (error) {
      throw toStorageError(error, rel);
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
    const overwrite = options.overwrite === true;
    const targetPath = this.hdfsPathOf(target);
    const sourceStatus = await this.statusOf(source);
    try {
      await withTargetLock(`hdfs:${targetPath}`, async () => {
        if (overwrite) {
          // rename2 says only "must both be directories"; name the side that is in the way.
          const existing = await this.fs.getFileStatusOrNull(targetPath);
          if (existing?.type === 'DIRECTORY' && sourceStatus.type !== 'DIRECTORY') throw storageError('IS_A_DIRECTORY', target);
          if (existing && existing.type !== 'DIRECTORY' && sourceStatus.type === 'DIRECTORY') throw storageError('NOT_A_DIRECTORY', target);
        }
        await this.fs.rename(this.hdfsPathOf(source), targetPath, { overwrite });
      });
    } catch (error) {
      if (isRemote(error, 'FileNotFoundException', /rename source/)) throw storageError('NOT_FOUND', source, error);
      // The source was there a moment ago, so "not found" is the destination's folder.
      if (isRemote(error, 'FileNotFoundException')) throw storageError('NOT_FOUND', parentOf(target), error);
      throw toStorageError(error, target);
    }
    return this.stat(target);
  }

  async delete(userPath: string, options: { recursive?: boolean } = {}): Promise<void> {
    const rel = normalizePath(userPath);
    if (rel === '') {
      throw new StorageError('INVALID_PATH', 'Your home folder itself cannot be deleted. Choose a file or folder inside it.');
    }
    let deleted: boolean;
    try {
      // WebHDFS DELETE bypasses the HDFS trash, like `rm` on a local folder.
      deleted = await this.fs.delete(this.hdfsPathOf(rel), { recursive: options.recursive === true });
    } catch (error) {
      throw toStorageError(error, rel);
    }
    if (!deleted) throw storageError('NOT_FOUND', rel);
  }

  private async statusOf(rel: string): Promise<FileStatus> {
    try {
      return await this.fs.getFileStatus(this.hdfsPathOf(rel));
    } catch (error) {
      throw toStorageError(error, rel);
    }
  }

  private async fileStatusOf(rel: string): Promise<FileStatus> {
    const status = await this.statusOf(rel);
    if (status.type === 'DIRECTORY') throw storageError('IS_A_DIRECTORY', rel);
    if (status.type !== 'FILE') throw notRegular(rel);
    return status;
  }

  /**
   * `length`: only that many bytes are asked for (open() asks for the status's length, readPrefix for its prefix);
   * without it, readBytes reads to the end, within its limit.
   */
  private async openStream(rel: string, status: FileStatus, length?: number): Promise<Readable> {
    // An empty file has no block for a DataNode to serve; nothing to fetch.
    if (status.length === 0) return Readable.from([], { objectMode: false });
    let stream: Readable;
    try {
      stream = await this.fs.open(this.hdfsPathOf(rel), { length });
    } catch (error) {
      throw toStorageError(error, rel);
    }
    return mapStreamErrors(stream, rel, (chunks) => Readable.from(chunks, { objectMode: false }));
  }

  private toEntry(rel: string, status: FileStatus): HomeEntry {
    let type: HomeEntry['type'];
    if (status.type === 'FILE') type = 'file';
    else if (status.type === 'DIRECTORY') type = 'directory';
    else throw notRegular(rel);
    return {
      name: nameOf(rel),
      path: rel,
      type,
      size: type === 'file' ? status.length : 0,
      mtime: new Date(status.modificationTime),
      mode: Number.parseInt(status.permission, 8) & 0o777,
    };
  }
}

function notRegular(rel: string): StorageError {
  return new StorageError(
    'INVALID_PATH',
    `${describePath(rel)} is a link, which Atrium does not follow on HDFS. Choose a file or folder.`,
    { path: rel },
  );
}
