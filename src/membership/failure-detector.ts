/**
 * Failure detection per peer (DESIGN.md §5): a phi-accrual detector, as in Hayashibara,
 * Défago, Yared, Katayama, "The φ Accrual Failure Detector" (2004), in the form Akka and
 * Cassandra use, plus a fast path.
 *
 *  - Every heartbeat (an answered ping or any answered request) records the interval since
 *    the previous one in a bounded window. phi(now) = -log10(P(next heartbeat later than
 *    now)), with the intervals modelled as a normal distribution whose standard deviation is
 *    at least `minStdDeviationMs` and whose mean includes `acceptablePauseMs` (a pause the
 *    detector must not mistake for a failure, e.g. a GC). A peer is *suspect* when phi is
 *    above `threshold`.
 *  - Fast path: a request that times out marks the peer suspect at once, so requests stop
 *    waiting on it without waiting for phi to climb. The next heartbeat clears it.
 *
 * Pure apart from the clock the caller passes in; no timers.
 */
import { limits } from '../limits.js';

export interface FailureDetectorOptions {
  readonly threshold: number;
  readonly minStdDeviationMs: number;
  readonly acceptablePauseMs: number;
  /** The interval assumed before any has been measured (the ping interval). */
  readonly firstIntervalMs: number;
  /** Longer intervals are outages, not the peer's rhythm: they are not recorded (as in Cassandra). */
  readonly maxIntervalMs?: number;
  readonly windowSize?: number;
}

interface PeerHistory {
  readonly intervals: Float64Array;
  count: number;
  next: number;
  sum: number;
  sumSquares: number;
  lastMs: number;
  /** Set by the fast path; cleared by the next heartbeat. */
  suspected: boolean;
}

export class FailureDetector {
  private readonly peers = new Map<string, PeerHistory>();
  private readonly windowSize: number;

  constructor(private readonly options: FailureDetectorOptions) {
    this.windowSize = options.windowSize ?? limits.failureDetectorWindow;
  }

  /** A sign of life from `peer` at `nowMs`. */
  heartbeat(peer: string, nowMs: number): void {
    let h = this.peers.get(peer);
    if (h === undefined) {
      h = { intervals: new Float64Array(this.windowSize), count: 0, next: 0, sum: 0, sumSquares: 0, lastMs: nowMs, suspected: false };
      this.peers.set(peer, h);
      this.add(h, this.options.firstIntervalMs);
    } else {
      const interval = nowMs - h.lastMs;
      // Two answers in one millisecond say nothing about the interval between heartbeats.
      if (interval > 0 && interval <= (this.options.maxIntervalMs ?? Number.POSITIVE_INFINITY)) this.add(h, interval);
      h.lastMs = Math.max(h.lastMs, nowMs);
    }
    h.suspected = false;
  }

  /** The fast path: a request to `peer` timed out. */
  suspect(peer: string, nowMs: number): void {
    const h = this.peers.get(peer);
    if (h === undefined) {
      this.peers.set(peer, {
        intervals: new Float64Array(this.windowSize),
        count: 0,
        next: 0,
        sum: 0,
        sumSquares: 0,
        lastMs: nowMs,
        suspected: true,
      });
      return;
    }
    h.suspected = true;
  }

  /** Forget a peer's history (it left the cluster, or reconnected: a new session starts afresh). */
  remove(peer: string): void {
    this.peers.delete(peer);
  }

  /** φ for `peer` at `nowMs`; 0 for a peer never heard of (it has had no chance to fail). */
  phi(peer: string, nowMs: number): number {
    const h = this.peers.get(peer);
    if (h === undefined || h.count === 0) return 0;
    const elapsed = nowMs - h.lastMs;
    const mean = h.sum / h.count + this.options.acceptablePauseMs;
    const variance = Math.max(0, h.sumSquares / h.count - (h.sum / h.count) ** 2);
    const std = Math.max(Math.sqrt(variance), this.options.minStdDeviationMs);
    // Akka's logistic approximation of the normal CDF's tail (error < 0.01%).
    const y = (elapsed - mean) / std;
    const e = Math.exp(-y * (1.5976 + 0.070566 * y * y));
    const pLater = elapsed > mean ? e / (1 + e) : 1 - 1 / (1 + e);
    return pLater <= 0 ? Number.POSITIVE_INFINITY : -Math.log10(pLater);
  }

  /** True when the peer should not be sent requests: φ above the threshold, or the fast path. */
  isSuspect(peer: string, nowMs: number): boolean {
    const h = this.peers.get(peer);
    if (h === undefined) return false;
    if (h.suspected) return true;
    return this.phi(peer, nowMs) > this.options.threshold;
  }

  private add(h: PeerHistory, interval: number): void {
    if (h.count === this.windowSize) {
      const old = h.intervals[h.next] as number;
      h.sum -= old;
      h.sumSquares -= old * old;
    } else {
      h.count++;
    }
    h.intervals[h.next] = interval;
    h.next = (h.next + 1) % this.windowSize;
    h.sum += interval;
    h.sumSquares += interval * interval;
  }
}
