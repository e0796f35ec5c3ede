/**
 * One redis-benchmark run (the real tool, C client): `-t set` or `-t get` with `-c`, `-P`,
 * `-r`, `-d`, `-n`, CSV output parsed into ops/s and latency percentiles.
 */
import { spawnTracked, stopChild } from './processes.js';

export interface RbRun {
  readonly test: 'SET' | 'GET';
  readonly port: number;
  readonly requests: number;
  readonly clients: number;
  readonly pipeline: number;
  readonly keyspace: number;
  readonly valueBytes: number;
  readonly timeoutMs: number;
}

export interface RbResult {
  readonly rps: number;
  readonly avgMs: number;
  readonly p50Ms: number;
  readonly p95Ms: number;
  readonly p99Ms: number;
  readonly maxMs: number;
  /** Wall-clock seconds of the run (including connection setup). */
  readonly seconds: number;
}

export function rbArgs(run: RbRun): string[] {
  return [
    '-h', '127.0.0.1',
    '-p', String(run.port),
    '-t', run.test.toLowerCase(),
    '-n', String(run.requests),
    '-c', String(run.clients),
    '-r', String(run.keyspace),
    '-d', String(run.valueBytes),
    '-P', String(run.pipeline),
    '--csv',
  ];
}

export async function redisBenchmark(run: RbRun): Promise<RbResult> {
  const started = performance.now();
  const child = spawnTracked('redis-benchmark', rbArgs(run), { stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  child.stdout?.on('data', (d: Buffer) => (stdout += d.toString('utf8')));
  child.stderr?.on('data', (d: Buffer) => (stderr += d.toString('utf8')));
  const timer = setTimeout(() => void stopChild(child, 'SIGKILL', 0), run.timeoutMs);
  const code = await new Promise<number | null>((resolve, reject) => {
    child.once('error', reject);
    child.once('exit', (c) => resolve(c));
  });
  clearTimeout(timer);
  const seconds = (performance.now() - started) / 1000;
  if (code !== 0) throw new Error(`redis-benchmark ${rbArgs(run).join(' ')} failed (exit ${code}): ${stderr}${stdout}`);
  // redis-benchmark prints error replies to stderr/stdout and still exits 0.
  if (/\bERR\b|Error|error:/i.test(stderr)) throw new Error(`redis-benchmark saw errors: ${stderr.slice(0, 2000)}`);
  for (const line of stdout.split('\n')) {
    const cells = line.split('","').map((c) => c.replace(/"/g, '').trim());
    if (cells.length < 8 || cells[0] !== run.test) continue;
    return {
      rps: Number(cells[1]),
      avgMs: Number(cells[2]),
      p50Ms: Number(cells[4]),
      p95Ms: Number(cells[5]),
      p99Ms: Number(cells[6]),
      maxMs: Number(cells[7]),
      seconds,
    };
  }
  throw new Error(`redis-benchmark printed no ${run.test} result:\n${stdout}\n${stderr}`);
}
