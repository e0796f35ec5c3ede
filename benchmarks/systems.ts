/**
 * The systems under test, each started fresh (new ports, new data directories) for every
 * repetition: redis-server without persistence (the baseline of every ratio), redis-server with
 * appendonly everysec (the durable anchor), a dynis single node (N=R=W=1) and a local 3-node
 * dynis cluster (N=3, R=2, W=2; three OS processes). The routing group (cluster-aware clients)
 * starts its own 5-node cluster with the same N, R and W.
 */
import type { ChildProcess } from 'node:child_process';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { Redis } from 'ioredis';
import { TIMING, type BenchPlan } from './config.js';
import { alive, cpuSeconds, freePort, peakRssMiB, removeDir, sleep, spawnTracked, stopChild, tempDir, waitForPort } from './processes.js';

export const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const DYNIS = path.join(ROOT, 'bin/dynis.js');

export type SystemId = 'redis' | 'redis-aof' | 'dynis-1' | 'dynis-3' | 'dynis-5';

export interface SystemSpec {
  readonly id: SystemId;
  readonly label: string;
  readonly kind: 'redis' | 'dynis';
  readonly nodes: number;
  /** What the row means, for the README. */
  readonly description: string;
}

export const SYSTEMS: readonly SystemSpec[] = [
  { id: 'redis', label: 'redis-server', kind: 'redis', nodes: 1, description: 'redis-server, no persistence (--save "" --appendonly no)' },
  { id: 'redis-aof', label: 'redis-server AOF', kind: 'redis', nodes: 1, description: 'redis-server --appendonly yes --appendfsync everysec' },
  { id: 'dynis-1', label: 'dynis 1 node', kind: 'dynis', nodes: 1, description: 'dynis start --fsync everysec (N=R=W=1)' },
  { id: 'dynis-3', label: 'dynis 3 nodes', kind: 'dynis', nodes: 3, description: 'three dynis node processes, N=3 R=2 W=2, --fsync everysec' },
];

/**
 * The cluster of the routing group only (cluster-aware clients): with more members than
 * replicas, a node replicates 3/5 of the partitions, so a plain client connected to one node
 * has about 40% of its writes forwarded one hop.
 */
export const ROUTING_SYSTEM: SystemSpec = {
  id: 'dynis-5',
  label: 'dynis 5 nodes',
  kind: 'dynis',
  nodes: 5,
  description: 'five dynis node processes, N=3 R=2 W=2, --fsync everysec (cluster-aware clients only)',
};

interface Member {
  readonly port: number;
  readonly peerPort: number;
  readonly dir: string;
  proc: ChildProcess | undefined;
  /** Largest VmHWM seen for this member (over restarts). */
  peakRssMiB: number;
  /** The last lines the process wrote, for error messages. */
  tail: string;
  /** Set before this run stops or kills the member on purpose. */
  stopping: boolean;
}

export interface StartOptions {
  /** node --cpu-prof into this directory (dynis only). */
  readonly cpuProfDir?: string;
}

export class RunningSystem {
  private constructor(
    readonly spec: SystemSpec,
    private readonly plan: BenchPlan,
    private readonly members: Member[],
    private readonly rootDir: string,
    private readonly options: StartOptions,
  ) {}

  static async start(spec: SystemSpec, plan: BenchPlan, options: StartOptions = {}): Promise<RunningSystem> {
    const rootDir = tempDir(spec.id);
    const members: Member[] = [];
    for (let i = 0; i < spec.nodes; i++) {
      const port = await freePort(plan.portRange);
      const peerPort = spec.nodes > 1 ? await freePort(plan.portRange) : 0;
      members.push({ port, peerPort, dir: path.join(rootDir, `node${i}`), proc: undefined, peakRssMiB: 0, tail: '', stopping: false });
    }
    const sys = new RunningSystem(spec, plan, members, rootDir, options);
    try {
      for (let i = 0; i < members.length; i++) sys.spawnMember(i);
      await Promise.all(members.map((m) => waitForPort(m.port, plan.startup.portTimeoutMs, m.proc).catch((err: Error) => {
        throw new Error(`${spec.label}: ${err.message}\n${m.tail}`);
      })));
      await sys.ready();
    } catch (err) {
      await sys.stop();
      throw err;
    }
    return sys;
  }

  get ports(): number[] {
    return this.members.map((m) => m.port);
  }

  get pids(): number[] {
    return this.members.flatMap((m) => (m.proc && alive(m.proc) && m.proc.pid !== undefined ? [m.proc.pid] : []));
  }

  private spawnMember(i: number): void {
    const m = this.members[i] as Member;
    let child: ChildProcess;
    const stdio: ['ignore', 'pipe', 'pipe'] = ['ignore', 'pipe', 'pipe'];
    if (this.spec.kind === 'redis') {
      const persistence = this.spec.id === 'redis-aof' ? ['--appendonly', 'yes', '--appendfsync', 'everysec'] : ['--appendonly', 'no'];
      child = spawnTracked('redis-server', ['--port', String(m.port), '--bind', '127.0.0.1', '--save', '', ...persistence, '--dir', this.rootDir], { stdio });
    } else {
      const prof = this.options.cpuProfDir ? ['--cpu-prof', '--cpu-prof-dir', this.options.cpuProfDir] : [];
      const common = ['--port', String(m.port), '--dir', m.dir, '--fsync', 'everysec'];
      const args =
        this.spec.nodes === 1
          ? ['start', ...common]
          : [
              'node',
              ...common,
              '--peer-port',
              String(m.peerPort),
              '--seeds',
              this.members.map((x) => `127.0.0.1:${x.peerPort}`).join(','),
              '--n',
              '3',
              '--r',
              '2',
              '--w',
              '2',
            ];
      child = spawnTracked(process.execPath, [...prof, DYNIS, ...args], { stdio });
    }
    const keep = (d: Buffer): void => {
      m.tail = (m.tail + d.toString('utf8')).slice(-4000);
    };
    child.stdout?.on('data', keep);
    child.stderr?.on('data', keep);
    child.once('exit', (code, signal) => {
      if (!m.stopping) m.tail += `\n[bench] member ${i + 1} exited unexpectedly (${signal ?? `code ${code}`})${signal ? ': a signal this run did not send' : ''}\n`;
    });
    m.stopping = false;
    m.proc = child;
  }

  /** Wait until the system answers; a cluster until every running member sees every other running member up. */
  async ready(): Promise<void> {
    if (this.spec.nodes === 1) return;
    const deadline = Date.now() + this.plan.startup.clusterReadyTimeoutMs;
    const running = this.members.filter((m) => m.proc && alive(m.proc));
    for (const m of running) {
      for (;;) {
        const up = await this.peersUp(m.port);
        if (up >= running.length - 1) break;
        if (Date.now() > deadline) throw new Error(`${this.spec.label}: node on port ${m.port} sees ${up} of ${running.length - 1} peers up\n${m.tail}`);
        await sleep(TIMING.readyPollMs);
      }
    }
  }

  /** peers_up of INFO ring on a member (-1 when it does not answer). */
  async peersUp(port: number): Promise<number> {
    const info = await this.info(port, 'ring');
    return Number(/peers_up:(\d+)/.exec(info)?.[1] ?? -1);
  }

  async info(port: number, section: string): Promise<string> {
    const r = new Redis({
      host: '127.0.0.1',
      port,
      lazyConnect: true,
      enableReadyCheck: false,
      disableClientInfo: true, // CLIENT SETINFO would count as an error reply on redis-server 7.0
      maxRetriesPerRequest: 0,
      enableOfflineQueue: false,
      retryStrategy: () => null,
      commandTimeout: TIMING.infoTimeoutMs,
    });
    r.on('error', () => undefined);
    try {
      await r.connect();
      return await r.info(section);
    } catch {
      return '';
    } finally {
      r.disconnect();
    }
  }

  /** forwarded_writes of INFO ring on every member, in member order (NaN where a member does not answer). */
  async forwardedWrites(): Promise<number[]> {
    const infos = await Promise.all(this.ports.map((p) => this.info(p, 'ring')));
    return infos.map((s) => Number(/forwarded_writes:(\d+)/.exec(s)?.[1] ?? NaN));
  }

  /** Commands processed by all members (INFO stats), for the live ops/s display. */
  async commandsProcessed(): Promise<number> {
    return (await this.stats()).commands;
  }

  /** Commands processed and error replies sent, summed over the running members (INFO stats). */
  async stats(): Promise<{ commands: number; errorReplies: number }> {
    const infos = await Promise.all(this.ports.map((p) => this.info(p, 'stats')));
    const sum = (re: RegExp): number => infos.reduce((n, s) => n + Number(re.exec(s)?.[1] ?? 0), 0);
    return { commands: sum(/total_commands_processed:(\d+)/), errorReplies: sum(/total_error_replies:(\d+)/) };
  }

  /** CPU seconds of all running member processes, from /proc. */
  cpuSeconds(): number {
    let total = 0;
    for (const pid of this.pids) {
      try {
        total += cpuSeconds(pid);
      } catch {
        // exited between the listing and the read
      }
    }
    return total;
  }

  /** Update and return the peak RSS: total = sum of the members' peaks, max = the largest member. */
  sampleRss(): { totalMiB: number; maxMiB: number } {
    for (const m of this.members) {
      const pid = m.proc && alive(m.proc) ? m.proc.pid : undefined;
      if (pid === undefined) continue;
      try {
        m.peakRssMiB = Math.max(m.peakRssMiB, peakRssMiB(pid));
      } catch {
        // exited
      }
    }
    return { totalMiB: this.members.reduce((s, m) => s + m.peakRssMiB, 0), maxMiB: Math.max(...this.members.map((m) => m.peakRssMiB)) };
  }

  /** Which members are running, and the last output of each (for error messages). */
  diagnostics(): string {
    return this.members
      .map((m, i) => {
        const state = m.proc === undefined ? 'not started' : alive(m.proc) ? 'running' : `exited (${m.proc.signalCode ?? `code ${m.proc.exitCode}`})`;
        return `--- ${this.spec.label} member ${i + 1} (port ${m.port}): ${state}\n${m.tail.trim().split('\n').slice(-15).join('\n')}`;
      })
      .join('\n');
  }

  /** SIGKILL member i. */
  async kill(i: number): Promise<void> {
    this.sampleRss();
    const m = this.members[i] as Member;
    m.stopping = true;
    if (m.proc) await stopChild(m.proc, 'SIGKILL', 0);
  }

  /** Start member i again on its ports and data directory; resolves when its client port is open. */
  async restart(i: number): Promise<void> {
    this.spawnMember(i);
    const m = this.members[i] as Member;
    await waitForPort(m.port, this.plan.startup.portTimeoutMs, m.proc);
  }

  /** Stop every member (gracefully when profiling, so that the profile is written) and remove the data. */
  async stop(): Promise<void> {
    this.sampleRss();
    const graceful = this.options.cpuProfDir !== undefined;
    for (const m of this.members) m.stopping = true;
    await Promise.all(
      this.members.map((m) => (m.proc ? stopChild(m.proc, graceful ? 'SIGINT' : 'SIGKILL', this.plan.startup.stopTimeoutMs) : undefined)),
    );
    removeDir(this.rootDir);
  }
}
