// Pure: which kernelspec argv is ipykernel (it binds ports given as 0 itself and writes them back).
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { isIpykernel } from './local';

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
