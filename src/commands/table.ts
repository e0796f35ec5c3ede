/**
 * The declarative command table and the dispatcher (Redis's `processCommand`): look the
 * command up, check arity, then authentication, then run the handler. Handlers never repeat
 * these checks. Error texts are Redis 7's.
 */
import { DynisError, Errors, truncateForError } from '../errors.js';
import type { Protocol } from '../resp/encoder.js';
import type { Reply } from '../resp/reply.js';
import type { CommandContext } from './context.js';

export type Handler = (ctx: CommandContext, args: Buffer[]) => Reply | Promise<Reply>;

export type CommandFlag =
  | 'write'
  | 'readonly'
  | 'denyoom'
  | 'admin'
  | 'pubsub'
  | 'noscript'
  | 'random'
  | 'loading'
  | 'stale'
  | 'fast'
  | 'no_auth'
  | 'allow_busy';

export interface CommandSpec {
  /** Lower-case name; for a subcommand, the subcommand alone (e.g. "setname"). */
  readonly name: string;
  /** Positive: exactly this many arguments (name included); negative: at least -arity. */
  readonly arity: number;
  readonly flags: readonly CommandFlag[];
  readonly firstKey: number;
  readonly lastKey: number;
  readonly step: number;
  readonly handler?: Handler;
  /** A container command (CLIENT, CONFIG, COMMAND …) dispatches on its first argument. */
  readonly subcommands?: ReadonlyMap<string, CommandSpec>;
}

/** Shorthand for table entries. */
export function cmd(
  name: string,
  arity: number,
  flags: readonly CommandFlag[],
  keys: readonly [number, number, number],
  handler?: Handler,
  subcommands?: readonly CommandSpec[],
): CommandSpec {
  return {
    name,
    arity,
    flags,
    firstKey: keys[0],
    lastKey: keys[1],
    step: keys[2],
    handler,
    subcommands: subcommands ? new Map(subcommands.map((s) => [s.name, s])) : undefined,
  };
}

/** The only key a command names, or undefined when it names none or several. */
export function singleKey(spec: CommandSpec, args: readonly Buffer[]): Buffer | undefined {
  if (spec.firstKey === 0) return undefined;
  const last = spec.lastKey < 0 ? args.length + spec.lastKey : spec.lastKey;
  if (last - spec.firstKey >= spec.step) return undefined;
  return args[spec.firstKey];
}

export const NO_KEYS = [0, 0, 0] as const;
export const ONE_KEY = [1, 1, 1] as const;
export const ALL_KEYS = [1, -1, 1] as const;

export class CommandTable {
  private readonly commands = new Map<string, CommandSpec>();

  add(...specs: CommandSpec[]): void {
    for (const spec of specs) {
      if (this.commands.has(spec.name)) throw new Error(`duplicate command ${spec.name}`);
      this.commands.set(spec.name, spec);
    }
  }

  get(name: string): CommandSpec | undefined {
    return this.commands.get(name);
  }

  all(): IterableIterator<CommandSpec> {
    return this.commands.values();
  }

  get size(): number {
    return this.commands.size;
  }

  /**
   * Run one command. Returns the reply (or a promise of it); handler errors of type
   * DynisError become error replies, anything else is an internal error reply.
   */
  dispatch(ctx: CommandContext, args: Buffer[], replyProtocol: Protocol = ctx.client.protocol, internal = false): Reply | Promise<Reply> {
    const nameArg = args[0] as Buffer;
    // Most command names are short ASCII; toLowerCase on latin1 keeps binary names intact.
    const name = nameArg.toString('latin1').toLowerCase();
    let spec = this.commands.get(name);
    if (spec === undefined) return unknownCommand(args);
    let fullName = spec.name;
    if (spec.subcommands !== undefined && args.length >= 2) {
      const subName = (args[1] as Buffer).toString('latin1').toLowerCase();
      const sub = spec.subcommands.get(subName);
      if (sub === undefined) {
        return Errors.unknownSubcommand((args[1] as Buffer).toString('utf8'), spec.name);
      }
      spec = sub;
      fullName = `${name}|${sub.name}`;
    }
    const { client, server } = ctx;
    if ((spec.arity > 0 && args.length !== spec.arity) || args.length < -spec.arity) {
      server.commandStats?.reject(fullName);
      return Errors.wrongArity(fullName);
    }
    if (!client.authenticated && server.config.requirepass !== null && !spec.flags.includes('no_auth')) {
      server.commandStats?.reject(fullName);
      return Errors.noAuth();
    }
    client.lastCommand = fullName;
    const handler = spec.handler;
    if (handler === undefined) return Errors.internal(`no handler for ${fullName}`);
    // Sub-commands of a fanned-out command (internal) are not counted: the command was.
    const stats = internal ? undefined : server.commandStats;
    const started = stats === undefined ? 0 : performance.now();
    const done = (reply: Reply): Reply => {
      if (stats !== undefined) {
        const usec = (performance.now() - started) * 1000;
        stats.record(fullName, usec, reply instanceof DynisError);
        server.slowlog?.maybeAdd(usec, args, client.addr, client.name);
      }
      return reply;
    };
    try {
      // In a cluster, a write of one key runs on one of the key's replicas (DESIGN.md §4).
      const routed = server.router?.route(ctx, spec, args, replyProtocol, () => Promise.resolve(handler(ctx, args)).catch(toErrorReply));
      if (routed !== undefined) return stats === undefined ? routed : routed.then(done);
      const reply = handler(ctx, args);
      if (reply instanceof Promise) return stats === undefined ? reply.catch(toErrorReply) : reply.catch(toErrorReply).then(done);
      return done(reply);
    } catch (err) {
      return done(toErrorReply(err));
    }
  }
}

export function toErrorReply(err: unknown): DynisError {
  if (err instanceof DynisError) return err;
  const message = err instanceof Error ? err.message : String(err);
  return Errors.internal(message);
}

function unknownCommand(args: readonly Buffer[]): DynisError {
  // Redis: up to 128 bytes of quoted arguments, each followed by a space.
  let tail = '';
  for (let i = 1; i < args.length && tail.length < 128; i++) {
    tail += `'${(args[i] as Buffer).toString('utf8').slice(0, 128 - tail.length)}' `;
  }
  const name = truncateForError((args[0] as Buffer).toString('utf8'));
  return new DynisError('ERR', `unknown command '${name}', with args beginning with: ${tail}`);
}
