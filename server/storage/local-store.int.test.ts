// The local store against a real filesystem in a temp dir: the shared HomeStore contract, then what only a
// local folder has (links, permission bits, special files, the host path never leaking into messages).

import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { existsSync, promises as fs } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Readable } from 'node:stream';
import { afterEach, beforeEach, describe, it } from 'node:test';

import { runHomeStoreContract } from './contract';
import { StorageError, type StorageErrorCode } from './errors';
import { fromFsError } from './fs-errors';
import { LocalHomeStore, localHomeStoreFor } from './local-store';
import { TEMP_PREFIX } from './paths';

async function makeTempDir(): Promise<string> {
  return fs.mkdtemp(path.join(os.tmpdir(), 'atrium-storage-'));
}

runHomeStoreContract('local', async () => {
  const base = await makeTempDir();
  return {
    store: localHomeStoreFor(base, 'alice'),
    cleanup: () => fs.rm(base, { recursive: true, force: true }),
  };
});

async function streamToBuffer(stream: Readable): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const chunk of stream) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks);
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

const runningAsRoot = process.getuid?.() === 0;

describe('LocalHomeStore, local only', () => {
  let base: string;
  let outside: string;
  let store: LocalHomeStore;
  let home: string;

  beforeEach(async () => {
    base = await makeTempDir();
    outside = path.join(base, 'outside');
    await fs.mkdir(outside);
    await fs.writeFile(path.join(outside, 'secret.txt'), 'top secret');
    store = localHomeStoreFor(path.join(base, 'homes'), 'alice');
    await store.ensureHome();
    home = store.root;
  });

  afterEach(async () => {
    // Undo chmod 000 from the permission test so rm can descend.
    await fs.chmod(path.join(home, 'locked'), 0o700).catch(() => undefined);
    await fs.rm(base, { recursive: true, force: true });
  });

  async function outsideUntouched(): Promise<void> {
    assert.deepEqual(await fs.readdir(outside), ['secret.txt']);
    assert.equal(await fs.readFile(path.join(outside, 'secret.txt'), 'utf8'), 'top secret');
  }

  describe('home folder', () => {
    it('ensureHome creates the home with mode 0700', async () => {
      assert.equal(home, path.join(base, 'homes', 'alice'));
      assert.equal((await fs.stat(home)).mode & 0o777, 0o700);
      assert.equal((await store.stat('')).mode, 0o700);
    });

    it('operations before ensureHome report UNAVAILABLE', async () => {
      const bob = localHomeStoreFor(path.join(base, 'homes'), 'bob');
      await rejectsWith(bob.list(''), 'UNAVAILABLE');
      await rejectsWith(bob.write('x', 'y'), 'UNAVAILABLE');
    });

    it('ensureHome reports a file in the home folder\'s place', async () => {
      await fs.writeFile(path.join(base, 'homes', 'carol'), 'not a folder');
      await rejectsWith(localHomeStoreFor(path.join(base, 'homes'), 'carol').ensureHome(), 'UNAVAILABLE');
    });

    it('localHomeStoreFor accepts only safe user names', () => {
      for (const good of ['alice', 'a.b-c_d', '0', '_svc', 'x'.repeat(64)]) {
        assert.equal(localHomeStoreFor(base, good).root, path.join(base, good));
      }
      for (const bad of ['', '.', '..', '.hidden', '../etc', 'a/b', 'a\\b', 'Alice', 'a b', 'é', 'a\u0000', 'x'.repeat(65)]) {
        assert.throws(
          () => localHomeStoreFor(base, bad),
          (error: unknown) => error instanceof StorageError && error.code === 'INVALID_PATH',
          JSON.stringify(bad),
        );
      }
    });
  });

  describe('links', () => {
    it('refuses a link to a file outside the home, and deleting it removes only the link', async () => {
      await fs.symlink(path.join(outside, 'secret.txt'), path.join(home, 'leak.txt'));
      await rejectsWith(store.stat('leak.txt'), 'PERMISSION_DENIED');
      await rejectsWith(store.read('leak.txt'), 'PERMISSION_DENIED');
      await rejectsWith(store.readText('leak.txt'), 'PERMISSION_DENIED');
      await rejectsWith(store.write('leak.txt', 'pwned', { overwrite: true }), 'PERMISSION_DENIED');
      assert.deepEqual(await store.list(''), [], 'list leaves out links that escape');
      await outsideUntouched();

      await store.delete('leak.txt');
      await assert.rejects(fs.lstat(path.join(home, 'leak.txt')));
      await outsideUntouched();
    });

    it('refuses every operation through a linked folder outside the home', async () => {
      await fs.symlink(outside, path.join(home, 'ext'));
      await store.write('mine.txt', 'mine');
      await rejectsWith(store.list('ext'), 'PERMISSION_DENIED');
      await rejectsWith(store.stat('ext'), 'PERMISSION_DENIED');
      await rejectsWith(store.stat('ext/secret.txt'), 'PERMISSION_DENIED');
      await rejectsWith(store.read('ext/secret.txt'), 'PERMISSION_DENIED');
      await rejectsWith(store.write('ext/new.txt', 'x'), 'PERMISSION_DENIED');
      await rejectsWith(store.write('ext/secret.txt', 'x', { overwrite: true }), 'PERMISSION_DENIED');
      await rejectsWith(store.write('ext/new.txt', Readable.from(['x'])), 'PERMISSION_DENIED');
      await rejectsWith(store.mkdir('ext/sub'), 'PERMISSION_DENIED');
      await rejectsWith(store.mkdir('ext/a/b', { parents: true }), 'PERMISSION_DENIED');
      await rejectsWith(store.rename('mine.txt', 'ext/mine.txt'), 'PERMISSION_DENIED');
      await rejectsWith(store.rename('ext/secret.txt', 'stolen.txt'), 'PERMISSION_DENIED');
      await rejectsWith(store.delete('ext/secret.txt'), 'PERMISSION_DENIED');
      assert.deepEqual((await store.list('')).map((e) => e.name), ['mine.txt']);
      await outsideUntouched();

      await store.delete('ext', { recursive: true });
      await outsideUntouched();
    });

    it('refuses a path whose grandparent is a link outside the home', async () => {
      await fs.mkdir(path.join(home, 'a'));
      await fs.symlink(outside, path.join(home, 'a', 'b'));
      await rejectsWith(store.write('a/b/c/d.txt', 'x'), 'PERMISSION_DENIED');
      await rejectsWith(store.mkdir('a/b/c/d', { parents: true }), 'PERMISSION_DENIED');
      await outsideUntouched();
    });

    it('refuses writing or creating through a dangling link', async () => {
      await fs.symlink(path.join(outside, 'planted.txt'), path.join(home, 'dangling'));
      await fs.symlink(path.join(outside, 'planted-dir'), path.join(home, 'dangling-dir'));
      await rejectsWith(store.write('dangling', 'x', { overwrite: true }), 'PERMISSION_DENIED');
      await rejectsWith(store.mkdir('dangling-dir/sub', { parents: true }), 'PERMISSION_DENIED');
      await rejectsWith(store.write('dangling-dir/f', 'x'), 'PERMISSION_DENIED');
      await outsideUntouched();
      await store.delete('dangling');
      await store.delete('dangling-dir');
    });

    it('a link that stays inside the home works like its target, and stays a link', async () => {
      await store.mkdir('real');
      await store.write('real/data.txt', 'v1');
      await fs.symlink('real/data.txt', path.join(home, 'alias.txt'));
      await fs.symlink('real', path.join(home, 'shortcut'));

      assert.equal(await store.readText('alias.txt'), 'v1');
      assert.deepEqual(
        (await store.list('')).map((e) => [e.name, e.type]),
        [
          ['alias.txt', 'file'],
          ['real', 'directory'],
          ['shortcut', 'directory'],
        ],
      );
      assert.deepEqual((await store.list('shortcut')).map((e) => e.path), ['shortcut/data.txt']);

      await store.write('alias.txt', 'v2', { overwrite: true });
      assert.equal(await store.readText('real/data.txt'), 'v2');
      assert.ok((await fs.lstat(path.join(home, 'alias.txt'))).isSymbolicLink());
    });

    it('recursive delete does not follow links out of the home', async () => {
      await store.mkdir('d');
      await fs.symlink(outside, path.join(home, 'd', 'ext'));
      await fs.symlink(path.join(outside, 'secret.txt'), path.join(home, 'd', 'f'));
      await store.delete('d', { recursive: true });
      await rejectsWith(store.stat('d'), 'NOT_FOUND');
      await outsideUntouched();
    });
  });

  describe('files on disk', () => {
    it('hides temp files from list and removes its own after a failed write', async () => {
      await fs.writeFile(path.join(home, `${TEMP_PREFIX}left-by-a-crash`), 'partial');
      await store.write('doc.txt', 'kept');
      assert.deepEqual((await store.list('')).map((e) => e.name), ['doc.txt']);

      const failing = new Readable({
        read() {
          this.destroy(new Error('client went away'));
        },
      });
      failing.push(Buffer.alloc(32 * 1024));
      await assert.rejects(store.write('doc.txt', failing, { overwrite: true }), /client went away/);
      await rejectsWith(store.write('doc.txt', 'again'), 'ALREADY_EXISTS');
      assert.deepEqual((await fs.readdir(home)).sort(), [`${TEMP_PREFIX}left-by-a-crash`, 'doc.txt']);
      assert.equal(await store.readText('doc.txt'), 'kept');
    });

    // Regression (downloads): the size a download declares is the open handle's; a file written in place
    // afterwards neither adds bytes nor leaves the reader waiting for missing ones.
    it('open streams the size it opened with: appended bytes are left out, a cut file fails', async () => {
      const original = Buffer.alloc(256 * 1024, 'a');
      await store.write('grows.log', original);
      const growing = await store.open('grows.log');
      await fs.appendFile(path.join(home, 'grows.log'), 'appended after opening\n');
      assert.equal(growing.entry.size, original.length);
      assert.deepEqual(await streamToBuffer(growing.body), original);

      await store.write('shrinks.log', original);
      const shrinking = await store.open('shrinks.log');
      await fs.truncate(path.join(home, 'shrinks.log'), 1000);
      const error = await rejectsWith(streamToBuffer(shrinking.body), 'CONFLICT');
      assert.match(error.message, /"shrinks\.log" got shorter while it was being read \(1000 of 262144 bytes\)/);
    });

    it('closes the file of an opened body destroyed before it was read (a HEAD request)', { skip: !existsSync('/proc/self/fd') && 'no /proc' }, async () => {
      await store.write('head.txt', 'x');
      const openFds = async () => (await fs.readdir('/proc/self/fd')).length;
      const before = await openFds();
      for (let i = 0; i < 20; i++) (await store.open('head.txt')).body.destroy();
      // Closing is asynchronous: wait for it, with a deadline.
      const deadline = Date.now() + 2000;
      while ((await openFds()) - before >= 5 && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 20));
      assert.ok((await openFds()) - before < 5, 'file handles left open');
    });

    it('keeps the permission bits of a file it replaces, but never setuid or setgid', async () => {
      await store.write('run.sh', '#!/bin/sh\n');
      await fs.chmod(path.join(home, 'run.sh'), 0o6750);
      const entry = await store.write('run.sh', '#!/bin/sh\necho hi\n', { overwrite: true });
      assert.equal(entry.mode, 0o750);
      assert.equal((await fs.stat(path.join(home, 'run.sh'))).mode & 0o7777, 0o750);
    });

    it('leaves named pipes out of list and refuses to read them without blocking', async (t) => {
      try {
        execFileSync('mkfifo', [path.join(home, 'pipe')]);
      } catch {
        t.skip('mkfifo is not available');
        return;
      }
      assert.deepEqual(await store.list(''), []);
      await rejectsWith(store.read('pipe'), 'INVALID_PATH');
      await rejectsWith(store.stat('pipe'), 'INVALID_PATH');
      await store.delete('pipe');
    });

    it('maps a permission error from the filesystem', { skip: runningAsRoot && 'root bypasses file permissions' }, async () => {
      await store.mkdir('locked');
      await fs.chmod(path.join(home, 'locked'), 0o000);
      await rejectsWith(store.list('locked'), 'PERMISSION_DENIED');
      await rejectsWith(store.write('locked/x', 'y'), 'PERMISSION_DENIED');
    });

    it('error messages never show host paths', async () => {
      await fs.symlink(outside, path.join(home, 'ext'));
      await store.write('f', 'x');
      const attempts: Array<() => Promise<unknown>> = [
        () => store.stat('nope'),
        () => store.list('f'),
        () => store.read('ext/secret.txt'),
        () => store.write('f', 'y'),
        () => store.write('missing/f', 'y'),
        () => store.mkdir('f'),
        () => store.delete('nope'),
        () => store.rename('f', 'missing/g'),
        () => store.readText('f', { maxBytes: 0 }),
      ];
      for (const attempt of attempts) {
        const error = await attempt().then(
          () => assert.fail('expected a failure'),
          (e: unknown) => e,
        );
        assert.ok(error instanceof StorageError);
        assert.ok(!error.message.includes(base), error.message);
        assert.ok(!error.message.includes(os.tmpdir()), error.message);
      }
    });
  });
});

describe('fromFsError', () => {
  const table: Array<[errno: string, code: StorageErrorCode]> = [
    ['ENOENT', 'NOT_FOUND'],
    ['EEXIST', 'ALREADY_EXISTS'],
    ['ENOTDIR', 'NOT_A_DIRECTORY'],
    ['EISDIR', 'IS_A_DIRECTORY'],
    ['EACCES', 'PERMISSION_DENIED'],
    ['EPERM', 'PERMISSION_DENIED'],
    ['EROFS', 'PERMISSION_DENIED'],
    ['ENOSPC', 'QUOTA_EXCEEDED'],
    ['EDQUOT', 'QUOTA_EXCEEDED'],
    ['ENOTEMPTY', 'CONFLICT'],
    ['ENAMETOOLONG', 'INVALID_PATH'],
    ['ELOOP', 'INVALID_PATH'],
    ['EIO', 'UNAVAILABLE'],
    ['EMFILE', 'UNAVAILABLE'],
  ];
  for (const [errno, code] of table) {
    it(`${errno} -> ${code}`, () => {
      const cause = Object.assign(new Error(`${errno}: /srv/atrium/homes/alice/x`), { code: errno });
      const mapped = fromFsError(cause, 'notes/x.txt');
      assert.ok(mapped instanceof StorageError);
      assert.equal(mapped.code, code);
      assert.equal(mapped.path, 'notes/x.txt');
      assert.equal(mapped.cause, cause);
      assert.match(mapped.message, /"notes\/x\.txt"/);
      assert.ok(!mapped.message.includes('/srv/atrium'));
    });
  }

  it('leaves errors that are not from the filesystem alone', () => {
    const bug = new TypeError('undefined is not a function');
    assert.equal(fromFsError(bug, 'x'), bug);
  });
});
