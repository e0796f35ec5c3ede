/**
 * Hostile bytes at a live node: random and mutated RESP, split at random points, each on its
 * own connection. Afterwards the node answers PING, a client that was connected throughout
 * was not disturbed, and data written before is intact.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { connect } from 'node:net';
import { Redis as IORedis } from 'ioredis';
import { encodeCommand } from '../helpers/raw-client.js';
import { startDynis, type RunningProcess } from '../helpers/processes.js';

let node: RunningProcess;

beforeAll(async () => {
  node = await startDynis();
});
afterAll(async () => {
  await node?.stop();
});

/** Send chunks with small pauses, then wait for the server to close or a short while. */
function sendJunk(port: number, chunks: Buffer[]): Promise<void> {
  return new Promise((resolve) => {
    const s = connect({ port, host: '127.0.0.1' });
    s.on('error', () => undefined);
    s.on('data', () => undefined);
    const done = (): void => {
      s.destroy();
      resolve();
    };
    s.once('close', done);
    s.on('connect', async () => {
      for (const c of chunks) {
        if (s.destroyed) break;
        s.write(c);
        await new Promise((r) => setImmediate(r));
      }
      setTimeout(done, 20);
    });
  });
}

const validCommand = fc
  .array(fc.oneof(fc.constantFrom('SET', 'GET', 'PING', 'DEL', 'VGET', 'INCR', 'EXPIRE'), fc.string({ maxLength: 8 })), {
    minLength: 1,
    maxLength: 5,
  })
  .map((args) => encodeCommand(args));

const mutated = fc
  .tuple(validCommand, fc.array(fc.tuple(fc.nat(), fc.integer({ min: 0, max: 255 })), { maxLength: 4 }))
  .map(([buf, edits]) => {
    const b = Buffer.from(buf);
    for (const [pos, byte] of edits) b[pos % b.length] = byte;
    return b;
  });

const hostile = fc.oneof(
  fc.uint8Array({ maxLength: 200 }).map((a) => Buffer.from(a)),
  mutated,
  fc.constantFrom(
    '*99999999999\r\n',
    '*-5\r\n',
    '*2\r\n$-1\r\n',
    '$5\r\nhello\r\n',
    '*1\r\n*1\r\n*1\r\n$4\r\nPING\r\n',
    '*2\r\n$3\r\nGET\r\n$536870913\r\n',
    `${'A'.repeat(70000)}`,
    '*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$10\r\nshort\r\n',
  ).map((s) => Buffer.from(s)),
);

describe('fuzzing a live node', () => {
  it('survives random and mutated input; other clients are undisturbed', async () => {
    const bystander = new IORedis({ port: node.port, host: '127.0.0.1' });
    await bystander.set('fuzz:keep', 'intact');
    await fc.assert(
      fc.asyncProperty(hostile, fc.array(fc.nat(), { maxLength: 4 }), async (bytes, cuts) => {
        const points = [...new Set(cuts.map((c) => c % (bytes.length + 1)))].sort((a, b) => a - b);
        const chunks: Buffer[] = [];
        let prev = 0;
        for (const p of points) {
          chunks.push(bytes.subarray(prev, p));
          prev = p;
        }
        chunks.push(bytes.subarray(prev));
        await sendJunk(node.port, chunks.filter((c) => c.length > 0));
        expect(await bystander.ping()).toBe('PONG');
      }),
      { numRuns: 150 },
    );
    expect(await bystander.get('fuzz:keep')).toBe('intact');
    const fresh = new IORedis({ port: node.port, host: '127.0.0.1' });
    expect(await fresh.ping()).toBe('PONG');
    fresh.disconnect();
    bystander.disconnect();
  });
});
