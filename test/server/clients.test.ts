/**
 * Real Redis client libraries against a real dynis process: ioredis 5 and 6 (RESP2 and
 * RESP3 via HELLO 3), node-redis 4 and 5 (RESP2 and RESP3), and redis-py (Debian's
 * python3-redis). Each runs GET/SET/DEL/MGET/EXPIRE and checks the answers.
 */
import { spawnSync } from 'node:child_process';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Redis as IORedis6 } from 'ioredis';
import { Redis as IORedis5 } from 'ioredis5';
import { createClient as createClient5 } from 'redis';
import { createClient as createClient4 } from 'redis4';
import { startDynis, type RunningProcess } from '../helpers/processes.js';

let node: RunningProcess;

beforeAll(async () => {
  node = await startDynis();
});
afterAll(async () => {
  await node?.stop();
});

interface Basic {
  set(k: string, v: string): Promise<unknown>;
  get(k: string): Promise<string | null>;
  del(k: string): Promise<number>;
  mget(...k: string[]): Promise<Array<string | null>>;
  expire(k: string, s: number): Promise<number>;
  ttl(k: string): Promise<number>;
}

async function exercise(c: Basic, prefix: string): Promise<void> {
  expect(await c.set(`${prefix}:a`, '1')).toBe('OK');
  expect(await c.set(`${prefix}:b`, 'two')).toBe('OK');
  expect(await c.get(`${prefix}:a`)).toBe('1');
  expect(await c.mget(`${prefix}:a`, `${prefix}:b`, `${prefix}:missing`)).toEqual(['1', 'two', null]);
  expect(await c.expire(`${prefix}:b`, 100)).toBe(1);
  const ttl = await c.ttl(`${prefix}:b`);
  expect(ttl).toBeGreaterThan(90);
  expect(ttl).toBeLessThanOrEqual(100);
  expect(await c.del(`${prefix}:a`)).toBe(1);
  expect(await c.del(`${prefix}:a`)).toBe(0);
  expect(await c.get(`${prefix}:a`)).toBeNull();
}

describe('ioredis', () => {
  type Client = { connect(): Promise<unknown>; ping(): Promise<string>; disconnect(): void };
  const makers: Array<[string, (port: number) => Client]> = [
    ['5', (port) => new IORedis5({ port, host: '127.0.0.1', lazyConnect: true })],
    ['6', (port) => new IORedis6({ port, host: '127.0.0.1', lazyConnect: true })],
  ];
  for (const [name, make] of makers) {
    it(`ioredis ${name} over RESP2`, async () => {
      const c = make(node.port);
      await c.connect();
      try {
        await exercise(c as unknown as Basic, `io${name}`);
        expect(await c.ping()).toBe('PONG');
      } finally {
        c.disconnect();
      }
    });
  }

  it('ioredis 6 over RESP3 (HELLO 3)', async () => {
    const c = new IORedis6({ port: node.port, host: '127.0.0.1', protocol: 3, lazyConnect: true });
    await c.connect();
    try {
      await exercise(c as unknown as Basic, 'io6r3');
      const hello = (await c.call('HELLO', '3')) as unknown;
      expect(JSON.stringify(hello)).toContain('redis');
    } finally {
      c.disconnect();
    }
  });

  it('ioredis pipelines many commands and gets replies in order', async () => {
    const c = new IORedis6({ port: node.port, host: '127.0.0.1' });
    try {
      const p = c.pipeline();
      for (let i = 0; i < 500; i++) p.set(`pipe:${i}`, String(i)).get(`pipe:${i}`).incr(`pipe:ctr`);
      const res = (await p.exec()) ?? [];
      for (let i = 0; i < 500; i++) {
        expect(res[i * 3]?.[1]).toBe('OK');
        expect(res[i * 3 + 1]?.[1]).toBe(String(i));
        expect(res[i * 3 + 2]?.[1]).toBe(i + 1);
      }
    } finally {
      c.disconnect();
    }
  });
});

describe('node-redis', () => {
  it('node-redis 5 over RESP2 and RESP3', async () => {
    for (const RESP of [2, 3] as const) {
      const c = createClient5({ socket: { port: node.port, host: '127.0.0.1' }, RESP });
      c.on('error', () => undefined);
      await c.connect();
      try {
        const basic: Basic = {
          set: (k, v) => c.set(k, v),
          get: (k) => c.get(k) as Promise<string | null>,
          del: (k) => c.del(k) as Promise<number>,
          mget: (...k) => c.mGet(k) as Promise<Array<string | null>>,
          expire: (k, s) => c.expire(k, s) as Promise<number>,
          ttl: (k) => c.ttl(k) as Promise<number>,
        };
        await exercise(basic, `nr5r${RESP}`);
      } finally {
        await c.quit();
      }
    }
  });

  it('node-redis 4', async () => {
    const c = createClient4({ socket: { port: node.port, host: '127.0.0.1' } });
    c.on('error', () => undefined);
    await c.connect();
    try {
      const basic: Basic = {
        set: (k, v) => c.set(k, v) as Promise<unknown>,
        get: (k) => c.get(k),
        del: (k) => c.del(k),
        mget: (...k) => c.mGet(k),
        expire: async (k, s) => Number(await c.expire(k, s)),
        ttl: (k) => c.ttl(k),
      };
      await exercise(basic, 'nr4');
      const scanned: string[] = [];
      for await (const key of c.scanIterator({ MATCH: 'nr4:*' })) scanned.push(key);
      expect(scanned.sort()).toEqual(['nr4:b']);
    } finally {
      await c.quit();
    }
  });
});

describe('redis-py (python3-redis)', () => {
  it('runs GET/SET/DEL/MGET/EXPIRE', () => {
    const script = `
import redis, sys
r = redis.Redis(host='127.0.0.1', port=int(sys.argv[1]), decode_responses=True)
assert r.ping() is True
assert r.set('py:a', '1') is True
assert r.set('py:b', 'two') is True
assert r.get('py:a') == '1'
assert r.mget(['py:a', 'py:b', 'py:nope']) == ['1', 'two', None]
assert r.expire('py:b', 100) is True
assert 90 < r.ttl('py:b') <= 100
assert r.delete('py:a') == 1
assert r.get('py:a') is None
assert r.incr('py:n') == 1
print('ok')
`;
    const res = spawnSync('/usr/bin/python3', ['-c', script, String(node.port)], { encoding: 'utf8' });
    expect(res.stderr).toBe('');
    expect(res.stdout.trim()).toBe('ok');
  });
});
