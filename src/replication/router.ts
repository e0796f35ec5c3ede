/**
 * Write routing (DESIGN.md §4): a write of one key is coordinated by one of the key's
 * replicas. A node that is not one forwards the client's command to the first reachable
 * replica of the key's preference list (one hop) and relays its reply byte for byte; the
 * command runs there as if the client had sent it, and is never forwarded again. When no
 * replica is reachable, the write runs here and the coordinator hands it to stand-ins.
 * Reads are not routed: any node coordinates a quorum read (see coordinator.ts).
 * Commands naming several keys fan out per key (commands/fanout.ts) and come back here per key.
 */
import { Errors } from '../errors.js';
import type { CommandContext, CommandRouter } from '../commands/context.js';
import { singleKey, type CommandSpec } from '../commands/table.js';
import type { Protocol } from '../resp/encoder.js';
import { RawReply, type Reply } from '../resp/reply.js';
import type { KvService } from './coordinator.js';

export interface Forwarder {
  /** True when a command can be forwarded to `member` now. */
  canForward(member: string): boolean;
  /** Run a client command on `member`; resolves with the reply bytes in `protocol`. */
  forward(member: string, protocol: Protocol, args: readonly Buffer[]): Promise<Buffer>;
}

export interface RouterStats {
  forwarded: number;
  forwardErrors: number;
}

export class Router implements CommandRouter {
  readonly stats: RouterStats = { forwarded: 0, forwardErrors: 0 };

  constructor(
    private readonly kv: KvService,
    private readonly forwarder: Forwarder,
    private readonly self: string,
  ) {}

  route(ctx: CommandContext, spec: CommandSpec, args: Buffer[], replyProtocol: Protocol): Promise<Reply> | undefined {
    if (ctx.client.forwarded === true || !spec.flags.includes('write')) return undefined;
    const key = singleKey(spec, args);
    if (key === undefined) return undefined;
    const pref = this.kv.ring.preferenceList(this.kv.partitionOf(key));
    if (pref.includes(this.self)) return undefined;
    const target = pref.find((m) => this.forwarder.canForward(m));
    // No replica is reachable: this node coordinates the write itself (sloppy quorum).
    if (target === undefined) return undefined;
    this.stats.forwarded++;
    return this.forwarder.forward(target, replyProtocol, args).then(
      (bytes) => new RawReply(bytes),
      (err: unknown) => {
        this.stats.forwardErrors++;
        return Errors.forwardFailed(target, err instanceof Error ? err.message : String(err));
      },
    );
  }
}
