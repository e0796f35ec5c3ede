/**
 * Turn one RESP2-encoded reply back into a Reply value, with redis-parser. Used where a node
 * combines replies forwarded from other nodes (a multi-key command fanned out per key).
 * Simple strings come back as bulk strings: callers only read integers, values and errors.
 */
import Parser from 'redis-parser';
import { DynisError } from '../errors.js';
import type { Reply } from './reply.js';

function toReply(value: unknown): Reply {
  if (value === null || Buffer.isBuffer(value) || typeof value === 'number') return value;
  if (Array.isArray(value)) return value.map(toReply);
  return String(value);
}

export function parseResp2Reply(bytes: Buffer): Reply {
  let out: Reply | undefined;
  const parser = new Parser({
    returnBuffers: true,
    returnReply: (reply: unknown) => {
      out ??= toReply(reply);
    },
    returnError: (err: Error) => {
      const space = err.message.indexOf(' ');
      out ??= space > 0 ? new DynisError(err.message.slice(0, space), err.message.slice(space + 1)) : new DynisError('ERR', err.message);
    },
    returnFatalError: (err: Error) => {
      out ??= new DynisError('ERR', `unparsable forwarded reply: ${err.message}`);
    },
  });
  parser.execute(bytes);
  if (out === undefined) return new DynisError('ERR', 'incomplete forwarded reply');
  return out;
}
