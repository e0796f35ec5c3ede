/**
 * A real cluster for tests: `dynis node` processes, each with its own throwaway data
 * directory, all started with the same seed list: by default on free loopback ports; with a
 * placement, at given hosts (e.g. test hosts in network namespaces, see netns.ts) and through a
 * command prefix (`ip netns exec …`). ready() waits until every node has completed the peer
 * handshake with every other. Members can be killed (-9), paused, wiped and restarted on the
 * same ports and data.
 */
import { spawn } from 'node:child_process';
import { existsSync, rmSync } from 'node:fs';
import path from 'node:path';
import type { ConnectionOptions } from 'node:tls';
import { Redis } from 'ioredis';
import { CLI, freePort, ROOT, tempDir, waitForPort, type RunningProcess } from './processes.js';

export interface ClusterMember {
  readonly host: string;
  readonly port: number;
  readonly peerPort: number;
  readonly id: string;
  readonly dir: string;
  proc: RunningProcess | undefined;
}

export interface TestCluster {
  readonly members: ClusterMember[];
  /** The requirepass of every member, if any. */
  readonly password?: string;
  /** Start (or restart) member i on its ports and data dir. */
  start(i: number): Promise<void>;
  /** Start a new node (not a member yet) whose seeds are the first members; returns its index. */
  add(): Promise<number>;
  kill9(i: number): Promise<void>;
  /** Send SIGSTOP or SIGCONT to member i (a paused process keeps its sockets open). */
  signal(i: number, signal: 'SIGSTOP' | 'SIGCONT'): void;
  /** Delete member i's data directory (it must not be running). */
  wipe(i: number): void;
  /** Wait until members (default: all running) see all their peers up. */
  ready(timeoutMs?: number): Promise<void>;
  client(i: number): Redis;
  stop(): Promise<void>;
  output(i: number): string;
}

/** Where members run: their hosts, ports and the command prefix that starts them there. */
export interface Placement {
  host(i: number): string;
  port(i: number): number;
  peerPort(i: number): number;
  /** Prepended to the node command (e.g. ['ip', 'netns', 'exec', 'ns1']). */
  prefix(i: number): string[];
}

export async function startCluster(options: {
  nodes: number;
  args?: string[];
  placement?: Placement;
  password?: string;
  /** TLS options for the test's clients (members started with --tls-cert/--tls-key). */
  tlsClient?: ConnectionOptions;
  /** Extra arguments for member i only (after `args`), e.g. its own --admin-port; also for members add()ed later. */
  memberArgs?: (i: number) => string[];
  /** Ports the caller has taken for itself (e.g. for memberArgs): members get other ones. */
  avoidPorts?: readonly number[];
}): Promise<TestCluster> {
  if (!existsSync(path.join(ROOT, 'dist/src/cli.js'))) throw new Error('dist/ is missing: run npm run build first');
  const members: ClusterMember[] = [];
  const used = new Set<number>(options.avoidPorts ?? []);
  const port = async (): Promise<number> => {
    for (;;) {
      const p = await freePort();
      if (!used.has(p)) {
        used.add(p);
        return p;
      }
    }
  };
  const { placement, password } = options;
  for (let i = 0; i < options.nodes; i++) {
    const host = placement?.host(i) ?? '127.0.0.1';
    const clientPort = placement?.port(i) ?? (await port());
    const peerPort = placement?.peerPort(i) ?? (await port());
    members.push({ host, port: clientPort, peerPort, id: `${host}:${peerPort}`, dir: tempDir(`member${i}`), proc: undefined });
  }
  const redisOptions = (m: ClusterMember): { host: string; port: number; password?: string; tls?: ConnectionOptions } => ({
    host: m.host,
    port: m.port,
    ...(password ? { password } : {}),
    ...(options.tlsClient ? { tls: options.tlsClient } : {}),
  });
  const firstSeeds = members.map((m) => m.id).join(',');
  const seedsOf: string[] = members.map(() => firstSeeds);
  const clients: Redis[] = [];
  const outputs: string[] = members.map(() => '');

  const start = async (i: number): Promise<void> => {
    const m = members[i] as ClusterMember;
    const bind = placement === undefined ? [] : ['--bind', m.host];
    const auth = password === undefined ? [] : ['--requirepass', password];
    const command = [
      process.execPath,
      CLI,
      'node',
      '--port',
      String(m.port),
      '--peer-port',
      String(m.peerPort),
      '--dir',
      m.dir,
      '--seeds',
      seedsOf[i] as string,
      ...bind,
      ...auth,
      ...(options.args ?? []),
      ...(options.memberArgs?.(i) ?? []),
    ];
    const [program, ...rest] = [...(placement?.prefix(i) ?? []), ...command] as [string, ...string[]];
    const child = spawn(program, rest, { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    child.stdout.on('data', (d: Buffer) => ((out += d.toString()), (outputs[i] += d.toString())));
    child.stderr.on('data', (d: Buffer) => ((out += d.toString()), (outputs[i] += d.toString())));
    const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
    const alive = (): boolean => child.exitCode === null && child.signalCode === null;
    m.proc = {
      port: m.port,
      dir: m.dir,
      child,
      output: () => out,
      async stop() {
        if (alive()) {
          child.kill('SIGCONT'); // a paused member would not act on SIGTERM
          child.kill('SIGTERM');
          const timer = setTimeout(() => alive() && child.kill('SIGKILL'), 5000);
          await exited;
          clearTimeout(timer);
        }
      },
      async kill9() {
        if (alive()) {
          child.kill('SIGKILL');
          await exited;
        }
      },
    };
    try {
      await waitForPort(m.port, 15_000, m.host);
    } catch (err) {
      throw new Error(`${(err as Error).message}\n${out}`);
    }
  };

  const cluster: TestCluster = {
    members,
    password,
    start,
    async add() {
      if (placement !== undefined) throw new Error('add() is for loopback clusters');
      const i = members.length;
      const clientPort = await port();
      const peerPort = await port();
      members.push({ host: '127.0.0.1', port: clientPort, peerPort, id: `127.0.0.1:${peerPort}`, dir: tempDir(`member${i}`), proc: undefined });
      seedsOf.push(firstSeeds);
      outputs.push('');
      await start(i);
      return i;
    },
    async kill9(i) {
      await members[i]?.proc?.kill9();
    },
    signal(i, signal) {
      members[i]?.proc?.child.kill(signal);
    },
    wipe(i) {
      const m = members[i] as ClusterMember;
      if (m.proc !== undefined && m.proc.child.exitCode === null && m.proc.child.signalCode === null) throw new Error(`member ${i} is running`);
      rmSync(m.dir, { recursive: true, force: true });
    },
    async ready(timeoutMs = 15_000) {
      const deadline = Date.now() + timeoutMs;
      for (const [i, m] of members.entries()) {
        if (m.proc === undefined || m.proc.child.exitCode !== null || m.proc.child.signalCode !== null) continue;
        const running = members.filter((x) => x.proc !== undefined && x.proc.child.exitCode === null && x.proc.child.signalCode === null).length;
        const r = new Redis({ ...redisOptions(m), lazyConnect: true, maxRetriesPerRequest: 0 });
        try {
          await r.connect();
          for (;;) {
            const info = await r.info('ring');
            const up = Number(/peers_up:(\d+)/.exec(info)?.[1] ?? -1);
            if (up >= running - 1) break;
            if (Date.now() > deadline) throw new Error(`member ${i} sees ${up} of ${running - 1} peers up\n${outputs[i]}`);
            await new Promise((res) => setTimeout(res, 50));
          }
        } finally {
          r.disconnect();
        }
      }
    },
    client(i) {
      const r = new Redis({ ...redisOptions(members[i] as ClusterMember), maxRetriesPerRequest: 1 });
      r.on('error', () => undefined); // members are killed on purpose; commands still report errors
      clients.push(r);
      return r;
    },
    async stop() {
      for (const c of clients) c.disconnect();
      await Promise.all(members.map((m) => m.proc?.stop()));
      for (const m of members) rmSync(m.dir, { recursive: true, force: true });
    },
    output: (i) => outputs[i] ?? '',
  };
  try {
    await Promise.all(members.map((_, i) => start(i)));
    await cluster.ready();
  } catch (err) {
    await cluster.stop();
    throw err;
  }
  return cluster;
}
