// Re-summarizes a kept trace (bench/notebook/results/traces/*.trace.json.gz) and, with --into, replaces the
// matching entry of a results JSON's "traces":
//   node --import tsx bench/notebook/analyze-trace.ts <trace.json[.gz]> [--into results.json --name load-1000]
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { analyzeTrace } from './trace-analysis';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');
const { values, positionals } = parseArgs({ allowPositionals: true, options: { into: { type: 'string' }, name: { type: 'string' } } });
const file = positionals[0];
if (!file) throw new Error('usage: analyze-trace.ts <trace> [--into results.json --name scenario]');
const summary = analyzeTrace(file, { chunksDir: path.join(root, '.next') });
if (values.into && values.name) {
  const report = JSON.parse(fs.readFileSync(values.into, 'utf8'));
  report.traces[values.name] = { ...summary, file: path.relative(root, path.resolve(file)) };
  fs.writeFileSync(values.into, JSON.stringify(report, null, 1) + '\n');
  console.log(`updated traces.${values.name} in ${values.into}`);
} else console.log(JSON.stringify(summary, null, 1));
