/**
 * Forwarding a write to a replica of its key: a forward that never left this node moves to
 * the next replica (or runs here); one that may have reached its target is reported as
 * UNCERTAIN, never as TRYAGAIN (cluster clients retry TRYAGAIN by themselves, which would run
 * an INCR twice).
 */
import { describe, expect, it } from 'vitest';
import { DynisError } from '../../src/errors.js';
import type { KvService } from '../../src/replication/coordinator.js';
import { Router, type Forwarder } from '../../src/replication/router.js';
import { PeerUnavailableError } from '../../src/peer/peer-bus.js';
import { RawReply } from '../../src/resp/reply.js';
import { cmd, ONE_KEY } from '../../src/commands/table.js';
import type { CommandContext } from '../../src/commands/context.js';

const kv = { ring: { preferenceList: () => ['a', 'b', 'c'] }, partitionOf: () => 0 } as unknown as KvService;
const ctx = { client: { forwarded: false } } as unknown as CommandContext;
const incr = cmd('incr', 2, ['write'], ONE_KEY);
const args = [Buffer.from('INCR'), Buffer.from('k')];

function router(behaviour: Record<string, () => Promise<Buffer>>): { router: Router; calls: string[] } {
  const calls: string[] = [];
  const forwarder: Forwarder = {
    canForward: (m) => m in behaviour,
    forward: (m) => {
      calls.push(m);
      return (behaviour[m] as () => Promise<Buffer>)();
    },
  };
  return { router: new Router(kv, forwarder, 'self'), calls };
}

describe('router', () => {
  it('relays the first reachable replica’s reply byte for byte', async () => {
    const { router: r, calls } = router({ b: async () => Buffer.from(':1\r\n') });
    const reply = await r.route(ctx, incr, args, 2, () => 'here');
    expect(reply).toBeInstanceOf(RawReply);
    expect((reply as RawReply).bytes.toString()).toBe(':1\r\n');
    expect(calls).toEqual(['b']);
  });

  it('moves on when a forward was never sent, and runs here when no replica is left', async () => {
    const notSent = async (): Promise<Buffer> => {
      throw new PeerUnavailableError('a', 'is not reachable');
    };
    const { router: r, calls } = router({ a: notSent, c: async () => Buffer.from(':7\r\n') });
    expect(((await r.route(ctx, incr, args, 2, () => 'here')) as RawReply).bytes.toString()).toBe(':7\r\n');
    expect(calls).toEqual(['a', 'c']);
    const { router: alone } = router({ a: notSent });
    expect(await alone.route(ctx, incr, args, 2, () => 'here')).toBe('here');
  });

  it('answers UNCERTAIN, not TRYAGAIN, when a forward may have been applied', async () => {
    const { router: r, calls } = router({
      a: async () => {
        throw new Error('Command timed out');
      },
      b: async () => Buffer.from(':1\r\n'),
    });
    const reply = await r.route(ctx, incr, args, 2, () => 'here');
    expect(reply).toBeInstanceOf(DynisError);
    expect((reply as DynisError).toResp()).toBe('UNCERTAIN forwarding to replica a failed (Command timed out); the write may or may not have been applied');
    expect(calls).toEqual(['a']); // not sent again elsewhere
  });
});
