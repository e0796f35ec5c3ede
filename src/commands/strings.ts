/**
 * String commands (Redis's t_string.c) on the KV service. Every write is one `mutate` on the
 * key's coordinator, which takes the decision (NX/XX, GET, KEEPTTL, INCR's arithmetic) and the
 * new version atomically for that key. Option parsing follows Redis 7's
 * parseExtendedStringArgumentsOrReply and getExpireMillisecondsOrReply, error for error.
 */
import { DynisError, Errors } from '../errors.js';
import { limits } from '../limits.js';
import { NOT_READY, type MutationFn } from '../replication/coordinator.js';
import { OK, type Reply } from '../resp/reply.js';
import { fanOut, firstError } from './fanout.js';
import { resolveLive, type Sibling } from '../versions/dvv.js';
import { bigIntArg, INT64_MAX, INT64_MIN, parseInt64, upper } from './args.js';
import type { CommandContext } from './context.js';
import { ALL_KEYS, cmd, ONE_KEY, type CommandSpec } from './table.js';

const F_SET = 1 << 0;
const F_NX = 1 << 1;
const F_XX = 1 << 2;
const F_EX = 1 << 3;
const F_PX = 1 << 4;
const F_EXAT = 1 << 5;
const F_PXAT = 1 << 6;
const F_KEEPTTL = 1 << 7;
const F_GET = 1 << 8;
const F_PERSIST = 1 << 9;
const ANY_EXPIRE = F_EX | F_PX | F_EXAT | F_PXAT;

interface ExtendedOptions {
  flags: number;
  expire: Buffer | undefined;
}

/** Redis's parseExtendedStringArgumentsOrReply for SET (from argv[3]) and GETEX (from argv[2]). */
function parseExtended(args: Buffer[], forSet: boolean): ExtendedOptions {
  let flags = 0;
  let expire: Buffer | undefined;
  for (let j = forSet ? 3 : 2; j < args.length; j++) {
    const opt = upper(args[j] as Buffer);
    const next = j === args.length - 1 ? undefined : args[j + 1];
    if (opt === 'NX' && forSet && !(flags & F_XX)) flags |= F_NX;
    else if (opt === 'XX' && forSet && !(flags & F_NX)) flags |= F_XX;
    else if (opt === 'GET' && forSet) flags |= F_GET;
    else if (opt === 'KEEPTTL' && forSet && !(flags & (F_PERSIST | ANY_EXPIRE))) flags |= F_KEEPTTL;
    else if (opt === 'PERSIST' && !forSet && !(flags & (ANY_EXPIRE | F_KEEPTTL))) flags |= F_PERSIST;
    else if (opt === 'EX' && !(flags & (F_KEEPTTL | F_PERSIST | F_EXAT | F_PX | F_PXAT)) && next) {
      flags |= F_EX;
      expire = next;
      j++;
    } else if (opt === 'PX' && !(flags & (F_KEEPTTL | F_PERSIST | F_EX | F_EXAT | F_PXAT)) && next) {
      flags |= F_PX;
      expire = next;
      j++;
    } else if (opt === 'EXAT' && !(flags & (F_KEEPTTL | F_PERSIST | F_EX | F_PX | F_PXAT)) && next) {
      flags |= F_EXAT;
      expire = next;
      j++;
    } else if (opt === 'PXAT' && !(flags & (F_KEEPTTL | F_PERSIST | F_EX | F_EXAT | F_PX)) && next) {
      flags |= F_PXAT;
      expire = next;
      j++;
    } else throw Errors.syntax();
  }
  return { flags, expire };
}

/** Redis's getExpireMillisecondsOrReply: the absolute expiry in ms. */
function expireAtMs(arg: Buffer, flags: number, commandName: string, nowMs: number): number {
  let ms = bigIntArg(arg);
  const seconds = (flags & (F_EX | F_EXAT)) !== 0;
  if (ms <= 0n || (seconds && ms > INT64_MAX / 1000n)) throw Errors.invalidExpire(commandName);
  if (seconds) ms *= 1000n;
  if (flags & (F_EX | F_PX)) ms += BigInt(nowMs);
  if (ms <= 0n || ms > INT64_MAX) throw Errors.invalidExpire(commandName);
  // Beyond 2^53 ms (285,000 years) a JS number loses precision; clamp to a far future instead.
  return ms > BigInt(Number.MAX_SAFE_INTEGER) ? Number.MAX_SAFE_INTEGER : Number(ms);
}

function checkValueSize(ctx: CommandContext, bytes: number): void {
  if (bytes > ctx.server.config.protoMaxBulkLen) {
    throw new DynisError('ERR', 'string exceeds maximum allowed size (proto-max-bulk-len)');
  }
}

interface SetSpec {
  readonly flags: number;
  readonly value: Buffer;
  readonly expireAt: number;
  /** Reply when the write happened / was skipped (SETNX answers 1/0 instead of OK/nil). */
  readonly okReply?: Reply;
  readonly abortReply?: Reply;
}

/** Redis's setGenericCommand: SET, SETNX, SETEX, PSETEX, GETSET share it. */
function setGeneric(ctx: CommandContext, key: Buffer, spec: SetSpec): Promise<Reply> {
  const { flags, value, expireAt } = spec;
  const fn: MutationFn<Reply> = (current, now) => {
    const winner = resolveLive(current, now);
    const old: Reply = flags & F_GET ? (winner?.value ?? null) : null;
    if ((flags & F_NX && winner !== undefined) || (flags & F_XX && winner === undefined)) {
      return { result: flags & F_GET ? old : (spec.abortReply ?? null) };
    }
    const keep = flags & F_KEEPTTL ? (winner?.expireAt ?? 0) : expireAt;
    return { write: { value, expireAt: keep }, result: flags & F_GET ? old : (spec.okReply ?? OK) };
  };
  // A plain SET does not depend on the current value (its context is the coordinator's local
  // join, so a stale local copy makes a sibling, never a lost write); NX/XX/GET/KEEPTTL do.
  const fresh = (flags & (F_NX | F_XX | F_GET | F_KEEPTTL)) !== 0;
  return ctx.server.kv.mutate(key, fn, { fresh });
}

function setCommand(ctx: CommandContext, args: Buffer[]): Promise<Reply> {
  const { flags, expire } = parseExtended(args, true);
  const expireAt = expire ? expireAtMs(expire, flags, 'set', ctx.server.kv.now()) : 0;
  return setGeneric(ctx, args[1] as Buffer, { flags: flags | F_SET, value: args[2] as Buffer, expireAt });
}

function getCommand(ctx: CommandContext, args: Buffer[]): Reply | Promise<Reply> {
  const key = args[1] as Buffer;
  const now = ctx.server.kv.getNow(key);
  if (now !== NOT_READY) {
    countHit(ctx, now);
    return now?.value ?? null;
  }
  return ctx.server.kv.get(key).then((winner) => {
    countHit(ctx, winner);
    return winner?.value ?? null;
  });
}

function countHit(ctx: CommandContext, winner: Sibling | undefined): void {
  if (winner === undefined) ctx.server.stats.keyspaceMisses++;
  else ctx.server.stats.keyspaceHits++;
}

function getexCommand(ctx: CommandContext, args: Buffer[]): Promise<Reply> {
  const { flags, expire } = parseExtended(args, false);
  const now = ctx.server.kv.now();
  const when = expire ? expireAtMs(expire, flags, 'getex', now) : 0;
  return ctx.server.kv.mutate<Reply>(args[1] as Buffer, (current, nowMs) => {
    const winner = resolveLive(current, nowMs);
    if (winner === undefined) return { result: null };
    const value = winner.value as Buffer;
    if (expire !== undefined) {
      // An expiry in the past deletes the key, like Redis's checkAlreadyExpired.
      if (when <= nowMs) return { write: { value: null, expireAt: 0 }, result: value };
      return { write: { value, expireAt: when }, result: value };
    }
    if (flags & F_PERSIST && winner.expireAt !== 0) return { write: { value, expireAt: 0 }, result: value };
    return { result: value };
  });
}

function getdelCommand(ctx: CommandContext, args: Buffer[]): Promise<Reply> {
  return ctx.server.kv.mutate<Reply>(args[1] as Buffer, (current, now) => {
    const winner = resolveLive(current, now);
    if (winner === undefined) return { result: null };
    return { write: { value: null, expireAt: 0 }, result: winner.value };
  });
}

function appendCommand(ctx: CommandContext, args: Buffer[]): Promise<Reply> {
  const tail = args[2] as Buffer;
  return ctx.server.kv.mutate<Reply>(args[1] as Buffer, (current, now) => {
    const winner = resolveLive(current, now);
    const head = (winner?.value as Buffer | undefined) ?? Buffer.alloc(0);
    checkValueSize(ctx, head.length + tail.length);
    const value = Buffer.concat([head, tail]);
    return { write: { value, expireAt: winner?.expireAt ?? 0 }, result: value.length };
  });
}

async function strlenCommand(ctx: CommandContext, args: Buffer[]): Promise<Reply> {
  const winner = await ctx.server.kv.get(args[1] as Buffer);
  return winner === undefined ? 0 : (winner.value as Buffer).length;
}

/**
 * INCR family: a read-modify-write at the key's coordinator. Under concurrent writers through
 * different coordinators two increments can become siblings and GET keeps one (documented in
 * README: counters are not conflict-free yet).
 */
function incrDecr(ctx: CommandContext, key: Buffer, by: bigint): Promise<Reply> {
  return ctx.server.kv.mutate<Reply>(key, (current, now) => {
    const winner = resolveLive(current, now);
    let base = 0n;
    if (winner !== undefined) {
      const parsed = parseInt64(winner.value as Buffer);
      if (parsed === undefined) throw Errors.notInteger();
      base = parsed;
    }
    const next = base + by;
    if (next > INT64_MAX || next < INT64_MIN) throw Errors.overflow();
    return { write: { value: Buffer.from(next.toString()), expireAt: winner?.expireAt ?? 0 }, result: next };
  });
}

async function mgetCommand(ctx: CommandContext, args: Buffer[]): Promise<Reply> {
  const { kv } = ctx.server;
  const winners = await Promise.all(args.slice(1).map((k) => kv.get(k)));
  return winners.map((w) => {
    countHit(ctx, w);
    return w?.value ?? null;
  });
}

/** SET k v per pair, fanned out (commands/fanout.ts): OK, or the first error. */
async function setPairs(ctx: CommandContext, args: Buffer[]): Promise<Reply> {
  if (args.length === 3) return setGeneric(ctx, args[1] as Buffer, { flags: F_SET, value: args[2] as Buffer, expireAt: 0 });
  const commands: Buffer[][] = [];
  for (let i = 1; i < args.length; i += 2) commands.push([SET_NAME, args[i] as Buffer, args[i + 1] as Buffer]);
  return firstError(await fanOut(ctx, commands)) ?? OK;
}

const SET_NAME = Buffer.from('SET');

function msetCommand(ctx: CommandContext, args: Buffer[]): Promise<Reply> {
  if (args.length % 2 === 0) throw Errors.wrongArity('mset');
  return setPairs(ctx, args);
}

/**
 * MSETNX: set all keys only if none exists. The check and the writes are separate steps, so
 * concurrent writers of the same keys can interleave (documented); a single client sees
 * Redis's semantics.
 */
async function msetnxCommand(ctx: CommandContext, args: Buffer[]): Promise<Reply> {
  if (args.length % 2 === 0) throw Errors.wrongArity('msetnx');
  const { kv } = ctx.server;
  const keys: Buffer[] = [];
  for (let i = 1; i < args.length; i += 2) keys.push(args[i] as Buffer);
  const existing = await Promise.all(keys.map((k) => kv.get(k)));
  if (existing.some((w) => w !== undefined)) return 0;
  const result = await setPairs(ctx, args);
  return result === OK ? 1 : result;
}

function checkKeyCount(args: Buffer[]): void {
  if (args.length - 1 > limits.keysPerCommandMax) {
    throw new DynisError('ERR', `too many keys (at most ${limits.keysPerCommandMax} per command)`);
  }
}

export const stringCommands: CommandSpec[] = [
  cmd('get', 2, ['readonly', 'fast'], ONE_KEY, getCommand),
  cmd('set', -3, ['write', 'denyoom'], ONE_KEY, setCommand),
  cmd('setnx', 3, ['write', 'denyoom', 'fast'], ONE_KEY, (ctx, args) =>
    setGeneric(ctx, args[1] as Buffer, { flags: F_SET | F_NX, value: args[2] as Buffer, expireAt: 0, okReply: 1, abortReply: 0 }),
  ),
  cmd('setex', 4, ['write', 'denyoom'], ONE_KEY, (ctx, args) => {
    const expireAt = expireAtMs(args[2] as Buffer, F_EX, 'setex', ctx.server.kv.now());
    return setGeneric(ctx, args[1] as Buffer, { flags: F_SET, value: args[3] as Buffer, expireAt });
  }),
  cmd('psetex', 4, ['write', 'denyoom'], ONE_KEY, (ctx, args) => {
    const expireAt = expireAtMs(args[2] as Buffer, F_PX, 'psetex', ctx.server.kv.now());
    return setGeneric(ctx, args[1] as Buffer, { flags: F_SET, value: args[3] as Buffer, expireAt });
  }),
  cmd('getset', 3, ['write', 'denyoom', 'fast'], ONE_KEY, (ctx, args) =>
    setGeneric(ctx, args[1] as Buffer, { flags: F_SET | F_GET, value: args[2] as Buffer, expireAt: 0 }),
  ),
  cmd('getdel', 2, ['write', 'fast'], ONE_KEY, getdelCommand),
  cmd('getex', -2, ['write', 'fast'], ONE_KEY, getexCommand),
  cmd('append', 3, ['write', 'denyoom', 'fast'], ONE_KEY, appendCommand),
  cmd('strlen', 2, ['readonly', 'fast'], ONE_KEY, strlenCommand),
  cmd('incr', 2, ['write', 'denyoom', 'fast'], ONE_KEY, (ctx, args) => incrDecr(ctx, args[1] as Buffer, 1n)),
  cmd('decr', 2, ['write', 'denyoom', 'fast'], ONE_KEY, (ctx, args) => incrDecr(ctx, args[1] as Buffer, -1n)),
  cmd('incrby', 3, ['write', 'denyoom', 'fast'], ONE_KEY, (ctx, args) =>
    incrDecr(ctx, args[1] as Buffer, bigIntArg(args[2] as Buffer)),
  ),
  cmd('decrby', 3, ['write', 'denyoom', 'fast'], ONE_KEY, (ctx, args) => {
    const by = bigIntArg(args[2] as Buffer);
    // Negating INT64_MIN overflows, as Redis 7 reports.
    if (by === INT64_MIN) throw new DynisError('ERR', 'decrement would overflow');
    return incrDecr(ctx, args[1] as Buffer, -by);
  }),
  cmd('mget', -2, ['readonly', 'fast'], ALL_KEYS, (ctx, args) => {
    checkKeyCount(args);
    return mgetCommand(ctx, args);
  }),
  cmd('mset', -3, ['write', 'denyoom'], [1, -1, 2], (ctx, args) => {
    checkKeyCount(args);
    return msetCommand(ctx, args);
  }),
  cmd('msetnx', -3, ['write', 'denyoom'], [1, -1, 2], (ctx, args) => {
    checkKeyCount(args);
    return msetnxCommand(ctx, args);
  }),
];

export { checkKeyCount };
