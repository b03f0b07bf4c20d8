// Pure parts of the YARN launcher: RM replies checked with zod, launch phases from RM reports, the poller's
// one-query-per-interval rule (against a fake RM client), the orphan sweep's side (against an in-process fake RM
// over HTTP), the launcher zip (importable by Python), what the launcher refuses at construction, and whole launches
// against a stand-in spark-submit, the fake RM and a real response listener (cancel, deadline, spark-submit's user).
// The spark-submit side is yarn-submit.test.ts.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { mock, test } from 'node:test';
import { loadKernelspecs } from '../kernelspecs';
import { ResponseListener } from '../launch-protocol/response-listener';
import { LaunchError } from './base';
import { BUNDLED_LAUNCHER_PYTHONPATH } from './remote-local';
import { YarnLauncher, diagnosticsLine, launcherZip, phaseOf } from './yarn';
import { ResourceManagerClient, YarnAppPoller, endReason, installationTag, kernelTag, ownEngineOf, parseAppReply, parseAppsReply, type YarnApp } from './yarn-rm';

const INSTALLATION = '6F1C2A4E-0D2B-4C55-9E7A-1B2C3D4E5F60';
/** Where spark-submit's spark-defaults.conf would be (none there): the launcher needs to know. */
const SUBMIT_ENV = { SPARK_HOME: '/nonexistent/spark' };
test('the installation tag: lowercase (as YARN stores it), within YARN\'s 100 characters, bad ids refused', () => {
  assert.equal(installationTag(INSTALLATION), `atrium-installation-${INSTALLATION.toLowerCase()}`);
  assert.equal(installationTag('x'.repeat(80)).length, 100);
  for (const bad of ['', 'x'.repeat(81), 'a,b', 'a b', 'ü', '-a']) assert.throws(() => installationTag(bad), /cannot be a YARN tag/, JSON.stringify(bad));
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

test('the poller: a kernel tag on two live applications (a restart whose kill of the old one failed) names the newer, in any order the RM lists them', async () => {
  for (const order of [['old', 'new'], ['new', 'old']]) {
    const both = {
      old: app({ id: 'application_1_0001', applicationTags: 'atrium,atrium-kernel-k', state: 'RUNNING', startedTime: 1_000 }),
      new: app({ id: 'application_1_0002', applicationTags: 'atrium,atrium-kernel-k', state: 'RUNNING', startedTime: 2_000 }),
    };
    const { client } = fakeRm(new Map(order.map((k) => [k, both[k as 'old' | 'new']])));
    const poller = new YarnAppPoller({ client, commonTag: 'atrium', intervalMs: 10 });
    poller.track('atrium-kernel-k');
    await poller.pollOnce();
    assert.equal(poller.appIdOf('atrium-kernel-k'), 'application_1_0002', `listed ${order.join(', ')}`);
  }
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

test('the orphan sweep\'s view of an application: kernel id from its tag, engine id = application id, start time', () => {
  const own = installationTag(INSTALLATION);
  const a = (over: Partial<Record<keyof YarnApp, unknown>>) => parseAppReply({ app: app({ applicationTags: `atrium,atrium-kernel-k-1,${own}`, ...over }) });
  const now = new Date('2026-03-07T03:10:00Z');
  assert.deepEqual(ownEngineOf(a({}), own, now), {
    launcher: 'yarn',
    kernelId: 'k-1',
    engineId: 'application_1700000000000_0007',
    label: 'YARN application application_1700000000000_0007',
    createdAt: new Date(1700000000000),
  });
  const skipped: [string, Partial<Record<keyof YarnApp, unknown>>][] = [
    ['no kernel tag', { applicationTags: `atrium,${own}` }],
    ['two kernel tags', { applicationTags: `atrium,atrium-kernel-a,atrium-kernel-b,${own}` }],
    ['an unparseable kernel tag', { applicationTags: `atrium,atrium-kernel-,${own}` }],
    ['another installation (the RM filter is not trusted alone)', { applicationTags: 'atrium,atrium-kernel-k-1,atrium-installation-other' }],
  ];
  for (const [what, over] of skipped) assert.equal(ownEngineOf(a(over), own, now), undefined, what);
  assert.deepEqual(ownEngineOf(a({ startedTime: 0 }), own, now)?.createdAt, now, 'undated counts as young');
});

/** An in-process ResourceManager over HTTP: a table of apps, and a log of the requests it got. */
async function fakeRmServer(t: { after(fn: () => unknown): void }, apps: ReturnType<typeof app>[]) {
  const requests: string[] = [];
  let fail = false;
  let refuseKills = false;
  const server = http.createServer((req, res) => {
    const url = new URL(req.url!, 'http://rm');
    requests.push(`${req.method} ${url.pathname}${url.search}`);
    const send = (status: number, body: unknown) => res.writeHead(status, { 'content-type': 'application/json' }).end(JSON.stringify(body));
    if (fail) return send(500, { RemoteException: { message: 'boom' } });
    if (url.pathname === '/ws/v1/cluster/apps') {
      const tags = url.searchParams.get('applicationTags')!.split(',');
      const states = url.searchParams.get('states')?.split(',');
      const found = apps.filter((a) => String(a.applicationTags).split(',').some((tg) => tags.includes(tg)) && (!states || states.includes(String(a.state))));
      return send(200, { apps: found.length ? { app: found } : null });
    }
    const one = /^\/ws\/v1\/cluster\/apps\/([^/]+)(\/state)?$/.exec(url.pathname);
    const target = apps.find((a) => a.id === one?.[1]);
    if (!target) return send(404, { RemoteException: { message: 'not found' } });
    if (!one![2]) return send(200, { app: target });
    if (refuseKills) return send(403, { RemoteException: { message: 'not allowed to kill' } });
    target.state = 'KILLED';
    return send(202, { state: 'KILLED' });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  t.after(() => new Promise((resolve) => server.close(resolve)));
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, requests, setFail: (f: boolean) => (fail = f), setRefuseKills: (r: boolean) => (refuseKills = r) };
}

test('listOwnEngines: one RM query by the installation tag for live states; killOrphan: RM kill, ended = done, another installation\'s app refused', async (t) => {
  const own = installationTag(INSTALLATION);
  const apps = [
    app({ id: 'application_1_0001', state: 'RUNNING', applicationTags: `atrium,atrium-kernel-a,${own}` }),
    app({ id: 'application_1_0002', state: 'ACCEPTED', applicationTags: `atrium,atrium-kernel-b,${own}` }),
    app({ id: 'application_1_0003', state: 'FINISHED', applicationTags: `atrium,atrium-kernel-c,${own}` }),
    app({ id: 'application_1_0004', state: 'RUNNING', applicationTags: `atrium,${own}` }),
    app({ id: 'application_1_0005', state: 'RUNNING', applicationTags: 'atrium,atrium-kernel-d,atrium-installation-other' }),
  ];
  const rm = await fakeRmServer(t, apps);
  const launcher = new YarnLauncher({
    responseListener: {} as ResponseListener, // no launch here
    rmUrl: rm.url,
    installationId: INSTALLATION,
    serviceUser: 'atrium',
    submitEnv: SUBMIT_ENV,
    runtimeDir: os.tmpdir(),
  });
  const listed = await launcher.listOwnEngines();
  assert.deepEqual(listed.map((e) => [e.kernelId, e.engineId, e.label]), [
    ['a', 'application_1_0001', 'YARN application application_1_0001'],
    ['b', 'application_1_0002', 'YARN application application_1_0002'],
  ]);
  assert.equal(rm.requests.length, 1, 'one request');
  const query = new URL(`http://rm${rm.requests[0]!.slice(4)}`).searchParams;
  assert.equal(query.get('applicationTags'), own);
  assert.equal(query.get('states'), 'NEW,NEW_SAVING,SUBMITTED,ACCEPTED,RUNNING');

  rm.requests.length = 0;
  await launcher.killOrphan(listed[0]!);
  assert.deepEqual(rm.requests.map((r) => r.split('?')[0]), ['GET /ws/v1/cluster/apps/application_1_0001', 'PUT /ws/v1/cluster/apps/application_1_0001/state']);
  assert.equal(apps[0]!.state, 'KILLED');
  rm.requests.length = 0;
  await launcher.killOrphan(listed[0]!); // already ended: success, no second kill
  await launcher.killOrphan({ ...listed[0]!, engineId: 'application_1_0099' }); // unknown to the RM: nothing to kill
  assert.deepEqual(rm.requests.map((r) => r.split('?')[0]), ['GET /ws/v1/cluster/apps/application_1_0001', 'GET /ws/v1/cluster/apps/application_1_0099']);
  await assert.rejects(launcher.killOrphan({ ...listed[1]!, engineId: 'application_1_0005' }), /does not carry this installation's tag/);
  assert.equal(apps[4]!.state, 'RUNNING', 'another installation\'s application is left running');
  await assert.rejects(launcher.killOrphan({ ...listed[1]!, launcher: 'kubernetes' }), /listed by the kubernetes launcher/);

  rm.setFail(true);
  await assert.rejects(launcher.listOwnEngines(), /cannot list this installation's YARN applications \(tag atrium-installation-[0-9a-f-]+\): .*500/);
  assert.throws(() => new YarnLauncher({ responseListener: {} as ResponseListener, rmUrl: rm.url, installationId: 'a,b', submitEnv: SUBMIT_ENV, runtimeDir: os.tmpdir() }), /cannot be a YARN tag/);
});

test('the launcher refuses to start when spark-submit\'s environment cannot say which spark-defaults.conf applies', () => {
  const make = (submitEnv: Record<string, string>, hostEnv: Record<string, string> = {}) =>
    new YarnLauncher({ responseListener: {} as ResponseListener, rmUrl: 'http://rm', installationId: INSTALLATION, submitEnv, hostEnv: hostEnv as NodeJS.ProcessEnv, runtimeDir: os.tmpdir() });
  const refused = /needs SPARK_HOME or SPARK_CONF_DIR in spark-submit's environment \(ATRIUM_YARN_SPARK_HOME or ATRIUM_YARN_SPARK_CONF_DIR\)/;
  assert.throws(() => make({ HADOOP_CONF_DIR: '/etc/hadoop/conf' }), refused);
  assert.throws(() => make({ SPARK_HOME: '', SPARK_CONF_DIR: '' }), refused, 'empty counts as unset, as in load-spark-env.sh');
  assert.throws(() => make({}, { SPARK_HOME: '/opt/spark' }), refused, 'the portal\'s own SPARK_HOME is not passed to spark-submit unless configured');
  assert.doesNotThrow(() => make({ SPARK_HOME: '/opt/spark' }));
  assert.doesNotThrow(() => make({ SPARK_CONF_DIR: '/etc/spark/conf' }));
});

test('regression (killing another user\'s application): the id spark-submit printed is used only once the RM shows it with the kernel\'s tag; else the newest tagged one', async (t) => {
  const own = installationTag(INSTALLATION);
  const apps = [
    app({ id: 'application_1_0001', user: 'bob', state: 'RUNNING', applicationTags: `atrium,atrium-kernel-other,${own}` }),
    app({ id: 'application_1_0011', state: 'FINISHED', startedTime: 1_000, applicationTags: `atrium,atrium-kernel-k-1,${own}` }),
    app({ id: 'application_1_0012', state: 'ACCEPTED', startedTime: 2_000, applicationTags: `atrium,atrium-kernel-k-1,${own}` }),
  ];
  const rm = await fakeRmServer(t, apps);
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'atrium-yarn-submit-'));
  t.after(() => fs.rmSync(dir, { recursive: true, force: true }));
  // A stand-in spark-submit: prints the id in $dir/said, exits with the code in $dir/code.
  const program = path.join(dir, 'spark-submit');
  fs.writeFileSync(program, `#!/bin/sh\necho "INFO Client: Submitted application $(cat '${dir}/said')"\nexit $(cat '${dir}/code')\n`, { mode: 0o755 });
  const warnings: string[] = [];
  const launcher = new YarnLauncher({
    responseListener: {} as ResponseListener, // spark-submit only: no launch protocol here
    rmUrl: rm.url,
    installationId: INSTALLATION,
    sparkSubmit: program,
    submitEnv: { PATH: process.env.PATH ?? '/usr/bin:/bin', SPARK_CONF_DIR: path.join(dir, 'no-conf') },
    runtimeDir: dir,
    logger: { debug() {}, warn: (m, f) => warnings.push(`${m} ${JSON.stringify(f)}`), error() {} },
  });
  type Submit = { submit(kernelId: string, command: { args: string[]; properties: Record<string, string>; propertiesFile: string }): Promise<{ appId?: string }> };
  const submit = (said: string, code: number) => {
    fs.writeFileSync(path.join(dir, 'said'), said);
    fs.writeFileSync(path.join(dir, 'code'), String(code));
    rm.requests.length = 0;
    warnings.length = 0;
    return (launcher as unknown as Submit).submit('k-1', { args: [], properties: {}, propertiesFile: path.join(dir, 'spark-submit.d', `k-1-${said}.properties`) });
  };
  const paths = () => rm.requests.map((r) => r.split('?')[0]);

  assert.deepEqual(await submit('application_1_0012', 0), { appId: 'application_1_0012' });
  assert.deepEqual(paths(), ['GET /ws/v1/cluster/apps/application_1_0012'], 'confirmed with one request');
  assert.deepEqual(warnings, []);

  for (const said of ['application_1_0001', 'application_1_0099']) {
    assert.deepEqual(await submit(said, 0), { appId: 'application_1_0012' }, `${said}: the newest application tagged atrium-kernel-k-1`);
    assert.deepEqual(paths(), [`GET /ws/v1/cluster/apps/${said}`, 'GET /ws/v1/cluster/apps']);
    assert.match(warnings.join('\n'), new RegExp(`does not show with the kernel's tag.*"named":"${said}","tagged":"application_1_0012"`));
  }

  // A failed spark-submit that named another user's application: the kernel's own is killed, never bob's.
  await assert.rejects(submit('application_1_0001', 3), (e: unknown) => e instanceof Error && /exit code 3\) \(application application_1_0012 killed\)/.test(e.message));
  assert.ok(!rm.requests.some((r) => r.startsWith('PUT /ws/v1/cluster/apps/application_1_0001/')), 'no kill request for bob\'s application');
  assert.equal(apps[0]!.state, 'RUNNING');
  assert.equal(apps[2]!.state, 'KILLED');

  // A kill the RM refuses is said so, not claimed done (the orphan sweep kills it later).
  apps[2]!.state = 'ACCEPTED';
  rm.setRefuseKills(true);
  await assert.rejects(submit('application_1_0012', 3), (e: unknown) => e instanceof Error && /\(application application_1_0012 could not be killed yet: .*not allowed to kill/.test(e.message));
  assert.equal(apps[2]!.state, 'ACCEPTED');
  rm.setRefuseKills(false);

  // An RM that cannot be asked: nothing is killed on spark-submit's word alone.
  rm.setFail(true);
  await assert.rejects(submit('application_1_0001', 3), (e: unknown) => e instanceof Error && /failed \(exit code 3\):/.test(e.message) && !/killed/.test(e.message));
  assert.ok(!rm.requests.some((r) => r.startsWith('PUT ')), 'no kill request');
});

// --- whole launches against a stand-in spark-submit (no cluster) ---

/**
 * A launcher over the fake RM and a real response listener, whose spark-submit is a script that does what
 * `$dir/mode` says: `hang` (a child of its own, its pid in $dir/child-pid, then a hang), `submit-hang` (prints the
 * id of application_1_0012 first), `slow-ok` (a second, then submitted), `whoami` (writes its HADOOP_USER_NAME, fails).
 */
async function launchRig(
  t: { after(fn: () => unknown): void },
  over: { launchDeadlineMs?: number; submitDeadlineMs?: number; serviceUser?: string; apps?: ReturnType<typeof app>[] } = {},
) {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'atrium-yarn-launch-'));
  t.after(() => fs.rmSync(dir, { recursive: true, force: true }));
  const apps = over.apps ?? [];
  const rm = await fakeRmServer(t, apps);
  const quiet = { info() {}, warn() {}, error() {} };
  const listener = new ResponseListener({ log: quiet });
  await listener.start();
  t.after(() => listener.stop());
  const program = path.join(dir, 'spark-submit');
  fs.writeFileSync(
    program,
    [
      '#!/bin/sh',
      `d='${dir}'`,
      'case "$(cat "$d/mode")" in',
      '  hang) sleep 60 & echo $! > "$d/child-pid.tmp"; mv "$d/child-pid.tmp" "$d/child-pid"; wait;;',
      '  submit-hang) echo "INFO Client: Submitted application application_1_0012"; sleep 60 & echo $! > "$d/child-pid.tmp"; mv "$d/child-pid.tmp" "$d/child-pid"; wait;;',
      '  slow-ok) sleep 1; echo "INFO Client: Submitted application application_1_0012";;',
      '  whoami) echo "${HADOOP_USER_NAME-unset}" > "$d/hadoop-user"; exit 3;;',
      'esac',
    ].join('\n'),
    { mode: 0o755 },
  );
  const launcher = new YarnLauncher({
    responseListener: listener,
    rmUrl: rm.url,
    installationId: INSTALLATION,
    serviceUser: over.serviceUser,
    sparkSubmit: program,
    submitEnv: { PATH: process.env.PATH ?? '/usr/bin:/bin', SPARK_CONF_DIR: path.join(dir, 'no-conf') },
    runtimeDir: path.join(dir, 'runtime'),
    launchDeadlineMs: over.launchDeadlineMs ?? 60_000,
    submitDeadlineMs: over.submitDeadlineMs ?? 20_000,
    pollIntervalMs: 50,
    killDeadlineMs: 1_000,
    logger: { debug() {}, warn() {}, error() {} },
  });
  launcher.start();
  t.after(() => launcher.stop());
  const spec = (await loadKernelspecs()).get('spark_python_yarn_cluster')!;
  const launch = (mode: string, kernelId: string) => {
    fs.writeFileSync(path.join(dir, 'mode'), mode);
    return launcher.launch({ kernelId, kernelspec: spec, username: 'ana', sizeProfile: 'small' });
  };
  const childPid = async () => {
    const file = path.join(dir, 'child-pid');
    const end = Date.now() + 15_000;
    while (!fs.existsSync(file)) {
      if (Date.now() > end) throw new Error('spark-submit did not start');
      await new Promise((r) => setTimeout(r, 20));
    }
    return Number(fs.readFileSync(file, 'utf8'));
  };
  return { dir, rm, apps, listener, launcher, launch, childPid };
}

/** Whether `pid` still runs (a killed process not yet reaped, a zombie, does not). */
const isAlive = (pid: number) => {
  try {
    return !/^\d+ \(.*\) Z/.test(fs.readFileSync(`/proc/${pid}/stat`, 'utf8'));
  } catch {
    return false;
  }
};

test('regression (stop waits up to 120 s for spark-submit): cancel kills spark-submit\'s process group at once; nothing reaches YARN', async (t) => {
  const rig = await launchRig(t);
  const launching = rig.launch('hang', 'k-c1');
  const child = await rig.childPid();
  const cancelledAt = Date.now();
  rig.launcher.cancel('k-c1', 'the kernel was stopped while it started (stopped by ana)');
  await assert.rejects(launching, (e: unknown) => {
    assert.ok(e instanceof LaunchError && e.code === 'LAUNCH_FAILED', String(e));
    assert.match(e.message, /^kernel k-c1: the kernel was stopped while it started \(stopped by ana\); spark-submit was stopped and nothing reached YARN$/);
    return true;
  });
  assert.ok(Date.now() - cancelledAt < 5_000, `the launch settled ${Date.now() - cancelledAt} ms after the cancel, not at spark-submit's 20 s deadline`);
  assert.equal(isAlive(child), false, 'spark-submit\'s whole process group is gone');
  assert.ok(!rig.rm.requests.some((r) => r.startsWith('PUT ')), 'nothing to kill');
  assert.deepEqual(fs.readdirSync(path.join(rig.dir, 'runtime', 'spark-submit')), [], 'its properties file is removed');
});

test('a cancel after spark-submit handed the application over (before it returned): spark-submit is killed, and so is the application', async (t) => {
  const own = installationTag(INSTALLATION);
  const apps = [app({ id: 'application_1_0012', state: 'ACCEPTED', applicationTags: `atrium,atrium-kernel-k-c2,${own}` })];
  const rig = await launchRig(t, { apps });
  const launching = rig.launch('submit-hang', 'k-c2');
  await rig.childPid();
  const cancelledAt = Date.now();
  rig.launcher.cancel('k-c2', 'the kernel was stopped while it started (stopped by ana)');
  await assert.rejects(launching, /^LaunchError: kernel k-c2: the kernel was stopped while it started \(stopped by ana\); spark-submit was stopped and its application application_1_0012 killed$/);
  assert.ok(Date.now() - cancelledAt < 5_000);
  assert.equal(apps[0]!.state, 'KILLED');
});

test('regression (launch deadline starts after spark-submit): a hanging spark-submit is ended by the launch\'s deadline, as LAUNCH_TIMEOUT', async (t) => {
  const rig = await launchRig(t, { launchDeadlineMs: 1_500, submitDeadlineMs: 20_000 });
  const started = Date.now();
  const launching = rig.launch('hang', 'k-d1');
  const child = await rig.childPid();
  await assert.rejects(launching, (e: unknown) => {
    assert.ok(e instanceof LaunchError && e.code === 'LAUNCH_TIMEOUT', String(e));
    assert.match(e.message, /^kernel k-d1: spark-submit had not returned when the launch's deadline of 1500 ms ran out; it was killed/);
    return true;
  });
  assert.ok(Date.now() - started < 6_000, `settled after ${Date.now() - started} ms`);
  assert.equal(isAlive(child), false);
});

test('regression (launch deadline starts after spark-submit): the payload wait gets only what spark-submit left of the launch\'s deadline', async (t) => {
  const own = installationTag(INSTALLATION);
  const apps = [app({ id: 'application_1_0012', state: 'RUNNING', applicationTags: `atrium,atrium-kernel-k-d2,${own}` })];
  const rig = await launchRig(t, { apps, launchDeadlineMs: 2_500 });
  const waits: number[] = [];
  const realWaitFor = rig.listener.waitFor.bind(rig.listener);
  mock.method(rig.listener, 'waitFor', (kernelId: string, deadline: number) => {
    waits.push(deadline);
    return realWaitFor(kernelId, deadline);
  });
  const started = Date.now();
  await assert.rejects(rig.launch('slow-ok', 'k-d2'), (e: unknown) => {
    assert.ok(e instanceof LaunchError && e.code === 'LAUNCH_TIMEOUT', String(e));
    assert.match(e.message, /The launch's deadline is 2500 ms in all; spark-submit took \d{4} ms of it\.$/);
    return true;
  });
  assert.equal(waits.length, 1);
  assert.ok(waits[0]! <= started + 2_500 + 100, `the payload was awaited until ${waits[0]! - started} ms after the launch started, past its 2500 ms deadline`);
  assert.equal(apps[0]!.state, 'KILLED', 'the application of the timed-out launch is killed');
});

test('a person named like the YARN service user is refused before spark-submit runs (they would run as it)', async (t) => {
  const rig = await launchRig(t, { serviceUser: 'ana' }); // the rig's analyst is "ana"
  await assert.rejects(rig.launch('whoami', 'k-svc'), (e: LaunchError) => e.code === "INVALID_REQUEST" && /has the name of the YARN service user/.test(e.message));
  assert.equal(fs.existsSync(path.join(rig.dir, 'hadoop-user')), false, 'spark-submit never ran');
});

test('regression (not allowed to impersonate): spark-submit runs as the service user (HADOOP_USER_NAME), the user of the RM calls', async (t) => {
  const rig = await launchRig(t, { serviceUser: 'atrium' });
  await assert.rejects(rig.launch('whoami', 'k-u1'), /exit code 3/);
  assert.equal(fs.readFileSync(path.join(rig.dir, 'hadoop-user'), 'utf8').trim(), 'atrium');

  const anonymous = await launchRig(t, {});
  await assert.rejects(anonymous.launch('whoami', 'k-u2'), /exit code 3/);
  assert.equal(fs.readFileSync(path.join(anonymous.dir, 'hadoop-user'), 'utf8').trim(), 'unset', 'no service user: Hadoop\'s own choice (the OS user) stands');

  const make = (submitEnv: Record<string, string>) =>
    new YarnLauncher({ responseListener: {} as ResponseListener, rmUrl: 'http://rm', installationId: INSTALLATION, serviceUser: 'atrium', submitEnv: { ...SUBMIT_ENV, ...submitEnv }, runtimeDir: os.tmpdir() });
  assert.throws(() => make({ HADOOP_USER_NAME: 'node' }), /HADOOP_USER_NAME=node, but the YARN service user is atrium: both must be the same Hadoop user/);
  assert.doesNotThrow(() => make({ HADOOP_USER_NAME: 'atrium' }));
});
