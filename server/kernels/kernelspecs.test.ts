import assert from 'node:assert/strict';
import { mkdtemp, mkdir, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { test } from 'node:test';
import { BUNDLED_KERNELSPECS_DIR, KernelspecError, launcherName, loadKernelspecs } from './kernelspecs';

async function tempDir(t: { after: (fn: () => Promise<void>) => void }): Promise<string> {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'atrium-specs-'));
  t.after(() => rm(dir, { recursive: true, force: true }));
  return dir;
}

async function writeSpec(dir: string, name: string, body: unknown): Promise<void> {
  await mkdir(path.join(dir, name), { recursive: true });
  await writeFile(path.join(dir, name, 'kernel.json'), typeof body === 'string' ? body : JSON.stringify(body));
}

const valid = {
  argv: ['python', '-m', 'ipykernel_launcher', '-f', '{connection_file}'],
  display_name: 'Custom',
  language: 'python',
  metadata: { atrium: { launcher: 'local' } },
};

test('the bundled python3 kernelspec loads with the local launcher', async () => {
  const specs = await loadKernelspecs([BUNDLED_KERNELSPECS_DIR]);
  const python3 = specs.get('python3');
  assert.ok(python3);
  assert.equal(python3.spec.display_name, 'Python 3 (local)');
  assert.deepEqual(python3.spec.argv, ['python', '-m', 'ipykernel_launcher', '-f', '{connection_file}']);
  assert.equal(python3.spec.language, 'python');
  assert.equal(python3.spec.interrupt_mode, 'signal');
  assert.equal(launcherName(python3), 'local');
});

test('defaults are filled, unknown metadata is kept, a later dir overrides an earlier one', async (t) => {
  const first = await tempDir(t);
  const second = await tempDir(t);
  await writeSpec(first, 'custom', { ...valid, metadata: { ...valid.metadata, debugger: true } });
  await writeSpec(second, 'custom', { ...valid, display_name: 'Override' });
  await mkdir(path.join(first, 'not-a-spec')); // no kernel.json: skipped
  const specs = await loadKernelspecs([first, path.join(first, 'missing'), second]);
  assert.deepEqual([...specs.keys()], ['custom']);
  assert.equal(specs.get('custom')!.spec.display_name, 'Override');
  const onlyFirst = (await loadKernelspecs([first])).get('custom')!;
  assert.equal(onlyFirst.spec.interrupt_mode, 'signal');
  assert.deepEqual(onlyFirst.spec.env, {});
  assert.deepEqual(onlyFirst.spec.metadata.atrium.config, {});
  assert.equal(onlyFirst.spec.metadata.debugger, true);
});

test('bad JSON and invalid specs fail with an error naming the file', async (t) => {
  const cases: [string, unknown, RegExp][] = [
    ['broken', '{"argv": [', /cannot read as JSON/],
    ['noargv', { ...valid, argv: [] }, /argv/],
    ['nolauncher', { ...valid, metadata: {} }, /atrium/],
    ['badmode', { ...valid, interrupt_mode: 'telepathy' }, /interrupt_mode/],
  ];
  for (const [name, body, message] of cases) {
    const dir = await tempDir(t);
    await writeSpec(dir, name, body);
    await assert.rejects(loadKernelspecs([dir]), (error: unknown) => {
      assert.ok(error instanceof KernelspecError, name);
      assert.equal(error.file, path.join(dir, name, 'kernel.json'));
      assert.match(error.message, message);
      assert.ok(error.message.includes(path.join(dir, name, 'kernel.json')));
      return true;
    });
  }
});

test('a directory name that is not a valid kernel name is refused', async (t) => {
  const dir = await tempDir(t);
  await writeSpec(dir, 'bad name', valid);
  await assert.rejects(loadKernelspecs([dir]), /not a valid kernel name/);
});
