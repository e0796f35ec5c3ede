/**
 * Connection commands: PING, ECHO, QUIT, HELLO, AUTH, SELECT, CLIENT …
 */
import { timingSafeEqual } from 'node:crypto';
import { DynisError, Errors } from '../errors.js';
import { limits } from '../limits.js';
import { MapReply, OK, PONG, SimpleString, VerbatimReply, type Reply } from '../resp/reply.js';
import { intArg, isWord, parseInt64, upper } from './args.js';
import type { ClientState, CommandContext } from './context.js';
import { cmd, NO_KEYS, type CommandSpec } from './table.js';
import { REDIS_VERSION } from './server.js';

function passwordMatches(ctx: CommandContext, given: Buffer): boolean {
  const expected = ctx.server.config.requirepass;
  if (expected === null) return false;
  const a = Buffer.from(expected);
  return a.length === given.length && timingSafeEqual(a, given);
}

/**
 * A failed AUTH (or HELLO … AUTH): counted, and logged at most once a second (a password
 * guesser cannot flood the log) with the client's address and the count so far.
 */
const lastAuthLogMs = new WeakMap<object, number>();
function authFailed(ctx: CommandContext, how: string): DynisError {
  const { stats } = ctx.server;
  const failures = (stats.authFailures = (stats.authFailures ?? 0) + 1);
  const now = Date.now();
  if (now - (lastAuthLogMs.get(stats) ?? 0) >= 1000) {
    lastAuthLogMs.set(stats, now);
    ctx.server.log?.('warn', `client ${ctx.client.addr} failed to authenticate (${how}); ${failures} failures so far`);
  }
  return Errors.wrongPass();
}

/** AUTH [username] password: only the "default" user exists. */
function authCommand(ctx: CommandContext, args: Buffer[]): Reply {
  if (args.length > 3) throw Errors.syntax();
  if (ctx.server.config.requirepass === null && args.length === 2) throw Errors.authNotConfigured();
  const user = args.length === 3 ? (args[1] as Buffer).toString('utf8') : 'default';
  const pass = args[args.length - 1] as Buffer;
  if (user !== 'default' || !passwordMatches(ctx, pass)) {
    ctx.client.authenticated = false;
    throw authFailed(ctx, 'AUTH');
  }
  ctx.client.authenticated = true;
  return OK;
}

/** HELLO [protover [AUTH username password] [SETNAME clientname]] */
function helloCommand(ctx: CommandContext, args: Buffer[]): Reply {
  const { client, server } = ctx;
  let protocol = client.protocol;
  let j = 1;
  if (args.length >= 2) {
    const parsed = parseInt64(args[1] as Buffer);
    if (parsed === undefined) throw new DynisError('ERR', 'Protocol version is not an integer or out of range');
    if (parsed < 2n || parsed > 3n) throw Errors.noProto();
    const v = Number(parsed);
    protocol = v as 2 | 3;
    j = 2;
  }
  let setName: string | undefined;
  for (; j < args.length; j++) {
    const more = args.length - j - 1;
    if (isWord(args[j], 'AUTH') && more >= 2) {
      const user = (args[j + 1] as Buffer).toString('utf8');
      const pass = args[j + 2] as Buffer;
      if (user !== 'default' || !passwordMatches(ctx, pass)) throw authFailed(ctx, 'HELLO AUTH');
      client.authenticated = true;
      j += 2;
    } else if (isWord(args[j], 'SETNAME') && more >= 1) {
      setName = validateClientName(args[j + 1] as Buffer);
      j += 1;
    } else {
      throw new DynisError('ERR', `Syntax error in HELLO option '${(args[j] as Buffer).toString('utf8')}'`);
    }
  }
  if (!client.authenticated && server.config.requirepass !== null) {
    throw new DynisError('NOAUTH', 'HELLO must be called with the client already authenticated, otherwise the HELLO <proto> AUTH <user> <pass> option can be used to authenticate the client and select the RESP protocol version at the same time');
  }
  if (setName !== undefined) client.name = setName === '' ? null : setName;
  client.protocol = protocol;
  return new MapReply([
    ['server', 'redis'],
    ['version', REDIS_VERSION],
    ['proto', protocol],
    ['id', client.id],
    ['mode', 'standalone'],
    ['role', 'master'],
    ['modules', []],
  ]);
}

function validateClientName(arg: Buffer): string {
  const name = arg.toString('utf8');
  if (arg.length > limits.clientNameMaxBytes) throw new DynisError('ERR', 'Client name is too long');
  for (const byte of arg) {
    if (byte < 33 || byte > 126) {
      throw new DynisError('ERR', 'Client names cannot contain spaces, newlines or special characters.');
    }
  }
  return name;
}

export function clientInfoLine(c: ClientState, now: number): string {
  const age = Math.floor((now - c.createdAtMs) / 1000);
  const idle = Math.floor((now - c.lastInteractionMs) / 1000);
  return (
    `id=${c.id} addr=${c.addr} laddr=${c.laddr} fd=0 name=${c.name ?? ''} age=${age} idle=${idle} flags=N ` +
    `db=${c.db} sub=0 psub=0 ssub=0 multi=-1 qbuf=${c.queryBufferBytes()} qbuf-free=0 argv-mem=0 multi-mem=0 ` +
    `rbs=16384 rbp=0 obl=0 oll=0 omem=${c.outputBufferBytes()} tot-mem=0 events=r cmd=${c.lastCommand} user=default ` +
    `redir=-1 resp=${c.protocol} lib-name=${c.libName ?? ''} lib-ver=${c.libVer ?? ''}`
  );
}

const clientSubcommands: CommandSpec[] = [
  cmd('id', 2, ['noscript', 'loading', 'stale'], NO_KEYS, (ctx) => ctx.client.id),
  cmd('getname', 2, ['noscript', 'loading', 'stale'], NO_KEYS, (ctx) => ctx.client.name),
  cmd('setname', 3, ['noscript', 'loading', 'stale'], NO_KEYS, (ctx, args) => {
    const name = validateClientName(args[2] as Buffer);
    ctx.client.name = name === '' ? null : name;
    return OK;
  }),
  cmd('setinfo', 4, ['noscript', 'loading', 'stale'], NO_KEYS, (ctx, args) => {
    const attr = upper(args[2] as Buffer);
    const value = (args[3] as Buffer).toString('utf8');
    if (/[\s]/.test(value) || value.length > limits.clientNameMaxBytes) {
      throw new DynisError('ERR', `${attr === 'LIB-NAME' ? 'lib-name' : 'lib-ver'} cannot contain spaces, newlines or special characters.`);
    }
    if (attr === 'LIB-NAME') ctx.client.libName = value;
    else if (attr === 'LIB-VER') ctx.client.libVer = value;
    else throw new DynisError('ERR', `Unrecognized option '${(args[2] as Buffer).toString('utf8')}'`);
    return OK;
  }),
  cmd('info', 2, ['noscript', 'loading', 'stale'], NO_KEYS, (ctx) =>
    new VerbatimReply(`${clientInfoLine(ctx.client, Date.now())}\n`),
  ),
  cmd('list', -2, ['admin', 'noscript', 'loading', 'stale'], NO_KEYS, (ctx) => {
    const now = Date.now();
    let out = '';
    for (const c of ctx.server.clients.values()) out += `${clientInfoLine(c, now)}\n`;
    return new VerbatimReply(out);
  }),
  cmd('kill', -3, ['admin', 'noscript', 'loading', 'stale'], NO_KEYS, (ctx, args) => {
    // CLIENT KILL ID id | CLIENT KILL addr
    if (args.length === 3) {
      const addr = (args[2] as Buffer).toString('utf8');
      for (const c of ctx.server.clients.values()) {
        if (c.addr === addr) {
          c.kill();
          return OK;
        }
      }
      throw new DynisError('ERR', 'No such client');
    }
    let killed = 0;
    for (let j = 2; j + 1 < args.length; j += 2) {
      if (!isWord(args[j], 'ID')) throw Errors.syntax();
      const id = intArg(args[j + 1] as Buffer);
      const c = ctx.server.clients.get(id);
      if (c) {
        c.kill();
        killed++;
      }
    }
    return killed;
  }),
  cmd('no-evict', 3, ['admin', 'noscript', 'loading', 'stale'], NO_KEYS, () => OK),
  cmd('no-touch', 3, ['noscript', 'loading', 'stale'], NO_KEYS, () => OK),
  cmd('help', 2, ['loading', 'stale'], NO_KEYS, () => [
    'CLIENT <subcommand> [<arg> [value] [opt] ...]. Subcommands are:',
    'ID', 'GETNAME', 'SETNAME <name>', 'SETINFO <LIB-NAME|LIB-VER> <value>', 'INFO', 'LIST', 'KILL <ip:port> | ID <id>', 'HELP',
  ].map((s) => new SimpleString(s))),
];

export const connectionCommands: CommandSpec[] = [
  cmd('ping', -1, ['fast', 'stale'], NO_KEYS, (ctx, args) => {
    if (args.length > 2) throw Errors.wrongArity('ping');
    return args.length === 2 ? (args[1] as Buffer) : PONG;
  }),
  cmd('echo', 2, ['fast', 'stale'], NO_KEYS, (_ctx, args) => args[1] as Buffer),
  cmd('quit', -1, ['no_auth', 'fast', 'stale', 'loading', 'allow_busy'], NO_KEYS, (ctx) => {
    ctx.client.closeAfterReply = true;
    return OK;
  }),
  cmd('auth', -2, ['no_auth', 'fast', 'stale', 'loading', 'noscript'], NO_KEYS, authCommand),
  cmd('hello', -1, ['no_auth', 'fast', 'stale', 'loading', 'noscript'], NO_KEYS, helloCommand),
  cmd('select', 2, ['fast', 'loading', 'stale'], NO_KEYS, (ctx, args) => {
    const db = intArg(args[1] as Buffer);
    if (db !== 0) throw Errors.dbIndexOutOfRange();
    ctx.client.db = 0;
    return OK;
  }),
  cmd('reset', 1, ['no_auth', 'fast', 'stale', 'loading', 'noscript'], NO_KEYS, (ctx) => {
    ctx.client.name = null;
    ctx.client.protocol = 2;
    ctx.client.db = 0;
    ctx.client.authenticated = ctx.server.config.requirepass === null;
    return new SimpleString('RESET');
  }),
  cmd('client', -2, ['stale'], NO_KEYS, undefined, clientSubcommands),
];
