/**
 * A simulated cluster: four in-process nodes (KvService + ReplicaStore + HintStore on the memory
 * engine) whose replica traffic goes through a transport that fast-check's scheduler delivers in
 * any order, and drops on failed links: writes fall back to the fourth node or to the
 * coordinator's own hints (sloppy quorum), and puts may be coordinated by the node that does
 * not replicate the key. Clients run concurrent sessions of reads, puts with the
 * context of their last read (or none), anti-entropy syncs between replicas, and link
 * failures. Then every link heals, every node delivers its hints, every replica of every key syncs with every other, and
 * the result is checked against a model:
 *
 *  - convergence: all replicas of a key hold the same sibling set;
 *  - no lost write: every acknowledged put is in the final set, unless a later put's context
 *    covered it (that put read it);
 *  - no resurrection: no final value is covered by another final value's writer;
 *  - nothing invented: every final value was written by some put.
 */
import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { KvService } from '../../src/replication/coordinator.js';
import { FallbackJournal } from '../../src/replication/fallback-journal.js';
import { HintReplayer, HintStore } from '../../src/replication/hints.js';
import type { ReplicaTransport } from '../../src/replication/transport.js';
import { Ring } from '../../src/ring/ring.js';
import { DotSequence } from '../../src/storage/identity.js';
import { MemoryEngine } from '../../src/storage/memory-engine.js';
import { ReplicaStore } from '../../src/storage/replica-store.js';
import { contextOf, liveValues, sameDots, sync, type SiblingSet, type VersionVector } from '../../src/versions/dvv.js';

const NODES = 4;
const KEYS = ['a', 'b', 'c'];
const ids = Array.from({ length: NODES }, (_, i) => `n${i}`);

type Op =
  | { kind: 'read'; key: number; via: number; r: number }
  | { kind: 'put'; key: number; coordinator: number; w: number; withContext: boolean }
  | { kind: 'sync'; key: number; a: number; b: number }
  | { kind: 'cut'; a: number; b: number }
  | { kind: 'heal'; a: number; b: number };

const nodeArb = fc.integer({ min: 0, max: NODES - 1 });
const keyArb = fc.integer({ min: 0, max: KEYS.length - 1 });
const opArb: fc.Arbitrary<Op> = fc.oneof(
  { weight: 4, arbitrary: fc.record({ kind: fc.constant('read' as const), key: keyArb, via: nodeArb, r: fc.integer({ min: 1, max: 3 }) }) },
  {
    weight: 5,
    arbitrary: fc.record({
      kind: fc.constant('put' as const),
      key: keyArb,
      // 0-2: a replica of the key coordinates; 3: the node that is not one does (as a fallback).
      coordinator: fc.integer({ min: 0, max: 3 }),
      w: fc.integer({ min: 1, max: 3 }),
      withContext: fc.boolean(),
    }),
  },
  { weight: 2, arbitrary: fc.record({ kind: fc.constant('sync' as const), key: keyArb, a: fc.integer({ min: 0, max: 2 }), b: fc.integer({ min: 0, max: 2 }) }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('cut' as const), a: nodeArb, b: nodeArb }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('heal' as const), a: nodeArb, b: nodeArb }) },
);

interface Put {
  readonly value: string;
  readonly key: number;
  /** Values the put's context came from (the session's last read of the key). */
  readonly covers: ReadonlySet<string>;
  acknowledged: boolean;
}

interface SimNode {
  readonly id: string;
  readonly store: ReplicaStore;
  readonly hints: HintStore;
  readonly kv: KvService;
}

async function buildCluster(s: fc.Scheduler, down: Set<string>): Promise<{ nodes: SimNode[]; ring: Ring }> {
  const ring = new Ring(
    ids.map((id) => ({ id, zone: 'z' })),
    { partitions: 8, n: 3, scheme: 'redis-slot' },
  );
  const nodes: SimNode[] = [];
  const link = (a: string, b: string): string => (a < b ? `${a}|${b}` : `${b}|${a}`);
  for (const id of ids) {
    const engine = new MemoryEngine();
    await engine.open();
    const store = new ReplicaStore(engine, { fsync: 'no' });
    const hints = new HintStore(engine, store, { windowMs: 3_600_000 });
    const sequence = await DotSequence.open(engine);
    // Every message is a scheduled step: the scheduler picks the delivery order.
    const deliver = <T>(to: string, label: string, run: (node: SimNode) => Promise<T>): Promise<T> =>
      s.schedule(Promise.resolve(), `${id}->${to} ${label}`).then(() => {
        if (down.has(link(id, to))) throw new Error('link down');
        const target = nodes.find((n) => n.id === to) as SimNode;
        return run(target).then((r) => s.schedule(Promise.resolve(r), `${to}->${id} reply ${label}`));
      });
    const transport: ReplicaTransport = {
      isUp: (m) => !down.has(link(id, m)),
      read: (m, p, key) => deliver(m, `read ${key}`, (n) => n.store.read(p, key)),
      write: (m, p, key, set) => deliver(m, `write ${key}`, (n) => n.kv.syncLocal(p, key, set).then(() => undefined)),
      hint: (m, target, p, key, set) => deliver(m, `hint ${key} for ${target}`, (n) => n.hints.put(target, p, key, set)),
      scan: () => Promise.reject(new Error('not simulated')),
      flushAll: () => Promise.reject(new Error('not simulated')),
    };
    const kv = new KvService({
      store,
      actor: `${id}.1`,
      sequence,
      ring: {
        partitions: 8,
        memberIds: ids,
        partitionOf: (k) => ring.partitionOf(k),
        preferenceList: (p) => ring.preferenceList(p),
        fallbacks: (p) => ring.fallbacks(p),
      },
      self: id,
      transport,
      hints,
      journal: new FallbackJournal(engine, store, { windowMs: 3_600_000 }),
      r: 2,
      w: 2,
    });
    nodes.push({ id, store, hints, kv });
  }
  return { nodes, ring };
}

describe('simulated cluster (memory engine, scheduled transport)', () => {
  it('converges and loses no acknowledged write under random interleavings and link failures', async () => {
    await fc.assert(
      fc.asyncProperty(fc.scheduler(), fc.array(fc.array(opArb, { maxLength: 12 }), { minLength: 2, maxLength: 3 }), async (s, sessions) => {
        const down = new Set<string>();
        const { nodes, ring } = await buildCluster(s, down);
        const replicasOf = (key: number): SimNode[] => {
          const k = Buffer.from(KEYS[key] as string);
          return ring.preferenceList(ring.partitionOf(k)).map((id) => nodes.find((n) => n.id === id) as SimNode);
        };
        const puts: Put[] = [];
        const link = (a: number, b: number): string => {
          const [x, y] = [ids[a] as string, ids[b] as string];
          return x < y ? `${x}|${y}` : `${y}|${x}`;
        };

        const runSession = async (sessionIndex: number, ops: Op[]): Promise<void> => {
          const lastRead = new Map<number, { context: VersionVector; values: string[] }>();
          for (const [i, op] of ops.entries()) {
            await s.schedule(Promise.resolve(), `session ${sessionIndex} op ${i} ${op.kind}`);
            const key = 'key' in op ? Buffer.from(KEYS[op.key] as string) : Buffer.alloc(0);
            try {
              if (op.kind === 'read') {
                const set = await (nodes[op.via] as SimNode).kv.read(key, op.r);
                lastRead.set(op.key, { context: contextOf(set), values: liveValues(set, Date.now()).map(String) });
              } else if (op.kind === 'put') {
                const primaries = replicasOf(op.key);
                const coordinator = (primaries[op.coordinator] ?? nodes.find((n) => !primaries.includes(n))) as SimNode;
                const read = op.withContext ? lastRead.get(op.key) : undefined;
                const put: Put = { value: `s${sessionIndex}.${i}`, key: op.key, covers: new Set(read?.values ?? []), acknowledged: false };
                puts.push(put);
                await coordinator.kv.putWithContext(key, read?.context ?? new Map(), Buffer.from(put.value), 0, op.w);
                put.acknowledged = true;
              } else if (op.kind === 'sync') {
                const [a, b] = [replicasOf(op.key)[op.a] as SimNode, replicasOf(op.key)[op.b] as SimNode];
                const p = ring.partitionOf(key);
                const [sa, sb] = await Promise.all([a.store.read(p, key), b.store.read(p, key)]);
                await Promise.all([a.kv.syncLocal(p, key, sb), b.kv.syncLocal(p, key, sa)]);
              } else if (op.kind === 'cut') {
                if (op.a !== op.b) down.add(link(op.a, op.b));
              } else {
                down.delete(link(op.a, op.b));
              }
            } catch {
              // Quorum failures are allowed; the checks below only trust acknowledged puts.
            }
          }
        };

        await s.waitFor(Promise.all(sessions.map((ops, i) => runSession(i, ops))));
        // Let every straggler land, then heal and run a full anti-entropy round.
        // Operations started by delivered messages (hint and replica writes) may still be in
        // the stores' group commits: let them all land.
        for (let round = 0; round < 3; round++) {
          await s.waitAll();
          await Promise.all(nodes.map((n) => n.store.syncNow()));
        }
        down.clear();
        // Hinted handoff: every node delivers the hints it holds (directly, outside the scheduler).
        for (const n of nodes) {
          const direct = { isUp: () => true, write: (m: string, p: number, key: Buffer, set: SiblingSet) => nodes.find((x) => x.id === m)!.kv.syncLocal(p, key, set).then(() => undefined) };
          const replayer = new HintReplayer(n.hints, direct, { intervalMs: 1000 });
          while (n.hints.pendingTotal() > 0) expect(await replayer.tick()).toBeGreaterThan(0);
        }
        for (let k = 0; k < KEYS.length; k++) {
          const key = Buffer.from(KEYS[k] as string);
          const p = ring.partitionOf(key);
          const replicas = replicasOf(k);
          let merged: SiblingSet = [];
          for (const r of replicas) merged = sync(merged, await r.store.read(p, key));
          for (const r of replicas) await r.kv.syncLocal(p, key, merged);
          const finals = await Promise.all(replicas.map((r) => r.store.read(p, key)));
          for (const f of finals) expect(sameDots(f, finals[0] as SiblingSet)).toBe(true);
          const finalValues = new Set((finals[0] as SiblingSet).filter((x) => x.value !== null).map((x) => String(x.value)));
          const mine = puts.filter((put) => put.key === k);
          for (const put of mine) {
            if (!put.acknowledged) continue;
            const coveredByLater = mine.some((other) => other.covers.has(put.value));
            if (process.env.SIM_DEBUG && !(finalValues.has(put.value) || coveredByLater)) {
              const show = (set: SiblingSet): string => set.map((x) => `${String(x.value)}@${x.actor}:${x.counter}<${[...x.past].map(([a, c]) => `${a}:${c}`).join(',')}>`).join(' ');
              console.log('LOST', put.value, 'key', k, 'replicas', replicas.map((r) => r.id));
              console.log('puts', mine.map((m) => `${m.value} ack=${m.acknowledged} covers=${[...m.covers].join('|')}`).join('\n'));
              console.log('final', show(finals[0] as SiblingSet));
              console.log('sessions', JSON.stringify(sessions));
            }
            expect(finalValues.has(put.value) || coveredByLater, `lost ${put.value}`).toBe(true);
          }
          for (const v of finalValues) {
            expect(mine.some((put) => put.value === v), `invented ${v}`).toBe(true);
            const coveredBy = mine.find((other) => other.covers.has(v) && finalValues.has(other.value));
            expect(coveredBy, `${v} survived although ${coveredBy?.value} covered it`).toBeUndefined();
          }
        }
      }),
      { numRuns: Number(process.env.SIM_RUNS ?? 300), ...(process.env.SIM_SEED ? { seed: Number(process.env.SIM_SEED), path: process.env.SIM_PATH } : {}) },
    );
  }, 60_000);
});
