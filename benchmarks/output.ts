/**
 * Writes a run's files: benchmarks/results/<date>-<host>[-quick].json (raw), .md (tables) and
 * -<chart>.svg, and (full runs) the tables and charts into benchmarks/README.md between its
 * results markers.
 */
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { renderCharts } from './charts.js';
import { renderMarkdown } from './report.js';
import type { RawResults } from './results.js';
import { ROOT } from './systems.js';

export const RESULTS_DIR = path.join(ROOT, 'benchmarks/results');
const README = path.join(ROOT, 'benchmarks/README.md');
const START = '<!-- results:start (written by npm run bench) -->';
const END = '<!-- results:end -->';

export function resultsName(raw: RawResults): string {
  return `${raw.date.slice(0, 10)}-${raw.machine.host}${raw.quick ? '-quick' : ''}${raw.scope ? `-${raw.scope}` : ''}`;
}

export function writeResults(raw: RawResults, options: { readme: boolean; json?: boolean }): { markdown: string; files: string[] } {
  mkdirSync(RESULTS_DIR, { recursive: true });
  const name = resultsName(raw);
  const files: string[] = [];
  const charts: Array<{ title: string; file: string }> = [];
  for (const c of renderCharts(raw)) {
    const file = `${name}-${c.name}.svg`;
    writeFileSync(path.join(RESULTS_DIR, file), c.svg);
    charts.push({ title: c.title, file });
    files.push(path.join('benchmarks/results', file));
  }
  const markdown = renderMarkdown(raw, charts);
  if (options.json !== false) {
    writeFileSync(path.join(RESULTS_DIR, `${name}.json`), `${JSON.stringify(raw, null, 1)}\n`);
    files.unshift(path.join('benchmarks/results', `${name}.json`));
  }
  writeFileSync(path.join(RESULTS_DIR, `${name}.md`), `${markdown}\n`);
  files.splice(options.json !== false ? 1 : 0, 0, path.join('benchmarks/results', `${name}.md`));
  if (options.readme) {
    const summary = renderMarkdown(raw, charts, { fullReport: `results/${name}.md` });
    updateReadme(summary.replace(/\]\(([^)]+\.svg)\)/g, (_, f: string) => `](results/${f})`));
  }
  return { markdown, files };
}

function updateReadme(md: string): void {
  if (!existsSync(README)) return;
  const text = readFileSync(README, 'utf8');
  const a = text.indexOf(START);
  const b = text.indexOf(END);
  if (a < 0 || b < a) return;
  // The report's headings go one level down, under the README's own section.
  const body = md.replace(/^(#+) /gm, '#$1 ');
  writeFileSync(README, `${text.slice(0, a + START.length)}\n\n${body}\n\n${text.slice(b)}`);
}
