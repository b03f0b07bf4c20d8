// Integration: the YARN launcher on a REAL Hadoop mini cluster (HDFS + YARN from Maven Central jars) with real
// Spark from PyPI. The kernel is the Spark driver of a cluster-mode application run as `ana` in queue `risk`;
// launch phases come from the RM; Spark runs; an interrupt cancels the Spark job; a stop leaves nothing running;
// an application killed outside Atrium (by ana, through the RM REST) turns the kernel dead within seconds with
// YARN's reason; the orphan sweep lists only its own installation's applications, another may not kill them, and
// an ended one is killed without error; a cancelled launch kills its application; one RM request per interval
// serves every kernel; the launch token is on no command line, not even spark-submit's; the admins'
// spark-defaults.conf still applies (Atrium merges it into the properties file; no --load-spark-defaults, so
// Spark 3.x works too), under Atrium's own settings.
// The cluster uses its own ports (+20000), so it can run beside another engineer's default-port cluster.
// Every application and process is stopped in t.after/after; every wait has a deadline.
//   node --import tsx --test --test-reporter=spec server/kernels/launchers/yarn.int.test.ts
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, test, type TestContext } from 'node:test';
import { portsWithOffset, sparkSubmitSettings, startHadoopCluster } from '../../../e2e/clusters/hadoop/cluster.mjs';
import { ensureHadoop, ensureSparkVenv } from '../../../e2e/clusters/hadoop/provision.mjs';
import { KernelConnection } from '../connection';
import { loadKernelspecs, type Kernelspec } from '../kernelspecs';
import { ResponseListener } from '../launch-protocol/response-listener';
import { executeRequestContent, parentMsgId } from '../protocol/messages';
import { LaunchError, type DeadStatus, type KernelProcess } from './base';
import type { RemoteKernelProcess } from './remote';
import { YarnAppEngine, YarnLauncher } from './yarn';
import { LIVE_APP_STATES, kernelTag, type YarnApp } from './yarn-rm';
import { connectForTest, nextMessage, quietKernelLog, runCode } from '../testing';

type Cluster = { rmUrl: string; webhdfsUrl: string; superuser: string; confDir: string; info: { nodeManagerLogDirs: string }; stop(): Promise<void> };

const LAUNCH_MS = 240_000; // submit → kernel answers; 13–45 s measured here, more when other sessions load the machine
const STEP_MS = 60_000;
const POLL_MS = 1_000;
const quiet = { info() {}, warn() {}, error() {} };

const workDir = fs.mkdtempSync(path.join(os.tmpdir(), 'atrium-yarn-it-'));
let cluster: Cluster | undefined;
let listener: ResponseListener;
let launcher: YarnLauncher;
let spec: Kernelspec;
const timings: Record<string, string> = {};

before(
  async () => {
    ensureHadoop();
    const venv = ensureSparkVenv();
    cluster = (await startHadoopCluster({
      workDir,
      // Fixed ports below Linux's ephemeral range (32768+), so no client socket or cluster-internal port
      // (DataNode, NodeManager, containers pick ephemeral ones) can be holding them; distinct from the
      // defaults (+0) and the YARN e2e (+10000).
      ports: portsWithOffset(5000),
    })) as Cluster;
    // ana's HDFS home (spark-submit stages the app under /user/ana/.sparkStaging as ana). In the portal the
    // WebHDFS home store creates it at first sign-in.
    for (const op of ['MKDIRS&permission=700', 'SETOWNER&owner=ana&group=ana']) {
      const r: Response = await fetch(`${cluster.webhdfsUrl}/user/ana?op=${op}&user.name=${cluster.superuser}`, { method: 'PUT', signal: AbortSignal.timeout(30_000) });
      assert.equal(r.status, 200, await r.text());
    }
    const spark = sparkSubmitSettings(cluster, venv);
    // What an admin's spark-defaults.conf says must still reach the driver now that Atrium passes a properties file,
    // read as Spark reads it (comments, blank and ":" separators, a continued line, a \u escape), and a setting
    // Atrium makes must win over the admins' (as --conf did).
    fs.mkdirSync(sparkConfDir, { recursive: true });
    fs.writeFileSync(
      path.join(sparkConfDir, 'spark-defaults.conf'),
      [
        "# The admins' settings",
        '! another comment',
        '   spark.atrium.it.fromDefaults   applied',
        'spark.atrium.it.continued = first,\\',
        '    second',
        'spark.atrium.it.unicode:\\u00fcber',
        'spark.atrium.it.conflict from-defaults',
        'spark.yarn.appMasterEnv.KERNEL_NOTE from-defaults',
        '',
      ].join('\n'),
    );
    // spark-submit through a wrapper that records its argv (one line per argument, then a separator).
    fs.writeFileSync(sparkSubmitWrapper, `#!/bin/sh\nprintf '%s\\n' "$@" '--end--' >> '${submitArgvLog}'\nexec '${spark.spark.sparkSubmit}' "$@"\n`, { mode: 0o755 });
    listener = new ResponseListener({ host: '127.0.0.1', port: 0, log: quiet });
    await listener.start();
    spec = (await loadKernelspecs()).get('spark_python_yarn_cluster')!;
    assert.ok(spec, 'the bundled spark_python_yarn_cluster kernelspec exists');
    launcher = makeLauncher(spark);
    launcher.start();
  },
  { timeout: 20 * 60_000 },
);

after(async () => {
  await launcher?.stop();
  await listener?.stop();
  console.log(`# yarn launcher timings ${JSON.stringify(timings)}`);
  await cluster?.stop(); // also kills any container process left under the work dir
  if (!process.env.ATRIUM_KEEP_HADOOP_WORK) fs.rmSync(workDir, { recursive: true, force: true });
  else console.log(`# kept ${workDir}`);
});

/** This test's installation: its applications carry it as a tag. */
const INSTALLATION_ID = randomUUID();
const sparkConfDir = path.join(workDir, 'spark-conf');
const sparkSubmitWrapper = path.join(workDir, 'spark-submit-recording');
const submitArgvLog = path.join(workDir, 'spark-submit-argv.log');
/** A setting with the characters a properties file treats specially: it must reach the driver unchanged. */
const ESCAPED_VALUE = 'a\\b=c: #d !e ü';

function makeLauncher(
  spark: { env: Record<string, string>; conf: Record<string, string>; spark: { sparkSubmit: string; python: string } },
  installationId = INSTALLATION_ID,
): YarnLauncher {
  return new YarnLauncher({
    responseListener: listener,
    rmUrl: cluster!.rmUrl,
    installationId,
    serviceUser: cluster!.superuser,
    sparkSubmit: sparkSubmitWrapper,
    submitEnv: { ...spark.env, SPARK_CONF_DIR: sparkConfDir },
    // The harness's settings (jars in place, loopback binds) plus one small executor: 2 shared cores here.
    sparkConf: {
      ...spark.conf,
      'spark.executor.instances': '1',
      'spark.executor.memory': '512m',
      'spark.executor.cores': '1',
      'spark.ui.enabled': 'false',
      'spark.atrium.it.escaped': ESCAPED_VALUE,
      'spark.atrium.it.conflict': 'from-atrium',
    },
    kernelPython: spark.spark.python,
    impersonate: true,
    queueFor: async (username) => (username === 'ana' ? 'risk' : null),
    pollIntervalMs: POLL_MS,
    runtimeDir: path.join(workDir, 'runtime'),
    logger: quietKernelLog,
  });
}

const seconds = (ms: number) => `${(ms / 1000).toFixed(1)} s`;

async function rm(method: string, pathAndQuery: string, body?: unknown): Promise<{ status: number; json: any; text: string }> {
  const res = await fetch(`${cluster!.rmUrl}${pathAndQuery}`, {
    method,
    headers: body === undefined ? {} : { 'content-type': 'application/json' },
    body: body === undefined ? undefined : JSON.stringify(body),
    signal: AbortSignal.timeout(30_000),
  });
  const text = await res.text();
  let json: any;
  try {
    json = JSON.parse(text);
  } catch {}
  return { status: res.status, json, text };
}

async function appsTagged(tag: string, states?: readonly string[]): Promise<YarnApp[]> {
  const q = `applicationTags=${tag}${states ? `&states=${states.join(',')}` : ''}&user.name=${cluster!.superuser}`;
  const r = await rm('GET', `/ws/v1/cluster/apps?${q}`);
  assert.equal(r.status, 200, r.text);
  return r.json?.apps?.app ?? [];
}

async function until<T>(what: string, check: () => Promise<T | undefined | false>, ms: number, everyMs = 250): Promise<T> {
  const end = Date.now() + ms;
  for (;;) {
    const value = await check();
    if (value) return value;
    if (Date.now() > end) throw new Error(`timed out after ${ms} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, everyMs));
  }
}

/** Whatever a test launched is killed through the RM at its end, by tag: no test leaves an application running. */
function killAppsOf(t: TestContext, kernelId: string): void {
  t.after(async () => {
    for (const app of await appsTagged(kernelTag(kernelId), LIVE_APP_STATES).catch(() => [])) {
      await rm('PUT', `/ws/v1/cluster/apps/${app.id}/state?user.name=${cluster!.superuser}`, { state: 'KILLED' }).catch(() => {});
    }
  });
}

async function launchKernel(t: TestContext, phases: string[] = []): Promise<{ kernel: RemoteKernelProcess; launchMs: number }> {
  const kernelId = randomUUID();
  killAppsOf(t, kernelId);
  const started = Date.now();
  const kernel = await launcher.launch(
    { kernelId, kernelspec: spec, username: 'ana', sizeProfile: 'small', env: { KERNEL_NOTE: KERNEL_NOTE } },
    { deadlineMs: LAUNCH_MS, onPhase: (p) => phases.push(p) },
  );
  t.after(async () => {
    await kernel.kill(STEP_MS).catch(() => {});
    await kernel.cleanup();
  });
  const info = await kernel.confirmStartup(STEP_MS);
  assert.equal(info.content.status, 'ok');
  return { kernel, launchMs: Date.now() - started };
}



const KERNEL_NOTE = 'yarn-it: a=b #c !d ü';

/**
 * Every distinct command line on this host while `during` runs (sampled every 100 ms from /proc), to show that
 * none holds the launch token: spark-submit's JVM, the wrapper, YARN's container scripts.
 */
async function commandLinesDuring<T>(during: () => Promise<T>): Promise<{ value: T; cmdlines: Set<string> }> {
  const cmdlines = new Set<string>();
  let sampling = true;
  const sampler = (async () => {
    while (sampling) {
      for (const pid of fs.readdirSync('/proc').filter((n) => /^\d+$/.test(n))) {
        try {
          cmdlines.add(fs.readFileSync(`/proc/${pid}/cmdline`, 'utf8'));
        } catch {
          // it ended meanwhile
        }
      }
      await new Promise((r) => setTimeout(r, 100));
    }
  })();
  try {
    return { value: await during(), cmdlines };
  } finally {
    sampling = false;
    await sampler;
  }
}

/** Runs `code` (see runCode). */
const run = (connection: KernelConnection, code: string, ms = STEP_MS) => runCode(connection, code, ms);

function waitForDeath(kernel: KernelProcess, ms: number): Promise<DeadStatus> {
  const abort = new AbortController();
  let timer: NodeJS.Timeout | undefined;
  return Promise.race([
    kernel.waitForExit(abort.signal),
    new Promise<never>((_, reject) => (timer = setTimeout(() => reject(new Error(`still alive after ${ms} ms`)), ms))),
  ]).finally(() => {
    clearTimeout(timer);
    abort.abort();
  });
}

test('a PySpark kernel runs as the Spark driver of a YARN cluster-mode app, as ana in risk; interrupt cancels the Spark job; stop leaves nothing running', { timeout: 15 * 60_000 }, async (t) => {
  const phases: string[] = [];
  const argvLogAt = fs.existsSync(submitArgvLog) ? fs.statSync(submitArgvLog).size : 0;
  const {
    value: { kernel, launchMs },
    cmdlines,
  } = await commandLinesDuring(() => launchKernel(t, phases));
  timings.submitToKernelInfo = seconds(launchMs);
  console.log(`# YARN kernel launch (submit → first kernel_info_reply): ${seconds(launchMs)}; phases: ${JSON.stringify(phases)}`);
  assert.ok(kernel.engine instanceof YarnAppEngine);
  const appId = kernel.engineId;
  assert.match(appId, /^application_\d+_\d+$/);
  assert.match(phases[0] ?? '', /^submitting to YARN \(queue risk, as ana\)$/);
  assert.ok(phases.some((p) => p === `submitted to YARN as ${appId}`), JSON.stringify(phases));
  assert.ok(phases.some((p) => p.startsWith('accepted by YARN: ')), `an "accepted by YARN: <diagnostics>" phase: ${JSON.stringify(phases)}`);

  const connection = await connectForTest(t, kernel, STEP_MS);
  const count = await run(connection, 'spark.range(10**6).count()', 3 * STEP_MS);
  assert.equal(count.reply.content.status, 'ok', count.all);
  assert.equal(count.out.trim(), '1000000', count.all);
  assert.doesNotMatch(count.all, /Failed to add file|py4j\.clientserver/, 'no launcher or Spark set-up noise in the user\'s cell');
  const id = await run(connection, 'print(spark.sparkContext.applicationId)');
  assert.equal(id.out.trim(), appId, 'the kernel is the driver of the application the launcher follows');
  // The one-time launch token reaches the driver in its container's environment, never on a command line of the
  // node (readable by every user there): neither the launcher's nor the AM's that started it.
  const launcherPid = kernel.remotePid;
  const amPid = Number(fs.readFileSync(`/proc/${launcherPid}/stat`, 'utf8').split(') ')[1]!.split(' ')[1]);
  for (const pid of [launcherPid, amPid]) assert.doesNotMatch(fs.readFileSync(`/proc/${pid}/cmdline`, 'utf8'), /launch-token|ATRIUM_LAUNCH_TOKEN/, `pid ${pid}`);
  const token = /(?:^|\0)ATRIUM_LAUNCH_TOKEN=([A-Za-z0-9_-]{16,})/.exec(fs.readFileSync(`/proc/${launcherPid}/environ`, 'utf8'))?.[1];
  assert.ok(token, 'the launcher has its token in its environment');
  // Nor spark-submit's, on the portal host: its argv as spawned, and every command line seen during the launch.
  const submitArgv = fs.readFileSync(submitArgvLog, 'utf8').slice(argvLogAt).split('\n');
  assert.ok(submitArgv.includes('--properties-file') && !submitArgv.includes('--load-spark-defaults'), submitArgv.join(' '));
  assert.ok(!submitArgv.some((arg) => arg.includes(token) || arg.includes('ATRIUM_LAUNCH_TOKEN')), 'spark-submit\'s argv holds no token');
  assert.ok([...cmdlines].some((c) => c.includes('org.apache.spark.deploy.SparkSubmit')), 'the sampler saw spark-submit\'s JVM');
  const leaking = [...cmdlines].filter((c) => c.includes(token));
  assert.deepEqual(leaking, [], `${cmdlines.size} command lines sampled during the launch; none may hold the token`);
  assert.deepEqual(fs.readdirSync(path.join(workDir, 'runtime', 'spark-submit')), [], 'the properties file is gone once spark-submit returned');
  // The settings in that file arrive intact, the admins' spark-defaults.conf still applies, and Atrium's settings
  // (configured, and its own container environment) win over it.
  const settings = await run(
    connection,
    "import os; print(os.environ['KERNEL_NOTE'], *(spark.conf.get('spark.atrium.it.' + k) for k in ['escaped', 'fromDefaults', 'continued', 'unicode', 'conflict']), sep='|')",
  );
  assert.equal(settings.out.trim(), `${KERNEL_NOTE}|${ESCAPED_VALUE}|applied|first,second|über|from-atrium`, settings.all);

  const [app] = await appsTagged(kernelTag(kernel.kernelId));
  assert.ok(app);
  assert.equal(app.id, appId);
  assert.equal(app.state, 'RUNNING');
  assert.equal(app.user, 'ana', 'the application runs as the analyst (proxy user)');
  assert.match(app.queue, /^(root\.)?risk$/);
  assert.ok(app.applicationTags.split(',').includes('atrium'));

  // A portal restart: a second launcher restores the saved state and follows the same application.
  const saved = JSON.parse(JSON.stringify(kernel.serialize()));
  assert.deepEqual(saved.state.engine, { tag: kernelTag(kernel.kernelId), appId });
  const second = makeLauncher(sparkSubmitSettings(cluster!, ensureSparkVenv()));
  second.start();
  t.after(() => second.stop());
  const restored = await second.restore(saved);
  assert.equal(restored.engineId, appId);
  await until('the restored kernel to be seen by the second poller', async () => (second.poller.view(kernelTag(kernel.kernelId)).app?.state === 'RUNNING' ? true : undefined), STEP_MS);
  assert.deepEqual(await restored.poll(), { alive: true });
  await restored.cleanup();

  // Interrupt a long Spark job: KeyboardInterrupt promptly, and the job is cancelled in the driver.
  const long = connection.createMessage(
    'execute_request',
    executeRequestContent(
      [
        'import threading, time',
        'def _announce():',
        '    while not sc.statusTracker().getActiveJobsIds(): time.sleep(0.2)',
        "    print('JOB RUNNING', flush=True)",
        'threading.Thread(target=_announce, daemon=True).start()',
        "sc.setJobGroup('atrium-long', 'interrupt test')",
        "spark.range(10**13).selectExpr('sum(id)').collect()",
      ].join('\n'),
    ),
  );
  const longId = long.header.msg_id;
  const jobRunning = nextMessage(connection, (m) => parentMsgId(m) === longId && m.header.msg_type === 'stream' && String(m.content.text).includes('JOB RUNNING'), STEP_MS, 'the Spark job to run');
  const longReply = nextMessage(connection, (m) => m.channel === 'shell' && parentMsgId(m) === longId, 2 * STEP_MS, 'the reply to the interrupted cell');
  await connection.send('shell', long);
  await jobRunning;
  const interruptedAt = Date.now();
  await kernel.interrupt();
  const interrupted = await longReply;
  timings.interruptToReply = seconds(Date.now() - interruptedAt);
  assert.equal(interrupted.content.status, 'error');
  assert.equal(interrupted.content.ename, 'KeyboardInterrupt', `the interrupted cell ended with:\n${((interrupted.content.traceback as string[] | undefined) ?? []).join('\n').replace(/\x1b\[[0-9;]*m/g, '')}`);
  assert.ok(Date.now() - interruptedAt < 20_000, `the cell returned ${timings.interruptToReply} after the interrupt`);
  // Ask the driver until the cancellation has settled (the status tracker can lag the cancel by a moment, and a
  // loaded run once gave a reply without its output), within a deadline.
  let jobs = { out: '' };
  for (const until = Date.now() + 20_000; Date.now() < until; await new Promise((r) => setTimeout(r, 500))) {
    jobs = await run(
      connection,
      "st = sc.statusTracker(); ids = st.getJobIdsForGroup('atrium-long'); print(len(ids), [st.getJobInfo(i).status for i in ids], st.getActiveJobsIds(), flush=True)",
    );
    if (jobs.out.trim() && !jobs.out.includes('RUNNING')) break;
  }
  assert.equal(jobs.out.trim(), "1 ['FAILED'] []", `the long job was cancelled (a cancelled job ends FAILED): ${jobs.out}`);
  const after = await run(connection, 'spark.range(10).count()', 2 * STEP_MS);
  assert.equal(after.out.trim(), '10', `Spark still works after the interrupt: ${after.out}`);

  // Stop: the application ends (FINISHED through the comm-port shutdown, or KILLED) and nothing is live.
  const stopAt = Date.now();
  await kernel.kill(STEP_MS);
  timings.stopToDead = seconds(Date.now() - stopAt);
  assert.equal((await kernel.poll()).alive, false);
  const [ended] = await appsTagged(kernelTag(kernel.kernelId));
  assert.ok(ended && ['FINISHED', 'KILLED'].includes(ended.state), `final state ${ended?.state}`);
  assert.deepEqual(await appsTagged(kernelTag(kernel.kernelId), LIVE_APP_STATES), []);
});

test('an application killed outside Atrium: the kernel is seen dead within seconds with YARN\'s reason; only its own installation lists it (another may not kill it), and once ended killOrphan is done without error; one RM query per interval serves every kernel', { timeout: 10 * 60_000 }, async (t) => {
  const { kernel, launchMs } = await launchKernel(t);
  timings.submitToKernelInfo2 = seconds(launchMs);
  const appId = kernel.engineId;

  // Two followed applications (this kernel and a pretend second), still one request per interval.
  const before = launcher.poller.requests;
  const windowStart = Date.now();
  const pretend = kernelTag(`other-${randomUUID()}`);
  launcher.poller.track(pretend, appId);
  t.after(() => launcher.poller.untrack(pretend));
  await new Promise((r) => setTimeout(r, 5 * POLL_MS)); // a measuring window, not a stand-in for a condition
  const perInterval = (launcher.poller.requests - before) / ((Date.now() - windowStart) / POLL_MS);
  assert.ok(perInterval <= 1.2, `${perInterval.toFixed(2)} RM requests per interval with two kernels followed`);

  // The orphan sweep's side while the application runs: this installation lists it; another (not started: no
  // poller needed) neither lists it nor may kill it.
  const otherInstallation = makeLauncher(sparkSubmitSettings(cluster!, ensureSparkVenv()), randomUUID());
  const own = await launcher.listOwnEngines();
  const engine = own.find((e) => e.engineId === appId);
  assert.ok(engine, `this installation lists ${appId}: ${JSON.stringify(own)}`);
  assert.equal(engine.kernelId, kernel.kernelId, 'the kernel id from the application\'s tag is the kernel row\'s id');
  assert.equal(engine.label, `YARN application ${appId}`);
  assert.ok(Math.abs(engine.createdAt.getTime() - (Date.now() - launchMs)) < 5 * 60_000, `created ${engine.createdAt.toISOString()}`);
  assert.deepEqual((await otherInstallation.listOwnEngines()).filter((e) => e.engineId === appId), [], 'another installation does not list it');
  await assert.rejects(otherInstallation.killOrphan(engine), /does not carry this installation's tag/, 'nor may it kill it');
  const [stillRunning] = await appsTagged(kernelTag(kernel.kernelId));
  assert.equal(stillRunning?.state, 'RUNNING', 'the refused kill left it running');

  // ana kills her own application through the RM, outside Atrium.
  const killedAt = Date.now();
  const r = await rm('PUT', `/ws/v1/cluster/apps/${appId}/state?user.name=ana`, { state: 'KILLED' });
  assert.ok(r.status === 200 || r.status === 202, `${r.status} ${r.text}`);
  const status = await waitForDeath(kernel, 15_000);
  timings.outsideKillToDead = seconds(Date.now() - killedAt);
  assert.match(status.reason, new RegExp(`YARN application ${appId} is KILLED`));
  assert.match(status.reason, /killed by user ana/i, `YARN's own reason: ${status.reason}`);
  await assert.rejects(kernel.interrupt(), (e: unknown) => e instanceof LaunchError && e.code === 'KERNEL_DEAD');

  // The sweep after that kill: an ended application is done with, no error, and no longer listed.
  await launcher.killOrphan(engine);
  const [killed] = await appsTagged(kernelTag(kernel.kernelId));
  assert.equal(killed?.state, 'KILLED', 'the RM still says KILLED');
  assert.match(killed.diagnostics ?? '', /killed by user ana/i, 'by ana, not by the sweep');
  assert.deepEqual((await launcher.listOwnEngines()).filter((e) => e.engineId === appId), [], 'a killed application is no longer listed');
});

test('cancelling a pending launch kills its application', { timeout: 5 * 60_000 }, async (t) => {
  const kernelId = randomUUID();
  killAppsOf(t, kernelId);
  const phases: string[] = [];
  let cancelled = false;
  const launch = launcher.launch(
    { kernelId, kernelspec: spec, username: 'ana', sizeProfile: 'small' },
    {
      deadlineMs: LAUNCH_MS,
      onPhase: (p) => {
        phases.push(p);
        if (!cancelled && p.startsWith('submitted to YARN')) {
          cancelled = true;
          launcher.cancel(kernelId, 'cancelled by the test');
        }
      },
    },
  );
  await assert.rejects(
    launch,
    (e: unknown) => e instanceof LaunchError && e.code === 'LAUNCH_FAILED' && /cancelled by the test; its YARN application application_\d+_\d+ was killed/.test(e.message),
  );
  const [app] = await until('the cancelled launch\'s application to be killed', async () => {
    const apps = await appsTagged(kernelTag(kernelId));
    return apps.length && apps.every((a) => a.state === 'KILLED') ? apps : undefined;
  }, STEP_MS);
  assert.equal(app!.user, 'ana');
});
