/**
 * Refusing strangers (issue: hostile input, hostile networks): TLS on the client port with
 * redis-cli --tls and ioredis, refused for a wrong CA, a missing or foreign client certificate
 * and plain text; passwords (NOAUTH, WRONGPASS, HELLO AUTH) with failures logged; peers with
 * a wrong cluster secret refused and logged; mutual TLS between peers.
 */
import { spawnSync } from 'node:child_process';
import { readFileSync, rmSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Redis, type RedisOptions } from 'ioredis';
import { startCluster } from '../helpers/cluster.js';
import { peerHandshake } from '../helpers/peer.js';
import { freePort, startDynis, type RunningProcess } from '../helpers/processes.js';
import { RawClient } from '../helpers/raw-client.js';
import { makeTestTls, type TestTls } from '../helpers/tls.js';

let tls: TestTls;

beforeAll(() => {
  tls = makeTestTls();
});

afterAll(() => {
  if (tls) rmSync(tls.dir, { recursive: true, force: true });
});

/** Connect once without retries; resolves with PING's answer or the error message. */
async function tryPing(options: RedisOptions): Promise<string> {
  const c = new Redis({ ...options, lazyConnect: true, maxRetriesPerRequest: 0, retryStrategy: () => null, enableOfflineQueue: false });
  let firstError = '';
  c.on('error', (err: Error) => {
    firstError ||= err.message;
  });
  try {
    await c.connect();
    return await c.ping();
  } catch (err) {
    return `refused: ${firstError || (err instanceof Error ? err.message : String(err))}`;
  } finally {
    c.disconnect();
  }
}

describe('TLS on the client port', () => {
  let node: RunningProcess;
  beforeAll(async () => {
    node = await startDynis(['--tls-cert', tls.serverCert, '--tls-key', tls.serverKey, '--tls-ca', tls.ca, '--fsync', 'no']);
  });
  afterAll(async () => {
    await node?.stop();
  });

  it('serves redis-cli --tls and ioredis with a client certificate', async () => {
    const cli = (...args: string[]): string =>
      spawnSync('redis-cli', ['--tls', '--cacert', tls.ca, '--cert', tls.clientCert, '--key', tls.clientKey, '-p', String(node.port), ...args], {
        encoding: 'utf8',
      }).stdout.trim();
    expect(cli('SET', 'secure', 'yes')).toBe('OK');
    expect(cli('GET', 'secure')).toBe('yes');
    const c = new Redis({ port: node.port, tls: { ca: readFileSync(tls.ca), cert: readFileSync(tls.clientCert), key: readFileSync(tls.clientKey) } });
    expect(await c.get('secure')).toBe('yes');
    c.disconnect();
  });

  it('refuses a client that trusts another CA, one without a certificate, one with a foreign certificate, and plain text', async () => {
    const mine = { ca: readFileSync(tls.ca), cert: readFileSync(tls.clientCert), key: readFileSync(tls.clientKey) };
    expect(await tryPing({ port: node.port, tls: { ...mine, ca: readFileSync(tls.otherCa) } })).toMatch(/^refused: .*(self[- ]signed|unable to verify|certificate)/i);
    expect(await tryPing({ port: node.port, tls: { ca: mine.ca } })).toMatch(/^refused/);
    expect(await tryPing({ port: node.port, tls: { ca: mine.ca, cert: readFileSync(tls.otherClientCert), key: readFileSync(tls.otherClientKey) } })).toMatch(/^refused/);
    expect(await tryPing({ port: node.port })).toMatch(/^refused/);
    const cli = spawnSync('redis-cli', ['--tls', '--cacert', tls.otherCa, '-p', String(node.port), 'PING'], { encoding: 'utf8' });
    expect(cli.stdout + cli.stderr).toMatch(/SSL|certificate|Could not connect/i);
    expect(node.output()).toMatch(/TLS handshake with .+ failed/);
    expect(await tryPing({ port: node.port, tls: mine })).toBe('PONG');
  });
});

describe('passwords', () => {
  let node: RunningProcess;
  beforeAll(async () => {
    node = await startDynis(['--requirepass', 'open sesame', '--fsync', 'no']);
  });
  afterAll(async () => {
    await node?.stop();
  });

  it('NOAUTH without, WRONGPASS with a wrong one (logged), and AUTH / HELLO AUTH with the right one', async () => {
    const raw = await RawClient.connect(node.port);
    try {
      expect((await raw.command('GET', 'k')).toString()).toBe('-NOAUTH Authentication required.\r\n');
      expect((await raw.command('AUTH', 'guess')).toString()).toBe('-WRONGPASS invalid username-password pair or user is disabled.\r\n');
      expect((await raw.command('HELLO', '3', 'AUTH', 'default', 'guess')).toString()).toMatch(/^-WRONGPASS/);
      expect((await raw.command('AUTH', 'default', 'open sesame')).toString()).toBe('+OK\r\n');
      expect((await raw.command('SET', 'k', 'v')).toString()).toBe('+OK\r\n');
    } finally {
      raw.close();
    }
    const hello = new Redis({ port: node.port, password: 'open sesame', username: 'default' });
    expect(await hello.get('k')).toBe('v');
    hello.disconnect();
    expect(await tryPing({ port: node.port, password: 'nope' })).toMatch(/^refused: WRONGPASS/);
    expect(node.output()).toMatch(/client 127\.0\.0\.1:\d+ failed to authenticate \(AUTH\)/);
    const info = new Redis({ port: node.port, password: 'open sesame' });
    expect(Number(/auth_failures:(\d+)/.exec(await info.info('stats'))?.[1])).toBeGreaterThanOrEqual(3);
    info.disconnect();
  });

  it('refuses to listen off loopback without a password (protected mode)', async () => {
    const port = String(await freePort());
    const out = spawnSync(process.execPath, ['bin/dynis.js', 'start', '--bind', '0.0.0.0', '--port', port, '--dir', `${tls.dir}/pm`], { encoding: 'utf8', timeout: 15_000 });
    expect(out.status).not.toBe(0);
    expect(out.stderr + out.stdout).toMatch(/refusing to listen on 0\.0\.0\.0 without a password \(protected mode\)/);
  });
});

describe('peers', () => {
  it('refuse a wrong cluster secret (logged) and a node started with one never joins', async () => {
    const cluster = await startCluster({ nodes: 2, args: ['--n', '2', '--r', '1', '--w', '1', '--fsync', 'no', '--cluster-secret', 'right secret'] });
    try {
      const peer = await RawClient.connect(cluster.members[0]!.peerPort);
      try {
        const { auth } = await peerHandshake(peer, { ring: { clusterName: 'dynis', partitions: 256, scheme: 'redis-slot', n: 2 }, secret: 'wrong secret' });
        expect(auth).toBe('-HANDSHAKE cluster secret mismatch (peer tester:1)\r\n');
        expect((await peer.command('DYN.READ', '0', 'k')).toString()).toMatch(/^-NOHANDSHAKE/);
        const ok = await peerHandshake(peer, { ring: { clusterName: 'dynis', partitions: 256, scheme: 'redis-slot', n: 2 }, secret: 'right secret' });
        expect(ok.auth).toBe('+OK\r\n');
      } finally {
        peer.close();
      }
      expect(cluster.output(0)).toMatch(/refused a peer handshake from 127\.0\.0\.1:\d+: cluster secret mismatch/);
      // A real node with the wrong secret: member 1 restarted with it is refused by member 0 and refuses it back.
      await cluster.members[1]!.proc!.stop();
      const impostor = spawnSync(
        process.execPath,
        [
          'bin/dynis.js',
          'node',
          '--port',
          String(cluster.members[1]!.port),
          '--peer-port',
          String(cluster.members[1]!.peerPort),
          '--dir',
          cluster.members[1]!.dir,
          '--seeds',
          cluster.members.map((m) => m.id).join(','),
          '--n',
          '2',
          '--cluster-secret',
          'wrong secret',
        ],
        { encoding: 'utf8', timeout: 4000, killSignal: 'SIGKILL' },
      );
      expect(impostor.stdout).toMatch(/could not prove the cluster secret|cluster secret mismatch/);
    } finally {
      await cluster.stop();
    }
  }, 60_000);

  it('talk mutual TLS with --tls-peers and replicate through it', async () => {
    const cluster = await startCluster({
      nodes: 2,
      args: ['--n', '2', '--r', '2', '--w', '2', '--fsync', 'no', '--tls-peers', 'yes', '--tls-cert', tls.serverCert, '--tls-key', tls.serverKey, '--tls-ca', tls.ca, '--tls-auth-clients', 'no'],
      tlsClient: { ca: readFileSync(tls.ca) },
    });
    try {
      const [a, b] = [cluster.client(0), cluster.client(1)];
      expect(await a.set('over-tls', 'ok')).toBe('OK');
      expect(await b.call('VGET', 'over-tls', 'R', '2')).toEqual([expect.any(String), ['ok']]);
      // The peer port speaks only TLS: a plain-text hello gets nothing back.
      const plain = await RawClient.connect(cluster.members[0]!.peerPort);
      plain.write('PING\r\n');
      expect((await plain.untilClosed()).toString()).not.toMatch(/PONG/);
    } finally {
      await cluster.stop();
    }
  }, 60_000);
});
