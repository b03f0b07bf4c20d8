// HomeStore on a user's PersistentVolumeClaim, through the user's file-server pod (pvc-fileserver.ts). This file
// is the HTTP side of kernel-launchers/kubernetes/fileserver.py: every path is normalized here first (paths.ts,
// so every store accepts and refuses the same names), the answer is checked before use (it comes from a pod),
// and the server's errors become the same StorageErrors, in the same words, as the local store's.
// Atomicity, confinement and locking happen in the file server, beside the files.
// Touch this file with fileserver.py: they are two halves of one API.
import type http from 'node:http';
import { Readable } from 'node:stream';
import { z } from 'zod';

import { isStream } from './atomic-file';
import { StorageError, describePath } from './errors';
import { fromFsError, storageError } from './fs-errors';
import {
  DEFAULT_READ_LIMIT,
  checkPrefixLength,
  collectPrefix,
  collectWithLimit,
  tooLargeToRead,
  type FilePrefix,
  type HomeEntry,
  type HomeStore,
  type OpenedFile,
  type ReadLimit,
  type WriteData,
  type WriteOptions,
} from './home-store';
import { baseName, isSameOrInside, normalizePath } from './paths';
import type { FileServerEndpoint, FileServerRequest } from './pvc-fileserver';

const EntrySchema = z.object({
  name: z.string(),
  path: z.string(),
  type: z.enum(['file', 'directory']),
  size: z.number().int().min(0),
  mtime_ms: z.number().int(),
  mode: z.number().int().min(0).max(0o777),
});
const ListSchema = z.object({ entries: z.array(EntrySchema) });
const ErrorSchema = z.object({
  error: z.object({
    kind: z.string(),
    path: z.string().optional(),
    errno: z.string().optional(),
    mtime_ms: z.number().optional(),
  }),
});
type FileServerError = z.infer<typeof ErrorSchema>['error'];

const MAX_JSON_BYTES = 64 * 1024 * 1024;

function toEntry(raw: z.infer<typeof EntrySchema>): HomeEntry {
  return { name: raw.name, path: raw.path, type: raw.type, size: raw.size, mtime: new Date(raw.mtime_ms), mode: raw.mode };
}

const query = (params: Record<string, string | boolean | number | undefined>) =>
  Object.entries(params)
    .filter(([, v]) => v !== undefined && v !== false)
    .map(([k, v]) => `${k}=${encodeURIComponent(v === true ? '1' : String(v))}`)
    .join('&');

/** The server's refusal as the StorageError the local store would have thrown for the same case. */
export function fileServerError(error: FileServerError, fallbackPath: string): StorageError {
  const rel = error.path ?? fallbackPath;
  switch (error.kind) {
    case 'errno':
      return fromFsError(Object.assign(new Error(`file server: ${error.errno}`), { code: error.errno ?? 'EIO' }), rel) as StorageError;
    case 'not_found':
      return storageError('NOT_FOUND', rel);
    case 'exists':
      return storageError('ALREADY_EXISTS', rel);
    case 'is_dir':
      return storageError('IS_A_DIRECTORY', rel);
    case 'not_dir':
      return storageError('NOT_A_DIRECTORY', rel);
    case 'not_empty':
      return storageError('CONFLICT', rel);
    case 'not_regular':
      return new StorageError(
        'INVALID_PATH',
        `${describePath(rel)} is not a regular file or folder (it may be a device, socket or pipe). Choose a file or folder.`,
        { path: rel },
      );
    case 'outside':
      return new StorageError(
        'PERMISSION_DENIED',
        `${describePath(rel)} leads outside your home folder through a link, so it cannot be used. Copy the file into your home folder instead.`,
        { path: rel },
      );
    case 'dangling':
      return new StorageError(
        'PERMISSION_DENIED',
        `${describePath(rel)} goes through a link whose target is missing or outside your home folder. Remove or fix the link.`,
        { path: rel },
      );
    case 'deleted':
      return new StorageError('CONFLICT', `${describePath(rel)} was deleted after you opened it. Save it under a new name, or reload the folder.`, { path: rel });
    case 'changed':
      return new StorageError(
        'CONFLICT',
        `${describePath(rel)} was changed elsewhere (another tab, a kernel or another user) after you opened it` +
          `${error.mtime_ms !== undefined ? ` (last saved ${new Date(error.mtime_ms).toISOString()})` : ''}. ` +
          'Reload it to see those changes, or save your version under another name.',
        { path: rel },
      );
    case 'bad_path':
      return new StorageError('INVALID_PATH', `${describePath(rel)} cannot be used as a path in your home folder. Choose another name.`, { path: rel });
    case 'home':
      return new StorageError(
        'UNAVAILABLE',
        'Your home volume is not ready or not writable by your account. Try again in a moment; if it persists, tell an administrator.',
      );
    default:
      return new StorageError('UNAVAILABLE', `Your home folder's file server refused the request (${error.kind}). Tell an administrator.`, { path: rel });
  }
}

async function readAll(response: http.IncomingMessage, max: number): Promise<Buffer> {
  const chunks: Buffer[] = [];
  let total = 0;
  for await (const chunk of response as AsyncIterable<Buffer>) {
    total += chunk.length;
    if (total > max) {
      response.destroy();
      throw new StorageError('UNAVAILABLE', 'Your home folder\'s file server sent an answer that is too large. Tell an administrator.');
    }
    chunks.push(chunk);
  }
  return Buffer.concat(chunks, total);
}

export class PvcHomeStore implements HomeStore {
  readonly username: string;
  private readonly endpoint: FileServerEndpoint;

  constructor(options: { username: string; endpoint: FileServerEndpoint }) {
    this.username = options.username;
    this.endpoint = options.endpoint;
  }

  /** The volume exists (pvc-homes.ts made the claim); this starts the file server and checks it can write. */
  async ensureHome(): Promise<void> {
    await this.json('POST', '/v1/ensure-home', '', EntrySchema);
  }

  async list(userPath: string): Promise<HomeEntry[]> {
    const rel = normalizePath(userPath);
    const listed = await this.json('GET', `/v1/list?${query({ path: rel })}`, rel, ListSchema);
    return listed.entries.map(toEntry);
  }

  async stat(userPath: string): Promise<HomeEntry> {
    const rel = normalizePath(userPath);
    return toEntry(await this.json('GET', `/v1/stat?${query({ path: rel })}`, rel, EntrySchema));
  }

  async read(userPath: string): Promise<Readable> {
    return (await this.open(userPath)).body;
  }

  async open(userPath: string): Promise<OpenedFile> {
    const rel = normalizePath(userPath);
    // The file server takes size and mtime from its open descriptor and sends exactly that many bytes, closing
    // the connection early if the file shrank; guardBody turns a short body into an error.
    const { response, size, mtime } = await this.openRead(rel);
    return { entry: { name: baseName(rel), path: rel, type: 'file', size, mtime }, body: this.guardBody(response, rel) };
  }

  async readBytes(userPath: string, limit: ReadLimit = {}): Promise<Buffer> {
    const rel = normalizePath(userPath);
    const maxBytes = limit.maxBytes ?? DEFAULT_READ_LIMIT;
    const { response, size } = await this.openRead(rel);
    if (size > maxBytes) {
      response.destroy();
      throw tooLargeToRead(rel, maxBytes);
    }
    return collectWithLimit(this.guardBody(response, rel), maxBytes, rel);
  }

  async readText(userPath: string, limit?: ReadLimit): Promise<string> {
    return (await this.readBytes(userPath, limit)).toString('utf8');
  }

  async readPrefix(userPath: string, maxBytes: number): Promise<FilePrefix> {
    checkPrefixLength(maxBytes);
    const rel = normalizePath(userPath);
    // The file server's read has no range: the prefix is taken from its reply, and the connection is closed there,
    // so no more than about one chunk past the prefix is ever received.
    const { response, size, mtime } = await this.openRead(rel);
    const bytes = await collectPrefix(this.guardBody(response, rel), maxBytes);
    return { entry: { name: baseName(rel), path: rel, type: 'file', size, mtime }, bytes, truncated: size > bytes.length };
  }

  async write(userPath: string, data: WriteData, options: WriteOptions = {}): Promise<HomeEntry> {
    // The caller's own stream failing is their error, passed back unchanged.
    let sourceError: unknown;
    const onSourceError = (error: unknown) => (sourceError ??= error);
    if (isStream(data)) data.once('error', onSourceError);
    try {
      const rel = normalizePath(userPath);
      if (rel === '') throw storageError('IS_A_DIRECTORY', rel);
      const { expectedMtime } = options;
      const path = `/v1/write?${query({
        path: rel,
        overwrite: options.overwrite === true || expectedMtime !== undefined,
        expected_mtime_ms: expectedMtime?.getTime(),
      })}`;
      const body = isStream(data) ? data : Buffer.from(data);
      let response: http.IncomingMessage;
      try {
        response = await this.endpoint.request({ method: 'PUT', path, body });
      } catch (error) {
        if (sourceError !== undefined) throw sourceError;
        throw this.unreachable(error, rel);
      }
      return toEntry(await this.answer(response, rel, EntrySchema));
    } catch (error) {
      if (sourceError !== undefined) throw sourceError;
      throw error;
    } finally {
      if (isStream(data)) {
        data.off('error', onSourceError);
        // Refused early (or done): the store owns the stream, so it is never left half-read.
        data.destroy();
      }
    }
  }

  async mkdir(userPath: string, options: { parents?: boolean } = {}): Promise<HomeEntry> {
    const rel = normalizePath(userPath);
    return toEntry(await this.json('POST', `/v1/mkdir?${query({ path: rel, parents: options.parents === true })}`, rel, EntrySchema));
  }

  async rename(from: string, to: string, options: { overwrite?: boolean } = {}): Promise<HomeEntry> {
    const source = normalizePath(from);
    const target = normalizePath(to);
    if (source === '' || target === '') {
      throw new StorageError('INVALID_PATH', 'Your home folder itself cannot be moved or replaced. Choose a file or folder inside it.');
    }
    if (source === target) return this.stat(source);
    if (isSameOrInside(source, target)) {
      throw new StorageError(
        'INVALID_PATH',
        `${describePath(source)} cannot be moved into itself (${describePath(target)}). Choose a destination outside it.`,
        { path: target },
      );
    }
    return toEntry(await this.json('POST', `/v1/rename?${query({ from: source, to: target, overwrite: options.overwrite === true })}`, target, EntrySchema));
  }

  async delete(userPath: string, options: { recursive?: boolean } = {}): Promise<void> {
    const rel = normalizePath(userPath);
    if (rel === '') {
      throw new StorageError('INVALID_PATH', 'Your home folder itself cannot be deleted. Choose a file or folder inside it.');
    }
    await this.json('POST', `/v1/delete?${query({ path: rel, recursive: options.recursive === true })}`, rel, z.object({ ok: z.literal(true) }));
  }

  // --- HTTP ---

  private async json<T>(method: FileServerRequest['method'], path: string, rel: string, schema: z.ZodType<T>): Promise<T> {
    let response: http.IncomingMessage;
    try {
      response = await this.endpoint.request({ method, path });
    } catch (error) {
      throw this.unreachable(error, rel);
    }
    return this.answer(response, rel, schema);
  }

  private async answer<T>(response: http.IncomingMessage, rel: string, schema: z.ZodType<T>): Promise<T> {
    let body: Buffer;
    try {
      body = await readAll(response, MAX_JSON_BYTES);
    } catch (error) {
      if (error instanceof StorageError) throw error;
      throw this.unreachable(error, rel);
    }
    let json: unknown;
    try {
      json = JSON.parse(body.toString('utf8'));
    } catch {
      json = undefined;
    }
    const status = response.statusCode ?? 0;
    if (status >= 200 && status < 300) {
      const parsed = schema.safeParse(json);
      if (parsed.success) return parsed.data;
    } else {
      const refused = ErrorSchema.safeParse(json);
      if (refused.success) throw fileServerError(refused.data.error, rel);
    }
    // A proxy error (pod gone, not listening) or a reply of another shape.
    throw new StorageError(
      'UNAVAILABLE',
      `Your home folder could not be reached while working on ${describePath(rel)} (its file server answered ${status}). Try again in a moment; if it keeps happening, tell an administrator.`,
      { path: rel, cause: new Error(body.toString('utf8').slice(0, 500)) },
    );
  }

  private async openRead(rel: string): Promise<{ response: http.IncomingMessage; size: number; mtime: Date }> {
    let response: http.IncomingMessage;
    try {
      response = await this.endpoint.request({ method: 'GET', path: `/v1/read?${query({ path: rel })}` });
    } catch (error) {
      throw this.unreachable(error, rel);
    }
    if (response.statusCode !== 200) {
      await this.answer(response, rel, z.never());
      throw storageError('UNAVAILABLE', rel); // answer() always throws for a non-2xx; kept for the type checker
    }
    const size = Number(response.headers['content-length']);
    const mtimeMs = Number(response.headers['x-atrium-mtime-ms']);
    if (!Number.isSafeInteger(size) || size < 0 || !Number.isSafeInteger(mtimeMs)) {
      response.destroy();
      throw storageError('UNAVAILABLE', rel);
    }
    return { response, size, mtime: new Date(mtimeMs) };
  }

  /** The file's bytes; a body cut short (pod gone, network) fails the stream with a StorageError. */
  private guardBody(response: http.IncomingMessage, rel: string): Readable {
    const expected = Number(response.headers['content-length']);
    async function* chunks(): AsyncGenerator<Buffer> {
      let received = 0;
      try {
        for await (const chunk of response as AsyncIterable<Buffer>) {
          received += chunk.length;
          yield chunk;
        }
      } catch (error) {
        throw storageError('UNAVAILABLE', rel, error);
      } finally {
        response.destroy();
      }
      if (received !== expected) throw storageError('UNAVAILABLE', rel);
    }
    const body = Readable.from(chunks(), { objectMode: false });
    // Destroyed before its first read (a HEAD request), the generator never runs its finally: end the reply here.
    body.once('close', () => response.destroy());
    return body;
  }

  private unreachable(error: unknown, rel: string): unknown {
    if (error instanceof StorageError) return error;
    return storageError('UNAVAILABLE', rel, error);
  }
}
