/**
 * The whole peer wire format (DESIGN.md §7). Peers speak RESP on the peer port; every
 * internal command is named DYN.* and carries compact binary payloads that begin with a
 * format version byte, so `redis-cli -p PEERPORT` can still talk to a node (PING, DYN.HELLO).
 *
 *   DYN.HELLO version cluster from partitions scheme n client-nonce
 *                                        → [version, member id, actor, server-nonce, server-proof]
 *   DYN.AUTH client-proof                → +OK (the connection may now send anything)
 *   DYN.READ partition key [hint-target]                       → bulk: encoded sibling set (or the hint for target)
 *   DYN.WRITE partition key set                                → :1 changed | :0 already had it
 *   DYN.HINT target partition key set                          → +OK once stored as a hint for target
 *   DYN.PING                                                   → +PONG (liveness, feeds the failure detector)
 *   DYN.GOSSIP records                                         → bulk: this node's merged member records
 *   DYN.SCAN partition position limit [end]                    → bulk: encoded scan page of [position, end)
 *   DYN.AETREE partition                                       → bulk: segment hashes | -NOTREADY
 *   DYN.REAP partition key digest                              → :1 removed | :0 kept (set changed or live)
 *   DYN.FLUSHALL                                               → +OK
 *   DYN.FWD protocol command arg …                             → bulk: the client reply, RESP-encoded
 *
 * A connection must complete DYN.HELLO and DYN.AUTH before any other DYN command. HELLO checks
 * the protocol version, the cluster name and the ring settings (partitions, scheme and N must
 * match: a node refuses a cluster created with other settings). With a cluster secret the two
 * sides then prove it to each other without sending it, by HMAC-SHA256 over both nonces
 * (challenge-response): the server proves it in HELLO's reply over the client's nonce, the
 * client in DYN.AUTH over the server's. Fresh nonces make a recorded handshake useless for a
 * replay. Without a secret (loopback-only clusters) the proofs are "-".
 */
import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import { ByteReader, ByteWriter, DecodeError } from '../util/bytes.js';
import { decodeSiblingSet, encodeSiblingSet } from '../versions/sibling-set.js';
import type { ScanPage } from '../replication/transport.js';
import { limits } from '../limits.js';

export const PEER_PROTOCOL_VERSION = 2;

export const PeerCommand = {
  hello: 'DYN.HELLO',
  auth: 'DYN.AUTH',
  read: 'DYN.READ',
  write: 'DYN.WRITE',
  hint: 'DYN.HINT',
  ping: 'DYN.PING',
  gossip: 'DYN.GOSSIP',
  scan: 'DYN.SCAN',
  aeTree: 'DYN.AETREE',
  reap: 'DYN.REAP',
  flushAll: 'DYN.FLUSHALL',
  forward: 'DYN.FWD',
} as const;

/** What two members must agree on to form one ring. */
export interface RingIdentity {
  readonly clusterName: string;
  readonly partitions: number;
  readonly scheme: string;
  readonly n: number;
}

/** A fresh nonce for one handshake. */
export function newNonce(): string {
  return randomBytes(16).toString('hex');
}

function proof(secret: string | null, role: 'server' | 'client', clusterName: string, member: string, nonceA: string, nonceB: string): string {
  if (secret === null) return '-';
  return createHmac('sha256', secret).update(`dynis-${role}\n${clusterName}\n${member}\n${nonceA}\n${nonceB}`).digest('hex');
}

/** The server's proof in HELLO's reply: over the client's nonce, then its own. */
export function serverProof(secret: string | null, clusterName: string, serverId: string, clientNonce: string, serverNonce: string): string {
  return proof(secret, 'server', clusterName, serverId, clientNonce, serverNonce);
}

/** The client's proof in DYN.AUTH: over the server's nonce, then its own. */
export function clientProof(secret: string | null, clusterName: string, clientId: string, serverNonce: string, clientNonce: string): string {
  return proof(secret, 'client', clusterName, clientId, serverNonce, clientNonce);
}

/** Constant-time comparison of a received proof with the expected one. */
export function proofMatches(expected: string, got: string): boolean {
  const a = Buffer.from(expected);
  const b = Buffer.from(got);
  return a.length === b.length && timingSafeEqual(a, b);
}

export function helloArgs(ring: RingIdentity, from: string, clientNonce: string): string[] {
  return [String(PEER_PROTOCOL_VERSION), ring.clusterName, from, String(ring.partitions), ring.scheme, String(ring.n), clientNonce];
}

/**
 * Check a DYN.HELLO's arguments (after the command name) against this node's ring. Returns the
 * sender's member id and nonce, or throws an Error whose message says what does not match.
 */
export function checkHello(args: readonly Buffer[], mine: RingIdentity): { from: string; clientNonce: string } {
  if (args.length !== 7) throw new Error(`DYN.HELLO needs 7 arguments, got ${args.length}`);
  const [version, cluster, from, partitions, scheme, n, clientNonce] = args.map((a) => a.toString('utf8')) as [
    string,
    string,
    string,
    string,
    string,
    string,
    string,
  ];
  if (version !== String(PEER_PROTOCOL_VERSION)) {
    throw new Error(`peer protocol version mismatch: this node speaks ${PEER_PROTOCOL_VERSION}, peer ${version}`);
  }
  if (cluster !== mine.clusterName) throw new Error(`cluster name mismatch: this node is in '${mine.clusterName}', peer in '${cluster}'`);
  if (partitions !== String(mine.partitions) || scheme !== mine.scheme || n !== String(mine.n)) {
    throw new Error(
      `ring settings mismatch: this node has partitions=${mine.partitions} scheme=${mine.scheme} n=${mine.n}, ` +
        `peer ${from} has partitions=${partitions} scheme=${scheme} n=${n}`,
    );
  }
  if (from.length === 0 || from.length > 255) throw new Error('malformed member id');
  if (!/^[0-9a-f]{32}$/.test(clientNonce)) throw new Error('malformed nonce');
  return { from, clientNonce };
}

const SCAN_PAGE_FORMAT_V1 = 1;

/** A scan page: u8 version, varint next, varint count, count × (bytes key, bytes encoded set). */
export function encodeScanPage(page: ScanPage): Buffer {
  let size = 16;
  const sets = page.entries.map((e) => encodeSiblingSet(e.set));
  for (let i = 0; i < sets.length; i++) size += (sets[i] as Buffer).length + (page.entries[i]?.key.length ?? 0) + 10;
  const w = new ByteWriter(size);
  w.u8(SCAN_PAGE_FORMAT_V1).varint(page.next).varint(page.entries.length);
  page.entries.forEach((e, i) => w.bytes(e.key).bytes(sets[i] as Buffer));
  return w.finish();
}

export function decodeScanPage(buf: Buffer, partition: number): ScanPage {
  const r = new ByteReader(buf);
  const version = r.u8();
  if (version !== SCAN_PAGE_FORMAT_V1) throw new DecodeError(`unknown scan page format ${version}`);
  const next = r.varint();
  const count = r.count(limits.peerScanPageMax * 2);
  const entries = [];
  for (let i = 0; i < count; i++) {
    const key = Buffer.from(r.bytes());
    const set = decodeSiblingSet(r.bytes());
    entries.push({ partition, key, set });
  }
  r.end();
  return { entries, next };
}
