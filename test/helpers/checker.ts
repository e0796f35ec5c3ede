/**
 * The fault-test checker (issue: "a checker drives a write workload, injects the fault, heals
 * it, waits for convergence, then proves ..."):
 *
 *  - Workload: writers, each owning its own keys and writing them one operation at a time
 *    (SET with a unique value, now and then DEL) through a node of its choosing; every reply
 *    is recorded as acknowledged, failed (an error reply) or unknown (no reply).
 *  - Convergence: every replica of every key (per DYN.KEYINFO, which reads only the local
 *    replica and repairs nothing) holds the same set (equal digests), and no hints are
 *    pending anywhere.
 *  - Proofs: for each key, the value read is the last acknowledged write or a write issued
 *    after it (a failed or unknown write may have been applied); a key whose last
 *    acknowledged operation was DEL reads as absent unless a later write may have been
 *    applied (no deleted key came back); and every acknowledged write is accounted for that
 *    way (nothing acknowledged is lost).
 */
import { Redis } from 'ioredis';
import type { TestCluster } from './cluster.js';

export interface Op {
  readonly key: string;
  /** The value written, or null for DEL. */
  readonly value: string | null;
  outcome: 'pending' | 'ack' | 'failed';
  error?: string;
}

export interface WorkloadOptions {
  /** Members the writers talk to (one writer per entry, round robin over them). */
  readonly via: readonly number[];
  readonly keysPerWriter: number;
  /** Fraction of operations that are DEL. */
  readonly delRatio?: number;
  readonly prefix?: string;
}

export class Workload {
  readonly ops: Op[] = [];
  private running = true;
  private readonly done: Promise<void>;
  private readonly clients: Redis[] = [];

  constructor(
    private readonly cluster: TestCluster,
    private readonly options: WorkloadOptions,
  ) {
    this.done = Promise.all(options.via.map((member, w) => this.writer(member, w))).then(() => undefined);
  }

  private async writer(member: number, w: number): Promise<void> {
    // Fail fast and never retry: the checker must see exactly what the store answered.
    const m = this.cluster.members[member]!;
    const client = new Redis({
      host: m.host,
      port: m.port,
      ...(this.cluster.password ? { password: this.cluster.password } : {}),
      maxRetriesPerRequest: 0,
      enableOfflineQueue: false,
      retryStrategy: () => 100,
      lazyConnect: true,
    });
    client.on('error', () => undefined);
    this.clients.push(client);
    await client.connect();
    const prefix = this.options.prefix ?? 'ck';
    let n = 0;
    while (this.running) {
      const key = `${prefix}:w${w}:k${n % this.options.keysPerWriter}`;
      const del = n > this.options.keysPerWriter && Math.random() < (this.options.delRatio ?? 0.1);
      const op: Op = { key, value: del ? null : `w${w}-${n}`, outcome: 'pending' };
      this.ops.push(op);
      n++;
      try {
        await (del ? client.del(key) : client.set(key, op.value as string));
        op.outcome = 'ack';
      } catch (err) {
        op.outcome = 'failed';
        op.error = err instanceof Error ? err.message : String(err);
        await new Promise((r) => setTimeout(r, 20));
      }
    }
  }

  async stop(): Promise<void> {
    this.running = false;
    await this.done;
    for (const c of this.clients) c.disconnect();
  }

  acknowledged(): number {
    return this.ops.filter((o) => o.outcome === 'ack').length;
  }

  failures(): Op[] {
    return this.ops.filter((o) => o.outcome === 'failed');
  }

  keys(): string[] {
    return [...new Set(this.ops.map((o) => o.key))];
  }

  /**
   * The values a key may read as: the last acknowledged operation's value (null = absent),
   * and those of every operation issued after it (not acknowledged, so maybe applied).
   */
  allowed(key: string): Set<string | null> {
    const ops = this.ops.filter((o) => o.key === key);
    let last = -1;
    ops.forEach((o, i) => {
      if (o.outcome === 'ack') last = i;
    });
    const out = new Set<string | null>();
    out.add(last >= 0 ? (ops[last] as Op).value : null);
    for (let i = last + 1; i < ops.length; i++) out.add((ops[i] as Op).value);
    return out;
  }
}

interface KeyInfo {
  preferenceList: string[];
  stored: boolean;
  digest: string;
}

export async function keyInfo(client: Redis, key: string): Promise<KeyInfo> {
  const flat = (await client.call('DYN.KEYINFO', key)) as unknown[];
  const m = new Map<string, unknown>();
  for (let i = 0; i < flat.length; i += 2) m.set(String(flat[i]), flat[i + 1]);
  return {
    preferenceList: (m.get('preference-list') as unknown[]).map(String),
    stored: Number(m.get('stored')) === 1,
    digest: String(m.get('digest') ?? ''),
  };
}

/** Keys whose replicas do not (yet) hold the same set, with the reason. */
export async function divergent(cluster: TestCluster, clients: Redis[], keys: readonly string[]): Promise<string[]> {
  const out: string[] = [];
  for (const key of keys) {
    const first = await keyInfo(clients[0] as Redis, key);
    const digests = new Set<string>();
    for (const id of first.preferenceList) {
      const i = cluster.members.findIndex((m) => m.id === id);
      digests.add((await keyInfo(clients[i] as Redis, key)).digest);
    }
    if (digests.size !== 1) out.push(`${key}: ${[...digests].join(' ')}`);
  }
  return out;
}

/** Pending hints on every running member. */
export async function hintsPending(clients: Redis[], cluster?: TestCluster): Promise<number> {
  let total = 0;
  for (const [i, c] of clients.entries()) {
    const child = cluster?.members[i]?.proc?.child;
    if (child !== undefined && (child.exitCode !== null || child.signalCode !== null)) continue;
    total += Number(/hints_pending:(\d+)/.exec(await c.info('ring'))?.[1] ?? 0);
  }
  return total;
}

/** Wait until no hint is pending and every key's replicas agree. */
export async function waitForConvergence(cluster: TestCluster, clients: Redis[], keys: readonly string[], timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let last = '';
  for (;;) {
    const pending = await hintsPending(clients, cluster);
    const apart = pending === 0 ? await divergent(cluster, clients, keys) : [];
    if (pending === 0 && apart.length === 0) return;
    last = pending > 0 ? `${pending} hints pending` : `${apart.length} keys differ, e.g. ${apart.slice(0, 3).join('; ')}`;
    if (Date.now() > deadline) throw new Error(`replicas did not converge within ${timeoutMs} ms: ${last}`);
    await new Promise((r) => setTimeout(r, 200));
  }
}

/** The proofs: every key reads as allowed by the acknowledged history (no loss, no resurrection). */
export async function checkHistory(workload: Workload, client: Redis): Promise<void> {
  const problems: string[] = [];
  for (const key of workload.keys()) {
    const allowed = workload.allowed(key);
    const got = await client.get(key);
    if (!allowed.has(got)) {
      const ops = workload.ops.filter((o) => o.key === key).slice(-4);
      problems.push(`${key} reads ${JSON.stringify(got)}, allowed ${JSON.stringify([...allowed])}; last ops ${JSON.stringify(ops)}`);
    }
  }
  if (problems.length > 0) throw new Error(`${problems.length} keys violate the history:\n${problems.slice(0, 10).join('\n')}`);
}
