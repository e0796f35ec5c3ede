/**
 * Reply values that command handlers return; the encoder turns them into RESP2 or RESP3.
 * Plain JavaScript values cover the common cases so the hot path allocates little:
 *   Buffer | string → bulk string, null → nil, number | bigint → integer, array → array,
 *   DynisError → error reply.
 * Wrapper classes say what plain values cannot: simple strings, maps, sets, doubles, booleans,
 * verbatim text, and pre-encoded bytes.
 */
import type { DynisError } from '../errors.js';

export class SimpleString {
  constructor(readonly text: string) {}
}
/** A RESP3 map; a flat array of key, value, … in RESP2. */
export class MapReply {
  constructor(readonly entries: ReadonlyArray<readonly [Reply, Reply]>) {}
}
/** A RESP3 set; an array in RESP2. */
export class SetReply {
  constructor(readonly items: readonly Reply[]) {}
}
/** A RESP3 double; a bulk string in RESP2. */
export class DoubleReply {
  constructor(readonly value: number) {}
}
/** A RESP3 boolean; an integer 1/0 in RESP2. */
export class BoolReply {
  constructor(readonly value: boolean) {}
}
/** RESP3 verbatim text (`=len\r\ntxt:…`); a bulk string in RESP2. */
export class VerbatimReply {
  constructor(readonly text: string, readonly format = 'txt') {}
}
/** A null array (`*-1` in RESP2, `_` in RESP3). */
export class NullArrayReply {}
/**
 * Bytes already RESP-encoded for this client's protocol (a reply forwarded from the node that
 * coordinated the command), written as they are.
 */
export class RawReply {
  constructor(readonly bytes: Buffer) {}
}

export type Reply =
  | Buffer
  | string
  | null
  | number
  | bigint
  | SimpleString
  | MapReply
  | SetReply
  | DoubleReply
  | BoolReply
  | VerbatimReply
  | NullArrayReply
  | RawReply
  | DynisError
  | readonly Reply[];

export const OK = new SimpleString('OK');
export const PONG = new SimpleString('PONG');
export const NULL_ARRAY = new NullArrayReply();
