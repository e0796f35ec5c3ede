/**
 * Tombstone reaping in a cluster (N=3): a deleted key's tombstone is removed from every
 * replica only after the grace period and only once all replicas hold it; while a replica is
 * down it is kept (that replica still has the old value), and the deleted value never comes
 * back, not even from a hint written before the delete.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Redis } from 'ioredis';
import { startCluster, type TestCluster } from '../helpers/cluster.js';
import { keyInfo } from '../helpers/checker.js';

let cluster: TestCluster;
let clients: Redis[];
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

beforeAll(async () => {
  cluster = await startCluster({
    nodes: 3,
    args: ['--n', '3', '--r', '2', '--w', '2', '--fsync', 'no', '--peer-timeout', '400', '--anti-entropy-interval', '10ms', '--hint-window', '1s', '--tombstone-grace', '2s'],
  });
  clients = cluster.members.map((_, i) => cluster.client(i));
}, 60_000);

afterAll(async () => {
  await cluster?.stop();
});

async function storedOn(key: string): Promise<number[]> {
  const out: number[] = [];
  for (const [i, c] of clients.entries()) if ((await keyInfo(c, key)).stored) out.push(i);
  return out;
}

async function until(what: string, check: () => Promise<boolean>, timeoutMs = 20_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(100);
  }
}

describe('tombstone reaping in a cluster', () => {
  it('reaps a tombstone on every replica after the grace period, and the value stays deleted', async () => {
    await clients[0]!.set('gone', 'value');
    expect(await clients[1]!.del('gone')).toBe(1);
    expect(await storedOn('gone')).toEqual([0, 1, 2]); // tombstones, kept during the grace period
    await until('the tombstone to be reaped everywhere', async () => (await storedOn('gone')).length === 0);
    for (const c of clients) expect(await c.get('gone')).toBeNull();
    expect(Number(/tombstones_reaped:(\d+)/.exec(await clients[0]!.info('ring'))?.[1]) + Number(/tombstones_reaped:(\d+)/.exec(await clients[1]!.info('ring'))?.[1]) + Number(/tombstones_reaped:(\d+)/.exec(await clients[2]!.info('ring'))?.[1])).toBeGreaterThan(0);
  });

  it('keeps the tombstone while a replica that may hold the old value is down; nothing comes back after it returns', async () => {
    await clients[0]!.set('held', 'old');
    await cluster.kill9(2);
    // Member 2 keeps 'old'; the delete happens without it.
    expect(await clients[0]!.del('held')).toBe(1);
    await sleep(3500); // past the grace period: still not reapable, member 2 has not confirmed
    expect(await storedOn0and1('held')).toEqual([0, 1]);
    await cluster.start(2);
    await cluster.ready();
    clients[2] = cluster.client(2);
    await until('the tombstone to reach member 2 and then be reaped everywhere', async () => (await storedOn('held')).length === 0);
    for (const c of clients) expect(await c.get('held')).toBeNull();
  });
});

async function storedOn0and1(key: string): Promise<number[]> {
  const out: number[] = [];
  for (const i of [0, 1]) if ((await keyInfo(clients[i]!, key)).stored) out.push(i);
  return out;
}
