import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { Kernelspec } from '../kernelspecs';
import {
  LaunchError,
  LauncherRegistry,
  assertValidKernelId,
  kernelEnv,
  type KernelProcess,
  type LaunchRequest,
  type Launcher,
  type SerializedKernel,
} from './base';

const spec = (launcher: string): Kernelspec => ({
  name: 'k',
  resourceDir: '/nowhere',
  spec: {
    argv: ['x'],
    display_name: 'K',
    language: 'python',
    interrupt_mode: 'signal',
    env: {},
    metadata: { atrium: { launcher, config: {} } },
  },
});

const request = (env: Record<string, string> = {}): LaunchRequest => ({
  kernelId: 'k1',
  kernelspec: spec('local'),
  username: 'ana',
  env,
});

test('kernelEnv keeps only KERNEL_* names and sets the trusted id and user', () => {
  const env = kernelEnv(
    request({
      KERNEL_WORKING_DIR: '/home/ana',
      KERNEL_USERNAME: 'mallory', // identity comes from the session, never the client
      KERNEL_ID: 'spoofed',
      PATH: '/evil',
      LD_PRELOAD: '/evil.so',
      kernel_lower: 'x',
    }),
  );
  assert.deepEqual(env, { KERNEL_WORKING_DIR: '/home/ana', KERNEL_ID: 'k1', KERNEL_USERNAME: 'ana' });
});

test('kernelEnv refuses values that could break out of a command line or template', () => {
  for (const value of ['a\nb', 'a\0b', 'x'.repeat(5000)]) {
    assert.throws(() => kernelEnv(request({ KERNEL_X: value })), (e: unknown) => e instanceof LaunchError && e.code === 'INVALID_REQUEST');
  }
});

test('kernel ids are restricted to a safe alphabet', () => {
  assertValidKernelId('3f1c2a9e-5b7d-4c1e-9a0b-123456789abc');
  for (const bad of ['', '../etc', 'a b', 'x'.repeat(65), '-lead']) {
    assert.throws(() => assertValidKernelId(bad), (e: unknown) => e instanceof LaunchError && e.code === 'INVALID_REQUEST');
  }
});

test('the registry picks launchers by kernelspec metadata and says which exist', async () => {
  const launched: string[] = [];
  const fake = (name: string): Launcher => ({
    name,
    launch: async (r) => {
      launched.push(`${name}:${r.kernelId}`);
      return {} as KernelProcess;
    },
    restore: async (s) => {
      launched.push(`restore ${name}:${s.kernelId}`);
      return {} as KernelProcess;
    },
  });
  const registry = new LauncherRegistry().register(fake('local')).register(fake('yarn'));
  await registry.launch({ ...request(), kernelspec: spec('yarn') });
  assert.deepEqual(launched, ['yarn:k1']);
  assert.throws(() => registry.register(fake('local')), /already registered/);
  assert.throws(
    () => registry.forKernelspec(spec('kubernetes'), 'k9'),
    (e: unknown) => e instanceof LaunchError && e.code === 'UNKNOWN_LAUNCHER' && e.kernelId === 'k9' && /local, yarn/.test(e.message),
  );

  const saved: SerializedKernel = {
    launcher: 'local',
    kernelId: 'k2',
    engineId: 'pid 1',
    kernelspecName: 'k',
    interruptMode: 'signal',
    connectionInfo: { ip: '127.0.0.1', transport: 'tcp', shell_port: 1, iopub_port: 2, stdin_port: 3, control_port: 4, hb_port: 5, key: 'k', signature_scheme: 'hmac-sha256' },
    state: { pid: 1 },
  };
  await registry.restore(JSON.parse(JSON.stringify(saved)));
  assert.deepEqual(launched.at(-1), 'restore local:k2');
  await assert.rejects(registry.restore({ ...saved, connectionInfo: { ip: '' } }), (e: unknown) => e instanceof LaunchError && e.code === 'RESTORE_FAILED');
});

test('the registry passes a cancel to the launchers that can abandon a launch', () => {
  const cancelled: string[] = [];
  const launcher = (name: string, cancellable: boolean): Launcher => ({
    name,
    launch: async () => ({}) as KernelProcess,
    restore: async () => ({}) as KernelProcess,
    ...(cancellable && { cancel: (kernelId: string, reason: string) => void cancelled.push(`${name}:${kernelId}:${reason}`) }),
  });
  const registry = new LauncherRegistry().register(launcher('local', false)).register(launcher('yarn', true));
  registry.cancel('k7', 'stopped by ana');
  assert.deepEqual(cancelled, ['yarn:k7:stopped by ana']);
});

test('a registry told to refuse cluster launches refuses them, saying why, and still launches local kernels', async () => {
  const launched: string[] = [];
  const launcher = (name: string, onCluster: boolean): Launcher => ({
    name,
    launch: async (r) => {
      launched.push(`${name}:${r.kernelId}`);
      return {} as KernelProcess;
    },
    restore: async () => ({}) as KernelProcess,
    ...(onCluster && { listOwnEngines: async () => [], killOrphan: async () => {} }),
  });
  const registry = new LauncherRegistry().register(launcher('local', false)).register(launcher('yarn', true));
  registry.refuseClusterLaunches('this database looks like a copy: run npx atrium installation new-id or keep-id');
  await assert.rejects(
    registry.launch({ ...request(), kernelspec: spec('yarn') }),
    (e: unknown) => e instanceof LaunchError && e.code === 'LAUNCH_FAILED' && e.kernelId === 'k1' && /looks like a copy/.test(e.message),
  );
  await registry.launch({ ...request(), kernelspec: spec('local') });
  assert.deepEqual(launched, ['local:k1']);
  // Nor is a cluster kernel's saved state turned back into a handle (to reattach or kill it): it may be the original's.
  const saved = (launcher: string) => ({ launcher, kernelId: 'k2', engineId: 'e', kernelspecName: launcher, interruptMode: 'signal', connectionInfo: { ip: '127.0.0.1', shell_port: 1, iopub_port: 2, stdin_port: 3, control_port: 4, hb_port: 5, key: '' }, state: {} });
  await assert.rejects(registry.restore(saved('yarn')), (e: unknown) => e instanceof LaunchError && e.code === 'PAUSED' && e.kernelId === 'k2' && /looks like a copy/.test(e.message));
  await registry.restore(saved('local'));
  assert.equal(registry.pausedLauncher('local'), undefined);
  assert.match(registry.pausedLauncher('yarn') ?? '', /looks like a copy/);
});
