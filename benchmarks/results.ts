/**
 * The raw results of a run (what goes into the JSON file) and the aggregation every table and
 * chart uses: medians over repetitions with min and max, and ratios to redis-server computed per
 * repetition (each repetition measures every system, minutes apart) and then their median.
 */
import type { BenchPlan } from './config.js';
import type { LatencySummary, SecondSample } from './driver.js';
import type { ProfileSummary } from './cpuprofile.js';
import { ROUTING_SYSTEM, type SystemId, type SystemSpec } from './systems.js';

export interface RbSample {
  readonly rep: number;
  readonly system: SystemId;
  readonly workload: string;
  readonly test: 'SET' | 'GET';
  readonly pipeline: number;
  readonly valueBytes: number;
  readonly keyspace: number;
  readonly requests: number;
  readonly rps: number;
  readonly avgMs: number;
  readonly p50Ms: number;
  readonly p95Ms: number;
  readonly p99Ms: number;
  readonly maxMs: number;
  readonly seconds: number;
  /** CPU seconds of the system's processes during the measured run. */
  readonly cpuSeconds: number;
  /** Error replies the system sent during the measured run (INFO stats total_error_replies). */
  readonly errorReplies: number;
}

export interface DriverSample {
  readonly rep: number;
  readonly system: SystemId;
  readonly workload: string;
  /** 'max' = closed loop; otherwise the fraction of the maximum the open-loop rate was set to. */
  readonly load: number | 'max';
  readonly seconds: number;
  readonly targetRate: number;
  readonly achievedRate: number;
  readonly sent: number;
  readonly ok: number;
  readonly errors: number;
  readonly skipped: number;
  readonly errorSamples: string[];
  readonly latency: LatencySummary;
  readonly byCommand: Record<string, LatencySummary>;
  readonly lag: LatencySummary;
  readonly driverCpuSeconds: number;
  readonly systemCpuSeconds: number;
  /** Successful operations including warm-up, over which systemCpuSeconds was measured. */
  readonly totalOk: number;
}

export interface FillSample {
  readonly rep: number;
  readonly system: SystemId;
  readonly keyPrefix: string;
  readonly keys: number;
  readonly valueBytes: number;
  readonly seconds: number;
  /** MSETs that failed and were retried. */
  readonly errors: number;
  readonly errorSamples: string[];
}

export interface FailureSample {
  readonly rep: number;
  readonly rate: number;
  readonly seconds: number;
  readonly killAtS: number;
  readonly restartAtS: number;
  /** When the restarted node's client port was open again. */
  readonly portOpenAtS: number;
  /** When every node saw both peers up again (undefined: not within the run). */
  readonly peersUpAtS: number | undefined;
  /** peers_up of INFO ring on every node, polled after the restart (-1: no answer). */
  readonly peerPolls: Array<{ t: number; peersUp: number[] }>;
  readonly ok: number;
  readonly errors: number;
  readonly errorSamples: string[];
  readonly latency: LatencySummary;
  readonly perSecond: SecondSample[];
}

/** One run of the routing group: a test at a fixed rate through one kind of client. */
export interface RoutingSample {
  readonly rep: number;
  /** plain: ioredis connections all to node 1; cluster: ioredis Cluster clients (each key to its coordinator). */
  readonly client: 'plain' | 'cluster';
  readonly test: 'SET' | 'GET';
  /** 1 or 2: whether this client ran first or second for this test in its repetition (the order alternates). */
  readonly order: number;
  readonly connections: number;
  readonly seconds: number;
  readonly targetRate: number;
  readonly achievedRate: number;
  readonly sent: number;
  readonly ok: number;
  readonly errors: number;
  readonly skipped: number;
  readonly errorSamples: string[];
  readonly latency: LatencySummary;
  readonly lag: LatencySummary;
  readonly driverCpuSeconds: number;
  /** CPU seconds of all the cluster's processes during the run (warm-up included). */
  readonly systemCpuSeconds: number;
  /** Successful operations including the warm-up. */
  readonly totalOk: number;
  /** forwarded_writes of INFO ring added during the run (warm-up included), per node and summed. */
  readonly forwardedByNode: number[];
  readonly forwarded: number;
}

export interface CostSample {
  readonly rep: number;
  readonly system: SystemId;
  /** Sum over the system's processes of each process's peak RSS (VmHWM). */
  readonly peakRssTotalMiB: number;
  /** The largest single process. */
  readonly peakRssMaxMiB: number;
}

export interface RawResults {
  readonly format: 'dynis-bench/1';
  readonly date: string;
  readonly quick: boolean;
  /**
   * A partial run (--only or --systems naming a subset): the groups and systems it ran, e.g.
   * "routing"; it goes into the file names, so that it never overwrites a complete run's files.
   * Absent for a complete run.
   */
  readonly scope?: string;
  readonly machine: Record<string, string | number>;
  readonly plan: BenchPlan;
  readonly systems: readonly SystemSpec[];
  durationSeconds: number;
  readonly rb: RbSample[];
  readonly driver: DriverSample[];
  readonly fills: FillSample[];
  readonly failures: FailureSample[];
  readonly costs: CostSample[];
  /** The routing group (cluster-aware clients); absent in files of runs before it existed. */
  readonly routing: RoutingSample[];
  readonly profiles: ProfileSummary[];
  /**
   * CPU use of the machine while each system was measured: everything (/proc/stat), this run's
   * own processes (runner, servers, driver, redis-benchmark), and the rest: other processes that
   * competed for the same cores. In cores (CPU seconds per second).
   */
  readonly machineLoad: Array<{ rep: number; system: SystemId; seconds: number; busyCores: number; oursCores: number; otherCores: number }>;
  /** Attempts of a system's repetition that failed and were run again (their samples are not in the results). */
  readonly incidents: Array<{ rep: number; system: SystemId; attempt: number; error: string }>;
  /** Wall-clock seconds of every phase of the run, in order (where the run's time went). */
  readonly phases: Array<{ rep: string; system: string; phase: string; seconds: number }>;
}

// --- Aggregation ------------------------------------------------------------------------------

export interface Stat {
  readonly median: number;
  readonly min: number;
  readonly max: number;
  readonly n: number;
}

export function median(xs: readonly number[]): number {
  if (xs.length === 0) return NaN;
  const s = [...xs].sort((a, b) => a - b);
  const mid = Math.floor(s.length / 2);
  return s.length % 2 === 1 ? (s[mid] as number) : ((s[mid - 1] as number) + (s[mid] as number)) / 2;
}

export function stat(xs: readonly number[]): Stat {
  const ys = xs.filter((x) => Number.isFinite(x));
  return { median: median(ys), min: ys.length ? Math.min(...ys) : NaN, max: ys.length ? Math.max(...ys) : NaN, n: ys.length };
}

export const BASELINE: SystemId = 'redis';

/**
 * Per-repetition ratio of f(sample) to f(the baseline's sample of the same repetition); pairs in
 * which either sample is not `usable` are left out.
 */
function ratios<T extends { rep: number; system: SystemId }>(
  samples: readonly T[],
  all: readonly T[],
  same: (a: T, b: T) => boolean,
  f: (s: T) => number,
  usable: (s: T) => boolean = () => true,
): number[] {
  const out: number[] = [];
  for (const s of samples) {
    const b = all.find((x) => x.system === BASELINE && x.rep === s.rep && same(x, s));
    if (b && f(b) > 0 && usable(s) && usable(b)) out.push(f(s) / f(b));
  }
  return out;
}

/**
 * An open-loop sample in which the driver itself fell behind: sends skipped, less than 97% of the
 * target rate achieved, or the driver's lateness (lag p99) at least half the p99 latency. Its tail
 * measures the driver as much as the server.
 */
export function driverBound(s: DriverSample): boolean {
  if (s.load === 'max') return false;
  return openLoopDriverBound(s);
}

function openLoopDriverBound(s: Pick<DriverSample, 'skipped' | 'achievedRate' | 'targetRate' | 'lag' | 'latency'>): boolean {
  return s.skipped > 0 || s.achievedRate < 0.97 * s.targetRate || s.lag.p99Ms >= 0.5 * s.latency.p99Ms;
}

export interface RbRow {
  readonly system: SystemId;
  readonly workload: string;
  readonly test: 'SET' | 'GET';
  readonly rps: Stat;
  readonly ratio: Stat;
  readonly p50Ms: Stat;
  readonly p99Ms: Stat;
  readonly p99Ratio: Stat;
  readonly cpuPer100k: Stat;
  /** Error replies over all repetitions. */
  readonly errorReplies: number;
}

export function rbRows(raw: RawResults): RbRow[] {
  const rows: RbRow[] = [];
  const same = (a: RbSample, b: RbSample): boolean => a.workload === b.workload && a.test === b.test;
  for (const w of raw.plan.redisBenchmark.workloads) {
    for (const test of ['SET', 'GET'] as const) {
      for (const sys of raw.systems) {
        const ss = raw.rb.filter((s) => s.system === sys.id && s.workload === w.name && s.test === test);
        if (ss.length === 0) continue;
        rows.push({
          system: sys.id,
          workload: w.name,
          test,
          rps: stat(ss.map((s) => s.rps)),
          ratio: stat(ratios(ss, raw.rb, same, (s) => s.rps)),
          p50Ms: stat(ss.map((s) => s.p50Ms)),
          p99Ms: stat(ss.map((s) => s.p99Ms)),
          p99Ratio: stat(ratios(ss, raw.rb, same, (s) => s.p99Ms)),
          cpuPer100k: stat(ss.map((s) => (s.cpuSeconds / s.requests) * 100_000)),
          errorReplies: ss.reduce((n, s) => n + (s.errorReplies ?? 0), 0),
        });
      }
    }
  }
  return rows;
}

export interface DriverRow {
  readonly system: SystemId;
  readonly workload: string;
  readonly load: number | 'max';
  readonly targetRate: Stat;
  readonly achievedRate: Stat;
  readonly ratio: Stat;
  readonly p50Ms: Stat;
  readonly p90Ms: Stat;
  readonly p99Ms: Stat;
  readonly p999Ms: Stat;
  readonly maxMs: Stat;
  readonly p99Ratio: Stat;
  readonly errors: number;
  /** Repetitions in which the driver fell behind (see driverBound). */
  readonly driverBound: number;
  readonly lagP99Ms: Stat;
  /** Driver CPU seconds per second of the run (1.0 = one core). */
  readonly driverCores: Stat;
  readonly cpuPer100k: Stat;
  /** [percentile, median ms] */
  readonly curve: Array<[number, number]>;
}

export function driverRows(raw: RawResults): DriverRow[] {
  const keys: Array<[string, number | 'max']> = [];
  for (const s of raw.driver) if (!keys.some(([w, l]) => w === s.workload && l === s.load)) keys.push([s.workload, s.load]);
  const rows: DriverRow[] = [];
  const same = (a: DriverSample, b: DriverSample): boolean => a.workload === b.workload && a.load === b.load;
  for (const [workload, load] of keys) {
    for (const sys of raw.systems) {
      const ss = raw.driver.filter((s) => s.system === sys.id && s.workload === workload && s.load === load);
      if (ss.length === 0) continue;
      const percentiles = ss[0]?.latency.curve.map(([p]) => p) ?? [];
      rows.push({
        system: sys.id,
        workload,
        load,
        targetRate: stat(ss.map((s) => s.targetRate)),
        achievedRate: stat(ss.map((s) => s.achievedRate)),
        ratio: stat(ratios(ss, raw.driver, same, (s) => s.achievedRate)),
        p50Ms: stat(ss.map((s) => s.latency.p50Ms)),
        p90Ms: stat(ss.map((s) => s.latency.p90Ms)),
        p99Ms: stat(ss.map((s) => s.latency.p99Ms)),
        p999Ms: stat(ss.map((s) => s.latency.p999Ms)),
        maxMs: stat(ss.map((s) => s.latency.maxMs)),
        p99Ratio: stat(ratios(ss, raw.driver, same, (s) => s.latency.p99Ms, (s) => !driverBound(s))),
        errors: ss.reduce((n, s) => n + s.errors, 0),
        driverBound: ss.filter(driverBound).length,
        lagP99Ms: stat(ss.map((s) => s.lag.p99Ms)),
        driverCores: stat(ss.map((s) => s.driverCpuSeconds / (s.seconds + raw.plan.driver.warmupSeconds))),
        cpuPer100k: stat(ss.map((s) => (s.totalOk > 0 ? (s.systemCpuSeconds / s.totalOk) * 100_000 : NaN))),
        curve: percentiles.map((p, i) => [p, median(ss.map((s) => s.latency.curve[i]?.[1] ?? NaN))]),
      });
    }
  }
  return rows;
}

export interface RoutingRow {
  readonly client: 'plain' | 'cluster';
  readonly test: 'SET' | 'GET';
  readonly connections: number;
  readonly targetRate: Stat;
  readonly achievedRate: Stat;
  readonly p50Ms: Stat;
  readonly p90Ms: Stat;
  readonly p99Ms: Stat;
  readonly p999Ms: Stat;
  readonly maxMs: Stat;
  readonly errors: number;
  /** Repetitions in which the driver fell behind (as for the fixed-rate driver runs). */
  readonly driverBound: number;
  readonly lagP99Ms: Stat;
  readonly cpuPer100k: Stat;
  /** Forwarded writes per successful operation (warm-up included in both). */
  readonly forwardedPerOp: Stat;
  /** Forwarded writes, summed over nodes and repetitions. */
  readonly forwarded: number;
}

/** Per test: cluster client ÷ plain client, per repetition, median over repetitions. */
export interface RoutingRatio {
  readonly test: 'SET' | 'GET';
  readonly p50: Stat;
  readonly p90: Stat;
  readonly p99: Stat;
  readonly p999: Stat;
  readonly max: Stat;
  readonly achievedRate: Stat;
  readonly cpuPer100k: Stat;
}

function routingSamples(raw: RawResults): RoutingSample[] {
  return raw.routing ?? []; // older result files have no routing group
}

export function routingRows(raw: RawResults): RoutingRow[] {
  const all = routingSamples(raw);
  const rows: RoutingRow[] = [];
  for (const test of ['SET', 'GET'] as const) {
    for (const client of ['plain', 'cluster'] as const) {
      const ss = all.filter((s) => s.test === test && s.client === client);
      if (ss.length === 0) continue;
      rows.push({
        client,
        test,
        connections: ss[0]?.connections ?? 0,
        targetRate: stat(ss.map((s) => s.targetRate)),
        achievedRate: stat(ss.map((s) => s.achievedRate)),
        p50Ms: stat(ss.map((s) => s.latency.p50Ms)),
        p90Ms: stat(ss.map((s) => s.latency.p90Ms)),
        p99Ms: stat(ss.map((s) => s.latency.p99Ms)),
        p999Ms: stat(ss.map((s) => s.latency.p999Ms)),
        maxMs: stat(ss.map((s) => s.latency.maxMs)),
        errors: ss.reduce((n, s) => n + s.errors, 0),
        driverBound: ss.filter(openLoopDriverBound).length,
        lagP99Ms: stat(ss.map((s) => s.lag.p99Ms)),
        cpuPer100k: stat(ss.map((s) => (s.totalOk > 0 ? (s.systemCpuSeconds / s.totalOk) * 100_000 : NaN))),
        forwardedPerOp: stat(ss.map((s) => (s.totalOk > 0 ? s.forwarded / s.totalOk : NaN))),
        forwarded: ss.reduce((n, s) => n + s.forwarded, 0),
      });
    }
  }
  return rows;
}

export function routingRatios(raw: RawResults): RoutingRatio[] {
  const all = routingSamples(raw);
  const out: RoutingRatio[] = [];
  for (const test of ['SET', 'GET'] as const) {
    const pairs: Array<[RoutingSample, RoutingSample]> = [];
    for (const c of all.filter((s) => s.test === test && s.client === 'cluster')) {
      const p = all.find((s) => s.test === test && s.client === 'plain' && s.rep === c.rep);
      if (p) pairs.push([p, c]);
    }
    if (pairs.length === 0) continue;
    const r = (f: (s: RoutingSample) => number): Stat => stat(pairs.filter(([p]) => f(p) > 0).map(([p, c]) => f(c) / f(p)));
    out.push({
      test,
      p50: r((s) => s.latency.p50Ms),
      p90: r((s) => s.latency.p90Ms),
      p99: r((s) => s.latency.p99Ms),
      p999: r((s) => s.latency.p999Ms),
      max: r((s) => s.latency.maxMs),
      achievedRate: r((s) => s.achievedRate),
      cpuPer100k: r((s) => (s.totalOk > 0 ? s.systemCpuSeconds / s.totalOk : NaN)),
    });
  }
  return out;
}

export interface CostRow {
  readonly system: SystemId;
  readonly peakRssTotalMiB: Stat;
  readonly peakRssMaxMiB: Stat;
}

export function costRows(raw: RawResults): CostRow[] {
  return raw.systems
    .map((sys) => {
      const ss = raw.costs.filter((c) => c.system === sys.id);
      return { system: sys.id, peakRssTotalMiB: stat(ss.map((c) => c.peakRssTotalMiB)), peakRssMaxMiB: stat(ss.map((c) => c.peakRssMaxMiB)) };
    })
    .filter((r) => r.peakRssTotalMiB.n > 0);
}

export interface FailureSecond {
  readonly second: number;
  readonly ok: Stat;
  readonly errors: Stat;
  readonly p99Ms: Stat;
}

export function failureSeconds(raw: RawResults): FailureSecond[] {
  const n = Math.max(0, ...raw.failures.map((f) => f.perSecond.length));
  return Array.from({ length: n }, (_, second) => {
    const at = raw.failures.map((f) => f.perSecond[second]).filter((s): s is SecondSample => s !== undefined);
    return {
      second,
      ok: stat(at.map((s) => s.ok)),
      errors: stat(at.map((s) => s.errors)),
      p99Ms: stat(at.filter((s) => s.ok > 0).map((s) => s.p99Ms)),
    };
  });
}

export function systemLabel(raw: RawResults, id: SystemId): string {
  return raw.systems.find((s) => s.id === id)?.label ?? (id === ROUTING_SYSTEM.id ? ROUTING_SYSTEM.label : id);
}
