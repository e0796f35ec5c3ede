/**
 * INFO on a real node: the keyspace line comes from a background count (INFO must not scan
 * the keyspace: ioredis sends it on every connect), and the cluster section says whether this
 * is a cluster member.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Redis } from 'ioredis';
import { startDynis, type RunningProcess } from '../helpers/processes.js';

let node: RunningProcess;
let redis: Redis;

beforeAll(async () => {
  node = await startDynis(['--fsync', 'no']);
  redis = new Redis({ port: node.port });
});

afterAll(async () => {
  redis?.disconnect();
  await node?.stop();
});

describe('INFO', () => {
  it('reports the keyspace from a background count that catches up with writes', async () => {
    await redis.mset(...Array.from({ length: 40 }, (_, i) => [`info:${i}`, 'v']).flat());
    await redis.set('info:ttl', 'v', 'EX', 100);
    await redis.set('info:gone', 'v');
    await redis.del('info:gone'); // a tombstone is not a key
    await redis.info(); // starts a count if the last is stale
    const deadline = Date.now() + 20_000;
    let line = '';
    while (Date.now() < deadline) {
      line = /db0:(\S+)/.exec(await redis.info('keyspace'))?.[1] ?? '';
      if (line.startsWith('keys=41,')) break;
      await new Promise((r) => setTimeout(r, 500));
    }
    expect(line).toBe('keys=41,expires=1,avg_ttl=0');
    expect(await redis.dbsize()).toBe(41); // DBSIZE counts exactly, now
  });

  it('says a node alone is not in cluster mode', async () => {
    const info = await redis.info();
    expect(info).toMatch(/redis_mode:standalone/);
    expect(info).toMatch(/# Cluster\r\ncluster_enabled:0/);
    expect(info).toMatch(/loading:0/);
  });
});
