import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { MemoryEngine } from '../../src/storage/memory-engine.js';
import { RocksDbEngine } from '../../src/storage/rocksdb-engine.js';
import { storageConformance } from './conformance.js';

storageConformance('memory', { persistent: false }, async () => ({ engine: new MemoryEngine(), cleanup: async () => undefined }));

storageConformance('rocksdb', { persistent: true }, async () => {
  const dir = mkdtempSync(path.join(tmpdir(), 'dynis-rocks-'));
  return {
    engine: new RocksDbEngine(dir),
    reopen: async () => new RocksDbEngine(dir),
    cleanup: async () => rmSync(dir, { recursive: true, force: true }),
  };
});
