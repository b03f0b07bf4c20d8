// The WebHDFS home store against a real HDFS: the Hadoop mini cluster (e2e/clusters/hadoop), started here on
// free ports so it never collides with another cluster on this machine, stopped in after(). The shared
// HomeStore contract first, then what only HDFS has: homes created by the service user and given to their
// owner (mode 0700), every call made as the analyst (ana's notebook is readable as ana and refused to bob),
// and HDFS's own errors (quota, impersonation, names HDFS refuses, a cluster that is down or silent).
// Run alone: node --import tsx --test --test-reporter=spec server/storage/webhdfs-store.int.test.ts

import assert from 'node:assert/strict';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';

import { portsWithOffset, startHadoopCluster } from '../../e2e/clusters/hadoop/cluster.mjs';
import { EnvError, loadEnv } from '../env';
import { runHomeStoreContract } from './contract';
import { StorageError, type StorageErrorCode } from './errors';
import { WebHdfsClient, WebHdfsError, toStorageError, type WebHdfsSession } from './webhdfs-client';
import { WebHdfsHomeStores } from './webhdfs-homes';
import { WebHdfsHomeStore } from './webhdfs-store';

type Cluster = Awaited<ReturnType<typeof startHadoopCluster>>;

const MiB = 1024 * 1024;
const workDir = fs.mkdtempSync(path.join(os.tmpdir(), 'atrium-webhdfs-test-'));
let cluster: Cluster | undefined;
let client: WebHdfsClient | undefined;
const closers: Array<() => void> = [];

function c(): Cluster {
  assert.ok(cluster, 'the mini cluster did not start');
  return cluster;
}

/** The shared client acting as the service user, which is the cluster's superuser and a proxy user. */
function service(): WebHdfsClient {
  client ??= new WebHdfsClient({ url: c().webhdfsUrl, serviceUser: c().superuser, timeoutMs: 30_000 });
  return client;
}

/** The HDFS superuser itself (no doas): sets up and inspects what the tests check. */
function admin(): WebHdfsSession {
  const session = service().asService();
  assert.ok(session);
  return session;
}

function homesWith(config: Partial<ConstructorParameters<typeof WebHdfsHomeStores>[0]> = {}): WebHdfsHomeStores {
  const homes = new WebHdfsHomeStores({ url: c().webhdfsUrl, serviceUser: c().superuser, timeoutMs: 30_000, ...config });
  closers.push(() => homes.close());
  return homes;
}

async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as net.AddressInfo;
      server.close(() => resolve(port));
    });
  });
}

/** A plain WebHDFS call with Node's fetch, independent of Atrium's client (OPEN follows the 307 itself). */
async function raw(method: string, hdfsPath: string, query: string): Promise<{ status: number; text: string; json: any }> {
  const encoded = hdfsPath.split('/').map(encodeURIComponent).join('/');
  const response = await fetch(`${c().webhdfsUrl}${encoded}?${query}`, { method, signal: AbortSignal.timeout(30_000) });
  const text = await response.text();
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    json = undefined;
  }
  return { status: response.status, text, json };
}

async function rejectsWith(promise: Promise<unknown>, code: StorageErrorCode): Promise<StorageError> {
  let caught: unknown;
  await assert.rejects(promise, (error: unknown) => {
    caught = error;
    return true;
  });
  assert.ok(caught instanceof StorageError, `expected a StorageError, got ${String(caught)}`);
  assert.equal(caught.code, code, caught.message);
  return caught;
}

before(
  async () => {
    // Fixed ports below the ephemeral range (see portsWithOffset), apart from the other clusters' (+0, +5000, +10000).
    const ports = portsWithOffset(3000);
    // Only HDFS is used here; YARN starts with the cluster, kept small.
    cluster = await startHadoopCluster({ workDir, ports, nmMemoryMb: 1024, nmVcores: 1, heapMb: 768, timeoutMs: 180_000 });
  },
  { timeout: 10 * 60_000 },
);

after(async () => {
  for (const close of closers) close();
  client?.close();
  await cluster?.stop();
  if (!process.env.ATRIUM_KEEP_HADOOP_WORK) fs.rmSync(workDir, { recursive: true, force: true });
  else console.log(`# kept ${workDir}`);
});

// Each contract test gets its own empty home, /contract/<n>/ana, removed afterwards.
let contractHomes = 0;
runHomeStoreContract(
  'webhdfs',
  async () => {
    const root = `/contract/${++contractHomes}`;
    return {
      store: new WebHdfsHomeStore({ client: service(), username: 'ana', homeDir: `${root}/ana` }),
      cleanup: async () => void (await admin().delete(root, { recursive: true })),
    };
  },
  // The full 64 MiB: a streamed write and read through one DataNode take a few seconds here.
  { largeFileBytes: 64 * MiB },
);

describe('WebHDFS homes', () => {
  it('forUser creates <root>/<user> as the service user, owned by the user, mode 700', async () => {
    const homes = homesWith();
    assert.equal(homes.homePathOf({ username: 'ana' }), '/user/ana');
    assert.equal(homes.localPathOf(), undefined);
    const store = await homes.forUser({ username: 'ana' });
    assert.equal(await homes.forUser({ username: 'ana' }), store, 'created once per process');

    const status = await raw('GET', '/user/ana', `op=GETFILESTATUS&user.name=${c().superuser}`);
    assert.equal(status.json.FileStatus.type, 'DIRECTORY');
    assert.equal(status.json.FileStatus.owner, 'ana');
    assert.equal(status.json.FileStatus.permission, '700');
    assert.equal((await store.stat('')).mode, 0o700);
    await store.ensureHome(); // idempotent
    assert.equal((await raw('GET', '/user/ana', `op=GETFILESTATUS&user.name=${c().superuser}`)).json.FileStatus.permission, '700');
  });

  it('finishes a home left owned by the service user, and leaves a mode an administrator chose', async () => {
    await admin().mkdirs('/user/carol', 0o755); // as if the process died between mkdir and chown
    await admin().mkdirs('/user/dave', 0o750);
    await admin().setOwner('/user/dave', 'dave');
    const homes = homesWith();
    await homes.forUser({ username: 'carol' });
    await homes.forUser({ username: 'dave' });
    const carol = (await admin().getFileStatus('/user/carol'));
    assert.deepEqual([carol.owner, carol.permission], ['carol', '700']);
    const dave = await admin().getFileStatus('/user/dave');
    assert.deepEqual([dave.owner, dave.permission], ['dave', '750']);
  });

  it('refuses user names that cannot be HDFS folder names', async () => {
    const homes = homesWith();
    for (const bad of ['', '..', '.hidden', 'a/b', 'Ana', 'a:b', 'x'.repeat(65)]) {
      await rejectsWith(homes.forUser({ username: bad }), 'INVALID_PATH');
    }
  });

  it('a notebook saved as ana is hers on HDFS: readable through WebHDFS as ana, refused to bob', async () => {
    const homes = homesWith();
    const ana = await homes.forUser({ username: 'ana' });
    await ana.mkdir('projects', { parents: true });
    const notebook = JSON.stringify({ cells: [], metadata: {}, nbformat: 4, nbformat_minor: 5 });
    await ana.write('projects/analysis.ipynb', notebook, { overwrite: true });
    const hdfsPath = '/user/ana/projects/analysis.ipynb';

    // Made as ana (doas): HDFS records her as the owner of what Atrium wrote for her.
    const status = await admin().getFileStatus(hdfsPath);
    assert.equal(status.owner, 'ana');
    assert.equal((await admin().getFileStatus('/user/ana/projects')).owner, 'ana');

    // Plain WebHDFS, no Atrium code: ana reads it, bob is refused by HDFS.
    const asAna = await raw('GET', hdfsPath, 'op=OPEN&user.name=ana');
    assert.equal(asAna.status, 200, asAna.text);
    assert.equal(asAna.text, notebook);
    const asBob = await raw('GET', hdfsPath, 'op=OPEN&user.name=bob');
    assert.equal(asBob.status, 403, asBob.text);
    assert.equal(asBob.json.RemoteException.exception, 'AccessControlException');

    // Through Atrium's client, impersonating bob: a clear PERMISSION_DENIED.
    const bobSession = homes.client.as('bob');
    const denied = await rejectsWith(
      bobSession.open(hdfsPath).catch((error: unknown) => Promise.reject(toStorageError(error, 'projects/analysis.ipynb'))),
      'PERMISSION_DENIED',
    );
    assert.match(denied.message, /permission/i);
    // Bob's own home store has no path that reaches ana's home.
    const bob = await homes.forUser({ username: 'bob' });
    assert.deepEqual(await bob.list(''), []);
    await rejectsWith(bob.readText('../ana/projects/analysis.ipynb'), 'INVALID_PATH');
  });

  it('without a service user, calls are made as the analyst (user.name) and the analyst creates the home', async () => {
    await admin().mkdirs('/shared-homes', 0o1777);
    await admin().setPermission('/shared-homes', 0o1777);
    const homes = homesWith({ serviceUser: undefined, homeRoot: '/shared-homes/' });
    const erin = await homes.forUser({ username: 'erin' });
    await erin.write('hello.txt', 'hi');
    assert.equal(await erin.readText('hello.txt'), 'hi');
    const home = await admin().getFileStatus('/shared-homes/erin');
    assert.deepEqual([home.owner, home.permission], ['erin', '700']);
    assert.equal((await admin().getFileStatus('/shared-homes/erin/hello.txt')).owner, 'erin');
  });
});

describe('HDFS errors as StorageErrors', () => {
  it('a namespace quota and a space quota become QUOTA_EXCEEDED, and the old file stays', async () => {
    const homes = homesWith({ homeRoot: '/quota' });
    const quinn = await homes.forUser({ username: 'quinn' });
    await quinn.write('kept.txt', 'kept');
    // The home and kept.txt use 2 names; the next upload's temp file would be the 3rd.
    let r = await raw('PUT', '/quota/quinn', `op=SETQUOTA&namespacequota=2&storagespacequota=-1&user.name=${c().superuser}`);
    assert.equal(r.status, 200, r.text);
    const names = await rejectsWith(quinn.write('more.txt', 'x'), 'QUOTA_EXCEEDED');
    assert.match(names.message, /quota/i);
    assert.equal(await quinn.readText('kept.txt'), 'kept');

    // A space quota smaller than one block: HDFS refuses when the DataNode asks for a block.
    r = await raw('PUT', '/quota/quinn', `op=SETQUOTA&namespacequota=100&storagespacequota=1024&user.name=${c().superuser}`);
    assert.equal(r.status, 200, r.text);
    const space = await rejectsWith(quinn.write('kept.txt', 'y'.repeat(4096), { overwrite: true }), 'QUOTA_EXCEEDED');
    assert.match(space.message, /storage quota/);
    assert.equal(await quinn.readText('kept.txt'), 'kept');
    assert.deepEqual((await quinn.list('')).map((e) => e.name), ['kept.txt']);
  });

  it('a service user that may not impersonate the analyst gets PERMISSION_DENIED naming the proxy-user setting', async () => {
    const homes = homesWith({ serviceUser: 'mallory' });
    const error = await rejectsWith(homes.storeFor('ana').list(''), 'PERMISSION_DENIED');
    assert.match(error.message, /proxyuser/);
  });

  it('a name HDFS refuses is INVALID_PATH', async () => {
    const ana = await homesWith().forUser({ username: 'ana' });
    const error = await rejectsWith(ana.write('a:b.txt', 'x'), 'INVALID_PATH');
    assert.match(error.message, /":"/);
    await rejectsWith(ana.mkdir('x:y'), 'INVALID_PATH');
  });

  it('a cluster that is down is UNAVAILABLE at once', async () => {
    const port = await freePort(); // closed again: nothing listens there
    const homes = new WebHdfsHomeStores({ url: `http://127.0.0.1:${port}`, serviceUser: 'atrium', timeoutMs: 5_000 });
    closers.push(() => homes.close());
    const started = Date.now();
    const error = await rejectsWith(homes.storeFor('ana').stat(''), 'UNAVAILABLE');
    assert.ok(Date.now() - started < 4_000);
    assert.match(error.message, /could not be reached/);
    await rejectsWith(homes.forUser({ username: 'ana' }), 'UNAVAILABLE');
  });

  it('a cluster that never answers is UNAVAILABLE after the timeout, not a hang', async () => {
    const sockets: net.Socket[] = [];
    const silent = net.createServer((socket) => void sockets.push(socket));
    await new Promise<void>((resolve) => silent.listen(0, '127.0.0.1', resolve));
    try {
      const { port } = silent.address() as net.AddressInfo;
      const homes = new WebHdfsHomeStores({ url: `http://127.0.0.1:${port}/webhdfs/v1`, serviceUser: 'atrium', timeoutMs: 400 });
      closers.push(() => homes.close());
      const started = Date.now();
      const error = await rejectsWith(homes.storeFor('ana').list(''), 'UNAVAILABLE');
      const took = Date.now() - started;
      assert.ok(took >= 350 && took < 5_000, `gave up after ${took} ms`);
      assert.match(error.message, /did not answer in time/);
    } finally {
      for (const socket of sockets) socket.destroy();
      await new Promise((resolve) => silent.close(resolve));
    }
  });

  it('exceptions the mini cluster cannot be made to throw on demand map as documented', () => {
    const table: Array<[exception: string, code: StorageErrorCode, words: RegExp]> = [
      ['SafeModeException', 'UNAVAILABLE', /safe mode/],
      ['StandbyException', 'UNAVAILABLE', /Try again/],
      ['RetriableException', 'UNAVAILABLE', /Try again/],
      ['DSQuotaExceededException', 'QUOTA_EXCEEDED', /storage quota/],
      ['NSQuotaExceededException', 'QUOTA_EXCEEDED', /number of files/],
      ['QuotaByStorageTypeExceededException', 'QUOTA_EXCEEDED', /quota/],
      ['AccessControlException', 'PERMISSION_DENIED', /permission/],
      ['FileNotFoundException', 'NOT_FOUND', /does not exist/],
      ['FileAlreadyExistsException', 'ALREADY_EXISTS', /already exists/],
      ['ParentNotDirectoryException', 'NOT_A_DIRECTORY', /not a folder/],
      ['PathIsNotEmptyDirectoryException', 'CONFLICT', /not empty/],
      ['SomethingNewException', 'UNAVAILABLE', /administrator/],
    ];
    for (const [exception, code, words] of table) {
      const cause = new WebHdfsError('remote', `GETFILESTATUS: ${exception}: /user/ana/x`, { status: 403, exception });
      const mapped = toStorageError(cause, 'notes/x.txt');
      assert.ok(mapped instanceof StorageError, exception);
      assert.equal(mapped.code, code, exception);
      assert.match(mapped.message, words, `${exception}: ${mapped.message}`);
      assert.ok(!mapped.message.includes('/user/ana'), 'HDFS paths stay in the cause');
      assert.equal(mapped.cause, cause);
    }
    const bug = new TypeError('not a WebHDFS failure');
    assert.equal(toStorageError(bug, 'x'), bug);
  });
});

describe('WebHDFS configuration', () => {
  it('kerberos is accepted as a setting and refused with a clear "not supported in this build"', () => {
    assert.throws(() => new WebHdfsHomeStores({ url: 'http://nn:9870', auth: 'kerberos' }), /not supported in this build/);
    assert.throws(
      () => loadEnv({ ATRIUM_HOME_STORE: 'webhdfs', ATRIUM_WEBHDFS_URL: 'http://nn:9870', ATRIUM_WEBHDFS_AUTH: 'kerberos' }),
      (error: unknown) => error instanceof EnvError && /ATRIUM_WEBHDFS_AUTH: kerberos \(SPNEGO\) is not supported/.test(error.message),
    );
  });

  it('loadEnv validates the WebHDFS settings together', () => {
    const ok = loadEnv({ ATRIUM_HOME_STORE: 'webhdfs', ATRIUM_WEBHDFS_URL: 'http://nn:9870', ATRIUM_WEBHDFS_USER: 'atrium' });
    assert.equal(ok.ATRIUM_WEBHDFS_HOME_ROOT, '/user');
    assert.equal(ok.ATRIUM_WEBHDFS_AUTH, 'simple');
    assert.equal(ok.ATRIUM_WEBHDFS_TIMEOUT_SECONDS, 30);
    assert.equal(loadEnv({}).ATRIUM_HOME_STORE, 'local');
    const problems = (source: Record<string, string>): string => {
      try {
        loadEnv(source);
        return '';
      } catch (error) {
        assert.ok(error instanceof EnvError);
        return error.message;
      }
    };
    assert.match(problems({ ATRIUM_HOME_STORE: 'webhdfs' }), /ATRIUM_WEBHDFS_URL: is required/);
    assert.match(problems({ ATRIUM_HOME_STORE: 'webhdfs', ATRIUM_WEBHDFS_URL: 'hdfs://nn:8020' }), /ATRIUM_WEBHDFS_URL/);
    assert.match(problems({ ATRIUM_WEBHDFS_HOME_ROOT: 'user' }), /ATRIUM_WEBHDFS_HOME_ROOT/);
    assert.match(problems({ ATRIUM_WEBHDFS_HOME_ROOT: '/user/../etc' }), /ATRIUM_WEBHDFS_HOME_ROOT/);
    assert.match(problems({ ATRIUM_HOME_STORE: 'hdfs' }), /ATRIUM_HOME_STORE/);
  });

  it('the WebHDFS address may be given with or without /webhdfs/v1', () => {
    for (const url of ['http://nn:9870', 'http://nn:9870/', 'http://nn:9870/webhdfs/v1', 'http://nn:9870/webhdfs/v1/']) {
      assert.equal(new WebHdfsClient({ url }).baseUrl, 'http://nn:9870/webhdfs/v1');
    }
    assert.throws(() => new WebHdfsClient({ url: 'hdfs://nn:8020' }), /http/);
  });
});
