/**
 * Durability on a real process: every write acknowledged with `--fsync always` survives
 * kill -9; a graceful restart keeps everything; the node's actor changes only with a new dir.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { Redis as IORedis } from 'ioredis';
import { rmSync } from 'node:fs';
import { startDynis, tempDir, type RunningProcess } from '../helpers/processes.js';

const running: RunningProcess[] = [];
const dirs: string[] = [];

afterEach(async () => {
  await Promise.all(running.splice(0).map((p) => p.stop()));
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

async function actorOf(port: number): Promise<string> {
  const c = new IORedis({ port, host: '127.0.0.1' });
  try {
    const info = (await c.info('dynis')) as string;
    return /actor:(\S+)/.exec(info)?.[1] ?? '';
  } finally {
    c.disconnect();
  }
}

describe('crash safety', () => {
  it('kill -9 under write load loses no acknowledged write (fsync always)', async () => {
    const dir = tempDir('crash');
    dirs.push(dir);
    const first = await startDynis(['--fsync', 'always'], { dir });
    running.push(first);
    const actorBefore = await actorOf(first.port);
    const c = new IORedis({ port: first.port, host: '127.0.0.1', maxRetriesPerRequest: 0, enableOfflineQueue: false, lazyConnect: true });
    c.on('error', () => undefined);
    await c.connect();
    const acked = new Map<string, string>();
    // Writers keep going until the kill; only replies received count as acknowledged.
    let stop = false;
    const writers = Array.from({ length: 8 }, async (_, w) => {
      for (let i = 0; !stop; i++) {
        const key = `crash:${w}:${i}`;
        const value = `v${w}-${i}-${'x'.repeat(i % 50)}`;
        try {
          await c.set(key, value);
          acked.set(key, value);
        } catch {
          return;
        }
      }
    });
    await new Promise((r) => setTimeout(r, 1500));
    await first.kill9();
    stop = true;
    await Promise.all(writers);
    c.disconnect();
    expect(acked.size).toBeGreaterThan(100);

    const second = await startDynis(['--fsync', 'always'], { dir, port: first.port });
    running.push(second);
    const r = new IORedis({ port: second.port, host: '127.0.0.1' });
    try {
      const keys = [...acked.keys()];
      for (let i = 0; i < keys.length; i += 500) {
        const batch = keys.slice(i, i + 500);
        const values = await r.mget(...batch);
        batch.forEach((k, j) => expect(values[j], k).toBe(acked.get(k)));
      }
      // Same data dir: same actor; dots continue past the reserved block.
      expect(await actorOf(second.port)).toBe(actorBefore);
      await r.set('after-restart', 'ok');
      expect(await r.get('after-restart')).toBe('ok');
    } finally {
      r.disconnect();
    }
  });

  it('graceful restart keeps data (fsync everysec) and a new data dir gets a new actor', async () => {
    const dir = tempDir('restart');
    dirs.push(dir);
    const a = await startDynis([], { dir });
    const actorA = await actorOf(a.port);
    const c = new IORedis({ port: a.port, host: '127.0.0.1' });
    await c.mset('g:1', 'one', 'g:2', 'two');
    await c.set('g:ttl', 'x', 'EX', 1000);
    c.disconnect();
    await a.stop({ keepDir: true });
    const b = await startDynis([], { dir, port: a.port });
    running.push(b);
    const r = new IORedis({ port: b.port, host: '127.0.0.1' });
    try {
      expect(await r.mget('g:1', 'g:2')).toEqual(['one', 'two']);
      expect(await r.ttl('g:ttl')).toBeGreaterThan(990);
    } finally {
      r.disconnect();
    }
    const fresh = await startDynis();
    running.push(fresh);
    expect(await actorOf(fresh.port)).not.toBe(actorA);
  });
});
