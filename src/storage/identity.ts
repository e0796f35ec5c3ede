/**
 * A node's persisted identity and its dot sequence.
 *
 * The actor that names this node's writes in version vectors is `nodeId.incarnation`. The
 * incarnation is chosen when a data directory is first created, so a node whose data was
 * lost comes back as a new actor: reusing an actor after losing its history would let new
 * dots collide with old ones that other replicas still hold, and silently drop writes.
 *
 * Dot counters come from one monotonic sequence per actor, persisted in reserved blocks: on
 * start the node skips past the highest block it reserved, so a counter is never handed out
 * twice even after a crash (DESIGN.md §3: dots never repeat).
 */
import { randomBytes } from 'node:crypto';
import { limits } from '../limits.js';
import type { StorageEngine } from './engine.js';
import { metaKey } from './key-layout.js';

export interface NodeIdentity {
  readonly nodeId: string;
  readonly incarnation: string;
  readonly actor: string;
  readonly createdAtMs: number;
  /** True when this start created the data directory's identity. */
  readonly fresh: boolean;
}

const IDENTITY_KEY = metaKey('identity');
const SEQUENCE_KEY = metaKey('dot-sequence');

export async function loadIdentity(engine: StorageEngine, requestedNodeId?: string): Promise<NodeIdentity> {
  const raw = await engine.get(IDENTITY_KEY);
  if (raw !== undefined) {
    const stored = JSON.parse(raw.toString('utf8')) as { nodeId: string; incarnation: string; createdAtMs: number };
    if (requestedNodeId !== undefined && requestedNodeId !== stored.nodeId) {
      throw new Error(`data directory belongs to node '${stored.nodeId}', not '${requestedNodeId}'`);
    }
    return { ...stored, actor: `${stored.nodeId}.${stored.incarnation}`, fresh: false };
  }
  const nodeId = requestedNodeId ?? randomBytes(5).toString('hex');
  if (!/^[A-Za-z0-9_\-:.]{1,64}$/.test(nodeId)) throw new Error(`invalid node id '${nodeId}'`);
  // Time plus randomness: unique across re-creations of the same node id.
  const incarnation = Date.now().toString(36) + randomBytes(3).toString('hex');
  const identity = { nodeId, incarnation, createdAtMs: Date.now() };
  await engine.write([{ type: 'put', key: IDENTITY_KEY, value: Buffer.from(JSON.stringify(identity)) }], { sync: true });
  return { ...identity, actor: `${nodeId}.${incarnation}`, fresh: true };
}

export class DotSequence {
  private nextValue: number;
  private reservedUpTo: number;
  private reserving: Promise<void> | undefined;

  private constructor(
    private readonly engine: StorageEngine,
    start: number,
    reservedUpTo: number,
  ) {
    this.nextValue = start;
    this.reservedUpTo = reservedUpTo;
  }

  /** Open the sequence, skipping every counter that an earlier run may have handed out. */
  static async open(engine: StorageEngine, blockSize: number = limits.dotBlockSize): Promise<DotSequence> {
    const raw = await engine.get(SEQUENCE_KEY);
    const previous = raw === undefined ? 0 : Number(raw.toString('utf8'));
    if (!Number.isSafeInteger(previous) || previous < 0) throw new Error('corrupt dot sequence');
    const seq = new DotSequence(engine, previous + 1, previous);
    seq.blockSize = blockSize;
    await seq.reserve();
    return seq;
  }

  private blockSize: number = limits.dotBlockSize;

  private reserve(): Promise<void> {
    if (this.reserving) return this.reserving;
    const upTo = Math.max(this.reservedUpTo, this.nextValue) + this.blockSize;
    this.reserving = this.engine
      .write([{ type: 'put', key: SEQUENCE_KEY, value: Buffer.from(String(upTo)) }], { sync: true })
      .then(() => {
        this.reservedUpTo = upTo;
      })
      .finally(() => {
        this.reserving = undefined;
      });
    return this.reserving;
  }

  /**
   * The next counter, at least `atLeast`. Synchronous: a reservation runs ahead at half a
   * block, so a node only waits when it issues half a block of dots within one disk sync.
   */
  next(atLeast = 0): number {
    const value = Math.max(this.nextValue, atLeast);
    if (value > this.reservedUpTo) {
      this.nextValue = value;
      void this.reserve().catch(() => undefined);
      throw new SequenceExhaustedError();
    }
    this.nextValue = value + 1;
    if (this.reservedUpTo - this.nextValue < this.blockSize / 2 && this.reserving === undefined) {
      void this.reserve().catch(() => undefined);
    }
    return value;
  }

  /** Wait until counters are available (used after SequenceExhaustedError). */
  ready(): Promise<void> {
    return this.reserving ?? Promise.resolve();
  }
}

export class SequenceExhaustedError extends Error {
  constructor() {
    super('dot sequence block exhausted; retry after the reservation is stored');
    this.name = 'SequenceExhaustedError';
  }
}

const RING_KEY = metaKey('ring');

export interface StoredRingSettings {
  readonly clusterName: string;
  readonly partitions: number;
  readonly scheme: string;
  readonly n: number;
}

/**
 * The ring settings are fixed when a data directory is created (DESIGN.md §4): record them
 * then, and refuse to start later with other ones (the data's partitioning would not match).
 */
export async function checkRingSettings(engine: StorageEngine, wanted: StoredRingSettings): Promise<void> {
  const raw = await engine.get(RING_KEY);
  if (raw === undefined) {
    await engine.write([{ type: 'put', key: RING_KEY, value: Buffer.from(JSON.stringify(wanted)) }], { sync: true });
    return;
  }
  const stored = JSON.parse(raw.toString('utf8')) as StoredRingSettings;
  const fields = ['clusterName', 'partitions', 'scheme', 'n'] as const;
  const diff = fields.filter((f) => stored[f] !== wanted[f]);
  if (diff.length > 0) {
    throw new Error(
      `data directory was created with ${diff.map((f) => `${f}=${stored[f]}`).join(' ')}; ` +
        `refusing to start with ${diff.map((f) => `${f}=${wanted[f]}`).join(' ')} (use a new --dir)`,
    );
  }
}
