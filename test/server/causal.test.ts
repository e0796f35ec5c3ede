/**
 * The causal commands on one real node (N = R = W = 1): VGET/VSET siblings, contexts that
 * collapse them, last-writer-wins for GET, TTLs in siblings, errors for malformed contexts and
 * quorum options, and the sibling bounds.
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

type VGet = [string, string[]];

describe('VGET / VSET on one node', () => {
  it('reads a missing key as an empty context and no values', async () => {
    expect(await redis.call('VGET', 'nothing')).toEqual(['', []]);
  });

  it('keeps writes without a context as siblings, and collapses them with the merged context', async () => {
    expect(await redis.call('VSET', 'cart', '', 'apples')).toBe('OK');
    expect(await redis.call('VSET', 'cart', '', 'pears')).toBe('OK');
    const [ctx, values] = (await redis.call('VGET', 'cart')) as VGet;
    expect([...values].sort()).toEqual(['apples', 'pears']);
    expect(ctx).toMatch(/^[A-Za-z0-9+/]+=*$/);
    // GET resolves siblings by last-writer-wins: the later write.
    expect(await redis.get('cart')).toBe('pears');
    expect(await redis.call('VSET', 'cart', ctx, 'apples,pears')).toBe('OK');
    expect((await redis.call('VGET', 'cart')) as VGet).toEqual([expect.any(String), ['apples,pears']]);
  });

  it('a write with an old context does not replace what it did not see', async () => {
    const [ctx1] = (await redis.call('VGET', 'doc')) as VGet;
    await redis.call('VSET', 'doc', ctx1, 'v1');
    const [ctx2] = (await redis.call('VGET', 'doc')) as VGet;
    await redis.call('VSET', 'doc', ctx2, 'v2'); // replaces v1
    await redis.call('VSET', 'doc', ctx2, 'v2-concurrent'); // saw v1 but not v2: a sibling of v2
    expect([...((await redis.call('VGET', 'doc')) as VGet)[1]].sort()).toEqual(['v2', 'v2-concurrent']);
  });

  it('SET overwrites what the node knows; DEL leaves a tombstone that VGET does not show', async () => {
    await redis.call('VSET', 'mixed', '', 'a');
    await redis.call('VSET', 'mixed', '', 'b');
    await redis.set('mixed', 'c');
    expect((await redis.call('VGET', 'mixed')) as VGet).toEqual([expect.any(String), ['c']]);
    expect(await redis.del('mixed')).toBe(1);
    const [ctx, values] = (await redis.call('VGET', 'mixed')) as VGet;
    expect(values).toEqual([]);
    expect(ctx).not.toBe(''); // the tombstone's dot is in the context
    expect(await redis.exists('mixed')).toBe(0);
  });

  it('expired siblings read as gone', async () => {
    await redis.set('brief', 'x', 'PX', 50);
    await new Promise((r) => setTimeout(r, 120));
    expect(((await redis.call('VGET', 'brief')) as VGet)[1]).toEqual([]);
    expect(await redis.get('brief')).toBeNull();
  });

  it('refuses malformed contexts and quorum options with clear errors', async () => {
    await expect(redis.call('VSET', 'k', 'not base64!', 'v')).rejects.toThrow('ERR invalid context: not base64');
    await expect(redis.call('VSET', 'k', Buffer.from([9, 1]).toString('base64'), 'v')).rejects.toThrow(/ERR invalid context: unknown context format 9/);
    await expect(redis.call('VGET', 'k', 'R', '2')).rejects.toThrow('ERR R must be between 1 and N (1)');
    await expect(redis.call('VSET', 'k', '', 'v', 'W', '0')).rejects.toThrow('ERR W must be between 1 and N (1)');
    await expect(redis.call('VGET', 'k', 'X', '1')).rejects.toThrow('ERR syntax error');
    await expect(redis.call('VSET', 'k', '')).rejects.toThrow("ERR wrong number of arguments for 'vset' command");
    expect(await redis.call('VGET', 'k', 'R', '1')).toEqual(['', []]);
  });

  it('warns past 25 siblings and refuses client writes past 100', async () => {
    for (let i = 0; i < 100; i++) await redis.call('VSET', 'crowd', '', `v${i}`);
    expect(((await redis.call('VGET', 'crowd')) as VGet)[1]).toHaveLength(100);
    await expect(redis.call('VSET', 'crowd', '', 'one-too-many')).rejects.toThrow(/too many siblings \(101\)/);
    expect(Number(/writes_with_many_siblings:(\d+)/.exec(await redis.info('dynis'))?.[1])).toBe(75);
    expect(node.output()).toMatch(/a key has 26 siblings/);
  });
});
