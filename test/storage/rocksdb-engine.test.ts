/**
 * RocksDbEngine: the conformance suite on a fresh temporary directory per test, plus what only
 * a real database has (directories, locks, options, properties, closing with work in flight).
 */
import { mkdtempSync, rmSync, existsSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { RocksDbEngine } from '../../src/storage/rocksdb-engine.js';
import { storageConformance } from './conformance.js';

const tempDir = (): string => mkdtempSync(path.join(os.tmpdir(), 'dynis-rocks-'));

storageConformance('rocksdb', { persistent: true }, async () => {
  const dir = tempDir();
  // Small buffers: many tests open databases, and the defaults are sized for production.
  const options = { cacheSizeBytes: 8 * 1024 * 1024, writeBufferSizeBytes: 4 * 1024 * 1024 };
  return {
    engine: new RocksDbEngine(dir, options),
    reopen: async () => new RocksDbEngine(dir, options),
    cleanup: async () => rmSync(dir, { recursive: true, force: true }),
  };
});

describe('RocksDbEngine', () => {
  let dir: string;
  const engines: RocksDbEngine[] = [];
  const track = (e: RocksDbEngine): RocksDbEngine => (engines.push(e), e);

  beforeEach(() => {
    dir = tempDir();
  });

  afterEach(async () => {
    for (const e of engines.splice(0)) await e.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('claims persistence and durable sync', () => {
    expect(new RocksDbEngine(dir).supports).toEqual({ persistent: true, durableSync: true });
  });

  it('creates missing parent directories on open', async () => {
    const nested = path.join(dir, 'a', 'b', 'db');
    const engine = track(new RocksDbEngine(nested));
    await engine.open();
    expect(existsSync(path.join(nested, 'CURRENT'))).toBe(true);
  });

  it('wraps RocksDB errors with the operation and the location', async () => {
    const first = track(new RocksDbEngine(dir));
    await first.open();
    // RocksDB holds a LOCK file: a second open of the same directory fails.
    const second = track(new RocksDbEngine(dir));
    const failure = await second.open().then(
      () => undefined,
      (err: unknown) => err,
    );
    expect(failure).toBeInstanceOf(Error);
    expect((failure as Error).message).toContain(dir);
    expect((failure as Error).message).toMatch(/rocksdb open failed/);
    expect((failure as Error).cause).toBeInstanceOf(Error);
    // The failed instance stays closed and harmless to close.
    await second.close();
    await expect(second.get(Buffer.from('k'))).rejects.toThrow(/not open/);
  });

  it('names the location when used while closed', async () => {
    const engine = new RocksDbEngine(dir);
    await expect(engine.get(Buffer.from('k'))).rejects.toThrow(dir);
  });

  it('opens once when open() is called concurrently, and closes once when close() is', async () => {
    const engine = track(new RocksDbEngine(dir));
    await Promise.all([engine.open(), engine.open(), engine.open()]);
    await engine.write([{ type: 'put', key: Buffer.from('k'), value: Buffer.from('v') }], { sync: true });
    await Promise.all([engine.close(), engine.close()]);
    await engine.open();
    expect((await engine.get(Buffer.from('k')))?.toString()).toBe('v');
  });

  it('finishes reads and writes in flight when closed', async () => {
    const engine = track(new RocksDbEngine(dir));
    await engine.open();
    const ops = Array.from({ length: 1000 }, (_, i) => ({ type: 'put' as const, key: Buffer.from(`k${i}`), value: Buffer.alloc(100, i) }));
    const writing = engine.write(ops, { sync: false });
    const closing = engine.close();
    await writing;
    await closing;
    await engine.open();
    expect((await engine.range({ limit: 10_000, keysOnly: true })).length).toBe(1000);
  });

  it('rejects invalid options at construction', () => {
    expect(() => new RocksDbEngine(dir, { cacheSizeBytes: -1 })).toThrow(RangeError);
    expect(() => new RocksDbEngine(dir, { writeBufferSizeBytes: 2 ** 33 })).toThrow(RangeError);
    expect(() => new RocksDbEngine(dir, { cacheSizeBytes: 1.5 })).toThrow(RangeError);
  });

  it('reports RocksDB properties while open', async () => {
    const engine = track(new RocksDbEngine(dir));
    expect(engine.property('rocksdb.estimate-num-keys')).toBeUndefined();
    await engine.open();
    await engine.write([{ type: 'put', key: Buffer.from('k'), value: Buffer.from('v') }], { sync: false });
    expect(engine.property('rocksdb.estimate-num-keys')).toMatch(/^\d+$/);
    expect(engine.property('no.such.property')).toBeUndefined();
  });

  it('scans 50k entries in one range call', async () => {
    const engine = track(new RocksDbEngine(dir));
    await engine.open();
    for (let i = 0; i < 50_000; i += 5000) {
      const ops = [];
      for (let j = i; j < i + 5000; j++) ops.push({ type: 'put' as const, key: Buffer.from(`s${String(j).padStart(6, '0')}`), value: Buffer.alloc(20, j & 0xff) });
      await engine.write(ops, { sync: false });
    }
    const rows = await engine.range({ gte: Buffer.from('s'), lt: Buffer.from('t'), limit: 100_000 });
    expect(rows.length).toBe(50_000);
    expect(rows[49_999]?.[0].toString()).toBe('s049999');
    expect(rows[12_345]?.[1].equals(Buffer.alloc(20, 12_345 & 0xff))).toBe(true);
  });
});
