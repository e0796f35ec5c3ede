/**
 * What the dispatcher records about every command, for INFO commandstats / latencystats,
 * SLOWLOG and the metrics endpoint: per command (subcommands as `name|sub`, like Redis) the
 * calls, total time, failed calls (error replies) and rejected calls (refused before running:
 * arity, authentication), and a latency histogram (HDR, hdr-histogram-js) in microseconds.
 * The slow log keeps the last commands slower than a threshold, Redis's way.
 */
import * as hdr from 'hdr-histogram-js';
import { limits } from '../limits.js';

export interface CommandStat {
  calls: number;
  usec: number;
  failed: number;
  rejected: number;
  readonly histogram: hdr.Histogram;
  /** pow2[i] counts latencies in (2^(i-1), 2^i] µs (pow2[0]: up to 1 µs), for LATENCY HISTOGRAM. */
  readonly pow2: Uint32Array;
}

function newHistogram(): hdr.Histogram {
  return hdr.build({
    lowestDiscernibleValue: 1,
    highestTrackableValue: limits.commandLatencyMaxUs,
    numberOfSignificantValueDigits: 2,
    useWebAssembly: false,
  });
}

/** Power-of-two latency buckets: 2^0 … 2^32 µs covers commandLatencyMaxUs (an hour). */
const POW2_BUCKETS = 33;

export class CommandStats {
  private readonly byName = new Map<string, CommandStat>();

  private entry(name: string): CommandStat {
    let e = this.byName.get(name);
    if (e === undefined) {
      // Names come from the command table (or "unknown"), so this map is bounded by it.
      e = { calls: 0, usec: 0, failed: 0, rejected: 0, histogram: newHistogram(), pow2: new Uint32Array(POW2_BUCKETS) };
      this.byName.set(name, e);
    }
    return e;
  }

  record(name: string, usec: number, failed: boolean): void {
    const e = this.entry(name);
    e.calls++;
    e.usec += usec;
    if (failed) e.failed++;
    const value = Math.min(Math.max(1, Math.round(usec)), limits.commandLatencyMaxUs);
    e.histogram.recordValue(value);
    // The smallest i with value <= 2^i.
    const i = value <= 1 ? 0 : 32 - Math.clz32(value - 1);
    e.pow2[Math.min(i, POW2_BUCKETS - 1)] = (e.pow2[Math.min(i, POW2_BUCKETS - 1)] as number) + 1;
  }

  reject(name: string): void {
    this.entry(name).rejected++;
  }

  entries(): ReadonlyMap<string, CommandStat> {
    return this.byName;
  }

  reset(): void {
    this.byName.clear();
  }
}

export interface SlowLogEntry {
  readonly id: number;
  readonly timestampS: number;
  readonly usec: number;
  readonly args: readonly string[];
  readonly addr: string;
  readonly name: string;
}

/** Redis's SLOWLOG: the newest first, at most `maxLen` entries, arguments shortened like Redis. */
export class SlowLog {
  private entries: SlowLogEntry[] = [];
  private nextId = 0;

  constructor(
    private thresholdUs: number,
    private maxLen: number,
  ) {}

  configure(thresholdUs: number, maxLen: number): void {
    this.thresholdUs = thresholdUs;
    this.maxLen = maxLen;
    if (this.entries.length > maxLen) this.entries.length = maxLen;
  }

  /** Record a command if it was slow enough (a negative threshold disables the log). */
  maybeAdd(usec: number, args: readonly Buffer[], addr: string, clientName: string | null): void {
    if (this.thresholdUs < 0 || usec < this.thresholdUs || this.maxLen === 0) return;
    const shown: string[] = [];
    const argc = Math.min(args.length, limits.slowlogArgsMax);
    for (let i = 0; i < argc; i++) {
      // The last slot says how many arguments were left out, as in Redis.
      if (argc < args.length && i === argc - 1) {
        shown.push(`... (${args.length - argc + 1} more arguments)`);
        break;
      }
      const a = args[i] as Buffer;
      shown.push(
        a.length > limits.slowlogArgBytesMax
          ? `${a.toString('latin1', 0, limits.slowlogArgBytesMax)}... (${a.length - limits.slowlogArgBytesMax} more bytes)`
          : a.toString('latin1'),
      );
    }
    this.entries.unshift({ id: this.nextId++, timestampS: Math.floor(Date.now() / 1000), usec: Math.round(usec), args: shown, addr, name: clientName ?? '' });
    if (this.entries.length > this.maxLen) this.entries.length = this.maxLen;
  }

  get(count: number): readonly SlowLogEntry[] {
    return this.entries.slice(0, count < 0 ? this.entries.length : count);
  }

  get length(): number {
    return this.entries.length;
  }

  reset(): void {
    this.entries = [];
  }
}
