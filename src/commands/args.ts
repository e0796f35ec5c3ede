/**
 * Argument parsing with Redis's exact rules (string2ll / string2ld) and error texts.
 */
import { Errors } from '../errors.js';

const INT64_MAX = 9223372036854775807n;
const INT64_MIN = -9223372036854775808n;

/** Redis's string2ll: optional '-', digits, no leading zeros or '+', no spaces, fits int64. */
export function parseInt64(arg: Buffer | string): bigint | undefined {
  const s = typeof arg === 'string' ? arg : arg.toString('latin1');
  if (s.length === 0 || s.length > 20) return undefined;
  if (!/^-?(0|[1-9][0-9]*)$/.test(s) || s === '-0') return undefined;
  const v = BigInt(s);
  if (v > INT64_MAX || v < INT64_MIN) return undefined;
  return v;
}

/** An integer argument as a JS number; throws Redis's "not an integer" error. */
export function intArg(arg: Buffer | string): number {
  const v = parseInt64(arg);
  if (v === undefined) throw Errors.notInteger();
  return Number(v);
}

export function bigIntArg(arg: Buffer | string): bigint {
  const v = parseInt64(arg);
  if (v === undefined) throw Errors.notInteger();
  return v;
}

export { INT64_MAX, INT64_MIN };

/** Case-insensitive keyword match. */
export function isWord(arg: Buffer | undefined, word: string): boolean {
  return arg !== undefined && arg.length === word.length && arg.toString('latin1').toUpperCase() === word;
}

export function upper(arg: Buffer): string {
  return arg.toString('latin1').toUpperCase();
}

/** Redis's stringmatchlen glob (used by KEYS, SCAN MATCH, CONFIG GET), compiled to a RegExp over latin1. */
export function globToRegExp(pattern: string): RegExp {
  let re = '^';
  for (let i = 0; i < pattern.length; i++) {
    const c = pattern[i] as string;
    if (c === '*') re += '[\\s\\S]*';
    else if (c === '?') re += '[\\s\\S]';
    else if (c === '\\' && i + 1 < pattern.length) re += escapeRe(pattern[++i] as string);
    else if (c === '[') {
      let j = i + 1;
      let cls = '';
      let negate = false;
      if (pattern[j] === '^') {
        negate = true;
        j++;
      }
      while (j < pattern.length && pattern[j] !== ']') {
        if (pattern[j] === '\\' && j + 1 < pattern.length) {
          cls += escapeRe(pattern[j + 1] as string);
          j += 2;
        } else if (pattern[j + 1] === '-' && j + 2 < pattern.length && pattern[j + 2] !== ']') {
          let a = pattern[j] as string;
          let b = pattern[j + 2] as string;
          if (a > b) [a, b] = [b, a];
          cls += `${escapeRe(a)}-${escapeRe(b)}`;
          j += 3;
        } else {
          cls += escapeRe(pattern[j] as string);
          j++;
        }
      }
      re += cls === '' ? (negate ? '[\\s\\S]' : '(?!)') : `[${negate ? '^' : ''}${cls}]`;
      i = j;
    } else re += escapeRe(c);
  }
  return new RegExp(`${re}$`);
}

function escapeRe(c: string): string {
  return c.replace(/[\\^$.*+?()[\]{}|/-]/g, '\\$&');
}
