// Pure parts of the YARN launcher: the spark-submit command line (built as an array, every value validated),
// driver sizing, RM replies checked with zod, launch phases from RM reports, the poller's one-query-per-interval
// rule (against a fake RM client), and the launcher zip (importable by Python).
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { test } from 'node:test';
import { LaunchError } from './base';
import { BUNDLED_LAUNCHER_PYTHONPATH } from './remote-local';
import {
  ATRIUM_APP_TAG,
  buildSparkSubmitArgs,
  diagnosticsLine,
  driverResources,
  kernelspecSparkConf,
  kernelTag,
  launcherZip,
  phaseOf,
  splitLauncherArgv,
  submitFailure,
  type SubmitPlan,
} from './yarn';
import { ResourceManagerClient, YarnAppPoller, endReason, parseAppReply, parseAppsReply, type YarnApp } from './yarn-rm';

const plan = (over: Partial<SubmitPlan> = {}): SubmitPlan => ({
  kernelId: 'k-1',
  kernelspecName: 'spark_python_yarn_cluster',
  username: 'ana',
  impersonate: true,
  queue: 'risk',
  size: { name: 'small', vcores: 1, memoryMb: 2048, gpus: 0 },
  script: '/opt/atrium/launch_kernel.py',
  scriptArgs: ['--kernel-id', 'k-1', '--public-key', 'MCowBQYDK2VuAyEA+/='],
  pyFiles: '/var/atrium/atrium_launcher-abc.zip',
  containerEnv: { KERNEL_ID: 'k-1', KERNEL_USERNAME: 'ana' },
  kernelPython: '/opt/venv/bin/python',
  sparkConf: { 'spark.executor.instances': '1' },
  ...over,
});

const confOf = (args: string[]) => {
  const conf: Record<string, string> = {};
  args.forEach((a, i) => {
    if (a === '--conf') {
      const [k, ...v] = args[i + 1]!.split('=');
      conf[k!] = v.join('=');
    }
  });
  return conf;
};
const flag = (args: string[], name: string) => (args.includes(name) ? args[args.indexOf(name) + 1] : undefined);

test('spark-submit args: cluster mode, proxy user, queue, driver sized from the profile, tags, no waiting, script last', () => {
  const args = buildSparkSubmitArgs(plan());
  assert.deepEqual(args.slice(0, 4), ['--master', 'yarn', '--deploy-mode', 'cluster']);
  assert.equal(flag(args, '--proxy-user'), 'ana');
  assert.equal(flag(args, '--queue'), 'risk');
  assert.equal(flag(args, '--driver-memory'), '1664m');
  assert.equal(flag(args, '--driver-cores'), '1');
  assert.equal(flag(args, '--files'), '/var/atrium/atrium_launcher-abc.zip');
  const conf = confOf(args);
  assert.equal(conf['spark.yarn.tags'], `${ATRIUM_APP_TAG},atrium-kernel-k-1`);
  assert.equal(conf['spark.yarn.submit.waitAppCompletion'], 'false');
  assert.equal(conf['spark.yarn.maxAppAttempts'], '1');
  assert.equal(conf['spark.driver.memoryOverhead'], '384m');
  assert.equal(conf['spark.yarn.appMasterEnv.PYSPARK_PYTHON'], '/opt/venv/bin/python');
  assert.equal(conf['spark.yarn.appMasterEnv.KERNEL_USERNAME'], 'ana');
  assert.equal(conf['spark.yarn.appMasterEnv.PYTHONPATH'], 'atrium_launcher-abc.zip', 'the localized zip, relative to the container');
  assert.equal(conf['spark.executor.instances'], '1');
  // the launcher script and its arguments close the command line, untouched (no shell ever sees them)
  assert.deepEqual(args.slice(args.indexOf('/opt/atrium/launch_kernel.py')), ['/opt/atrium/launch_kernel.py', ...plan().scriptArgs]);
});

test('without impersonation there is no --proxy-user; configuration cannot override Atrium\'s own settings', () => {
  const args = buildSparkSubmitArgs(plan({ impersonate: false, sparkConf: { 'spark.yarn.tags': 'evil', 'spark.yarn.submit.waitAppCompletion': 'true' } }));
  assert.equal(args.includes('--proxy-user'), false);
  const conf = confOf(args);
  assert.equal(conf['spark.yarn.tags'], `${ATRIUM_APP_TAG},atrium-kernel-k-1`);
  assert.equal(conf['spark.yarn.submit.waitAppCompletion'], 'false');
  assert.equal(args.filter((a) => a.startsWith('spark.yarn.tags=')).length, 1, 'each key once');
});

test('driver resources: the AM container (memory + overhead) matches the size profile', () => {
  for (const [memoryMb, vcores, expected] of [
    [2048, 1, { memoryMb: 1664, overheadMb: 384, cores: 1 }],
    [8192, 2, { memoryMb: 7372, overheadMb: 820, cores: 2 }],
    [16384, 4, { memoryMb: 14745, overheadMb: 1639, cores: 4 }],
    [512, 0.5, { memoryMb: 256, overheadMb: 384, cores: 1 }],
  ] as const) {
    assert.deepEqual(driverResources({ name: 'x', memoryMb, vcores, gpus: 0 }), expected);
  }
});

test('values that could escape into YARN\'s launch script or a command line are refused, naming the problem', () => {
  const refused: [string, Partial<SubmitPlan>, RegExp][] = [
    ['proxy user', { username: 'root;id' }, /cannot be a YARN proxy user/],
    ['queue', { queue: 'risk default' }, /not a YARN queue name/],
    ['env quote', { containerEnv: { KERNEL_X: 'a"; rm -rf ~; "' } }, /KERNEL_X may not hold quotes/],
    ['env dollar', { containerEnv: { KERNEL_X: '$(id)' } }, /KERNEL_X may not hold/],
    ['env backquote', { containerEnv: { KERNEL_X: '`id`' } }, /KERNEL_X may not hold/],
    ['env newline', { containerEnv: { KERNEL_X: 'a\nb' } }, /KERNEL_X may not hold/],
    ['env name', { containerEnv: { 'BAD-NAME': 'x' } }, /not an environment variable name/],
    ['conf key', { sparkConf: { 'hadoop.evil': 'x' } }, /not a Spark setting name/],
    ['conf value', { sparkConf: { 'spark.x': 'a\nb' } }, /control characters/],
    ['arg', { scriptArgs: ['--x', 'a\0b'] }, /control characters/],
  ];
  for (const [what, over, message] of refused) {
    assert.throws(
      () => buildSparkSubmitArgs(plan(over)),
      (e: unknown) => e instanceof LaunchError && e.code === 'INVALID_REQUEST' && message.test(e.message),
      what,
    );
  }
  // ordinary values pass, spaces included (argv, not a shell)
  assert.doesNotThrow(() => buildSparkSubmitArgs(plan({ containerEnv: { KERNEL_NOTE: 'a b, c=d (e)' } })));
});

test('a failed spark-submit is told by its exception lines, not its stack frames', () => {
  const output = [
    'Exception in thread "main" org.apache.hadoop.security.AccessControlException: Permission denied: user=ana, access=WRITE, inode="/user":root:supergroup:drwxr-xr-x',
    '\tat org.apache.hadoop.hdfs.server.namenode.FSPermissionChecker.check(FSPermissionChecker.java:661)',
    '\t... 25 more',
    'Caused by: org.apache.hadoop.ipc.RemoteException(org.apache.hadoop.security.AccessControlException): Permission denied: user=ana, access=WRITE, inode="/user"',
    '\tat org.apache.hadoop.ipc.Client.call(Client.java:1529)',
  ];
  const told = submitFailure(output);
  assert.match(told, /Permission denied: user=ana, access=WRITE/);
  assert.doesNotMatch(told, /\tat |more$/m);
  assert.equal(submitFailure(['some', 'plain', 'lines']), 'some\nplain\nlines');
});

test('the kernelspec argv: [python] launcher.py args → primary resource + application args', () => {
  assert.deepEqual(splitLauncherArgv(['python', '../../python/launch_kernel.py', '--kernel-id', 'k'], '/specs/spark', 'k'), {
    script: '/python/launch_kernel.py',
    scriptArgs: ['--kernel-id', 'k'],
  });
  assert.deepEqual(splitLauncherArgv(['/abs/launch_kernel.py', '-x'], '/specs', 'k').script, '/abs/launch_kernel.py');
  assert.throws(() => splitLauncherArgv(['bash', 'run.sh'], '/specs', 'k'), /must start with \[python\] <launcher>\.py/);
  assert.deepEqual(kernelspecSparkConf({ spark_conf: { 'spark.executor.instances': 2, 'spark.dynamicAllocation.enabled': false } }, 'k'), {
    'spark.executor.instances': '2',
    'spark.dynamicAllocation.enabled': 'false',
  });
  assert.throws(() => kernelspecSparkConf({ spark_conf: ['x'] }, 'k'), /spark_conf must map/);
});

const app = (over: Partial<Record<keyof YarnApp, unknown>> = {}) => ({
  id: 'application_1700000000000_0007',
  user: 'ana',
  name: 'atrium spark_python_yarn_cluster k-1',
  queue: 'root.risk',
  state: 'ACCEPTED',
  finalStatus: 'UNDEFINED',
  diagnostics: '[Sat Mar 07 03:10:00 +0000 2026] Application is Activated, waiting for resources to be assigned for AM.',
  applicationTags: 'atrium,atrium-kernel-k-1',
  amHostHttpAddress: 'node7.example.com:8042',
  startedTime: 1700000000000,
  extraField: 'ignored',
  ...over,
});

test('RM replies are checked: app lists (incl. {"apps": null}), single apps, and garbage', () => {
  assert.deepEqual(parseAppsReply({ apps: null }), []);
  const [parsed] = parseAppsReply({ apps: { app: [app()] } });
  assert.equal(parsed!.state, 'ACCEPTED');
  assert.equal(parseAppReply({ app: app({ state: 'KILLED', diagnostics: null }) }).diagnostics, '');
  assert.throws(() => parseAppsReply({ apps: { app: [app({ state: 'EXPLODED' })] } }), /unexpected reply/);
  assert.throws(() => parseAppsReply({ RemoteException: { message: 'no' } }), /unexpected reply/);
  assert.throws(() => parseAppReply({ app: app({ id: '../../etc' }) }), /unexpected reply/);
});

test('launch phases and death reasons read like YARN, without its timestamps', () => {
  const a = (over: Partial<Record<keyof YarnApp, unknown>>) => parseAppReply({ app: app(over) });
  assert.equal(phaseOf(a({ state: 'SUBMITTED' })), 'submitted to YARN as application_1700000000000_0007');
  assert.equal(phaseOf(a({})), 'accepted by YARN: Application is Activated, waiting for resources to be assigned for AM.');
  assert.equal(phaseOf(a({ diagnostics: '' })), 'accepted by YARN: waiting for the application master container');
  assert.equal(phaseOf(a({ state: 'RUNNING' })), 'running on node7.example.com');
  assert.equal(phaseOf(a({ state: 'KILLED' })), undefined);
  assert.equal(diagnosticsLine('[x] Queue\'s AM resource limit exceeded.\nmore'), 'Queue\'s AM resource limit exceeded.');
  assert.equal(
    diagnosticsLine('[x] Application is Activated, waiting for resources to be assigned for AM.  Details : AM Partition = <DEFAULT_PARTITION> ; Queue\'s Absolute capacity = 30.0 %'),
    'Application is Activated, waiting for resources to be assigned for AM.',
  );
  assert.equal(
    endReason(a({ state: 'KILLED', finalStatus: 'KILLED', diagnostics: 'Application killed by user ana at 127.0.0.1' })),
    'YARN application application_1700000000000_0007 is KILLED: Application killed by user ana at 127.0.0.1',
  );
  assert.equal(endReason(a({ state: 'FINISHED', finalStatus: 'SUCCEEDED', diagnostics: '' })), 'YARN application application_1700000000000_0007 is FINISHED (final status SUCCEEDED)');
  assert.equal(kernelTag('AbC-1'), 'atrium-kernel-abc-1', 'YARN lowercases tags');
});

/** An RM client double: answers from a table of apps and counts the requests. */
function fakeRm(apps: Map<string, ReturnType<typeof app>>) {
  const calls: string[] = [];
  const client = {
    async listApps(filter: { tags: string[]; states?: readonly string[] }) {
      calls.push(`list ${filter.tags.join(',')}${filter.states ? ' live' : ''}`);
      const all = parseAppsReply({ apps: { app: [...apps.values()] } });
      return all.filter((a) => a.applicationTags.split(',').some((t) => filter.tags.includes(t)) && (!filter.states || filter.states.includes(a.state)));
    },
    async getApp(id: string) {
      calls.push(`get ${id}`);
      const found = [...apps.values()].find((a) => a.id === id);
      if (!found) throw new Error('404');
      return parseAppReply({ app: found });
    },
  } as unknown as ResourceManagerClient;
  return { client, calls };
}

test('the poller: one live-list query per round for every kernel; one more request only for an app that ended', async () => {
  const apps = new Map([
    ['a', app({ id: 'application_1_0001', applicationTags: 'atrium,atrium-kernel-a', state: 'RUNNING' })],
    ['b', app({ id: 'application_1_0002', applicationTags: 'atrium,atrium-kernel-b', state: 'ACCEPTED' })],
    ['c', app({ id: 'application_1_0003', applicationTags: 'atrium,atrium-kernel-c', state: 'RUNNING' })],
  ]);
  const { client, calls } = fakeRm(apps);
  const poller = new YarnAppPoller({ client, commonTag: 'atrium', intervalMs: 10 });
  const seen: string[] = [];
  for (const k of ['a', 'b', 'c']) {
    poller.track(`atrium-kernel-${k}`);
    poller.subscribe(`atrium-kernel-${k}`, (v) => seen.push(`${k}:${v.app?.state}${v.ended ? ' ended' : ''}`));
  }
  await poller.pollOnce();
  assert.deepEqual(calls, ['list atrium live']);
  assert.equal(poller.appIdOf('atrium-kernel-b'), 'application_1_0002');

  apps.set('c', { ...apps.get('c')!, state: 'KILLED', finalStatus: 'KILLED', diagnostics: 'Application killed by user ana' });
  apps.set('b', { ...apps.get('b')!, state: 'RUNNING' });
  calls.length = 0;
  const abort = new AbortController();
  const death = poller.waitForEnd('atrium-kernel-c', abort.signal);
  await poller.pollOnce();
  assert.deepEqual(calls, ['list atrium live', 'get application_1_0003'], 'only the app that left the live list costs a request');
  assert.match((await death).reason, /application_1_0003 is KILLED: Application killed by user ana/);
  assert.deepEqual(seen, ['a:RUNNING', 'b:ACCEPTED', 'c:RUNNING', 'b:RUNNING', 'c:KILLED ended']);

  calls.length = 0;
  await poller.pollOnce();
  assert.deepEqual(calls, ['list atrium live'], 'an ended app is not asked about again');
  poller.untrack('atrium-kernel-a');
  poller.untrack('atrium-kernel-b');
  poller.untrack('atrium-kernel-c');
  calls.length = 0;
  await poller.pollOnce();
  assert.deepEqual(calls, [], 'idle: no requests while no kernel is followed');
});

test('the poller loop: start()/stop(), an RM outage is survived and keeps kernels as last seen', async () => {
  let fail = false;
  let rounds = 0;
  const client = {
    async listApps() {
      rounds++;
      if (fail) throw new Error('connection refused');
      return parseAppsReply({ apps: { app: [app({ state: 'RUNNING' })] } });
    },
    async getApp() {
      throw new Error('unused');
    },
  } as unknown as ResourceManagerClient;
  const errors: string[] = [];
  const poller = new YarnAppPoller({ client, commonTag: 'atrium', intervalMs: 5, logger: { debug() {}, warn() {}, error: (m) => errors.push(m) } });
  poller.track('atrium-kernel-k-1');
  poller.start();
  const until = async (cond: () => boolean) => {
    const end = Date.now() + 5_000;
    while (!cond()) {
      if (Date.now() > end) throw new Error('timed out');
      await new Promise((r) => setTimeout(r, 5));
    }
  };
  await until(() => poller.view('atrium-kernel-k-1').app?.state === 'RUNNING');
  fail = true;
  const at = rounds;
  await until(() => rounds > at + 3);
  assert.equal(poller.view('atrium-kernel-k-1').ended, undefined, 'an unreachable RM does not kill kernels');
  assert.equal(errors.length, 1, 'an outage is logged once, not every round');
  await poller.stop();
  const stoppedAt = rounds;
  await new Promise((r) => setTimeout(r, 30));
  assert.equal(rounds, stoppedAt, 'no request after stop()');
});

test('the launcher zip holds atrium_launcher/*.py, is stable for the same files, and Python imports from it', async () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'atrium-zip-'));
  try {
    const first = await launcherZip(BUNDLED_LAUNCHER_PYTHONPATH, dir);
    const again = await launcherZip(BUNDLED_LAUNCHER_PYTHONPATH, dir);
    assert.equal(first, again);
    const python = process.env.ATRIUM_PYTHON ?? 'python3';
    const out = execFileSync(python, ['-c', 'import sys; sys.path.insert(0, sys.argv[1]); import atrium_launcher.args as a; print(a.__file__)', first], {
      encoding: 'utf8',
      env: { ...process.env, PYTHONPATH: '' },
    });
    assert.match(out.trim(), /atrium_launcher-[0-9a-f]{12}\.zip\/atrium_launcher\/args\.py$/);
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});
