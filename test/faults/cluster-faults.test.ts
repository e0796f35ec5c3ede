/**
 * Faults on a real three-member cluster (N=3, R=2, W=2): separate processes, real TCP, real
 * RocksDB. Each test drives a write workload through the surviving members, injects the
 * fault, heals it, waits for the replicas to converge, and proves with the checker that no
 * acknowledged write is lost and no deleted key came back.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Redis } from 'ioredis';
import { startCluster, type TestCluster } from '../helpers/cluster.js';
import { checkHistory, hintsPending, keyInfo, waitForConvergence, Workload } from '../helpers/checker.js';

let cluster: TestCluster;
let clients: Redis[];

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

beforeAll(async () => {
  cluster = await startCluster({
    nodes: 3,
    args: ['--n', '3', '--r', '2', '--w', '2', '--fsync', 'always', '--peer-timeout', '400', '--anti-entropy-interval', '10ms'],
  });
  clients = cluster.members.map((_, i) => cluster.client(i));
}, 60_000);

afterAll(async () => {
  await cluster?.stop();
});

async function restart(i: number): Promise<void> {
  await cluster.start(i);
  await cluster.ready();
  clients[i] = cluster.client(i);
}

describe('faults on a 3-member cluster, N=3 R=2 W=2', () => {
  it('kill -9 of one member under load: no failed write, hints replayed, replicas converge, nothing lost', async () => {
    const load = new Workload(cluster, { via: [0, 1, 0, 1], keysPerWriter: 40, prefix: 'kill' });
    let duringOutage = 0;
    try {
      await sleep(700);
      await cluster.kill9(2);
      await sleep(1500);
      duringOutage = load.acknowledged();
      await restart(2);
      await sleep(700);
    } finally {
      await load.stop();
    }
    expect(load.failures(), JSON.stringify(load.failures().slice(0, 3))).toEqual([]);
    expect(load.acknowledged()).toBeGreaterThan(duringOutage);
    await waitForConvergence(cluster, clients, load.keys(), 20_000);
    await checkHistory(load, clients[2]!);
    await checkHistory(load, clients[0]!);
  }, 60_000);

  it('SIGSTOP of one member beyond the failure detector, then SIGCONT: no failed write, convergence, nothing lost', async () => {
    const load = new Workload(cluster, { via: [0, 1, 0, 1], keysPerWriter: 40, prefix: 'stop' });
    try {
      await sleep(500);
      cluster.signal(2, 'SIGSTOP');
      try {
        // Long enough for φ to cross the threshold, not only the timeout fast path.
        await sleep(4000);
        const phi = /peer\d+:id=[^,]+,up=0,phi=([^,]+)/.exec(await clients[0]!.info('ring'))?.[1];
        expect(phi === 'inf' || Number(phi) > 8, `phi of the paused member: ${phi}`).toBe(true);
      } finally {
        cluster.signal(2, 'SIGCONT');
      }
      await sleep(1500);
    } finally {
      await load.stop();
    }
    expect(load.acknowledged()).toBeGreaterThan(100);
    expect(load.failures(), JSON.stringify(load.failures().slice(0, 3))).toEqual([]);
    await waitForConvergence(cluster, clients, load.keys(), 20_000);
    expect(await hintsPending(clients)).toBe(0);
    await checkHistory(load, clients[2]!);
  }, 60_000);

  it('a wiped data directory (new incarnation) is restored by anti-entropy', async () => {
    const load = new Workload(cluster, { via: [0, 1, 2], keysPerWriter: 60, prefix: 'wipe', delRatio: 0.2 });
    try {
      await sleep(1500);
    } finally {
      await load.stop();
    }
    const keys = load.keys();
    await waitForConvergence(cluster, clients, keys, 20_000);
    const actorBefore = /actor:(\S+)/.exec(await clients[2]!.info('dynis'))?.[1];
    await cluster.kill9(2);
    cluster.wipe(2);
    await restart(2);
    const actorAfter = /actor:(\S+)/.exec(await clients[2]!.info('dynis'))?.[1];
    expect(actorAfter).not.toBe(actorBefore);
    // No hint can help here (nothing was written while it was down): only anti-entropy.
    expect(await hintsPending(clients)).toBe(0);
    const stored = async (): Promise<number> => {
      let n = 0;
      for (const k of keys) if ((await keyInfo(clients[2]!, k)).stored) n++;
      return n;
    };
    expect(await stored()).toBeLessThan(keys.length);
    await waitForConvergence(cluster, clients, keys, 30_000);
    expect(await stored()).toBe(keys.length);
    let repaired = 0;
    for (const c of clients) repaired += Number(/anti_entropy_keys_repaired:(\d+)/.exec(await c.info('ring'))?.[1]);
    expect(repaired).toBeGreaterThanOrEqual(keys.length);
    await checkHistory(load, clients[2]!);
  }, 90_000);
});
