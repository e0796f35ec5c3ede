/**
 * Summary of a V8 CPU profile (node --cpu-prof): self time per function and per file.
 * The profile covers the main JavaScript thread only; RocksDB's own threads (reads, writes,
 * compaction, fsync) do not appear in it.
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';

interface ProfileNode {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number; columnNumber: number };
  hitCount?: number;
}

interface CpuProfile {
  nodes: ProfileNode[];
  samples: number[];
  timeDeltas: number[];
  startTime: number;
  endTime: number;
}

export interface ProfileEntry {
  readonly name: string;
  readonly where: string;
  readonly selfMs: number;
  /** Share of the non-idle samples. */
  readonly percent: number;
}

export interface ProfileSummary {
  readonly label: string;
  /** CPU microseconds per operation of the profiled process during the benchmark, by thread (from /proc). */
  threadUsPerOp?: { main: number; rocksdb: number; other: number };
  operations?: number;
  /** The redis-benchmark workload and test profiled. */
  workload?: string;
  test?: string;
  readonly durationMs: number;
  /** Share of samples in which the thread was idle (waiting for I/O). */
  readonly idlePercent: number;
  readonly top: ProfileEntry[];
  readonly byFile: ProfileEntry[];
}

function where(url: string, root: string): string {
  if (url === '') return '(native)';
  let p = url.startsWith('file://') ? url.slice('file://'.length) : url;
  if (p.startsWith(root)) p = path.relative(root, p);
  return p.replace(/^dist\//, '').replace(/^node_modules\//, '');
}

export function summarizeProfile(file: string, label: string, root: string, top: number): ProfileSummary {
  const prof = JSON.parse(readFileSync(file, 'utf8')) as CpuProfile;
  const byId = new Map(prof.nodes.map((n) => [n.id, n]));
  const selfUs = new Map<number, number>();
  // timeDeltas[i] is the time between sample i-1 and sample i; attribute it to sample i.
  for (let i = 0; i < prof.samples.length; i++) {
    const id = prof.samples[i] as number;
    selfUs.set(id, (selfUs.get(id) ?? 0) + Math.max(0, prof.timeDeltas[i] ?? 0));
  }
  const fn = new Map<string, { name: string; where: string; us: number }>();
  const files = new Map<string, number>();
  let idle = 0;
  let total = 0;
  for (const [id, us] of selfUs) {
    const node = byId.get(id);
    if (!node) continue;
    total += us;
    const { functionName, url, lineNumber } = node.callFrame;
    if (functionName === '(idle)') {
      idle += us;
      continue;
    }
    const w = url ? `${where(url, root)}:${lineNumber + 1}` : where(url, root);
    const name = functionName || '(anonymous)';
    const key = `${name}@${w}`;
    const e = fn.get(key) ?? { name, where: w, us: 0 };
    e.us += us;
    fn.set(key, e);
    const f = url ? where(url, root) : name.startsWith('(') ? name : '(native)';
    files.set(f, (files.get(f) ?? 0) + us);
  }
  const busy = Math.max(1, total - idle);
  const entries = (xs: Array<{ name: string; where: string; us: number }>): ProfileEntry[] =>
    xs
      .sort((a, b) => b.us - a.us)
      .slice(0, top)
      .map((e) => ({ name: e.name, where: e.where, selfMs: e.us / 1000, percent: (100 * e.us) / busy }));
  return {
    label,
    durationMs: (prof.endTime - prof.startTime) / 1000,
    idlePercent: total > 0 ? (100 * idle) / total : 0,
    top: entries([...fn.values()]),
    byFile: entries([...files].map(([f, us]) => ({ name: f, where: '', us }))),
  };
}
