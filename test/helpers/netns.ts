/**
 * Test hosts in network namespaces (Linux, root): one namespace per host, each with its own
 * address on a private /24, connected by a veth pair to a bridge in the test's own namespace,
 * which holds the subnet's first address. The test process reaches every host through the
 * bridge; cut() makes two groups of hosts unreachable from each other with blackhole routes
 * inside their namespaces (new connections fail, established ones break), and heal() removes
 * them. destroy() removes every namespace, link and route it made; names carry the creating
 * process' pid, so leftovers of a crashed run are found and removed by the next one.
 */
import { execFileSync } from 'node:child_process';

const PREFIX = 'dynt';

function ip(...args: string[]): string {
  return execFileSync('ip', args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

/** Remove namespaces and links left by test runs whose process is gone. */
function removeLeftovers(): void {
  for (const line of ip('netns', 'list').split('\n')) {
    const name = line.split(' ')[0] ?? '';
    const m = new RegExp(`^${PREFIX}(\\d+)h\\d+$`).exec(name);
    if (m && !alive(Number(m[1]))) ip('netns', 'del', name);
  }
  for (const line of ip('-o', 'link', 'show').split('\n')) {
    const name = /^\d+: ([^:@]+)/.exec(line)?.[1] ?? '';
    const m = new RegExp(`^${PREFIX}(\\d+)(br|v\\d+)$`).exec(name);
    if (m && !alive(Number(m[1]))) ip('link', 'del', name);
  }
}

export class TestNetwork {
  readonly hosts: string[] = [];
  private readonly namespaces: string[] = [];
  private readonly bridge: string;
  private readonly cuts = new Set<string>();

  private constructor(
    readonly subnet: string,
    private readonly tag: string,
  ) {
    this.bridge = `${PREFIX}${tag}br`;
  }

  /** Create `count` hosts. Throws (after cleaning up) when namespaces cannot be made. */
  static create(count: number): TestNetwork {
    removeLeftovers();
    const tag = String(process.pid);
    const subnet = `10.${200 + (process.pid % 50)}.${process.pid % 250}`;
    const net = new TestNetwork(subnet, tag);
    try {
      ip('link', 'add', net.bridge, 'type', 'bridge');
      ip('addr', 'add', `${subnet}.1/24`, 'dev', net.bridge);
      ip('link', 'set', net.bridge, 'up');
      for (let i = 0; i < count; i++) {
        const ns = `${PREFIX}${tag}h${i}`;
        const veth = `${PREFIX}${tag}v${i}`;
        const address = `${subnet}.${10 + i}`;
        ip('netns', 'add', ns);
        net.namespaces.push(ns);
        ip('link', 'add', veth, 'type', 'veth', 'peer', 'name', 'eth0', 'netns', ns);
        ip('link', 'set', veth, 'master', net.bridge);
        ip('link', 'set', veth, 'up');
        ip('netns', 'exec', ns, 'ip', 'addr', 'add', `${address}/24`, 'dev', 'eth0');
        ip('netns', 'exec', ns, 'ip', 'link', 'set', 'eth0', 'up');
        ip('netns', 'exec', ns, 'ip', 'link', 'set', 'lo', 'up');
        net.hosts.push(address);
      }
    } catch (err) {
      net.destroy();
      throw err;
    }
    return net;
  }

  /** The command prefix that runs a program on host i. */
  prefix(i: number): string[] {
    return ['ip', 'netns', 'exec', this.namespaces[i] as string];
  }

  private route(action: 'add' | 'del', from: number, to: number): void {
    ip('netns', 'exec', this.namespaces[from] as string, 'ip', 'route', action, 'blackhole', `${this.hosts[to]}/32`);
  }

  /** Make every host of `a` unreachable from every host of `b` and back. */
  cut(a: readonly number[], b: readonly number[]): void {
    for (const x of a) {
      for (const y of b) {
        for (const [from, to] of [
          [x, y],
          [y, x],
        ] as const) {
          const id = `${from}>${to}`;
          if (this.cuts.has(id)) continue;
          this.route('add', from, to);
          this.cuts.add(id);
        }
      }
    }
  }

  /** Remove every cut. */
  heal(): void {
    for (const id of [...this.cuts]) {
      const [from, to] = id.split('>').map(Number) as [number, number];
      this.route('del', from, to);
      this.cuts.delete(id);
    }
  }

  destroy(): void {
    for (const [i, ns] of this.namespaces.entries()) {
      for (const args of [
        ['link', 'del', `${PREFIX}${this.tag}v${i}`],
        ['netns', 'del', ns],
      ]) {
        try {
          ip(...args);
        } catch {
          // already gone
        }
      }
    }
    try {
      ip('link', 'del', this.bridge);
    } catch {
      // already gone
    }
    this.namespaces.length = 0;
  }
}
