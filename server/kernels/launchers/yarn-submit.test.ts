// One spark-submit (yarn-submit.ts): its command line (an argv array, every value validated, no setting on it),
// its settings in a private properties file with the admins' spark-defaults.conf merged in under Atrium's, the
// Java properties parser and writer behind that (cases checked against java.util.Properties.load of JDK 17, and
// the merge against Spark 4.1.1's own reading of the same spark-defaults.conf), and spark-submit runs against a
// stand-in script.
import assert from 'node:assert/strict';
import fs from 'node:fs';
import fsp from 'node:fs/promises';
import { syncBuiltinESMExports } from 'node:module';
import os from 'node:os';
import path from 'node:path';
import { mock, test } from 'node:test';
import { LaunchError } from './base';
import { ATRIUM_APP_TAG } from './yarn-rm';
import {
  MIN_YARN_SIZE_MB,
  checkDriverGpuDiscovery,
  driverResources,
  kernelspecSparkConf,
  parseProperties,
  propertiesFileText,
  readSparkDefaults,
  removeStaleSubmitFiles,
  runSparkSubmit,
  sparkDefaultsFile,
  sparkSubmitCommand,
  splitLauncherArgv,
  submitFailure,
  type SubmitPlan,
} from './yarn-submit';

const INSTALLATION = '6F1C2A4E-0D2B-4C55-9E7A-1B2C3D4E5F60';
const TOKEN = 'tok_SECRET-0123456789abcdef';
const PROPS = '/run/atrium/spark-submit/k-1-abc.properties';

const plan = (over: Partial<SubmitPlan> = {}): SubmitPlan => ({
  kernelId: 'k-1',
  installationId: INSTALLATION,
  kernelspecName: 'spark_python_yarn_cluster',
  username: 'ana',
  impersonate: true,
  queue: 'risk',
  size: { name: 'small', vcores: 1, memoryMb: 2048, gpus: 0 },
  script: '/opt/atrium/launch_kernel.py',
  scriptArgs: ['--kernel-id', 'k-1', '--public-key', 'MCowBQYDK2VuAyEA+/='],
  pyFiles: '/var/atrium/atrium_launcher-abc.zip',
  containerEnv: { KERNEL_ID: 'k-1', KERNEL_USERNAME: 'ana', ATRIUM_LAUNCH_TOKEN: TOKEN },
  kernelPython: '/opt/venv/bin/python',
  sparkConf: { 'spark.executor.instances': '1' },
  ...over,
});

const command = (over: Partial<SubmitPlan> = {}) => sparkSubmitCommand(plan(over), PROPS);
const flag = (args: string[], name: string) => (args.includes(name) ? args[args.indexOf(name) + 1] : undefined);

test('spark-submit: cluster mode, proxy user, queue, driver sized from the profile, three tags, no waiting, script last', () => {
  const { args, properties: conf } = command();
  assert.deepEqual(args.slice(0, 4), ['--master', 'yarn', '--deploy-mode', 'cluster']);
  assert.equal(flag(args, '--proxy-user'), 'ana');
  assert.equal(flag(args, '--queue'), 'risk');
  assert.equal(flag(args, '--driver-memory'), '1664m');
  assert.equal(flag(args, '--driver-cores'), '1');
  assert.equal(flag(args, '--files'), '/var/atrium/atrium_launcher-abc.zip');
  assert.equal(conf['spark.yarn.tags'], `${ATRIUM_APP_TAG},atrium-kernel-k-1,atrium-installation-${INSTALLATION.toLowerCase()}`);
  assert.equal(conf['spark.yarn.submit.waitAppCompletion'], 'false');
  assert.equal(conf['spark.yarn.maxAppAttempts'], '1');
  assert.equal(conf['spark.driver.memoryOverhead'], '384m');
  assert.equal(conf['spark.yarn.appMasterEnv.PYSPARK_PYTHON'], '/opt/venv/bin/python');
  assert.equal(conf['spark.yarn.appMasterEnv.KERNEL_USERNAME'], 'ana');
  assert.equal(conf['spark.yarn.appMasterEnv.PYTHONPATH'], 'atrium_launcher-abc.zip', 'the localized zip, relative to the container');
  assert.equal(conf['spark.executor.instances'], '1');
  assert.equal(conf['spark.yarn.appMasterEnv.ATRIUM_LAUNCH_TOKEN'], TOKEN, 'the token reaches the AM through the properties file');
  // the launcher script and its arguments close the command line, untouched (no shell ever sees them)
  assert.deepEqual(args.slice(args.indexOf('/opt/atrium/launch_kernel.py')), ['/opt/atrium/launch_kernel.py', ...plan().scriptArgs]);
});

test('regression (token in ps): argv holds no setting and no secret; settings go in the properties file', () => {
  const { args } = command({ sparkConf: { 'spark.hadoop.fs.s3a.secret.key': 'admin-secret' } });
  assert.equal(args.includes('--conf'), false, 'no --conf at all');
  for (const arg of args) assert.doesNotMatch(arg, /tok_SECRET|admin-secret|ATRIUM_LAUNCH_TOKEN/);
  assert.equal(flag(args, '--properties-file'), PROPS);
  assert.ok(args.indexOf('--properties-file') < args.indexOf('/opt/atrium/launch_kernel.py'), 'an option of spark-submit, not of the app');
});

test('regression (Spark 3.x refused): no --load-spark-defaults, which only Spark 4.0+ knows; the defaults go in the file instead', () => {
  assert.equal(command().args.includes('--load-spark-defaults'), false);
});

test('without impersonation there is no --proxy-user; configuration cannot override Atrium\'s own settings', () => {
  const { args, properties: conf } = command({ impersonate: false, sparkConf: { 'spark.yarn.tags': 'evil', 'spark.yarn.submit.waitAppCompletion': 'true' } });
  assert.equal(args.includes('--proxy-user'), false);
  assert.equal(conf['spark.yarn.tags'], `${ATRIUM_APP_TAG},atrium-kernel-k-1,atrium-installation-${INSTALLATION.toLowerCase()}`);
  assert.equal(conf['spark.yarn.submit.waitAppCompletion'], 'false');
});

test('the properties file: one key=value a line, backslashes escaped (Java properties), ordinary values untouched', () => {
  const text = propertiesFileText(new Map([['spark.a', 'x=y: #z !w'], ['spark.b', 'C:\\tmp\\'], ['spark.c', 'ü€'], ['spark.yarn.appMasterEnv.ATRIUM_LAUNCH_TOKEN', TOKEN]]));
  assert.deepEqual(text.split('\n').slice(1), ['spark.a=x=y: #z !w', 'spark.b=C:\\\\tmp\\\\', 'spark.c=ü€', `spark.yarn.appMasterEnv.ATRIUM_LAUNCH_TOKEN=${TOKEN}`, '']);
  assert.match(text.split('\n')[0]!, /^#/);
});

test('driver resources: the AM container (memory + overhead) matches the size profile', () => {
  for (const [memoryMb, vcores, gpus, expected] of [
    [2048, 1, 0, { memoryMb: 1664, overheadMb: 384, cores: 1, gpus: 0 }],
    [8192, 2, 0, { memoryMb: 7372, overheadMb: 820, cores: 2, gpus: 0 }],
    [16384, 4, 2, { memoryMb: 14745, overheadMb: 1639, cores: 4, gpus: 2 }],
    [MIN_YARN_SIZE_MB, 1, 0, { memoryMb: 512, overheadMb: 384, cores: 1, gpus: 0 }],
  ] as const) {
    const driver = driverResources({ name: 'x', memoryMb, vcores, gpus }, 'k-1');
    assert.deepEqual(driver, expected);
    assert.equal(driver.memoryMb + driver.overheadMb, memoryMb, 'the container is the size quota counts');
  }
});

test('regression (vCores floored): a fractional size gets the next whole vCore, never fewer than it promises', () => {
  for (const [vcores, cores] of [[0.5, 1], [1.5, 2], [2.25, 3], [3, 3]] as const) {
    assert.equal(driverResources({ name: 'x', memoryMb: 4096, vcores, gpus: 0 }, 'k-1').cores, cores, `${vcores} vCores`);
    assert.equal(flag(command({ size: { name: 'x', memoryMb: 4096, vcores, gpus: 0 } }).args, '--driver-cores'), String(cores));
  }
});

test('regression (container bigger than quota): a size under Spark\'s minimum driver is refused, saying the minimum and what to do', () => {
  assert.equal(MIN_YARN_SIZE_MB, 896, '512 MB heap (Spark refuses under 450 MiB) + 384 MB overhead');
  for (const memoryMb of [512, 640, MIN_YARN_SIZE_MB - 1]) {
    assert.throws(
      () => command({ size: { name: 'tiny', memoryMb, vcores: 1, gpus: 0 } }),
      (e: unknown) =>
        e instanceof LaunchError &&
        e.code === 'INVALID_REQUEST' &&
        /^kernel k-1: size tiny \(1 vCore, [0-9.]+ GB\) is too small for a Spark driver on YARN, which needs at least 896 MB .*Choose a larger size, or ask an admin/.test(e.message),
      `${memoryMb} MB`,
    );
  }
});

test('regression (GPUs ignored): a size with GPUs asks Spark for them on the driver (YARN yarn.io/gpu); a size without asks for none', () => {
  const withGpus = command({ size: { name: 'gpu', memoryMb: 16384, vcores: 4, gpus: 2 } }).properties;
  assert.equal(withGpus['spark.driver.resource.gpu.amount'], '2');
  assert.equal(command({ size: { name: 'gpu', memoryMb: 16384, vcores: 4, gpus: 1 }, sparkConf: { 'spark.driver.resource.gpu.amount': '4' } }).properties['spark.driver.resource.gpu.amount'], '1', 'the size wins over configuration');
  assert.equal('spark.driver.resource.gpu.amount' in command().properties, false);
});

test('a driver asking for GPUs needs a discovery script (or plugin), from any source spark-submit reads; refused before spark-submit runs otherwise', () => {
  const settings = (entries: Record<string, string>) => new Map(Object.entries(entries));
  const refused = (e: unknown) =>
    e instanceof LaunchError && e.code === 'INVALID_REQUEST' && /asks for 2 GPUs, but Spark cannot find a driver's GPUs without a discovery script\. An admin must set spark\.driver\.resource\.gpu\.discoveryScript .*choose a size without GPUs/.test(e.message);
  assert.throws(() => checkDriverGpuDiscovery(settings({ 'spark.driver.resource.gpu.amount': '2' }), 'k-1'), refused);
  assert.throws(() => checkDriverGpuDiscovery(settings({ 'spark.driver.resource.gpu.amount': '2', 'spark.driver.resource.gpu.discoveryScript': '' }), 'k-1'), refused);
  assert.doesNotThrow(() => checkDriverGpuDiscovery(settings({ 'spark.driver.resource.gpu.amount': '2', 'spark.driver.resource.gpu.discoveryScript': '/opt/spark/getGpusResources.sh' }), 'k-1'));
  assert.doesNotThrow(() => checkDriverGpuDiscovery(settings({ 'spark.driver.resource.gpu.amount': '1', 'spark.resources.discoveryPlugin': 'com.nvidia.spark.ExclusiveModeGpuDiscoveryPlugin' }), 'k-1'));
  assert.doesNotThrow(() => checkDriverGpuDiscovery(settings({}), 'k-1'));
  assert.doesNotThrow(() => checkDriverGpuDiscovery(settings({ 'spark.driver.resource.gpu.amount': '0' }), 'k-1'));
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
      () => command(over),
      (e: unknown) => e instanceof LaunchError && e.code === 'INVALID_REQUEST' && message.test(e.message),
      what,
    );
  }
  // ordinary values pass, spaces included (argv, not a shell)
  assert.doesNotThrow(() => command({ containerEnv: { KERNEL_NOTE: 'a b, c=d (e)' } }));
});

test('regression (command substitution on the node): env values with the markers YARN expands in its launch script are refused, naming the variable', () => {
  // ContainerLaunch.expandEnvironment (Hadoop 3.5.0) rewrites each value before `export K="v"`: `{{` → `$`,
  // `}}` dropped, `<LOG_DIR>`, `<CPS>`, `<ADD_OPENS>` replaced. "{{(id)}}" would reach the script as "$(id)".
  for (const value of ['{{(id)}}', 'a{{b', 'a}}b', 'x<CPS>y', '<LOG_DIR>/x', 'x<ADD_OPENS>']) {
    assert.throws(
      () => command({ containerEnv: { KERNEL_X: value } }),
      (e: unknown) =>
        e instanceof LaunchError && e.code === 'INVALID_REQUEST' && /KERNEL_X may not hold .*"\{\{", "\}\}", <CPS>, <LOG_DIR> or <ADD_OPENS>/.test(e.message) && !e.message.includes(value),
      value,
    );
  }
  // near misses stay allowed: single braces, other angle brackets
  assert.doesNotThrow(() => command({ containerEnv: { KERNEL_X: '{a} }{ <cps> <LOG> {}' } }));
});

test('Atrium\'s kernel Python wins over a kernelspec env PYSPARK_PYTHON (Atrium\'s settings are set last)', () => {
  const { properties: conf } = command({ containerEnv: { KERNEL_ID: 'k-1', PYSPARK_PYTHON: '/somewhere/else/python' } });
  assert.equal(conf['spark.yarn.appMasterEnv.PYSPARK_PYTHON'], '/opt/venv/bin/python');
  // without a configured kernel Python, the kernelspec's stands
  assert.equal(command({ kernelPython: undefined, containerEnv: { PYSPARK_PYTHON: '/k/python' } }).properties['spark.yarn.appMasterEnv.PYSPARK_PYTHON'], '/k/python');
});

test('a spark_conf value with leading or trailing blanks is refused: Spark would trim it when reading the properties file', () => {
  for (const value of [' 4g', '4g ', ' ']) {
    assert.throws(
      () => command({ sparkConf: { 'spark.executor.memory': value } }),
      (e: unknown) => e instanceof LaunchError && e.code === 'INVALID_REQUEST' && /spark\.executor\.memory starts or ends with a blank/.test(e.message),
      JSON.stringify(value),
    );
  }
  assert.doesNotThrow(() => command({ sparkConf: { 'spark.driver.extraJavaOptions': '-Da=1 -Db=2', 'spark.empty': '' } }));
});

test('a container env value with leading or trailing blanks is refused too (a client\'s KERNEL_* among them)', () => {
  for (const value of [' x', 'x ']) {
    assert.throws(
      () => command({ containerEnv: { KERNEL_NOTE: value } }),
      (e: unknown) => e instanceof LaunchError && e.code === 'INVALID_REQUEST' && /KERNEL_NOTE starts or ends with a blank/.test(e.message),
      JSON.stringify(value),
    );
  }
  // Java's trim takes only characters up to U+0020: a no-break space stays, and is allowed.
  assert.doesNotThrow(() => command({ containerEnv: { KERNEL_NOTE: 'two words', KERNEL_EMPTY: '', KERNEL_NBSP: '\u00a0x' } }));
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

/** A stand-in spark-submit: records its argv and what it finds at --properties-file, then behaves as $FAKE_MODE says. */
function fakeSparkSubmit(dir: string): string {
  const script = path.join(dir, 'spark-submit');
  fs.writeFileSync(
    script,
    [
      '#!/bin/sh',
      'printf "%s\\n" "$@" > "$FAKE_OUT/argv"',
      'file=""; prev=""; for a in "$@"; do [ "$prev" = "--properties-file" ] && file="$a"; prev="$a"; done',
      'stat -c "%a" "$file" > "$FAKE_OUT/file-mode"; stat -c "%a" "$(dirname "$file")" > "$FAKE_OUT/dir-mode"; cp "$file" "$FAKE_OUT/properties"',
      // split: the id line and a UTF-8 character cut across two writes, and a last line without a newline
      'case "$FAKE_MODE" in split) printf "INFO Client: Submitted application application_1_004"; sleep 0.3; printf "2\\ncaf\\303"; sleep 0.3; printf "\\251\\nlast words"; exit 0;; esac',
      'echo "INFO Client: Submitted application application_1_0042"',
      // swap: the properties file is replaced by a directory, so removing it afterwards fails
      'case "$FAKE_MODE" in swap) rm -f "$file"; mkdir "$file"; exit 0;; esac',
      'case "$FAKE_MODE" in fail) echo "Exception in thread main java.io.IOException: no: queue risk" >&2; exit 3;; hang) sleep 60;; esac',
      // group: a child of its own (as the JVM's would be), its pid told, then a hang
      'case "$FAKE_MODE" in group) sleep 60 & echo $! > "$FAKE_OUT/child-pid"; wait; exit 0;; esac',
      'exit 0',
    ].join('\n'),
    { mode: 0o755 },
  );
  return script;
}

test('regression (token in ps): spark-submit gets its settings from a 0600 file in a 0700 dir, removed when it returns, fails or times out', async (t) => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'atrium-submit-'));
  t.after(() => fs.rmSync(dir, { recursive: true, force: true }));
  const program = fakeSparkSubmit(dir);
  const submitDir = path.join(dir, 'runtime', 'spark-submit');
  fs.mkdirSync(submitDir, { recursive: true, mode: 0o755 }); // a looser existing dir is tightened
  // The admins' defaults: one of them conflicts with a setting Atrium's configuration makes, one with Atrium's own.
  const confDir = path.join(dir, 'spark-conf');
  fs.mkdirSync(confDir);
  fs.writeFileSync(path.join(confDir, 'spark-defaults.conf'), 'spark.admin.only  from\\\n   defaults\nspark.executor.instances 9\nspark.yarn.tags evil\n');
  for (const mode of ['ok', 'fail', 'hang'] as const) {
    const out = fs.mkdtempSync(path.join(dir, `out-${mode}-`));
    const propertiesFile = path.join(submitDir, `k-1-${mode}.properties`);
    const { args, properties } = sparkSubmitCommand(plan(), propertiesFile);
    const started = Date.now();
    const outcome = await runSparkSubmit({
      kernelId: 'k-1',
      program,
      args,
      properties,
      propertiesFile,
      env: { PATH: process.env.PATH ?? '/usr/bin:/bin', SPARK_CONF_DIR: confDir, FAKE_OUT: out, FAKE_MODE: mode },
      deadlineMs: mode === 'hang' ? 1_500 : 30_000,
    });
    assert.equal(outcome.status, { ok: 'submitted', fail: 'failed', hang: 'timeout' }[mode]);
    assert.equal(outcome.appId, 'application_1_0042');
    if (mode === 'hang') assert.ok(Date.now() - started < 10_000, 'the deadline ended the wait');
    if (outcome.status === 'failed') assert.equal(outcome.code, 3);
    const argv = fs.readFileSync(path.join(out, 'argv'), 'utf8');
    assert.doesNotMatch(argv, /tok_SECRET|ATRIUM_LAUNCH_TOKEN/, `${mode}: the token is not on argv`);
    const written = fs.readFileSync(path.join(out, 'properties'), 'utf8');
    assert.match(written, new RegExp(`^spark\\.yarn\\.appMasterEnv\\.ATRIUM_LAUNCH_TOKEN=${TOKEN}$`, 'm'));
    // spark-defaults.conf merged in, under Atrium's settings (as --conf over the defaults file).
    assert.deepEqual(Object.fromEntries(parseProperties(written)), { 'spark.admin.only': 'fromdefaults', ...properties }, mode);
    assert.equal(fs.readFileSync(path.join(out, 'file-mode'), 'utf8').trim(), '600', mode);
    assert.equal(fs.readFileSync(path.join(out, 'dir-mode'), 'utf8').trim(), '700', mode);
    assert.equal(fs.existsSync(propertiesFile), false, `${mode}: the file is gone once spark-submit ${mode === 'ok' ? 'returned' : mode === 'fail' ? 'failed' : 'was killed'}`);
  }
  assert.deepEqual(fs.readdirSync(submitDir), []);
  await assert.rejects(
    runSparkSubmit({ kernelId: 'k-1', program: path.join(dir, 'missing'), args: [], properties: {}, propertiesFile: path.join(submitDir, 'x.properties'), env: { SPARK_CONF_DIR: confDir }, deadlineMs: 5_000 }),
    (e: unknown) => e instanceof LaunchError && /cannot run .*missing/.test(e.message),
  );
  assert.deepEqual(fs.readdirSync(submitDir), [], 'removed when spark-submit cannot even start');
  await assert.rejects(
    runSparkSubmit({ kernelId: 'k-1', program, args: [], properties: {}, propertiesFile: path.join(submitDir, 'y.properties'), env: { PATH: '/usr/bin:/bin' }, deadlineMs: 5_000 }),
    (e: unknown) => e instanceof LaunchError && /sets neither SPARK_CONF_DIR nor SPARK_HOME/.test(e.message),
  );
  fs.writeFileSync(path.join(confDir, 'spark-defaults.conf'), 'spark.ok 1\nspark.bad \\u00zz\n');
  await assert.rejects(
    runSparkSubmit({ kernelId: 'k-1', program, args: [], properties: {}, propertiesFile: path.join(submitDir, 'z.properties'), env: { SPARK_CONF_DIR: confDir }, deadlineMs: 5_000 }),
    (e: unknown) => e instanceof LaunchError && e.message.includes(`cannot read the Spark defaults file ${path.join(confDir, 'spark-defaults.conf')} (line 2: malformed`),
  );
  assert.deepEqual(fs.readdirSync(submitDir), [], 'nothing written when the defaults cannot be read');
});

// What java.util.Properties.load (JDK 17, through a UTF-8 Reader as Spark reads) makes of each input. `\\` in
// these TypeScript strings is one backslash in the file.
const JAVA_READS: [string, string, Record<string, string>][] = [
  ['plain', 'a=b\n', { a: 'b' }],
  ['blanks around a blank separator; trailing blanks kept', '  a   b  \n', { a: 'b  ' }],
  ['colon separator', 'a:b\n', { a: 'b' }],
  ['blank then "=": one separator; a second ":" is value', 'a = : b\n', { a: ': b' }],
  ['":" then "=": the "=" is value', 'a := b\n', { a: '= b' }],
  ['tabs and form feeds are blanks', 'a\t\t=\tb\nc\f d\n', { a: 'b', c: 'd' }],
  ['"#" and "!" comments, also indented', '# c\n! d\na=1\n   # e\n', { a: '1' }],
  ['continuation: the next line\'s leading blanks dropped', 'a=1 \\\n   2\n', { a: '1 2' }],
  ['an empty line after a continuation ends it', 'a=1\\\n\n b=2\n', { a: '1', b: '2' }],
  ['an even run of backslashes does not continue', 'a=1\\\\\nb=2\n', { a: '1\\', b: '2' }],
  ['an odd run does', 'a=1\\\\\\\n  2\n', { a: '1\\2' }],
  ['two continuations', 'a=1\\\n  \\\n   2\n', { a: '12' }],
  ['a comment never continues', '#a=b\\\nc=d\n', { c: 'd' }],
  ['"#" on a continued line is value', 'a=b\\\n# not a comment\n', { a: 'b# not a comment' }],
  ['a lone backslash line, then "#": a comment again (nothing before it)', '\\\n#c=1\nd=2\n', { d: '2' }],
  ['\\uXXXX, either case', 'a=\\u00fc\\u20AC\n\\u0041=\\u0042\n', { a: 'ü€', A: 'B' }],
  ['\\uXXXX surrogate pair', 'a=\\uD83D\\uDE00\n', { a: '😀' }],
  ['named escapes; any other escaped character is itself', 'a=\\t\\n\\r\\f\\x\\=\\:\\ \n', { a: '\t\n\r\fx=: ' }],
  ['an escaped backslash before "u" is no \\u escape', 'a=\\\\u0041\n', { a: '\\u0041' }],
  ['escaped separators in keys', 'k\\ ey=v\nk\\=ey=v\nk\\:ey:v\nk\\#x=v\n', { 'k ey': 'v', 'k=ey': 'v', 'k:ey': 'v', 'k#x': 'v' }],
  ['a continuation inside a key', 'a\\\n b=c\n', { ab: 'c' }],
  ['key only; empty value', 'a\nb=\n', { a: '', b: '' }],
  ['empty key', '=v\n', { '': 'v' }],
  ['a blank key separator then "=": empty key', ' =v\n', { '': 'v' }],
  ['a later duplicate wins', 'a=1\na=2\n', { a: '2' }],
  ['\\r\\n, \\r and \\n end lines', 'a=1\r\nb=2\rc=3\n', { a: '1', b: '2', c: '3' }],
  ['continuations across \\r\\n and \\r', 'a=1\\\r\n  2\r\nb=3\\\r  4\r', { a: '12', b: '34' }],
  ['a backslash at the end of the file is dropped', 'a=end\\', { a: 'end' }],
  ['and so is one before the last newline', 'a=end\\\n', { a: 'end' }],
  ['a byte order mark is part of the first key', '\ufeffa=bom\n', { '\ufeffa': 'bom' }],
  ['separators and comment marks inside a value are value', 'a=b=c: #d !e\n', { a: 'b=c: #d !e' }],
  ['blank lines and a last line without newline', '  \t\f \n\n  a=1', { a: '1' }],
  ['an escaped blank keeps leading blanks', 'a=  \\  lead\n', { a: '  lead' }],
  ['UTF-8 text as is', 'a=ü€\n', { a: 'ü€' }],
  ['the usual spark-defaults.conf layout', 'spark.x  =  a,\\\n    b,\\\n    c\nspark.y\t\tz\n', { 'spark.x': 'a,b,c', 'spark.y': 'z' }],
];

test('the properties parser reads what java.util.Properties.load reads', () => {
  for (const [what, text, expected] of JAVA_READS) assert.deepEqual(Object.fromEntries(parseProperties(text)), expected, what);
});

test('the properties parser refuses a malformed \\uXXXX (Java throws too), naming the line', () => {
  assert.throws(() => parseProperties('a=1\n# x\n\nb=\\u12'), /^PropertiesSyntaxError: line 4: malformed \\uXXXX escape "\\u12"$/);
  assert.throws(() => parseProperties('a=1\\\n  2\nb=x\\u12g4y\n'), /line 3: malformed \\uXXXX escape "\\u12g4"/);
  assert.throws(() => parseProperties('a=1\r\nb=2\r\\u00zz=3\n'), /line 3: malformed/);
});

test('the properties writer: whatever a key or value holds reads back the same (Java read these back identically)', () => {
  const awkward = new Map([
    ['ctl', `${Array.from({ length: 32 }, (_, i) => String.fromCharCode(i)).join('')}\x7f`],
    [' lead key', '  two leading'],
    ['\tk#!=:', '\t\ttab'],
    ['#k', '!v'],
    ['!k', '#v'],
    ['lone surrogates', 'a\ud800b\udc00c'],
    ['emoji😀', 'x😀y'],
    ['', 'empty key'],
    ['bs\\', '\\'],
    ['not line ends in Java \u0085\u2028', 'v\u0085\u2028'],
    ['spark.plain', 'x=y: #z !w'],
  ]);
  const text = propertiesFileText(awkward);
  assert.deepEqual([...parseProperties(text)], [...awkward]);
  assert.equal(text.split('\n').length, awkward.size + 2, 'one line each, a comment first and a newline last');
  assert.doesNotMatch(text, /[\0-\x08\x0b\x0e-\x1f\x7f\ud800-\udfff]/, 'no control character or surrogate written raw');
  for (const [what, , settings] of JAVA_READS) assert.deepEqual(Object.fromEntries(parseProperties(propertiesFileText(parseProperties(propertiesFileText(new Map(Object.entries(settings))))))), settings, what);
});

test('spark-defaults.conf is where spark-submit looks: $SPARK_CONF_DIR, else $SPARK_HOME/conf (empty = unset)', () => {
  const cases: [Record<string, string>, string | undefined][] = [
    [{ SPARK_CONF_DIR: '/etc/spark/conf', SPARK_HOME: '/opt/spark' }, '/etc/spark/conf/spark-defaults.conf'],
    [{ SPARK_HOME: '/opt/spark' }, '/opt/spark/conf/spark-defaults.conf'],
    [{ SPARK_CONF_DIR: '', SPARK_HOME: '/opt/spark' }, '/opt/spark/conf/spark-defaults.conf'],
    [{ SPARK_CONF_DIR: 'conf' }, path.resolve('conf/spark-defaults.conf')],
    [{ SPARK_HOME: '' }, undefined],
    [{ PATH: '/usr/bin' }, undefined],
  ];
  for (const [env, file] of cases) assert.equal(sparkDefaultsFile(env), file, JSON.stringify(env));
});

test('reading spark-defaults.conf: absent or not a regular file = no defaults; unreadable or malformed = a LaunchError naming it', async (t) => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'atrium-defaults-'));
  t.after(() => fs.rmSync(dir, { recursive: true, force: true }));
  const file = path.join(dir, 'spark-defaults.conf');
  assert.deepEqual(await readSparkDefaults(file, 'k-1'), new Map(), 'absent');
  assert.deepEqual(await readSparkDefaults(path.join(dir, 'not-a-dir', 'spark-defaults.conf'), 'k-1'), new Map());
  fs.mkdirSync(file);
  assert.deepEqual(await readSparkDefaults(file, 'k-1'), new Map(), 'a directory: Spark skips anything but a file');
  fs.rmdirSync(file);
  fs.writeFileSync(file, '# site\nspark.yarn.queue  adhoc\nspark.x=\\u00fc\n');
  assert.deepEqual(Object.fromEntries(await readSparkDefaults(file, 'k-1')), { 'spark.yarn.queue': 'adhoc', 'spark.x': 'ü' });
  fs.rmSync(file);
  fs.symlinkSync(file, file); // a link to itself: there, but unreadable (ELOOP), even for root
  await assert.rejects(
    readSparkDefaults(file, 'k-1'),
    (e: unknown) => e instanceof LaunchError && e.code === 'LAUNCH_FAILED' && e.message.startsWith(`kernel k-1: cannot read the Spark defaults file ${file} (ELOOP`),
  );
  fs.rmSync(file);
  fs.writeFileSync(file, 'spark.a=1\nspark.b=\\uXYZW\n');
  await assert.rejects(readSparkDefaults(file, 'k-1'), (e: unknown) => e instanceof LaunchError && e.message.includes(`${file} (line 2: malformed \\uXXXX escape "\\uXYZW")`));
});

test('stale properties files (a crashed portal\'s) are removed; younger ones, and other files, are left', async (t) => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'atrium-stale-'));
  t.after(() => fs.rmSync(dir, { recursive: true, force: true }));
  const old = new Date(Date.now() - 600_000);
  for (const name of ['old.properties', 'young.properties', 'old.txt']) fs.writeFileSync(path.join(dir, name), 'x');
  for (const name of ['old.properties', 'old.txt']) fs.utimesSync(path.join(dir, name), old, old);
  await removeStaleSubmitFiles(dir, 240_000);
  assert.deepEqual(fs.readdirSync(dir).sort(), ['old.txt', 'young.properties']);
  await removeStaleSubmitFiles(path.join(dir, 'missing'), 240_000); // no directory yet: nothing to do
});

/** A spark-submit run in `dir` against the stand-in, with spark-defaults.conf absent. */
function submitRig(t: { after(fn: () => unknown): void }) {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'atrium-submit-'));
  t.after(() => fs.rmSync(dir, { recursive: true, force: true }));
  const program = fakeSparkSubmit(dir);
  const submitDir = path.join(dir, 'runtime', 'spark-submit');
  const run = (
    mode: string,
    over: { propertiesFile?: string; logger?: { error(message: string, fields?: Record<string, unknown>): void }; plan?: Partial<SubmitPlan>; signal?: AbortSignal; out?: string } = {},
  ) => {
    const out = over.out ?? fs.mkdtempSync(path.join(dir, `out-${mode}-`));
    const propertiesFile = over.propertiesFile ?? path.join(submitDir, `k-1-${mode}.properties`);
    const { args, properties } = sparkSubmitCommand(plan(over.plan), propertiesFile);
    return runSparkSubmit({
      signal: over.signal,
      kernelId: 'k-1',
      program,
      args,
      properties,
      propertiesFile,
      env: { PATH: process.env.PATH ?? '/usr/bin:/bin', SPARK_CONF_DIR: path.join(dir, 'no-conf'), FAKE_OUT: out, FAKE_MODE: mode },
      deadlineMs: 30_000,
      ...(over.logger && { logger: { debug() {}, warn() {}, ...over.logger } }),
    });
  };
  return { dir, submitDir, run, confDir: path.join(dir, 'no-conf') };
}

/** Resolves once `check` holds; fails after `ms`. */
async function until(what: string, check: () => boolean, ms = 10_000): Promise<void> {
  const end = Date.now() + ms;
  while (!check()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

/** Whether `pid` still runs (a killed process not yet reaped, a zombie, does not). */
const alive = (pid: number) => {
  try {
    return !/^\d+ \(.*\) Z/.test(fs.readFileSync(`/proc/${pid}/stat`, 'utf8'));
  } catch {
    return false;
  }
};

test('regression (stop waits for spark-submit): an abort kills spark-submit\'s whole process group at once; the file is removed', async (t) => {
  const { dir, submitDir, run } = submitRig(t);
  const out = fs.mkdtempSync(path.join(dir, 'out-group-'));
  const abort = new AbortController();
  const started = Date.now();
  const outcome = run('group', { signal: abort.signal, out });
  await until('spark-submit to start its child', () => fs.existsSync(path.join(out, 'child-pid')) && fs.readFileSync(path.join(out, 'child-pid'), 'utf8').trim() !== '');
  const child = Number(fs.readFileSync(path.join(out, 'child-pid'), 'utf8'));
  abort.abort();
  const result = await outcome;
  assert.equal(result.status, 'cancelled');
  assert.equal(result.appId, 'application_1_0042', 'what it printed before is kept, so the launcher can kill that application');
  assert.ok(Date.now() - started < 10_000, `returned ${Date.now() - started} ms after the start, not at the 30 s deadline`);
  await until('the child to be gone', () => !alive(child), 5_000);
  assert.deepEqual(fs.readdirSync(submitDir), [], 'the properties file (with the token) is removed');
});

test('an abort before spark-submit runs: it never starts, nothing is written', async (t) => {
  const { dir, submitDir, run } = submitRig(t);
  const out = fs.mkdtempSync(path.join(dir, 'out-early-'));
  const abort = new AbortController();
  abort.abort();
  assert.deepEqual(await run('ok', { signal: abort.signal, out }), { status: 'cancelled', tail: [] });
  assert.equal(fs.existsSync(path.join(out, 'argv')), false, 'spark-submit did not run');
  assert.equal(fs.existsSync(submitDir), false);
});

test('regression (GPUs ignored): a GPU size without a discovery script is refused before spark-submit runs; one in spark-defaults.conf is enough', async (t) => {
  const { dir, confDir, submitDir, run } = submitRig(t);
  const gpuSize = { plan: { size: { name: 'gpu', memoryMb: 16384, vcores: 4, gpus: 1 } } };
  const out = fs.mkdtempSync(path.join(dir, 'out-gpu-'));
  await assert.rejects(run('ok', { ...gpuSize, out }), (e: unknown) => e instanceof LaunchError && e.code === 'INVALID_REQUEST' && /discovery script/.test(e.message));
  assert.equal(fs.existsSync(path.join(out, 'argv')), false, 'spark-submit did not run');
  assert.equal(fs.existsSync(submitDir), false, 'no properties file was written');

  fs.mkdirSync(confDir, { recursive: true });
  fs.writeFileSync(path.join(confDir, 'spark-defaults.conf'), 'spark.driver.resource.gpu.discoveryScript /opt/spark/examples/src/main/scripts/getGpusResources.sh\n');
  const ok = fs.mkdtempSync(path.join(dir, 'out-gpu-ok-'));
  assert.equal((await run('ok', { ...gpuSize, out: ok })).status, 'submitted');
  const written = Object.fromEntries(parseProperties(fs.readFileSync(path.join(ok, 'properties'), 'utf8')));
  assert.equal(written['spark.driver.resource.gpu.amount'], '1');
  assert.equal(written['spark.driver.resource.gpu.discoveryScript'], '/opt/spark/examples/src/main/scripts/getGpusResources.sh');
});

test('regression (another user\'s application): the id is read from whole lines, across output chunks; UTF-8 across chunks too', async (t) => {
  const { run } = submitRig(t);
  const outcome = await run('split');
  assert.equal(outcome.status, 'submitted');
  assert.equal(outcome.appId, 'application_1_0042', 'not application_1_004, the id cut at the chunk\'s end');
  assert.deepEqual(outcome.tail, ['INFO Client: Submitted application application_1_0042', 'café', 'last words']);
});

test('regression (outcome lost): a properties file that cannot be removed is logged; the submitted app is still reported', async (t) => {
  const { submitDir, run } = submitRig(t);
  const logged: string[] = [];
  const outcome = await run('swap', { logger: { error: (message, fields) => logged.push(`${message} ${JSON.stringify(fields)}`) } });
  assert.equal(outcome.status, 'submitted');
  assert.equal(outcome.appId, 'application_1_0042');
  assert.equal(logged.length, 1);
  assert.match(logged[0]!, new RegExp(`cannot remove the spark-submit properties file.*${path.join(submitDir, 'k-1-swap.properties')}`));
});

test('regression (token left on disk): a write that fails midway (ENOSPC) removes the partial file; a file already there is left alone', async (t) => {
  const { submitDir, run } = submitRig(t);
  const realWriteFile = fsp.writeFile;
  const full = mock.method(fsp, 'writeFile', async (file: Parameters<typeof fsp.writeFile>[0], data: string, options?: Parameters<typeof fsp.writeFile>[2]) => {
    await realWriteFile(file, data.slice(0, -20), options); // most of it, the token included
    throw Object.assign(new Error('ENOSPC: no space left on device, write'), { code: 'ENOSPC' });
  });
  syncBuiltinESMExports();
  try {
    await assert.rejects(run('ok'), /ENOSPC/);
  } finally {
    full.mock.restore();
    syncBuiltinESMExports();
  }
  assert.equal(full.mock.callCount(), 1);
  assert.deepEqual(fs.readdirSync(submitDir), [], 'no partial file holding the token');

  const theirs = path.join(submitDir, 'taken.properties');
  fs.writeFileSync(theirs, 'not ours');
  await assert.rejects(run('ok', { propertiesFile: theirs }), /EEXIST/);
  assert.equal(fs.readFileSync(theirs, 'utf8'), 'not ours', 'never written through, never removed');
});

test('the properties parser is linear: 20,000 lines (the old line count per line took ~20 s) parse well under a second', () => {
  const text = Array.from({ length: 20_000 }, (_, i) => (i % 3 === 0 ? `# comment ${i}` : i % 3 === 1 ? `spark.k${i} = v${i},\\\n    more` : `spark.k${i}\tv${i}`)).join('\r\n');
  const started = performance.now();
  const parsed = parseProperties(text);
  const took = performance.now() - started;
  assert.equal(parsed.size, 13_333);
  assert.equal(parsed.get('spark.k1'), 'v1,more');
  assert.ok(took < 2_000, `took ${Math.round(took)} ms`);
  // line numbers still count \r\n as one line end, continuations included
  assert.throws(() => parseProperties(`${text}\r\nspark.bad=\\u00zz`), new RegExp(`^PropertiesSyntaxError: line ${20_000 + 6_667 + 1}: malformed`));
});
