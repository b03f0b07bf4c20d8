#!/usr/bin/env node
// Creates the benchmark's Python venvs from bench/requirements.txt, idempotently:
//   ~/.cache/atrium/bench-venv-<hash>/{kernel,jeg,kg}   (ATRIUM_CACHE_DIR overrides ~/.cache/atrium)
// <hash> covers requirements.txt and the base Python's version: changing a pin makes new venvs, an
// unchanged file reuses them (a `.complete` marker is written last, so a half-built venv is rebuilt).
// Usage: node bench/setup.mjs            (prints the venvs as JSON)
//        import { ensureBenchVenvs } from './setup.mjs'   (what kernel-bench.ts does)
// Base Python: $ATRIUM_BENCH_PYTHON, else python3.11, else a python3 that is 3.11.
import { createHash } from 'node:crypto';
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const here = path.dirname(fileURLToPath(import.meta.url));
export const requirementsFile = path.join(here, 'requirements.txt');
const cacheDir = process.env.ATRIUM_CACHE_DIR ?? path.join(os.homedir(), '.cache', 'atrium');
const PIP_DEADLINE_MS = 15 * 60_000;

/** Sections of requirements.txt: `# venv: NAME` starts one; other comments and blank lines are skipped. */
export function readSections(text = fs.readFileSync(requirementsFile, 'utf8')) {
  const sections = {};
  let current;
  for (const raw of text.split('\n')) {
    const line = raw.trim();
    const header = /^#\s*venv:\s*([a-z0-9_-]+)\s*$/i.exec(line);
    if (header) {
      current = header[1];
      sections[current] = [];
    } else if (line && !line.startsWith('#')) {
      if (!current) throw new Error(`${requirementsFile}: "${line}" comes before any "# venv: NAME" line`);
      sections[current].push(line);
    }
  }
  return sections;
}

function pythonVersion(python) {
  const result = spawnSync(python, ['-c', 'import sys, venv, ensurepip; print("%d.%d.%d" % sys.version_info[:3])'], {
    encoding: 'utf8',
    timeout: 30_000,
  });
  return result.status === 0 ? result.stdout.trim() : undefined;
}

export function findBasePython() {
  const candidates = process.env.ATRIUM_BENCH_PYTHON ? [process.env.ATRIUM_BENCH_PYTHON] : ['python3.11', 'python3', '/usr/bin/python3'];
  for (const candidate of candidates) {
    const version = pythonVersion(candidate);
    if (version?.startsWith('3.11.')) return { python: candidate, version };
  }
  throw new Error(
    `No Python 3.11 with venv and ensurepip found (tried ${candidates.join(', ')}). ` +
      'Install one (Debian: apt-get install python3.11 python3.11-venv) or set ATRIUM_BENCH_PYTHON.',
  );
}

function run(cmd, args, log) {
  log(`$ ${cmd} ${args.join(' ')}`);
  const result = spawnSync(cmd, args, { stdio: ['ignore', 'inherit', 'inherit'], timeout: PIP_DEADLINE_MS });
  if (result.status !== 0) {
    throw new Error(`${cmd} ${args.join(' ')} failed (${result.error?.message ?? `exit ${result.status ?? result.signal}`})`);
  }
}

/**
 * @returns {{ root: string, basePython: string, pythonVersion: string,
 *             venvs: Record<string, { dir: string, python: string, bin: string }> }}
 */
export function ensureBenchVenvs({ log = (m) => console.error(`[bench setup] ${m}`) } = {}) {
  const text = fs.readFileSync(requirementsFile, 'utf8');
  const sections = readSections(text);
  const base = findBasePython();
  const key = createHash('sha256').update(text).update(`\0python ${base.version}`).digest('hex').slice(0, 12);
  const root = path.join(cacheDir, `bench-venv-${key}`);
  const venvs = {};
  for (const [name, requirements] of Object.entries(sections)) {
    const dir = path.join(root, name);
    const bin = path.join(dir, 'bin');
    const python = path.join(bin, 'python');
    venvs[name] = { dir, python, bin };
    const marker = path.join(dir, '.complete');
    if (fs.existsSync(marker)) continue;
    log(`creating venv "${name}" in ${dir} (once; cached): ${requirements.join(' ')}`);
    fs.rmSync(dir, { recursive: true, force: true });
    fs.mkdirSync(root, { recursive: true });
    run(base.python, ['-m', 'venv', dir], log);
    const reqFile = path.join(dir, 'requirements.txt');
    fs.writeFileSync(reqFile, requirements.join('\n') + '\n');
    run(python, ['-m', 'pip', 'install', '-q', '--disable-pip-version-check', '-r', reqFile], log);
    fs.writeFileSync(marker, new Date().toISOString() + '\n');
  }
  return { root, basePython: base.python, pythonVersion: base.version, venvs };
}

if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  try {
    console.log(JSON.stringify(ensureBenchVenvs(), null, 2));
  } catch (error) {
    console.error(`[bench setup] ${error.message}`);
    process.exit(1);
  }
}
