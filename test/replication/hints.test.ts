import { describe, expect, it } from 'vitest';
import { FallbackJournal } from '../../src/replication/fallback-journal.js';
import { HintReplayer, HintStore } from '../../src/replication/hints.js';
import { MemoryEngine } from '../../src/storage/memory-engine.js';
import { ReplicaStore } from '../../src/storage/replica-store.js';
import type { SiblingSet } from '../../src/versions/dvv.js';
import { sib } from '../helpers/siblings.js';

const k = (s: string): Buffer => Buffer.from(s);
const values = (set: SiblingSet): string[] => set.map((s) => String(s.value)).sort();

async function setup(windowMs = 60_000): Promise<{ engine: MemoryEngine; store: ReplicaStore; hints: HintStore; clock: { now: number } }> {
  const engine = new MemoryEngine();
  await engine.open();
  const store = new ReplicaStore(engine, { fsync: 'no' });
  const clock = { now: 1_000_000 };
  const hints = new HintStore(engine, store, { windowMs, clock: () => clock.now });
  await hints.open();
  return { engine, store, hints, clock };
}

describe('hint store', () => {
  it('merges hints for one target and key by sync, and counts keys per target', async () => {
    const { hints } = await setup();
    await hints.put('n2', 3, k('a'), [sib('x', 1, 'v1')]);
    await hints.put('n2', 3, k('a'), [sib('y', 1, 'v2')]);
    await hints.put('n2', 3, k('b'), [sib('x', 2, 'w')]);
    await hints.put('n3', 3, k('a'), [sib('x', 1, 'v1')]);
    expect(values(await hints.get('n2', 3, k('a')))).toEqual(['v1', 'v2']);
    expect(Object.fromEntries(hints.pending())).toEqual({ n2: 2, n3: 1 });
    // A version that covers both replaces them.
    await hints.put('n2', 3, k('a'), [sib('x', 3, 'v3', [['x', 1], ['y', 1]])]);
    expect(values(await hints.get('n2', 3, k('a')))).toEqual(['v3']);
  });

  it('survives a restart: hints are in the engine and counted again on open', async () => {
    const { engine, store, hints } = await setup();
    await hints.put('n2', 1, k('a'), [sib('x', 1, 'v')]);
    await hints.put('n9', 2, k('b'), [sib('x', 2, 'w')]);
    await store.syncNow();
    const reopened = new HintStore(engine, store, { windowMs: 60_000 });
    await reopened.open();
    expect(Object.fromEntries(reopened.pending())).toEqual({ n2: 1, n9: 1 });
  });

  it('deletes a delivered hint only if it still holds what was delivered', async () => {
    const { hints } = await setup();
    await hints.put('n2', 1, k('a'), [sib('x', 1, 'v1')]);
    const [page] = await hints.page('n2', 10);
    await hints.put('n2', 1, k('a'), [sib('y', 1, 'v2')]); // arrives while delivering
    expect(await hints.delivered(page!)).toBe(false);
    const [again] = await hints.page('n2', 10);
    expect(values(again!.set)).toEqual(['v1', 'v2']);
    expect(await hints.delivered(again!)).toBe(true);
    expect(hints.pendingTotal()).toBe(0);
  });

  it('drops expired hints instead of delivering them', async () => {
    const { hints, clock } = await setup(1000);
    await hints.put('n2', 1, k('old'), [sib('x', 1, 'v')]);
    clock.now += 600;
    await hints.put('n2', 1, k('new'), [sib('x', 2, 'w')]);
    clock.now += 600;
    const page = await hints.page('n2', 10);
    expect(page.map((h) => h.key.toString())).toEqual(['new']);
    expect(hints.stats.expired).toBe(1);
    expect(await hints.get('n2', 1, k('old'))).toEqual([]);
  });

  it('replays to reachable targets only, and keeps what failed for the next round', async () => {
    const { hints } = await setup();
    for (let i = 0; i < 20; i++) await hints.put('up', 1, k(`a${i}`), [sib('x', i + 1, `v${i}`)]);
    await hints.put('down', 1, k('z'), [sib('x', 99, 'z')]);
    const received: string[] = [];
    let failNext = 3;
    const replayer = new HintReplayer(
      hints,
      {
        isUp: (m) => m === 'up',
        write: async (_m, _p, key) => {
          if (failNext-- > 0 && key.toString() === 'a5') throw new Error('timeout');
          received.push(key.toString());
        },
      },
      { intervalMs: 1000 },
    );
    await replayer.tick();
    while ((hints.pending().get('up') ?? 0) > 0) await replayer.tick();
    expect(new Set(received).size).toBe(20);
    expect(hints.pending().get('down')).toBe(1);
  });
});

describe('fallback journal', () => {
  it('keeps one episode per key until it expires, then starts over', async () => {
    const engine = new MemoryEngine();
    await engine.open();
    const store = new ReplicaStore(engine, { fsync: 'no' });
    const clock = { now: 0 };
    const journal = new FallbackJournal(engine, store, { windowMs: 1000, clock: () => clock.now });
    const seen: Array<string | undefined> = [];
    const write = (actor: string): Promise<void> =>
      journal.update(1, k('a'), (episode) => {
        seen.push(episode?.actor);
        return { next: { actor: episode?.actor ?? actor, createdAtMs: episode?.createdAtMs ?? clock.now, set: [] }, result: undefined };
      });
    await Promise.all([write('e1'), write('e2'), write('e3')]);
    expect(seen).toEqual([undefined, 'e1', 'e1']);
    clock.now = 2000;
    await write('e4');
    expect(seen[3]).toBeUndefined();
    clock.now = 4000;
    expect(await journal.sweep()).toBe(1);
  });
});
