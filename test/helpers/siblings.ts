/** Building siblings by hand for unit tests. */
import type { Sibling } from '../../src/versions/dvv.js';

/** A sibling with dot (actor, counter), the given past, ts = counter and no expiry. */
export function sib(actor: string, counter: number, value: string | null, past: Array<[string, number]> = []): Sibling {
  return { actor, counter, past: new Map(past), value: value === null ? null : Buffer.from(value), ts: counter, expireAt: 0 };
}
