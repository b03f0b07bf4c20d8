// Pure: which kernelspec argv is ipykernel (it binds ports given as 0 itself and writes them back), and which kernels
// may be forked from the warm interpreter (kernel-forker.ts) rather than spawned.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { forkableArgs, isIpykernel } from './local';

test('isIpykernel knows ipykernel argv forms and nothing else', () => {
  const yes = [
    ['python', '-m', 'ipykernel_launcher', '-f', '{connection_file}'],
    ['/venv/bin/python3', '-m', 'ipykernel', '-f', 'x.json'],
    ['python', '/venv/lib/python3.11/site-packages/ipykernel_launcher.py', '-f', 'x.json'],
  ];
  const no = [
    ['R', '--slave', '-e', 'IRkernel::main()', '--args', '{connection_file}'],
    ['python', '-m', 'my_ipykernel_fork', '-f', 'x.json'],
    ['python', '-c', 'import time; time.sleep(60)', 'ipykernel'],
    ['python', '-m'],
  ];
  for (const argv of yes) assert.equal(isIpykernel(argv), true, argv.join(' '));
  for (const argv of no) assert.equal(isIpykernel(argv), false, argv.join(' '));
});

test('forkableArgs: plain ipykernel_launcher kernels whose env leaves Python\'s startup alone', () => {
  const forker = { PATH: '/usr/bin', HOME: '/home/portal', LANG: 'C.UTF-8' };
  const argv = ['/venv/bin/python', '-m', 'ipykernel_launcher', '-f', '/run/kernel-1.json', '--matplotlib=inline'];
  assert.deepEqual(forkableArgs(argv, { ...forker, KERNEL_USERNAME: 'ana', MPLBACKEND: 'agg' }, forker), ['-f', '/run/kernel-1.json', '--matplotlib=inline']);
  // Another module, or a script: spawned.
  assert.equal(forkableArgs(['/venv/bin/python', '-m', 'ipykernel', '-f', 'x.json'], forker, forker), undefined);
  assert.equal(forkableArgs(['/venv/bin/python', '/venv/lib/ipykernel_launcher.py', '-f', 'x.json'], forker, forker), undefined);
  assert.equal(forkableArgs(['R', '--slave'], forker, forker), undefined);
  // What the interpreter reads as it starts must be what the forker started with.
  const startupVariables: Record<string, string>[] = [{ PYTHONPATH: '/extra' }, { PYTHONHASHSEED: '0' }, { LD_PRELOAD: '/lib/x.so' }, { HOME: '/home/other' }, { LANG: 'de_DE.UTF-8' }, { LC_ALL: 'C' }, { TZ: 'Asia/Tokyo' }, { PYDEVD_DISABLE_FILE_VALIDATION: '1' }];
  for (const env of startupVariables) {
    assert.equal(forkableArgs(argv, { ...forker, ...env }, forker), undefined, JSON.stringify(env));
  }
  assert.equal(forkableArgs(argv, { PATH: '/usr/bin', LANG: 'C.UTF-8' }, forker), undefined, 'HOME unset for the kernel');
});
