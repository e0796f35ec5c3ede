/**
 * Cluster-aware Redis clients against real dynis clusters (redis-slot scheme): CLUSTER SLOTS,
 * SHARDS, NODES, INFO, MYID, KEYSLOT, COUNTKEYSINSLOT, GETKEYSINSLOT and READONLY/READWRITE/
 * ASKING; ioredis 5 and 6 `Cluster`, node-redis 4 and 5 `createCluster` (RESP2 and RESP3) and
 * `redis-benchmark --cluster`, with per-node command counts showing that each key goes straight
 * to the first member of its preference list. Also: plain clients still work, a node alone
 * answers Redis's "cluster support disabled", and an md5 cluster refuses the slot map.
 */
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Cluster as Cluster6, Redis } from 'ioredis';
import { Cluster as Cluster5 } from 'ioredis5';
import { createCluster as createCluster5 } from 'redis';
import { createCluster as createCluster4 } from 'redis4';
import { startCluster, type TestCluster } from '../helpers/cluster.js';
import { haveRedisServer, startDynis, startRedis, type RunningProcess } from '../helpers/processes.js';

const SLOTS = 16384;
const ARGS = ['--n', '3', '--r', '2', '--w', '2', '--fsync', 'no'];

type Node = [host: string, port: number, id: string, meta: unknown];
type SlotEntry = [start: number, end: number, master: Node, ...replicas: Node[]];

const sha1 = (s: string): string => createHash('sha1').update(s).digest('hex');

async function eventually(check: () => Promise<boolean>, what: string, timeoutMs = 15_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

function infoFields(text: string): Map<string, string> {
  return new Map(
    text
      .split('\r\n')
      .filter((l) => l.includes(':'))
      .map((l) => [l.slice(0, l.indexOf(':')), l.slice(l.indexOf(':') + 1)] as [string, string]),
  );
}

/** Wait until every member knows every other's client port and serves the same full slot map. */
async function slotMapReady(clients: Redis[], members: number): Promise<void> {
  await eventually(async () => {
    const maps: string[] = [];
    for (const c of clients) {
      const info = infoFields((await c.call('CLUSTER', 'INFO')) as string);
      if (info.get('cluster_state') !== 'ok' || info.get('cluster_known_nodes') !== String(members) || info.get('cluster_slots_ok') !== String(SLOTS)) return false;
      const slots = (await c.call('CLUSTER', 'SLOTS')) as SlotEntry[];
      if (slots.some((e) => e.length !== 2 + Math.min(3, members))) return false;
      maps.push(JSON.stringify(slots));
    }
    return maps.every((m) => m === maps[0]);
  }, 'every member to serve the full slot map');
}

interface KeyInfo {
  partition: number;
  slot: number;
  preferenceList: string[];
}

async function keyInfo(c: Redis, key: string): Promise<KeyInfo> {
  const flat = (await c.call('DYN.KEYINFO', key)) as unknown[];
  const m = new Map<string, unknown>();
  for (let i = 0; i < flat.length; i += 2) m.set(String(flat[i]), flat[i + 1]);
  return { partition: Number(m.get('partition')), slot: Number(m.get('slot')), preferenceList: (m.get('preference-list') as string[]).map(String) };
}

/** total_commands_processed of every member (each INFO counts once on its own member). */
async function commandCounts(clients: Redis[]): Promise<number[]> {
  return Promise.all(clients.map(async (c) => Number(/total_commands_processed:(\d+)/.exec(await c.info('stats'))?.[1])));
}

/** The member index that coordinates each key (the head of its preference list). */
async function heads(cluster: TestCluster, clients: Redis[], keys: string[]): Promise<number[]> {
  return Promise.all(
    keys.map(async (k) => {
      const head = (await keyInfo(clients[0] as Redis, k)).preferenceList[0];
      return cluster.members.findIndex((m) => m.id === head);
    }),
  );
}

/**
 * Send `send(key)` for every key through a cluster client and check that each member received
 * exactly the commands for the keys it coordinates (plus the second INFO snapshot and at most a
 * few topology refreshes): the client routed every key to its preference-list head.
 */
async function expectRoutedToHeads(cluster: TestCluster, clients: Redis[], keys: string[], send: (key: string) => Promise<unknown>): Promise<void> {
  const owner = await heads(cluster, clients, keys);
  const expected = cluster.members.map((_, i) => owner.filter((o) => o === i).length);
  for (const e of expected) expect(e).toBeGreaterThan(0);
  const before = await commandCounts(clients);
  await Promise.all(keys.map(send));
  const after = await commandCounts(clients);
  for (const [i, e] of expected.entries()) {
    const received = (after[i] as number) - (before[i] as number) - 1;
    expect(received, `member ${i}: ${received} commands for ${e} keys it coordinates`).toBeGreaterThanOrEqual(e);
    expect(received, `member ${i}: ${received} commands for ${e} keys it coordinates`).toBeLessThanOrEqual(e + 3);
  }
}

/** The slot map must cover every slot exactly once, and each range's nodes are its preference list. */
async function checkSlotMap(cluster: TestCluster, clients: Redis[], slots: SlotEntry[]): Promise<void> {
  const sorted = [...slots].sort((a, b) => a[0] - b[0]);
  let next = 0;
  for (const [start, end] of sorted) {
    expect(start).toBe(next);
    expect(end).toBeGreaterThanOrEqual(start);
    next = end + 1;
  }
  expect(next).toBe(SLOTS);
  const byPeer = new Map(cluster.members.map((m) => [m.id, m]));
  // Sample keys across the key space: each key's range lists its preference list in order.
  for (let i = 0; i < 300; i++) {
    const key = `map:${i}`;
    const info = await keyInfo(clients[i % clients.length] as Redis, key);
    const range = sorted.find(([s, e]) => s <= info.slot && info.slot <= e) as SlotEntry;
    const [, , ...nodes] = range;
    expect(nodes.map((n) => n[2])).toEqual(info.preferenceList.map(sha1));
    expect(nodes.map((n) => `${n[0]}:${n[1]}`)).toEqual(info.preferenceList.map((id) => `${byPeer.get(id)?.host}:${byPeer.get(id)?.port}`));
  }
  // Ranges start and end on partition boundaries (Q = 256: 64 slots each).
  for (const [start, end] of sorted) {
    expect(start % 64).toBe(0);
    expect((end + 1) % 64).toBe(0);
  }
}

describe('3 members, N=3 R=2 W=2', () => {
  let cluster: TestCluster;
  let clients: Redis[];

  beforeAll(async () => {
    cluster = await startCluster({ nodes: 3, args: ARGS });
    clients = cluster.members.map((_, i) => cluster.client(i));
    await slotMapReady(clients, 3);
  }, 60_000);

  afterAll(async () => {
    await cluster?.stop();
  });

  it('CLUSTER SLOTS covers every slot once; each range is its preference list, head first', async () => {
    const slots = (await clients[1]!.call('CLUSTER', 'SLOTS')) as SlotEntry[];
    await checkSlotMap(cluster, clients, slots);
    // Coordinators are spread: each member heads its share of the 256 partitions (85 or 86).
    const perMaster = new Map<string, number>();
    for (const [start, end, master] of slots) perMaster.set(master[2], (perMaster.get(master[2]) ?? 0) + end - start + 1);
    expect([...perMaster.keys()].sort()).toEqual(cluster.members.map((m) => sha1(m.id)).sort());
    for (const count of perMaster.values()) expect([85 * 64, 86 * 64]).toContain(count);
    // Each node entry is [ip, port, id, metadata]; the metadata is an empty map.
    for (const entry of slots) for (const node of entry.slice(2) as Node[]) expect(node[3]).toEqual([]);
  });

  it('CLUSTER KEYSLOT is Redis keyHashSlot, and agrees with DYN.KEYINFO', async () => {
    const c = clients[0]!;
    expect(await c.call('CLUSTER', 'KEYSLOT', 'foo')).toBe(12182);
    expect(await c.call('CLUSTER', 'KEYSLOT', '{user1000}.following')).toBe(await c.call('CLUSTER', 'KEYSLOT', '{user1000}.followers'));
    expect(await c.call('CLUSTER', 'KEYSLOT', '123456789')).toBe(0x31c3 % SLOTS);
    for (const key of ['foo', 'bar{baz}', 'x{}y']) expect(await c.call('CLUSTER', 'KEYSLOT', key)).toBe((await keyInfo(c, key)).slot);
    expect(await c.call('CLUSTER', 'MYID')).toBe(sha1(cluster.members[0]!.id));
  });

  it.skipIf(!haveRedisServer())('CLUSTER KEYSLOT matches a real redis-server on tricky keys', async () => {
    const redis: RunningProcess = await startRedis(['--cluster-enabled', 'yes', '--cluster-config-file', 'nodes.conf']);
    const real = new Redis({ port: redis.port, host: '127.0.0.1' });
    try {
      const keys: Array<string | Buffer> = ['', '{', '}', '{}', '{}a', 'a{}b', '{a', 'a}', '}{a}', 'foo{bar}{zap}', 'x{{y}}', '{{}}', 'ключ{тег}', Buffer.from([0xff, 0x00, 0x7b, 0x41, 0x7d])];
      for (let i = 0; i < 100; i++) keys.push(`k${i * 7919}:${'z'.repeat(i % 13)}{${i % 5 === 0 ? '' : i}}`);
      for (const key of keys) {
        expect(await clients[2]!.call('CLUSTER', 'KEYSLOT', key), String(key)).toBe(await real.call('CLUSTER', 'KEYSLOT', key));
      }
    } finally {
      real.disconnect();
      await redis.stop();
    }
  });

  it('CLUSTER NODES, SHARDS, INFO and MYID describe the same map', async () => {
    for (const [i, c] of clients.entries()) {
      const myid = (await c.call('CLUSTER', 'MYID')) as string;
      expect(myid).toMatch(/^[0-9a-f]{40}$/);
      expect(myid).toBe(sha1(cluster.members[i]!.id));

      const slots = (await c.call('CLUSTER', 'SLOTS')) as SlotEntry[];
      const masterOf = new Array<string>(SLOTS);
      for (const [start, end, master] of slots) for (let s = start; s <= end; s++) masterOf[s] = master[2];

      // NODES: `id ip:port@cport flags master ping pong epoch link slot…`, each line ending in \n.
      const text = (await c.call('CLUSTER', 'NODES')) as string;
      expect(text.endsWith('\n')).toBe(true);
      const lines = text.trimEnd().split('\n');
      expect(lines).toHaveLength(3);
      const fromNodes = new Array<string>(SLOTS);
      for (const line of lines) {
        const [id, addr, flags, master, , , epoch, link, ...ranges] = line.split(' ') as string[];
        const m = cluster.members.find((x) => sha1(x.id) === id);
        expect(m, line).toBeDefined();
        expect(addr).toBe(`${m!.host}:${m!.port}@${m!.peerPort}`);
        expect(flags).toBe(id === myid ? 'myself,master' : 'master');
        expect(master).toBe('-');
        expect(Number(epoch)).toBeGreaterThan(0);
        expect(link).toBe('connected');
        for (const r of ranges) {
          const [a, b = a] = r.split('-').map(Number) as [number, number?];
          for (let s = a; s <= (b as number); s++) {
            expect(fromNodes[s]).toBeUndefined();
            fromNodes[s] = id as string;
          }
        }
      }
      expect(fromNodes).toEqual(masterOf);

      // SHARDS: every slot once; the first node is the master of those slots, the rest replicas.
      const shards = (await c.call('CLUSTER', 'SHARDS')) as unknown[][];
      const fromShards = new Array<string>(SLOTS);
      for (const shard of shards) {
        expect(shard[0]).toBe('slots');
        expect(shard[2]).toBe('nodes');
        const ranges = shard[1] as number[];
        const nodes = (shard[3] as unknown[][]).map((flat) => {
          const o = new Map<string, unknown>();
          for (let k = 0; k < flat.length; k += 2) o.set(String(flat[k]), flat[k + 1]);
          return o;
        });
        expect(nodes).toHaveLength(3);
        expect(nodes.map((n) => n.get('role'))).toEqual(['master', 'replica', 'replica']);
        for (const n of nodes) {
          expect([...n.keys()]).toEqual(['id', 'port', 'ip', 'endpoint', 'role', 'replication-offset', 'health']);
          expect(n.get('health')).toBe('online');
          const m = cluster.members.find((x) => sha1(x.id) === n.get('id'));
          expect(n.get('port')).toBe(m?.port);
          expect(n.get('ip')).toBe(m?.host);
        }
        for (let k = 0; k < ranges.length; k += 2) {
          for (let s = ranges[k] as number; s <= (ranges[k + 1] as number); s++) {
            expect(fromShards[s]).toBeUndefined();
            fromShards[s] = nodes[0]!.get('id') as string;
          }
        }
      }
      expect(fromShards).toEqual(masterOf);

      const info = infoFields((await c.call('CLUSTER', 'INFO')) as string);
      expect(info.get('cluster_state')).toBe('ok');
      expect(info.get('cluster_slots_assigned')).toBe(String(SLOTS));
      expect(info.get('cluster_slots_pfail')).toBe('0');
      expect(info.get('cluster_known_nodes')).toBe('3');
      expect(info.get('cluster_size')).toBe('3');
    }
    // RESP3: INFO and NODES are verbatim text, SHARDS maps.
    const r3 = new Redis({ port: cluster.members[0]!.port, host: '127.0.0.1', protocol: 3 });
    try {
      expect(String(await r3.call('CLUSTER', 'INFO'))).toContain('cluster_state:ok');
      expect(String(await r3.call('CLUSTER', 'NODES'))).toContain('myself,master');
      expect(((await r3.call('CLUSTER', 'SLOTS')) as unknown[]).length).toBeGreaterThan(0);
      expect(((await r3.call('CLUSTER', 'SHARDS')) as unknown[]).length).toBeGreaterThan(0);
    } finally {
      r3.disconnect();
    }
  });

  it('READONLY, READWRITE and ASKING answer OK; unknown subcommands and wrong arity answer Redis errors', async () => {
    const c = clients[0]!;
    expect(await c.call('READONLY')).toBe('OK');
    expect(await c.call('READWRITE')).toBe('OK');
    expect(await c.call('ASKING')).toBe('OK');
    await expect(c.call('CLUSTER', 'ADDSLOTS', '1')).rejects.toThrow("ERR unknown subcommand 'ADDSLOTS'. Try CLUSTER HELP.");
    await expect(c.call('CLUSTER', 'KEYSLOT')).rejects.toThrow("ERR wrong number of arguments for 'cluster|keyslot' command");
    await expect(c.call('CLUSTER')).rejects.toThrow("ERR wrong number of arguments for 'cluster' command");
    expect(((await c.call('CLUSTER', 'HELP')) as string[])[0]).toMatch(/^CLUSTER <subcommand>/);
  });

  for (const [name, make] of [
    ['ioredis 6', (port: number) => new Cluster6([{ host: '127.0.0.1', port }])],
    ['ioredis 5', (port: number) => new Cluster5([{ host: '127.0.0.1', port }])],
  ] as const) {
    it(`${name} Cluster: SET/GET/MGET/DEL, each key sent straight to its coordinator`, async () => {
      const c = make(cluster.members[1]!.port);
      try {
        const tag = name.replace(' ', '');
        // Warm up: the client connects to every member on first use.
        await Promise.all(Array.from({ length: 100 }, (_, i) => c.set(`${tag}:warm:${i}`, 'w')));
        const keys = Array.from({ length: 300 }, (_, i) => `${tag}:k:${i}`);
        await expectRoutedToHeads(cluster, clients, keys, (k) => c.set(k, `v-${k}`));
        await expectRoutedToHeads(cluster, clients, keys, (k) => c.get(k));
        expect(await Promise.all(keys.map((k) => c.get(k)))).toEqual(keys.map((k) => `v-${k}`));
        // Multi-key commands need one slot: hash tags.
        for (let g = 0; g < 10; g++) {
          const group = Array.from({ length: 5 }, (_, i) => `{${tag}:g${g}}:${i}`);
          expect(await c.mset(...group.flatMap((k) => [k, `${k}!`]))).toBe('OK');
          expect(await c.mget(...group, `{${tag}:g${g}}:missing`)).toEqual([...group.map((k) => `${k}!`), null]);
          expect(await c.del(...group)).toBe(5);
          expect(await c.exists(...group)).toBe(0);
        }
        // Plain clients on any member see what the cluster client wrote.
        for (const plain of clients) expect(await plain.get(keys[7] as string)).toBe(`v-${keys[7]}`);
        expect(await Promise.all(keys.map((k) => c.del(k)))).toEqual(keys.map(() => 1));
        expect(await clients[2]!.get(keys[7] as string)).toBeNull();
      } finally {
        c.disconnect();
      }
    });
  }

  const nodeRedis: Array<[string, (url: string) => unknown]> = [
    ['node-redis 5', (url) => createCluster5({ rootNodes: [{ url }] })],
    ['node-redis 5 over RESP3', (url) => createCluster5({ rootNodes: [{ url }], RESP: 3 })],
    ['node-redis 4', (url) => createCluster4({ rootNodes: [{ url }] })],
  ];
  for (const [name, make] of nodeRedis) {
    it(`${name} createCluster: SET/GET/MGET/DEL, each key sent straight to its coordinator`, async () => {
      interface Basic {
        connect(): Promise<unknown>;
        set(k: string, v: string): Promise<unknown>;
        get(k: string): Promise<string | null>;
        mSet(kv: Array<[string, string]>): Promise<unknown>;
        mGet(k: string[]): Promise<Array<string | null>>;
        del(k: string | string[]): Promise<number>;
        disconnect(): Promise<void>;
      }
      const c = make(`redis://127.0.0.1:${cluster.members[2]!.port}`) as Basic;
      await c.connect();
      try {
        const tag = name.replace(/\W+/g, '');
        await Promise.all(Array.from({ length: 100 }, (_, i) => c.set(`${tag}:warm:${i}`, 'w')));
        const keys = Array.from({ length: 300 }, (_, i) => `${tag}:k:${i}`);
        await expectRoutedToHeads(cluster, clients, keys, (k) => c.set(k, `v-${k}`));
        expect(await Promise.all(keys.map((k) => c.get(k)))).toEqual(keys.map((k) => `v-${k}`));
        for (let g = 0; g < 10; g++) {
          const group = Array.from({ length: 5 }, (_, i) => `{${tag}:g${g}}:${i}`);
          await c.mSet(group.map((k) => [k, `${k}!`]));
          expect(await c.mGet([...group, `{${tag}:g${g}}:missing`])).toEqual([...group.map((k) => `${k}!`), null]);
          expect(await c.del(group)).toBe(5);
        }
        expect(await clients[0]!.get(keys[3] as string)).toBe(`v-${keys[3]}`);
        expect(await Promise.all(keys.map((k) => c.del(k)))).toEqual(keys.map(() => 1));
      } finally {
        await c.disconnect();
      }
    });
  }

  it('redis-benchmark --cluster runs SET and GET on every member without errors', async () => {
    const before = await commandCounts(clients);
    const res = spawnSync('redis-benchmark', ['--cluster', '-p', String(cluster.members[0]!.port), '-t', 'set,get', '-n', '2000', '-c', '20', '-q'], {
      encoding: 'utf8',
      timeout: 120_000,
    });
    const out = `${res.stdout}\n${res.stderr}`;
    expect(res.status, out).toBe(0);
    expect(out).toMatch(/Cluster has 3 master nodes/);
    expect(out).toMatch(/SET: [\d.]+ requests per second/);
    expect(out).toMatch(/GET: [\d.]+ requests per second/);
    expect(out).not.toMatch(/error|warning/i);
    // It sends each member keys tagged with that member's slots.
    const after = await commandCounts(clients);
    for (const [i, n] of after.entries()) expect(n - (before[i] as number)).toBeGreaterThan(100);
  }, 150_000);

  it('plain clients keep working against any member', async () => {
    await clients[0]!.set('plain:a', '1');
    await clients[1]!.set('plain:b', '2');
    for (const c of clients) expect(await c.mget('plain:a', 'plain:b')).toEqual(['1', '2']);
    expect(await clients[2]!.del('plain:a', 'plain:b')).toBe(2);
  });

  it('CLUSTER COUNTKEYSINSLOT and GETKEYSINSLOT read a slot from any member', async () => {
    const keys = Array.from({ length: 25 }, (_, i) => `{slotkeys}:${i}`);
    const slot = (await clients[0]!.call('CLUSTER', 'KEYSLOT', keys[0] as string)) as number;
    await clients[1]!.mset(...keys.flatMap((k) => [k, 'x']));
    for (const c of clients) {
      expect(await c.call('CLUSTER', 'COUNTKEYSINSLOT', String(slot))).toBe(25);
      expect([...((await c.call('CLUSTER', 'GETKEYSINSLOT', String(slot), '100')) as string[])].sort()).toEqual([...keys].sort());
      const some = (await c.call('CLUSTER', 'GETKEYSINSLOT', String(slot), '10')) as string[];
      expect(some).toHaveLength(10);
      for (const k of some) expect(keys).toContain(k);
      expect(await c.call('CLUSTER', 'GETKEYSINSLOT', String(slot), '0')).toEqual([]);
    }
    await clients[2]!.del(...keys.slice(0, 5));
    expect(await clients[0]!.call('CLUSTER', 'COUNTKEYSINSLOT', String(slot))).toBe(20);
    expect(await clients[0]!.call('CLUSTER', 'COUNTKEYSINSLOT', String((slot + 1) % SLOTS))).toBe(0);
    await expect(clients[0]!.call('CLUSTER', 'COUNTKEYSINSLOT', '16384')).rejects.toThrow('ERR Invalid slot');
    await expect(clients[0]!.call('CLUSTER', 'COUNTKEYSINSLOT', 'x')).rejects.toThrow('ERR value is not an integer or out of range');
    await expect(clients[0]!.call('CLUSTER', 'GETKEYSINSLOT', '1', '-1')).rejects.toThrow('ERR Invalid slot or number of keys');
  });

  it('with a member down, the next replica masters its ranges and cluster clients keep working', async () => {
    await cluster.kill9(2);
    const down = sha1(cluster.members[2]!.id);
    const live = clients.slice(0, 2);
    await eventually(async () => {
      for (const c of live) {
        const slots = (await c.call('CLUSTER', 'SLOTS')) as SlotEntry[];
        if (slots.some((e) => (e.slice(2) as Node[]).some((n) => n[2] === down))) return false;
      }
      return true;
    }, 'the down member to leave the slot map');
    for (const c of live) {
      const slots = (await c.call('CLUSTER', 'SLOTS')) as SlotEntry[];
      // Every range now has its two live replicas, the first live one of the preference list as master.
      for (const e of slots) expect(e).toHaveLength(4);
      const line = ((await c.call('CLUSTER', 'NODES')) as string).split('\n').find((l) => l.startsWith(down));
      expect(line).toMatch(/ master,fail\? - 0 0 \d+ disconnected$/);
      const info = infoFields((await c.call('CLUSTER', 'INFO')) as string);
      expect(info.get('cluster_state')).toBe('ok');
      expect(info.get('cluster_slots_ok')).toBe(String(SLOTS));
      expect(info.get('cluster_size')).toBe('2');
      const shards = JSON.stringify(await c.call('CLUSTER', 'SHARDS'));
      expect(shards).toContain(`"id","${down}","port",${cluster.members[2]!.port},"ip","127.0.0.1","endpoint","127.0.0.1","role","replica","replication-offset",0,"health","failed"`);
    }
    const keys = Array.from({ length: 100 }, (_, i) => `degraded:${i}`);
    for (const c of [new Cluster6([{ host: '127.0.0.1', port: cluster.members[0]!.port }]), createCluster5({ rootNodes: [{ url: `redis://127.0.0.1:${cluster.members[1]!.port}` }] })]) {
      try {
        if (!(c instanceof Cluster6)) await c.connect();
        await Promise.all(keys.map((k) => c.set(k, 'still')));
        expect(await Promise.all(keys.map((k) => c.get(k)))).toEqual(keys.map(() => 'still'));
      } finally {
        if (c instanceof Cluster6) c.disconnect();
        else c.destroy();
      }
    }
    // Back up: the member heads its ranges again.
    await cluster.start(2);
    await cluster.ready();
    await slotMapReady(clients, 3);
  }, 60_000);
});

describe('4 members, N=3: coordinators spread over every member', () => {
  let cluster: TestCluster;
  let clients: Redis[];

  beforeAll(async () => {
    cluster = await startCluster({ nodes: 4, args: ARGS });
    clients = cluster.members.map((_, i) => cluster.client(i));
    await slotMapReady(clients, 4);
  }, 60_000);

  afterAll(async () => {
    await cluster?.stop();
  });

  it('each member is the master of 64 partitions (4096 slots); replicas are the rest of the preference list', async () => {
    const slots = (await clients[3]!.call('CLUSTER', 'SLOTS')) as SlotEntry[];
    await checkSlotMap(cluster, clients, slots);
    const perMaster = new Map<string, number>();
    for (const [start, end, master, ...replicas] of slots) {
      perMaster.set(master[2], (perMaster.get(master[2]) ?? 0) + end - start + 1);
      expect(replicas).toHaveLength(2);
    }
    expect(perMaster.size).toBe(4);
    for (const count of perMaster.values()) expect(count).toBe(4096);
  });

  it('ioredis Cluster writes reach the coordinator directly, even where the receiving member is not a replica', async () => {
    const c = new Cluster6([{ host: '127.0.0.1', port: cluster.members[0]!.port }]);
    try {
      await Promise.all(Array.from({ length: 100 }, (_, i) => c.set(`warm4:${i}`, 'w')));
      const keys = Array.from({ length: 400 }, (_, i) => `four:${i}`);
      await expectRoutedToHeads(cluster, clients, keys, (k) => c.set(k, k));
      for (const [i, k] of keys.entries()) if (i % 40 === 0) expect(await clients[i % 4]!.get(k)).toBe(k);
    } finally {
      c.disconnect();
    }
  });
});

describe('a node alone', () => {
  let node: RunningProcess;
  let c: Redis;

  beforeAll(async () => {
    node = await startDynis(['--fsync', 'no']);
    c = new Redis({ port: node.port, host: '127.0.0.1' });
  });

  afterAll(async () => {
    c?.disconnect();
    await node?.stop();
  });

  it('answers as Redis with cluster mode disabled', async () => {
    for (const args of [['CLUSTER', 'INFO'], ['CLUSTER', 'SLOTS'], ['CLUSTER', 'NODES'], ['CLUSTER', 'MYID'], ['CLUSTER', 'KEYSLOT', 'foo'], ['READONLY'], ['READWRITE'], ['ASKING']]) {
      await expect(c.call(args[0] as string, ...args.slice(1)), args.join(' ')).rejects.toThrow('ERR This instance has cluster support disabled');
    }
    await expect(c.call('CLUSTER', 'NOPE')).rejects.toThrow("ERR unknown subcommand 'NOPE'. Try CLUSTER HELP.");
    expect(await c.set('alone', '1')).toBe('OK');
    expect(await c.get('alone')).toBe('1');
  });
});

describe('a cluster with the md5 scheme', () => {
  let cluster: TestCluster;

  beforeAll(async () => {
    cluster = await startCluster({ nodes: 1, args: ['--partition-scheme', 'md5', '--n', '1', '--r', '1', '--w', '1', '--fsync', 'no'] });
  }, 60_000);

  afterAll(async () => {
    await cluster?.stop();
  });

  it('has no slot map to show, but still answers CLUSTER INFO and MYID', async () => {
    const c = cluster.client(0);
    for (const sub of ['SLOTS', 'SHARDS', 'NODES']) {
      await expect(c.call('CLUSTER', sub)).rejects.toThrow(`ERR CLUSTER ${sub} needs the redis-slot partition scheme`);
    }
    await expect(c.call('CLUSTER', 'KEYSLOT', 'foo')).rejects.toThrow('md5');
    expect(await c.call('CLUSTER', 'MYID')).toBe(sha1(cluster.members[0]!.id));
    const info = infoFields((await c.call('CLUSTER', 'INFO')) as string);
    expect(info.get('cluster_state')).toBe('ok');
    expect(info.get('cluster_slots_assigned')).toBe('0');
    expect(await c.call('READONLY')).toBe('OK');
  });
});
