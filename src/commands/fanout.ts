/**
 * Multi-key commands in a cluster: the keys of one command live on different replicas, so
 * the command is split into one single-key command per key, each dispatched as if the client
 * had sent it (routed to a replica of its key when this node is not one), and the per-key
 * replies are combined. The sub-commands run in parallel; the combination is in key order.
 * Like Redis Cluster across slots, a fanned-out command is not atomic.
 */
import { DynisError } from '../errors.js';
import { parseResp2Reply } from '../resp/reply-parser.js';
import { RawReply, type Reply } from '../resp/reply.js';
import type { CommandContext } from './context.js';

/** Run each single-key command; forwarded replies are parsed back into values. */
export async function fanOut(ctx: CommandContext, commands: Buffer[][]): Promise<Reply[]> {
  const lastCommand = ctx.client.lastCommand;
  const replies = await Promise.all(commands.map((argv) => ctx.server.dispatch(ctx, argv, 2)));
  ctx.client.lastCommand = lastCommand;
  return replies.map((r) => (r instanceof RawReply ? parseResp2Reply(r.bytes) : r));
}

/** The first error among replies, if any (a fanned-out command reports it instead of a result). */
export function firstError(replies: readonly Reply[]): DynisError | undefined {
  for (const r of replies) if (r instanceof DynisError) return r;
  return undefined;
}

/** Sum of integer replies, or the first error. */
export function sumReplies(replies: readonly Reply[]): Reply {
  const error = firstError(replies);
  if (error !== undefined) return error;
  let total = 0;
  for (const r of replies) total += typeof r === 'number' ? r : Number(r);
  return total;
}
