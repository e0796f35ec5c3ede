/**
 * Hostile clients and peers against live processes: many half-sent requests (slowloris), a
 * client that pipelines big replies and never reads, and random and mutated messages at a
 * peer port, before and after a valid handshake. Afterwards every node answers on both ports,
 * bystanders were not disturbed, data written before is intact, and memory stayed bounded
 * (resident set size read from /proc).
 */
import { readFileSync } from 'node:fs';
import { connect, type Socket } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { Redis } from 'ioredis';
import { startCluster, type TestCluster } from '../helpers/cluster.js';
import { peerHandshake } from '../helpers/peer.js';
import { startDynis, type RunningProcess } from '../helpers/processes.js';
import { encodeCommand, RawClient } from '../helpers/raw-client.js';

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** Resident set size now, or at its peak so far (VmHWM), in MiB. */
function rssMiB(pid: number, which: 'VmRSS' | 'VmHWM' = 'VmRSS'): number {
  const m = new RegExp(`${which}:\\s+(\\d+) kB`).exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return m ? Number(m[1]) / 1024 : 0;
}

function open(port: number): Promise<Socket> {
  return new Promise((resolve, reject) => {
    const s = connect({ port, host: '127.0.0.1' }, () => resolve(s));
    s.on('error', reject);
  });
}

describe('slow and greedy clients', () => {
  let node: RunningProcess;
  beforeAll(async () => {
    node = await startDynis(['--timeout', '2', '--maxclients', '64', '--fsync', 'no']);
  });
  afterAll(async () => {
    await node?.stop();
  });

  it('slowloris: half-sent requests cost little, clients beyond maxclients are refused, idle ones are dropped', async () => {
    const seed = new Redis({ port: node.port });
    await seed.set('abuse:keep', 'intact');
    seed.disconnect();
    const before = rssMiB(node.child.pid as number);
    const sockets: Socket[] = [];
    const refused: string[] = [];
    const closedAt: number[] = [];
    const started = Date.now();
    for (let i = 0; i < 120; i++) {
      const s = await open(node.port);
      s.on('error', () => undefined);
      s.on('data', (d: Buffer) => refused.push(d.toString()));
      s.on('close', () => closedAt.push(Date.now() - started));
      // A SET whose declared 1 MB value never arrives: the node must not reserve it.
      s.write('*3\r\n$3\r\nSET\r\n$4\r\nslow\r\n$1000000\r\nabc');
      sockets.push(s);
    }
    await sleep(500);
    expect(refused.filter((r) => r === '-ERR max number of clients reached\r\n').length).toBeGreaterThanOrEqual(120 - 64);
    expect(rssMiB(node.child.pid as number) - before).toBeLessThan(64);
    // The idle timeout (2 s) frees every slot; then the node serves normally.
    await sleep(3500);
    expect(closedAt.length).toBe(120);
    const fresh = new Redis({ port: node.port });
    expect(await fresh.get('abuse:keep')).toBe('intact');
    fresh.disconnect();
    for (const s of sockets) s.destroy();
  });

  it('a client that pipelines big replies and never reads is held to the output limit; others are served', async () => {
    const admin = new Redis({ port: node.port });
    await admin.set('abuse:big', Buffer.alloc(1024 * 1024, 'x'));
    await admin.get('abuse:big');
    const before = rssMiB(node.child.pid as number, 'VmHWM');
    const greedy = await open(node.port);
    greedy.on('error', () => undefined);
    greedy.pause(); // never reads
    const burst = Buffer.concat(Array.from({ length: 2000 }, () => encodeCommand(['GET', 'abuse:big'])));
    greedy.write(burst); // 2000 replies of 1 MiB would be 2 GiB
    for (let i = 0; i < 10; i++) {
      await sleep(150);
      expect(await admin.ping()).toBe('PONG'); // the bystander is served throughout
    }
    // The peak, not just the current size: the replies must never have been built.
    const grown = rssMiB(node.child.pid as number, 'VmHWM') - before;
    expect(grown).toBeLessThan(100);
    expect(greedy.destroyed).toBe(false); // held back by backpressure, not dropped after the fact
    const list = (await admin.client('LIST')) as string;
    const omem = Number(/omem=(\d+)/.exec(list.split('\n').find((l) => !l.includes('cmd=client')) ?? '')?.[1] ?? 0);
    expect(omem).toBeLessThan(16 * 1024 * 1024);
    greedy.destroy();
    admin.disconnect();
  });
});

describe('hostile peer messages', () => {
  let cluster: TestCluster;
  beforeAll(async () => {
    cluster = await startCluster({ nodes: 2, args: ['--n', '2', '--r', '1', '--w', '2', '--fsync', 'no'] });
  }, 60_000);
  afterAll(async () => {
    await cluster?.stop();
  });

  const ring = { clusterName: 'dynis', partitions: 256, scheme: 'redis-slot', n: 2 };
  const word = fc.oneof(
    fc.constantFrom('0', '1', '255', '256', '-1', '99999999999', '', 'k', 'x'.repeat(300), '127.0.0.1:1'),
    fc.uint8Array({ maxLength: 64 }).map((a) => Buffer.from(a).toString('latin1')),
  );
  const peerCommand = fc.tuple(
    fc.constantFrom('DYN.READ', 'DYN.WRITE', 'DYN.HINT', 'DYN.SCAN', 'DYN.AETREE', 'DYN.REAP', 'DYN.GOSSIP', 'DYN.FWD', 'DYN.PING', 'DYN.NOPE', 'DYN.HELLO', 'DYN.AUTH'),
    fc.array(word, { maxLength: 5 }),
  );

  it('random bytes before the handshake and random DYN.* after it fail only their own request', async () => {
    const client = cluster.client(0);
    await client.set('peerfuzz:keep', 'intact');
    const port = cluster.members[0]!.peerPort;
    const pid = cluster.members[0]!.proc!.child.pid as number;
    const before = rssMiB(pid);
    // Unauthenticated: junk and commands that need the handshake.
    await fc.assert(
      fc.asyncProperty(fc.oneof(fc.uint8Array({ maxLength: 200 }).map((a) => Buffer.from(a)), peerCommand.map(([c, a]) => encodeCommand([c, ...a]))), async (bytes) => {
        const s = await open(port);
        s.on('error', () => undefined);
        s.on('data', () => undefined);
        s.write(bytes);
        await sleep(2);
        s.destroy();
      }),
      { numRuns: 150 },
    );
    // After a valid handshake: well-framed commands with random arguments.
    const peer = await RawClient.connect(port);
    try {
      expect((await peerHandshake(peer, { ring })).auth).toBe('+OK\r\n');
      await fc.assert(
        fc.asyncProperty(peerCommand, async ([command, args]) => {
          if (command === 'DYN.HELLO' || command === 'DYN.AUTH') return; // would restart the handshake
          const reply = (await peer.command(command, ...args)).toString('latin1');
          expect(reply).toMatch(/^[-+:$*]/);
        }),
        { numRuns: 300 },
      );
      expect((await peer.command('DYN.PING')).toString()).toBe('+PONG\r\n');
    } finally {
      peer.close();
    }
    expect(await client.ping()).toBe('PONG');
    expect(await cluster.client(1).get('peerfuzz:keep')).toBe('intact');
    expect(Number(/peer_messages_malformed:(\d+)/.exec(await client.info('ring'))?.[1])).toBeGreaterThan(0);
    expect(rssMiB(pid) - before).toBeLessThan(100);
    // The members still talk to each other.
    expect(await client.set('peerfuzz:after', 'ok')).toBe('OK');
    expect(await cluster.client(1).call('VGET', 'peerfuzz:after', 'R', '2')).toEqual([expect.any(String), ['ok']]);
  }, 60_000);
});
