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

  route(
    ctx: CommandContext,
    spec: CommandSpec,
    args: Buffer[],
    replyProtocol: Protocol,
    runHere: () => Reply | Promise<Reply>,
  ): Promise<Reply> | undefined {
    if (ctx.client.forwarded === true || !spec.flags.includes('write')) return undefined;
    const key = singleKey(spec, args);
    if (key === undefined) return undefined;
    const pref = this.kv.ring.preferenceList(this.kv.partitionOf(key));
    if (pref.includes(this.self)) return undefined;
    if (!pref.some((m) => this.forwarder.canForward(m))) return undefined; // sloppy quorum: coordinate here
    return this.forwardTo(pref, 0, replyProtocol, args, runHere);
  }

  /**
   * Forward to the first reachable replica from pref[from]. A forward that was never sent
   * (the connection was already gone) moves on to the next replica, or runs here when none is
   * left; one that may have reached the replica is reported, since running it twice is not
   * safe for every command (INCR, APPEND …).
   */
  private async forwardTo(pref: readonly string[], from: number, replyProtocol: Protocol, args: Buffer[], runHere: () => Reply | Promise<Reply>): Promise<Reply> {
    for (let i = from; i < pref.length; i++) {
      const target = pref[i] as string;
      if (!this.forwarder.canForward(target)) continue;
      this.stats.forwarded++;
      try {
        return new RawReply(await this.forwarder.forward(target, replyProtocol, args));
      } catch (err) {
        this.stats.forwardErrors++;
        if (!notSent(err)) return Errors.forwardFailed(target, err instanceof Error ? err.message : String(err));
      }
    }
    return runHere();
  }
}

/** True for errors raised before a request was written to the peer (safe to send elsewhere). */
export function notSent(err: unknown): boolean {
  if (!(err instanceof Error)) return false;
  return (
    err.name === 'PeerUnavailableError' ||
    err.message.startsWith("Stream isn't writeable") ||
    err.message === 'Connection is closed.'
  );
}
