/**
 * Command-line entry: argv → config → start; signals.
 *
 *   dynis start [--port 6379] [--dir ./data/node-6379] [--config FILE] [--fsync everysec] …
 *   dynis node --port P [--peer-port Q] --dir D --seeds h1:q1,h2:q2,… [--zone Z] …
 *   dynis cluster [--nodes 3] [--port 6379] [--dir ./data] [node options …]
 *   dynis members|status|join|leave|remove|plan|commit|abort [--host H] [--port P] [--password X] [--yes] [id]
 *   dynis help
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { Redis } from 'ioredis';
import path from 'node:path';
import { buildConfig, ConfigError, parseFlags, settings, type NodeConfig } from './config.js';
import { limits } from './limits.js';
import { DynisNode } from './node.js';

const USAGE = `usage: dynis <command> [options]

commands:
  start     run one node (N=R=W=1) on 127.0.0.1:6379 with its data in ./data/node-<port>
  node      run one member of a cluster (N=3 R=2 W=2 by default). The first members all get
            the same --seeds list of host:peerport[@zone] naming all of them; a node added
            later lists any members as --seeds, then joins with "dynis join"
  cluster   run a local cluster: --nodes (default 3) member processes on ports
            port..port+nodes-1 (default 6379), data in --dir (default ./data)/node-<port>;
            --admin-port A gives them admin ports A..A+nodes-1
  members   list the members as the node at --host/--port sees them (these admin commands
            take --password, and --tls-ca/--tls-cert/--tls-key for a TLS port)
  status    that node's view (ring, transition, transfers, hints, staged changes), then
            every member at a glance (status, zone, partitions, ops/s, hints, transfers, anti-entropy)
  join      stage the join of the (new) node at --host/--port and show the plan
  leave     stage the decommission of the node at --host/--port (or of [id])
  remove    stage the removal of member <id> (gone for good), asking the node at --port
  plan      show the staged changes; commit applies them; abort drops them
            (join, leave and remove apply at once with --yes)
  help      show this text ("dynis <command> --help" for one command)

options (also accepted in a --config file as "name value" lines):
${Object.entries(settings)
  .map(([name, s]) => `  --${name.padEnd(20)} ${s.help}`)
  .join('\n')}
  --config FILE          read settings from FILE first (flags override it)
`;

const ADMIN_OPTIONS = '  --host H --port P      the node to ask (default 127.0.0.1:6379)\n  --password X           its requirepass\n  --tls-ca F --tls-cert F --tls-key F   for a TLS client port\n';

/** `dynis <command> --help`. */
const COMMAND_HELP: Record<string, string> = {
  start: 'usage: dynis start [options]\n\nOne node alone (N=R=W=1). Options: see "dynis help".\n',
  node: 'usage: dynis node --port P --dir D --seeds h:q,… [--zone Z] [options]\n\nOne cluster member. Options: see "dynis help".\n',
  cluster: 'usage: dynis cluster [--nodes 3] [--port 6379] [--dir ./data] [node options]\n\nA local cluster of --nodes processes on ports port…port+nodes-1 (peer ports +10000); Ctrl-C stops them all.\n',
  members: `usage: dynis members [options]\n\nThe members as one node sees them: id, status, zone, client port, partitions owned, reachable.\n\n${ADMIN_OPTIONS}`,
  status: `usage: dynis status [options]\n\nThe node's view (ring, transition, transfers, hints, staged changes), then every member at a glance:\nstatus, zone, partitions, ops/s, hints, transfers, anti-entropy, peers up.\n\n${ADMIN_OPTIONS}`,
  join: `usage: dynis join [id] [--yes] [options]\n\nStage the join of a new node (default: the node asked) and print the plan; --yes commits.\n\n${ADMIN_OPTIONS}`,
  leave: `usage: dynis leave [id] [--yes] [options]\n\nStage the decommission of an up member (default: the node asked); it hands its partitions over, then exits.\n\n${ADMIN_OPTIONS}`,
  remove: `usage: dynis remove <id> [--yes] [options]\n\nStage the removal of a member that is gone for good; the others rebuild its replicas.\n\n${ADMIN_OPTIONS}`,
  plan: `usage: dynis plan [options]\n\nThe changes staged on the node asked, and what they would move.\n\n${ADMIN_OPTIONS}`,
  commit: `usage: dynis commit [options]\n\nApply the changes staged on the node asked.\n\n${ADMIN_OPTIONS}`,
  abort: `usage: dynis abort [options]\n\nDrop the changes staged on the node asked.\n\n${ADMIN_OPTIONS}`,
};

export async function main(argv: string[]): Promise<void> {
  const [command, ...rest] = argv;
  if (command !== undefined && COMMAND_HELP[command] !== undefined && (rest.includes('--help') || rest.includes('-h'))) {
    process.stdout.write(COMMAND_HELP[command] as string);
    return;
  }
  switch (command) {
    case 'start':
      return startNode(rest);
    case 'node':
      return startNode(rest, CLUSTER_DEFAULTS);
    case 'cluster':
      return startCluster(rest);
    case 'members':
    case 'status':
    case 'join':
    case 'leave':
    case 'remove':
    case 'plan':
    case 'commit':
    case 'abort':
      return admin(command, rest);
    case undefined:
    case 'help':
    case '--help':
    case '-h':
      process.stdout.write(USAGE);
      return;
    default:
      throw new ConfigError(`unknown command '${command}'\n${USAGE}`);
  }
}

/** What `dynis node` and `dynis cluster` change from the single-node defaults. */
const CLUSTER_DEFAULTS: Partial<NodeConfig> = { n: 3, r: 2, w: 2 };

async function startNode(argv: string[], base: Partial<NodeConfig> = {}): Promise<void> {
  const config = buildConfig(argv, base);
  const node: DynisNode = new DynisNode(config, {
    log: (line) => process.stdout.write(`${line}\n`),
    // A committed leave (or remove) has finished: give gossip a moment to spread it, then exit.
    onLeft: () => {
      setTimeout(() => {
        process.stdout.write('dynis: this node has left the cluster; stopping\n');
        node.stop().then(
          () => process.exit(0),
          () => process.exit(1),
        );
      }, 2 * limits.gossipIntervalMs);
    },
  });
  await node.start();
  let signals = 0;
  const onSignal = (signal: string): void => {
    signals++;
    if (signals > 1) {
      process.stderr.write(`dynis: second ${signal}, exiting now\n`);
      process.exit(1);
    }
    process.stdout.write(`dynis: ${signal} received, shutting down\n`);
    node.stop().then(
      () => process.exit(0),
      (err: unknown) => {
        process.stderr.write(`dynis: shutdown failed: ${String(err)}\n`);
        process.exit(1);
      },
    );
  };
  process.on('SIGINT', () => onSignal('SIGINT'));
  process.on('SIGTERM', () => onSignal('SIGTERM'));
}

/**
 * A local cluster for development and tests: each member is a separate OS process running
 * `dynis node`, with its own data directory. Ctrl-C (or SIGTERM) stops them all gracefully.
 * A member that dies is reported and not restarted, so failures can be tried by hand.
 */
async function startCluster(argv: string[]): Promise<void> {
  const { rest } = parseFlags(argv, ['nodes', 'port', 'dir', 'peer-port', 'seeds', 'admin-port']);
  const nodes = Number(rest.nodes ?? 3);
  const port = Number(rest.port ?? 6379);
  const dir = rest.dir ?? './data';
  if (!Number.isInteger(nodes) || nodes < 1 || nodes > 64) throw new ConfigError('--nodes must be 1..64');
  if (!Number.isInteger(port) || port < 1 || port + nodes - 1 + 10000 > 65535) throw new ConfigError('--port out of range');
  const passThrough = argv.filter((_, i) => {
    // Drop the cluster's own options (and their values); pass the rest to every member.
    const own = ['--nodes', '--port', '--dir', '--peer-port', '--seeds', '--admin-port'];
    const a = argv[i] as string;
    const prev = argv[i - 1];
    if (own.some((o) => a === o || a.startsWith(`${o}=`))) return false;
    if (prev !== undefined && own.includes(prev)) return false;
    return true;
  });
  if (!passThrough.some((a) => a === '--n' || a.startsWith('--n=')) && nodes < 3) passThrough.push('--n', String(nodes));
  if (!passThrough.some((a) => a === '--r' || a.startsWith('--r=')) && nodes < 2) passThrough.push('--r', '1', '--w', '1');
  const ports = Array.from({ length: nodes }, (_, i) => port + i);
  const seeds = ports.map((p) => `127.0.0.1:${p + 10000}`).join(',');
  const script = process.argv[1] as string;
  const children = new Map<number, ChildProcess>();
  let stopping = false;
  for (const p of ports) {
    const child = spawn(
      process.execPath,
      [
        script,
        'node',
        '--port',
        String(p),
        '--peer-port',
        String(p + 10000),
        '--dir',
        path.join(dir, `node-${p}`),
        '--seeds',
        seeds,
        // --admin-port A gives member i the admin port A + i, like the client ports.
        ...(rest['admin-port'] !== undefined ? ['--admin-port', String(Number(rest['admin-port']) + (p - port))] : []),
        ...passThrough,
      ],
      { stdio: ['ignore', 'pipe', 'pipe'] },
    );
    children.set(p, child);
    const prefix = (line: string): string => `[${p}] ${line}\n`;
    const pipe = (stream: NodeJS.ReadableStream | null, out: NodeJS.WriteStream): void => {
      let pending = '';
      stream?.on('data', (chunk: Buffer) => {
        pending += chunk.toString('utf8');
        const lines = pending.split('\n');
        pending = lines.pop() ?? '';
        for (const line of lines) out.write(prefix(line));
      });
    };
    pipe(child.stdout, process.stdout);
    pipe(child.stderr, process.stderr);
    child.on('exit', (code, signal) => {
      children.delete(p);
      if (!stopping) process.stderr.write(prefix(`exited (${signal ?? `code ${code}`}); ${children.size} of ${nodes} members still running`));
      if (stopping && children.size === 0) process.exit(0);
    });
  }
  process.stdout.write(`dynis cluster: ${nodes} members on 127.0.0.1 ports ${ports[0]}..${ports[ports.length - 1]}, data in ${dir}; Ctrl-C stops them\n`);
  const stop = (signal: string): void => {
    if (stopping) {
      for (const c of children.values()) c.kill('SIGKILL');
      process.exit(1);
    }
    stopping = true;
    process.stdout.write(`dynis cluster: ${signal} received, stopping ${children.size} members\n`);
    if (children.size === 0) process.exit(0);
    for (const c of children.values()) c.kill('SIGTERM');
  };
  process.on('SIGINT', () => stop('SIGINT'));
  process.on('SIGTERM', () => stop('SIGTERM'));
}

/**
 * The cluster administration commands: a client of the node at --host/--port (DYNIS …, see
 * commands/cluster.ts). Prints the node's answer, one line per item.
 */
async function admin(command: string, argv: string[]): Promise<void> {
  const yes = argv.includes('--yes');
  const rest = argv.filter((a) => a !== '--yes');
  const positional: string[] = [];
  const flags: string[] = [];
  for (let i = 0; i < rest.length; i++) {
    const a = rest[i] as string;
    if (a.startsWith('--')) {
      flags.push(a);
      if (!a.includes('=') && i + 1 < rest.length) flags.push(rest[++i] as string);
    } else {
      positional.push(a);
    }
  }
  const { rest: options } = parseFlags(flags, ['host', 'port', 'password', 'tls-ca', 'tls-cert', 'tls-key']);
  const file = (f: string | undefined): Buffer | undefined => (f === undefined ? undefined : readFileSync(f));
  const tls = options['tls-ca'] !== undefined || options['tls-cert'] !== undefined;
  const connect = (host: string, port: number): Redis => {
    const c = new Redis({
      host,
      port,
      ...(options.password !== undefined ? { password: options.password } : {}),
      ...(tls ? { tls: { ca: file(options['tls-ca']), cert: file(options['tls-cert']), key: file(options['tls-key']) } } : {}),
      lazyConnect: true,
      maxRetriesPerRequest: 0,
      enableOfflineQueue: false,
      retryStrategy: () => null,
      connectTimeout: limits.adminConnectTimeoutMs,
      commandTimeout: limits.adminConnectTimeoutMs,
    });
    c.on('error', () => undefined);
    return c;
  };
  const client = connect(options.host ?? '127.0.0.1', Number(options.port ?? 6379));
  const print = (reply: unknown): void => {
    const lines = Array.isArray(reply) ? reply.map(String) : [String(reply)];
    process.stdout.write(`${lines.join('\n')}\n`);
  };
  try {
    await client.connect();
    print(await client.call('DYNIS', command, ...positional));
    if (command === 'status') {
      process.stdout.write('\n');
      print(await clusterTable(client, connect));
    }
    if (yes && (command === 'join' || command === 'leave' || command === 'remove')) {
      process.stdout.write('committing:\n');
      print(await client.call('DYNIS', 'commit'));
    } else if (command === 'join' || command === 'leave' || command === 'remove') {
      process.stdout.write(`staged; apply with: dynis commit --port ${client.options.port}\n`);
    }
  } finally {
    client.disconnect();
  }
}

/**
 * `dynis status`: every member at a glance, asked directly (INFO twice, a second apart, for
 * ops/s): status, zone, partitions owned and replicated, ops/s, pending hints, partitions left
 * to transfer, anti-entropy rounds and keys repaired, peers up. A member that does not answer
 * is shown as unreachable.
 */
async function clusterTable(first: Redis, connect: (host: string, port: number) => Redis): Promise<string[]> {
  const lines = (await first.call('DYNIS', 'MEMBERS')) as string[];
  const members = lines.map((l) => {
    const [id, status] = l.split(' ') as [string, string];
    const field = (name: string): string => new RegExp(`${name}=(\\S+)`).exec(l)?.[1] ?? '';
    return { id, status, zone: field('zone'), port: Number(field('port')), owned: field('owned') };
  });
  const infoOf = (text: string, field: string): string => new RegExp(`^${field}:(\\S+)`, 'm').exec(text)?.[1] ?? '-';
  const rows = await Promise.all(
    members.map(async (m) => {
      const base = [m.id, m.status, m.zone, m.owned];
      if (m.status === 'left' || m.port === 0) return [...base, '-', '-', '-', '-', '-', '-', '-'];
      const host = m.id.startsWith('[') ? m.id.slice(1, m.id.indexOf(']')) : m.id.slice(0, m.id.lastIndexOf(':'));
      const c = connect(host, m.port);
      try {
        await c.connect();
        const before = (await c.info('stats')) + (await c.info('ring'));
        const t0 = Date.now();
        await new Promise((r) => setTimeout(r, limits.adminOpsSampleMs));
        const after = (await c.info('stats')) + (await c.info('ring'));
        // Our own INFO calls in between are not the member's load.
        const ops = (Number(infoOf(after, 'total_commands_processed')) - Number(infoOf(before, 'total_commands_processed')) - 2) / ((Date.now() - t0) / 1000);
        return [
          ...base,
          infoOf(after, 'partitions_replicated'),
          String(Math.max(0, Math.round(ops))),
          infoOf(after, 'hints_pending'),
          infoOf(after, 'transfer_partitions_left'),
          infoOf(after, 'anti_entropy_rounds'),
          infoOf(after, 'anti_entropy_keys_repaired'),
          `${infoOf(after, 'peers_up')}/${members.filter((x) => x.status !== 'left' && x.id !== m.id).length}`,
        ];
      } catch {
        return [...base, 'unreachable', '-', '-', '-', '-', '-', '-'];
      } finally {
        c.disconnect();
      }
    }),
  );
  const header = ['member', 'status', 'zone', 'owned', 'replicated', 'ops/s', 'hints', 'transfer', 'ae-rounds', 'ae-repaired', 'peers-up'];
  const table = [header, ...rows];
  const widths = header.map((_, i) => Math.max(...table.map((r) => (r[i] ?? '').length)));
  return table.map((r) => r.map((cell, i) => cell.padEnd(widths[i] as number)).join('  ').trimEnd());
}
