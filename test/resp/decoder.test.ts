import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { RequestDecoder, splitArgs } from '../../src/resp/decoder.js';
import { ProtocolError } from '../../src/errors.js';

interface Outcome {
  commands: string[][];
  error?: string;
}

function decoder(authenticated = true, protoMaxBulkLen = 512 * 1024 * 1024): RequestDecoder {
  return new RequestDecoder({ protoMaxBulkLen, authenticated: () => authenticated });
}

/** Feed chunks, draining commands after each, until the end or the first protocol error. */
function feed(chunks: Buffer[], authenticated = true): Outcome {
  const d = decoder(authenticated);
  const commands: string[][] = [];
  try {
    for (const c of chunks) {
      d.push(c);
      for (let cmd = d.next(); cmd !== null; cmd = d.next()) commands.push(cmd.map((a) => a.toString('latin1')));
    }
  } catch (err) {
    if (!(err instanceof ProtocolError)) throw err;
    return { commands, error: err.message };
  }
  return { commands };
}

/** The three ways every case is fed: whole, byte by byte, and split in two at every boundary. */
function allFeeds(input: Buffer, authenticated = true): Outcome[] {
  const out: Outcome[] = [feed([input], authenticated)];
  out.push(feed([...input].map((b) => Buffer.from([b])), authenticated));
  for (let i = 1; i < input.length; i++) out.push(feed([input.subarray(0, i), input.subarray(i)], authenticated));
  return out;
}

const cases: Array<{ name: string; input: string; commands: string[][]; error?: string; unauth?: boolean }> = [
  { name: 'one multibulk command', input: '*2\r\n$3\r\nGET\r\n$1\r\nk\r\n', commands: [['GET', 'k']] },
  {
    name: 'pipelined commands',
    input: '*1\r\n$4\r\nPING\r\n*3\r\n$3\r\nSET\r\n$1\r\na\r\n$0\r\n\r\n*2\r\n$4\r\nECHO\r\n$2\r\n\r\n\r\n',
    commands: [['PING'], ['SET', 'a', ''], ['ECHO', '\r\n']],
  },
  { name: 'empty multibulks are skipped', input: '*0\r\n*-1\r\n*1\r\n$4\r\nPING\r\n', commands: [['PING']] },
  { name: 'inline command', input: 'PING\r\n', commands: [['PING']] },
  { name: 'inline with bare LF', input: 'SET a b\n', commands: [['SET', 'a', 'b']] },
  { name: 'inline empty lines are skipped', input: '\r\n   \r\nPING\r\n', commands: [['PING']] },
  {
    name: 'inline quotes and escapes',
    input: 'SET "a b" \'c\\\'d\' "\\x41\\n\\t\\\\"\r\n',
    commands: [['SET', 'a b', "c'd", 'A\n\t\\']],
  },
  { name: 'unbalanced double quote', input: 'SET "a\r\n', commands: [], error: 'Protocol error: unbalanced quotes in request' },
  { name: 'closing quote followed by text', input: 'SET "a"b\r\n', commands: [], error: 'Protocol error: unbalanced quotes in request' },
  { name: 'bad multibulk length', input: '*x\r\n', commands: [], error: 'Protocol error: invalid multibulk length' },
  { name: 'multibulk length with plus sign', input: '*+1\r\n', commands: [], error: 'Protocol error: invalid multibulk length' },
  { name: 'multibulk length over INT_MAX', input: '*2147483648\r\n', commands: [], error: 'Protocol error: invalid multibulk length' },
  { name: 'expected $', input: '*1\r\n:1\r\n', commands: [], error: "Protocol error: expected '$', got ':'" },
  { name: 'negative bulk length', input: '*1\r\n$-1\r\n', commands: [], error: 'Protocol error: invalid bulk length' },
  { name: 'bulk length leading zero', input: '*1\r\n$01\r\n', commands: [], error: 'Protocol error: invalid bulk length' },
  {
    name: 'bulk length beyond proto-max-bulk-len, refused before the body',
    input: '*2\r\n$3\r\nSET\r\n$536870913\r\n',
    commands: [],
    error: 'Protocol error: invalid bulk length',
  },
  {
    name: 'commands before an error are returned',
    input: '*1\r\n$4\r\nPING\r\n*1\r\n%1\r\n',
    commands: [['PING']],
    error: "Protocol error: expected '$', got '%'",
  },
  {
    name: 'unauthenticated: more than 10 arguments',
    input: '*11\r\n',
    commands: [],
    error: 'Protocol error: unauthenticated multibulk length',
    unauth: true,
  },
  {
    name: 'unauthenticated: bulk over 16 KB',
    input: '*1\r\n$16385\r\n',
    commands: [],
    error: 'Protocol error: unauthenticated bulk length',
    unauth: true,
  },
  { name: 'unauthenticated: 10 small arguments are fine', input: `*10\r\n${'$1\r\na\r\n'.repeat(10)}`, commands: [Array(10).fill('a')], unauth: true },
];

describe('RequestDecoder', () => {
  for (const c of cases) {
    it(`${c.name} (whole, byte by byte, split everywhere)`, () => {
      for (const outcome of allFeeds(Buffer.from(c.input, 'latin1'), !c.unauth)) {
        expect(outcome.commands).toEqual(c.commands);
        expect(outcome.error).toBe(c.error);
      }
    });
  }

  it('refuses too big inline requests and length lines without waiting for the end', () => {
    expect(feed([Buffer.alloc(64 * 1024 + 1, 'a')]).error).toBe('Protocol error: too big inline request');
    expect(feed([Buffer.from(`*${'1'.repeat(64 * 1024 + 1)}`)]).error).toBe('Protocol error: too big mbulk count string');
    expect(feed([Buffer.from(`*1\r\n$${'1'.repeat(64 * 1024 + 1)}`)]).error).toBe('Protocol error: too big bulk count string');
  });

  it('receives a big argument in many chunks without losing bytes', () => {
    const body = Buffer.alloc(3 * 1024 * 1024);
    for (let i = 0; i < body.length; i++) body[i] = (i * 7) & 0xff;
    const input = Buffer.concat([Buffer.from(`*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$${body.length}\r\n`), body, Buffer.from('\r\n*1\r\n$4\r\nPING\r\n')]);
    for (const size of [1000, 65536, 7]) {
      const d = decoder();
      const got: Buffer[][] = [];
      const step = size === 7 ? 99991 : size;
      for (let i = 0; i < input.length; i += step) {
        d.push(input.subarray(i, i + step));
        for (let cmd = d.next(); cmd !== null; cmd = d.next()) got.push(cmd);
      }
      expect(got.length).toBe(2);
      expect((got[0]?.[2] as Buffer).equals(body)).toBe(true);
      expect(got[1]?.[0]?.toString()).toBe('PING');
    }
  });

  it('applies authentication per command (AUTH earlier in a pipeline lifts the limits)', () => {
    let authed = false;
    const d = new RequestDecoder({ protoMaxBulkLen: 1e9, authenticated: () => authed });
    d.push(Buffer.from(`*2\r\n$4\r\nAUTH\r\n$1\r\np\r\n*1\r\n$20000\r\n${'x'.repeat(20000)}\r\n`));
    expect(d.next()?.[0]?.toString()).toBe('AUTH');
    authed = true;
    expect(d.next()?.[0]?.length).toBe(20000);
  });

  it('property: any argument lists, encoded and split anywhere, decode back', () => {
    fc.assert(
      fc.property(
        fc.array(fc.array(fc.uint8Array({ maxLength: 40 }), { minLength: 1, maxLength: 6 }), { minLength: 1, maxLength: 8 }),
        fc.array(fc.nat(), { maxLength: 6 }),
        (commands, cuts) => {
          const parts: Buffer[] = [];
          for (const args of commands) {
            parts.push(Buffer.from(`*${args.length}\r\n`));
            for (const a of args) parts.push(Buffer.from(`$${a.length}\r\n`), Buffer.from(a), Buffer.from('\r\n'));
          }
          const input = Buffer.concat(parts);
          const points = [...new Set(cuts.map((c) => c % (input.length + 1)))].sort((a, b) => a - b);
          const chunks: Buffer[] = [];
          let prev = 0;
          for (const p of points) {
            chunks.push(input.subarray(prev, p));
            prev = p;
          }
          chunks.push(input.subarray(prev));
          const d = decoder();
          const got: string[][] = [];
          for (const c of chunks) {
            d.push(c);
            for (let cmd = d.next(); cmd !== null; cmd = d.next()) got.push(cmd.map((a) => a.toString('hex')));
          }
          expect(got).toEqual(commands.map((args) => args.map((a) => Buffer.from(a).toString('hex'))));
        },
      ),
      { numRuns: 300 },
    );
  });
});

describe('splitArgs (sdssplitargs)', () => {
  it('matches Redis on quoting rules', () => {
    const s = (x: string): string[] | undefined => splitArgs(Buffer.from(x, 'latin1'))?.map((b) => b.toString('latin1'));
    expect(s('a  b\tc')).toEqual(['a', 'b', 'c']);
    expect(s('"a\\"b"')).toEqual(['a"b']);
    expect(s("'a\\nb'")).toEqual(['a\\nb']);
    expect(s('"\\x4g"')).toEqual(['x4g']);
    expect(s('a"b c"')).toEqual(['ab c']);
    expect(s('"a"')).toEqual(['a']);
    expect(s("'a")).toBeUndefined();
    expect(s('')).toEqual([]);
  });
});
