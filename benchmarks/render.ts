/**
 * Re-render the Markdown tables and SVG charts of a finished run from its raw JSON:
 *
 *   node dist/benchmarks/render.js benchmarks/results/<date>-<host>.json [--readme]
 */
import { readFileSync } from 'node:fs';
import { writeResults } from './output.js';
import type { RawResults } from './results.js';

const file = process.argv[2];
if (file === undefined) {
  process.stderr.write('usage: node dist/benchmarks/render.js RESULTS.json [--readme]\n');
  process.exit(2);
}
const raw = JSON.parse(readFileSync(file, 'utf8')) as RawResults;
const out = writeResults(raw, { readme: process.argv.includes('--readme'), json: false });
process.stdout.write(`${out.markdown}\nwrote ${out.files.join(', ')}\n`);
