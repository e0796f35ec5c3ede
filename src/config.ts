/**
 * Node settings: defaults, parsing from a redis.conf-style file and from command-line flags,
 * and validation with errors that name the setting and the allowed values.
 *
 * Precedence (later wins): defaults < config file (--config FILE) < DYNIS_* environment
 * variables < command-line flags.
 * The config file has one `name value` per line, `#` comments, like redis.conf; names are
 * the flag names without the leading dashes.
 */
import { readFileSync } from 'node:fs';
import { limits } from './limits.js';
import type { FsyncPolicy } from './storage/replica-store.js';

export interface NodeConfig {
  port: number;
  bind: string;
  dir: string;
  requirepass: string | null;
  maxclients: number;
  fsync: FsyncPolicy;
  protoMaxBulkLen: number;
  /** Close idle clients after this many seconds (0 = never), like Redis's `timeout`. */
  timeout: number;
  /** Node id recorded in a new data dir; an existing dir keeps its own. */
  nodeId: string | undefined;
  /** Partitions (Q): fixed at cluster creation, power of two. */
  partitions: number;
  partitionScheme: 'redis-slot' | 'md5';
  n: number;
  r: number;
  w: number;
  loglevel: 'debug' | 'info' | 'warn' | 'error';
  /** Log lines as pino JSON or as readable text. */
  logFormat: 'json' | 'text';
  /** Bytes of decoded values kept in the read cache. */
  cacheBytes: number;
  /** Refuse non-loopback clients when no password is set (Redis protected mode). */
  protectedMode: boolean;
  /** Peer (cluster bus) port; 0 = client port + 10000. */
  peerPort: number;
  /** Static members, `host:peerport[@zone]`, the same list on every member (this node may be in it). */
  seeds: string[];
  /** This node's zone (rack, availability zone): replicas of a key go to distinct zones when possible. */
  zone: string;
  /** The host other members reach this node at; default: the bind address (127.0.0.1 for 0.0.0.0). */
  announceHost: string | null;
  clusterName: string;
  /** Shared secret every member proves in the peer handshake; required off loopback. */
  clusterSecret: string | null;
  /** Time a peer has to answer one request (ms). */
  peerTimeout: number;
  /** Failure detector threshold φ. */
  phiThreshold: number;
  /** Hints older than this are dropped, never delivered (ms). */
  hintWindow: number;
  /** Tombstones are reaped no sooner than this after the delete, and only once every replica has them (ms). */
  tombstoneGrace: number;
  /** Pause between two anti-entropy partition exchanges (ms). */
  antiEntropyInterval: number;
  /** TLS on the client port: certificate and key files (PEM); both or neither. */
  tlsCert: string | null;
  tlsKey: string | null;
  /** CA certificates (PEM) clients' certificates are checked against, and peers' with tls-peers. */
  tlsCa: string | null;
  /** With a CA: yes = clients must present a certificate it signed; optional = checked if presented; no = not asked. */
  tlsAuthClients: 'yes' | 'no' | 'optional';
  /** TLS between peers too (needs tls-cert, tls-key and tls-ca; peers check each other's certificates). */
  tlsPeers: boolean;
  /** SLOWLOG: commands at least this slow (µs) are logged; negative disables (Redis's slowlog-log-slower-than). */
  slowlogLogSlowerThan: number;
  /** SLOWLOG: entries kept. */
  slowlogMaxLen: number;
  /** Admin HTTP port (/metrics, /status.json, status page) on the bind address; 0 = off. */
  adminPort: number;
}

export const defaultConfig: Readonly<NodeConfig> = Object.freeze({
  port: 6379,
  bind: '127.0.0.1',
  dir: './data/node-6379',
  requirepass: null,
  maxclients: limits.maxClients,
  fsync: 'everysec',
  protoMaxBulkLen: limits.protoMaxBulkLenBytes,
  timeout: 0,
  nodeId: undefined,
  partitions: 256,
  partitionScheme: 'redis-slot',
  n: 1,
  r: 1,
  w: 1,
  loglevel: 'info',
  logFormat: 'text',
  cacheBytes: limits.readCacheMaxBytes,
  protectedMode: true,
  peerPort: 0,
  seeds: [],
  zone: 'default',
  announceHost: null,
  clusterName: 'dynis',
  clusterSecret: null,
  peerTimeout: limits.peerTimeoutMs,
  phiThreshold: limits.phiThreshold,
  hintWindow: limits.hintWindowMs,
  tombstoneGrace: limits.tombstoneGraceMs,
  antiEntropyInterval: limits.aeIntervalMs,
  tlsCert: null,
  tlsKey: null,
  tlsCa: null,
  tlsAuthClients: 'yes',
  tlsPeers: false,
  slowlogLogSlowerThan: 10_000,
  slowlogMaxLen: 128,
  adminPort: 0,
});

export class ConfigError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ConfigError';
  }
}

type Parser = (value: string, name: string) => unknown;

const int =
  (min: number, max: number): Parser =>
  (v, name) => {
    if (!/^-?\d+$/.test(v)) throw new ConfigError(`${name}: '${v}' is not an integer (allowed: ${min}..${max})`);
    const n = Number(v);
    if (n < min || n > max) throw new ConfigError(`${name}: ${n} is out of range (allowed: ${min}..${max})`);
    return n;
  };
const oneOf =
  (...allowed: string[]): Parser =>
  (v, name) => {
    if (!allowed.includes(v)) throw new ConfigError(`${name}: '${v}' is not allowed (allowed: ${allowed.join(', ')})`);
    return v;
  };
const str: Parser = (v) => v;
const list: Parser = (v) =>
  v
    .split(',')
    .map((x) => x.trim())
    .filter((x) => x !== '');
const yesno: Parser = (v, name) => {
  if (v === 'yes' || v === 'true') return true;
  if (v === 'no' || v === 'false') return false;
  throw new ConfigError(`${name}: '${v}' is not allowed (allowed: yes, no)`);
};
/** Redis memory units: 512mb, 1gb, 100k … */
const bytes: Parser = (v, name) => {
  const m = /^(\d+)(b|k|kb|m|mb|g|gb)?$/i.exec(v);
  if (!m) throw new ConfigError(`${name}: '${v}' is not a size (e.g. 512mb)`);
  const unit = (m[2] ?? 'b').toLowerCase();
  const mul: Record<string, number> = { b: 1, k: 1000, kb: 1024, m: 1e6, mb: 1024 ** 2, g: 1e9, gb: 1024 ** 3 };
  return Number(m[1]) * (mul[unit] as number);
};

/** A duration: 500ms, 10s, 5m, 3h, 7d, or a bare number of milliseconds. */
const duration: Parser = (v, name) => {
  const m = /^(\d+)(ms|s|m|h|d)?$/.exec(v);
  if (!m) throw new ConfigError(`${name}: '${v}' is not a duration (e.g. 500ms, 10s, 3h)`);
  const mul: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 };
  return Number(m[1]) * (mul[m[2] ?? 'ms'] as number);
};

/** Every setting: its key in NodeConfig, its parser, and a one-line description (--help, README). */
export const settings: Record<string, { key: keyof NodeConfig; parse: Parser; help: string }> = {
  port: { key: 'port', parse: int(1, 65535), help: 'client (RESP) port' },
  bind: { key: 'bind', parse: str, help: 'address to listen on (default 127.0.0.1)' },
  dir: { key: 'dir', parse: str, help: 'data directory (RocksDB)' },
  requirepass: { key: 'requirepass', parse: str, help: 'password clients must AUTH with' },
  maxclients: { key: 'maxclients', parse: int(1, 1_000_000), help: 'maximum connected clients' },
  fsync: { key: 'fsync', parse: oneOf('always', 'everysec', 'no'), help: 'always | everysec | no (like appendfsync)' },
  'proto-max-bulk-len': { key: 'protoMaxBulkLen', parse: bytes, help: 'largest bulk string a client may send' },
  timeout: { key: 'timeout', parse: int(0, 365 * 24 * 3600), help: 'close clients idle this many seconds (0 = never)' },
  'node-id': { key: 'nodeId', parse: str, help: 'node id recorded in a new data dir' },
  partitions: { key: 'partitions', parse: int(1, 16384), help: 'ring partitions Q, a power of two (fixed at creation)' },
  'partition-scheme': { key: 'partitionScheme', parse: oneOf('redis-slot', 'md5'), help: 'key → partition function' },
  loglevel: { key: 'loglevel', parse: oneOf('debug', 'info', 'warn', 'error'), help: 'log level' },
  'log-format': { key: 'logFormat', parse: oneOf('text', 'json'), help: 'log lines as readable text or pino JSON (default text)' },
  'cache-bytes': { key: 'cacheBytes', parse: bytes, help: 'read cache size (e.g. 256mb)' },
  'protected-mode': { key: 'protectedMode', parse: yesno, help: 'refuse non-loopback clients without a password' },
  n: { key: 'n', parse: int(1, 16), help: 'replicas per key N (cluster default 3)' },
  r: { key: 'r', parse: int(1, 16), help: 'replicas a read waits for R (cluster default 2)' },
  w: { key: 'w', parse: int(1, 16), help: 'replicas a write waits for W (cluster default 2)' },
  'peer-port': { key: 'peerPort', parse: int(0, 65535), help: 'cluster bus port (default: port + 10000)' },
  seeds: { key: 'seeds', parse: list, help: 'first members: all of them, the same list on each; a joining node: any members' },
  zone: { key: 'zone', parse: str, help: 'this node\'s zone; replicas spread over zones' },
  'announce-host': { key: 'announceHost', parse: str, help: 'host other members reach this node at' },
  'cluster-name': { key: 'clusterName', parse: str, help: 'members must share it (default dynis)' },
  'cluster-secret': { key: 'clusterSecret', parse: str, help: 'shared secret of the peer handshake (required off loopback)' },
  'peer-timeout': { key: 'peerTimeout', parse: int(10, 600_000), help: 'ms a peer has to answer a request' },
  'phi-threshold': { key: 'phiThreshold', parse: int(1, 100), help: 'failure detector: φ above which a peer is suspect (default 8)' },
  'hint-window': { key: 'hintWindow', parse: duration, help: 'hints older than this are dropped (default 3h)' },
  'tombstone-grace': { key: 'tombstoneGrace', parse: duration, help: 'keep tombstones at least this long; must exceed hint-window (default 4h)' },
  'anti-entropy-interval': { key: 'antiEntropyInterval', parse: duration, help: 'pause between anti-entropy partition exchanges (default 500ms)' },
  'tls-cert': { key: 'tlsCert', parse: str, help: 'TLS on the client port: certificate file (PEM)' },
  'tls-key': { key: 'tlsKey', parse: str, help: 'TLS on the client port: private key file (PEM)' },
  'tls-ca': { key: 'tlsCa', parse: str, help: 'CA file (PEM) for client certificates, and peers\' with --tls-peers' },
  'tls-auth-clients': { key: 'tlsAuthClients', parse: oneOf('yes', 'no', 'optional'), help: 'with --tls-ca: require client certificates (yes), check if sent (optional), or not (no)' },
  'slowlog-log-slower-than': { key: 'slowlogLogSlowerThan', parse: int(-1, 3_600_000_000), help: 'SLOWLOG: log commands at least this many µs long (-1: never; default 10000)' },
  'slowlog-max-len': { key: 'slowlogMaxLen', parse: int(0, limits.slowlogMaxLenMax), help: 'SLOWLOG: entries kept (default 128)' },
  'tls-peers': { key: 'tlsPeers', parse: yesno, help: 'TLS between peers too, certificates checked both ways (default no)' },
  'admin-port': {
    key: 'adminPort',
    parse: int(0, 65535),
    help: 'admin HTTP port on --bind: /metrics (Prometheus), /status.json, status page at /; e.g. port + 20000; Basic auth with --requirepass; 0 = off (default)',
  },
};

/** Parse a redis.conf-style file into setting overrides. */
export function parseConfigFile(text: string, source: string): Partial<NodeConfig> {
  const out: Record<string, unknown> = {};
  text.split(/\r?\n/).forEach((line, i) => {
    const trimmed = line.trim();
    if (trimmed === '' || trimmed.startsWith('#')) return;
    const m = /^(\S+)\s+(.*)$/.exec(trimmed);
    if (!m) throw new ConfigError(`${source}:${i + 1}: expected 'name value'`);
    const name = (m[1] as string).toLowerCase();
    let value = (m[2] as string).trim();
    if (/^".*"$/.test(value)) value = value.slice(1, -1);
    const setting = settings[name];
    if (!setting) throw new ConfigError(`${source}:${i + 1}: unknown setting '${name}'`);
    out[setting.key] = setting.parse(value, name);
  });
  return out as Partial<NodeConfig>;
}

/**
 * Parse `--name value` flags (also `--name=value`) for the settings above. Returns the
 * overrides and the path given with --config, if any. Unknown flags are errors.
 */
export function parseFlags(argv: readonly string[], extra: readonly string[] = []): {
  overrides: Partial<NodeConfig>;
  configFile: string | undefined;
  rest: Record<string, string>;
} {
  const overrides: Record<string, unknown> = {};
  const rest: Record<string, string> = {};
  let configFile: string | undefined;
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i] as string;
    if (!arg.startsWith('--')) throw new ConfigError(`unexpected argument '${arg}'`);
    let name = arg.slice(2);
    let value: string | undefined;
    const eq = name.indexOf('=');
    if (eq >= 0) {
      value = name.slice(eq + 1);
      name = name.slice(0, eq);
    } else {
      value = argv[++i];
    }
    if (value === undefined) throw new ConfigError(`--${name} needs a value`);
    if (name === 'config') {
      configFile = value;
      continue;
    }
    if (extra.includes(name)) {
      rest[name] = value;
      continue;
    }
    const setting = settings[name];
    if (!setting) throw new ConfigError(`unknown option --${name}`);
    overrides[setting.key] = setting.parse(value, name);
  }
  return { overrides: overrides as Partial<NodeConfig>, configFile, rest };
}

/** Merge defaults, file and flags, then validate the whole. */
/** The environment variable of a setting: DYNIS_ and the name in capitals, `-` as `_`. */
export function envName(setting: string): string {
  return `DYNIS_${setting.toUpperCase().replace(/-/g, '_')}`;
}

/** Settings from DYNIS_* environment variables; an unknown DYNIS_ variable is an error. */
export function parseEnv(env: NodeJS.ProcessEnv): Partial<NodeConfig> {
  const out: Record<string, unknown> = {};
  const known = new Map(Object.keys(settings).map((name) => [envName(name), name]));
  for (const [variable, value] of Object.entries(env)) {
    if (!variable.startsWith('DYNIS_') || value === undefined) continue;
    const name = known.get(variable);
    if (name === undefined) throw new ConfigError(`${variable}: not a dynis setting (settings are DYNIS_ plus a flag name, e.g. DYNIS_PORT)`);
    const setting = settings[name] as (typeof settings)[string];
    out[setting.key] = setting.parse(value, variable);
  }
  return out as Partial<NodeConfig>;
}

/** Merge defaults, the config file, DYNIS_* environment variables and flags (later wins), then validate. */
export function buildConfig(argv: readonly string[], base: Partial<NodeConfig> = {}, env: NodeJS.ProcessEnv = process.env): NodeConfig {
  const { overrides, configFile } = parseFlags(argv);
  const fromFile = configFile ? parseConfigFile(readFileSync(configFile, 'utf8'), configFile) : {};
  const fromEnv = parseEnv(env);
  const config: NodeConfig = { ...defaultConfig, ...base, ...fromFile, ...fromEnv, ...overrides };
  const portGiven = overrides.port !== undefined || fromEnv.port !== undefined;
  const dirGiven = overrides.dir !== undefined || fromEnv.dir !== undefined || fromFile.dir !== undefined || base.dir !== undefined;
  if (portGiven && !dirGiven) config.dir = `./data/node-${config.port}`;
  return validateConfig(config);
}

export function validateConfig(config: NodeConfig): NodeConfig {
  if ((config.partitions & (config.partitions - 1)) !== 0) {
    throw new ConfigError(`partitions: ${config.partitions} is not a power of two`);
  }
  if (!(config.n >= 1 && config.r >= 1 && config.w >= 1 && config.r <= config.n && config.w <= config.n)) {
    throw new ConfigError(`n/r/w: need 1 <= r,w <= n (got n=${config.n} r=${config.r} w=${config.w})`);
  }
  if (config.requirepass === '') config.requirepass = null;
  if (config.clusterSecret === '') config.clusterSecret = null;
  if (config.peerPort === 0 && config.port !== 0) config.peerPort = config.port + 10000;
  if (config.peerPort > 65535) throw new ConfigError(`peer-port: port + 10000 = ${config.peerPort} is above 65535; set --peer-port`);
  // The peer port is only opened in a cluster (with --seeds).
  let takenBy: string | undefined;
  if (config.adminPort !== 0 && config.adminPort === config.port) takenBy = 'client';
  else if (config.adminPort !== 0 && config.seeds.length > 0 && config.adminPort === config.peerPort) takenBy = 'peer';
  if (takenBy !== undefined) {
    throw new ConfigError(`admin-port: ${config.adminPort} is already the ${takenBy} port; pick another (e.g. port + 20000 = ${config.port + 20000})`);
  }
  if (config.tombstoneGrace <= config.hintWindow) {
    throw new ConfigError(
      `tombstone-grace: ${config.tombstoneGrace} ms must exceed hint-window (${config.hintWindow} ms), or an old hint could bring a deleted value back`,
    );
  }
  if ((config.tlsCert === null) !== (config.tlsKey === null)) throw new ConfigError('tls-cert and tls-key: give both or neither');
  if (config.tlsPeers && (config.tlsCert === null || config.tlsCa === null)) {
    throw new ConfigError('tls-peers: needs tls-cert, tls-key and tls-ca (peers check each other\'s certificates)');
  }
  if (config.protoMaxBulkLen < 1024 * 1024) {
    throw new ConfigError('proto-max-bulk-len: must be at least 1mb (as in Redis)');
  }
  return config;
}

export function isLoopback(address: string): boolean {
  return address === 'localhost' || address === '::1' || address.startsWith('127.') || address === '::ffff:127.0.0.1';
}
