/**
 * The admin HTTP port on real processes: /metrics (Prometheus text, values read from the
 * node's own counters and checked against INFO), /status.json, the page, 404/405/HEAD, Basic
 * auth with --requirepass, the setting's validation, and a three-node cluster's peer,
 * membership, ring and hint metrics, before and after a member is killed.
 */
import { spawn } from 'node:child_process';
import { readFileSync, rmSync } from 'node:fs';
import { request as httpsRequest } from 'node:https';
import { createServer, type Server } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Redis } from 'ioredis';
import type { StatusSnapshot } from '../../src/admin/status.js';
import { buildConfig, ConfigError } from '../../src/config.js';
import { startCluster, type TestCluster } from '../helpers/cluster.js';
import { makeTestTls, type TestTls } from '../helpers/tls.js';
import { CLI, freePort, freePorts, startDynis, tempDir, waitForPort, type RunningProcess } from '../helpers/processes.js';
import { eventually, http, parseProm, type PromText } from './admin-http.js';

/** INFO section as a map of its fields. */
function infoFields(text: string): Map<string, string> {
  const out = new Map<string, string>();
  for (const line of text.split(/\r?\n/)) {
    const i = line.indexOf(':');
    if (i > 0 && !line.startsWith('#')) out.set(line.slice(0, i), line.slice(i + 1));
  }
  return out;
}

describe('a node alone with --admin-port', () => {
  let node: RunningProcess;
  let client: Redis;
  let base: string;

  beforeAll(async () => {
    const [adminPort, port] = (await freePorts(2)) as [number, number];
    node = await startDynis(['--admin-port', String(adminPort), '--fsync', 'no'], { port });
    await waitForPort(adminPort);
    base = `http://127.0.0.1:${adminPort}`;
    client = new Redis({ port: node.port, lazyConnect: true, maxRetriesPerRequest: 0 });
    await client.connect();
  });

  afterAll(async () => {
    client?.disconnect();
    await node?.stop();
  });

  it('serves Prometheus text whose values are the commands run', async () => {
    for (let i = 0; i < 7; i++) await client.set(`k${i}`, `v${i}`);
    expect(await client.get('k1')).toBe('v1');
    expect(await client.get('k2')).toBe('v2');
    expect(await client.get('absent')).toBeNull();
    await expect(client.incr('k3')).rejects.toThrow(/not an integer/);
    await expect(client.call('get')).rejects.toThrow(/wrong number of arguments/);

    const res = await http(`${base}/metrics`);
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toMatch(/^text\/plain; version=0\.0\.4/);
    const m = parseProm(res.body);
    expect(m.value('dynis_commands_total', { command: 'set' })).toBe(7);
    expect(m.value('dynis_commands_total', { command: 'get' })).toBe(3);
    expect(m.value('dynis_commands_total', { command: 'incr' })).toBe(1);
    expect(m.value('dynis_commands_failed_total', { command: 'incr' })).toBe(1);
    expect(m.value('dynis_commands_failed_total', { command: 'set' })).toBe(0);
    expect(m.value('dynis_commands_rejected_total', { command: 'get' })).toBe(1);
    expect(m.value('dynis_command_duration_seconds_count', { command: 'set' })).toBe(7);
    expect(m.value('dynis_command_duration_seconds_bucket', { command: 'set', le: '+Inf' })).toBe(7);
    const sum = m.value('dynis_command_duration_seconds_sum', { command: 'set' }) as number;
    expect(sum).toBeGreaterThan(0);
    expect(sum).toBeLessThan(7 * 5); // seconds, not microseconds
    // Buckets at 2^i µs (16 µs … 16.8 s), cumulative, equal to LATENCY HISTOGRAM's at the same bounds.
    const buckets = m
      .all('dynis_command_duration_seconds_bucket')
      .filter((b) => b.labels.command === 'set' && b.labels.le !== '+Inf')
      .map((b) => ({ us: Math.round(Number(b.labels.le) * 1e6), count: b.value }));
    expect(buckets.map((b) => b.us)).toEqual(Array.from({ length: 21 }, (_, i) => 2 ** (i + 4)));
    for (let i = 1; i < buckets.length; i++) expect((buckets[i] as { count: number }).count).toBeGreaterThanOrEqual((buckets[i - 1] as { count: number }).count);
    expect(buckets.at(-1)?.count).toBe(7);
    const reply = (await client.call('latency', 'histogram', 'set')) as unknown[];
    const fields = reply[1] as unknown[];
    const hist = fields[fields.indexOf('histogram_usec') + 1] as number[];
    const latency = new Map<number, number>();
    for (let i = 0; i < hist.length; i += 2) latency.set(hist[i] as number, hist[i + 1] as number);
    let below = 0;
    for (const b of buckets) {
      const counted = latency.get(b.us);
      if (counted !== undefined) below = counted;
      else if (b.us > Math.max(...latency.keys())) below = 7;
      expect(b.count, `le=${b.us}µs`).toBe(below);
    }
    expect(m.value('dynis_keyspace_hits_total')).toBe(2);
    expect(m.value('dynis_keyspace_misses_total')).toBe(1);
    expect(m.value('dynis_members', { status: 'up' })).toBe(1);
    expect(m.value('dynis_members', { status: 'left' })).toBe(0);
    expect(m.value('dynis_partitions_owned')).toBe(256);
    expect(m.value('dynis_ring_partitions')).toBe(256);
    expect(m.value('dynis_quorum_failures_total', { op: 'write' })).toBe(0);
    expect(m.value('dynis_storage_batched_ops_total')).toBeGreaterThanOrEqual(7);
    expect(m.all('dynis_node_info')).toHaveLength(1);

    // Types and help texts: every dynis_ family has both.
    expect(m.types.get('dynis_commands_total')).toBe('counter');
    expect(m.types.get('dynis_command_duration_seconds')).toBe('histogram');
    expect(m.types.get('dynis_hints_pending')).toBe('gauge');
    const families = [...m.types.keys()].filter((n) => n.startsWith('dynis_'));
    expect(families.length).toBeGreaterThan(50);
    for (const f of families) expect(m.helps.get(f) ?? '', f).not.toBe('');
    for (const s of m.samples) {
      if (!s.name.startsWith('dynis_')) continue;
      const family = s.name.replace(/_(sum|count|bucket)$/, '');
      expect(m.types.has(s.name) || m.types.has(family), `sample ${s.name} without a family`).toBe(true);
    }
    // The default process metrics, in this node's own registry.
    expect(m.value('process_cpu_user_seconds_total')).toBeGreaterThan(0);
    expect(m.all('nodejs_heap_size_total_bytes').length).toBe(1);

    // The same figures as INFO (the metrics read the node's counters, they keep none of their own).
    const stats = infoFields(await client.info('commandstats'));
    const set = /calls=(\d+),.*rejected_calls=(\d+),failed_calls=(\d+)/.exec(stats.get('cmdstat_set') ?? '');
    expect(Number(set?.[1])).toBe(7);
    // Background work (the expiry sweep reads keys through the cache, the fsync timer writes a
    // batch) can move these between two reads, so INFO's value must lie between two scrapes.
    const first = parseProm((await http(`${base}/metrics`)).body);
    const info = infoFields(await client.info('dynis'));
    const after = parseProm((await http(`${base}/metrics`)).body);
    for (const [metric, field] of [
      ['dynis_storage_batches_total', 'storage_batches'],
      ['dynis_cache_hits_total', 'cache_hits'],
    ] as const) {
      expect(first.value(metric)).toBeLessThanOrEqual(Number(info.get(field)));
      expect(Number(info.get(field))).toBeLessThanOrEqual(after.value(metric) as number);
    }
    // Scraping runs no command: the counters did not move.
    expect(after.value('dynis_commands_total', { command: 'set' })).toBe(7);
    expect(after.value('dynis_commands_total', { command: 'get' })).toBe(3);
  });

  it('CONFIG RESETSTAT resets the command counters (a counter reset for Prometheus)', async () => {
    await client.call('config', 'resetstat');
    const m = parseProm((await http(`${base}/metrics`)).body);
    expect(m.value('dynis_commands_total', { command: 'set' })).toBeUndefined();
    expect(m.value('dynis_commands_processed_total')).toBeLessThanOrEqual(1);
  });

  it('serves /status.json with the ring, the member and ops/s from one-second samples', async () => {
    const pipeline = client.pipeline();
    for (let i = 0; i < 400; i++) pipeline.set(`ops${i}`, 'x');
    await pipeline.exec();
    // Two more samples, so the burst lies wholly inside the sampled window.
    await new Promise((r) => setTimeout(r, 2300));
    const res = await http(`${base}/status.json`);
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toBe('application/json; charset=utf-8');
    const s = JSON.parse(res.body) as StatusSnapshot;
    expect(s.n).toBe(1);
    expect(s.r).toBe(1);
    expect(s.w).toBe(1);
    expect(s.partitions).toBe(256);
    expect(s.members).toHaveLength(1);
    const me = s.members[0] as StatusSnapshot['members'][number];
    expect(me).toMatchObject({ id: s.self, self: true, status: 'up', health: 'up', reachable: true, port: node.port, partitionsOwned: 256 });
    expect(s.ring).toHaveLength(256);
    s.ring.forEach((p, i) => {
      expect(p.partition).toBe(i);
      expect(p.preferenceList).toEqual([s.self]);
      expect(p.owner).toBe(s.self);
    });
    expect(s.ops.intervalMs).toBe(1000);
    expect(s.ops.samples.length).toBeGreaterThanOrEqual(2);
    expect(s.ops.samples.length).toBeLessThanOrEqual(60);
    // Each sample is a rate over about one second: together they add up to the 400 SETs.
    const total = s.ops.samples.reduce((a, b) => a + b, 0);
    expect(total).toBeGreaterThan(400 * 0.7);
    expect(total).toBeLessThan(400 * 1.3 + 5);
    expect(s.ops.totalCommands).toBeGreaterThanOrEqual(400);
    expect(typeof s.ops.perSecond).toBe('number');
  });

  it('serves the page, HEAD, and refuses other paths and methods', async () => {
    const page = await http(`${base}/`);
    expect(page.status).toBe(200);
    expect(page.headers.get('content-type')).toBe('text/html; charset=utf-8');
    expect(page.body).toContain('<svg id="ring"');
    expect(page.body).toContain('status.json');
    expect(page.headers.get('content-security-policy')).toMatch(/default-src 'none'; script-src 'sha256-[^']+'/);
    // Self-contained: the only URL in it is the SVG namespace.
    const urls = page.body.match(/https?:\/\/[^\s"')]+/g) ?? [];
    expect(urls.filter((u) => u !== 'http://www.w3.org/2000/svg')).toEqual([]);

    const head = await http(`${base}/metrics`, { method: 'HEAD' });
    expect(head.status).toBe(200);
    expect(head.body).toBe('');
    expect(Number(head.headers.get('content-length'))).toBeGreaterThan(1000);

    for (const path of ['/nope', '/metrics/x', '/status', '/index.html', '/favicon.ico']) {
      const res = await http(`${base}${path}`);
      expect(res.status, path).toBe(404);
    }
    const post = await http(`${base}/metrics`, { method: 'POST' });
    expect(post.status).toBe(405);
    expect(post.headers.get('allow')).toBe('GET, HEAD');
    expect((await http(`${base}/status.json`, { method: 'DELETE' })).status).toBe(405);
  });
});

describe('the admin port with --requirepass', () => {
  let node: RunningProcess;
  let base: string;
  const password = 's3cret-p\u00e4ss';

  beforeAll(async () => {
    const [adminPort, port] = (await freePorts(2)) as [number, number];
    node = await startDynis(['--admin-port', String(adminPort), '--requirepass', password], { port });
    await waitForPort(adminPort);
    base = `http://127.0.0.1:${adminPort}`;
  });

  afterAll(async () => {
    await node?.stop();
  });

  it('asks for HTTP Basic auth as user default with the requirepass password', async () => {
    for (const path of ['/', '/metrics', '/status.json', '/nope']) {
      const res = await http(`${base}${path}`);
      expect(res.status, path).toBe(401);
      expect(res.headers.get('www-authenticate')).toBe('Basic realm="dynis", charset="UTF-8"');
      expect(res.body).not.toContain('dynis_');
    }
    expect((await http(`${base}/metrics`, { password: 'wrong' })).status).toBe(401);
    expect((await http(`${base}/metrics`, { user: 'admin', password })).status).toBe(401);
    expect((await http(`${base}/metrics`, { password: `${password}x` })).status).toBe(401);
    expect((await http(`${base}/metrics`, { headers: { authorization: 'Bearer abc' } })).status).toBe(401);

    for (const path of ['/', '/metrics', '/status.json']) {
      expect((await http(`${base}${path}`, { password })).status, path).toBe(200);
    }
    expect((await http(`${base}/nope`, { password })).status).toBe(404);
    const m = parseProm((await http(`${base}/metrics`, { password })).body);
    expect(m.value('dynis_admin_auth_failures_total')).toBe(8);
  });
});

/** An HTTPS GET with the test CA (and a client certificate, when given). */
function httpsGet(url: string, tls: { ca: Buffer; cert?: Buffer; key?: Buffer }, password?: string): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const headers: Record<string, string> = password === undefined ? {} : { authorization: `Basic ${Buffer.from(`default:${password}`).toString('base64')}` };
    const req = httpsRequest(url, { ...tls, headers, timeout: 10_000 }, (res) => {
      let body = '';
      res.on('data', (d: Buffer) => (body += d.toString()));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
    });
    req.on('error', reject);
    req.end();
  });
}

describe('the admin port with TLS on the client port', () => {
  let tls: TestTls;
  let node: RunningProcess;
  let adminPort: number;
  const password = 'tls-pass';

  beforeAll(async () => {
    tls = makeTestTls();
    const [admin, port] = (await freePorts(2)) as [number, number];
    adminPort = admin;
    node = await startDynis(
      [
        '--admin-port', String(adminPort), '--requirepass', password,
        '--tls-cert', tls.serverCert, '--tls-key', tls.serverKey, '--tls-ca', tls.ca, '--tls-auth-clients', 'yes',
      ],
      { port },
    );
    await waitForPort(adminPort);
  });

  afterAll(async () => {
    await node?.stop();
    if (tls !== undefined) rmSync(tls.dir, { recursive: true, force: true });
  });

  it('serves HTTPS with the same certificate and client-certificate policy', async () => {
    const ca = readFileSync(tls.ca);
    const client = { ca, cert: readFileSync(tls.clientCert), key: readFileSync(tls.clientKey) };
    const ok = await httpsGet(`https://127.0.0.1:${adminPort}/metrics`, client, password);
    expect(ok.status).toBe(200);
    expect(parseProm(ok.body).value('dynis_partitions_owned')).toBe(256);
    expect((await httpsGet(`https://127.0.0.1:${adminPort}/metrics`, client)).status).toBe(401);
    // No client certificate: refused in the handshake, as on the client port.
    await expect(httpsGet(`https://127.0.0.1:${adminPort}/metrics`, { ca }, password)).rejects.toThrow();
    // Plain HTTP gets no answer it could use.
    await expect(http(`http://127.0.0.1:${adminPort}/metrics`)).rejects.toThrow();
  });
});

describe('the admin-port setting', () => {
  it('is checked at start', () => {
    expect(buildConfig([], {}, {}).adminPort).toBe(0);
    expect(buildConfig(['--port', '7000', '--admin-port', '27000'], {}, {}).adminPort).toBe(27000);
    expect(() => buildConfig(['--admin-port', '70000'], {}, {})).toThrow(/admin-port: 70000 is out of range \(allowed: 0\.\.65535\)/);
    expect(() => buildConfig(['--admin-port', 'x'], {}, {})).toThrow(ConfigError);
    expect(() => buildConfig(['--port', '7000', '--admin-port', '7000'], {}, {})).toThrow(/admin-port: 7000 is already the client port/);
    expect(() => buildConfig(['--port', '7000', '--admin-port', '17000', '--seeds', '127.0.0.1:17000'], {}, {})).toThrow(
      /admin-port: 17000 is already the peer port/,
    );
    expect(buildConfig([], {}, { DYNIS_ADMIN_PORT: '9100' }).adminPort).toBe(9100);
  });

  it('a port already taken stops the node with a clear error', async () => {
    const taken: Server = createServer();
    await new Promise<void>((resolve) => taken.listen(0, '127.0.0.1', resolve));
    const adminPort = (taken.address() as { port: number }).port;
    const dir = tempDir('admin-taken');
    try {
      const child = spawn(process.execPath, [CLI, 'start', '--port', String(await freePort()), '--dir', dir, '--admin-port', String(adminPort)], {
        stdio: ['ignore', 'pipe', 'pipe'],
      });
      let out = '';
      child.stdout.on('data', (d: Buffer) => (out += d.toString()));
      child.stderr.on('data', (d: Buffer) => (out += d.toString()));
      const code = await new Promise<number | null>((resolve) => child.once('exit', (c) => resolve(c)));
      expect(code).toBe(1);
      expect(out).toContain(`admin-port: cannot listen on 127.0.0.1:${adminPort}: the port is in use`);
    } finally {
      taken.close();
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('a three-node cluster with admin ports', () => {
  let cluster: TestCluster;
  let adminPorts: number[];
  const metrics = async (i: number): Promise<PromText> => parseProm((await http(`http://127.0.0.1:${adminPorts[i]}/metrics`)).body);
  const status = async (i: number): Promise<StatusSnapshot> => JSON.parse((await http(`http://127.0.0.1:${adminPorts[i]}/status.json`)).body) as StatusSnapshot;

  beforeAll(async () => {
    // Three distinct free ports, which the cluster's members must not be given too.
    adminPorts = await freePorts(3);
    cluster = await startCluster({
      nodes: 3,
      args: ['--fsync', 'no', '--peer-timeout', '500'],
      memberArgs: (i) => ['--admin-port', String(adminPorts[i])],
      avoidPorts: adminPorts,
    });
    for (const p of adminPorts) await waitForPort(p);
  }, 60_000);

  afterAll(async () => {
    await cluster?.stop();
  });

  it('reports peers, members by status and the ring', async () => {
    const c = cluster.client(0);
    for (let i = 0; i < 50; i++) await c.set(`key:${i}`, 'v');
    const ids = cluster.members.map((m) => m.id);
    const m0 = await metrics(0);
    for (const peer of [ids[1], ids[2]] as string[]) {
      expect(m0.value('dynis_peer_up', { peer })).toBe(1);
      expect(m0.value('dynis_peer_requests_total', { peer })).toBeGreaterThan(0);
      expect(m0.value('dynis_peer_errors_total', { peer })).toBe(0);
      expect(m0.value('dynis_peer_phi', { peer })).toBeLessThan(8);
      const p99 = m0.value('dynis_peer_latency_seconds', { peer, quantile: '0.99' }) as number;
      expect(p99).toBeGreaterThan(0);
      expect(p99).toBeLessThan(1);
    }
    expect(m0.value('dynis_peer_up', { peer: ids[0] as string })).toBeUndefined(); // not its own peer
    expect(m0.value('dynis_members', { status: 'up' })).toBe(3);
    expect(m0.value('dynis_members', { status: 'joining' })).toBe(0);
    expect(m0.value('dynis_ring_members')).toBe(3);
    expect(m0.value('dynis_commands_total', { command: 'set' })).toBe(50);

    let owned = 0;
    for (let i = 0; i < 3; i++) {
      const m = await metrics(i);
      owned += m.value('dynis_partitions_owned') as number;
      expect(m.value('dynis_partitions_replicated')).toBe(256); // N = 3 on three members
    }
    expect(owned).toBe(256);

    // A member's client port arrives with its first gossip (0 until then).
    const s = await eventually(async () => {
      const st = await status(0);
      return st.members.every((m) => m.port !== 0) ? st : undefined;
    }, 'the client ports of every member');
    expect(s.self).toBe(ids[0]);
    expect([s.n, s.r, s.w]).toEqual([3, 2, 2]);
    expect(s.members.map((m) => m.id)).toEqual([...ids].sort());
    for (const m of s.members) {
      expect(m.health).toBe('up');
      expect(m.reachable).toBe(true);
      expect(m.port).toBe(cluster.members.find((x) => x.id === m.id)?.port);
    }
    expect(s.ring).toHaveLength(256);
    const ownedBy = new Map<string, number>();
    for (const p of s.ring) {
      expect(p.preferenceList).toHaveLength(3);
      expect(new Set(p.preferenceList).size).toBe(3);
      expect(p.owner).toBe(p.preferenceList[0]);
      ownedBy.set(p.owner, (ownedBy.get(p.owner) ?? 0) + 1);
    }
    for (const m of s.members) expect(m.partitionsOwned).toBe(ownedBy.get(m.id));
    // Every member draws the same ring.
    expect((await status(1)).ring).toEqual(s.ring);
  });

  it('shows a killed member as down and the hints kept for it', async () => {
    const ids = cluster.members.map((m) => m.id);
    const dead = ids[2] as string;
    await cluster.kill9(2);
    await eventually(async () => (await metrics(0)).value('dynis_peer_up', { peer: dead }) === 0, 'peer_up 0 for the killed member');
    const s = await status(0);
    expect(s.members.find((m) => m.id === dead)).toMatchObject({ health: 'down', reachable: false, status: 'up' });
    expect(s.members.filter((m) => m.health === 'up')).toHaveLength(2);

    // Writes whose preference list includes the dead member leave hints for it (W = 2 still met).
    const c = cluster.client(0);
    for (let i = 0; i < 60; i++) await c.set(`after:${i}`, 'v');
    const m = await metrics(0);
    const ring = infoFields(await c.info('ring'));
    expect(m.value('dynis_members', { status: 'up' })).toBe(3); // membership is unchanged: down is reachability
    expect(m.value('dynis_hinted_writes_total')).toBeGreaterThan(0);
    expect(m.value('dynis_hinted_writes_total')).toBe(Number(ring.get('hinted_writes')));
    expect(m.value('dynis_hints_pending')).toBeGreaterThan(0);
    expect(m.value('dynis_hints_pending')).toBe(Number(ring.get('hints_pending')));
    expect(m.value('dynis_quorum_failures_total', { op: 'write' })).toBe(0);
  });
});
