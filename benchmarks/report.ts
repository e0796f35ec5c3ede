/**
 * The Markdown report of a run: targets, throughput, fixed-rate latency, cost, the failure
 * timeline and the CPU profiles.
 */
import { mixName, MULTI, RMW, TARGETS, type Target } from './config.js';
import { fmtDuration } from './progress.js';
import { costRows, driverRows, failureSeconds, median, rbRows, routingRatios, routingRows, stat, systemLabel, type RawResults, type RoutingRow, type Stat } from './results.js';
import { ROUTING_SYSTEM } from './systems.js';

export function fmtOps(x: number): string {
  return Number.isFinite(x) ? Math.round(x).toLocaleString('en-US') : '–';
}

export function fmtMs(x: number): string {
  if (!Number.isFinite(x)) return '–';
  if (x >= 100) return x.toFixed(0);
  if (x >= 10) return x.toFixed(1);
  if (x >= 1) return x.toFixed(2);
  return x.toFixed(3);
}

function fmtRatio(s: Stat, digits = 2): string {
  return Number.isFinite(s.median) ? `${s.median.toFixed(digits)}×` : '–';
}

function range(s: Stat, f: (x: number) => string): string {
  if (!Number.isFinite(s.median)) return '–';
  return s.n > 1 ? `${f(s.median)} (${f(s.min)}–${f(s.max)})` : f(s.median);
}

export interface TargetResult {
  readonly target: Target;
  readonly text: string;
  readonly measured: Stat;
  readonly met: boolean | undefined;
}

export function targetResults(raw: RawResults): TargetResult[] {
  const rb = rbRows(raw);
  const dr = driverRows(raw);
  return TARGETS.filter((t) => raw.systems.some((s) => s.id === t.system)).map((t) => {
    let measured: Stat = stat([]);
    if (t.source === 'rb') {
      const row = rb.find((r) => r.system === t.system && r.workload === t.workload && r.test === t.test);
      if (row) measured = t.metric === 'ops' ? row.ratio : row.p99Ratio;
    } else {
      const row = dr.find((r) => r.system === t.system && r.workload === t.workload && r.load === t.load);
      if (row) measured = t.metric === 'ops' ? row.ratio : row.p99Ratio;
    }
    const what =
      t.source === 'rb'
        ? `redis-benchmark ${t.workload} ${t.test}`
        : `${t.workload} open loop at ${Math.round((t.load ?? 0) * 100)}% of max`;
    const text = `${systemLabel(raw, t.system as never)}, ${what}: ${t.metric === 'ops' ? `ops/s ≥ ${t.bound}×` : `p99 ≤ ${t.bound}×`} redis-server`;
    const met = Number.isFinite(measured.median) ? (t.metric === 'ops' ? measured.median >= t.bound : measured.median <= t.bound) : undefined;
    return { target: t, text, measured, met };
  });
}

function verdict(t: TargetResult): string {
  if (t.met === undefined) return 'not measured';
  if (t.met) return 'met';
  const m = t.measured.median;
  const b = t.target.bound;
  return t.target.metric === 'ops'
    ? `missed by ${(((b - m) / b) * 100).toFixed(0)}% (reaches ${((m / b) * 100).toFixed(0)}% of the target)`
    : `missed: p99 is ${(m / b).toFixed(1)} times the allowed ${b}×`;
}

function fmtShare(x: number): string {
  if (!Number.isFinite(x)) return '–';
  return x > 0 && x < 0.005 ? '<1%' : `${Math.round(x * 100)}%`;
}

/** The routing group's one-line summary (README): per test, cluster client against plain, p50 and p99, and the forwarded share. */
export function routingSummary(raw: RawResults): string | undefined {
  const rows = routingRows(raw);
  const ratios = routingRatios(raw);
  const parts: string[] = [];
  for (const test of ['SET', 'GET'] as const) {
    const p = rows.find((r) => r.test === test && r.client === 'plain');
    const c = rows.find((r) => r.test === test && r.client === 'cluster');
    const q = ratios.find((r) => r.test === test);
    if (!p || !c || !q) continue;
    const lat = (name: string, a: Stat, b: Stat, ratio: Stat): string => `${name} ${fmtMs(a.median)} → ${fmtMs(b.median)} ms (${fmtRatio(ratio)})`;
    parts.push(
      `${test} at ${fmtOps(p.targetRate.median)}/s: ${lat('p50', p.p50Ms, c.p50Ms, q.p50)}, ${lat('p99', p.p99Ms, c.p99Ms, q.p99)}` +
        (test === 'SET' ? `, writes forwarded ${fmtShare(p.forwardedPerOp.median)} → ${fmtShare(c.forwardedPerOp.median)}` : ''),
    );
  }
  if (parts.length === 0) return undefined;
  const reps = new Set((raw.routing ?? []).map((s) => s.rep)).size;
  return (
    `Cluster-aware clients (${ROUTING_SYSTEM.label}, N=3 R=2 W=2, fixed rate, open loop): plain ioredis connections to node 1 → ioredis Cluster, ` +
    `${parts.join('; ')}` +
    (reps > 1 ? ` (medians of ${reps} repetitions; the ratios are medians of the per-repetition ratios).` : '.')
  );
}

function routingSection(raw: RawResults): string[] {
  const rows = routingRows(raw);
  if (rows.length === 0) return [];
  const r = raw.plan.routing;
  const out: string[] = [];
  const plain = rows.find((x) => x.client === 'plain');
  const cluster = rows.find((x) => x.client === 'cluster');
  out.push('### Cluster-aware clients: the forwarding hop saved');
  out.push('');
  out.push(
    `${ROUTING_SYSTEM.label} (five \`dynis node\` processes, N=3 R=2 W=2, --fsync everysec, started fresh for this group in every repetition): each node ` +
      `replicates 3/5 of the partitions, so a write that reaches a node which does not replicate its key is forwarded one hop (DYN.FWD) to a replica, ` +
      `which coordinates it; a read is coordinated wherever it arrives (a quorum read, never forwarded). ` +
      `SET, then GET, of random keys among ${r.keys.toLocaleString('en-US')} pre-filled keys of ${r.valueBytes} B, at one fixed rate for both clients ` +
      `(open loop, latency from the intended send time, ${r.seconds} s recorded after ${r.warmupSeconds} s of warm-up): ` +
      `**plain**: ${plain?.connections ?? r.plainConnections} ioredis connections, all to node 1; ` +
      `**cluster**: ${cluster?.connections ?? r.clusterClients} ioredis \`Cluster\` clients (one connection to each node each, \`scaleReads: 'master'\`), ` +
      `which read CLUSTER SLOTS and send every key to its slot's master, the key's coordinator. ` +
      `Before the measured runs each client primes the cluster unrecorded (GET/SET 50/50 at ${fmtOps(r.setRate)}/s for ${r.primeSeconds} s); the two clients take turns going first. ` +
      `"forwarded" is forwarded_writes of INFO ring, summed over the five nodes, per successful request of the run (warm-up included). ` +
      `CPU is that of the five processes during the run (warm-up included); at this low rate it includes their idle background work. ` +
      `For GET there is no hop to save: with the plain client node 1 coordinates every read and, for keys it does not replicate, asks two other replicas ` +
      `instead of itself and one other. Latencies in ms.`,
  );
  out.push('');
  out.push('| test | client | target ops/s | achieved ops/s | p50 | p90 | p99 | p99.9 | max | errors | forwarded | CPU s / 100k ops | lag p99 |');
  out.push('|---|---|---|---|---|---|---|---|---|---|---|---|---|');
  const name = (x: RoutingRow): string => (x.client === 'plain' ? 'plain, node 1' : 'ioredis Cluster');
  for (const x of rows) {
    out.push(
      `| ${x.test} | ${name(x)} | ${fmtOps(x.targetRate.median)} | ${fmtOps(x.achievedRate.median)} | ${fmtMs(x.p50Ms.median)} | ${fmtMs(x.p90Ms.median)} | ` +
        `${range(x.p99Ms, fmtMs)}${x.driverBound > 0 ? ` †${x.driverBound}` : ''} | ${fmtMs(x.p999Ms.median)} | ${fmtMs(x.maxMs.median)} | ${x.errors} | ` +
        `${fmtShare(x.forwardedPerOp.median)} (${x.forwarded.toLocaleString('en-US')}) | ${x.cpuPer100k.median.toFixed(2)} | ${fmtMs(x.lagP99Ms.median)} |`,
    );
  }
  out.push('');
  const ratios = routingRatios(raw);
  if (ratios.length > 0) {
    out.push('Cluster client ÷ plain client (per repetition, median over repetitions; below 1 = the cluster client is faster or cheaper):');
    out.push('');
    out.push('| test | p50 | p90 | p99 | p99.9 | max | achieved ops/s | CPU per op |');
    out.push('|---|---|---|---|---|---|---|---|');
    for (const q of ratios) {
      out.push(
        `| ${q.test} | ${fmtRatio(q.p50)} | ${fmtRatio(q.p90)} | ${range(q.p99, (x) => `${x.toFixed(2)}×`)} | ${fmtRatio(q.p999)} | ${fmtRatio(q.max)} | ${fmtRatio(q.achievedRate)} | ${fmtRatio(q.cpuPer100k)} |`,
      );
    }
    out.push('');
  }
  if (rows.some((x) => x.driverBound > 0)) {
    out.push('†n: in n repetitions the driver itself fell behind (see the fixed-rate table); those tails measure the driver as much as the cluster.');
    out.push('');
  }
  return out;
}

/**
 * The report. `summary` keeps the header, targets, throughput, cost and charts, and links to the
 * full report (for benchmarks/README.md).
 */
export function renderMarkdown(raw: RawResults, charts: Array<{ title: string; file: string }>, summary?: { fullReport: string }): string {
  const m = raw.machine;
  const plan = raw.plan;
  const label = (id: string): string => systemLabel(raw, id as never);
  const out: string[] = [];
  const reps = plan.repeats;
  out.push(`## dynis benchmarks: ${raw.date.slice(0, 10)}, ${m.host}${raw.quick ? ' (quick run)' : ''}`);
  out.push('');
  out.push(
    `${m.cpus} × ${m.cpuModel}, ${m.memGiB} GiB, ${m.os}, Node ${m.node}, redis-server ${m.redis}, dynis ${m.dynis} (${m.commit}). ` +
      `${reps} repetition${reps > 1 ? 's' : ''}, each starting every system fresh; the run took ${fmtDuration(raw.durationSeconds)}. ` +
      `Every figure is the median over the repetitions${reps > 1 ? ' with (min–max)' : ''}; "vs redis" is the ratio to redis-server without persistence ` +
      `measured in the same repetition (median of the per-repetition ratios). Everything ran on this one machine: servers, clients and driver share its ${m.cpus} cores.`,
  );
  out.push('');
  const loadRows = raw.machineLoad ?? [];
  if (loadRows.length > 0) {
    const total = loadRows.reduce((s, l) => s + l.seconds, 0);
    const other = loadRows.reduce((s, l) => s + l.otherCores * l.seconds, 0) / Math.max(1, total);
    const worst = loadRows.reduce((a, b) => (b.otherCores > a.otherCores ? b : a));
    out.push(
      `Other processes on the machine (not started by this run) used ${other.toFixed(2)} of its ${m.cpus} cores on average while the systems were measured` +
        (worst.otherCores > 0.05 ? `, at most ${worst.otherCores.toFixed(2)} (repetition ${worst.rep}, ${label(worst.system)})` : '') +
        (other > 0.1 ? '; figures measured under such competition are lower and noisier than on an idle machine.' : '.'),
    );
    out.push('');
  }

  const incidents = raw.incidents ?? [];
  if (incidents.length > 0) {
    out.push(
      `${incidents.length} attempt${incidents.length > 1 ? 's' : ''} of a system's repetition failed and ${incidents.length > 1 ? 'were' : 'was'} run again ` +
        `(the failed attempts' samples are not in the figures; the JSON has the full messages): ` +
        incidents.map((x) => `repetition ${x.rep}, ${label(x.system)}: ${x.error.split('\n')[0]?.slice(0, 200)}`).join('; ') +
        '.',
    );
    out.push('');
  }

  // --- Targets
  const targets = targetResults(raw);
  if (targets.some((t) => t.met !== undefined)) {
    out.push('### Targets');
    out.push('');
    out.push('| target | measured | |');
    out.push('|---|---|---|');
    for (const t of targets) out.push(`| ${t.text} | ${range(t.measured, (x) => `${x.toFixed(2)}×`)} | ${verdict(t)} |`);
    out.push('');
  }

  // --- Throughput
  const rb = plan.redisBenchmark;
  if (rbRows(raw).length > 0) {
    out.push(`### Throughput: redis-benchmark -c ${rb.clients}`);
    out.push('');
    out.push(
      `SET writes random keys over ${rb.setKeyspace.toLocaleString('en-US')} (-r); GET reads random keys of a set written by MSET just before ` +
        `(${plan.fill.maxKeys.toLocaleString('en-US')} keys, fewer for large values: at most ${plan.fill.maxBytes / 2 ** 20} MiB), so every GET hits in every system. ` +
        `Each test runs about ${rb.seconds} s after a ${rb.warmupSeconds} s warm-up. CPU is the system's processes' user + system time from /proc during the test. ` +
        `Errors are the error replies the system sent during the measured tests (INFO stats), summed over the repetitions: redis-benchmark counts them as answers.`,
    );
    out.push('');
    const fillErrors = raw.fills.filter((f) => (f.errors ?? 0) > 0);
    if (fillErrors.length > 0) {
      out.push(
        `The fills (not measured) saw failed MSETs, which were retried: ${fillErrors.map((f) => `${label(f.system)} ${f.errors} (repetition ${f.rep}, "${f.errorSamples[0] ?? ''}")`).join('; ')}.`,
      );
      out.push('');
    }
    out.push('| workload | test | system | ops/s | vs redis | p50 ms | p99 ms | p99 vs redis | CPU s / 100k ops | errors |');
    out.push('|---|---|---|---|---|---|---|---|---|---|');
    for (const r of rbRows(raw)) {
      out.push(
        `| ${r.workload} | ${r.test} | ${label(r.system)} | ${range(r.rps, fmtOps)} | ${fmtRatio(r.ratio)} | ${fmtMs(r.p50Ms.median)} | ${fmtMs(r.p99Ms.median)} | ${fmtRatio(r.p99Ratio, 1)} | ${r.cpuPer100k.median.toFixed(2)} | ${r.errorReplies} |`,
      );
    }
    out.push('');
  }

  // --- Driver
  const d = plan.driver;
  const rows = driverRows(raw);
  if (rows.length > 0 && !summary) {
    out.push('### Latency at fixed rates: open-loop driver (ioredis)');
    out.push('');
    out.push(
      `${d.connections} connections spread over the system's nodes, ${d.keys.toLocaleString('en-US')} keys of ${d.valueBytes} B. ` +
        `First a closed loop with ${d.closedConcurrency} requests in flight for ${d.maxSeconds} s measures the maximum rate through this driver; then ` +
        `requests are sent at a fixed rate (a fraction of that system's own maximum) for ${d.openSeconds} s each, and every latency is measured from the ` +
        `request's intended send time, so stalls are not hidden (no coordinated omission). "lag" is the driver's own lateness (actual − intended send time, p99): ` +
        `latencies near it are the driver's, not the server's. ${RMW}: VGET then VSET with the context read (dynis), GET then SET (redis-server); one operation = both. ` +
        `${MULTI}: MGET or MSET (half each) of ${d.multiKeys} random keys, which fall in different partitions.`,
    );
    out.push('');
    out.push('Maximum (closed loop):');
    out.push('');
    out.push('| workload | system | ops/s | vs redis | CPU s / 100k ops | driver CPU (cores) |');
    out.push('|---|---|---|---|---|---|');
    for (const r of rows.filter((x) => x.load === 'max')) {
      out.push(`| ${r.workload} | ${label(r.system)} | ${range(r.achievedRate, fmtOps)} | ${fmtRatio(r.ratio)} | ${r.cpuPer100k.median.toFixed(2)} | ${r.driverCores.median.toFixed(2)} |`);
    }
    out.push('');
    out.push('Fixed rate (open loop), latencies in ms:');
    out.push('');
    out.push('| workload | load | system | target ops/s | achieved ops/s | p50 | p90 | p99 | p99.9 | max | p99 vs redis | errors | lag p99 |');
    out.push('|---|---|---|---|---|---|---|---|---|---|---|---|---|');
    for (const r of rows.filter((x) => x.load !== 'max')) {
      out.push(
        `| ${r.workload} | ${Math.round((r.load as number) * 100)}% | ${label(r.system)} | ${fmtOps(r.targetRate.median)} | ${fmtOps(r.achievedRate.median)} | ` +
          `${fmtMs(r.p50Ms.median)} | ${fmtMs(r.p90Ms.median)} | ${range(r.p99Ms, fmtMs)}${r.driverBound > 0 ? ` †${r.driverBound}` : ''} | ${fmtMs(r.p999Ms.median)} | ${fmtMs(r.maxMs.median)} | ${fmtRatio(r.p99Ratio, 1)} | ${r.errors} | ${fmtMs(r.lagP99Ms.median)} |`,
      );
    }
    if (rows.some((r) => r.driverBound > 0)) {
      out.push('');
      out.push(
        '†n: in n repetitions the driver itself fell behind (sends skipped, less than 97% of the target rate achieved, or its lag p99 at least half the p99): ' +
          'those tails measure the driver as much as the server, and they are left out of the p99 ratios. Errors there are mostly sends the driver skipped.',
      );
    }
    out.push('');
  }

  // --- Cost
  const costs = costRows(raw);
  if (costs.length > 0) {
    const p1 = rbRows(raw).filter((r) => r.workload === rb.workloads[0]?.name);
    out.push('### Cost');
    out.push('');
    out.push(
      'Peak RSS is VmHWM from /proc at the end of the workloads (before the failure run); for the cluster, the sum over its three processes ' +
        '(the largest single process in parentheses). CPU seconds per 100k operations of redis-benchmark P1 100B.',
    );
    out.push('');
    out.push(`| system | peak RSS MiB | CPU s / 100k SET | CPU s / 100k GET |`);
    out.push('|---|---|---|---|');
    for (const c of costs) {
      const set = p1.find((r) => r.system === c.system && r.test === 'SET');
      const get = p1.find((r) => r.system === c.system && r.test === 'GET');
      const largest = c.peakRssMaxMiB.median !== c.peakRssTotalMiB.median ? ` (${c.peakRssMaxMiB.median.toFixed(0)})` : '';
      out.push(`| ${label(c.system)} | ${c.peakRssTotalMiB.median.toFixed(0)}${largest} | ${set?.cpuPer100k.median.toFixed(2) ?? '–'} | ${get?.cpuPer100k.median.toFixed(2) ?? '–'} |`);
    }
    out.push('');
  }

  // --- Failure
  if (raw.failures.length > 0 && !summary) {
    const f = plan.failure;
    const secs = failureSeconds(raw);
    const fx = raw.failures;
    const med = (xs: Array<number | undefined>): number => median(xs.filter((x): x is number => x !== undefined));
    const upCount = fx.filter((x) => x.peersUpAtS !== undefined).length;
    out.push('### Failure: one of three nodes killed and restarted');
    out.push('');
    out.push(
      `${label('dynis-3')} under ${mixName(f.readFraction)} at a fixed rate of ${Math.round(f.load * 100)}% of its maximum in the same repetition (${fx.map((x) => fmtOps(x.rate)).join(', ')} ops/s), ` +
        `the driver connected to nodes 1 and 2 only (what the cluster does, not a client's failover). Node 3 is killed with SIGKILL at ${med(fx.map((x) => x.killAtS)).toFixed(1)} s ` +
        `and started again on its data at ${med(fx.map((x) => x.restartAtS)).toFixed(1)} s; its port was open at ${med(fx.map((x) => x.portOpenAtS)).toFixed(1)} s and ` +
        (upCount > 0
          ? `every node saw both peers up at ${med(fx.map((x) => x.peersUpAtS)).toFixed(1)} s${upCount < fx.length ? ` (in ${upCount} of ${fx.length} repetitions)` : ''}. `
          : 'the nodes did not all see each other up again before the run ended. ') +
        `In total ${fx.reduce((n, x) => n + x.ok, 0).toLocaleString('en-US')} requests succeeded and ${fx.reduce((n, x) => n + x.errors, 0).toLocaleString('en-US')} failed` +
        `${fx.some((x) => x.errorSamples.length > 0) ? ` (e.g. "${fx.flatMap((x) => x.errorSamples)[0]}")` : ''}. Per second of intended send time; requests still unanswered ${plan.driver.drainMs / 1000} s after the last send count as failed in the total only:`,
    );
    out.push('');
    // One column per repetition: repetitions can differ a lot (a cluster that copes, one that does not), and a median would hide it.
    out.push(`| second | ${fx.map((x) => `repetition ${x.rep}: ok / errors / p99 ms`).join(' | ')} | |`);
    out.push(`|---|${fx.map(() => '---').join('|')}|---|`);
    const kill = med(fx.map((x) => x.killAtS));
    const restart = med(fx.map((x) => x.restartAtS));
    const up = med(fx.map((x) => x.peersUpAtS));
    for (const s of secs) {
      const ev: string[] = [];
      if (kill >= s.second && kill < s.second + 1) ev.push('node 3 killed');
      if (restart >= s.second && restart < s.second + 1) ev.push('node 3 restarted');
      if (up >= s.second && up < s.second + 1) ev.push('all peers up');
      const cells = fx.map((x) => {
        const p = x.perSecond[s.second];
        return p ? `${fmtOps(p.ok)} / ${fmtOps(p.errors)} / ${p.ok > 0 ? fmtMs(p.p99Ms) : '–'}` : '';
      });
      out.push(`| ${s.second} | ${cells.join(' | ')} | ${ev.join(', ')} |`);
    }
    out.push('');
  }

  // --- Routing (cluster-aware clients)
  if (!summary) out.push(...routingSection(raw));

  if (summary) {
    const line = routingSummary(raw);
    if (line) {
      out.push(line);
      out.push('');
    }
    out.push(
      `The fixed-rate latencies (open loop), the read-modify-write and MGET/MSET workloads, the failure timeline per second, the cluster-aware client runs and the CPU profiles are in the [full report](${summary.fullReport}).`,
    );
    out.push('');
  }

  // --- Profiles
  if (raw.profiles.length > 0 && !summary) {
    out.push('### Where the time goes: CPU profiles (node --cpu-prof)');
    out.push('');
    out.push(
      `Taken after the measurements, one fresh process per profile, about ${plan.profile.seconds} s of redis-benchmark -c ${rb.clients}. ` +
        'Self time of the main JavaScript thread; RocksDB works on its own threads, which these profiles do not show. Percentages are of the non-idle time.',
    );
    out.push('');
    const rbAll = rbRows(raw);
    const redisUs = (workload?: string, test?: string): string | undefined => {
      const r = rbAll.find((x) => x.system === 'redis' && x.workload === workload && x.test === test);
      return r ? `; redis-server, all threads: ${(r.cpuPer100k.median * 10).toFixed(0)} µs` : undefined;
    };
    for (const p of raw.profiles) {
      const t = p.threadUsPerOp;
      const threads = t
        ? ` CPU per operation (from /proc, ${(p.operations ?? 0).toLocaleString('en-US')} operations): main thread ${t.main.toFixed(0)} µs, ` +
          `other threads ${t.other.toFixed(0)} µs (libuv pool, where RocksDB reads and writes run, and V8 helpers), RocksDB background threads ${t.rocksdb.toFixed(0)} µs` +
          (redisUs(p.workload, p.test) ?? '') +
          '.'
        : '';
      out.push(`**${p.label}**: ${(p.durationMs / 1000).toFixed(1)} s sampled (the process's whole life), main thread idle ${p.idlePercent.toFixed(0)}%.${threads}`);
      out.push('');
      out.push('| self % | function | where |');
      out.push('|---|---|---|');
      for (const e of p.top) out.push(`| ${e.percent.toFixed(1)} | \`${e.name}\` | ${e.where} |`);
      out.push('');
      out.push(`By file: ${p.byFile.slice(0, 8).map((e) => `${e.name} ${e.percent.toFixed(0)}%`).join(', ')}.`);
      out.push('');
    }
  }

  // --- Charts
  if (charts.length > 0) {
    out.push('### Charts');
    out.push('');
    for (const c of charts) {
      out.push(`![${c.title}](${c.file})`);
      out.push('');
    }
  }
  return out.join('\n');
}
