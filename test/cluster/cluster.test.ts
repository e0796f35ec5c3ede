/**
 * A real four-member cluster (N=3, R=2, W=2): separate `dynis node` processes, real TCP
 * between them, real RocksDB. Placement, any-node access, multi-key fan-out, cluster-wide
 * SCAN, siblings and their collapse, no lost updates through one coordinator, read repair,
 * quorum errors, and a peer port that refuses what it should.
 */
import { spawnSync } from 'node:child_process';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Redis } from 'ioredis';
import { startCluster, type TestCluster } from '../helpers/cluster.js';
import { RawClient } from '../helpers/raw-client.js';
import { encodeSiblingSet } from '../../src/versions/sibling-set.js';
import { helloArgs, newNonce } from '../../src/peer/messages.js';
import { peerHandshake, TEST_RING } from '../helpers/peer.js';

let cluster: TestCluster;
let clients: Redis[];

beforeAll(async () => {
  cluster = await startCluster({ nodes: 4, args: ['--n', '3', '--r', '2', '--w', '2', '--fsync', 'no', '--peer-timeout', '500'] });
  clients = cluster.members.map((_, i) => cluster.client(i));
}, 60_000);

afterAll(async () => {
  await cluster?.stop();
});

interface KeyInfo {
  partition: number;
  preferenceList: string[];
  replica: number;
  stored: number;
  siblings: number;
  live: number;
}

async function keyInfo(node: number, key: string): Promise<KeyInfo> {
  const flat = (await (clients[node] as Redis).call('DYN.KEYINFO', key)) as unknown[];
  const m = new Map<string, unknown>();
  for (let i = 0; i < flat.length; i += 2) m.set(String(flat[i]), flat[i + 1]);
  return {
    partition: Number(m.get('partition')),
    preferenceList: (m.get('preference-list') as string[]).map(String),
    replica: Number(m.get('replica')),
    stored: Number(m.get('stored')),
    siblings: Number(m.get('siblings')),
    live: Number(m.get('live')),
  };
}

async function eventually(check: () => Promise<boolean>, what: string, timeoutMs = 5000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

/** A key whose preference list does not include member `exclude` and does include `include`. */
async function keyPlacedOn(prefix: string, include: number, exclude: number): Promise<string> {
  for (let i = 0; i < 10_000; i++) {
    const key = `${prefix}:${i}`;
    const info = await keyInfo(0, key);
    const ids = info.preferenceList;
    if (ids.includes(cluster.members[include]!.id) && !ids.includes(cluster.members[exclude]!.id)) return key;
  }
  throw new Error('no such key');
}

describe('a 4-member cluster, N=3 R=2 W=2', () => {
  it('stores every key on exactly the N members its preference list names', async () => {
    const keys = Array.from({ length: 120 }, (_, i) => `placed:${i}`);
    await Promise.all(keys.map((k, i) => clients[i % 4]!.set(k, `v${i}`)));
    for (const key of keys) {
      const infos = await Promise.all(cluster.members.map((_, n) => keyInfo(n, key)));
      const pref = infos[0]!.preferenceList;
      expect(pref).toHaveLength(3);
      expect(new Set(pref).size).toBe(3);
      for (const [n, info] of infos.entries()) {
        expect(info.preferenceList).toEqual(pref);
        const isReplica = pref.includes(cluster.members[n]!.id);
        expect(info.replica).toBe(isReplica ? 1 : 0);
        expect(info.stored, `${key} on member ${n}`).toBe(isReplica ? 1 : 0);
      }
    }
  });

  it('serves the same data through every member, to ioredis and redis-cli', async () => {
    await clients[1]!.set('shared', 'from-1');
    for (const c of clients) expect(await c.get('shared')).toBe('from-1');
    for (const m of cluster.members) {
      const out = spawnSync('redis-cli', ['-p', String(m.port), 'GET', 'shared'], { encoding: 'utf8' });
      expect(out.stdout.trim()).toBe('from-1');
    }
    const set = spawnSync('redis-cli', ['-p', String(cluster.members[3]!.port), 'SET', 'cli-key', 'cli-value', 'EX', '100'], { encoding: 'utf8' });
    expect(set.stdout.trim()).toBe('OK');
    for (const c of clients) {
      expect(await c.get('cli-key')).toBe('cli-value');
      expect(await c.ttl('cli-key')).toBeGreaterThan(90);
    }
    // Writes that depend on the current value see it wherever they are sent.
    for (const c of clients) await c.incr('counter');
    expect(await clients[2]!.get('counter')).toBe('4');
    expect(await clients[0]!.append('counter', '0')).toBe(2);
    expect(await clients[3]!.getdel('counter')).toBe('40');
    expect(await clients[1]!.exists('counter')).toBe(0);
  });

  it('fans multi-key commands out per key and assembles replies in order', async () => {
    const pairs: string[] = [];
    for (let i = 0; i < 40; i++) pairs.push(`multi:${i}`, `m${i}`);
    expect(await clients[0]!.mset(...pairs)).toBe('OK');
    const keys = pairs.filter((_, i) => i % 2 === 0);
    expect(await clients[2]!.mget(...keys, 'multi:absent')).toEqual([...keys.map((_, i) => `m${i}`), null]);
    expect(await clients[3]!.exists(...keys, 'multi:absent')).toBe(40);
    expect(await clients[1]!.msetnx('multi:0', 'x', 'multi:new', 'y')).toBe(0);
    expect(await clients[1]!.msetnx('multi:new1', 'x', 'multi:new2', 'y')).toBe(1);
    expect(await clients[1]!.del(...keys, 'multi:absent')).toBe(40);
    expect(await clients[1]!.unlink('multi:new1', 'multi:new2')).toBe(2);
    expect(await clients[0]!.mget(...keys.slice(0, 3))).toEqual([null, null, null]);
  });

  it('SCAN, KEYS and DBSIZE see the whole cluster; FLUSHALL empties it', async () => {
    await clients[0]!.flushall();
    const keys = Array.from({ length: 300 }, (_, i) => `scan:{${i % 37}}:${i}`);
    await clients[3]!.mset(...keys.flatMap((k) => [k, 'x']));
    for (const c of clients) {
      const seen = new Set<string>();
      let cursor = '0';
      let calls = 0;
      do {
        const [next, batch] = await c.scan(cursor, 'COUNT', 25);
        for (const k of batch) seen.add(k);
        cursor = next;
        calls++;
      } while (cursor !== '0' && calls < 10_000);
      expect(seen.size).toBe(300);
      expect(await c.dbsize()).toBe(300);
      expect((await c.keys('scan:*')).length).toBe(300);
    }
    expect(await clients[2]!.flushall()).toBe('OK');
    for (const c of clients) expect(await c.dbsize()).toBe(0);
  });

  it('concurrent VSETs with one context through two members become siblings; a merged VSET collapses them', async () => {
    const [ctx0] = (await clients[0]!.call('VGET', 'doc')) as [string, string[]];
    await Promise.all([clients[0]!.call('VSET', 'doc', ctx0, 'alice'), clients[1]!.call('VSET', 'doc', ctx0, 'bob')]);
    const winners = new Set<string | null>();
    for (const c of clients) {
      const [, values] = (await c.call('VGET', 'doc')) as [string, string[]];
      expect([...values].sort()).toEqual(['alice', 'bob']);
      winners.add(await c.get('doc'));
    }
    // GET resolves siblings by last-writer-wins, the same way on every member.
    expect(winners.size).toBe(1);
    const [merged] = (await clients[2]!.call('VGET', 'doc')) as [string, string[]];
    await clients[3]!.call('VSET', 'doc', merged, 'carol');
    for (const c of clients) {
      const [, values] = (await c.call('VGET', 'doc', 'R', '3')) as [string, string[]];
      expect(values).toEqual(['carol']);
    }
  });

  it('never loses a write when two clients interleave VGET/VSET through the same member', async () => {
    const a = cluster.client(0);
    const b = cluster.client(0);
    const written: string[] = [];
    const worker = async (c: Redis, name: string): Promise<void> => {
      for (let i = 0; i < 25; i++) {
        const [ctx, values] = (await c.call('VGET', 'shopping')) as [string, string[]];
        const items = new Set(values.flatMap((v) => v.split(',').filter((x) => x !== '')));
        const item = `${name}${i}`;
        items.add(item);
        written.push(item);
        await c.call('VSET', 'shopping', ctx, [...items].sort().join(','));
      }
    };
    await Promise.all([worker(a, 'a'), worker(b, 'b')]);
    const [, values] = (await clients[2]!.call('VGET', 'shopping')) as [string, string[]];
    const union = new Set(values.flatMap((v) => v.split(',')));
    for (const item of written) expect(union.has(item), `lost ${item}`).toBe(true);
  });

  it('repairs a stale replica on read', async () => {
    // Make one replica stale by hand: a newer version goes to two replicas through the peer
    // port (as a coordinator would), the third keeps the old one.
    const key = 'repair:1';
    await clients[0]!.set(key, 'old');
    const info = await keyInfo(0, key);
    const [fresh1, fresh2, stale] = info.preferenceList.map((id) => cluster.members.findIndex((m) => m.id === id)) as [number, number, number];
    const newer = [{ actor: 'tester.1', counter: 1, past: new Map<string, number>(), value: Buffer.from('new'), ts: Date.now() + 1000, expireAt: 0 }];
    for (const i of [fresh1, fresh2]) {
      const peer = await RawClient.connect(cluster.members[i]!.peerPort);
      try {
        expect((await peerHandshake(peer)).auth).toBe('+OK\r\n');
        expect((await peer.command('DYN.WRITE', String(info.partition), key, encodeSiblingSet(newer))).toString()).toBe(':1\r\n');
      } finally {
        peer.close();
      }
    }
    expect((await keyInfo(stale, key)).siblings).toBe(1);
    // Both versions are concurrent, so the repaired replica holds both as siblings.
    const [, values] = (await clients[stale]!.call('VGET', key, 'R', '3')) as [string, string[]];
    expect([...values].sort()).toEqual(['new', 'old']);
    await eventually(async () => (await keyInfo(stale, key)).siblings === 2, 'read repair of the stale replica');
  });

  it('sloppy quorum: with two primaries down a write succeeds through the fallback, and hints bring them up to date', async () => {
    const key = await keyPlacedOn('sloppy', 1, 0);
    const pref = (await keyInfo(0, key)).preferenceList;
    const down = pref.filter((id) => id !== cluster.members[1]!.id).map((id) => cluster.members.findIndex((m) => m.id === id));
    for (const i of down) await cluster.kill9(i);
    await eventually(async () => Number(/peers_up:(\d+)/.exec(await clients[1]!.info('ring'))?.[1]) === 3 - down.length, 'member 1 to notice');
    // Member 0 is not a primary of the key: it stands in for one of the dead ones (W = 2 met).
    expect(await clients[1]!.set(key, 'while-down')).toBe('OK');
    expect(await clients[0]!.get(key)).toBe('while-down');
    expect((await keyInfo(0, key)).stored).toBe(0); // a hint, not a replica
    for (const i of down) await cluster.start(i);
    await cluster.ready();
    for (const i of down) clients[i] = cluster.client(i);
    // Handoff, not a read, brings the returning primaries up to date.
    for (const i of down) await eventually(async () => (await keyInfo(i, key)).live === 1, `hint delivery to member ${i}`, 10_000);
    expect(Number(/hints_pending:(\d+)/.exec(await clients[0]!.info('ring'))?.[1])).toBe(0);
  });

  it('answers NOQUORUM when too few replicas answer, never a silent success', async () => {
    const key = await keyPlacedOn('quorum', 1, 0);
    const down = [0, 2, 3];
    for (const i of down) await cluster.kill9(i);
    await eventually(async () => Number(/peers_up:(\d+)/.exec(await clients[1]!.info('ring'))?.[1]) === 0, 'member 1 to notice');
    await expect(clients[1]!.set(key, 'x')).rejects.toThrow(/^NOQUORUM 1 of 2 required replicas answered \(write\)/);
    await expect(clients[1]!.get(key)).rejects.toThrow(/^NOQUORUM 1 of 2 required replicas answered \(read\)/);
    // W=1 and R=1 per request still work: a node alone serves its own replica.
    expect(await clients[1]!.call('VSET', key, '', 'one', 'W', '1')).toBe('OK');
    expect(((await clients[1]!.call('VGET', key, 'R', '1')) as [string, string[]])[1]).toContain('one');
    for (const i of down) await cluster.start(i);
    await cluster.ready();
    for (const i of down) clients[i] = cluster.client(i);
  });

  it('peer port: handshake first, mismatches refused, malformed messages fail only that request', async () => {
    const peer = await RawClient.connect(cluster.members[0]!.peerPort);
    try {
      expect((await peer.command('PING')).toString()).toBe('+PONG\r\n');
      expect((await peer.command('DYN.READ', '0', 'k')).toString()).toMatch(/^-NOHANDSHAKE/);
      const hello = (ring: Partial<typeof TEST_RING>): Promise<Buffer> => peer.command('DYN.HELLO', ...helloArgs({ ...TEST_RING, ...ring }, 'tester:1', newNonce()));
      expect((await hello({ clusterName: 'other' })).toString()).toMatch(/^-HANDSHAKE cluster name mismatch/);
      expect((await hello({ partitions: 128 })).toString()).toMatch(/^-HANDSHAKE ring settings mismatch/);
      expect((await peer.command('DYN.AUTH', '-')).toString()).toMatch(/^-HANDSHAKE DYN.AUTH before DYN.HELLO/);
      expect((await hello({})).toString()).toMatch(/^\*5\r\n/);
      expect((await peer.command('DYN.READ', '0', 'k')).toString()).toMatch(/^-NOHANDSHAKE/); // HELLO alone is not enough
      expect((await peerHandshake(peer)).auth).toBe('+OK\r\n');
      expect((await peer.command('DYN.WRITE', '0', 'k', 'garbage')).toString()).toMatch(/^-ERR (malformed sibling set|key belongs)/);
      expect((await peer.command('DYN.READ', '99999', 'k')).toString()).toMatch(/^-ERR partition 99999 out of range/);
      expect((await peer.command('DYN.NOPE')).toString()).toMatch(/^-ERR unknown command/);
      expect((await peer.command('DYN.FWD', '2', 'CONFIG', 'SET', 'x', 'y')).toString()).toMatch(/^-ERR DYN.FWD only carries single-key writes/);
      expect((await peer.command('PING')).toString()).toBe('+PONG\r\n');
    } finally {
      peer.close();
    }
    expect(await clients[0]!.ping()).toBe('PONG');
    expect(Number(/peer_messages_malformed:(\d+)/.exec(await clients[0]!.info('ring'))?.[1])).toBeGreaterThanOrEqual(2);
    expect(Number(/peer_handshakes_refused:(\d+)/.exec(await clients[0]!.info('ring'))?.[1])).toBeGreaterThanOrEqual(3);
    expect(cluster.output(0)).toMatch(/refused a peer handshake from 127\.0\.0\.1:\d+: cluster name mismatch/);
  });

  it('refuses to start a data directory with other ring settings', async () => {
    const m = cluster.members[3]!;
    await m.proc?.stop();
    const out = spawnSync(
      process.execPath,
      ['bin/dynis.js', 'node', '--port', String(m.port), '--peer-port', String(m.peerPort), '--dir', m.dir, '--seeds', cluster.members.map((x) => x.id).join(','), '--partitions', '128'],
      { encoding: 'utf8', timeout: 20_000 },
    );
    expect(out.status).not.toBe(0);
    expect(out.stderr + out.stdout).toMatch(/created with partitions=256/);
    await cluster.start(3);
    await cluster.ready();
    clients[3] = cluster.client(3);
  });
});
