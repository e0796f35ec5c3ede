/**
 * StorageEngine in memory, for unit tests and simulations: a Map for point access plus a
 * lazily sorted key list (memcmp order) for ranges. Values are copied on write, and every
 * method answers asynchronously, like a real engine.
 */
import type { EngineSupports, RangeOptions, StorageEngine, WriteOp } from './engine.js';

export class MemoryEngine implements StorageEngine {
  readonly supports: EngineSupports = { persistent: false, durableSync: false };
  private readonly map = new Map<string, { key: Buffer; value: Buffer }>();
  private sorted: string[] | undefined;
  private open_ = false;

  async open(): Promise<void> {
    this.open_ = true;
  }

  async close(): Promise<void> {
    this.open_ = false;
  }

  private check(): void {
    if (!this.open_) throw new Error('memory engine is not open');
  }

  async get(key: Buffer): Promise<Buffer | undefined> {
    this.check();
    return this.map.get(key.toString('latin1'))?.value;
  }

  async getMany(keys: readonly Buffer[]): Promise<(Buffer | undefined)[]> {
    this.check();
    return keys.map((k) => this.map.get(k.toString('latin1'))?.value);
  }

  async write(ops: readonly WriteOp[], _options: { sync: boolean }): Promise<void> {
    this.check();
    for (const op of ops) {
      const id = op.key.toString('latin1');
      if (op.type === 'put') {
        if (!this.map.has(id)) this.sorted = undefined;
        this.map.set(id, { key: Buffer.from(op.key), value: Buffer.from(op.value) });
      } else if (this.map.delete(id)) {
        this.sorted = undefined;
      }
    }
  }

  private keys(): string[] {
    // latin1 strings compare by code unit, which is byte order: memcmp order.
    this.sorted ??= [...this.map.keys()].sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
    return this.sorted;
  }

  async range(options: RangeOptions): Promise<Array<[Buffer, Buffer]>> {
    this.check();
    const keys = this.keys();
    const gte = options.gte?.toString('latin1');
    const lt = options.lt?.toString('latin1');
    let lo = 0;
    let hi = keys.length;
    if (gte !== undefined) {
      while (lo < hi) {
        const mid = (lo + hi) >> 1;
        if ((keys[mid] as string) < gte) lo = mid + 1;
        else hi = mid;
      }
    }
    const out: Array<[Buffer, Buffer]> = [];
    for (let i = lo; i < keys.length && out.length < options.limit; i++) {
      const id = keys[i] as string;
      if (lt !== undefined && id >= lt) break;
      const entry = this.map.get(id) as { key: Buffer; value: Buffer };
      out.push([Buffer.from(entry.key), options.keysOnly ? Buffer.alloc(0) : Buffer.from(entry.value)]);
    }
    return out;
  }

  async deleteRange(gte: Buffer, lt: Buffer): Promise<void> {
    this.check();
    const lo = gte.toString('latin1');
    const hi = lt.toString('latin1');
    for (const id of [...this.map.keys()]) if (id >= lo && id < hi) this.map.delete(id);
    this.sorted = undefined;
  }
}
