/**
 * Seeds: `host:peerport[@zone]`. A member's id in the ring is its `host:peerport`. The first
 * members of a cluster are all started with the same seed list naming all of them; a node
 * that joins later names any members it can reach.
 */
import { ConfigError, isLoopback, type NodeConfig } from '../config.js';
import { limits } from '../limits.js';

export interface StaticMember {
  readonly id: string;
  readonly host: string;
  readonly peerPort: number;
  readonly zone: string;
}

export function parseSeed(text: string, defaultZone: string): StaticMember {
  const m = /^(?:\[([^\]]+)\]|([^:@\s]+)):(\d{1,5})(?:@(\S+))?$/.exec(text);
  if (m === null) throw new ConfigError(`seeds: '${text}' is not host:peerport[@zone]`);
  const host = (m[1] ?? m[2]) as string;
  const peerPort = Number(m[3]);
  if (peerPort < 1 || peerPort > 65535) throw new ConfigError(`seeds: port ${peerPort} out of range in '${text}'`);
  return { id: `${host}:${peerPort}`, host, peerPort, zone: m[4] ?? defaultZone };
}

/** The host this node announces: --announce-host, else the bind address (loopback for a wildcard). */
export function announceHost(config: NodeConfig): string {
  if (config.announceHost !== null) return config.announceHost;
  if (config.bind === '0.0.0.0' || config.bind === '::') return '127.0.0.1';
  return config.bind;
}

/**
 * This node's address and the parsed seed list. `bootstrap` is true when the seed list names
 * this node: the seeds are then the members of a new cluster (if the data directory has no
 * member records yet). Otherwise the seeds are only whom to ask about the cluster.
 */
export function seedList(config: NodeConfig): { self: StaticMember; seeds: StaticMember[]; bootstrap: boolean } {
  const selfId = `${announceHost(config)}:${config.peerPort}`;
  const byId = new Map<string, StaticMember>();
  for (const seed of config.seeds) {
    const member = parseSeed(seed, 'default');
    const known = byId.get(member.id);
    if (known !== undefined && known.zone !== member.zone) throw new ConfigError(`seeds: ${member.id} is listed with two zones`);
    byId.set(member.id, member);
  }
  const listed = byId.get(selfId);
  if (listed !== undefined && config.seeds.some((s) => s.includes('@')) && listed.zone !== config.zone && config.zone !== 'default') {
    throw new ConfigError(`zone: this node is listed in seeds with zone '${listed.zone}' but started with --zone ${config.zone}`);
  }
  const self: StaticMember = listed ?? { id: selfId, host: announceHost(config), peerPort: config.peerPort, zone: config.zone };
  if (byId.size > limits.membersMax) throw new ConfigError(`seeds: at most ${limits.membersMax} members`);
  const seeds = [...byId.values()].sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
  const bootstrap = listed !== undefined;
  if (bootstrap && config.n > seeds.length) {
    throw new ConfigError(`n: N=${config.n} needs at least ${config.n} members, the seed list names ${seeds.length} (list every first member in --seeds)`);
  }
  const offLoopback = !isLoopback(config.bind) || seeds.some((m) => !isLoopback(m.host));
  if (seeds.length > 0 && offLoopback && config.clusterSecret === null) {
    throw new ConfigError('cluster-secret: required when members are not all on loopback');
  }
  return { self, seeds, bootstrap };
}
