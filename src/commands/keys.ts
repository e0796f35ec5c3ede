/**
 * Generic key commands (Redis's db.c and expire.c): DEL, EXISTS, TYPE, the TTL family, SCAN
 * and KEYS. Deletes write tombstones through the coordinator; expiry lives in the sibling.
 */
import { DynisError, Errors } from '../errors.js';
import { limits } from '../limits.js';
import { SimpleString, type Reply } from '../resp/reply.js';
import { resolveLive } from '../versions/dvv.js';
import { bigIntArg, globToRegExp, INT64_MAX, INT64_MIN, upper } from './args.js';
import type { CommandContext } from './context.js';
import { fanOut, sumReplies } from './fanout.js';
import { checkKeyCount } from './strings.js';
import { ALL_KEYS, cmd, NO_KEYS, ONE_KEY, type CommandSpec } from './table.js';

function deleteKey(ctx: CommandContext, key: Buffer): Promise<number> {
  return ctx.server.kv.mutate<number>(key, (current, now) => {
    if (resolveLive(current, now) === undefined) return { result: 0 };
    return { write: { value: null, expireAt: 0 }, result: 1 };
  });
}

async function delCommand(ctx: CommandContext, args: Buffer[]): Promise<Reply> {
  checkKeyCount(args);
  if (args.length === 2) return deleteKey(ctx, args[1] as Buffer);
  const name = args[0] as Buffer;
  return sumReplies(await fanOut(ctx, args.slice(1).map((k) => [name, k])));
}

async function existsCommand(ctx: CommandContext, args: Buffer[]): Promise<Reply> {
  checkKeyCount(args);
  const { kv } = ctx.server;
  const winners = await Promise.all(args.slice(1).map((k) => kv.get(k)));
  return winners.filter((w) => w !== undefined).length;
}

async function typeCommand(ctx: CommandContext, args: Buffer[]): Promise<Reply> {
  const winner = await ctx.server.kv.get(args[1] as Buffer);
  return new SimpleString(winner === undefined ? 'none' : 'string');
}

async function ttlGeneric(ctx: CommandContext, key: Buffer, ms: boolean, absolute: boolean): Promise<Reply> {
  const winner = await ctx.server.kv.get(key);
  if (winner === undefined) return -2;
  if (winner.expireAt === 0) return -1;
  if (absolute) return ms ? winner.expireAt : Math.floor(winner.expireAt / 1000);
  const left = Math.max(0, winner.expireAt - ctx.server.kv.now());
  return ms ? left : Math.floor((left + 500) / 1000);
}

const EXPIRE_NX = 1;
const EXPIRE_XX = 2;
const EXPIRE_GT = 4;
const EXPIRE_LT = 8;

/** Redis 7's expireGenericCommand: EXPIRE, PEXPIRE, EXPIREAT, PEXPIREAT with NX|XX|GT|LT. */
function expireGeneric(ctx: CommandContext, args: Buffer[], name: string, baseMs: number, seconds: boolean): Promise<Reply> {
  let flags = 0;
  for (let j = 3; j < args.length; j++) {
    const opt = upper(args[j] as Buffer);
    if (opt === 'NX') flags |= EXPIRE_NX;
    else if (opt === 'XX') flags |= EXPIRE_XX;
    else if (opt === 'GT') flags |= EXPIRE_GT;
    else if (opt === 'LT') flags |= EXPIRE_LT;
    else throw new DynisError('ERR', `Unsupported option ${(args[j] as Buffer).toString('utf8')}`);
  }
  if (flags & EXPIRE_NX && flags & (EXPIRE_XX | EXPIRE_GT | EXPIRE_LT)) {
    throw new DynisError('ERR', 'NX and XX, GT or LT options at the same time are not compatible');
  }
  if (flags & EXPIRE_GT && flags & EXPIRE_LT) {
    throw new DynisError('ERR', 'GT and LT options at the same time are not compatible');
  }
  let when = bigIntArg(args[2] as Buffer);
  if (seconds) {
    if (when > INT64_MAX / 1000n || when < INT64_MIN / 1000n) throw Errors.invalidExpire(name);
    when *= 1000n;
  }
  const base = BigInt(baseMs);
  if (when > INT64_MAX - base) throw Errors.invalidExpire(name);
  when += base;
  const whenMs = when > BigInt(Number.MAX_SAFE_INTEGER) ? Number.MAX_SAFE_INTEGER : Number(when < -1n ? -1n : when);
  return ctx.server.kv.mutate<Reply>(args[1] as Buffer, (current, now) => {
    const winner = resolveLive(current, now);
    if (winner === undefined) return { result: 0 };
    const cur = winner.expireAt === 0 ? -1 : winner.expireAt;
    if (flags & EXPIRE_NX && cur !== -1) return { result: 0 };
    if (flags & EXPIRE_XX && cur === -1) return { result: 0 };
    if (flags & EXPIRE_GT && (cur === -1 || whenMs <= cur)) return { result: 0 };
    if (flags & EXPIRE_LT && cur !== -1 && whenMs >= cur) return { result: 0 };
    // An expiry at or before now deletes the key (Redis's checkAlreadyExpired).
    if (whenMs <= now) return { write: { value: null, expireAt: 0 }, result: 1 };
    return { write: { value: winner.value, expireAt: whenMs }, result: 1 };
  });
}

function persistCommand(ctx: CommandContext, args: Buffer[]): Promise<Reply> {
  return ctx.server.kv.mutate<Reply>(args[1] as Buffer, (current, now) => {
    const winner = resolveLive(current, now);
    if (winner === undefined || winner.expireAt === 0) return { result: 0 };
    return { write: { value: winner.value, expireAt: 0 }, result: 1 };
  });
}

/**
 * SCAN cursor [MATCH pattern] [COUNT count] [TYPE type]. The cursor is a position in the
 * ring's key order (partition and key hash, see storage/key-layout.ts), so it needs no
 * server-side state, survives restarts, and never skips a key that exists for the whole
 * iteration. It stays below 2^53 so clients that parse it as a number keep it exact.
 */
async function scanCommand(ctx: CommandContext, args: Buffer[]): Promise<Reply> {
  const cursorText = (args[1] as Buffer).toString('latin1');
  if (!/^\d+$/.test(cursorText) || BigInt(cursorText) > 18446744073709551615n) {
    throw new DynisError('ERR', 'invalid cursor');
  }
  let count = 10;
  let match: RegExp | undefined;
  let type: string | undefined;
  for (let j = 2; j < args.length; j++) {
    const opt = upper(args[j] as Buffer);
    const next = args[j + 1];
    if (opt === 'COUNT' && next !== undefined) {
      const n = bigIntArg(next);
      if (n < 1n) throw Errors.syntax();
      count = Number(n > BigInt(limits.scanCountMax) ? BigInt(limits.scanCountMax) : n);
      j++;
    } else if (opt === 'MATCH' && next !== undefined) {
      const pattern = next.toString('latin1');
      match = pattern === '*' ? undefined : globToRegExp(pattern);
      j++;
    } else if (opt === 'TYPE' && next !== undefined) {
      type = next.toString('latin1').toLowerCase();
      j++;
    } else throw Errors.syntax();
  }
  const position = Number(BigInt(cursorText));
  const page = await ctx.server.kv.scan(position, count);
  const now = ctx.server.kv.now();
  const keys: Buffer[] = [];
  for (const entry of page.entries) {
    if (resolveLive(entry.set, now) === undefined) continue;
    if (type !== undefined && type !== 'string') continue;
    if (match !== undefined && !match.test(entry.key.toString('latin1'))) continue;
    keys.push(entry.key);
  }
  return [String(page.next), keys];
}

async function keysCommand(ctx: CommandContext, args: Buffer[]): Promise<Reply> {
  const pattern = (args[1] as Buffer).toString('latin1');
  const match = pattern === '*' ? undefined : globToRegExp(pattern);
  const out: Buffer[] = [];
  const now = ctx.server.kv.now();
  let position = 0;
  do {
    const page = await ctx.server.kv.scan(position, 1000);
    for (const entry of page.entries) {
      if (resolveLive(entry.set, now) === undefined) continue;
      if (match !== undefined && !match.test(entry.key.toString('latin1'))) continue;
      out.push(entry.key);
      if (out.length > limits.keysReplyMax) {
        throw new DynisError('ERR', `KEYS would return more than ${limits.keysReplyMax} keys; use SCAN`);
      }
    }
    position = page.next;
  } while (position !== 0);
  return out;
}

export const keyCommands: CommandSpec[] = [
  cmd('del', -2, ['write'], ALL_KEYS, delCommand),
  cmd('unlink', -2, ['write', 'fast'], ALL_KEYS, delCommand),
  cmd('exists', -2, ['readonly', 'fast'], ALL_KEYS, existsCommand),
  cmd('type', 2, ['readonly', 'fast'], ONE_KEY, typeCommand),
  cmd('ttl', 2, ['readonly', 'random', 'fast'], ONE_KEY, (ctx, args) => ttlGeneric(ctx, args[1] as Buffer, false, false)),
  cmd('pttl', 2, ['readonly', 'random', 'fast'], ONE_KEY, (ctx, args) => ttlGeneric(ctx, args[1] as Buffer, true, false)),
  cmd('expiretime', 2, ['readonly', 'fast'], ONE_KEY, (ctx, args) => ttlGeneric(ctx, args[1] as Buffer, false, true)),
  cmd('pexpiretime', 2, ['readonly', 'fast'], ONE_KEY, (ctx, args) => ttlGeneric(ctx, args[1] as Buffer, true, true)),
  cmd('expire', -3, ['write', 'fast'], ONE_KEY, (ctx, args) => expireGeneric(ctx, args, 'expire', ctx.server.kv.now(), true)),
  cmd('pexpire', -3, ['write', 'fast'], ONE_KEY, (ctx, args) => expireGeneric(ctx, args, 'pexpire', ctx.server.kv.now(), false)),
  cmd('expireat', -3, ['write', 'fast'], ONE_KEY, (ctx, args) => expireGeneric(ctx, args, 'expireat', 0, true)),
  cmd('pexpireat', -3, ['write', 'fast'], ONE_KEY, (ctx, args) => expireGeneric(ctx, args, 'pexpireat', 0, false)),
  cmd('persist', 2, ['write', 'fast'], ONE_KEY, persistCommand),
  cmd('scan', -2, ['readonly'], NO_KEYS, scanCommand),
  cmd('keys', 2, ['readonly'], NO_KEYS, keysCommand),
];
