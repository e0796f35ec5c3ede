/**
 * Named errors with stable codes. The RESP error text a client sees is built here and only
 * here (Redis's exact texts where Redis has one), so handlers throw or return these.
 */
export class DynisError extends Error {
  /** The first word of the RESP error reply, e.g. ERR, WRONGTYPE, NOAUTH. */
  readonly code: string;
  constructor(code: string, message: string) {
    super(message);
    this.code = code;
    this.name = 'DynisError';
  }
  /** The RESP error line without the leading '-' and trailing CRLF. */
  toResp(): string {
    return `${this.code} ${this.message}`;
  }
}

/** A protocol error: the reply is sent and then the connection is closed. */
export class ProtocolError extends DynisError {
  constructor(message: string) {
    super('ERR', `Protocol error: ${message}`);
    this.name = 'ProtocolError';
  }
}

const err = (message: string): DynisError => new DynisError('ERR', message);

export const Errors = {
  syntax: () => err('syntax error'),
  notInteger: () => err('value is not an integer or out of range'),
  notFloat: () => err('value is not a valid float'),
  overflow: () => err('increment or decrement would overflow'),
  wrongArity: (name: string) => err(`wrong number of arguments for '${name}' command`),
  unknownSubcommand: (sub: string, cmd: string) =>
    err(`unknown subcommand '${truncateForError(sub)}'. Try ${cmd.toUpperCase()} HELP.`),
  dbIndexOutOfRange: () => err('DB index is out of range'),
  selectNotAllowed: () => err('SELECT is not allowed in cluster mode'),
  invalidExpire: (name: string) => err(`invalid expire time in '${name}' command`),
  noAuth: () => new DynisError('NOAUTH', 'Authentication required.'),
  wrongPass: () => new DynisError('WRONGPASS', 'invalid username-password pair or user is disabled.'),
  authNotConfigured: () =>
    err('AUTH <password> called without any password configured for the default user. Are you sure your configuration is correct?'),
  noProto: () => new DynisError('NOPROTO', 'unsupported protocol version'),
  wrongType: () => new DynisError('WRONGTYPE', 'Operation against a key holding the wrong kind of value'),
  maxClients: () => err('max number of clients reached'),
  badContext: (why: string) => err(`invalid context: ${why}`),
  tooManySiblings: (n: number) => err(`too many siblings (${n}); write with a context from VGET to merge them`),
  noQuorum: (got: number, need: number, kind: 'read' | 'write') =>
    new DynisError('NOQUORUM', `${got} of ${need} required replicas answered (${kind})`),
  internal: (message: string) => err(`internal error: ${message}`),
  /**
   * The node a write was forwarded to did not answer; the write may or may not have been
   * applied. Deliberately not TRYAGAIN: cluster clients (ioredis) retry that code on their own,
   * which would run an INCR or APPEND twice.
   */
  forwardFailed: (member: string, why: string) =>
    new DynisError('UNCERTAIN', `forwarding to replica ${member} failed (${why}); the write may or may not have been applied`),
} as const;

/** Redis truncates user text echoed in errors to 128 bytes. */
export function truncateForError(s: string): string {
  return s.length > 128 ? s.slice(0, 128) : s;
}
