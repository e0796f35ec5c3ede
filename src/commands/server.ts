/**
 * Server commands: COMMAND, CONFIG, INFO, DBSIZE, FLUSHALL/FLUSHDB, TIME.
 */
import { cpuUsage, memoryUsage, pid, uptime } from 'node:process';
import { DynisError, Errors } from '../errors.js';
import { limits } from '../limits.js';
import { MapReply, OK, SimpleString, VerbatimReply, type Reply } from '../resp/reply.js';
import { setDigest } from '../anti-entropy/scheduler.js';
import { keySlot } from '../ring/partition.js';
import { isLive } from '../versions/dvv.js';
import { globToRegExp, isWord } from './args.js';
import type { CommandContext } from './context.js';
import { cmd, NO_KEYS, type CommandSpec, type CommandTable } from './table.js';

/** The Redis version we report: clients pick features by it; we implement 7.x semantics. */
export const REDIS_VERSION = '7.0.15';
export const DYNIS_VERSION = '0.1.0';

function commandEntry(spec: CommandSpec, fullName = spec.name): Reply {
  return [fullName, spec.arity, spec.flags.map((f) => new SimpleString(f.replace('_', '-'))), spec.firstKey, spec.lastKey, spec.step];
}

function commandCommand(table: CommandTable): CommandSpec {
  return cmd('command', -1, ['random', 'loading', 'stale'], NO_KEYS, (_ctx, args) => {
    if (args.length > 1) throw Errors.unknownSubcommand((args[1] as Buffer).toString('utf8'), 'command');
    return [...table.all()].map((s) => commandEntry(s));
  }, [
    cmd('count', 2, ['loading', 'stale'], NO_KEYS, () => table.size),
    cmd('info', -2, ['loading', 'stale'], NO_KEYS, (_ctx, args) => {
      if (args.length === 2) return [...table.all()].map((s) => commandEntry(s));
      return args.slice(2).map((a) => {
        const spec = table.get(a.toString('latin1').toLowerCase());
        return spec ? commandEntry(spec) : null;
      });
    }),
    cmd('list', -2, ['loading', 'stale'], NO_KEYS, () => [...table.all()].map((s) => s.name)),
    // redis-cli asks for COMMAND DOCS to build its hints; this error sends it to its built-in help.
    cmd('docs', -2, ['loading', 'stale'], NO_KEYS, () => {
      throw new DynisError('ERR', 'COMMAND DOCS is not supported by dynis; clients fall back to their built-in help');
    }),
    cmd('getkeys', -3, ['loading', 'stale'], NO_KEYS, (_ctx, args) => {
      const spec = table.get((args[2] as Buffer).toString('latin1').toLowerCase());
      if (!spec) throw new DynisError('ERR', 'Invalid command specified');
      const cmdArgs = args.slice(2);
      if ((spec.arity > 0 && cmdArgs.length !== spec.arity) || cmdArgs.length < -spec.arity) {
        throw new DynisError('ERR', 'Invalid number of arguments specified for command');
      }
      if (spec.firstKey === 0) throw new DynisError('ERR', 'The command has no key arguments');
      const last = spec.lastKey < 0 ? cmdArgs.length + spec.lastKey : spec.lastKey;
      const keys: Buffer[] = [];
      for (let i = spec.firstKey; i <= last; i += spec.step) keys.push(cmdArgs[i] as Buffer);
      return keys;
    }),
    cmd('help', 2, ['loading', 'stale'], NO_KEYS, () =>
      ['COMMAND [<subcommand>]', 'COUNT', 'INFO [<command-name> ...]', 'LIST', 'GETKEYS <full-command>', 'HELP'].map((s) => new SimpleString(s)),
    ),
  ]);
}

/**
 * A member of a cluster with the redis-slot scheme presents itself as Redis Cluster does
 * (redis_mode, cluster-enabled, INFO cluster): it serves CLUSTER SLOTS and friends.
 */
function clusterMode(ctx: CommandContext): boolean {
  return ctx.server.cluster.membership !== undefined && ctx.server.cluster.scheme === 'redis-slot';
}

/** The values CONFIG GET reports: ours, plus the Redis settings that tools ask about. */
function configValues(ctx: CommandContext): Array<[string, string]> {
  const c = ctx.server.config;
  return [
    ['port', String(ctx.server.listeningPort())],
    ['bind', c.bind],
    ['dir', c.dir],
    ['requirepass', c.requirepass ?? ''],
    ['maxclients', String(c.maxclients)],
    ['timeout', String(c.timeout)],
    ['proto-max-bulk-len', String(c.protoMaxBulkLen)],
    ['protected-mode', c.protectedMode ? 'yes' : 'no'],
    ['fsync', c.fsync],
    ['appendonly', 'yes'],
    ['appendfsync', c.fsync],
    ['save', ''],
    ['databases', '1'],
    ['maxmemory', '0'],
    ['maxmemory-policy', 'noeviction'],
    ['cluster-enabled', clusterMode(ctx) ? 'yes' : 'no'],
    ['partitions', String(c.partitions)],
    ['partition-scheme', c.partitionScheme],
    ['n', String(c.n)],
    ['r', String(c.r)],
    ['w', String(c.w)],
    ['loglevel', c.loglevel],
    ['slowlog-log-slower-than', String(c.slowlogLogSlowerThan)],
    ['slowlog-max-len', String(c.slowlogMaxLen)],
  ];
}

/** Settings CONFIG SET may change while running (the rest are fixed at start). */
const RUNTIME_SETTINGS = new Set(['slowlog-log-slower-than', 'slowlog-max-len']);

function configCommand(): CommandSpec {
  return cmd('config', -2, [], NO_KEYS, undefined, [
    cmd('get', -3, ['admin', 'noscript', 'loading', 'stale'], NO_KEYS, (ctx, args) => {
      const values = configValues(ctx);
      const out: Array<[Reply, Reply]> = [];
      const seen = new Set<string>();
      for (const patternArg of args.slice(2)) {
        const re = globToRegExp(patternArg.toString('latin1').toLowerCase());
        for (const [name, value] of values) {
          if (!seen.has(name) && re.test(name)) {
            seen.add(name);
            out.push([name, value]);
          }
        }
      }
      return new MapReply(out);
    }),
    cmd('set', -4, ['admin', 'noscript', 'loading', 'stale'], NO_KEYS, (ctx, args) => {
      if (args.length % 2 !== 0) throw Errors.wrongArity('config|set');
      const changes: Array<[string, string]> = [];
      for (let i = 2; i < args.length; i += 2) {
        const name = (args[i] as Buffer).toString('utf8').toLowerCase();
        // Other settings are fixed at start; refuse them with Redis's wording for unknown ones.
        if (!RUNTIME_SETTINGS.has(name)) throw new DynisError('ERR', `Unknown option or number of arguments for CONFIG SET - '${name}'`);
        changes.push([name, (args[i + 1] as Buffer).toString('utf8')]);
      }
      const c = ctx.server.config;
      let threshold = c.slowlogLogSlowerThan;
      let maxLen = c.slowlogMaxLen;
      for (const [name, value] of changes) {
        const n = /^-?\d+$/.test(value) ? Number(value) : NaN;
        if (name === 'slowlog-log-slower-than' && Number.isSafeInteger(n) && n >= -1) threshold = n;
        else if (name === 'slowlog-max-len' && Number.isSafeInteger(n) && n >= 0 && n <= limits.slowlogMaxLenMax) maxLen = n;
        else throw new DynisError('ERR', `CONFIG SET failed (possibly related to argument '${name}') - argument couldn't be parsed into an integer`);
      }
      c.slowlogLogSlowerThan = threshold;
      c.slowlogMaxLen = maxLen;
      ctx.server.slowlog?.configure(threshold, maxLen);
      return OK;
    }),
    cmd('resetstat', 2, ['admin', 'noscript', 'loading', 'stale'], NO_KEYS, (ctx) => {
      const s = ctx.server.stats;
      s.totalCommands = 0;
      s.keyspaceHits = 0;
      s.keyspaceMisses = 0;
      s.expiredKeys = 0;
      s.protocolErrors = 0;
      s.rejectedConnections = 0;
      ctx.server.commandStats?.reset();
      return OK;
    }),
    cmd('help', 2, ['loading', 'stale'], NO_KEYS, () =>
      ['CONFIG <subcommand> [<arg> [value] [opt] ...]. Subcommands are:', 'GET <pattern>', 'SET <directive> <value>', 'RESETSTAT', 'HELP'].map(
        (s) => new SimpleString(s),
      ),
    ),
  ]);
}

const DEFAULT_SECTIONS = ['server', 'clients', 'memory', 'persistence', 'stats', 'replication', 'cpu', 'cluster', 'keyspace', 'dynis', 'dynamo'];
const ALL_SECTIONS = [...DEFAULT_SECTIONS, 'commandstats', 'latencystats'];

async function infoCommand(ctx: CommandContext, args: Buffer[]): Promise<Reply> {
  let sections = DEFAULT_SECTIONS;
  if (args.length > 1) {
    const asked = args.slice(1).map((a) => a.toString('latin1').toLowerCase());
    // `ring` is the Dynamo section's earlier name.
    const named = asked.map((s) => (s === 'ring' ? 'dynamo' : s));
    sections = named.some((s) => s === 'all' || s === 'everything') ? ALL_SECTIONS : named.filter((s) => s !== 'default');
    if (named.includes('default')) sections = [...new Set([...DEFAULT_SECTIONS, ...sections])];
  }
  const parts: string[] = [];
  for (const section of sections) {
    const body = await infoSection(ctx, section);
    if (body !== undefined) parts.push(body);
  }
  return new VerbatimReply(parts.join('\r\n'));
}

async function infoSection(ctx: CommandContext, section: string): Promise<string | undefined> {
  const { server } = ctx;
  const lines = (title: string, kv: Array<[string, string | number]>): string =>
    `# ${title}\r\n${kv.map(([k, v]) => `${k}:${v}\r\n`).join('')}`;
  const mem = memoryUsage();
  switch (section) {
    case 'server':
      return lines('Server', [
        ['redis_version', REDIS_VERSION],
        ['dynis_version', DYNIS_VERSION],
        ['redis_mode', clusterMode(ctx) ? 'cluster' : 'standalone'],
        ['os', `${process.platform} ${process.arch}`],
        ['arch_bits', 64],
        ['process_id', pid],
        ['run_id', server.runId],
        ['tcp_port', server.listeningPort()],
        ['uptime_in_seconds', Math.floor((Date.now() - server.startedAtMs) / 1000)],
        ['uptime_in_days', Math.floor((Date.now() - server.startedAtMs) / 86_400_000)],
        ['executable', process.argv[1] ?? ''],
        ['node_version', process.version],
      ]);
    case 'clients':
      return lines('Clients', [
        ['connected_clients', server.clients.size],
        ['maxclients', server.config.maxclients],
        ['blocked_clients', 0],
      ]);
    case 'memory':
      return lines('Memory', [
        ['used_memory', mem.heapUsed + mem.external],
        ['used_memory_rss', mem.rss],
        ['used_memory_peak', mem.rss],
        ['maxmemory', 0],
        ['maxmemory_policy', 'noeviction'],
      ]);
    case 'persistence':
      return lines('Persistence', [
        ['loading', 0],
        ['async_loading', 0],
        ['rdb_changes_since_last_save', 0],
        ['aof_enabled', 1],
        ['aof_rewrite_in_progress', 0],
        ['storage_engine', 'rocksdb'],
        ['fsync', server.config.fsync],
      ]);
    case 'stats':
      return lines('Stats', [
        ['total_connections_received', server.stats.totalConnections],
        ['total_commands_processed', server.stats.totalCommands],
        ['total_net_input_bytes', server.stats.netInputBytes],
        ['total_net_output_bytes', server.stats.netOutputBytes],
        ['rejected_connections', server.stats.rejectedConnections],
        ['auth_failures', server.stats.authFailures ?? 0],
        ['expired_keys', server.stats.expiredKeys],
        ['keyspace_hits', server.stats.keyspaceHits],
        ['keyspace_misses', server.stats.keyspaceMisses],
        ['total_error_replies', 0],
        ['protocol_errors', server.stats.protocolErrors],
      ]);
    case 'replication':
      return lines('Replication', [
        ['role', 'master'],
        ['connected_slaves', 0],
      ]);
    case 'cpu': {
      const cpu = cpuUsage();
      return lines('CPU', [
        ['used_cpu_sys', (cpu.system / 1e6).toFixed(6)],
        ['used_cpu_user', (cpu.user / 1e6).toFixed(6)],
        ['uptime_process_seconds', uptime().toFixed(0)],
      ]);
    }
    case 'keyspace': {
      // A background count (coordinator.ts keyspaceEstimate): up to 10 s old, never waited for.
      const count = server.kv.keyspaceEstimate();
      return lines('Keyspace', count !== undefined && count.keys > 0 ? [['db0', `keys=${count.keys},expires=${count.expires},avg_ttl=0`]] : []);
    }
    case 'dynis': {
      const s = server.store.stats;
      const cache = server.store.cacheStats;
      return lines('Dynis', [
        ['node_id', server.identity.nodeId],
        ['actor', server.identity.actor],
        ['n', server.config.n],
        ['r', server.config.r],
        ['w', server.config.w],
        ['partitions', server.config.partitions],
        ['partition_scheme', server.config.partitionScheme],
        ['fsync', server.config.fsync],
        ['kv_reads', server.kv.stats.reads],
        ['kv_writes', server.kv.stats.writes],
        ['siblings_seen', server.kv.stats.siblingsSeen],
        ['writes_with_many_siblings', server.kv.stats.manySiblings],
        ['storage_batches', s.batches],
        ['storage_batched_ops', s.batchedOps],
        ['storage_engine_gets', s.engineGets],
        ['cache_hits', s.cacheHits],
        ['cache_entries', cache.entries],
        ['cache_bytes', cache.bytes],
        ['absent_filter_ready', server.store.filterStats.ready ? 1 : 0],
        ['absent_filter_keys', server.store.filterStats.keys],
        ['absent_filter_bytes', server.store.filterStats.bytes],
        ['absent_filter_skipped_reads', server.store.filterStats.skips],
      ]);
    }
    case 'commandstats': {
      const rows: Array<[string, string]> = [];
      for (const [name, e] of server.commandStats?.entries() ?? []) {
        const perCall = e.calls === 0 ? 0 : e.usec / e.calls;
        rows.push([`cmdstat_${name}`, `calls=${e.calls},usec=${Math.round(e.usec)},usec_per_call=${perCall.toFixed(2)},rejected_calls=${e.rejected},failed_calls=${e.failed}`]);
      }
      return lines('Commandstats', rows);
    }
    case 'latencystats': {
      const rows: Array<[string, string]> = [];
      for (const [name, e] of server.commandStats?.entries() ?? []) {
        if (e.calls === 0) continue;
        const at = (q: number): string => e.histogram.getValueAtPercentile(q).toFixed(3);
        rows.push([`latency_percentiles_usec_${name}`, `p50=${at(50)},p99=${at(99)},p99.9=${at(99.9)}`]);
      }
      return lines('Latencystats', rows);
    }
    case 'cluster':
      return lines('Cluster', [['cluster_enabled', clusterMode(ctx) ? 1 : 0]]);
    case 'dynamo': {
      const c = server.cluster;
      const peers = c.peers();
      return lines('Dynamo', [
        ['cluster_name', c.clusterName],
        ['self', c.self],
        ['members', c.members.length],
        ['member_ids', c.members.join(',')],
        ['peers_up', peers.filter((p) => p.up).length],
        ['n', c.n],
        ['r', c.r],
        ['w', c.w],
        ['partitions', c.partitions],
        ['partition_scheme', c.scheme],
        ['partitions_owned', c.owned()],
        ['partitions_replicated', c.replicated()],
        ['member_status', c.membership?.selfRecord.status ?? 'up'],
        ['ring_transition', c.membership?.transition?.hash ?? 'none'],
        ['transfer_partitions_left', c.transfers?.remaining() ?? 0],
        ['transfer_keys_pulled', c.transfers?.stats.keysPulled ?? 0],
        ['partitions_dropped', c.transfers?.stats.partitionsDropped ?? 0],
        ['read_repairs', server.kv.stats.readRepairs],
        ['read_quorum_failures', server.kv.stats.readQuorumFailures],
        ['write_quorum_failures', server.kv.stats.writeQuorumFailures],
        ['forwarded_writes', server.router?.stats.forwarded ?? 0],
        ['forward_errors', server.router?.stats.forwardErrors ?? 0],
        ['hinted_writes', server.kv.stats.hintedWrites],
        ['fallback_coordinated_writes', server.kv.stats.fallbackCoordinated],
        ['hints_pending', server.hints.pendingTotal()],
        ['hints_stored', server.hints.stats.stored],
        ['hints_delivered', server.hints.stats.delivered],
        ['hints_expired', server.hints.stats.expired],
        ['hints_refused', server.hints.stats.refused],
        ['anti_entropy_exchanges', server.antiEntropy?.stats.exchanges ?? 0],
        ['anti_entropy_rounds', server.antiEntropy?.stats.rounds ?? 0],
        ['anti_entropy_segments_differing', server.antiEntropy?.stats.segmentsDiffering ?? 0],
        ['anti_entropy_keys_repaired', server.antiEntropy?.stats.keysRepaired ?? 0],
        ['tombstones_reaped', server.antiEntropy?.stats.reaped ?? 0],
        ['peer_messages_malformed', server.peerStats?.malformed ?? 0],
        ['peer_handshakes_refused', server.peerStats?.refusedHandshakes ?? 0],
        ...peers.map((p, i): [string, string] => [
          `peer${i}`,
          `id=${p.id},up=${p.up ? 1 : 0},phi=${(p.phi ?? 0) === Infinity ? 'inf' : (p.phi ?? 0).toFixed(2)},requests=${p.requests},errors=${p.errors},` +
            `in_flight=${p.inFlight},p50_ms=${p.p50Ms.toFixed(3)},p99_ms=${p.p99Ms.toFixed(3)}`,
        ]),
      ]);
    }
    default:
      return undefined;
  }
}

/**
 * DYN.KEYINFO key: where a key lives and what this node holds of it, as a map —
 * partition, slot (redis-slot scheme), preference-list, replica (1 when this node is in it),
 * stored (1 when this node's replica has a record of the key, tombstones included), siblings,
 * live (1 when this node's copy has a live value), digest (of the local set's dots; equal
 * digests on two replicas mean equal sets). Reads only this node's replica: no repair.
 */
async function keyinfoCommand(ctx: CommandContext, args: Buffer[]): Promise<Reply> {
  const key = args[1] as Buffer;
  const { kv, cluster, store } = ctx.server;
  const partition = kv.partitionOf(key);
  const pref = cluster.preferenceList(partition);
  const local = await store.read(partition, key);
  const now = kv.now();
  const entries: Array<[Reply, Reply]> = [
    ['partition', partition],
    ['preference-list', [...pref]],
    ['replica', pref.includes(cluster.self) ? 1 : 0],
    ['stored', local.length > 0 ? 1 : 0],
    ['siblings', local.length],
    ['live', local.some((sib) => isLive(sib, now)) ? 1 : 0],
    ['digest', local.length === 0 ? '' : setDigest(key, local)],
  ];
  if (cluster.scheme === 'redis-slot') entries.splice(1, 0, ['slot', keySlot(key)]);
  return new MapReply(entries);
}

async function flushCommand(ctx: CommandContext, args: Buffer[]): Promise<Reply> {
  if (args.length > 2 || (args.length === 2 && !isWord(args[1], 'ASYNC') && !isWord(args[1], 'SYNC'))) throw Errors.syntax();
  await ctx.server.kv.flushAll();
  return OK;
}

/** SLOWLOG GET [count] | LEN | RESET | HELP, with Redis's reply shapes. */
function slowlogCommand(): CommandSpec {
  const log = (ctx: CommandContext): NonNullable<CommandContext['server']['slowlog']> => {
    const l = ctx.server.slowlog;
    if (l === undefined) throw Errors.internal('no slow log here');
    return l;
  };
  return cmd('slowlog', -2, [], NO_KEYS, undefined, [
    cmd('get', -2, ['admin', 'loading', 'stale'], NO_KEYS, (ctx, args) => {
      if (args.length > 3) throw Errors.wrongArity('slowlog|get');
      let count = 10;
      if (args.length === 3) {
        const n = /^-?\d+$/.test((args[2] as Buffer).toString('latin1')) ? Number((args[2] as Buffer).toString('latin1')) : NaN;
        if (!Number.isSafeInteger(n) || n < -1) throw new DynisError('ERR', 'count should be greater than or equal to -1');
        count = n;
      }
      return log(ctx)
        .get(count)
        .map((e) => [e.id, e.timestampS, e.usec, e.args.map((a) => Buffer.from(a, 'latin1')), e.addr, e.name]);
    }),
    cmd('len', 2, ['admin', 'loading', 'stale'], NO_KEYS, (ctx) => log(ctx).length),
    cmd('reset', 2, ['admin', 'loading', 'stale'], NO_KEYS, (ctx) => {
      log(ctx).reset();
      return OK;
    }),
    cmd('help', 2, ['loading', 'stale'], NO_KEYS, () =>
      [
        'SLOWLOG <subcommand> [<arg> [value] [opt] ...]. Subcommands are:',
        'GET [<count>]',
        '    Return top <count> entries from the slowlog (default: 10, -1 mean all).',
        '    Entries are made of:',
        '    id, timestamp, time in microseconds, arguments array, client IP and port,',
        '    client name',
        'LEN',
        '    Return the length of the slowlog.',
        'RESET',
        '    Reset the slowlog.',
        'HELP',
        '    Print this help.',
      ].map((l) => new SimpleString(l)),
    ),
  ]);
}

/**
 * LATENCY HISTOGRAM [command …] (Redis 7): per command its calls and a cumulative latency
 * histogram in power-of-two microsecond buckets, from the HDR histograms the dispatcher keeps.
 */
function latencyCommand(): CommandSpec {
  const histogram: CommandSpec = cmd('histogram', -2, ['admin', 'loading', 'stale'], NO_KEYS, (ctx, args) => {
    const wanted = args.slice(2).map((a) => a.toString('latin1').toLowerCase());
    const out: Array<[Reply, Reply]> = [];
    for (const [name, e] of ctx.server.commandStats?.entries() ?? []) {
      if (e.calls === 0 || (wanted.length > 0 && !wanted.includes(name))) continue;
      // Cumulative counts at 1, 2, 4, … µs, from the first bucket with a call to the last, as Redis reports them.
      const buckets: Array<[Reply, Reply]> = [];
      let cumulative = 0;
      let last = 0;
      e.pow2.forEach((n, i) => {
        if (n > 0) last = i;
      });
      for (let i = 0; i <= last; i++) {
        cumulative += e.pow2[i] as number;
        if (cumulative > 0) buckets.push([2 ** i, cumulative]);
      }
      out.push([name, new MapReply([['calls', e.calls], ['histogram_usec', new MapReply(buckets)]])]);
    }
    return new MapReply(out);
  });
  return cmd('latency', -2, [], NO_KEYS, undefined, [
    histogram,
    cmd('help', 2, ['loading', 'stale'], NO_KEYS, () =>
      [
        'LATENCY <subcommand> [<arg> [value] [opt] ...]. Subcommands are:',
        'HISTOGRAM [COMMAND ...]',
        '    Return a cumulative distribution of latencies in the format of a histogram for the specified command names.',
        '    If no commands are specified then all histograms are replied.',
        'HELP',
        '    Print this help.',
      ].map((l) => new SimpleString(l)),
    ),
  ]);
}

export function serverCommands(table: CommandTable): CommandSpec[] {
  return [
    commandCommand(table),
    configCommand(),
    slowlogCommand(),
    latencyCommand(),
    cmd('info', -1, ['loading', 'stale'], NO_KEYS, infoCommand),
    cmd('dyn.keyinfo', 2, ['readonly', 'fast'], [1, 1, 1], keyinfoCommand),
    cmd('dbsize', 1, ['readonly', 'fast'], NO_KEYS, async (ctx) => (await ctx.server.kv.countLive()).keys),
    cmd('flushall', -1, ['write'], NO_KEYS, flushCommand),
    cmd('flushdb', -1, ['write'], NO_KEYS, flushCommand),
    cmd('time', 1, ['loading', 'stale', 'fast'], NO_KEYS, () => {
      const us = BigInt(Date.now()) * 1000n + BigInt(Math.floor((performance.now() % 1) * 1000));
      return [String(us / 1_000_000n), String(us % 1_000_000n)];
    }),
    cmd('lastsave', 1, ['loading', 'stale', 'fast'], NO_KEYS, (ctx) => Math.floor(ctx.server.startedAtMs / 1000)),
    cmd('save', 1, ['admin', 'noscript'], NO_KEYS, async (ctx) => {
      await ctx.server.store.syncNow();
      return OK;
    }),
    cmd('bgsave', -1, ['admin', 'noscript'], NO_KEYS, async (ctx) => {
      await ctx.server.store.syncNow();
      return new SimpleString('Background saving started');
    }),
    cmd('memory', -2, [], NO_KEYS, undefined, [
      cmd('usage', -3, ['readonly'], [2, 2, 1], async (ctx, args) => {
        const w = await ctx.server.kv.get(args[2] as Buffer);
        return w === undefined ? null : (w.value as Buffer).length + 64;
      }),
    ]),
  ];
}

