/**
 * A network partition between test hosts: five members, each in its own network namespace
 * with its own address (helpers/netns.ts), bound off loopback (so with a password and a
 * cluster secret). The links between {0,1,2} and {3,4} are cut while the test process still
 * reaches every member; both sides keep accepting writes (sloppy quorum), concurrent writes to
 * one key from both sides become siblings, and after healing the replicas converge with no
 * acknowledged write lost. Every namespace and link is removed afterwards, also on failure.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Redis } from 'ioredis';
import { startCluster, type TestCluster } from '../helpers/cluster.js';
import { checkHistory, waitForConvergence, Workload } from '../helpers/checker.js';
import { TestNetwork } from '../helpers/netns.js';

let net: TestNetwork | undefined;
let cluster: TestCluster;
let clients: Redis[];

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));
const SIDE_A = [0, 1, 2];
const SIDE_B = [3, 4];

beforeAll(async () => {
  net = TestNetwork.create(5);
  const hosts = net;
  cluster = await startCluster({
    nodes: 5,
    placement: { host: (i) => hosts.hosts[i] as string, port: () => 6379, peerPort: () => 16379, prefix: (i) => hosts.prefix(i) },
    password: 'partition-test-pass',
    args: ['--n', '3', '--r', '2', '--w', '2', '--fsync', 'no', '--peer-timeout', '400', '--anti-entropy-interval', '10ms', '--cluster-secret', 'partition-test-secret'],
  });
  clients = cluster.members.map((_, i) => cluster.client(i));
}, 90_000);

afterAll(async () => {
  await cluster?.stop();
  net?.destroy();
});

async function peersUp(i: number): Promise<number> {
  return Number(/peers_up:(\d+)/.exec(await clients[i]!.info('ring'))?.[1]);
}

describe('a 5-member cluster split 3|2 by a network partition', () => {
  it('accepts writes on both sides; after healing, concurrent writes are siblings and nothing acknowledged is lost', async () => {
    expect(await clients[0]!.call('VSET', 'doc', '', 'base')).toBe('OK');
    const [context] = (await clients[4]!.call('VGET', 'doc', 'R', '3')) as [string, string[]];

    net!.cut(SIDE_A, SIDE_B);
    const deadline = Date.now() + 10_000;
    const noticed = async (): Promise<boolean> => {
      for (const i of SIDE_A) if ((await peersUp(i)) !== SIDE_A.length - 1) return false;
      for (const i of SIDE_B) if ((await peersUp(i)) !== SIDE_B.length - 1) return false;
      return true;
    };
    while (!(await noticed())) {
      if (Date.now() > deadline) throw new Error('the sides did not notice the partition');
      await sleep(100);
    }
    const left = new Workload(cluster, { via: SIDE_A, keysPerWriter: 30, prefix: 'left' });
    const right = new Workload(cluster, { via: [...SIDE_B, ...SIDE_B], keysPerWriter: 30, prefix: 'right' });
    try {
      // The same key, written on both sides from the same context: neither side sees the other.
      expect(await clients[0]!.call('VSET', 'doc', context, 'from-left')).toBe('OK');
      expect(await clients[3]!.call('VSET', 'doc', context, 'from-right')).toBe('OK');
      await sleep(2000);
    } finally {
      await left.stop();
      await right.stop();
    }
    expect(left.failures(), JSON.stringify(left.failures().slice(0, 3))).toEqual([]);
    expect(right.failures(), JSON.stringify(right.failures().slice(0, 3))).toEqual([]);
    expect(left.acknowledged()).toBeGreaterThan(50);
    expect(right.acknowledged()).toBeGreaterThan(50);
    // The small side met W only with stand-ins for the primaries it could not reach.
    let hinted = 0;
    for (const i of SIDE_B) hinted += Number(/hinted_writes:(\d+)/.exec(await clients[i]!.info('ring'))?.[1]);
    expect(hinted).toBeGreaterThan(0);

    net!.heal();
    await cluster.ready(20_000);
    await waitForConvergence(cluster, clients, [...left.keys(), ...right.keys(), 'doc'], 45_000);
    await checkHistory(left, clients[4]!);
    await checkHistory(right, clients[0]!);
    for (const c of clients) {
      const [, values] = (await c.call('VGET', 'doc')) as [string, string[]];
      expect([...values].sort()).toEqual(['from-left', 'from-right']);
    }
  }, 120_000);
});
