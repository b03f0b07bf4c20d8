// The executable definition of HomeStore (home-store.ts). Every backend runs this suite against a real
// instance of itself: local-store.int.test.ts now, the WebHDFS and PVC stores later. Each test gets a fresh,
// empty home from makeStore() and hands it back to cleanup(). When the contract changes, change it here
// first and make every backend pass.

import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { afterEach, beforeEach, describe, it } from 'node:test';
import { Readable } from 'node:stream';
import v8 from 'node:v8';
import vm from 'node:vm';

import { StorageError, type StorageErrorCode } from './errors';
import type { HomeStore } from './home-store';

export interface HomeStoreFixture {
  store: HomeStore;
  cleanup(): Promise<void>;
}

export interface ContractOptions {
  /** Size of the streamed-file test. Default 64 MiB; a slow remote backend may lower it, not skip it. */
  largeFileBytes?: number;
}

const KiB = 1024;
const MiB = 1024 * KiB;

async function rejectsWith(promise: Promise<unknown>, ...codes: StorageErrorCode[]): Promise<StorageError> {
  let caught: unknown;
  await assert.rejects(promise, (error: unknown) => {
    caught = error;
    return true;
  });
  assert.ok(caught instanceof StorageError, `expected a StorageError, got ${String(caught)}`);
  assert.ok(codes.includes(caught.code), `expected ${codes.join(' or ')}, got ${caught.code}: ${caught.message}`);
  assert.ok(caught.message.length > 20, 'the message should tell the user what happened and what to do');
  return caught;
}

async function streamToBuffer(stream: Readable): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const chunk of stream) chunks.push(Buffer.isBuffer(chunk) ? chunk : Buffer.from(chunk as string));
  return Buffer.concat(chunks);
}

/**
 * A stream that produces its chunks only when the consumer asks (each chunk is bigger than the default
 * high-water mark), so "the Nth chunk was requested" means the store has taken the ones before it.
 */
function onDemandStream(produce: (index: number) => Promise<Buffer | null> | Buffer | null): Readable {
  let index = 0;
  return new Readable({
    read() {
      Promise.resolve(produce(index++)).then(
        (chunk) => this.push(chunk),
        (error: unknown) => this.destroy(error as Error),
      );
    },
  });
}

function deferred(): { promise: Promise<void>; resolve(): void } {
  let resolve!: () => void;
  const promise = new Promise<void>((r) => (resolve = r));
  return { promise, resolve };
}

/**
 * The memory test needs collected garbage to measure what a store retains, not what V8 has not swept yet.
 * node --test does not pass --expose-gc, so it is switched on here, for this test process only.
 */
function collectGarbage(): void {
  const exposed = (globalThis as { gc?: () => void }).gc;
  if (exposed) return exposed();
  v8.setFlagsFromString('--expose-gc');
  (vm.runInNewContext('gc') as () => void)();
}

export function runHomeStoreContract(
  name: string,
  makeStore: () => Promise<HomeStoreFixture>,
  options: ContractOptions = {},
): void {
  const largeFileBytes = options.largeFileBytes ?? 64 * MiB;

  describe(`HomeStore contract: ${name}`, () => {
    let fixture: HomeStoreFixture | undefined;
    let store: HomeStore;

    beforeEach(async () => {
      fixture = await makeStore();
      store = fixture.store;
      await store.ensureHome();
    });

    afterEach(async () => {
      await fixture?.cleanup();
      fixture = undefined;
    });

    describe('home', () => {
      it('starts empty, and ensureHome is idempotent', async () => {
        await store.ensureHome();
        assert.deepEqual(await store.list(''), []);
      });

      it('stat of the root describes the home folder', async () => {
        const root = await store.stat('');
        assert.equal(root.type, 'directory');
        assert.equal(root.name, '');
        assert.equal(root.path, '');
        assert.ok(root.mtime instanceof Date);
        const slash = await store.stat('/');
        assert.equal(slash.path, '');
        assert.equal(slash.type, 'directory');
      });
    });

    describe('write and read', () => {
      it('round-trips text and returns the new entry', async () => {
        const entry = await store.write('hello.txt', 'héllo wörld\n');
        assert.equal(entry.name, 'hello.txt');
        assert.equal(entry.path, 'hello.txt');
        assert.equal(entry.type, 'file');
        assert.equal(entry.size, Buffer.byteLength('héllo wörld\n'));
        assert.ok(entry.mtime instanceof Date && !Number.isNaN(entry.mtime.getTime()));
        assert.equal(await store.readText('hello.txt'), 'héllo wörld\n');
        const stat = await store.stat('hello.txt');
        assert.equal(stat.size, entry.size);
        assert.equal(stat.mtime.getTime(), entry.mtime.getTime());
      });

      it('round-trips every byte value', async () => {
        const bytes = Buffer.from(Array.from({ length: 512 }, (_, i) => i % 256));
        await store.write('bytes.bin', bytes);
        assert.deepEqual(await store.readBytes('bytes.bin'), bytes);
        assert.deepEqual(await streamToBuffer(await store.read('bytes.bin')), bytes);
      });

      it('writes a stream of mixed buffer and text chunks', async () => {
        await store.write('s.txt', Readable.from([Buffer.from('ab'), 'cd', Buffer.from('é')]));
        assert.equal(await store.readText('s.txt'), 'abcdé');
      });

      it('writes an empty file', async () => {
        const entry = await store.write('empty', '');
        assert.equal(entry.size, 0);
        assert.equal((await store.readBytes('empty')).length, 0);
      });

      it('normalizes the path it is given', async () => {
        await store.mkdir('notes');
        const entry = await store.write('/notes//./todo.md', '- [ ] ship');
        assert.equal(entry.path, 'notes/todo.md');
        assert.equal(await store.readText('notes/todo.md/'), '- [ ] ship');
      });

      it('refuses to replace an existing file unless asked', async () => {
        await store.write('a.txt', 'one');
        await rejectsWith(store.write('a.txt', 'two'), 'ALREADY_EXISTS');
        await rejectsWith(store.write('a.txt', Readable.from(['two'])), 'ALREADY_EXISTS');
        assert.equal(await store.readText('a.txt'), 'one');
        const entry = await store.write('a.txt', 'three!', { overwrite: true });
        assert.equal(entry.size, 6);
        assert.equal(await store.readText('a.txt'), 'three!');
      });

      it('needs the parent folder to exist and be a folder', async () => {
        await rejectsWith(store.write('missing/a.txt', 'x'), 'NOT_FOUND');
        await store.write('file', 'x');
        await rejectsWith(store.write('file/a.txt', 'x'), 'NOT_A_DIRECTORY');
        assert.deepEqual((await store.list('')).map((e) => e.name), ['file']);
      });

      it('cannot write over a folder or the home root', async () => {
        await store.mkdir('dir');
        await rejectsWith(store.write('dir', 'x', { overwrite: true }), 'IS_A_DIRECTORY');
        await rejectsWith(store.write('', 'x', { overwrite: true }), 'IS_A_DIRECTORY');
      });

      it('read reports missing files, folders and files used as folders', async () => {
        await store.mkdir('dir');
        await store.write('file', 'x');
        await rejectsWith(store.read('nope.txt'), 'NOT_FOUND');
        await rejectsWith(store.read('dir'), 'IS_A_DIRECTORY');
        await rejectsWith(store.readText('dir'), 'IS_A_DIRECTORY');
        await rejectsWith(store.read('file/x'), 'NOT_A_DIRECTORY', 'NOT_FOUND');
        await rejectsWith(store.stat('file/x'), 'NOT_A_DIRECTORY', 'NOT_FOUND');
        await rejectsWith(store.stat('nope'), 'NOT_FOUND');
      });

      it('open describes the file as opened, and streams exactly that many bytes', async () => {
        const bytes = Buffer.from(Array.from({ length: 3000 }, (_, i) => i % 251));
        await store.mkdir('logs');
        const written = await store.write('logs/run.log', bytes);
        const opened = await store.open('/logs//run.log');
        assert.deepEqual(
          [opened.entry.name, opened.entry.path, opened.entry.type, opened.entry.size, opened.entry.mtime.getTime()],
          ['run.log', 'logs/run.log', 'file', bytes.length, written.mtime.getTime()],
        );
        assert.deepEqual(await streamToBuffer(opened.body), bytes);
        await store.write('empty', '');
        const empty = await store.open('empty');
        assert.equal(empty.entry.size, 0);
        assert.equal((await streamToBuffer(empty.body)).length, 0);
        await rejectsWith(store.open('logs'), 'IS_A_DIRECTORY');
        await rejectsWith(store.open('nope.txt'), 'NOT_FOUND');
      });

      it('a file replaced while it is read gives its old bytes whole, or fails: never a mix under the old size', async () => {
        const before = Buffer.from('the notebook as it was opened\n');
        await store.write('replaced.txt', before);
        const opened = await store.open('replaced.txt');
        await store.write('replaced.txt', Buffer.from('a longer notebook, saved again while the first was being read\n'), { overwrite: true });
        const got = await streamToBuffer(opened.body).catch((error: unknown) => error);
        if (got instanceof Buffer) assert.deepEqual(got, before);
        else assert.ok(got instanceof StorageError && got.code === 'CONFLICT', String(got));
      });

      it('readBytes and readText refuse files over the limit', async () => {
        await store.write('big.txt', 'x'.repeat(100));
        const error = await rejectsWith(store.readBytes('big.txt', { maxBytes: 99 }), 'QUOTA_EXCEEDED');
        assert.equal(error.path, 'big.txt');
        await rejectsWith(store.readText('big.txt', { maxBytes: 10 }), 'QUOTA_EXCEEDED');
        assert.equal((await store.readText('big.txt', { maxBytes: 100 })).length, 100);
      });

      it('readPrefix gives the first bytes of a file, its entry, and whether more follow', async () => {
        const bytes = Buffer.from(Array.from({ length: 3000 }, (_, i) => i % 251));
        await store.mkdir('data');
        const written = await store.write('data/table.bin', bytes);
        const head = await store.readPrefix('/data//table.bin', 1000);
        assert.deepEqual(head.bytes, bytes.subarray(0, 1000));
        assert.equal(head.truncated, true);
        assert.deepEqual(
          [head.entry.name, head.entry.path, head.entry.type, head.entry.size, head.entry.mtime.getTime()],
          ['table.bin', 'data/table.bin', 'file', bytes.length, written.mtime.getTime()],
        );
        for (const maxBytes of [bytes.length, bytes.length + 1, 10 * MiB]) {
          const whole = await store.readPrefix('data/table.bin', maxBytes);
          assert.deepEqual([whole.bytes, whole.truncated], [bytes, false], `maxBytes ${maxBytes}`);
        }
        const none = await store.readPrefix('data/table.bin', 0);
        assert.deepEqual([none.bytes.length, none.truncated], [0, true]);
        await store.write('empty', '');
        const empty = await store.readPrefix('empty', 10);
        assert.deepEqual([empty.bytes.length, empty.truncated, empty.entry.size], [0, false, 0]);
      });

      it('readPrefix does not refuse a file larger than the readBytes limit, and reports what readBytes does', async () => {
        await store.write('log.txt', 'line\n'.repeat(40));
        await rejectsWith(store.readBytes('log.txt', { maxBytes: 100 }), 'QUOTA_EXCEEDED');
        const head = await store.readPrefix('log.txt', 100);
        assert.equal(head.bytes.toString('utf8'), 'line\n'.repeat(20));
        assert.equal(head.truncated, true);
        await store.mkdir('dir');
        await rejectsWith(store.readPrefix('dir', 100), 'IS_A_DIRECTORY');
        await rejectsWith(store.readPrefix('nope.txt', 100), 'NOT_FOUND');
        await rejectsWith(store.readPrefix('log.txt/x', 100), 'NOT_A_DIRECTORY', 'NOT_FOUND');
      });
    });

    describe('list', () => {
      it('lists names, paths, types and sizes, sorted by name', async () => {
        await store.mkdir('proj');
        await store.mkdir('proj/data');
        await store.write('proj/b.csv', '1,2\n');
        await store.write('proj/a.ipynb', '{}');
        const entries = await store.list('proj');
        assert.deepEqual(
          entries.map((e) => [e.name, e.path, e.type]),
          [
            ['a.ipynb', 'proj/a.ipynb', 'file'],
            ['b.csv', 'proj/b.csv', 'file'],
            ['data', 'proj/data', 'directory'],
          ],
        );
        assert.equal(entries[0]?.size, 2);
        assert.ok(entries.every((e) => e.mtime instanceof Date));
        assert.deepEqual((await store.list('/')).map((e) => e.name), ['proj']);
      });

      it('reports a missing folder and a file', async () => {
        await store.write('file.txt', 'x');
        await rejectsWith(store.list('nope'), 'NOT_FOUND');
        await rejectsWith(store.list('file.txt'), 'NOT_A_DIRECTORY');
      });
    });

    describe('mkdir', () => {
      it('creates a folder and returns it', async () => {
        const entry = await store.mkdir('new');
        assert.equal(entry.type, 'directory');
        assert.equal(entry.path, 'new');
        assert.equal((await store.stat('new')).type, 'directory');
      });

      it('refuses an existing name and a missing parent', async () => {
        await store.mkdir('dir');
        await store.write('file', 'x');
        await rejectsWith(store.mkdir('dir'), 'ALREADY_EXISTS');
        await rejectsWith(store.mkdir('file'), 'ALREADY_EXISTS');
        await rejectsWith(store.mkdir('a/b'), 'NOT_FOUND');
        await rejectsWith(store.mkdir(''), 'ALREADY_EXISTS');
      });

      it('with parents, creates the chain and accepts existing folders', async () => {
        await store.mkdir('a/b/c', { parents: true });
        assert.equal((await store.stat('a/b/c')).type, 'directory');
        await store.mkdir('a/b/c', { parents: true });
        await store.mkdir('', { parents: true });
        await store.write('a/file', 'x');
        await rejectsWith(store.mkdir('a/file', { parents: true }), 'ALREADY_EXISTS', 'NOT_A_DIRECTORY');
        await rejectsWith(store.mkdir('a/file/sub', { parents: true }), 'NOT_A_DIRECTORY');
      });
    });

    describe('rename', () => {
      it('moves a file and keeps its content', async () => {
        await store.write('a.txt', 'content');
        await store.mkdir('sub');
        const entry = await store.rename('a.txt', 'sub/b.txt');
        assert.equal(entry.path, 'sub/b.txt');
        assert.equal(entry.type, 'file');
        assert.equal(await store.readText('sub/b.txt'), 'content');
        await rejectsWith(store.stat('a.txt'), 'NOT_FOUND');
      });

      it('moves a folder with its contents', async () => {
        await store.mkdir('src/inner', { parents: true });
        await store.write('src/inner/f', 'deep');
        const entry = await store.rename('src', 'dst');
        assert.equal(entry.type, 'directory');
        assert.equal(await store.readText('dst/inner/f'), 'deep');
        await rejectsWith(store.list('src'), 'NOT_FOUND');
      });

      it('does not replace an existing destination unless asked', async () => {
        await store.write('a', 'A');
        await store.write('b', 'B');
        await rejectsWith(store.rename('a', 'b'), 'ALREADY_EXISTS');
        assert.equal(await store.readText('a'), 'A');
        assert.equal(await store.readText('b'), 'B');
        await store.rename('a', 'b', { overwrite: true });
        assert.equal(await store.readText('b'), 'A');
        await rejectsWith(store.stat('a'), 'NOT_FOUND');
      });

      it('reports a missing source and a missing destination folder', async () => {
        await store.write('a', 'A');
        await rejectsWith(store.rename('nope', 'x'), 'NOT_FOUND');
        await rejectsWith(store.rename('a', 'missing/x'), 'NOT_FOUND');
        assert.equal(await store.readText('a'), 'A');
      });

      it('refuses moving a folder into itself and moving the home root', async () => {
        await store.mkdir('d/e', { parents: true });
        await rejectsWith(store.rename('d', 'd/e/d'), 'INVALID_PATH');
        await rejectsWith(store.rename('', 'x'), 'INVALID_PATH');
        await rejectsWith(store.rename('d', ''), 'INVALID_PATH');
        assert.equal((await store.stat('d/e')).type, 'directory');
      });

      it('renaming to the same path is a no-op', async () => {
        await store.write('same', 'x');
        assert.equal((await store.rename('same', '/same/')).path, 'same');
        assert.equal(await store.readText('same'), 'x');
      });
    });

    describe('delete', () => {
      it('deletes a file and an empty folder', async () => {
        await store.write('f', 'x');
        await store.mkdir('d');
        await store.delete('f');
        await store.delete('d');
        assert.deepEqual(await store.list(''), []);
      });

      it('needs recursive for a folder with contents', async () => {
        await store.mkdir('d/e', { parents: true });
        await store.write('d/e/f', 'x');
        await rejectsWith(store.delete('d'), 'CONFLICT');
        assert.equal(await store.readText('d/e/f'), 'x');
        await store.delete('d', { recursive: true });
        assert.deepEqual(await store.list(''), []);
      });

      it('reports a missing path and refuses the home root', async () => {
        await rejectsWith(store.delete('nope'), 'NOT_FOUND');
        await rejectsWith(store.delete(''), 'INVALID_PATH');
        await rejectsWith(store.delete('/', { recursive: true }), 'INVALID_PATH');
      });
    });

    describe('atomic writes', () => {
      it('a reader never sees a half-written file', async () => {
        const before = Buffer.alloc(256 * KiB, 'a');
        await store.write('doc.txt', before);
        const gate = deferred();
        const reachedGate = deferred();
        const chunk = Buffer.alloc(64 * KiB, 'b');
        const slow = onDemandStream(async (index) => {
          if (index === 4) {
            reachedGate.resolve(); // chunks 0-2 at least have been taken by the store
            await gate.promise;
          }
          return index < 8 ? chunk : null;
        });
        const writing = store.write('doc.txt', slow, { overwrite: true });
        await reachedGate.promise;

        assert.deepEqual(await store.readBytes('doc.txt'), before);
        assert.equal((await store.stat('doc.txt')).size, before.length);
        assert.deepEqual((await store.list('')).map((e) => e.name), ['doc.txt'], 'temp files stay hidden');

        gate.resolve();
        const entry = await writing;
        assert.equal(entry.size, 8 * chunk.length);
        assert.deepEqual(await store.readBytes('doc.txt'), Buffer.concat(Array.from({ length: 8 }, () => chunk)));
      });

      it('a streamed write that fails midway leaves the old content and no leftovers', async () => {
        await store.write('doc.txt', 'precious');
        const failing = onDemandStream((index) => {
          if (index < 3) return Buffer.alloc(64 * KiB, 'x');
          throw new Error('upload aborted by client');
        });
        await assert.rejects(store.write('doc.txt', failing, { overwrite: true }), /upload aborted by client/);
        assert.equal(await store.readText('doc.txt'), 'precious');
        assert.deepEqual((await store.list('')).map((e) => e.name), ['doc.txt']);
      });

      it('a streamed create that fails leaves nothing behind', async () => {
        const failing = onDemandStream((index) => {
          if (index < 2) return Buffer.alloc(64 * KiB, 'x');
          throw new Error('connection reset');
        });
        await assert.rejects(store.write('new.bin', failing), /connection reset/);
        await rejectsWith(store.stat('new.bin'), 'NOT_FOUND');
        assert.deepEqual(await store.list(''), []);
      });

      it('concurrent overwrites leave exactly one complete version', async () => {
        const versions = Array.from({ length: 8 }, (_, i) => Buffer.alloc(128 * KiB, 65 + i));
        await store.write('race.bin', 'start');
        await Promise.all(versions.map((v) => store.write('race.bin', Readable.from([v.subarray(0, 64 * KiB), v.subarray(64 * KiB)]), { overwrite: true })));
        const final = await store.readBytes('race.bin');
        assert.ok(versions.some((v) => v.equals(final)), 'the final content is one whole version');
        assert.deepEqual((await store.list('')).map((e) => e.name), ['race.bin']);
      });

      it('concurrent creates without overwrite: one wins, the others get ALREADY_EXISTS', async () => {
        const results = await Promise.allSettled(
          Array.from({ length: 6 }, (_, i) => store.write('once.txt', `writer ${i}`)),
        );
        const won = results.filter((r) => r.status === 'fulfilled');
        assert.equal(won.length, 1);
        for (const r of results) {
          if (r.status === 'rejected') {
            assert.ok(r.reason instanceof StorageError && r.reason.code === 'ALREADY_EXISTS', String(r.reason));
          }
        }
        assert.match(await store.readText('once.txt'), /^writer \d$/);
      });
    });

    describe('expectedMtime', () => {
      it('saves when the file is unchanged since it was read', async () => {
        const first = await store.write('nb.ipynb', '{"v":1}');
        const second = await store.write('nb.ipynb', '{"v":2}', { expectedMtime: first.mtime });
        assert.equal(await store.readText('nb.ipynb'), '{"v":2}');
        assert.equal(second.mtime.getTime(), (await store.stat('nb.ipynb')).mtime.getTime());
      });

      it('fails with CONFLICT when the file changed since, and keeps it', async () => {
        const current = await store.write('nb.ipynb', '{"v":1}');
        const stale = new Date(current.mtime.getTime() - 60_000);
        const error = await rejectsWith(store.write('nb.ipynb', '{"v":"mine"}', { expectedMtime: stale }), 'CONFLICT');
        assert.equal(error.path, 'nb.ipynb');
        await rejectsWith(store.write('nb.ipynb', Readable.from(['{"v":"mine"}']), { expectedMtime: stale }), 'CONFLICT');
        assert.equal(await store.readText('nb.ipynb'), '{"v":1}');
      });

      it('fails with CONFLICT when the file was deleted since', async () => {
        const current = await store.write('nb.ipynb', 'x');
        await store.delete('nb.ipynb');
        await rejectsWith(store.write('nb.ipynb', 'y', { expectedMtime: current.mtime }), 'CONFLICT');
        await rejectsWith(store.stat('nb.ipynb'), 'NOT_FOUND');
      });
    });

    describe('unicode names', () => {
      const folder = 'données';
      const file = 'été 2024 — résumé 📊.ipynb';

      it('stores, lists and reads non-ASCII names exactly', async () => {
        await store.mkdir(folder);
        await store.write(`${folder}/${file}`, 'ü');
        assert.deepEqual((await store.list('')).map((e) => e.name), [folder]);
        const [entry] = await store.list(folder);
        assert.equal(entry?.name, file);
        assert.equal(entry?.path, `${folder}/${file}`);
        assert.equal(await store.readText(`${folder}/${file}`), 'ü');
      });

      it('decomposed (NFD) input reaches the same file as composed (NFC)', async () => {
        await store.write('cafe\u0301.txt', 'nfd');
        assert.equal(await store.readText('caf\u00e9.txt'), 'nfd');
        assert.deepEqual((await store.list('')).map((e) => e.name), ['caf\u00e9.txt']);
        await rejectsWith(store.write('caf\u00e9.txt', 'nfc'), 'ALREADY_EXISTS');
      });

      it('renames to and from emoji and CJK names', async () => {
        await store.write('plain.txt', 'x');
        await store.rename('plain.txt', '数据 🚀.txt');
        await store.rename('数据 🚀.txt', 'ok.txt');
        assert.equal(await store.readText('ok.txt'), 'x');
      });
    });

    describe('large files', () => {
      it(`streams a ${largeFileBytes / MiB} MiB file in and out with bounded memory`, { timeout: 300_000 }, async () => {
        const chunkSize = MiB;
        const chunkCount = Math.ceil(largeFileBytes / chunkSize);
        const written = createHash('sha256');
        collectGarbage();
        const baseline = process.memoryUsage().arrayBuffers;
        let peak = 0;
        const sample = (index: number): void => {
          if (index % 4 === 0) collectGarbage();
          peak = Math.max(peak, process.memoryUsage().arrayBuffers - baseline);
        };

        const source = onDemandStream((index) => {
          if (index >= chunkCount) return null;
          sample(index);
          const size = Math.min(chunkSize, largeFileBytes - index * chunkSize);
          const chunk = Buffer.allocUnsafe(size);
          for (let offset = 0; offset < size; offset += 4) chunk.writeUInt32LE((index * chunkSize + offset) >>> 0, offset);
          written.update(chunk);
          return chunk;
        });
        const entry = await store.write('big.bin', source);
        assert.equal(entry.size, largeFileBytes);
        const writePeak = peak;

        peak = 0;
        const read = createHash('sha256');
        let readBytes = 0;
        let index = 0;
        for await (const chunk of await store.read('big.bin')) {
          read.update(chunk as Buffer);
          readBytes += (chunk as Buffer).length;
          sample(index++);
        }
        assert.equal(readBytes, largeFileBytes);
        assert.equal(read.digest('hex'), written.digest('hex'), 'read back byte for byte');

        // A store that buffers the whole file would hold all of it at once; allow well under half of it.
        const limit = Math.max(32 * MiB, largeFileBytes / 2);
        assert.ok(writePeak < limit, `write held ${(writePeak / MiB).toFixed(1)} MiB at once`);
        assert.ok(peak < limit, `read held ${(peak / MiB).toFixed(1)} MiB at once`);

        // A preview of the same file: only its first MiB, byte for byte, and not the whole file held meanwhile.
        collectGarbage();
        const beforePrefix = process.memoryUsage().arrayBuffers;
        const head = await store.readPrefix('big.bin', MiB);
        assert.equal(head.bytes.length, MiB);
        assert.equal(head.truncated, largeFileBytes > MiB);
        for (let offset = 0; offset < MiB; offset += 64 * KiB) assert.equal(head.bytes.readUInt32LE(offset), offset, `prefix byte ${offset}`);
        const prefixHeld = process.memoryUsage().arrayBuffers - beforePrefix;
        assert.ok(prefixHeld < limit, `readPrefix held ${(prefixHeld / MiB).toFixed(1)} MiB`);
      });
    });

    describe('path safety', () => {
      const hostile = [
        '..',
        '../outside.txt',
        'a/../../outside.txt',
        '..\\..\\outside.txt',
        'a\u0000b',
        'line\nbreak',
        '~/x',
        'C:\\x',
        '//server/share/x',
        '.atrium-tmp-mine',
        'x'.repeat(256),
      ];

      it('every operation refuses hostile paths with INVALID_PATH', async () => {
        await store.write('ok.txt', 'x');
        for (const bad of hostile) {
          await rejectsWith(store.list(bad), 'INVALID_PATH');
          await rejectsWith(store.stat(bad), 'INVALID_PATH');
          await rejectsWith(store.read(bad), 'INVALID_PATH');
          await rejectsWith(store.readText(bad), 'INVALID_PATH');
          await rejectsWith(store.write(bad, 'x', { overwrite: true }), 'INVALID_PATH');
          await rejectsWith(store.mkdir(bad, { parents: true }), 'INVALID_PATH');
          await rejectsWith(store.rename('ok.txt', bad, { overwrite: true }), 'INVALID_PATH');
          await rejectsWith(store.rename(bad, 'moved.txt'), 'INVALID_PATH');
          await rejectsWith(store.delete(bad, { recursive: true }), 'INVALID_PATH');
        }
        assert.deepEqual((await store.list('')).map((e) => e.name), ['ok.txt']);
      });

      it('a refused write still takes ownership of its stream and destroys it', async () => {
        // An HTTP upload left unread would hang its request; the store owns the stream once given it.
        const refused = Readable.from(['never written']);
        await rejectsWith(store.write('../x', refused), 'INVALID_PATH');
        assert.ok(refused.destroyed);
        const orphan = Readable.from(['y']);
        await rejectsWith(store.write('missing/x', orphan), 'NOT_FOUND');
        assert.ok(orphan.destroyed);
      });
    });
  });
}
