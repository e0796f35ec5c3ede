/**
 * SLOWLOG, INFO commandstats and INFO latencystats, beside a real redis-server: the same
 * commands give replies of the same shape (ids, times and durations differ by nature).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Redis } from 'ioredis';
import { startDynis, startRedis, type RunningProcess } from '../helpers/processes.js';

let dynis: RunningProcess;
let redis: RunningProcess;
let d: Redis;
let r: Redis;

beforeAll(async () => {
  [dynis, redis] = await Promise.all([startDynis(['--fsync', 'no']), startRedis()]);
  d = new Redis({ port: dynis.port });
  r = new Redis({ port: redis.port });
});

afterAll(async () => {
  d?.disconnect();
  r?.disconnect();
  await Promise.all([dynis?.stop(), redis?.stop()]);
});

/** The shape of a reply: types and array lengths, not values. */
function shape(v: unknown): unknown {
  if (Array.isArray(v)) return v.map(shape);
  if (typeof v === 'number') return 'int';
  if (typeof v === 'string') return 'str';
  return v === null ? 'null' : typeof v;
}

describe('introspection', () => {
  it('SLOWLOG records what is slower than the threshold, shortened like Redis, in the same shape', async () => {
    for (const c of [d, r]) {
      await c.call('CONFIG', 'SET', 'slowlog-log-slower-than', '0');
      await c.call('SLOWLOG', 'RESET');
      await c.set('slow:key', 'x'.repeat(200));
      await c.call('ECHO', 'hello');
      await c.call('MSET', ...Array.from({ length: 40 }, (_, i) => `m${i}`));
    }
    const [dl, rl] = [(await d.call('SLOWLOG', 'GET', '3')) as unknown[][], (await r.call('SLOWLOG', 'GET', '3')) as unknown[][]];
    expect(shape(dl)).toEqual(shape(rl));
    // Newest first: the MSET, its 41 arguments cut to 32 with a note, as Redis does.
    expect((dl[0]![3] as string[])).toEqual((rl[0]![3] as string[]));
    expect((dl[2]![3] as string[])).toEqual((rl[2]![3] as string[])); // the 200-byte value, cut at 128
    expect(await d.call('SLOWLOG', 'LEN')).toBeGreaterThanOrEqual(3);
    expect(await d.call('SLOWLOG', 'RESET')).toBe('OK');
    expect(await d.call('SLOWLOG', 'LEN')).toBeLessThanOrEqual(1);
    await expect(d.call('SLOWLOG', 'GET', '-2')).rejects.toThrow('ERR count should be greater than or equal to -1');
    for (const c of [d, r]) await c.call('CONFIG', 'SET', 'slowlog-log-slower-than', '10000');
    expect(await d.call('CONFIG', 'GET', 'slowlog-log-slower-than')).toEqual(['slowlog-log-slower-than', '10000']);
    await expect(d.call('CONFIG', 'SET', 'slowlog-max-len', 'many')).rejects.toThrow(/argument couldn't be parsed into an integer/);
    await expect(d.call('CONFIG', 'SET', 'port', '1')).rejects.toThrow("ERR Unknown option or number of arguments for CONFIG SET - 'port'");
  });

  it('INFO commandstats and latencystats count calls, failures and rejections per command', async () => {
    for (const c of [d, r]) {
      await c.call('CONFIG', 'RESETSTAT');
      await c.set('cs:a', '1');
      await c.set('cs:b', '2');
      await c.get('cs:a');
      await c.call('INCR', 'cs:nope-not-int').catch(() => undefined);
      await c.set('cs:c', 'not a number');
      await c.call('INCR', 'cs:c').catch(() => undefined);
      await c.call('GET').catch(() => undefined); // wrong arity: rejected
    }
    const [ds, rs] = [await d.info('commandstats'), await r.info('commandstats')];
    const stat = (info: string, name: string): Record<string, number> =>
      Object.fromEntries(
        (new RegExp(`cmdstat_${name}:(\\S+)`).exec(info)?.[1] ?? '')
          .split(',')
          .map((kv) => kv.split('='))
          .map(([k, v]) => [k, Number(v)]),
      );
    for (const name of ['set', 'get', 'incr']) {
      const [a, b] = [stat(ds, name), stat(rs, name)];
      expect({ name, calls: a.calls, rejected: a.rejected_calls, failed: a.failed_calls }).toEqual({ name, calls: b.calls, rejected: b.rejected_calls, failed: b.failed_calls });
      expect(Object.keys(a).sort()).toEqual(Object.keys(b).sort());
    }
    const lat = await d.info('latencystats');
    expect(lat).toMatch(/latency_percentiles_usec_set:p50=\d+\.\d{3},p99=\d+\.\d{3},p99\.9=\d+\.\d{3}/);
    expect(await r.info('latencystats')).toMatch(/latency_percentiles_usec_set:p50=/);
    expect(await d.info('everything')).toMatch(/# Commandstats/);
  });

  it('LATENCY HISTOGRAM gives calls and a cumulative histogram per command, as Redis 7 does', async () => {
    for (const c of [d, r]) {
      await c.call('CONFIG', 'RESETSTAT');
      for (let i = 0; i < 20; i++) await c.set(`lh:${i}`, 'v');
    }
    const [dh, rh] = [(await d.call('LATENCY', 'HISTOGRAM', 'set')) as unknown[], (await r.call('LATENCY', 'HISTOGRAM', 'set')) as unknown[]];
    expect(dh[0]).toBe(rh[0]); // 'set'
    const [dd, rd] = [dh[1] as unknown[], rh[1] as unknown[]];
    expect([dd[0], dd[1], dd[2]]).toEqual([rd[0], rd[1], rd[2]]); // calls, 20, histogram_usec
    const buckets = dd[3] as number[];
    const counts = buckets.filter((_, i) => i % 2 === 1);
    for (let i = 1; i < counts.length; i++) expect(counts[i]).toBeGreaterThanOrEqual(counts[i - 1] as number);
    expect(counts[counts.length - 1]).toBe(20);
    expect(await d.call('LATENCY', 'HISTOGRAM', 'no-such-command')).toEqual([]);
  });
});
