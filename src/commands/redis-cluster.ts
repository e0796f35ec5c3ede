/**
 * Redis Cluster's client-facing commands, so that cluster-aware clients (ioredis `Cluster`,
 * node-redis `createCluster`, `redis-benchmark --cluster`, `redis-cli -c`) send each key
 * straight to its coordinator.
 *
 * With the `redis-slot` scheme a partition is a contiguous range of hash slots
 * (`partitionSlotRange`), so the current ring is an exact slot map: each range's master is the
 * first member of its partition's preference list (the key's coordinator), its replicas are
 * the rest of that list. Consecutive partitions with the same preference list make one range.
 * Any node still accepts any command and forwards writes itself, so there are no MOVED or ASK
 * redirects: the map only saves clients the forwarding hop.
 *
 *   CLUSTER INFO              cluster_state, slots assigned/ok/pfail/fail, known nodes, size, epochs
 *   CLUSTER SLOTS             [[start, end, [host, port, id, {}], replica…], …]
 *   CLUSTER SHARDS            [{slots: [start, end, …], nodes: [{id, port, ip, endpoint, role,
 *                             replication-offset, health}, …]}, …]: one shard per preference list
 *   CLUSTER NODES             one line per member: id host:port@peerport flags - 0 pong epoch link slots…
 *   CLUSTER MYID              this member's node id
 *   CLUSTER KEYSLOT key       Redis's hash slot of the key
 *   CLUSTER COUNTKEYSINSLOT s / GETKEYSINSLOT s count
 *                             live keys of a slot, read from its partition's replicas (like SCAN)
 *   READONLY, READWRITE, ASKING   OK (every node serves every key, for reads and writes)
 *
 * Node ids are the 40 hex digits of SHA-1(member id), the same on every node. The master of a
 * range is the first member of the preference list this node sees reachable (the coordinator
 * a write would be forwarded to); unreachable replicas are left out of CLUSTER SLOTS, as Redis
 * leaves out failed replicas. A member is shown once gossip has delivered its client port.
 *
 * A node alone (`dynis start`) has no cluster: every command here answers Redis's
 * "cluster support disabled" error. With the `md5` scheme there are no slots: the slot-based
 * subcommands answer an error, CLUSTER INFO and CLUSTER MYID still answer.
 */
import { createHash } from 'node:crypto';
import { DynisError } from '../errors.js';
import type { Membership } from '../membership/membership.js';
import { keySlot, partitionSlotRange, SLOTS } from '../ring/partition.js';
import { MapReply, OK, SimpleString, VerbatimReply, type Reply } from '../resp/reply.js';
import { isLive } from '../versions/dvv.js';
import { intArg } from './args.js';
import type { CommandContext } from './context.js';
import { cmd, NO_KEYS, type CommandSpec } from './table.js';

const POSITIONS_PER_PARTITION = 2 ** 32;
const SCAN_PAGE = 1000;

/** A member as cluster-aware clients see it. */
interface ClusterNode {
  readonly member: string;
  /** 40 hex digits, as Redis node ids. */
  readonly nodeId: string;
  readonly host: string;
  readonly port: number;
  readonly peerPort: number;
  readonly self: boolean;
  readonly up: boolean;
  /** Stands in for Redis's config epoch: the member's position in id order, from 1. */
  readonly epoch: number;
}

/** A slot range with one preference list; `nodes[0]` is its master. */
interface SlotRange {
  readonly start: number;
  readonly end: number;
  readonly nodes: readonly ClusterNode[];
}

interface Topology {
  /** Every member with a known client port that has not left, in id order. */
  readonly nodes: readonly ClusterNode[];
  /** Ascending, disjoint; slots of a range whose members are all unknown are left out. */
  readonly ranges: readonly SlotRange[];
  readonly self: ClusterNode | undefined;
}

/** The id cluster-aware clients see for a member: SHA-1 of its member id, in hex. */
export function redisNodeId(member: string): string {
  return createHash('sha1').update(member).digest('hex');
}

function disabled(): DynisError {
  return new DynisError('ERR', 'This instance has cluster support disabled');
}

function membershipOf(ctx: CommandContext): Membership {
  const m = ctx.server.cluster.membership;
  if (m === undefined) throw disabled();
  return m;
}

/** The slot-based subcommands need the redis-slot scheme. */
function requireSlots(ctx: CommandContext, sub: string): Membership {
  const m = membershipOf(ctx);
  const scheme = ctx.server.cluster.scheme;
  if (scheme !== 'redis-slot') {
    throw new DynisError(
      'ERR',
      `CLUSTER ${sub} needs the redis-slot partition scheme, but this cluster places keys with ${scheme}, so it has no hash slots; use a plain (non-cluster) client, any node serves every key`,
    );
  }
  return m;
}

function topology(ctx: CommandContext, m: Membership): Topology {
  const { cluster } = ctx.server;
  const reachable = new Map(cluster.peers().map((p) => [p.id, p.up]));
  const nodes: ClusterNode[] = [];
  const byMember = new Map<string, ClusterNode>();
  const records = [...m.list()].sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
  for (const [i, r] of records.entries()) {
    if (r.status === 'left') continue;
    const self = r.id === m.selfId;
    const port = self ? ctx.server.listeningPort() : r.port;
    if (port === 0) continue; // gossip has not delivered the member's own record yet
    const node: ClusterNode = {
      member: r.id,
      nodeId: redisNodeId(r.id),
      host: r.host,
      port,
      peerPort: r.peerPort,
      self,
      up: self || reachable.get(r.id) === true,
      epoch: i + 1,
    };
    nodes.push(node);
    byMember.set(r.id, node);
  }
  const ranges: SlotRange[] = [];
  const ring = m.current;
  if (ring !== undefined) {
    const q = cluster.partitions;
    for (let p = 0; p < q; ) {
      const pref = ring.preferenceList(p);
      let last = p;
      while (last + 1 < q && sameList(ring.preferenceList(last + 1), pref)) last++;
      const known = pref.flatMap((id) => byMember.get(id) ?? []);
      // The coordinator: the first member of the list that this node sees reachable.
      const master = known.find((n) => n.up) ?? known[0];
      if (master !== undefined) {
        ranges.push({
          start: partitionSlotRange(p, q)[0],
          end: partitionSlotRange(last, q)[1],
          nodes: [master, ...known.filter((n) => n !== master)],
        });
      }
      p = last + 1;
    }
  }
  return { nodes, ranges, self: nodes.find((n) => n.self) };
}

function sameList(a: readonly string[], b: readonly string[]): boolean {
  return a.length === b.length && a.every((x, i) => x === b[i]);
}

/** [start, end] pairs with adjacent ranges joined. */
function joined(ranges: ReadonlyArray<readonly [number, number]>): Array<[number, number]> {
  const out: Array<[number, number]> = [];
  for (const [start, end] of ranges) {
    const prev = out[out.length - 1];
    if (prev !== undefined && prev[1] + 1 === start) prev[1] = end;
    else out.push([start, end]);
  }
  return out;
}

function clusterInfo(ctx: CommandContext): Reply {
  const m = membershipOf(ctx);
  const slotted = ctx.server.cluster.scheme === 'redis-slot';
  const t = topology(ctx, m);
  let assigned = 0;
  let ok = 0;
  let pfail = 0;
  if (slotted) {
    for (const r of t.ranges) {
      const count = r.end - r.start + 1;
      assigned += count;
      if ((r.nodes[0] as ClusterNode).up) ok += count;
      else pfail += count;
    }
  }
  const masters = new Set(t.ranges.map((r) => (r.nodes[0] as ClusterNode).member));
  const state = m.current !== undefined && (!slotted || assigned === SLOTS) ? 'ok' : 'fail';
  const fields: Array<[string, string | number]> = [
    ['cluster_state', state],
    ['cluster_slots_assigned', assigned],
    ['cluster_slots_ok', ok],
    ['cluster_slots_pfail', pfail],
    ['cluster_slots_fail', 0],
    ['cluster_known_nodes', t.nodes.length],
    ['cluster_size', slotted ? masters.size : (m.current?.members.length ?? 0)],
    ['cluster_current_epoch', t.nodes.reduce((max, n) => Math.max(max, n.epoch), 0)],
    ['cluster_my_epoch', t.self?.epoch ?? 0],
  ];
  return new VerbatimReply(fields.map(([k, v]) => `${k}:${v}\r\n`).join(''));
}

function nodeEntry(n: ClusterNode): Reply {
  return [n.host, n.port, n.nodeId, new MapReply([])];
}

function clusterSlots(ctx: CommandContext): Reply {
  const t = topology(ctx, requireSlots(ctx, 'SLOTS'));
  // Like Redis, replicas that are down are left out; the master is listed even when down.
  return t.ranges.map((r) => [r.start, r.end, ...r.nodes.filter((n, i) => i === 0 || n.up).map(nodeEntry)]);
}

function clusterShards(ctx: CommandContext): Reply {
  const t = topology(ctx, requireSlots(ctx, 'SHARDS'));
  const shards = new Map<string, { slots: Array<[number, number]>; nodes: readonly ClusterNode[] }>();
  for (const r of t.ranges) {
    const key = r.nodes.map((n) => n.member).join(' ');
    const shard = shards.get(key);
    if (shard === undefined) shards.set(key, { slots: [[r.start, r.end]], nodes: r.nodes });
    else shard.slots.push([r.start, r.end]);
  }
  return [...shards.values()].map(
    (s) =>
      new MapReply([
        ['slots', joined(s.slots).flat()],
        [
          'nodes',
          s.nodes.map(
            (n, i) =>
              new MapReply([
                ['id', n.nodeId],
                ['port', n.port],
                ['ip', n.host],
                ['endpoint', n.host],
                ['role', i === 0 ? 'master' : 'replica'],
                ['replication-offset', 0],
                ['health', n.up ? 'online' : 'failed'],
              ]),
          ),
        ],
      ]),
  );
}

function clusterNodes(ctx: CommandContext): Reply {
  const t = topology(ctx, requireSlots(ctx, 'NODES'));
  const now = Date.now();
  const lines = t.nodes.map((n) => {
    const slots = joined(t.ranges.filter((r) => r.nodes[0] === n).map((r) => [r.start, r.end] as const)).map(([a, b]) => (a === b ? `${a}` : `${a}-${b}`));
    const flags = n.self ? 'myself,master' : n.up ? 'master' : 'master,fail?';
    const fields = [n.nodeId, `${n.host}:${n.port}@${n.peerPort}`, flags, '-', 0, n.up ? now : 0, n.epoch, n.up ? 'connected' : 'disconnected', ...slots];
    return `${fields.join(' ')}\n`;
  });
  return new VerbatimReply(lines.join(''));
}

function slotArg(arg: Buffer, error: string): number {
  const slot = intArg(arg);
  if (slot < 0 || slot >= SLOTS) throw new DynisError('ERR', error);
  return slot;
}

/**
 * Up to `max` live keys of a slot, read from its partition's reachable replicas and merged (as
 * SCAN reads), so every node gives the same answer.
 */
async function keysInSlot(ctx: CommandContext, slot: number, max: number): Promise<Buffer[]> {
  const { kv, cluster } = ctx.server;
  const partition = Math.floor(slot / (SLOTS / cluster.partitions));
  const keys: Buffer[] = [];
  let position = partition * POSITIONS_PER_PARTITION;
  while (keys.length < max) {
    const page = await kv.scanPartition(partition, position, SCAN_PAGE);
    const now = kv.now();
    for (const e of page.entries) {
      if (keys.length < max && keySlot(e.key) === slot && e.set.some((s) => isLive(s, now))) keys.push(e.key);
    }
    if (page.next === 0) break;
    position = page.next;
  }
  return keys;
}

const HELP = [
  'CLUSTER <subcommand> [<arg> [value] [opt] ...]. Subcommands are:',
  'COUNTKEYSINSLOT <slot>',
  '    Return the number of keys in <slot>.',
  'GETKEYSINSLOT <slot> <count>',
  '    Return key names stored in a slot.',
  'INFO',
  '    Return information about the cluster.',
  'KEYSLOT <key>',
  '    Return the hash slot for <key>.',
  'MYID',
  '    Return the node id.',
  'NODES',
  '    Return cluster configuration seen by node. Output format:',
  '    <id> <ip:port@peerport> <flags> <master> <pings> <pongs> <epoch> <link> <slot> ...',
  'SHARDS',
  '    Return information about slot range mappings and the nodes associated with them.',
  'SLOTS',
  '    Return information about slots range mappings. Each range is made of:',
  '    start, end, master and replicas IP addresses, ports and ids',
  'HELP',
  '    Prints this help.',
];

/** READONLY, READWRITE, ASKING: every node serves every key, so there is nothing to switch. */
function accept(ctx: CommandContext): Reply {
  membershipOf(ctx);
  return OK;
}

export const redisClusterCommands: CommandSpec[] = [
  cmd('cluster', -2, [], NO_KEYS, undefined, [
    cmd('info', 2, ['loading', 'stale'], NO_KEYS, clusterInfo),
    cmd('slots', 2, ['loading', 'stale'], NO_KEYS, clusterSlots),
    cmd('shards', 2, ['loading', 'stale'], NO_KEYS, clusterShards),
    cmd('nodes', 2, ['loading', 'stale'], NO_KEYS, clusterNodes),
    cmd('myid', 2, ['loading', 'stale'], NO_KEYS, (ctx) => redisNodeId(membershipOf(ctx).selfId)),
    cmd('keyslot', 3, ['stale'], NO_KEYS, (ctx, args) => {
      requireSlots(ctx, 'KEYSLOT');
      return keySlot(args[2] as Buffer);
    }),
    cmd('countkeysinslot', 3, ['stale'], NO_KEYS, async (ctx, args) => {
      requireSlots(ctx, 'COUNTKEYSINSLOT');
      const slot = slotArg(args[2] as Buffer, 'Invalid slot');
      return (await keysInSlot(ctx, slot, Infinity)).length;
    }),
    cmd('getkeysinslot', 4, ['stale'], NO_KEYS, async (ctx, args) => {
      requireSlots(ctx, 'GETKEYSINSLOT');
      const slot = intArg(args[2] as Buffer);
      const max = intArg(args[3] as Buffer);
      if (slot < 0 || slot >= SLOTS || max < 0) throw new DynisError('ERR', 'Invalid slot or number of keys');
      return max === 0 ? [] : keysInSlot(ctx, slot, max);
    }),
    cmd('help', 2, ['loading', 'stale'], NO_KEYS, (ctx) => {
      membershipOf(ctx);
      return HELP.map((s) => new SimpleString(s));
    }),
  ]),
  cmd('readonly', 1, ['fast', 'loading', 'stale'], NO_KEYS, accept),
  cmd('readwrite', 1, ['fast', 'loading', 'stale'], NO_KEYS, accept),
  cmd('asking', 1, ['fast'], NO_KEYS, accept),
];
