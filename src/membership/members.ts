/**
 * Member records and their merge (pure). DESIGN.md §5: gossip carries member records, every
 * node computes the same ring from the same records.
 *
 * A record is owned by its member for its own fields (client port, incarnation, which ring it
 * is ready for, heartbeat), while its status may be changed by an operator on any node (join,
 * leave, remove). The merge of two records of one member is:
 *  - status and version: the higher version wins; at equal versions, the status further
 *    along new → joining → up → leaving → left wins. Operator changes bump the version (so a
 *    remove beats anything the removed node itself says); automatic promotions
 *    (joining → up, leaving → left) keep it, and win by rank;
 *  - owner fields: those of the record with the higher heartbeat (the owner bumps it whenever
 *    it changes them, and on every gossip round).
 * Merging record lists is a join: commutative, associative and idempotent (property-tested),
 * so gossip in any order converges.
 *
 * Rings: the *current* ring is claimed over members that are up or leaving, the *target*
 * ring over members that are joining or up. While they differ the cluster is in transition:
 * every member that is a replica of some partition in the target ring but not in the current
 * one must first pull those partitions (transfer.ts) and then say it is ready for the target
 * (`ready` = the target's hash). When every such member is ready, any node may promote
 * joining → up and leaving → left; then current = target.
 */
import { ByteReader, ByteWriter, DecodeError } from '../util/bytes.js';
import { limits } from '../limits.js';

export type MemberStatus = 'new' | 'joining' | 'up' | 'leaving' | 'left';
const STATUS_ORDER: readonly MemberStatus[] = ['new', 'joining', 'up', 'leaving', 'left'];

export interface MemberRecord {
  readonly id: string;
  readonly host: string;
  readonly peerPort: number;
  readonly zone: string;
  readonly status: MemberStatus;
  readonly version: number;
  /** Owner fields. */
  readonly heartbeat: number;
  readonly port: number;
  readonly incarnation: string;
  /** Hash of the target member set this member has pulled every needed partition for ('' none). */
  readonly ready: string;
}

export function statusRank(s: MemberStatus): number {
  return STATUS_ORDER.indexOf(s);
}

/** The merge of two records of the same member. */
export function mergeRecord(a: MemberRecord, b: MemberRecord): MemberRecord {
  if (a.id !== b.id) throw new Error(`merging records of ${a.id} and ${b.id}`);
  const statusFrom =
    a.version !== b.version ? (a.version > b.version ? a : b) : statusRank(a.status) >= statusRank(b.status) ? a : b;
  const ownerFrom = ownerNewer(a, b) ? a : b;
  return {
    id: a.id,
    host: ownerFrom.host,
    peerPort: ownerFrom.peerPort,
    zone: ownerFrom.zone,
    status: statusFrom.status,
    version: statusFrom.version,
    heartbeat: ownerFrom.heartbeat,
    port: ownerFrom.port,
    incarnation: ownerFrom.incarnation,
    ready: ownerFrom.ready,
  };
}

/** Total order on owner fields, so the merge is commutative even for equal heartbeats. */
function ownerNewer(a: MemberRecord, b: MemberRecord): boolean {
  if (a.heartbeat !== b.heartbeat) return a.heartbeat > b.heartbeat;
  const ka = `${a.incarnation}|${a.ready}|${a.port}|${a.host}|${a.peerPort}|${a.zone}`;
  const kb = `${b.incarnation}|${b.ready}|${b.port}|${b.host}|${b.peerPort}|${b.zone}`;
  return ka >= kb;
}

/** Merge two record lists (by id). The result is sorted by id. */
export function mergeRecords(a: readonly MemberRecord[], b: readonly MemberRecord[]): MemberRecord[] {
  const byId = new Map<string, MemberRecord>();
  for (const r of a) byId.set(r.id, byId.has(r.id) ? mergeRecord(byId.get(r.id) as MemberRecord, r) : r);
  for (const r of b) byId.set(r.id, byId.has(r.id) ? mergeRecord(byId.get(r.id) as MemberRecord, r) : r);
  return [...byId.values()].sort((x, y) => (x.id < y.id ? -1 : x.id > y.id ? 1 : 0));
}

export function sameRecords(a: readonly MemberRecord[], b: readonly MemberRecord[]): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) {
    const x = a[i] as MemberRecord;
    const y = b[i] as MemberRecord;
    if (
      x.id !== y.id ||
      x.status !== y.status ||
      x.version !== y.version ||
      x.heartbeat !== y.heartbeat ||
      x.port !== y.port ||
      x.incarnation !== y.incarnation ||
      x.ready !== y.ready ||
      x.host !== y.host ||
      x.peerPort !== y.peerPort ||
      x.zone !== y.zone
    ) {
      return false;
    }
  }
  return true;
}

/** Members the current ring is claimed over. */
export function currentMembers(records: readonly MemberRecord[]): MemberRecord[] {
  return records.filter((r) => r.status === 'up' || r.status === 'leaving');
}

/** Members the target ring is claimed over. */
export function targetMembers(records: readonly MemberRecord[]): MemberRecord[] {
  return records.filter((r) => r.status === 'joining' || r.status === 'up');
}

/** A stable hash of a member set (ids and zones): names a target ring in `ready`. */
export function memberSetHash(members: readonly MemberRecord[]): string {
  let h1 = 0x811c9dc5;
  let h2 = 0x2545f491;
  const text = members
    .map((m) => `${m.id}@${m.zone}`)
    .sort()
    .join(',');
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    h1 = Math.imul(h1 ^ c, 0x01000193);
    h2 = Math.imul(h2 ^ c, 0x5bd1e995);
    h2 ^= h2 >>> 15;
  }
  return (h1 >>> 0).toString(16).padStart(8, '0') + (h2 >>> 0).toString(16).padStart(8, '0');
}

/**
 * The records after promoting a finished transition (joining → up, leaving → left) if every
 * member in `needing` is ready for the target; otherwise the records unchanged.
 */
export function promoteIfReady(records: readonly MemberRecord[], needing: ReadonlySet<string>): MemberRecord[] {
  const target = memberSetHash(targetMembers(records));
  const byId = new Map(records.map((r) => [r.id, r]));
  for (const id of needing) if (byId.get(id)?.ready !== target) return [...records];
  return records.map((r) =>
    r.status === 'joining' ? { ...r, status: 'up' as const } : r.status === 'leaving' ? { ...r, status: 'left' as const } : r,
  );
}

// --- Wire format -----------------------------------------------------------------------------

const RECORDS_FORMAT_V1 = 1;

/** u8 version, varint count, count × record (strings and varints; status as u8). */
export function encodeRecords(records: readonly MemberRecord[]): Buffer {
  const w = new ByteWriter(64 + records.length * 96);
  w.u8(RECORDS_FORMAT_V1).varint(records.length);
  for (const r of records) {
    w.string(r.id).string(r.host).varint(r.peerPort).string(r.zone).u8(statusRank(r.status));
    w.varint(r.version).varint(r.heartbeat).varint(r.port).string(r.incarnation).string(r.ready);
  }
  return w.finish();
}

export function decodeRecords(buf: Buffer): MemberRecord[] {
  const r = new ByteReader(buf);
  const version = r.u8();
  if (version !== RECORDS_FORMAT_V1) throw new DecodeError(`unknown member records format ${version}`);
  const n = r.count(limits.membersMax);
  const out: MemberRecord[] = [];
  for (let i = 0; i < n; i++) {
    const id = r.string();
    const host = r.string();
    const peerPort = r.varint();
    const zone = r.string();
    const rank = r.u8();
    const status = STATUS_ORDER[rank];
    if (status === undefined) throw new DecodeError(`unknown member status ${rank}`);
    const recVersion = r.varint();
    const heartbeat = r.varint();
    const port = r.varint();
    const incarnation = r.string();
    const ready = r.string();
    if (id.length === 0 || id.length > 255 || peerPort > 65535 || port > 65535) throw new DecodeError('malformed member record');
    out.push({ id, host, peerPort, zone, status, version: recVersion, heartbeat, port, incarnation, ready });
  }
  r.end();
  return out;
}
