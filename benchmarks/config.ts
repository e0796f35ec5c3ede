/**
 * Every bound of the benchmark runner, in one place: durations, sizes, rates, timeouts and the
 * targets the report compares against. `--quick` selects the smaller plan (a smoke check of
 * about a minute); the full plan is sized to finish in under 15 minutes on 2 cores.
 */

export interface RbWorkload {
  /** Label in tables and charts, e.g. "P1 100B". */
  readonly name: string;
  readonly pipeline: number;
  readonly valueBytes: number;
}

export interface BenchPlan {
  readonly quick: boolean;
  /** Repetitions of the whole plan; every figure is the median over them (min and max shown). */
  readonly repeats: number;
  /** A system's repetition that fails (e.g. a process killed from outside the run) is run again this many times. */
  readonly retries: number;

  readonly redisBenchmark: {
    /** redis-benchmark -c. */
    readonly clients: number;
    /** redis-benchmark -r for SET: random keys over this many. */
    readonly setKeyspace: number;
    /** Seconds one measured redis-benchmark test should take (-n is sized from the rate seen before). */
    readonly seconds: number;
    /** Seconds of the unmeasured warm-up run before each measured test (it also calibrates -n). */
    readonly warmupSeconds: number;
    /** Requests of the first warm-up of a test, per pipeline depth unit (no rate known yet). */
    readonly firstWarmupRequestsPerPipeline: number;
    /** Bounds of -n for one run. */
    readonly minRequests: number;
    readonly maxRequests: number;
    /** A redis-benchmark run taking longer than this is killed and the run fails. */
    readonly timeoutMs: number;
    /** Workloads; the 100-byte ones share one fill, the others get their own. */
    readonly workloads: readonly RbWorkload[];
  };

  /**
   * GET tests read a pre-filled key set (keys key:000000000000… of the workload's value size,
   * written by MSET before the GET tests), so that every GET hits in every system.
   * The key count is min(maxKeys, maxBytes / valueBytes): 10,000 keys up to 2 KB values.
   */
  readonly fill: {
    readonly maxKeys: number;
    readonly maxBytes: number;
    /** Keys per MSET of the fill, and bytes per MSET at most. */
    readonly batchKeys: number;
    readonly batchBytes: number;
    /** MSETs in flight during a fill. */
    readonly inFlight: number;
  };

  /** The ioredis driver (open-loop latency, causal, MGET/MSET, failure). */
  readonly driver: {
    /** Connections per run, spread round-robin over the system's client ports. */
    readonly connections: number;
    /** Requests in flight during a closed-loop maximum-throughput run (like redis-benchmark -c 50). */
    readonly closedConcurrency: number;
    /** Seconds of the closed-loop run that measures a workload's maximum rate. */
    readonly maxSeconds: number;
    /** Seconds of each fixed-rate (open-loop) run. */
    readonly openSeconds: number;
    /** Seconds at the start of each run that are not recorded (connections and JIT warm up). */
    readonly warmupSeconds: number;
    /** Open-loop rates, as fractions of the maximum the same system reached in the same repetition. */
    readonly loads: readonly number[];
    /** Read fractions of the GET/SET mixes. */
    readonly readFractions: readonly number[];
    /** Loads at which the causal (VGET/VSET) and MGET/MSET workloads run open-loop. */
    readonly otherLoads: readonly number[];
    /** Keys of the driver's key set (dk:0 … dk:keys-1), pre-filled with valueBytes values. */
    readonly keys: number;
    readonly valueBytes: number;
    /** Keys per MGET / MSET. */
    readonly multiKeys: number;
    /** Keys of the causal workload (ck:0 …), written only by VSET. */
    readonly causalKeys: number;
    /** A request unanswered after this long counts as an error. */
    readonly commandTimeoutMs: number;
    /** After the last send, replies are awaited this long; the rest count as errors. */
    readonly drainMs: number;
    /** Requests in flight above which the open-loop driver skips sends (counted as errors). */
    readonly maxInFlight: number;
    /** Percentiles recorded for the latency curves. */
    readonly curvePercentiles: readonly number[];
  };

  /** The failure run on the 3-node cluster: one node is killed (SIGKILL) and restarted. */
  readonly failure: {
    readonly seconds: number;
    readonly killAtSeconds: number;
    readonly restartAtSeconds: number;
    /** Rate as a fraction of the cluster's maximum for the same mix in the same repetition. */
    readonly load: number;
    readonly readFraction: number;
  };

  /**
   * Cluster-aware clients (the `routing` group, full runs only): a fresh 5-node cluster (N=3, R=2,
   * W=2, so a node replicates 3/5 of the partitions), SET and GET at one fixed rate (open loop)
   * through plain ioredis connections all to node 1 (writes for keys node 1 does not replicate are
   * forwarded one hop) and through ioredis `Cluster` clients (each key straight to its coordinator).
   */
  readonly routing: {
    /** Plain connections, all to node 1. */
    readonly plainConnections: number;
    /** ioredis Cluster clients; each holds one connection per node. */
    readonly clusterClients: number;
    /** Fixed rates (requests per second, open loop) of the SET and GET runs, the same for both clients. */
    readonly setRate: number;
    readonly getRate: number;
    /** Seconds recorded per run, after warmupSeconds that are not. */
    readonly seconds: number;
    readonly warmupSeconds: number;
    /**
     * Before the measured runs, each client sends GET/SET 50/50 at the SET rate for this long,
     * unrecorded: without it the first SET run after the fill is slower, whichever client runs it
     * (the nodes' JIT on the SET and forwarding paths, fresh connections).
     */
    readonly primeSeconds: number;
    /** Keys (rk:0 … rk:keys-1), pre-filled with valueBytes values, read and written at random. */
    readonly keys: number;
    readonly valueBytes: number;
    /** ioredis Cluster: timeout of one CLUSTER SLOTS refresh, and the pause between refreshes. */
    readonly slotsRefreshTimeoutMs: number;
    readonly slotsRefreshIntervalMs: number;
  };

  readonly startup: {
    /** A system whose client ports do not accept connections within this time fails the run. */
    readonly portTimeoutMs: number;
    /** Cluster members must all see peers_up = members - 1 within this time. */
    readonly clusterReadyTimeoutMs: number;
    /** Graceful stop (SIGTERM / SIGINT) waits this long before SIGKILL. */
    readonly stopTimeoutMs: number;
  };

  /** CPU profiles of dynis (node --cpu-prof), taken after the measurements when a target is missed. */
  readonly profile: {
    readonly seconds: number;
    /** Self-time functions listed per profile. */
    readonly top: number;
  };

  /** Ports are picked at random in this range (below Linux's ephemeral range) and checked free. */
  readonly portRange: readonly [number, number];
  /** Progress display refresh interval (terminal only). */
  readonly progressIntervalMs: number;
}

const RB_FULL: RbWorkload[] = [
  { name: 'P1 100B', pipeline: 1, valueBytes: 100 },
  { name: 'P16 100B', pipeline: 16, valueBytes: 100 },
  { name: 'P1 1KB', pipeline: 1, valueBytes: 1024 },
  { name: 'P1 10KB', pipeline: 1, valueBytes: 10240 },
];

const CURVE = [0, 10, 25, 50, 75, 90, 95, 99, 99.5, 99.9, 99.95, 99.99, 100];

export function benchPlan(quick: boolean): BenchPlan {
  return {
    quick,
    repeats: quick ? 1 : 3,
    retries: 1,
    redisBenchmark: {
      clients: 50,
      setKeyspace: 100_000,
      seconds: quick ? 0.6 : 2,
      warmupSeconds: quick ? 0.15 : 0.3,
      firstWarmupRequestsPerPipeline: 1_000,
      minRequests: 500,
      maxRequests: 5_000_000,
      timeoutMs: 120_000,
      workloads: quick ? RB_FULL.slice(0, 2) : RB_FULL,
    },
    fill: { maxKeys: 10_000, maxBytes: 20 * 1024 * 1024, batchKeys: 100, batchBytes: 64 * 1024, inFlight: 8 },
    driver: {
      connections: 16,
      closedConcurrency: 50,
      maxSeconds: quick ? 0.5 : 1.2,
      openSeconds: quick ? 0.8 : 2,
      warmupSeconds: quick ? 0.15 : 0.3,
      loads: quick ? [0.5] : [0.25, 0.5, 0.75],
      readFractions: quick ? [0.9] : [0.9, 0.5],
      otherLoads: [0.5],
      keys: 10_000,
      valueBytes: 100,
      multiKeys: 10,
      causalKeys: 10_000,
      commandTimeoutMs: 5_000,
      drainMs: 6_000,
      maxInFlight: 20_000,
      curvePercentiles: CURVE,
    },
    failure: quick
      ? { seconds: 8, killAtSeconds: 2, restartAtSeconds: 4, load: 0.4, readFraction: 0.9 }
      : { seconds: 20, killAtSeconds: 5, restartAtSeconds: 10, load: 0.4, readFraction: 0.9 },
    routing: {
      plainConnections: 16,
      clusterClients: 4,
      // Low enough that the latencies are the request path's, not a queue's: on 2 cores the 5-node
      // cluster spends about 0.75 of a core on 250 SET/s (0.2 idle), the driver 0.1.
      setRate: 250,
      getRate: 250,
      seconds: quick ? 1 : 4,
      warmupSeconds: quick ? 0.2 : 0.5,
      primeSeconds: quick ? 0.5 : 1.5,
      keys: 5_000,
      valueBytes: 100,
      slotsRefreshTimeoutMs: 2_000,
      slotsRefreshIntervalMs: 5_000,
    },
    startup: { portTimeoutMs: 20_000, clusterReadyTimeoutMs: 30_000, stopTimeoutMs: 10_000 },
    profile: { seconds: 5, top: 15 },
    portRange: [20_000, 32_000],
    progressIntervalMs: 250,
  };
}

/** Small fixed bounds of the machinery (the same in quick and full runs). */
export const TIMING = {
  /** Latencies are recorded in HDR histograms up to this (larger ones count as this), 3 significant digits. */
  histogramMaxMs: 600_000,
  /** Tries of one MSET of a fill before the fill fails, and the pause before try n (n × this). */
  fillAttempts: 5,
  fillRetryDelayMs: 100,
  /** The driver reports its progress this often. */
  driverProgressMs: 250,
  /** The driver is given this long to exit before SIGKILL. */
  driverStopMs: 3_000,
  /** One INFO of the runner (readiness, progress, error counts). */
  infoTimeoutMs: 2_000,
  /** Polling intervals: a port opening, a cluster becoming ready, the command counter for the progress line. */
  portPollMs: 50,
  readyPollMs: 100,
  commandsPollMs: 1_000,
} as const;

/** Names of the driver's workloads. */
export const RMW = 'read-modify-write';
export const MULTI = 'MGET/MSET 10 keys';
export function mixName(readFraction: number): string {
  const r = Math.round(readFraction * 100);
  return `GET/SET ${r}/${100 - r}`;
}

/**
 * The targets (benchmark figures, never test assertions): ratios to redis-server without
 * persistence, per repetition, median over repetitions. `rb` = redis-benchmark -c 50;
 * `driver` = the open-loop driver at a fraction of each system's own maximum.
 */
export interface Target {
  readonly system: string;
  readonly source: 'rb' | 'driver';
  readonly workload: string;
  readonly test?: 'SET' | 'GET';
  readonly load?: number;
  /** ops: throughput ratio, at least `bound`; p99: p99 latency ratio, at most `bound`. */
  readonly metric: 'ops' | 'p99';
  readonly bound: number;
}

export const TARGETS: readonly Target[] = [
  { system: 'dynis-1', source: 'rb', workload: 'P1 100B', test: 'SET', metric: 'ops', bound: 0.7 },
  { system: 'dynis-1', source: 'rb', workload: 'P1 100B', test: 'GET', metric: 'ops', bound: 0.7 },
  { system: 'dynis-1', source: 'rb', workload: 'P16 100B', test: 'SET', metric: 'ops', bound: 0.4 },
  { system: 'dynis-1', source: 'rb', workload: 'P16 100B', test: 'GET', metric: 'ops', bound: 0.4 },
  { system: 'dynis-3', source: 'rb', workload: 'P1 100B', test: 'SET', metric: 'ops', bound: 0.3 },
  { system: 'dynis-3', source: 'rb', workload: 'P1 100B', test: 'GET', metric: 'ops', bound: 0.3 },
  { system: 'dynis-3', source: 'rb', workload: 'P1 100B', test: 'SET', metric: 'p99', bound: 3 },
  { system: 'dynis-3', source: 'rb', workload: 'P1 100B', test: 'GET', metric: 'p99', bound: 3 },
  { system: 'dynis-3', source: 'driver', workload: mixName(0.9), load: 0.5, metric: 'p99', bound: 3 },
];
