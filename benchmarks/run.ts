/**
 * Benchmark runner: the same redis-benchmark workloads against a real redis-server and dynis,
 * started fresh in this run on this machine, reported side by side with ratios.
 *
 *   npm run bench              full run (several repetitions, median with min and max)
 *   npm run bench -- --quick   one short repetition per workload: a smoke check (about a minute)
 *
 * Writes benchmarks/results/<date>-<host>.json and .md; prints the Markdown table.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { connect, createServer } from 'node:net';
import { cpus, hostname, tmpdir, totalmem } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const quick = process.argv.includes('--quick');
const quiet = process.env.CI !== undefined || !process.stdout.isTTY;

interface Workload {
  readonly name: string;
  readonly tests: string;
  readonly pipeline: number;
  readonly valueBytes: number;
  readonly requests: number;
}

const REQUESTS = quick ? 20_000 : 200_000;
const REPEATS = quick ? 1 : 3;
const WORKLOADS: Workload[] = [
  { name: 'P1 100B', tests: 'set,get', pipeline: 1, valueBytes: 100, requests: REQUESTS },
  { name: 'P16 100B', tests: 'set,get', pipeline: 16, valueBytes: 100, requests: REQUESTS * 4 },
  ...(quick
    ? []
    : [
        { name: 'P1 1KB', tests: 'set,get', pipeline: 1, valueBytes: 1024, requests: REQUESTS },
        { name: 'P1 10KB', tests: 'set,get', pipeline: 1, valueBytes: 10240, requests: REQUESTS / 2 },
      ]),
];

interface System {
  readonly name: string;
  start(port: number, dir: string): ChildProcess;
}

const SYSTEMS: System[] = [
  {
    name: 'redis-server',
    start: (port, dir) =>
      spawn('redis-server', ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', '--dir', dir], {
        stdio: 'ignore',
      }),
  },
  {
    name: 'redis-server (aof everysec)',
    start: (port, dir) =>
      spawn(
        'redis-server',
        ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'yes', '--appendfsync', 'everysec', '--dir', dir],
        { stdio: 'ignore' },
      ),
  },
  {
    name: 'dynis (1 node)',
    start: (port, dir) =>
      spawn(process.execPath, [path.join(ROOT, 'bin/dynis.js'), 'start', '--port', String(port), '--dir', dir, '--fsync', 'everysec'], {
        stdio: 'ignore',
      }),
  },
];

interface Sample {
  rps: number;
  p50: number;
  p99: number;
}

interface Result {
  system: string;
  workload: string;
  test: string;
  rps: { median: number; min: number; max: number };
  p50Ms: number;
  p99Ms: number;
  cpuSecondsPer100k: number;
  peakRssMiB: number;
}

function log(line: string): void {
  if (!quiet) process.stderr.write(`\r\x1b[K${line}`);
}

async function freePort(): Promise<number> {
  return new Promise((resolve) => {
    const srv = createServer();
    srv.listen(0, '127.0.0.1', () => {
      const addr = srv.address();
      srv.close(() => resolve(typeof addr === 'object' && addr ? addr.port : 0));
    });
  });
}

async function waitForPort(port: number): Promise<void> {
  const deadline = Date.now() + 20_000;
  while (Date.now() < deadline) {
    const ok = await new Promise<boolean>((resolve) => {
      const s = connect({ port, host: '127.0.0.1' }, () => {
        s.destroy();
        resolve(true);
      });
      s.on('error', () => resolve(false));
    });
    if (ok) return;
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`port ${port} did not open`);
}

/** CPU seconds (user + system) of a process, from /proc. */
function cpuSeconds(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  const ticks = Number(fields[11]) + Number(fields[12]);
  return ticks / 100;
}

function peakRssMiB(pid: number): number {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  const m = /VmHWM:\s+(\d+) kB/.exec(status);
  return m ? Number(m[1]) / 1024 : 0;
}

function redisBenchmark(port: number, w: Workload): Map<string, Sample> {
  const args = ['-h', '127.0.0.1', '-p', String(port), '-t', w.tests, '-n', String(w.requests), '-c', '50', '-r', '100000', '-d', String(w.valueBytes), '-P', String(w.pipeline), '--csv'];
  const res = spawnSync('redis-benchmark', args, { encoding: 'utf8', timeout: 600_000 });
  if (res.status !== 0) throw new Error(`redis-benchmark failed: ${res.stderr}`);
  const out = new Map<string, Sample>();
  for (const line of res.stdout.split('\n')) {
    const cells = line.split('","').map((c) => c.replace(/"/g, ''));
    if (cells.length < 7 || cells[0] === 'test') continue;
    out.set(cells[0] as string, { rps: Number(cells[1]), p50: Number(cells[4]), p99: Number(cells[6]) });
  }
  if (res.stderr.includes('ERR') || res.stdout.includes('ERR')) throw new Error(`redis-benchmark saw errors:\n${res.stdout}${res.stderr}`);
  return out;
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)] as number;
}

async function main(): Promise<void> {
  const results: Result[] = [];
  const started = Date.now();
  for (const system of SYSTEMS) {
    for (const w of WORKLOADS) {
      const samples = new Map<string, Sample[]>();
      let cpu = 0;
      let ops = 0;
      let rss = 0;
      for (let rep = 0; rep < REPEATS; rep++) {
        const port = await freePort();
        const dir = mkdtempSync(path.join(tmpdir(), 'dynis-bench-'));
        const child = system.start(port, dir);
        try {
          await waitForPort(port);
          log(`[${((Date.now() - started) / 1000).toFixed(0)}s] ${system.name} · ${w.name} · run ${rep + 1}/${REPEATS}`);
          const cpuBefore = cpuSeconds(child.pid as number);
          const got = redisBenchmark(port, w);
          cpu += cpuSeconds(child.pid as number) - cpuBefore;
          ops += w.requests * got.size;
          rss = Math.max(rss, peakRssMiB(child.pid as number));
          for (const [test, s] of got) samples.set(test, [...(samples.get(test) ?? []), s]);
        } finally {
          child.kill('SIGKILL');
          await new Promise((r) => child.once('exit', r));
          rmSync(dir, { recursive: true, force: true });
        }
      }
      for (const [test, ss] of samples) {
        const rps = ss.map((s) => s.rps);
        results.push({
          system: system.name,
          workload: w.name,
          test,
          rps: { median: median(rps), min: Math.min(...rps), max: Math.max(...rps) },
          p50Ms: median(ss.map((s) => s.p50)),
          p99Ms: median(ss.map((s) => s.p99)),
          cpuSecondsPer100k: ops > 0 ? (cpu / ops) * 100_000 : 0,
          peakRssMiB: rss,
        });
      }
    }
  }
  log('');
  const table = renderTable(results);
  process.stdout.write(`${table}\n`);
  const stamp = new Date().toISOString().slice(0, 10);
  const dir = path.join(ROOT, 'benchmarks/results');
  mkdirSync(dir, { recursive: true });
  const base = path.join(dir, `${stamp}-${hostname()}${quick ? '-quick' : ''}`);
  const machine = { host: hostname(), cpus: cpus().length, cpuModel: cpus()[0]?.model, memGiB: Math.round(totalmem() / 2 ** 30), node: process.version };
  writeFileSync(`${base}.json`, JSON.stringify({ date: new Date().toISOString(), quick, repeats: REPEATS, machine, results }, null, 2));
  writeFileSync(`${base}.md`, `${table}\n`);
  process.stdout.write(`results: ${path.relative(ROOT, base)}.json\n`);
}

function renderTable(results: Result[]): string {
  const baseline = (r: Result): Result | undefined =>
    results.find((b) => b.system === 'redis-server' && b.workload === r.workload && b.test === r.test);
  const rows = results.map((r) => {
    const b = baseline(r);
    const ratio = b ? (r.rps.median / b.rps.median).toFixed(2) : '';
    const p99ratio = b && b.p99Ms > 0 ? (r.p99Ms / b.p99Ms).toFixed(1) : '';
    return `| ${r.workload} | ${r.test} | ${r.system} | ${Math.round(r.rps.median).toLocaleString('en-US')} (${Math.round(r.rps.min).toLocaleString('en-US')}–${Math.round(r.rps.max).toLocaleString('en-US')}) | ${ratio}× | ${r.p50Ms.toFixed(3)} | ${r.p99Ms.toFixed(3)} | ${p99ratio}× | ${r.cpuSecondsPer100k.toFixed(2)} | ${r.peakRssMiB.toFixed(0)} |`;
  });
  return [
    '| workload | test | system | ops/s median (min–max) | vs redis | p50 ms | p99 ms | p99 vs redis | CPU s / 100k ops | peak RSS MiB |',
    '|---|---|---|---|---|---|---|---|---|---|',
    ...rows,
  ].join('\n');
}

main().catch((err: unknown) => {
  process.stderr.write(`bench: ${err instanceof Error ? err.stack : String(err)}\n`);
  process.exit(1);
});
