/**
 * The peer wire format: the handshake accepts exactly a matching peer and says what differs
 * otherwise; scan pages round-trip and refuse malformed bytes; static members parse.
 */
import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { checkHello, clientProof, decodeScanPage, encodeScanPage, helloArgs, newNonce, proofMatches, serverProof, type RingIdentity } from '../../src/peer/messages.js';
import { defaultConfig } from '../../src/config.js';
import { parseSeed, seedList } from '../../src/membership/seeds.js';
import { DecodeError } from '../../src/util/bytes.js';

const ring: RingIdentity = { clusterName: 'dynis', partitions: 256, scheme: 'redis-slot', n: 3 };
const NONCE = '0123456789abcdef0123456789abcdef';
const args = (r: RingIdentity, from: string, nonce = NONCE): Buffer[] => helloArgs(r, from, nonce).map((a) => Buffer.from(a));

describe('DYN.HELLO', () => {
  it('accepts a matching peer and names it', () => {
    expect(checkHello(args(ring, '10.0.0.1:16379'), ring)).toEqual({ from: '10.0.0.1:16379', clientNonce: NONCE });
  });

  it('refuses other versions, cluster names and ring settings, saying what differs', () => {
    const bad = args(ring, 'a:1');
    bad[0] = Buffer.from('1');
    expect(() => checkHello(bad, ring)).toThrow(/protocol version mismatch: this node speaks 2, peer 1/);
    expect(() => checkHello(args({ ...ring, clusterName: 'x' }, 'a:1'), ring)).toThrow(/cluster name mismatch/);
    expect(() => checkHello(args({ ...ring, partitions: 128 }, 'a:1'), ring)).toThrow(/partitions=128/);
    expect(() => checkHello(args({ ...ring, scheme: 'md5' }, 'a:1'), ring)).toThrow(/scheme=md5/);
    expect(() => checkHello(args({ ...ring, n: 2 }, 'a:1'), ring)).toThrow(/n=2/);
    expect(() => checkHello(args(ring, 'a:1', 'short'), ring)).toThrow(/malformed nonce/);
    expect(() => checkHello(args(ring, 'a:1').slice(1), ring)).toThrow(/needs 7 arguments/);
  });
});

describe('the secret challenge-response', () => {
  const serverNonce = newNonce();
  it('proves the secret both ways without sending it, bound to the ids and both nonces', () => {
    const good = clientProof('right', 'dynis', 'a:1', serverNonce, NONCE);
    expect(proofMatches(good, clientProof('right', 'dynis', 'a:1', serverNonce, NONCE))).toBe(true);
    expect(good).not.toContain('right');
    expect(proofMatches(good, clientProof('wrong', 'dynis', 'a:1', serverNonce, NONCE))).toBe(false);
    // Replaying a recorded proof under a new server nonce, or for another id, fails.
    expect(proofMatches(clientProof('right', 'dynis', 'a:1', newNonce(), NONCE), good)).toBe(false);
    expect(proofMatches(clientProof('right', 'dynis', 'b:1', serverNonce, NONCE), good)).toBe(false);
    // The server's proof cannot be used as a client's (different role).
    expect(proofMatches(serverProof('right', 'dynis', 'a:1', serverNonce, NONCE), good)).toBe(false);
    expect(clientProof(null, 'dynis', 'a:1', serverNonce, NONCE)).toBe('-');
    expect(newNonce()).toMatch(/^[0-9a-f]{32}$/);
    expect(newNonce()).not.toBe(newNonce());
  });
});

describe('scan pages', () => {
  it('round-trip', () => {
    fc.assert(
      fc.property(
        fc.array(fc.record({ key: fc.uint8Array({ maxLength: 20 }), value: fc.option(fc.uint8Array({ maxLength: 20 })) }), { maxLength: 20 }),
        fc.integer({ min: 0, max: 2 ** 40 }),
        (rows, next) => {
          const entries = rows.map((r, i) => ({
            partition: 3,
            key: Buffer.from(r.key),
            set: [{ actor: 'x.1', counter: i + 1, past: new Map([['y.2', 4]]), value: r.value === null ? null : Buffer.from(r.value), ts: 5, expireAt: 0 }],
          }));
          const back = decodeScanPage(encodeScanPage({ entries, next }), 3);
          expect(back.next).toBe(next);
          expect(back.entries).toEqual(entries);
        },
      ),
    );
  });

  it('refuses truncated and unknown-format pages', () => {
    const page = encodeScanPage({ entries: [{ partition: 0, key: Buffer.from('k'), set: [] }], next: 7 });
    for (let cut = 0; cut < page.length; cut++) expect(() => decodeScanPage(page.subarray(0, cut), 0)).toThrow(DecodeError);
    const other = Buffer.from(page);
    other[0] = 9;
    expect(() => decodeScanPage(other, 0)).toThrow(/unknown scan page format/);
  });
});

describe('seed list', () => {
  it('parses host:port[@zone] and tells bootstrapping from joining', () => {
    expect(parseSeed('127.0.0.1:16379@z1', 'default')).toEqual({ id: '127.0.0.1:16379', host: '127.0.0.1', peerPort: 16379, zone: 'z1' });
    expect(parseSeed('[::1]:7000', 'd')).toEqual({ id: '::1:7000', host: '::1', peerPort: 7000, zone: 'd' });
    expect(() => parseSeed('nohost', 'd')).toThrow(/host:peerport/);
    const started = seedList({ ...defaultConfig, port: 6379, peerPort: 16379, n: 3, seeds: ['127.0.0.1:16379', '127.0.0.1:16380', '127.0.0.1:16381'] });
    expect(started.self.id).toBe('127.0.0.1:16379');
    expect(started.bootstrap).toBe(true);
    expect(started.seeds.map((m) => m.id)).toEqual(['127.0.0.1:16379', '127.0.0.1:16380', '127.0.0.1:16381']);
    // A node not in its seed list joins an existing cluster: the seeds are whom to ask.
    const joining = seedList({ ...defaultConfig, port: 6382, peerPort: 16382, n: 3, seeds: ['127.0.0.1:16379'] });
    expect(joining.bootstrap).toBe(false);
    expect(joining.seeds.map((m) => m.id)).toEqual(['127.0.0.1:16379']);
  });

  it('refuses N above the first members and a missing secret off loopback', () => {
    expect(() => seedList({ ...defaultConfig, peerPort: 16379, n: 3, seeds: ['127.0.0.1:16379', '127.0.0.1:16380'] })).toThrow(/N=3 needs at least 3 members/);
    expect(() =>
      seedList({ ...defaultConfig, peerPort: 16379, n: 2, seeds: ['10.0.0.2:16379'], announceHost: '10.0.0.1', bind: '10.0.0.1' }),
    ).toThrow(/cluster-secret: required/);
  });
});
