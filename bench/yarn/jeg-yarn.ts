// Jupyter Enterprise Gateway 3.3.0's own YARN cluster-mode kernel, for the YARN launch bench. Nothing of JEG
// is committed here: its kernelspec (etc/kernelspecs/spark_python_yarn_cluster: kernel.json + bin/run.sh) and
// its launcher (etc/kernel-launchers/python/scripts/launch_ipykernel.py) come from the PyPI sdist, downloaded
// with pip once into ~/.cache/atrium/bench/ (ATRIUM_CACHE_DIR moves it) and copied into the run's own
// directory. The stock kernel.json is read and only its site-specific values are replaced (see
// jegKernelspec(): paths, queue, driver size); run.sh and launch_ipykernel.py are used byte for byte.
// The launcher imports pycryptodomex (`Cryptodome`), which the shared Spark venv does not have: the version
// JEG's own bench venv resolved is installed with pip --target into a cache folder that goes on the AM's
// PYTHONPATH (spark.yarn.appMasterEnv.PYTHONPATH, where the stock kernelspec puts its own site paths), so the
// AM runs the SAME interpreter as Atrium's kernel with one extra import path.
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';

export const JEG_VERSION = '3.3.0';
const cacheRoot = process.env.ATRIUM_CACHE_DIR ?? path.join(os.homedir(), '.cache', 'atrium');
export const jegCacheDir = path.join(cacheRoot, 'bench', `jeg-${JEG_VERSION}`);
const SDIST_DEADLINE_MS = 10 * 60_000;

/** The files the bench takes from the sdist, relative to its top folder. */
const SDIST_FILES = {
  kernelJson: 'etc/kernelspecs/spark_python_yarn_cluster/kernel.json',
  runSh: 'etc/kernelspecs/spark_python_yarn_cluster/bin/run.sh',
  launcher: 'etc/kernel-launchers/python/scripts/launch_ipykernel.py',
} as const;

export interface JegSdist {
  tarball: string;
  sha256: string;
  /** Extracted top folder (jupyter_enterprise_gateway-3.3.0/). */
  root: string;
  kernelJson: string;
  runSh: string;
  launcher: string;
}

function run(cmd: string, args: string[], what: string, options: { cwd?: string; env?: NodeJS.ProcessEnv } = {}): string {
  const r = spawnSync(cmd, args, { encoding: 'utf8', timeout: SDIST_DEADLINE_MS, cwd: options.cwd, env: options.env });
  if (r.status !== 0) throw new Error(`${what} failed (${r.error?.message ?? `exit ${r.status ?? r.signal}`}):\n${(r.stdout ?? '') + (r.stderr ?? '')}`.slice(0, 4000));
  return r.stdout ?? '';
}

/** `pip download --no-binary :all: --no-deps jupyter_enterprise_gateway==3.3.0` once, then extracts the three files. */
export function ensureJegSdist(pipPython: string, log: (m: string) => void): JegSdist {
  fs.mkdirSync(jegCacheDir, { recursive: true });
  const tarball = path.join(jegCacheDir, `jupyter_enterprise_gateway-${JEG_VERSION}.tar.gz`);
  if (!fs.existsSync(tarball)) {
    log(`downloading the jupyter_enterprise_gateway ${JEG_VERSION} sdist with pip into ${jegCacheDir} (once; cached)`);
    run(pipPython, ['-m', 'pip', 'download', '--disable-pip-version-check', '--no-binary', ':all:', '--no-deps', `jupyter_enterprise_gateway==${JEG_VERSION}`, '-d', jegCacheDir], 'pip download');
    if (!fs.existsSync(tarball)) throw new Error(`pip download did not leave ${tarball}`);
  }
  const sha256 = createHash('sha256').update(fs.readFileSync(tarball)).digest('hex');
  const top = `jupyter_enterprise_gateway-${JEG_VERSION}`;
  const root = path.join(jegCacheDir, 'src', top);
  const marker = path.join(jegCacheDir, 'src', '.complete');
  if (!fs.existsSync(marker) || fs.readFileSync(marker, 'utf8').trim() !== sha256) {
    fs.rmSync(path.join(jegCacheDir, 'src'), { recursive: true, force: true });
    fs.mkdirSync(path.join(jegCacheDir, 'src'), { recursive: true });
    run('tar', ['-xzf', tarball, '-C', path.join(jegCacheDir, 'src'), ...Object.values(SDIST_FILES).map((f) => `${top}/${f}`)], 'tar');
    fs.writeFileSync(marker, sha256 + '\n');
  }
  const files = Object.fromEntries(Object.entries(SDIST_FILES).map(([k, f]) => [k, path.join(root, f)])) as Record<keyof typeof SDIST_FILES, string>;
  for (const f of Object.values(files)) if (!fs.existsSync(f)) throw new Error(`${f} missing from the sdist`);
  return { tarball, sha256, root, ...files };
}

/** pycryptodomex for JEG's launcher in the AM, installed with the AM's own Python into a --target folder. */
export function ensureAmCryptodome(amPython: string, jegVenvSitePackages: string, log: (m: string) => void): { dir: string; version: string } {
  const dist = fs.readdirSync(jegVenvSitePackages).find((d) => /^pycryptodomex-[\d.]+\.dist-info$/.test(d));
  const version = dist ? /^pycryptodomex-([\d.]+)\.dist-info$/.exec(dist)![1]! : '3.23.0';
  const pyVersion = run(amPython, ['-c', 'import sys; print("%d.%d" % sys.version_info[:2])'], 'python --version').trim();
  const dir = path.join(jegCacheDir, `am-pythonpath-py${pyVersion}-pycryptodomex-${version}`);
  if (!fs.existsSync(path.join(dir, '.complete'))) {
    log(`installing pycryptodomex ${version} for JEG's launcher into ${dir} (once; cached)`);
    fs.rmSync(dir, { recursive: true, force: true });
    run(amPython, ['-m', 'pip', 'install', '-q', '--disable-pip-version-check', '--no-deps', '--only-binary', ':all:', '--target', dir, `pycryptodomex==${version}`], 'pip install --target');
    fs.writeFileSync(path.join(dir, '.complete'), new Date().toISOString() + '\n');
  }
  run(amPython, ['-c', 'import Cryptodome.Cipher.AES, Cryptodome.PublicKey.RSA'], 'import Cryptodome', { env: { ...process.env, PYTHONPATH: dir } });
  return { dir, version };
}

export interface JegKernelSettings {
  sparkHome: string;
  amPython: string;
  hadoopConfDir: string;
  sparkConfDir: string;
  javaHome: string;
  queue: string;
  /** Same as Atrium's default size after its split: --driver-memory, spark.driver.memoryOverhead, --driver-cores. */
  driverMemoryMb: number;
  driverOverheadMb: number;
  driverCores: number;
  /** Extra folder on the AM's PYTHONPATH (pycryptodomex). */
  amPythonPath: string;
}

/**
 * The stock kernel.json with its site-specific values replaced. Everything else (process proxy class, argv
 * flags incl. `--RemoteProcessProxy.spark-context-initialization-mode lazy`, the SPARK_OPTS structure, run.sh)
 * stays as shipped. Returns the kernelspec and a list of what was changed, for the report.
 */
export function jegKernelspec(stock: Record<string, any>, runShPath: string, s: JegKernelSettings): { spec: Record<string, any>; changes: string[] } {
  const spec = JSON.parse(JSON.stringify(stock)) as Record<string, any>;
  const venvBin = path.dirname(s.amPython);
  const stockOpts: string = stock.env.SPARK_OPTS;
  const changes: string[] = [];
  // SPARK_OPTS: the stock string, with the HDP/conda paths swapped for this cluster's and the queue + driver
  // size Atrium's launch uses added right after --name (the stock spec leaves them to the cluster defaults).
  let opts = stockOpts
    .replace(/spark\.yarn\.appMasterEnv\.PYTHONPATH=\S+/, `spark.yarn.appMasterEnv.PYTHONPATH=${s.amPythonPath}`)
    .replace(/spark\.yarn\.appMasterEnv\.PATH=\S+/, `spark.yarn.appMasterEnv.PATH=${venvBin}:$PATH`);
  opts = opts.replace(
    /--name \$\{KERNEL_ID:-ERROR__NO__KERNEL_ID\}/,
    (m) => `${m} --queue ${s.queue} --driver-memory ${s.driverMemoryMb}m --driver-cores ${s.driverCores} --conf spark.driver.memoryOverhead=${s.driverOverheadMb}m`,
  );
  if (opts === stockOpts || !opts.includes('--queue')) throw new Error(`the stock SPARK_OPTS changed shape; review jegKernelspec(): ${stockOpts}`);
  changes.push(`SPARK_OPTS: + --queue ${s.queue} --driver-memory ${s.driverMemoryMb}m --driver-cores ${s.driverCores} --conf spark.driver.memoryOverhead=${s.driverOverheadMb}m; appMasterEnv.PYTHONPATH → pycryptodomex folder; appMasterEnv.PATH → the Spark venv's bin`);
  spec.env = {
    ...stock.env,
    SPARK_HOME: s.sparkHome,
    PYSPARK_PYTHON: s.amPython,
    SPARK_OPTS: opts,
    // Not in the stock env: JEG passes the kernel only its kernelspec env, KERNEL_* and EG_INHERITED_ENVS, so
    // what spark-submit needs on this host is named here (a JEG deployment sets these in its image/env).
    HADOOP_CONF_DIR: s.hadoopConfDir,
    YARN_CONF_DIR: s.hadoopConfDir,
    SPARK_CONF_DIR: s.sparkConfDir,
    JAVA_HOME: s.javaHome,
    PATH: `${venvBin}:/usr/local/bin:/usr/bin:/bin`,
  };
  // The stock PYTHONPATH names HDP's Spark 2 python dirs; spark-submit forwards the client's PYTHONPATH to the
  // AM, so it is dropped (pyspark is in the AM Python's site-packages and, via PYSPARK_ARCHIVES_PATH, on its path).
  delete spec.env.PYTHONPATH;
  changes.push('env: SPARK_HOME, PYSPARK_PYTHON → the Spark venv; + HADOOP_CONF_DIR, YARN_CONF_DIR, SPARK_CONF_DIR, JAVA_HOME, PATH; − PYTHONPATH (HDP paths)');
  spec.argv = [runShPath, ...stock.argv.slice(1)];
  changes.push('argv[0] → this run\'s copy of the stock bin/run.sh');
  return { spec, changes };
}

/** Writes <share>/kernels/spark_python_yarn_cluster/{kernel.json, bin/run.sh, scripts/launch_ipykernel.py}. */
export function installJegKernelspec(sdist: JegSdist, shareDir: string, settings: JegKernelSettings): { dir: string; changes: string[]; spec: Record<string, any> } {
  const dir = path.join(shareDir, 'kernels', 'spark_python_yarn_cluster');
  fs.mkdirSync(path.join(dir, 'bin'), { recursive: true });
  fs.mkdirSync(path.join(dir, 'scripts'), { recursive: true });
  const runSh = path.join(dir, 'bin', 'run.sh');
  fs.copyFileSync(sdist.runSh, runSh);
  fs.chmodSync(runSh, 0o755);
  fs.copyFileSync(sdist.launcher, path.join(dir, 'scripts', 'launch_ipykernel.py'));
  const stock = JSON.parse(fs.readFileSync(sdist.kernelJson, 'utf8'));
  const { spec, changes } = jegKernelspec(stock, runSh, settings);
  fs.writeFileSync(path.join(dir, 'kernel.json'), JSON.stringify(spec, null, 2) + '\n');
  return { dir, changes, spec };
}
