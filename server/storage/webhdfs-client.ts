// The WebHDFS REST calls a home store needs, one method per operation, every reply validated with zod.
// This file knows the wire (URLs, query parameters, the two-step CREATE and OPEN, RemoteException) and
// nothing about home folders: paths here are absolute HDFS paths. webhdfs-store.ts maps user paths onto
// them; toStorageError() at the bottom turns a failure into the StorageError a user sees.
//
// Transport is node:http, not fetch: the DataNode answers CREATE with "100 Continue" before its real status
// even without an Expect header, which undici rejects, and node:http gives one way to stream a body out
// with back-pressure and an inactivity timeout. Touch this file when a new operation is needed or when
// Kerberos (SPNEGO) support lands: it goes in `WebHdfsAuth` below, nowhere else.

import http from 'node:http';
import https from 'node:https';
import { Readable } from 'node:stream';
import { z } from 'zod';

import { SourceStreamError, isStream } from './atomic-file';
import { StorageError, describePath, type StorageErrorCode } from './errors';
import { storageError } from './fs-errors';
import type { WriteData } from './home-store';

// ---------------------------------------------------------------------------------------------------------
// Replies (https://hadoop.apache.org/docs/stable/hadoop-project-dist/hadoop-hdfs/WebHDFS.html)

const fileStatusSchema = z.object({
  pathSuffix: z.string(),
  type: z.enum(['FILE', 'DIRECTORY', 'SYMLINK']),
  length: z.number().int().nonnegative(),
  modificationTime: z.number().int().nonnegative(),
  /** The inode: a file replaced (written to a temporary name and renamed over) gets a new one; an append does not. */
  fileId: z.number().int().optional(),
  // Octal, with the sticky bit as a fourth digit when set ("1777").
  permission: z.string().regex(/^[0-7]{1,4}$/),
  owner: z.string(),
  group: z.string(),
});
export type FileStatus = z.infer<typeof fileStatusSchema>;

const fileStatusReply = z.object({ FileStatus: fileStatusSchema });
const listStatusReply = z.object({ FileStatuses: z.object({ FileStatus: z.array(fileStatusSchema) }) });
const booleanReply = z.object({ boolean: z.boolean() });
const locationReply = z.object({ Location: z.string().url() });
const remoteExceptionReply = z.object({
  RemoteException: z.object({
    exception: z.string(),
    javaClassName: z.string().optional(),
    message: z.string().optional(),
  }),
});

/** LISTSTATUS of a huge folder is the largest reply; beyond this the NameNode is not talking WebHDFS. */
const MAX_REPLY_BYTES = 64 * 1024 * 1024;

// ---------------------------------------------------------------------------------------------------------
// Errors

export type WebHdfsFailure =
  /** HDFS refused: a RemoteException (exception is its Java simple name). */
  | 'remote'
  /** The cluster was not reached, or the connection broke. */
  | 'unreachable'
  /** No answer (metadata) or no progress (data) within the timeout. */
  | 'timeout'
  /** 401: the cluster wants credentials this configuration does not send. */
  | 'unauthenticated'
  /** An answer that is not WebHDFS as we know it. */
  | 'protocol';

export class WebHdfsError extends Error {
  override readonly name = 'WebHdfsError';

  constructor(
    readonly failure: WebHdfsFailure,
    message: string,
    readonly details: { status?: number; exception?: string; operation?: string; cause?: unknown } = {},
  ) {
    super(message, details.cause === undefined ? undefined : { cause: details.cause });
  }

  get exception(): string | undefined {
    return this.details.exception;
  }
}

export function isWebHdfsError(error: unknown): error is WebHdfsError {
  return error instanceof WebHdfsError;
}

/** A RemoteException message from a DataNode carries the whole Java stack; keep its first line. */
function firstLine(text: string | undefined): string {
  return (text ?? '').split('\n', 1)[0]?.trim() ?? '';
}

function errorFromReply(status: number, body: string, operation: string): WebHdfsError {
  let json: unknown;
  try {
    json = JSON.parse(body);
  } catch {
    json = undefined;
  }
  const remote = remoteExceptionReply.safeParse(json);
  if (remote.success) {
    const { exception, message } = remote.data.RemoteException;
    return new WebHdfsError('remote', `${operation}: ${exception}: ${firstLine(message)}`, { status, exception, operation });
  }
  if (status === 401) {
    return new WebHdfsError('unauthenticated', `${operation}: HTTP 401 from WebHDFS`, { status, operation });
  }
  return new WebHdfsError('protocol', `${operation}: unexpected HTTP ${status} from WebHDFS: ${body.slice(0, 200)}`, {
    status,
    operation,
  });
}

function transportError(error: unknown, operation: string): unknown {
  if (error instanceof WebHdfsError || error instanceof SourceStreamError) return error;
  const name = (error as { name?: unknown } | null)?.name;
  if (name === 'TimeoutError' || name === 'AbortError') {
    return new WebHdfsError('timeout', `${operation}: no answer from WebHDFS in time`, { operation, cause: error });
  }
  const code = (error as { code?: unknown } | null)?.code;
  if (typeof code === 'string') {
    return new WebHdfsError('unreachable', `${operation}: ${code}`, { operation, cause: error });
  }
  return error;
}

// ---------------------------------------------------------------------------------------------------------
// Authentication

export type WebHdfsAuthMode = 'simple' | 'kerberos';

export const KERBEROS_UNSUPPORTED =
  'ATRIUM_WEBHDFS_AUTH=kerberos (SPNEGO) is not supported in this build of Atrium: it has no GSSAPI client to ' +
  'obtain a service ticket. Use a cluster (or an HttpFS/Knox gateway) with simple authentication for Atrium\'s ' +
  'service user, or leave ATRIUM_HOME_STORE=local.';

/**
 * Who a request is made as. Simple authentication names the caller in the query (`user.name`) and, when a
 * service user acts for an analyst, the analyst in `doas` (the service user must be a Hadoop proxy user).
 * A SPNEGO implementation would add an Authorization header here and keep `doas` for the analyst.
 */
interface WebHdfsAuth {
  params(actAs: string | null): Record<string, string>;
}

function simpleAuth(serviceUser: string | undefined): WebHdfsAuth {
  return {
    params(actAs): Record<string, string> {
      if (serviceUser === undefined) {
        if (actAs === null) throw new Error('WebHDFS: no service user is configured (ATRIUM_WEBHDFS_USER).');
        return { 'user.name': actAs };
      }
      // A person whose username is the service user's (an account from before such names were reserved) would act
      // with the service user's rights: refused, saying what to do.
      if (actAs === serviceUser) {
        throw new StorageError('PERMISSION_DENIED', `The Atrium user ${actAs} has the name of the HDFS service user (ATRIUM_WEBHDFS_USER): Atrium does not act for them on HDFS (it would act with the service user's rights). Tell an Atrium administrator.`);
      }
      return actAs === null ? { 'user.name': serviceUser } : { 'user.name': serviceUser, doas: actAs };
    },
  };
}

// ---------------------------------------------------------------------------------------------------------
// Client

export interface WebHdfsClientOptions {
  /** The NameNode's WebHDFS address: http(s)://host:port, with or without the /webhdfs/v1 suffix. */
  url: string;
  /**
   * The service user that acts for analysts through `doas` (a Hadoop proxy user; an HDFS superuser too if
   * it should create homes owned by their analysts). Unset: every call is made as the analyst directly.
   */
  serviceUser?: string;
  auth?: WebHdfsAuthMode;
  /** Deadline for a metadata call, and the longest a data stream may go without progress. Default 30 s. */
  timeoutMs?: number;
}

export interface CreateOptions {
  /** Permission bits for the new file (default: the cluster's, usually 0644 after its umask). */
  permission?: number;
}

/** Normalizes the configured address to `<origin>/webhdfs/v1`, refusing anything but http(s). */
export function webHdfsBaseUrl(url: string): string {
  const parsed = new URL(url);
  if (parsed.protocol !== 'http:' && parsed.protocol !== 'https:') {
    throw new Error(`The WebHDFS address ${url} must start with http:// or https://.`);
  }
  const pathname = parsed.pathname.replace(/\/+$/, '');
  const base = pathname.endsWith('/webhdfs/v1') ? pathname : `${pathname}/webhdfs/v1`;
  return `${parsed.origin}${base}`;
}

function encodePath(hdfsPath: string): string {
  if (!hdfsPath.startsWith('/')) throw new Error(`WebHDFS paths are absolute, got ${JSON.stringify(hdfsPath)}`);
  return hdfsPath === '/' ? '/' : hdfsPath.split('/').map(encodeURIComponent).join('/');
}

function query(params: Record<string, string>): string {
  // encodeURIComponent, not URLSearchParams: the latter writes spaces as '+', which is a literal '+' to some
  // WebHDFS servers and would rename "a b" to "a+b".
  return Object.entries(params)
    .map(([key, value]) => `${key}=${encodeURIComponent(value)}`)
    .join('&');
}

async function readReply(res: http.IncomingMessage, max = MAX_REPLY_BYTES): Promise<string> {
  const chunks: Buffer[] = [];
  let total = 0;
  for await (const chunk of res as AsyncIterable<Buffer>) {
    total += chunk.length;
    if (total > max) {
      res.destroy();
      throw new WebHdfsError('protocol', `a WebHDFS reply larger than ${max} bytes`);
    }
    chunks.push(chunk);
  }
  return Buffer.concat(chunks, total).toString('utf8');
}

/** Resolves when the request can take more data, or is finished either way (errors surface on the reply). */
function drained(req: http.ClientRequest): Promise<void> {
  return new Promise((resolve) => {
    const done = (): void => {
      req.off('drain', done);
      req.off('close', done);
      resolve();
    };
    req.on('drain', done);
    req.on('close', done);
  });
}

export class WebHdfsClient {
  readonly baseUrl: string;
  readonly serviceUser: string | undefined;
  readonly timeoutMs: number;
  private readonly auth: WebHdfsAuth;
  private readonly agents = {
    // Keep-alive: a store operation is often two or three NameNode calls in a row.
    'http:': new http.Agent({ keepAlive: true, maxSockets: 32 }),
    'https:': new https.Agent({ keepAlive: true, maxSockets: 32 }),
  };

  constructor(options: WebHdfsClientOptions) {
    if ((options.auth ?? 'simple') === 'kerberos') throw new Error(KERBEROS_UNSUPPORTED);
    this.baseUrl = webHdfsBaseUrl(options.url);
    this.serviceUser = options.serviceUser;
    this.timeoutMs = options.timeoutMs ?? 30_000;
    this.auth = simpleAuth(options.serviceUser);
  }

  /** Calls made as `user` (through `doas` when a service user is configured). */
  as(user: string): WebHdfsSession {
    return new WebHdfsSession(this, user);
  }

  /** Calls made as the service user itself, or null when none is configured. */
  asService(): WebHdfsSession | null {
    return this.serviceUser === undefined ? null : new WebHdfsSession(this, null);
  }

  /** Closes idle keep-alive connections. */
  close(): void {
    this.agents['http:'].destroy();
    this.agents['https:'].destroy();
  }

  /** @internal The URL of an operation on the NameNode. */
  urlFor(hdfsPath: string, op: string, actAs: string | null, params: Record<string, string> = {}): URL {
    return new URL(`${this.baseUrl}${encodePath(hdfsPath)}?${query({ op, ...params, ...this.auth.params(actAs) })}`);
  }

  private request(method: string, url: URL, options: { signal?: AbortSignal; headers?: http.OutgoingHttpHeaders } = {}): http.ClientRequest {
    const transport = url.protocol === 'https:' ? https : http;
    const agent = url.protocol === 'https:' ? this.agents['https:'] : this.agents['http:'];
    return transport.request(url, { method, agent, signal: options.signal, headers: options.headers });
  }

  /** @internal A metadata call to the NameNode: JSON back (or null for an empty 2xx), all within the timeout. */
  async call(method: string, url: URL, operation: string): Promise<unknown> {
    const signal = AbortSignal.timeout(this.timeoutMs);
    try {
      const res = await new Promise<http.IncomingMessage>((resolve, reject) => {
        const req = this.request(method, url, { signal });
        req.once('response', resolve);
        req.once('error', reject);
        req.end();
      });
      const body = await readReply(res);
      const status = res.statusCode ?? 0;
      if (status < 200 || status >= 300) throw errorFromReply(status, body, operation);
      if (body.trim() === '') return null;
      try {
        return JSON.parse(body);
      } catch (cause) {
        throw new WebHdfsError('protocol', `${operation}: the reply is not JSON`, { status, operation, cause });
      }
    } catch (error) {
      throw transportError(error, operation);
    }
  }

  /**
   * @internal The DataNode step of CREATE: streams `data` as the request body with back-pressure (a stream is
   * never buffered whole). An error from the caller's stream comes back as SourceStreamError, after the
   * request was aborted, so the DataNode never sees a complete body for a broken upload.
   */
  async upload(url: URL, data: WriteData, operation: string): Promise<void> {
    const req = this.request('PUT', url, { headers: { 'content-type': 'application/octet-stream' } });
    req.setTimeout(this.timeoutMs, () =>
      req.destroy(new WebHdfsError('timeout', `${operation}: the DataNode made no progress for ${this.timeoutMs} ms`, { operation })),
    );
    const reply = new Promise<http.IncomingMessage>((resolve, reject) => {
      req.once('response', resolve);
      req.once('error', reject);
    });
    // A reply before the body is complete is an error reply (or a broken connection): stop sending then.
    let replied = false;
    const early = reply.then(
      () => void (replied = true),
      () => void (replied = true),
    );
    try {
      if (!isStream(data)) {
        req.end(typeof data === 'string' ? Buffer.from(data, 'utf8') : data);
      } else {
        const chunks = data[Symbol.asyncIterator]() as AsyncIterator<unknown>;
        for (;;) {
          let next: IteratorResult<unknown>;
          try {
            next = await chunks.next();
          } catch (error) {
            throw new SourceStreamError(error);
          }
          if (replied || req.destroyed) break;
          if (next.done) {
            req.end();
            break;
          }
          const chunk = next.value;
          let bytes: Uint8Array;
          if (typeof chunk === 'string') bytes = Buffer.from(chunk, 'utf8');
          else if (chunk instanceof Uint8Array) bytes = chunk;
          else throw new SourceStreamError(new TypeError('A stream written to a home store must yield bytes or text.'));
          if (!req.write(bytes)) await Promise.race([drained(req), early]);
        }
      }
    } catch (error) {
      req.destroy();
      reply.catch(() => undefined);
      throw transportError(error, operation);
    }
    try {
      const res = await reply;
      const body = await readReply(res);
      const status = res.statusCode ?? 0;
      if (status < 200 || status >= 300) throw errorFromReply(status, body, operation);
      if (!req.writableFinished) {
        throw new WebHdfsError('protocol', `${operation}: the DataNode accepted the file before it was sent whole`, { status, operation });
      }
    } catch (error) {
      req.destroy();
      throw transportError(error, operation);
    }
  }

  /** @internal The DataNode step of OPEN: the body as a stream that fails (never hangs) when the DataNode stalls. */
  async download(url: URL, operation: string): Promise<Readable> {
    const req = this.request('GET', url);
    req.setTimeout(this.timeoutMs, () =>
      req.destroy(new WebHdfsError('timeout', `${operation}: the DataNode sent nothing for ${this.timeoutMs} ms`, { operation })),
    );
    let res: http.IncomingMessage;
    try {
      res = await new Promise<http.IncomingMessage>((resolve, reject) => {
        req.once('response', resolve);
        req.once('error', reject);
        req.end();
      });
    } catch (error) {
      throw transportError(error, operation);
    }
    const status = res.statusCode ?? 0;
    if (status < 200 || status >= 300) {
      try {
        throw errorFromReply(status, await readReply(res, 1024 * 1024), operation);
      } finally {
        req.destroy();
      }
    }
    // Errors raised inside the body (a reset, the timeout) become WebHdfsErrors; destroying the result
    // ends the request.
    async function* body(): AsyncGenerator<Buffer> {
      try {
        for await (const chunk of res as AsyncIterable<Buffer>) yield chunk;
      } catch (error) {
        throw transportError(error, operation);
      } finally {
        req.destroy();
      }
    }
    return Readable.from(body(), { objectMode: false });
  }
}

/** WebHDFS operations made as one user. Paths are absolute HDFS paths. */
export class WebHdfsSession {
  constructor(
    private readonly client: WebHdfsClient,
    /** null: the service user itself. */
    readonly user: string | null,
  ) {}

  private async call(method: string, hdfsPath: string, op: string, params?: Record<string, string>): Promise<unknown> {
    return this.client.call(method, this.client.urlFor(hdfsPath, op, this.user, params), op);
  }

  private parse<T>(schema: z.ZodType<T>, reply: unknown, op: string): T {
    const parsed = schema.safeParse(reply);
    if (!parsed.success) {
      throw new WebHdfsError('protocol', `${op}: unexpected reply shape: ${parsed.error.issues[0]?.message ?? ''}`, { operation: op });
    }
    return parsed.data;
  }

  async getFileStatus(hdfsPath: string): Promise<FileStatus> {
    return this.parse(fileStatusReply, await this.call('GET', hdfsPath, 'GETFILESTATUS'), 'GETFILESTATUS').FileStatus;
  }

  /** Like getFileStatus, but null when nothing is there. */
  async getFileStatusOrNull(hdfsPath: string): Promise<FileStatus | null> {
    try {
      return await this.getFileStatus(hdfsPath);
    } catch (error) {
      if (error instanceof WebHdfsError && error.exception === 'FileNotFoundException') return null;
      throw error;
    }
  }

  /** A folder's entries; for a file, HDFS answers with the file itself (pathSuffix ''). */
  async listStatus(hdfsPath: string): Promise<FileStatus[]> {
    return this.parse(listStatusReply, await this.call('GET', hdfsPath, 'LISTSTATUS'), 'LISTSTATUS').FileStatuses.FileStatus;
  }

  /** `mkdir -p`; true also when the folder already exists. */
  async mkdirs(hdfsPath: string, permission?: number): Promise<boolean> {
    const params: Record<string, string> = permission === undefined ? {} : { permission: octal(permission) };
    return this.parse(booleanReply, await this.call('PUT', hdfsPath, 'MKDIRS', params), 'MKDIRS').boolean;
  }

  /**
   * Creates a new file (never replaces one, never creates its parent) from `data`: the NameNode names a
   * DataNode (noredirect=true, so the answer is JSON rather than a 307), then the body streams to it.
   */
  async create(hdfsPath: string, data: WriteData, options: CreateOptions = {}): Promise<void> {
    const params: Record<string, string> = { noredirect: 'true', overwrite: 'false', createparent: 'false' };
    if (options.permission !== undefined) params.permission = octal(options.permission);
    const { Location } = this.parse(locationReply, await this.call('PUT', hdfsPath, 'CREATE', params), 'CREATE');
    await this.client.upload(dataNodeUrl(Location, this.client.baseUrl), data, 'CREATE');
  }

  /** A file's bytes as a stream; with `length`, at most that many (the DataNode stops there). */
  async open(hdfsPath: string, options: { length?: number } = {}): Promise<Readable> {
    const params: Record<string, string> = { noredirect: 'true' };
    if (options.length !== undefined) params.length = String(options.length);
    const { Location } = this.parse(locationReply, await this.call('GET', hdfsPath, 'OPEN', params), 'OPEN');
    return this.client.download(dataNodeUrl(Location, this.client.baseUrl), 'OPEN');
  }

  /**
   * Renames with POSIX-like semantics (HDFS rename2, `renameoptions`): the destination's parent must exist;
   * without overwrite an existing destination fails (FileAlreadyExistsException), with it a file or empty
   * folder is replaced atomically in the NameNode. The plain RENAME would instead move `from` *into* an
   * existing folder, or answer `false` without saying why.
   */
  async rename(from: string, to: string, options: { overwrite?: boolean } = {}): Promise<void> {
    await this.call('PUT', from, 'RENAME', { destination: to, renameoptions: options.overwrite ? 'OVERWRITE' : 'NONE' });
  }

  /** False when nothing was there. */
  async delete(hdfsPath: string, options: { recursive?: boolean } = {}): Promise<boolean> {
    const reply = await this.call('DELETE', hdfsPath, 'DELETE', { recursive: options.recursive ? 'true' : 'false' });
    return this.parse(booleanReply, reply, 'DELETE').boolean;
  }

  async setOwner(hdfsPath: string, owner: string, group?: string): Promise<void> {
    await this.call('PUT', hdfsPath, 'SETOWNER', group === undefined ? { owner } : { owner, group });
  }

  async setPermission(hdfsPath: string, permission: number): Promise<void> {
    await this.call('PUT', hdfsPath, 'SETPERMISSION', { permission: octal(permission) });
  }
}

function octal(mode: number): string {
  return (mode & 0o1777).toString(8);
}

/** The DataNode address from a NameNode answer; it must be http(s), like the NameNode's own. */
function dataNodeUrl(location: string, base: string): URL {
  const url = new URL(location);
  if (url.protocol !== 'http:' && url.protocol !== 'https:') {
    throw new WebHdfsError('protocol', `the NameNode redirected to ${url.protocol} (from ${new URL(base).origin})`);
  }
  return url;
}

// ---------------------------------------------------------------------------------------------------------
// Errors a user sees

const CODE_BY_EXCEPTION: Record<string, StorageErrorCode> = {
  AccessControlException: 'PERMISSION_DENIED',
  AuthorizationException: 'PERMISSION_DENIED',
  SecurityException: 'PERMISSION_DENIED',
  FileNotFoundException: 'NOT_FOUND',
  FileAlreadyExistsException: 'ALREADY_EXISTS',
  ParentNotDirectoryException: 'NOT_A_DIRECTORY',
  PathIsNotEmptyDirectoryException: 'CONFLICT',
  QuotaExceededException: 'QUOTA_EXCEEDED',
  NSQuotaExceededException: 'QUOTA_EXCEEDED',
  DSQuotaExceededException: 'QUOTA_EXCEEDED',
  QuotaByStorageTypeExceededException: 'QUOTA_EXCEEDED',
  MaxDirectoryItemsExceededException: 'QUOTA_EXCEEDED',
  InvalidPathException: 'INVALID_PATH',
  PathComponentTooLongException: 'INVALID_PATH',
  SafeModeException: 'UNAVAILABLE',
  RetriableException: 'UNAVAILABLE',
  StandbyException: 'UNAVAILABLE',
  ConnectException: 'UNAVAILABLE',
};

function codeOf(error: WebHdfsError): StorageErrorCode {
  if (error.failure !== 'remote') return 'UNAVAILABLE';
  const exception = error.exception ?? '';
  // HDFS reports "a/file/x" (a path through a file) as a permission error on "a/file".
  if (exception === 'AccessControlException' && /is not a directory/.test(error.message)) return 'NOT_A_DIRECTORY';
  if (/directory is not empty/.test(error.message)) return 'CONFLICT';
  return CODE_BY_EXCEPTION[exception] ?? (/QuotaExceeded/.test(exception) ? 'QUOTA_EXCEEDED' : 'UNAVAILABLE');
}

function capitalized(text: string): string {
  return text.charAt(0).toUpperCase() + text.slice(1);
}

function messageFor(code: StorageErrorCode, error: WebHdfsError, userPath: string): string | undefined {
  const subject = describePath(userPath);
  switch (error.failure) {
    case 'timeout':
      return `HDFS did not answer in time while working on ${subject}. Try again in a moment; if it keeps happening, tell an administrator.`;
    case 'unreachable':
      return `HDFS could not be reached while working on ${subject}. Try again in a moment; if it keeps happening, tell an administrator.`;
    case 'unauthenticated':
      return 'HDFS refused to talk to Atrium without credentials (its authentication is not the one Atrium is configured for). Tell an administrator: check ATRIUM_WEBHDFS_AUTH.';
    case 'protocol':
      return `HDFS gave an answer Atrium does not understand while working on ${subject}. Tell an administrator: check ATRIUM_WEBHDFS_URL.`;
    case 'remote':
      break;
  }
  const exception = error.exception ?? '';
  if (exception === 'AuthorizationException' || /impersonate/.test(error.message)) {
    return 'HDFS does not let Atrium act on your behalf (its service user is not an allowed proxy user for you). Tell an administrator: check the hadoop.proxyuser settings for ATRIUM_WEBHDFS_USER.';
  }
  if (exception === 'SafeModeException') {
    return `HDFS is in safe mode (starting up or under maintenance), so ${subject} cannot be changed right now. Try again in a few minutes.`;
  }
  if (code === 'QUOTA_EXCEEDED') {
    const quota = exception === 'NSQuotaExceededException' ? 'quota on the number of files and folders' : 'storage quota';
    return `Your HDFS ${quota} is used up, so ${subject} cannot be written. Delete files you no longer need, or ask for a larger quota.`;
  }
  if (code === 'INVALID_PATH') {
    return `HDFS does not accept the name ${subject} (for example, it cannot contain ":"). Choose another name.`;
  }
  if (code === 'UNAVAILABLE') {
    return `HDFS could not complete the operation on ${subject}. Try again in a moment; if it keeps happening, tell an administrator.`;
  }
  if (code === 'CONFLICT') return `${capitalized(subject)} is a folder that is not empty. Delete its contents first, or delete it recursively.`;
  return undefined;
}

/**
 * Converts a WebHDFS failure into a StorageError about `userPath`. The HDFS path and the server's own words
 * stay in `cause` (for logs). Errors that are not WebHDFS failures (bugs) are returned unchanged.
 */
export function toStorageError(error: unknown, userPath: string): unknown {
  if (error instanceof StorageError || !(error instanceof WebHdfsError)) return error;
  const code = codeOf(error);
  const message = messageFor(code, error, userPath);
  return message === undefined ? storageError(code, userPath, error) : new StorageError(code, message, { path: userPath, cause: error });
}
