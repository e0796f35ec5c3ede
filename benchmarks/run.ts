/**
 * Benchmark runner: redis-server (no persistence, and AOF everysec), a dynis single node and a
 * local 3-node dynis cluster, each started fresh in this run on this machine, measured with the
 * same workloads, reported side by side with ratios to redis-server. Then (full runs) the routing
 * group: a fresh 5-node dynis cluster under SET and GET at a fixed rate, through plain ioredis
 * connections to one node and through ioredis Cluster clients, to show the forwarding hop saved.
 *
 *   npm run bench                  full run (3 repetitions; median, min and max); under 15 min on 2 cores
 *   npm run bench -- --quick       one short repetition of the main workloads: a smoke check (about a minute)
 *
 * Options: --profile (take the CPU profiles even when every target is met, or in a quick run),
 * --no-profile, --keep-profiles DIR (keep the raw .cpuprofile files), --systems a,b (a subset:
 * redis, redis-aof, dynis-1, dynis-3, and dynis-5 for the routing group), --repeats N,
 * --only rb,driver,failure,routing (some workload groups; routing is not in a quick run unless
 * named here), --no-readme (do not update benchmarks/README.md).
 *
 * Writes benchmarks/results/<date>-<host>[-quick].json (raw), .md (tables) and -*.svg (charts);
 * a full run also puts the tables and charts into benchmarks/README.md. See benchmarks/README.md.
 */
import { spawnSync } from 'node:child_process';
import { copyFileSync, existsSync, mkdirSync, readdirSync, readFileSync } from 'node:fs';
import { cpus, hostname, release, totalmem } from 'node:os';
import path from 'node:path';
import { benchPlan, mixName, MULTI, RMW, TIMING, type BenchPlan, type RbWorkload } from './config.js';
import { summarizeProfile } from './cpuprofile.js';
import { DriverClient } from './driver-client.js';
import type { PhaseKind, PhaseResult, PhaseSpec } from './driver.js';
import { Progress, fmtDuration } from './progress.js';
import { redisBenchmark } from './redis-benchmark.js';
import { installCleanupHandlers, machineBusySeconds, ourCpuSeconds, removeDir, sleep, tempDir, threadCpuSeconds } from './processes.js';
import { writeResults } from './output.js';
import { targetResults } from './report.js';
import type { RawResults } from './results.js';
import { ROOT, ROUTING_SYSTEM, RunningSystem, SYSTEMS, type SystemId, type SystemSpec } from './systems.js';

type Group = 'rb' | 'driver' | 'failure' | 'routing';
const GROUPS: readonly Group[] = ['rb', 'driver', 'failure', 'routing'];
/** Groups of a quick run when --only does not name any. */
const QUICK_GROUPS: readonly Group[] = ['rb', 'driver', 'failure'];

interface Options {
  quick: boolean;
  /** Workload groups to run (all by default; a quick run leaves routing out). */
  only: Set<Group>;
  repeats: number | undefined;
  profile: 'auto' | 'yes' | 'no';
  keepProfiles: string | undefined;
  /** The systems of the rb, driver and failure groups. */
  systems: SystemSpec[];
  /** The routing group's own cluster is selected (by default, or by naming dynis-5 in --systems). */
  routingSystem: boolean;
  readme: boolean;
}

function parseOptions(argv: string[]): Options {
  const o: Options = { quick: false, only: new Set(GROUPS), repeats: undefined, profile: 'auto', keepProfiles: undefined, systems: [...SYSTEMS], routingSystem: true, readme: true };
  let only: Set<Group> | undefined;
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (a === '--quick') o.quick = true;
    else if (a === '--profile') o.profile = 'yes';
    else if (a === '--no-profile') o.profile = 'no';
    else if (a === '--no-readme') o.readme = false;
    else if (a === '--only') {
      const groups = (argv[++i] ?? '').split(',');
      if (!groups.every((g) => (GROUPS as readonly string[]).includes(g))) throw new Error(`--only: groups are ${GROUPS.join(', ')}`);
      only = new Set(groups as Group[]);
    } else if (a === '--repeats') {
      o.repeats = Number(argv[++i]);
      if (!Number.isInteger(o.repeats) || o.repeats < 1) throw new Error('--repeats needs a positive integer');
    }
    else if (a === '--keep-profiles') o.keepProfiles = path.resolve(argv[++i] ?? '.');
    else if (a === '--systems') {
      const ids = (argv[++i] ?? '').split(',');
      o.systems = SYSTEMS.filter((s) => ids.includes(s.id));
      o.routingSystem = ids.includes(ROUTING_SYSTEM.id);
      if (o.systems.length + (o.routingSystem ? 1 : 0) !== ids.length) {
        throw new Error(`--systems: known systems are ${[...SYSTEMS, ROUTING_SYSTEM].map((s) => s.id).join(', ')}`);
      }
    } else if (a === '--help' || a === '-h') {
      process.stdout.write(
        `usage: npm run bench [-- --quick] [--profile|--no-profile] [--keep-profiles DIR] [--systems ${[...SYSTEMS, ROUTING_SYSTEM].map((s) => s.id).join(',')}] [--repeats N] [--only ${GROUPS.join(',')}] [--no-readme]\n`,
      );
      process.exit(0);
    } else throw new Error(`unknown option ${a}`);
  }
  o.only = only ?? new Set(o.quick ? QUICK_GROUPS : GROUPS);
  return o;
}

const RB_WORKLOAD_GROUPS = (ws: readonly RbWorkload[]): RbWorkload[][] => {
  const groups: RbWorkload[][] = [];
  for (const w of ws) {
    const g = groups.find((x) => x[0]?.valueBytes === w.valueBytes);
    if (g) g.push(w);
    else groups.push([w]);
  }
  return groups;
};

/** Keys pre-filled before the GET tests of a value size (GET's -r). */
export function fillKeys(plan: BenchPlan, valueBytes: number): number {
  return Math.max(1, Math.min(plan.fill.maxKeys, Math.floor(plan.fill.maxBytes / valueBytes)));
}

function clamp(x: number, lo: number, hi: number): number {
  return Math.max(lo, Math.min(hi, Math.round(x)));
}

function version(cmd: string, args: string[]): string {
  const r = spawnSync(cmd, args, { encoding: 'utf8' });
  if (r.error || r.status !== 0) throw new Error(`${cmd} not found: install redis-server and redis-tools (apt-get install -y redis-server redis-tools)`);
  return r.stdout.trim();
}

class Runner {
  readonly progress: Progress;
  /** Last measured ops/s per system|workload|test, to size the next run's -n. */
  private readonly estimates = new Map<string, number>();
  readonly started = Date.now();

  constructor(
    readonly plan: BenchPlan,
    readonly options: Options,
    readonly raw: RawResults,
  ) {
    this.progress = new Progress(plan.progressIntervalMs, (p) => raw.phases.push(p));
  }

  private driverBase(sys: RunningSystem): Omit<PhaseSpec, 'kind' | 'mode' | 'seconds'> {
    const d = this.plan.driver;
    return {
      ports: sys.ports,
      connections: d.connections,
      warmupSeconds: d.warmupSeconds,
      keyPrefix: 'dk:',
      keyPad: 0,
      keys: d.keys,
      valueBytes: d.valueBytes,
      multiKeys: d.multiKeys,
      commandTimeoutMs: d.commandTimeoutMs,
      drainMs: d.drainMs,
      maxInFlight: d.maxInFlight,
      curvePercentiles: d.curvePercentiles,
    };
  }

  /** Forget what a failed attempt of one system's repetition recorded. */
  dropSamples(rep: number, system: SystemId): void {
    const keep = <T extends { rep: number; system?: SystemId }>(xs: T[]): void => {
      const rest = xs.filter((x) => !(x.rep === rep && (x.system === undefined || x.system === system)));
      xs.splice(0, xs.length, ...rest);
    };
    keep(this.raw.rb);
    keep(this.raw.driver);
    keep(this.raw.fills);
    keep(this.raw.costs);
    if (system === 'dynis-3') keep(this.raw.failures);
    if (system === ROUTING_SYSTEM.id) {
      const rest = this.raw.routing.filter((x) => x.rep !== rep);
      this.raw.routing.splice(0, this.raw.routing.length, ...rest);
    }
  }

  /** Poll the system's command counter for the progress display (redis-benchmark phases). */
  private pollCommands(sys: RunningSystem): () => void {
    if (!this.progress.enabled) return () => undefined;
    let stopped = false;
    const loop = async (): Promise<void> => {
      while (!stopped) {
        const n = await sys.commandsProcessed();
        if (!stopped) this.progress.count(n);
        await sleep(TIMING.commandsPollMs);
      }
    };
    void loop();
    return () => {
      stopped = true;
    };
  }

  async fill(sys: RunningSystem, driver: DriverClient, rep: number, keyPrefix: string, keyPad: number, keys: number, valueBytes: number): Promise<void> {
    const f = this.plan.fill;
    this.progress.setPhase(`fill ${keys.toLocaleString('en-US')} × ${valueBytes} B`);
    const t0 = performance.now();
    const r = await driver.run(
      {
        ...this.driverBase(sys),
        kind: 'fill',
        mode: 'closed',
        seconds: 0,
        keyPrefix,
        keyPad,
        keys,
        valueBytes,
        batchKeys: Math.max(1, Math.min(f.batchKeys, Math.floor(f.batchBytes / valueBytes))),
        inFlight: f.inFlight,
      },
      { onProgress: (ok) => this.progress.count(ok) },
    );
    this.raw.fills.push({ rep, system: sys.spec.id, keyPrefix, keys, valueBytes, seconds: (performance.now() - t0) / 1000, errors: r.errors, errorSamples: r.errorSamples });
  }

  async rbTest(sys: RunningSystem, rep: number, w: RbWorkload, test: 'SET' | 'GET'): Promise<void> {
    const rb = this.plan.redisBenchmark;
    const key = `${sys.spec.id}|${w.name}|${test}`;
    const keyspace = test === 'GET' ? fillKeys(this.plan, w.valueBytes) : rb.setKeyspace;
    const base = { test, port: sys.ports[0] as number, clients: rb.clients, pipeline: w.pipeline, keyspace, valueBytes: w.valueBytes, timeoutMs: rb.timeoutMs };
    const label = `redis-benchmark ${test} ${w.name}`;
    const stopPoll = this.pollCommands(sys);
    try {
      // Warm-up (not recorded): JIT, connections, caches; it also calibrates -n when no rate is known yet.
      const known = this.estimates.get(key);
      let n = known !== undefined ? clamp(known * rb.warmupSeconds, rb.minRequests, rb.maxRequests) : rb.firstWarmupRequestsPerPipeline * w.pipeline;
      let estimate = known ?? 0;
      this.progress.setPhase(`${label} warm-up`, known !== undefined ? rb.warmupSeconds : 0);
      for (let attempt = 0; attempt < 3; attempt++) {
        const r = await redisBenchmark({ ...base, requests: n });
        if (known === undefined) estimate = r.rps;
        if (r.seconds >= rb.warmupSeconds / 2 || n >= rb.maxRequests) break;
        n = clamp((n * rb.warmupSeconds) / Math.max(r.seconds, 0.01), rb.minRequests, rb.maxRequests);
      }
      const requests = clamp(estimate * rb.seconds, rb.minRequests, rb.maxRequests);
      this.progress.setPhase(label, rb.seconds);
      const before = await sys.stats();
      const cpu0 = sys.cpuSeconds();
      const r = await redisBenchmark({ ...base, requests });
      const cpu = sys.cpuSeconds() - cpu0;
      const after = await sys.stats();
      this.estimates.set(key, r.rps);
      this.raw.rb.push({
        rep,
        system: sys.spec.id,
        workload: w.name,
        test,
        pipeline: w.pipeline,
        valueBytes: w.valueBytes,
        keyspace,
        requests,
        rps: r.rps,
        avgMs: r.avgMs,
        p50Ms: r.p50Ms,
        p95Ms: r.p95Ms,
        p99Ms: r.p99Ms,
        maxMs: r.maxMs,
        seconds: r.seconds,
        cpuSeconds: cpu,
        errorReplies: after.errorReplies - before.errorReplies,
      });
    } finally {
      stopPoll();
    }
  }

  async phase(sys: RunningSystem, driver: DriverClient, rep: number, workload: string, load: number | 'max', spec: PhaseSpec): Promise<PhaseResult> {
    const what = load === 'max' ? 'max (closed loop)' : `${Math.round(load * 100)}% = ${Math.round(spec.rate ?? 0).toLocaleString('en-US')}/s`;
    this.progress.setPhase(`${workload} ${what}`, spec.seconds + spec.warmupSeconds);
    const cpu0 = sys.cpuSeconds();
    const r = await driver.run(spec, { onProgress: (ok) => this.progress.count(ok) });
    const cpu = sys.cpuSeconds() - cpu0;
    this.raw.driver.push({
      rep,
      system: sys.spec.id,
      workload,
      load,
      seconds: r.seconds,
      targetRate: r.targetRate,
      achievedRate: r.achievedRate,
      sent: r.sent,
      ok: r.ok,
      errors: r.errors,
      skipped: r.skipped,
      errorSamples: r.errorSamples,
      latency: r.latency,
      byCommand: r.byCommand,
      lag: r.lag,
      driverCpuSeconds: r.driverCpuSeconds,
      systemCpuSeconds: cpu,
      totalOk: r.totalOk,
    });
    return r;
  }

  /** A workload at its closed-loop maximum, then open loop at fractions of that maximum. */
  async loadSeries(sys: RunningSystem, driver: DriverClient, rep: number, workload: string, kind: PhaseKind, extra: Partial<PhaseSpec>, loads: readonly number[]): Promise<void> {
    const d = this.plan.driver;
    const base = { ...this.driverBase(sys), kind, ...extra };
    const max = await this.phase(sys, driver, rep, workload, 'max', { ...base, mode: 'closed', concurrency: d.closedConcurrency, seconds: d.maxSeconds });
    if (max.achievedRate <= 0) return;
    for (const load of loads) {
      await this.phase(sys, driver, rep, workload, load, { ...base, mode: 'open', rate: load * max.achievedRate, seconds: d.openSeconds });
    }
  }

  async driverWorkloads(sys: RunningSystem, driver: DriverClient, rep: number): Promise<void> {
    const d = this.plan.driver;
    await this.fill(sys, driver, rep, 'dk:', 0, d.keys, d.valueBytes);
    for (const rf of d.readFractions) {
      await this.loadSeries(sys, driver, rep, mixName(rf), 'mix', { readFraction: rf }, d.loads);
    }
    await this.loadSeries(
      sys,
      driver,
      rep,
      RMW,
      'causal',
      { keyPrefix: 'ck:', keys: d.causalKeys, causalCommands: sys.spec.kind === 'dynis' ? 'vget' : 'get' },
      d.otherLoads,
    );
    await this.loadSeries(sys, driver, rep, MULTI, 'multi', { readFraction: 0.5 }, d.otherLoads);
  }

  /** The cluster under a fixed-rate mix while its third node is killed (SIGKILL) and restarted. */
  async failureRun(sys: RunningSystem, driver: DriverClient, rep: number): Promise<void> {
    const f = this.plan.failure;
    const d = this.plan.driver;
    let maxRate = this.raw.driver.find((s) => s.rep === rep && s.system === sys.spec.id && s.workload === mixName(f.readFraction) && s.load === 'max')?.achievedRate;
    if (maxRate === undefined) {
      // The driver workloads did not run (--only): fill the driver's keys and measure the maximum here.
      await this.fill(sys, driver, rep, 'dk:', 0, d.keys, d.valueBytes);
      const spec: PhaseSpec = { ...this.driverBase(sys), kind: 'mix', readFraction: f.readFraction, mode: 'closed', concurrency: d.closedConcurrency, seconds: d.maxSeconds };
      maxRate = (await this.phase(sys, driver, rep, mixName(f.readFraction), 'max', spec)).achievedRate;
    }
    if (maxRate <= 0) return;
    const rate = f.load * maxRate;
    const victim = sys.ports.length - 1;
    // The driver talks to the other nodes only: this measures what the cluster does, not a client's failover.
    const spec: PhaseSpec = {
      ...this.driverBase(sys),
      ports: sys.ports.slice(0, victim),
      kind: 'mix',
      mode: 'open',
      readFraction: f.readFraction,
      rate,
      seconds: f.seconds,
      perSecond: true,
    };
    this.progress.setPhase(`failure: ${Math.round(rate).toLocaleString('en-US')}/s, node ${victim + 1} killed at ${f.killAtSeconds}s, restarted at ${f.restartAtSeconds}s`, f.seconds + spec.warmupSeconds);
    let t0: number | undefined;
    const done = driver.run(spec, { onRecording: () => (t0 = performance.now()), onProgress: (ok) => this.progress.count(ok) });
    let failed: unknown;
    done.catch((err: unknown) => (failed = err));
    while (t0 === undefined && failed === undefined) await sleep(5);
    if (t0 === undefined) throw failed;
    const start = t0;
    const at = (s: number): Promise<void> => sleep(Math.max(0, start + s * 1000 - performance.now()));
    const elapsed = (): number => (performance.now() - start) / 1000;
    await at(f.killAtSeconds);
    await sys.kill(victim);
    const killAtS = elapsed();
    await at(f.restartAtSeconds);
    const restartAtS = elapsed();
    await sys.restart(victim);
    const portOpenAtS = elapsed();
    let peersUpAtS: number | undefined;
    const polls: Array<{ t: number; peersUp: number[] }> = [];
    while (elapsed() < f.seconds) {
      const ups = await Promise.all(sys.ports.map((p) => sys.peersUp(p)));
      polls.push({ t: elapsed(), peersUp: ups });
      if (ups.every((u) => u >= sys.ports.length - 1)) {
        peersUpAtS = elapsed();
        break;
      }
      await sleep(TIMING.readyPollMs);
    }
    const r = await done;
    this.raw.failures.push({
      rep,
      rate,
      seconds: f.seconds,
      killAtS,
      restartAtS,
      portOpenAtS,
      peersUpAtS,
      peerPolls: polls,
      ok: r.ok,
      errors: r.errors,
      errorSamples: r.errorSamples,
      latency: r.latency,
      perSecond: r.perSecond,
    });
    // The rest of the run does not depend on the restarted node being up; wait briefly for it anyway.
    await sys.ready().catch(() => undefined);
  }

  async system(spec: SystemSpec, rep: number): Promise<void> {
    this.progress.setSystem(spec.label);
    this.progress.setPhase('starting');
    const sys = await RunningSystem.start(spec, this.plan);
    let driver: DriverClient | undefined;
    try {
      driver = await DriverClient.start();
      const groups = RB_WORKLOAD_GROUPS(this.plan.redisBenchmark.workloads);
      const only = this.options.only;
      for (const [i, group] of groups.entries()) {
        const vb = group[0]?.valueBytes as number;
        if (only.has('rb')) {
          await this.fill(sys, driver, rep, 'key:', 12, fillKeys(this.plan, vb), vb);
          for (const w of group) await this.rbTest(sys, rep, w, 'GET');
          for (const w of group) await this.rbTest(sys, rep, w, 'SET');
        }
        if (i === 0 && only.has('driver')) await this.driverWorkloads(sys, driver, rep);
      }
      const rss = sys.sampleRss();
      this.raw.costs.push({ rep, system: spec.id, peakRssTotalMiB: rss.totalMiB, peakRssMaxMiB: rss.maxMiB });
      if (spec.nodes > 1 && only.has('failure')) await this.failureRun(sys, driver, rep);
    } catch (err) {
      const e = err instanceof Error ? err : new Error(String(err));
      e.message = `${spec.label}, repetition ${rep}, during "${this.progress.currentPhase}": ${e.message}\n${sys.diagnostics()}`;
      throw e;
    } finally {
      this.progress.setPhase('stopping');
      await driver?.close();
      await sys.stop();
    }
  }

  /**
   * The routing group: a fresh 5-node cluster (N=3, R=2, W=2), SET then GET at one fixed rate
   * (open loop) through plain connections all to node 1 and through ioredis Cluster clients,
   * the two clients alternating which goes first from one repetition to the next. forwarded_writes
   * of INFO ring on every node, before and after each run, counts the writes that took the hop.
   */
  async routing(rep: number): Promise<void> {
    const spec = ROUTING_SYSTEM;
    const r = this.plan.routing;
    this.progress.setSystem(`${spec.label} (cluster-aware clients)`);
    this.progress.setPhase('starting');
    const sys = await RunningSystem.start(spec, this.plan);
    let driver: DriverClient | undefined;
    try {
      driver = await DriverClient.start();
      await this.fill(sys, driver, rep, 'rk:', 0, r.keys, r.valueBytes);
      const clients = rep % 2 === 1 ? (['plain', 'cluster'] as const) : (['cluster', 'plain'] as const);
      const client = (c: 'plain' | 'cluster'): Pick<PhaseSpec, 'ports' | 'connections' | 'cluster'> => ({
        ports: c === 'plain' ? [sys.ports[0] as number] : sys.ports,
        connections: c === 'plain' ? r.plainConnections : r.clusterClients,
        ...(c === 'cluster' ? { cluster: { slotsRefreshTimeoutMs: r.slotsRefreshTimeoutMs, slotsRefreshIntervalMs: r.slotsRefreshIntervalMs } } : {}),
      });
      const base = { ...this.driverBase(sys), kind: 'mix', keyPrefix: 'rk:', keys: r.keys, valueBytes: r.valueBytes, mode: 'open' } as const;
      // Unrecorded: connections, and the nodes' JIT on the SET, forwarding and read paths.
      for (const c of clients) {
        this.progress.setPhase(`priming: GET/SET 50/50 ${r.setRate.toLocaleString('en-US')}/s, ${c} client`, r.primeSeconds);
        await driver.run({ ...base, ...client(c), readFraction: 0.5, rate: r.setRate, seconds: r.primeSeconds, warmupSeconds: 0 });
      }
      for (const test of ['SET', 'GET'] as const) {
        for (const [i, c] of clients.entries()) {
          const rate = test === 'SET' ? r.setRate : r.getRate;
          const phase: PhaseSpec = { ...base, ...client(c), readFraction: test === 'GET' ? 1 : 0, rate, seconds: r.seconds, warmupSeconds: r.warmupSeconds };
          const connections = phase.connections;
          const who = c === 'plain' ? `plain ioredis to node 1 (${connections} connections)` : `ioredis Cluster (${connections} clients)`;
          this.progress.setPhase(`${test} ${rate.toLocaleString('en-US')}/s, ${who}`, r.seconds + r.warmupSeconds);
          const fwd0 = await sys.forwardedWrites();
          const cpu0 = sys.cpuSeconds();
          const res = await driver.run(phase, { onProgress: (ok) => this.progress.count(ok) });
          const cpu = sys.cpuSeconds() - cpu0;
          const fwd1 = await sys.forwardedWrites();
          const byNode = fwd1.map((x, k) => x - (fwd0[k] ?? NaN));
          this.raw.routing.push({
            rep,
            client: c,
            test,
            order: i + 1,
            connections,
            seconds: res.seconds,
            targetRate: res.targetRate,
            achievedRate: res.achievedRate,
            sent: res.sent,
            ok: res.ok,
            errors: res.errors,
            skipped: res.skipped,
            errorSamples: res.errorSamples,
            latency: res.latency,
            lag: res.lag,
            driverCpuSeconds: res.driverCpuSeconds,
            systemCpuSeconds: cpu,
            totalOk: res.totalOk,
            forwardedByNode: byNode,
            forwarded: byNode.reduce((a, b) => a + b, 0),
          });
        }
      }
    } catch (err) {
      const e = err instanceof Error ? err : new Error(String(err));
      e.message = `${spec.label}, repetition ${rep}, during "${this.progress.currentPhase}": ${e.message}\n${sys.diagnostics()}`;
      throw e;
    } finally {
      this.progress.setPhase('stopping');
      await driver?.close();
      await sys.stop();
    }
  }

  /** CPU profiles of dynis under redis-benchmark P1 100B (node --cpu-prof), summarized. */
  async profiles(): Promise<void> {
    const w = this.plan.redisBenchmark.workloads[0] as RbWorkload;
    const cases: Array<{ system: 'dynis-1' | 'dynis-3'; test: 'SET' | 'GET' }> = [
      { system: 'dynis-1', test: 'SET' },
      { system: 'dynis-1', test: 'GET' },
      { system: 'dynis-3', test: 'SET' },
    ];
    for (const c of cases) {
      const spec = SYSTEMS.find((s) => s.id === c.system) as SystemSpec;
      if (!this.options.systems.includes(spec)) continue;
      this.progress.setSystem(`${spec.label} (node --cpu-prof)`);
      this.progress.setPhase('starting');
      const dir = tempDir('cpuprof');
      try {
        const sys = await RunningSystem.start(spec, this.plan, { cpuProfDir: dir });
        const entryPid = sys.pids[0];
        let driver: DriverClient | undefined;
        let threads: { main: number; rocksdb: number; other: number } | undefined;
        let requests = 0;
        try {
          driver = await DriverClient.start();
          if (c.test === 'GET') await this.fill(sys, driver, 0, 'key:', 12, fillKeys(this.plan, w.valueBytes), w.valueBytes);
          const rb = this.plan.redisBenchmark;
          const est = this.estimates.get(`${spec.id}|${w.name}|${c.test}`) ?? 5000;
          requests = clamp(est * this.plan.profile.seconds, rb.minRequests, rb.maxRequests);
          const keyspace = c.test === 'GET' ? fillKeys(this.plan, w.valueBytes) : rb.setKeyspace;
          this.progress.setPhase(`redis-benchmark ${c.test} ${w.name}`, this.plan.profile.seconds);
          const stopPoll = this.pollCommands(sys);
          try {
            const t0 = entryPid !== undefined ? threadCpuSeconds(entryPid) : undefined;
            await redisBenchmark({ test: c.test, port: sys.ports[0] as number, requests, clients: rb.clients, pipeline: w.pipeline, keyspace, valueBytes: w.valueBytes, timeoutMs: rb.timeoutMs });
            const t1 = entryPid !== undefined ? threadCpuSeconds(entryPid) : undefined;
            if (t0 && t1) {
              const us = (a: number, b: number): number => ((b - a) / requests) * 1e6;
              threads = { main: us(t0.main, t1.main), rocksdb: us(t0.rocksdb, t1.rocksdb), other: us(t0.other, t1.other) };
            }
          } finally {
            stopPoll();
          }
        } finally {
          this.progress.setPhase('stopping (writing the profile)');
          await driver?.close();
          await sys.stop();
        }
        const files = readdirSync(dir).filter((f) => f.endsWith('.cpuprofile'));
        const file = files.find((f) => f.split('.')[3] === String(entryPid)) ?? files[0];
        if (file === undefined) throw new Error(`no .cpuprofile written by ${spec.label}`);
        const label = `${spec.label}${spec.nodes > 1 ? ' (the node redis-benchmark talks to)' : ''}, redis-benchmark ${c.test} ${w.name}`;
        const summary = summarizeProfile(path.join(dir, file), label, ROOT, this.plan.profile.top);
        summary.threadUsPerOp = threads;
        summary.operations = requests;
        summary.workload = w.name;
        summary.test = c.test;
        this.raw.profiles.push(summary);
        if (this.options.keepProfiles) {
          mkdirSync(this.options.keepProfiles, { recursive: true });
          for (const f of files) copyFileSync(path.join(dir, f), path.join(this.options.keepProfiles, `${spec.id}-${c.test}-${f}`));
        }
      } finally {
        removeDir(dir);
      }
    }
  }
}

async function main(): Promise<void> {
  installCleanupHandlers();
  const options = parseOptions(process.argv.slice(2));
  const plan = { ...benchPlan(options.quick), ...(options.repeats !== undefined ? { repeats: options.repeats } : {}) };
  if (!existsSync(path.join(ROOT, 'dist/src/cli.js'))) throw new Error('dist/src/cli.js is missing: run npm run build (npm run bench does)');
  const redisVersion = version('redis-server', ['--version']);
  version('redis-benchmark', ['--version']);
  const started = Date.now();
  // A run of fewer groups or systems than the default is partial: its files carry what it ran in
  // their names (never overwriting a complete run's), and it leaves the README alone.
  const defaultGroups = options.quick ? QUICK_GROUPS : GROUPS;
  const allGroups = defaultGroups.every((g) => options.only.has(g)) && options.only.size === defaultGroups.length;
  const allSystems = options.systems.length === SYSTEMS.length && options.routingSystem;
  const scope = [
    ...(allGroups ? [] : [...options.only]),
    ...(allSystems ? [] : [...options.systems.map((s) => s.id), ...(options.routingSystem ? [ROUTING_SYSTEM.id] : [])]),
  ].join('-');
  const raw: RawResults = {
    format: 'dynis-bench/1',
    date: new Date().toISOString(),
    quick: options.quick,
    ...(scope ? { scope } : {}),
    machine: {
      host: hostname(),
      cpus: cpus().length,
      cpuModel: cpus()[0]?.model ?? '',
      memGiB: Math.round(totalmem() / 2 ** 30),
      os: `Linux ${release()}`,
      node: process.version,
      redis: /v=([\d.]+)/.exec(redisVersion)?.[1] ?? redisVersion,
      dynis: (JSON.parse(readFileSync(path.join(ROOT, 'package.json'), 'utf8')) as { version: string }).version,
      commit: spawnSync('git', ['rev-parse', '--short', 'HEAD'], { cwd: ROOT, encoding: 'utf8' }).stdout?.trim() ?? '',
    },
    plan,
    systems: options.systems,
    durationSeconds: 0,
    rb: [],
    driver: [],
    fills: [],
    failures: [],
    costs: [],
    routing: [],
    profiles: [],
    phases: [],
    machineLoad: [],
    incidents: [],
  };
  const runner = new Runner(plan, options, raw);
  const quiet = !runner.progress.enabled;
  // A system runs when one of the selected groups applies to it; the routing group has its own cluster.
  const only = options.only;
  const runs: SystemSpec[] = [
    ...options.systems.filter((s) => only.has('rb') || only.has('driver') || (only.has('failure') && s.nodes > 1)),
    ...(only.has('routing') && options.routingSystem ? [ROUTING_SYSTEM] : []),
  ];
  if (runs.length === 0) throw new Error('nothing to run: the selected groups (--only) do not apply to the selected systems (--systems)');
  if (quiet) {
    process.stdout.write(`bench: ${options.quick ? 'quick' : 'full'} run, ${plan.repeats} repetition(s), groups ${[...only].join(', ')}, systems ${runs.map((s) => s.id).join(', ')}\n`);
  }
  for (let rep = 1; rep <= plan.repeats; rep++) {
    runner.progress.setRep(`rep ${rep}/${plan.repeats}`);
    for (const spec of runs) {
      let t0 = Date.now();
      let busy0 = machineBusySeconds();
      let ours0 = ourCpuSeconds();
      for (let attempt = 1; ; attempt++) {
        try {
          if (spec === ROUTING_SYSTEM) await runner.routing(rep);
          else await runner.system(spec, rep);
          break;
        } catch (err) {
          // One retry of a system's repetition (e.g. a process stopped from outside this run);
          // the failure stays in the results, and the samples of the failed attempt are dropped.
          if (attempt >= plan.retries + 1) throw err;
          const message = err instanceof Error ? err.message : String(err);
          raw.incidents.push({ rep, system: spec.id, attempt, error: message });
          runner.dropSamples(rep, spec.id);
          const line = `rep ${rep}/${plan.repeats} ${spec.label}: attempt ${attempt} failed, retrying: ${message.split('\n')[0]}`;
          if (quiet) process.stdout.write(`bench: ${line}\n`);
          else runner.progress.note(line);
          t0 = Date.now();
          busy0 = machineBusySeconds();
          ours0 = ourCpuSeconds();
        }
      }
      const seconds = (Date.now() - t0) / 1000;
      const busy = (machineBusySeconds() - busy0) / seconds;
      const ours = (ourCpuSeconds() - ours0) / seconds;
      raw.machineLoad.push({ rep, system: spec.id, seconds, busyCores: busy, oursCores: ours, otherCores: Math.max(0, busy - ours) });
      const line = `rep ${rep}/${plan.repeats} ${spec.label}: ${seconds.toFixed(1)} s, machine busy ${busy.toFixed(2)} cores, this run ${ours.toFixed(2)}, other processes ${Math.max(0, busy - ours).toFixed(2)}`;
      if (quiet) process.stdout.write(`bench: ${line}\n`);
      else runner.progress.note(line);
    }
  }
  const missed = targetResults(raw).some((t) => t.met === false);
  if (options.profile === 'yes' || (options.profile === 'auto' && !options.quick && missed)) {
    runner.progress.setRep('profiles');
    await runner.profiles();
  }
  runner.progress.stop();
  raw.durationSeconds = (Date.now() - started) / 1000;

  const out = writeResults(raw, { readme: !options.quick && !scope && options.readme });
  process.stdout.write(`${out.markdown}\n`);
  process.stdout.write(`bench: ${options.quick ? 'quick' : 'full'} run took ${fmtDuration(raw.durationSeconds)}; results in ${out.files.join(', ')}\n`);
}

main().catch((err: unknown) => {
  process.stderr.write(`\nbench: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
  process.exit(1);
});
