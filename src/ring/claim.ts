/**
 * Ring ownership ("claim"): which member owns each of the Q partitions.
 *
 * A pure function of the member set (ids and zones), Q and N, so every node computes the same
 * ring from the same membership and gossip carries only the membership (DESIGN.md §4): the
 * input order does not matter, no previous ring is an input, and only integer arithmetic is
 * used. docs/ring.md has the proofs, the measured movement and the design notes; the promises
 * are property-tested in test/ring/claim.test.ts.
 *
 *  - Balance: every member owns floor(Q/M) or ceil(Q/M) partitions.
 *  - Spacing: with W = min(N, M, Q), every W cyclically consecutive partitions have W distinct
 *    owners, except when that is impossible: a member owning ceil(Q/M) partitions needs
 *    W·ceil(Q/M) <= Q. When W·ceil(Q/M) > Q (M = W not dividing Q, e.g. N = M = 3 with
 *    Q = 256; otherwise only some memberships with Q < W²) the windows that contain the wrap
 *    point Q-1 → 0 may repeat an owner, and only those.
 *  - Zones: when some zone has two or more members, every window also has distinct zones if
 *    the balanced counts allow it (every zone's share can be kept <= floor(Q/W)); if they
 *    allow it only on a line (e.g. three equal zones with N = 3), every window that does not
 *    contain the wrap point has distinct zones. Otherwise zones are best effort. claimShape()
 *    says which case applies.
 *
 * Every choice comes from a rendezvous score per (member, partition), a fixed 32-bit hash.
 * Two layouts:
 *
 *  - Roomy memberships (M >= 2W-1, and zones roomy too): a global greedy. All (member,
 *    partition) pairs are taken in descending score order; a pair is accepted when the
 *    partition is free, the member is under its count (the ceil(Q/M) counts go to the members
 *    that fill up first, so they follow the scores) and the member (or its zone) holds nothing
 *    within W-1 of it. The few partitions left over are filled by a deterministic repair
 *    (direct fill, best single swap, then an augmenting chain). A joining member mostly takes
 *    the partitions it scores highest.
 *  - Tight memberships (fewer members or zones, or in the rare case that the repair fails): a
 *    territory layout in stride order, k → k·W mod Q, in which any R = floor(Q/W)
 *    consecutive k are pairwise at least W partitions apart. Each unit (a member, or a zone
 *    when zones matter) gets a block of consecutive k, units in hash order from k = 0, and a
 *    territory of at most R consecutive k around its block; the unit's members then take
 *    their partitions by score inside the territory (a balanced matching). Whatever the
 *    matching picks, a unit never holds two partitions closer than W.
 */

import { fmix32 } from '../util/hash.js';

export interface MemberSpec {
  readonly id: string;
  readonly zone: string;
}

export const CLAIM_MAX_PARTITIONS = 16384;

/** Which windows of W = `window` consecutive partitions are guaranteed distinct. */
export type WindowGuarantee = 'all' | 'no-wrap' | 'none';

export interface ClaimShape {
  /** W = min(N, M, Q): the window length that is kept distinct. */
  readonly window: number;
  /** Distinct owners in every window ('all') or every window not containing Q-1 → 0. */
  readonly members: Exclude<WindowGuarantee, 'none'>;
  /** Distinct zones: 'all', 'no-wrap', or 'none' (best effort). */
  readonly zones: WindowGuarantee;
}

// ---------------------------------------------------------------------------------------------
// Hashing: FNV-1a of the id, then murmur3's finalizer. Scores are uint32.

function fnv1a(s: string): number {
  const b = Buffer.from(s, 'utf8');
  let h = 0x811c9dc5;
  for (let i = 0; i < b.length; i++) {
    h ^= b[i] as number;
    h = Math.imul(h, 0x01000193);
  }
  return h >>> 0;
}


/** The rendezvous score of a member (by its seed) for a partition. */
function score(seed: number, partition: number): number {
  return fmix32(seed ^ fmix32(Math.imul(partition + 1, 0x9e3779b1)));
}

function zoneSeed(zone: string): number {
  return fmix32(fnv1a(zone) ^ 0x2545f491);
}

function gcd(a: number, b: number): number {
  let x = a;
  let y = b;
  while (y !== 0) [x, y] = [y, x % y];
  return x;
}

// ---------------------------------------------------------------------------------------------
// The problem, with everything derived from the input.

type ZoneMode = 'cyclic' | 'linear' | 'none';

interface Problem {
  readonly Q: number;
  readonly N: number;
  readonly M: number;
  readonly W: number;
  /** floor(Q/W): how many partitions a unit can hold W apart on the cycle. */
  readonly R: number;
  readonly lo: number;
  readonly hi: number;
  /** How many members own hi = lo + 1 partitions. */
  readonly ex: number;
  readonly ids: readonly string[];
  readonly seeds: Uint32Array;
  readonly zoneOf: Int32Array;
  readonly zoneNames: readonly string[];
  readonly zoneMembers: readonly (readonly number[])[];
  /** Members can be spaced on the whole cycle (W·hi <= Q). */
  readonly memberCyclic: boolean;
  /** Zones matter: W > 1, at least two zones, and some zone holds two or more members. */
  readonly zonesInformative: boolean;
  readonly zoneMode: ZoneMode;
  /** The largest zone share after spreading the hi counts (when zones are informative). */
  readonly maxZoneShare: number;
}

function checkArgs(members: readonly MemberSpec[], partitions: number, n: number): void {
  if (members.length === 0) throw new Error('claim: no members');
  if (
    !Number.isInteger(partitions) ||
    partitions < 1 ||
    partitions > CLAIM_MAX_PARTITIONS ||
    (partitions & (partitions - 1)) !== 0
  ) {
    throw new Error(`claim: partitions must be a power of two between 1 and ${CLAIM_MAX_PARTITIONS} (got ${partitions})`);
  }
  if (!Number.isInteger(n) || n < 1) throw new Error(`claim: replication factor must be an integer >= 1 (got ${n})`);
  const seen = new Set<string>();
  for (const m of members) {
    if (typeof m.id !== 'string' || m.id.length === 0) throw new Error('claim: member ids must be non-empty strings');
    if (typeof m.zone !== 'string') throw new Error(`claim: member ${m.id} has no zone string`);
    if (seen.has(m.id)) throw new Error(`claim: duplicate member id ${JSON.stringify(m.id)}`);
    seen.add(m.id);
  }
}

/**
 * Spread the ex "hi" counts over zones so that the largest zone share is as small as possible
 * (one at a time to the zone with the smallest share, ties by zone hash). Returns the number
 * of hi members per zone and the resulting shares.
 */
function spreadExtras(zoneSizes: readonly number[], zoneSeeds: readonly number[], lo: number, ex: number): { extras: number[]; shares: number[] } {
  const shares = zoneSizes.map((k) => k * lo);
  const extras = zoneSizes.map(() => 0);
  for (let e = 0; e < ex; e++) {
    let best = -1;
    for (let z = 0; z < shares.length; z++) {
      if ((extras[z] as number) >= (zoneSizes[z] as number)) continue;
      if (
        best < 0 ||
        (shares[z] as number) < (shares[best] as number) ||
        ((shares[z] as number) === (shares[best] as number) && (zoneSeeds[z] as number) < (zoneSeeds[best] as number))
      ) {
        best = z;
      }
    }
    shares[best] = (shares[best] as number) + 1;
    extras[best] = (extras[best] as number) + 1;
  }
  return { extras, shares };
}

function makeProblem(members: readonly MemberSpec[], Q: number, N: number): Problem {
  checkArgs(members, Q, N);
  const sorted = [...members].sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
  const M = sorted.length;
  const W = Math.min(N, M, Q);
  const R = Math.floor(Q / W);
  const lo = Math.floor(Q / M);
  const ex = Q % M;
  const hi = ex > 0 ? lo + 1 : lo;
  const ids = sorted.map((m) => m.id);
  const seeds = Uint32Array.from(ids, (id) => fmix32(fnv1a(id)));
  const zoneIndex = new Map<string, number>();
  const zoneOf = new Int32Array(M);
  const zoneMembers: number[][] = [];
  sorted.forEach((m, i) => {
    let z = zoneIndex.get(m.zone);
    if (z === undefined) {
      z = zoneMembers.length;
      zoneIndex.set(m.zone, z);
      zoneMembers.push([]);
    }
    zoneOf[i] = z;
    (zoneMembers[z] as number[]).push(i);
  });
  const zoneNames = [...zoneIndex.keys()];
  const Z = zoneNames.length;
  const memberCyclic = hi * W <= Q;
  const zonesInformative = W > 1 && Z >= 2 && Z < M;
  let zoneMode: ZoneMode = 'none';
  let maxZoneShare = 0;
  if (zonesInformative) {
    const { shares } = spreadExtras(
      zoneMembers.map((ms) => ms.length),
      zoneNames.map(zoneSeed),
      lo,
      ex,
    );
    maxZoneShare = Math.max(...shares);
    const r = Q % W;
    if (Z >= W && maxZoneShare <= R) zoneMode = 'cyclic';
    else if (Z >= W && r > 0 && maxZoneShare === R + 1 && shares.filter((s) => s === R + 1).length <= r) zoneMode = 'linear';
  }
  return { Q, N, M, W, R, lo, hi, ex, ids, seeds, zoneOf, zoneNames, zoneMembers, memberCyclic, zonesInformative, zoneMode, maxZoneShare };
}

/** The window length and which windows `claim` keeps distinct for this membership. */
export function claimShape(members: readonly MemberSpec[], partitions: number, n: number): ClaimShape {
  const pr = makeProblem(members, partitions, n);
  const memberRule = pr.memberCyclic ? 'all' : 'no-wrap';
  let zones: WindowGuarantee;
  if (pr.W === 1) zones = 'all';
  else if (!pr.zonesInformative) zones = pr.zoneMembers.length === pr.M ? memberRule : 'none';
  else zones = pr.zoneMode === 'cyclic' ? 'all' : pr.zoneMode === 'linear' ? 'no-wrap' : 'none';
  return { window: pr.W, members: memberRule, zones };
}

/** owners[p] = id of the member that owns partition p (0 <= p < partitions). */
export function claim(members: readonly MemberSpec[], partitions: number, n: number): string[] {
  const pr = makeProblem(members, partitions, n);
  let owners: Int32Array | null = null;
  if (usesGreedy(pr)) owners = greedyClaim(pr);
  if (owners === null || !layoutValid(pr, owners)) owners = territoryClaim(pr);
  return Array.from(owners, (m) => pr.ids[m] as string);
}

/**
 * The greedy needs room to place members W apart at random. Measured: it completes reliably
 * from M = 2W-1 members on (each member then holds at most ~0.6·R partitions); below that it
 * often leaves holes its repair cannot close. Zones that must be kept apart need the same
 * room: at least 2W-1 zones, none holding more than 0.6·R. Deciding by these counts alone
 * keeps neighbouring memberships on the same layout, so the switch happens at known steps.
 */
function usesGreedy(pr: Problem): boolean {
  if (pr.W === 1) return true;
  if (!pr.memberCyclic || pr.M < 2 * pr.W - 1) return false;
  if (pr.zonesInformative) {
    if (pr.zoneMode === 'linear' || pr.zoneNames.length <= 2 * pr.W - 2) return false;
    if (pr.zoneMode === 'cyclic' && 5 * pr.maxZoneShare > 3 * pr.R) return false;
  }
  return true;
}

// ---------------------------------------------------------------------------------------------
// Validity of a finished layout (also the final guard of the greedy).

/** True when the owners satisfy balance, member spacing and the zone rule of this problem. */
function layoutValid(pr: Problem, owners: Int32Array): boolean {
  const { Q, W, M } = pr;
  const counts = new Int32Array(M);
  for (let p = 0; p < Q; p++) {
    const m = owners[p] as number;
    if (m < 0) return false;
    counts[m] = (counts[m] as number) + 1;
  }
  let atHi = 0;
  for (let m = 0; m < M; m++) {
    const c = counts[m] as number;
    if (c < pr.lo || c > pr.hi) return false;
    if (c === pr.hi && pr.hi > pr.lo) atHi++;
  }
  if (pr.hi > pr.lo && atHi !== pr.ex) return false;
  const zoneRule: ZoneMode = pr.zonesInformative ? pr.zoneMode : 'none';
  for (let s = 0; s < Q; s++) {
    const wraps = s + W > Q;
    const checkMember = pr.memberCyclic || !wraps;
    const checkZone = zoneRule === 'cyclic' || (zoneRule === 'linear' && !wraps);
    if (!checkMember && !checkZone) continue;
    for (let i = 0; i < W; i++) {
      const a = owners[(s + i) % Q] as number;
      for (let j = i + 1; j < W; j++) {
        const b = owners[(s + j) % Q] as number;
        if (checkMember && a === b) return false;
        if (checkZone && pr.zoneOf[a] === pr.zoneOf[b]) return false;
      }
    }
  }
  return true;
}

// ---------------------------------------------------------------------------------------------
// Loose memberships: the global greedy with spacing constraints, then repair.

/** Work cap of one chain search in the greedy's repair (fit checks). */
const CHAIN_WORK = 20_000_000;

/** At most this many (member, partition) candidate pairs for the greedy (32 MB of keys). */
const PAIR_LIMIT = 2 ** 22;

/**
 * Pair indices 0..n-1 sorted by descending score, ties by ascending index. The key packs the
 * score's top bits and the index into one exactly representable double, so the sort is a
 * native numeric sort (n up to 2^21 keeps all 32 score bits; beyond that low bits go).
 */
function byDescendingScore(scores: Uint32Array, n: number): Int32Array {
  const indexBits = Math.max(1, Math.ceil(Math.log2(n + 1)));
  const scoreBits = Math.min(32, 53 - indexBits);
  const shift = 32 - scoreBits;
  const top = 2 ** scoreBits - 1;
  const scale = 2 ** indexBits;
  const keys = new Float64Array(n);
  for (let i = 0; i < n; i++) keys[i] = (top - Math.floor((scores[i] as number) / 2 ** shift)) * scale + i;
  keys.sort();
  const out = new Int32Array(n);
  for (let i = 0; i < n; i++) out[i] = (keys[i] as number) % scale;
  return out;
}

function greedyClaim(pr: Problem): Int32Array | null {
  const { Q, M, W, lo, hi, ex, seeds, zoneOf } = pr;
  const cyclic = pr.memberCyclic;
  const zoneHard = pr.zonesInformative && pr.zoneMode === 'cyclic';
  const zoneSoft = pr.zonesInformative && pr.zoneMode === 'none';
  const zoneCap = zoneHard ? pr.R : Q;

  // Candidates: every member for every partition, or each partition's top K when that is too many.
  const K = M * Q <= PAIR_LIMIT ? M : Math.max(1, Math.floor(PAIR_LIMIT / Q));
  const cand = new Int32Array(Q * K);
  const pairScores = new Uint32Array(Q * K);
  const rowScores = new Float64Array(M);
  const rowIdx = Array.from({ length: M }, (_, i) => i);
  for (let p = 0; p < Q; p++) {
    if (K === M) {
      for (let m = 0; m < M; m++) cand[p * K + m] = m;
    } else {
      for (let m = 0; m < M; m++) rowScores[m] = score(seeds[m] as number, p);
      rowIdx.sort((a, b) => (rowScores[b] as number) - (rowScores[a] as number) || a - b);
      for (let j = 0; j < K; j++) cand[p * K + j] = rowIdx[j] as number;
    }
    for (let j = 0; j < K; j++) pairScores[p * K + j] = score(seeds[cand[p * K + j] as number] as number, p);
  }
  const pairOrder = byDescendingScore(pairScores, Q * K);

  const owner = new Int32Array(Q).fill(-1);
  const cnt = new Int32Array(M);
  const cap = new Int32Array(M).fill(hi);
  const zoneCnt = new Int32Array(pr.zoneNames.length);
  let atHi = 0;

  const fits = (m: number, p: number, skip: number, zones: boolean): boolean => {
    const z = zoneOf[m];
    for (let d = 1 - W; d < W; d++) {
      let q = p + d;
      if (d === 0) continue;
      if (cyclic) q = (q + Q) % Q;
      else if (q < 0 || q >= Q) continue;
      if (q === skip) continue;
      const o = owner[q] as number;
      if (o < 0) continue;
      if (o === m || (zones && zoneOf[o] === z)) return false;
    }
    return true;
  };
  const hasRoom = (m: number): boolean => (cnt[m] as number) < (cap[m] as number) && (zoneCnt[zoneOf[m] as number] as number) < zoneCap;
  const take = (m: number, p: number): void => {
    owner[p] = m;
    cnt[m] = (cnt[m] as number) + 1;
    const z = zoneOf[m] as number;
    zoneCnt[z] = (zoneCnt[z] as number) + 1;
    if (ex > 0 && cnt[m] === hi) {
      atHi++;
      // Once ex members hold hi partitions, everyone else stops at lo.
      if (atHi === ex) for (let v = 0; v < M; v++) if ((cnt[v] as number) < hi) cap[v] = lo;
    }
  };

  const passes = zoneSoft ? [true, false] : [zoneHard];
  for (const zones of passes) {
    for (let t = 0; t < pairOrder.length; t++) {
      const idx = pairOrder[t] as number;
      const p = Math.floor(idx / K);
      const m = cand[idx] as number;
      if ((owner[p] as number) >= 0 || !hasRoom(m) || !fits(m, p, -1, zones)) continue;
      take(m, p);
    }
  }

  // Repair: fill each hole directly if some member with room fits, else move one owner.
  for (let round = 0; round < 4; round++) {
    const holes: number[] = [];
    for (let p = 0; p < Q; p++) if ((owner[p] as number) < 0) holes.push(p);
    if (holes.length === 0) return owner;
    let progress = false;
    for (const p of holes) {
      if (directFill(p) || swapFill(p) || chainFill(p)) progress = true;
    }
    if (!progress) break;
  }
  for (let p = 0; p < Q; p++) if ((owner[p] as number) < 0) return null;
  return owner;

  function directFill(p: number): boolean {
    let best = -1;
    let bestScore = -1;
    for (let m = 0; m < M; m++) {
      if (!hasRoom(m) || !fits(m, p, -1, zoneHard)) continue;
      const s = score(seeds[m] as number, p);
      if (s > bestScore) {
        bestScore = s;
        best = m;
      }
    }
    if (best < 0) return false;
    take(best, p);
    return true;
  }

  /**
   * A chain p ← q1 ← q2 ← … ← qk ← m: the owner of each q moves one step towards the hole
   * and a member m with room takes the last vacated place. Breadth-first over positions, in
   * ascending order, with a work cap; the chain is verified once applied.
   */
  function chainFill(p: number): boolean {
    const needy: number[] = [];
    for (let m = 0; m < M; m++) if (hasRoom(m)) needy.push(m);
    if (needy.length === 0) return false;
    const held: number[][] = Array.from({ length: M }, () => []);
    for (let q = 0; q < Q; q++) if ((owner[q] as number) >= 0) (held[owner[q] as number] as number[]).push(q);
    const parent = new Int32Array(Q).fill(-2);
    parent[p] = -1;
    const queue = [p];
    let work = 0;
    for (let qi = 0; qi < queue.length && work < CHAIN_WORK; qi++) {
      const x = queue[qi] as number;
      if (x !== p) {
        for (const m of needy) {
          if (m === owner[x] || !fits(m, x, x, zoneHard)) continue;
          if (applyChain(x, m)) return true;
        }
      }
      // Who could move into x: a member that fits there, from any of its places, or, when
      // exactly one of its places is too close to x, from that place.
      for (let o = 0; o < M; o++) {
        work += W;
        if (x !== p && o === owner[x]) continue;
        let near = -1;
        let conflicts = 0;
        for (let d = 1 - W; d < W; d++) {
          if (d === 0) continue;
          let q = x + d;
          if (cyclic) q = (q + Q) % Q;
          else if (q < 0 || q >= Q) continue;
          const w = owner[q] as number;
          if (w === o) {
            near = q;
            conflicts++;
          } else if (zoneHard && w >= 0 && zoneOf[w] === zoneOf[o] && q !== x) conflicts += 2;
        }
        const from = conflicts === 0 ? (held[o] as number[]) : conflicts === 1 && near >= 0 ? [near] : [];
        for (const q of from) {
          work++;
          if ((parent[q] as number) !== -2) continue;
          parent[q] = x;
          queue.push(q);
        }
      }
    }
    return false;

    function applyChain(last: number, m: number): boolean {
      const path: number[] = [];
      for (let x = last; x >= 0; x = parent[x] as number) path.push(x);
      // path = [last, …, p]; each position takes the owner of the one before it.
      const before = path.map((x) => owner[x] as number);
      for (let i = path.length - 1; i >= 1; i--) owner[path[i] as number] = before[i - 1] as number;
      owner[last] = -1;
      const ok = path.slice(1).every((x) => fits(owner[x] as number, x, -1, zoneHard)) && fits(m, last, -1, zoneHard);
      if (!ok) {
        path.forEach((x, i) => (owner[x] = before[i] as number));
        return false;
      }
      take(m, last);
      return true;
    }
  }

  /** The owner o of some q moves to p, and a member m with room takes q. */
  function swapFill(p: number): boolean {
    const needy: number[] = [];
    for (let m = 0; m < M; m++) if (hasRoom(m)) needy.push(m);
    let bestQ = -1;
    let bestM = -1;
    let bestValue = -1;
    for (let q = 0; q < Q; q++) {
      const o = owner[q] as number;
      if (o < 0 || !fits(o, p, q, zoneHard)) continue;
      owner[q] = -1;
      owner[p] = o;
      for (const m of needy) {
        if (m === o || !fits(m, q, -1, zoneHard)) continue;
        const value = score(seeds[o] as number, p) + score(seeds[m] as number, q);
        if (value > bestValue) {
          bestValue = value;
          bestQ = q;
          bestM = m;
        }
      }
      owner[p] = -1;
      owner[q] = o;
    }
    if (bestQ < 0) return false;
    owner[p] = owner[bestQ] as number;
    owner[bestQ] = -1;
    take(bestM, bestQ);
    return true;
  }
}

// ---------------------------------------------------------------------------------------------
// Tight memberships: territories in stride order.

/**
 * The visiting order k → partition on the cycle: g = gcd(W, Q) cosets, each walked W apart as
 * j, j+W, j+2W, … (mod Q). Any R = floor(Q/W) consecutive k are pairwise at least W apart on
 * the cycle (R-1 when W divides Q and the run crosses a coset boundary), except runs across
 * the final wrap when g > 1 (docs/ring.md has the proof).
 */
export function strideOrder(Q: number, W: number): Int32Array {
  const order = new Int32Array(Q);
  let k = 0;
  const g = gcd(W, Q);
  const len = Q / g;
  for (let j = 0; j < g; j++) for (let i = 0; i < len; i++) order[k++] = (j + i * W) % Q;
  return order;
}

/**
 * The visiting order on the line: column by column (column j = j, j+W, … < Q) in the given
 * column order. A run that ends a column and continues at the top of the next one is at
 * least W apart on the line when its part in the first column starts two or more rows below
 * the end of its part in the second, which holds for any run of at most (column length - 1),
 * and for a run that exactly fills a column.
 */
function columnOrder(Q: number, W: number, columns: readonly number[]): Int32Array {
  const order = new Int32Array(Q);
  let k = 0;
  for (const j of columns) for (let p = j; p < Q; p += W) order[k++] = p;
  return order;
}

interface Unit {
  readonly members: readonly number[];
  /** Nominal counts of the unit's members (aligned with `members`). */
  readonly counts: readonly number[];
  readonly share: number;
  readonly seed: number;
}

function territoryClaim(pr: Problem): Int32Array {
  const { Q, M, W, R, lo, ex, seeds } = pr;
  // Units are zones when zones matter (a zone too large to be kept W apart is split below),
  // except on the member line layout (M = W), which zones on a line cannot improve.
  const useZones = pr.zonesInformative && (pr.zoneMode === 'linear' || pr.memberCyclic);
  const linear = useZones ? pr.zoneMode === 'linear' : !pr.memberCyclic;
  const L = W === 1 ? Q : Q % W === 0 ? R - 1 : R;

  // Nominal counts: which members own hi. By zones, spread to keep zone shares smallest.
  const counts = new Int32Array(M).fill(lo);
  const bySeed = (a: number, b: number): number => (seeds[a] as number) - (seeds[b] as number) || a - b;
  if (useZones) {
    const { extras } = spreadExtras(
      pr.zoneMembers.map((ms) => ms.length),
      pr.zoneNames.map(zoneSeed),
      lo,
      ex,
    );
    pr.zoneMembers.forEach((ms, z) => {
      const ranked = [...ms].sort(bySeed);
      for (let i = 0; i < (extras[z] as number); i++) counts[ranked[i] as number] = lo + 1;
    });
  } else {
    const ranked = Array.from({ length: M }, (_, i) => i).sort(bySeed);
    for (let i = 0; i < ex; i++) counts[ranked[i] as number] = lo + 1;
  }

  // Groups of members that share a territory: zones, or single members. On the cycle a zone
  // too large for one territory (zones cannot all be kept apart then) becomes consecutive
  // runs of its members in seed order, each run at most L, kept together in the unit order.
  const groups: { members: number[]; seed: number }[] = [];
  if (useZones) {
    pr.zoneMembers.forEach((ms, z) => {
      const seed = fmix32(fnv1a(pr.zoneNames[z] as string) ^ 0x7f4a7c15);
      const share = ms.reduce((a, m) => a + (counts[m] as number), 0);
      if (linear || share <= L || (Q % W === 0 && share === R)) {
        groups.push({ members: [...ms], seed });
        return;
      }
      let run: number[] = [];
      let total = 0;
      for (const m of [...ms].sort(bySeed)) {
        const c = counts[m] as number;
        if (run.length > 0 && total + c > L) {
          groups.push({ members: run, seed });
          run = [];
          total = 0;
        }
        run.push(m);
        total += c;
      }
      groups.push({ members: run, seed });
    });
  } else {
    for (let m = 0; m < M; m++) groups.push({ members: [m], seed: fmix32((seeds[m] as number) ^ 0x7f4a7c15) });
  }
  const units: Unit[] = groups.map(({ members: ms, seed }) => {
    // Inside a unit: larger counts first, then by seed.
    const sortedMs = [...ms].sort((a, b) => (counts[b] as number) - (counts[a] as number) || bySeed(a, b));
    const cs = sortedMs.map((m) => counts[m] as number);
    return { members: sortedMs, counts: cs, share: cs.reduce((a, b) => a + b, 0), seed };
  });

  // Member m may take items k in [eligStart[m], eligStart[m] + eligLen[m]) (mod Q).
  const eligStart = new Int32Array(M);
  const eligLen = new Int32Array(M);
  const g = gcd(W, Q);
  const ringK = !linear && g === 1;
  let order: Int32Array;

  if (linear && g === 1 && units.length === W && W > 1) {
    // W units on the line (M = W, or W zones): each unit takes one whole column of the same
    // k-space the cycle layout uses, in the same hash order from k = 0, so that going to W+1
    // members only shifts blocks. The R+1 counts go to whichever units land on the long
    // columns, if their sizes allow that (else the next rotation of the columns is tried).
    order = strideOrder(Q, W);
    if (!wholeColumns(pr, units, order, counts, eligStart, eligLen)) order = lineLayout(pr, units, eligStart, eligLen);
  } else if (linear) {
    order = lineLayout(pr, units, eligStart, eligLen);
  } else {
    order = strideOrder(Q, W);
    const full = (u: Unit): boolean => W > 1 && Q % W === 0 && u.share === R;
    const seq = units
      .map((_, i) => i)
      .sort((a, b) => {
        const ua = units[a] as Unit;
        const ub = units[b] as Unit;
        return Number(full(ub)) - Number(full(ua)) || ua.seed - ub.seed || a - b;
      });
    const start = new Int32Array(units.length);
    let acc = 0;
    let fullEnd = 0;
    for (const u of seq) {
      start[u] = acc;
      acc += (units[u] as Unit).share;
      if (full(units[u] as Unit)) fullEnd = acc;
    }
    for (const u of seq) {
      const unit = units[u] as Unit;
      let a: number;
      let len: number;
      if (full(unit)) {
        a = start[u] as number;
        len = R;
      } else {
        len = Math.max(unit.share, Math.min(L, Q));
        a = (start[u] as number) - ((len - unit.share) >> 1);
        if (!ringK) {
          len = Math.min(len, Q - fullEnd);
          a = Math.max(fullEnd, Math.min(a, Q - len));
        }
      }
      a = ((a % Q) + Q) % Q;
      for (const m of unit.members) {
        eligStart[m] = a;
        eligLen[m] = len;
      }
    }
  }

  const ownK = balancedMatching(pr, order, counts, eligStart, eligLen);
  const owners = new Int32Array(Q);
  for (let k = 0; k < Q; k++) owners[order[k] as number] = ownK[k] as number;
  if (linear && pr.memberCyclic) fixWrap(pr, owners);
  return owners;
}

/**
 * The general line layout: column by column, largest shares first. Units of R+1 (at most
 * Q mod W of them) fill long columns exactly; then come the short columns, so that units of R
 * fill them exactly too; the remaining long columns take the rest, where a run of at most R
 * that starts mid-column is still W apart on the line. A unit inside one column lets its
 * members share all of it; a unit across two columns gives each member its own run.
 */
function lineLayout(pr: Problem, units: readonly Unit[], eligStart: Int32Array, eligLen: Int32Array): Int32Array {
  const { Q, W, R } = pr;
  const seq = units
    .map((_, i) => i)
    .sort((a, b) => (units[b] as Unit).share - (units[a] as Unit).share || (units[a] as Unit).seed - (units[b] as Unit).seed || a - b);
  const r = Q % W;
  const big = units.filter((u) => u.share > R).length;
  const columns: number[] = [];
  for (let j = 0; j < big; j++) columns.push(j);
  for (let j = r; j < W; j++) columns.push(j);
  for (let j = big; j < r; j++) columns.push(j);
  const order = columnOrder(Q, W, columns);
  const colOf = (k: number): number => (order[k] as number) % W;
  let k = 0;
  for (const u of seq) {
    const unit = units[u] as Unit;
    const oneColumn = unit.share > 0 && colOf(k) === colOf(k + unit.share - 1);
    let sub = k;
    unit.members.forEach((m, i) => {
      const c = unit.counts[i] as number;
      eligStart[m] = oneColumn ? k : sub;
      eligLen[m] = oneColumn ? unit.share : c;
      sub += c;
    });
    k += unit.share;
  }
  return order;
}

/** Give each of the W units one whole column of the stride order; false if sizes do not fit. */
function wholeColumns(pr: Problem, units: readonly Unit[], order: Int32Array, counts: Int32Array, eligStart: Int32Array, eligLen: Int32Array): boolean {
  const { Q, W, lo, hi, seeds } = pr;
  // Column starts and lengths in k (for g = 1 the stride order is column after column).
  const colStart: number[] = [];
  const colLen: number[] = [];
  for (let k = 0; k < Q; k++) {
    if (k === 0 || (order[k] as number) % W !== (order[k - 1] as number) % W) {
      colStart.push(k);
      colLen.push(0);
    }
    colLen[colLen.length - 1] = (colLen[colLen.length - 1] as number) + 1;
  }
  const seq = units.map((_, i) => i).sort((a, b) => (units[a] as Unit).seed - (units[b] as Unit).seed || a - b);
  for (let t = 0; t < W; t++) {
    const fits = seq.every((u, i) => {
      const n = (units[u] as Unit).members.length;
      const target = colLen[(i + t) % W] as number;
      return n * lo <= target && target <= n * hi;
    });
    if (!fits) continue;
    seq.forEach((u, i) => {
      const unit = units[u] as Unit;
      const c = (i + t) % W;
      const ranked = [...unit.members].sort((a, b) => (seeds[a] as number) - (seeds[b] as number) || a - b);
      const extras = (colLen[c] as number) - ranked.length * lo;
      ranked.forEach((m, j) => {
        counts[m] = lo + (j < extras ? 1 : 0);
        eligStart[m] = colStart[c] as number;
        eligLen[m] = colLen[c] as number;
      });
    });
    return true;
  }
  return false;
}
/**
 * Items k (partition order[k]) to members: member m takes exactly counts[m] items from its
 * eligible range, preferring high scores. Greedy by score, then augmenting paths for what is
 * left; the nominal block layout is a solution, so this always completes.
 */
function balancedMatching(pr: Problem, order: Int32Array, counts: Int32Array, eligStart: Int32Array, eligLen: Int32Array): Int32Array {
  const { Q, M, seeds } = pr;
  let total = 0;
  for (let m = 0; m < M; m++) total += eligLen[m] as number;
  const pairScores = new Uint32Array(total);
  const pairM = new Int32Array(total);
  const pairK = new Int32Array(total);
  const itemMembers: number[][] = Array.from({ length: Q }, () => []);
  let t = 0;
  for (let m = 0; m < M; m++) {
    for (let j = 0; j < (eligLen[m] as number); j++) {
      const k = ((eligStart[m] as number) + j) % Q;
      (itemMembers[k] as number[]).push(m);
      pairScores[t] = score(seeds[m] as number, order[k] as number);
      pairM[t] = m;
      pairK[t] = k;
      t++;
    }
  }
  const pairOrder = byDescendingScore(pairScores, total);
  const ownK = new Int32Array(Q).fill(-1);
  const cnt = new Int32Array(M);
  for (let i = 0; i < total; i++) {
    const idx = pairOrder[i] as number;
    const m = pairM[idx] as number;
    const k = pairK[idx] as number;
    if ((ownK[k] as number) >= 0 || (cnt[m] as number) >= (counts[m] as number)) continue;
    ownK[k] = m;
    cnt[m] = (cnt[m] as number) + 1;
  }
  for (let k0 = 0; k0 < Q; k0++) {
    if ((ownK[k0] as number) >= 0) continue;
    const held: number[][] = Array.from({ length: M }, () => []);
    for (let k = 0; k < Q; k++) if ((ownK[k] as number) >= 0) (held[ownK[k] as number] as number[]).push(k);
    // Breadth-first over members: reach m through item via[m] (which m would take).
    const from = new Int32Array(M).fill(-2);
    const via = new Int32Array(M).fill(-1);
    const queue: number[] = [];
    for (const m of itemMembers[k0] as number[]) {
      if ((from[m] as number) !== -2) continue;
      from[m] = -1;
      via[m] = k0;
      queue.push(m);
    }
    let found = -1;
    for (let qi = 0; qi < queue.length && found < 0; qi++) {
      const m = queue[qi] as number;
      if ((cnt[m] as number) < (counts[m] as number)) {
        found = m;
        break;
      }
      for (const k of held[m] as number[]) {
        for (const v of itemMembers[k] as number[]) {
          if ((from[v] as number) !== -2) continue;
          from[v] = m;
          via[v] = k;
          queue.push(v);
        }
      }
    }
    if (found < 0) throw new Error('claim: territory matching failed (bug)');
    cnt[found] = (cnt[found] as number) + 1;
    for (let m = found; m >= 0; m = from[m] as number) ownK[via[m] as number] = m;
  }
  return ownK;
}

/**
 * On the line layout a member may still sit within W of itself across Q-1 → 0 although its
 * count allows the full cycle. Swap it with a partition held by another member where both
 * moved members stay W apart from themselves and both moved zones stay W apart on the line
 * (the zone rule of the line layout); swaps inside the same zone come first, since they keep
 * the zone layout as it is.
 */
function fixWrap(pr: Problem, owners: Int32Array): void {
  const { Q, W, zoneOf } = pr;
  const memberOk = (p: number): boolean => {
    const m = owners[p] as number;
    for (let d = 1; d < W; d++) {
      if (owners[(p + d) % Q] === m || owners[(p - d + Q) % Q] === m) return false;
    }
    return true;
  };
  const zoneLineOk = (p: number): boolean => {
    const z = zoneOf[owners[p] as number];
    for (let d = 1; d < W; d++) {
      if (p - d >= 0 && zoneOf[owners[p - d] as number] === z) return false;
      if (p + d < Q && zoneOf[owners[p + d] as number] === z) return false;
    }
    return true;
  };
  for (let p = Q - W + 1; p < Q + W - 1; p++) {
    const a = p % Q;
    if (memberOk(a)) continue;
    const m = owners[a] as number;
    let done = false;
    for (const sameZone of [true, false]) {
      for (let c = 0; c < Q && !done; c++) {
        const o = owners[c] as number;
        if (o === m || (zoneOf[o] === zoneOf[m]) !== sameZone) continue;
        owners[a] = o;
        owners[c] = m;
        // Only the two moved members (and their zones) have new neighbours.
        if (memberOk(a) && memberOk(c) && (sameZone || (zoneLineOk(a) && zoneLineOk(c)))) done = true;
        else {
          owners[a] = m;
          owners[c] = o;
        }
      }
    }
  }
}
