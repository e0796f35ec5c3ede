/**
 * The causal commands. VGET returns every live sibling and the context that covers them;
 * VSET writes with the context a client read, so the siblings it saw are replaced and
 * anything written concurrently stays beside it (DESIGN.md §3).
 *
 *   VGET key [R r]               → [context, [value, …]]
 *   VSET key context value [W w] → OK     (context "" = none: a new sibling if the key exists)
 */
import { DynisError, Errors } from '../errors.js';
import { OK, type Reply } from '../resp/reply.js';
import { DecodeError } from '../util/bytes.js';
import { contextOf, liveValues } from '../versions/dvv.js';
import { decodeContext, encodeContext } from '../versions/sibling-set.js';
import { intArg, isWord } from './args.js';
import type { CommandContext } from './context.js';
import { cmd, ONE_KEY, type CommandSpec } from './table.js';

/** Parse an optional trailing `R r` / `W w`, checked against N. */
function quorumOption(ctx: CommandContext, args: Buffer[], from: number, word: 'R' | 'W'): number | undefined {
  if (args.length === from) return undefined;
  if (args.length !== from + 2 || !isWord(args[from], word)) throw Errors.syntax();
  const q = intArg(args[from + 1] as Buffer);
  const { n } = ctx.server.config;
  if (q < 1 || q > n) throw new DynisError('ERR', `${word} must be between 1 and N (${n})`);
  return q;
}

async function vgetCommand(ctx: CommandContext, args: Buffer[]): Promise<Reply> {
  const r = quorumOption(ctx, args, 2, 'R');
  const set = await ctx.server.kv.read(args[1] as Buffer, r);
  return [encodeContext(contextOf(set)), liveValues(set, ctx.server.kv.now())];
}

async function vsetCommand(ctx: CommandContext, args: Buffer[]): Promise<Reply> {
  const w = quorumOption(ctx, args, 4, 'W');
  let context;
  try {
    context = decodeContext(args[2] as Buffer);
  } catch (err) {
    if (err instanceof DecodeError) throw Errors.badContext(err.message);
    throw err;
  }
  await ctx.server.kv.putWithContext(args[1] as Buffer, context, args[3] as Buffer, 0, w);
  return OK;
}

export const vCommands: CommandSpec[] = [
  cmd('vget', -2, ['readonly', 'fast'], ONE_KEY, vgetCommand),
  cmd('vset', -4, ['write', 'denyoom'], ONE_KEY, vsetCommand),
];
