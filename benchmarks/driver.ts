/**
 * The load driver: a child process (forked by the runner, so that its event loop and its CPU
 * use are its own) that runs one phase at a time on ioredis connections.
 *
 * Closed loop (`mode: 'closed'`): `concurrency` requests are always in flight; it measures the
 * maximum rate of a workload through this driver.
 *
 * Open loop (`mode: 'open'`): requests are scheduled at fixed intervals (1/rate) from the
 * start, whatever happens to earlier requests, and each latency is measured from the request's
 * *intended* send time, so a stall of the server shows up in every request it delayed
 * (no coordinated omission). The driver's own lateness (actual − intended send time) is
 * recorded separately, so the reader can see how much of a latency is the driver.
 *
 * Latencies go into HDR histograms (microseconds, 3 significant digits).
 *
 * Connections are plain ioredis clients spread round-robin over the given ports, or, with
 * `cluster`, ioredis `Cluster` clients (the ports are the startup nodes), which read the slot
 * map with CLUSTER SLOTS and send each key to the master of its slot: on dynis the key's
 * coordinator.
 */
import { build, type Histogram } from 'hdr-histogram-js';
import { Cluster, Redis } from 'ioredis';
import { TIMING } from './config.js';

export type PhaseKind = 'fill' | 'mix' | 'causal' | 'multi';

export interface PhaseSpec {
  readonly kind: PhaseKind;
  readonly ports: readonly number[];
  /** Plain connections, or (cluster) ioredis Cluster clients. */
  readonly connections: number;
  /** Connect ioredis Cluster clients (startup nodes: ports) instead of plain connections. */
  readonly cluster?: {
    readonly slotsRefreshTimeoutMs: number;
    readonly slotsRefreshIntervalMs: number;
  };
  readonly mode: 'closed' | 'open';
  /** Seconds recorded, after warmupSeconds that are not. */
  readonly seconds: number;
  readonly warmupSeconds: number;
  /** open: requests per second. */
  readonly rate?: number;
  /** closed: requests in flight. */
  readonly concurrency?: number;
  /** mix and multi: fraction of reads (GET / MGET). */
  readonly readFraction?: number;
  /** Key i is `${keyPrefix}${String(i).padStart(keyPad, '0')}`, i < keys. */
  readonly keyPrefix: string;
  readonly keyPad: number;
  readonly keys: number;
  readonly valueBytes: number;
  readonly multiKeys?: number;
  /** causal: VGET + VSET with the context read (dynis), or GET + SET (redis-server). */
  readonly causalCommands?: 'vget' | 'get';
  /** fill: keys per MSET and MSETs in flight. */
  readonly batchKeys?: number;
  readonly inFlight?: number;
  readonly commandTimeoutMs: number;
  readonly drainMs: number;
  readonly maxInFlight: number;
  readonly curvePercentiles: readonly number[];
  /** Keep a histogram per second of intended send time (the failure timeline). */
  readonly perSecond?: boolean;
}

export interface LatencySummary {
  readonly count: number;
  readonly meanMs: number;
  readonly p50Ms: number;
  readonly p90Ms: number;
  readonly p99Ms: number;
  readonly p999Ms: number;
  readonly maxMs: number;
  /** [percentile, ms] */
  readonly curve: Array<[number, number]>;
}

export interface SecondSample {
  readonly second: number;
  readonly ok: number;
  readonly errors: number;
  readonly p50Ms: number;
  readonly p99Ms: number;
  readonly maxMs: number;
}

export interface PhaseResult {
  readonly kind: PhaseKind;
  readonly mode: 'closed' | 'open';
  readonly seconds: number;
  readonly targetRate: number;
  /** Successful operations per second in the recorded window. */
  readonly achievedRate: number;
  readonly sent: number;
  readonly ok: number;
  readonly errors: number;
  /** open loop: sends skipped because maxInFlight requests were outstanding (also in errors). */
  readonly skipped: number;
  /** Successful operations including the warm-up (for CPU per operation). */
  readonly totalOk: number;
  readonly errorSamples: string[];
  readonly latency: LatencySummary;
  readonly byCommand: Record<string, LatencySummary>;
  /** open loop: actual − intended send time. */
  readonly lag: LatencySummary;
  readonly driverCpuSeconds: number;
  readonly perSecond: SecondSample[];
}

export type ToDriver = { readonly id: number; readonly phase: PhaseSpec } | { readonly id: number; readonly close: true };
export type FromDriver =
  | { readonly type: 'ready' }
  | { readonly type: 'progress'; readonly id: number; readonly ok: number; readonly errors: number }
  /** The recorded window of a timed phase begins now. */
  | { readonly type: 'recording'; readonly id: number }
  | { readonly type: 'result'; readonly id: number; readonly result: PhaseResult }
  | { readonly type: 'error'; readonly id: number; readonly message: string };

// ---------------------------------------------------------------------------------------------

const HIGHEST_US = TIMING.histogramMaxMs * 1000;

function histogram(): Histogram {
  return build({ lowestDiscernibleValue: 1, highestTrackableValue: HIGHEST_US, numberOfSignificantValueDigits: 3 });
}

function recordUs(h: Histogram, ms: number): void {
  h.recordValue(Math.min(HIGHEST_US, Math.max(1, Math.round(ms * 1000))));
}

function summarize(h: Histogram, curve: readonly number[]): LatencySummary {
  const at = (p: number): number => (h.totalCount === 0 ? 0 : h.getValueAtPercentile(p) / 1000);
  return {
    count: h.totalCount,
    meanMs: h.totalCount === 0 ? 0 : h.mean / 1000,
    p50Ms: at(50),
    p90Ms: at(90),
    p99Ms: at(99),
    p999Ms: at(99.9),
    maxMs: h.totalCount === 0 ? 0 : h.maxValue / 1000,
    curve: curve.map((p) => [p, p >= 100 ? h.maxValue / 1000 : at(p)] as [number, number]),
  };
}

/** A plain connection or a cluster client: both take the same commands. */
type Conn = Redis | Cluster;

const pools = new Map<string, Conn[]>();

async function pool(spec: PhaseSpec): Promise<Conn[]> {
  const { ports, connections, commandTimeoutMs, cluster } = spec;
  const key = `${cluster ? 'cluster' : 'plain'}:${ports.join(',')}/${connections}/${commandTimeoutMs}`;
  const existing = pools.get(key);
  if (existing) return existing;
  const conns: Conn[] = cluster
    ? Array.from(
        { length: connections },
        () =>
          new Cluster(
            ports.map((port) => ({ host: '127.0.0.1', port })),
            {
              lazyConnect: true,
              // Ready once CLUSTER INFO says the cluster is ok; reads go to the slot's master (the coordinator), as writes do.
              enableReadyCheck: true,
              scaleReads: 'master',
              enableAutoPipelining: false,
              slotsRefreshTimeout: cluster.slotsRefreshTimeoutMs,
              slotsRefreshInterval: cluster.slotsRefreshIntervalMs,
              redisOptions: {
                enableReadyCheck: false,
                disableClientInfo: true,
                maxRetriesPerRequest: 0,
                commandTimeout: commandTimeoutMs,
              },
            },
          ),
      )
    : Array.from(
        { length: connections },
        (_, i) =>
          new Redis({
            host: '127.0.0.1',
            port: ports[i % ports.length] as number,
            lazyConnect: true,
            enableAutoPipelining: false,
            // No INFO at connect: on dynis INFO's keyspace section counts keys by scanning them, which takes
            // seconds once the benchmark has written a few hundred thousand keys.
            enableReadyCheck: false,
            disableClientInfo: true, // CLIENT SETINFO is an error reply on redis-server 7.0
            enableOfflineQueue: false,
            maxRetriesPerRequest: 0,
            commandTimeout: commandTimeoutMs,
            retryStrategy: (times) => Math.min(times * 50, 500),
          }),
      );
  for (const c of conns) c.on('error', () => undefined); // reconnects are expected in the failure run
  await Promise.all(conns.map((c) => c.connect()));
  pools.set(key, conns);
  return conns;
}

type Op = (conn: Conn) => Promise<unknown>;
interface Workload {
  /** A new operation and the name its latency is recorded under. */
  next(): [string, Op];
}

function keyName(spec: PhaseSpec, i: number): string {
  return `${spec.keyPrefix}${String(i).padStart(spec.keyPad, '0')}`;
}

function randomKey(spec: PhaseSpec): string {
  return keyName(spec, Math.floor(Math.random() * spec.keys));
}

function workload(spec: PhaseSpec): Workload {
  const value = Buffer.alloc(spec.valueBytes, 'x');
  const reads = spec.readFraction ?? 0.5;
  switch (spec.kind) {
    case 'mix':
      return {
        next: () => {
          const key = randomKey(spec);
          return Math.random() < reads ? ['GET', (c) => c.get(key)] : ['SET', (c) => c.set(key, value)];
        },
      };
    case 'multi': {
      const n = spec.multiKeys ?? 10;
      return {
        next: () => {
          const keys = Array.from({ length: n }, () => randomKey(spec));
          if (Math.random() < reads) return ['MGET', (c) => c.mget(keys)];
          const args: Array<string | Buffer> = [];
          for (const k of keys) args.push(k, value);
          return ['MSET', (c) => c.mset(...args)];
        },
      };
    }
    case 'causal':
      return {
        next: () => {
          const key = randomKey(spec);
          if (spec.causalCommands === 'vget') {
            return [
              'VGET+VSET',
              async (c) => {
                const reply = (await c.call('VGET', key)) as [string, unknown[]];
                return c.call('VSET', key, reply[0], value);
              },
            ];
          }
          return [
            'GET+SET',
            async (c) => {
              await c.get(key);
              return c.set(key, value);
            },
          ];
        },
      };
    case 'fill':
      throw new Error('fill is not a timed workload');
  }
}

class Recorder {
  readonly all = histogram();
  readonly lag = histogram();
  readonly byCommand = new Map<string, Histogram>();
  readonly seconds: Array<{ ok: number; errors: number; h: Histogram }> = [];
  ok = 0;
  errors = 0;
  skipped = 0;
  sent = 0;
  /** Totals including warm-up, for the progress display. */
  progressOk = 0;
  progressErrors = 0;
  readonly errorSamples = new Set<string>();

  constructor(private readonly spec: PhaseSpec) {}

  private second(offsetMs: number): { ok: number; errors: number; h: Histogram } {
    const i = Math.max(0, Math.floor(offsetMs / 1000));
    while (this.seconds.length <= i) this.seconds.push({ ok: 0, errors: 0, h: histogram() });
    return this.seconds[i] as { ok: number; errors: number; h: Histogram };
  }

  success(name: string, latencyMs: number, recorded: boolean, offsetMs: number): void {
    this.progressOk++;
    if (!recorded) return;
    this.ok++;
    recordUs(this.all, latencyMs);
    let h = this.byCommand.get(name);
    if (!h) this.byCommand.set(name, (h = histogram()));
    recordUs(h, latencyMs);
    if (this.spec.perSecond) {
      const s = this.second(offsetMs);
      s.ok++;
      recordUs(s.h, latencyMs);
    }
  }

  failure(err: unknown, recorded: boolean, offsetMs: number): void {
    this.progressErrors++;
    if (!recorded) return;
    this.errors++;
    if (this.errorSamples.size < 5) this.errorSamples.add(err instanceof Error ? err.message : String(err));
    if (this.spec.perSecond) this.second(offsetMs).errors++;
  }

  result(targetRate: number, cpuSeconds: number): PhaseResult {
    const curve = this.spec.curvePercentiles;
    return {
      kind: this.spec.kind,
      mode: this.spec.mode,
      seconds: this.spec.seconds,
      targetRate,
      achievedRate: this.ok / this.spec.seconds,
      sent: this.sent,
      ok: this.ok,
      errors: this.errors,
      skipped: this.skipped,
      totalOk: this.progressOk,
      errorSamples: [...this.errorSamples],
      latency: summarize(this.all, curve),
      // Only the overall latency keeps the whole curve (it is what the charts draw); this keeps the JSON small.
      byCommand: Object.fromEntries([...this.byCommand].map(([k, h]) => [k, summarize(h, [])])),
      lag: summarize(this.lag, []),
      driverCpuSeconds: cpuSeconds,
      perSecond: this.seconds.map((s, i) => {
        const sum = summarize(s.h, []);
        return { second: i, ok: s.ok, errors: s.errors, p50Ms: sum.p50Ms, p99Ms: sum.p99Ms, maxMs: sum.maxMs };
      }),
    };
  }
}

function now(): number {
  return performance.now();
}

async function runClosed(spec: PhaseSpec, conns: Conn[], rec: Recorder, onRecording: () => void): Promise<void> {
  const w = workload(spec);
  const start = now();
  const recordFrom = start + spec.warmupSeconds * 1000;
  setTimeout(onRecording, Math.max(0, recordFrom - now()));
  const end = recordFrom + spec.seconds * 1000;
  const worker = async (i: number): Promise<void> => {
    const conn = conns[i % conns.length] as Conn;
    while (now() < end) {
      const [name, op] = w.next();
      const t0 = now();
      const recorded = t0 >= recordFrom;
      if (recorded) rec.sent++;
      try {
        await op(conn);
        const t1 = now();
        // A request that completes after the window is not counted, so the rate is ops in the window.
        rec.success(name, t1 - t0, recorded && t1 <= end, t0 - recordFrom);
      } catch (err) {
        rec.failure(err, recorded, t0 - recordFrom);
        await new Promise((r) => setTimeout(r, 1)); // do not spin on a dead connection
      }
    }
  };
  await Promise.all(Array.from({ length: spec.concurrency ?? 50 }, (_, i) => worker(i)));
}

async function runOpen(spec: PhaseSpec, conns: Conn[], rec: Recorder, onRecording: () => void): Promise<void> {
  const w = workload(spec);
  const rate = spec.rate ?? 1000;
  const interval = 1000 / rate;
  const start = now();
  const recordFrom = start + spec.warmupSeconds * 1000;
  setTimeout(onRecording, Math.max(0, recordFrom - now()));
  const end = recordFrom + spec.seconds * 1000;
  let i = 0;
  let inFlight = 0;
  let drained: (() => void) | undefined;
  /** Send every request whose intended time has come. Called by the timer and after every reply, so that
   * under load sends are not held back until the next timer tick (timers have 1 ms granularity). */
  const pump = (): void => {
    const t = now();
    for (;;) {
      const intended = start + i * interval;
      if (intended > t || intended >= end) break;
      i++;
      issue(intended);
    }
  };
  const issue = (intended: number): void => {
    const recorded = intended >= recordFrom;
    const offset = intended - recordFrom;
    if (recorded) rec.sent++;
    if (inFlight >= spec.maxInFlight) {
      if (recorded) rec.skipped++;
      rec.failure(new Error(`driver: more than ${spec.maxInFlight} requests in flight, send skipped`), recorded, offset);
      return;
    }
    const sentAt = now();
    if (recorded) recordUs(rec.lag, sentAt - intended);
    const [name, op] = w.next();
    inFlight++;
    op(conns[i % conns.length] as Conn).then(
      () => {
        inFlight--;
        rec.success(name, now() - intended, recorded, offset);
        if (inFlight === 0) drained?.();
        else pump();
      },
      (err: unknown) => {
        inFlight--;
        rec.failure(err, recorded, offset);
        if (inFlight === 0) drained?.();
        else pump();
      },
    );
  };
  await new Promise<void>((resolve) => {
    const tick = (): void => {
      pump();
      const nextAt = start + i * interval;
      if (nextAt >= end) return resolve();
      setTimeout(tick, Math.max(0, nextAt - now()));
    };
    tick();
  });
  if (inFlight > 0) {
    await new Promise<void>((resolve) => {
      drained = resolve;
      setTimeout(resolve, spec.drainMs);
    });
  }
  // Whatever has not answered by now counts as an error of its second.
  if (inFlight > 0) {
    rec.errors += inFlight;
    rec.errorSamples.add(`${inFlight} requests unanswered ${spec.drainMs} ms after the last send`);
  }
}

async function runFill(spec: PhaseSpec, conns: Conn[], rec: Recorder): Promise<void> {
  const value = Buffer.alloc(spec.valueBytes, 'x');
  const batch = Math.max(1, spec.batchKeys ?? 100);
  let next = 0;
  let c = 0;
  const worker = async (): Promise<void> => {
    while (next < spec.keys) {
      const from = next;
      next = Math.min(spec.keys, next + batch);
      const args: Array<string | Buffer> = [];
      for (let k = from; k < next; k++) args.push(keyName(spec, k), value);
      // The fill prepares data, it is not measured: a failed MSET is retried (and counted).
      for (let attempt = 1; ; attempt++) {
        try {
          await (conns[c++ % conns.length] as Conn).mset(...args);
          rec.progressOk += next - from;
          break;
        } catch (err) {
          rec.failure(err, true, 0);
          if (attempt >= TIMING.fillAttempts) throw err;
          await new Promise((r) => setTimeout(r, TIMING.fillRetryDelayMs * attempt));
        }
      }
    }
  };
  await Promise.all(Array.from({ length: spec.inFlight ?? 8 }, worker));
}

async function runPhase(id: number, spec: PhaseSpec): Promise<PhaseResult> {
  const conns = await pool(spec);
  const rec = new Recorder(spec);
  const progress = setInterval(() => send({ type: 'progress', id, ok: rec.progressOk, errors: rec.progressErrors }), TIMING.driverProgressMs);
  const cpu0 = process.cpuUsage();
  try {
    if (spec.kind === 'fill') {
      const t0 = now();
      await runFill(spec, conns, rec);
      rec.ok = spec.keys;
      const cpu = process.cpuUsage(cpu0);
      return { ...rec.result(0, (cpu.user + cpu.system) / 1e6), achievedRate: spec.keys / ((now() - t0) / 1000) };
    }
    const onRecording = (): void => send({ type: 'recording', id });
    if (spec.mode === 'closed') await runClosed(spec, conns, rec, onRecording);
    else await runOpen(spec, conns, rec, onRecording);
    const cpu = process.cpuUsage(cpu0);
    return rec.result(spec.mode === 'open' ? (spec.rate ?? 0) : 0, (cpu.user + cpu.system) / 1e6);
  } finally {
    clearInterval(progress);
  }
}

function send(msg: FromDriver): void {
  process.send?.(msg);
}

if (process.send !== undefined) {
  process.on('message', (msg: ToDriver) => {
    if ('close' in msg) {
      for (const conns of pools.values()) for (const c of conns) c.disconnect();
      process.exit(0);
    }
    runPhase(msg.id, msg.phase).then(
      (result) => send({ type: 'result', id: msg.id, result }),
      (err: unknown) => send({ type: 'error', id: msg.id, message: err instanceof Error ? (err.stack ?? err.message) : String(err) }),
    );
  });
  // The runner going away (even by SIGKILL) closes the IPC channel: exit with it.
  process.on('disconnect', () => process.exit(0));
  send({ type: 'ready' });
}
