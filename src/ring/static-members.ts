/**
 * Static membership (until gossip arrives): every member is started with the same seed list,
 * `host:peerport[@zone]`, and a member's id in the ring is its `host:peerport`. This node is a
 * member too, whether or not the list names it.
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

export function staticMembers(config: NodeConfig): { self: StaticMember; members: StaticMember[] } {
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
  byId.set(self.id, self);
  if (byId.size > limits.membersMax) throw new ConfigError(`seeds: at most ${limits.membersMax} members`);
  const members = [...byId.values()].sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
  if (config.n > members.length) {
    throw new ConfigError(`n: N=${config.n} needs at least ${config.n} members, the cluster has ${members.length} (list them in --seeds)`);
  }
  const offLoopback = !isLoopback(config.bind) || members.some((m) => !isLoopback(m.host));
  if (members.length > 1 && offLoopback && config.clusterSecret === null) {
    throw new ConfigError('cluster-secret: required when members are not all on loopback');
  }
  return { self, members };
}
