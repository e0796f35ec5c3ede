/**
 * Differential tests: the same scripted commands go to a real redis-server and to dynis, and
 * the replies must be equal byte for byte. redis-server runs with one database, so SELECT's
 * errors match ours. Commands whose replies legitimately differ (INFO, CLIENT ID, TIME …)
 * are not in these scripts; they are covered by their own tests.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { RawClient } from '../helpers/raw-client.js';
import { startDynis, startRedis, type RunningProcess } from '../helpers/processes.js';

let redis: RunningProcess;
let dynis: RunningProcess;

beforeAll(async () => {
  [redis, dynis] = await Promise.all([startRedis(['--databases', '1']), startDynis()]);
});
afterAll(async () => {
  await Promise.all([redis?.stop(), dynis?.stop()]);
});

type Script = Array<Array<string>>;

async function runScript(port: number, script: Script): Promise<string[]> {
  const c = await RawClient.connect(port);
  try {
    const out: string[] = [];
    for (const cmd of script) out.push((await c.command(...cmd)).toString('latin1'));
    return out;
  } finally {
    c.close();
  }
}

async function compare(script: Script): Promise<void> {
  const [a, b] = await Promise.all([runScript(redis.port, script), runScript(dynis.port, script)]);
  for (let i = 0; i < script.length; i++) {
    expect({ cmd: script[i], reply: b[i] }).toEqual({ cmd: script[i], reply: a[i] });
  }
}

const P = (prefix: string, script: Script): Script => script.map((c) => c.map((a) => a.replace(/\$K/g, prefix)));

describe('differential: redis-server vs dynis', () => {
  it('connection commands and errors', async () => {
    await compare([
      ['PING'],
      ['PING', 'hello'],
      ['PING', 'a', 'b'],
      ['ECHO', 'x y'],
      ['ECHO'],
      ['SELECT', '0'],
      ['SELECT', '1'],
      ['SELECT', 'x'],
      ['NOSUCH'],
      ['NOSUCH', 'a', 'b'],
      ['nosuch', 'x'.repeat(200)],
      ['CLIENT', 'NOSUCH'],
      ['CLIENT', 'SETNAME', 'a', 'b'],
      ['CLIENT', 'SETNAME', 'my-name'],
      ['CLIENT', 'GETNAME'],
      ['CLIENT', 'SETNAME', 'has space'],
      ['AUTH', 'nopass'],
      ['AUTH', 'user', 'pass'],
      ['HELLO', '4'],
      ['HELLO', 'x'],
      ['GET'],
      ['SET', 'k'],
      ['CONFIG', 'GET'],
      ['COMMAND', 'NOSUCH'],
    ]);
  });

  it('SET and its options', async () => {
    await compare(
      P('set', [
        ['SET', '$K:a', 'v1'],
        ['GET', '$K:a'],
        ['SET', '$K:a', 'v2', 'NX'],
        ['SET', '$K:a', 'v2', 'XX'],
        ['SET', '$K:b', 'v', 'XX'],
        ['GET', '$K:b'],
        ['SET', '$K:a', 'v3', 'GET'],
        ['SET', '$K:new', 'v', 'GET'],
        ['SET', '$K:a', 'v4', 'NX', 'GET'],
        ['SET', '$K:a', 'v', 'NX', 'XX'],
        ['SET', '$K:a', 'v', 'EX', '10', 'PX', '100'],
        ['SET', '$K:a', 'v', 'EX'],
        ['SET', '$K:a', 'v', 'EX', 'abc'],
        ['SET', '$K:a', 'v', 'EX', '0'],
        ['SET', '$K:a', 'v', 'EX', '-5'],
        ['SET', '$K:a', 'v', 'PX', '0'],
        ['SET', '$K:a', 'v', 'EX', '9223372036854775807'],
        ['SET', '$K:a', 'v', 'EX', '100'],
        ['TTL', '$K:a'],
        ['SET', '$K:a', 'w', 'KEEPTTL'],
        ['TTL', '$K:a'],
        ['SET', '$K:a', 'w', 'KEEPTTL', 'EX', '5'],
        ['SET', '$K:a', 'x'],
        ['TTL', '$K:a'],
        ['SET', '$K:a', 'v', 'PXAT', '99999999999999'],
        ['PTTL', '$K:zz'],
        ['SET', '$K:a', 'v', 'EXAT', '1'],
        ['GET', '$K:a'],
        ['SET', '$K:a', 'v', 'BOGUS'],
        ['set', '$K:c', 'lower', 'nx'],
        ['GET', '$K:c'],
        ['SETNX', '$K:c', 'x'],
        ['SETNX', '$K:d', 'x'],
        ['SETEX', '$K:e', '100', 'v'],
        ['TTL', '$K:e'],
        ['SETEX', '$K:e', '0', 'v'],
        ['SETEX', '$K:e', 'x', 'v'],
        ['PSETEX', '$K:f', '100000', 'v'],
        ['PSETEX', '$K:f', '-1', 'v'],
        ['GETSET', '$K:f', 'new'],
        ['TTL', '$K:f'],
        ['GETSET', '$K:none', 'new'],
      ]),
    );
  });

  it('string commands', async () => {
    await compare(
      P('str', [
        ['APPEND', '$K:a', 'hello'],
        ['APPEND', '$K:a', ' world'],
        ['GET', '$K:a'],
        ['STRLEN', '$K:a'],
        ['STRLEN', '$K:none'],
        ['GETDEL', '$K:a'],
        ['GETDEL', '$K:a'],
        ['SET', '$K:g', 'v'],
        ['GETEX', '$K:g', 'EX', '100'],
        ['TTL', '$K:g'],
        ['GETEX', '$K:g', 'PERSIST'],
        ['TTL', '$K:g'],
        ['GETEX', '$K:g', 'EX', '0'],
        ['GETEX', '$K:g', 'PERSIST', 'EX', '10'],
        ['GETEX', '$K:g', 'BOGUS'],
        ['GETEX', '$K:none'],
        ['GETEX', '$K:g', 'PXAT', '1'],
        ['GET', '$K:g'],
        ['INCR', '$K:n'],
        ['INCRBY', '$K:n', '10'],
        ['DECR', '$K:n'],
        ['DECRBY', '$K:n', '5'],
        ['INCRBY', '$K:n', 'abc'],
        ['INCRBY', '$K:n', '9223372036854775807'],
        ['DECRBY', '$K:n', '-9223372036854775808'],
        ['SET', '$K:big', '9223372036854775807'],
        ['INCR', '$K:big'],
        ['SET', '$K:s', 'abc'],
        ['INCR', '$K:s'],
        ['SET', '$K:sp', ' 1'],
        ['INCR', '$K:sp'],
        ['SET', '$K:lead', '01'],
        ['INCR', '$K:lead'],
        ['MSET', '$K:m1', 'a', '$K:m2', 'b'],
        ['MSET', '$K:m1', 'a', '$K:m2'],
        ['MGET', '$K:m1', '$K:m2', '$K:none'],
        ['MSETNX', '$K:m1', 'x', '$K:m3', 'y'],
        ['MSETNX', '$K:m3', 'x', '$K:m4', 'y'],
        ['MGET', '$K:m3', '$K:m4'],
        ['MSETNX', '$K:m5'],
      ]),
    );
  });

  it('key commands and expiry', async () => {
    await compare(
      P('key', [
        ['SET', '$K:a', '1'],
        ['SET', '$K:b', '2'],
        ['EXISTS', '$K:a', '$K:b', '$K:a', '$K:none'],
        ['TYPE', '$K:a'],
        ['TYPE', '$K:none'],
        ['DEL', '$K:a', '$K:b', '$K:none'],
        ['UNLINK', '$K:a'],
        ['SET', '$K:t', 'v'],
        ['TTL', '$K:t'],
        ['PTTL', '$K:none'],
        ['EXPIRE', '$K:t', '100'],
        ['TTL', '$K:t'],
        ['EXPIRE', '$K:t', '200', 'NX'],
        ['EXPIRE', '$K:t', '200', 'XX'],
        ['EXPIRE', '$K:t', '50', 'GT'],
        ['EXPIRE', '$K:t', '500', 'GT'],
        ['EXPIRE', '$K:t', '500', 'LT'],
        ['EXPIRE', '$K:t', '10', 'LT'],
        ['TTL', '$K:t'],
        ['EXPIRE', '$K:t', '10', 'NX', 'XX'],
        ['EXPIRE', '$K:t', '10', 'GT', 'LT'],
        ['EXPIRE', '$K:t', '10', 'BOGUS'],
        ['EXPIRE', '$K:t', 'x'],
        ['EXPIRE', '$K:none', '10'],
        ['PERSIST', '$K:t'],
        ['PERSIST', '$K:t'],
        ['TTL', '$K:t'],
        ['PEXPIRE', '$K:t', '100000'],
        ['TTL', '$K:t'],
        ['EXPIREAT', '$K:t', '99999999999'],
        ['EXPIRETIME', '$K:t'],
        ['PEXPIREAT', '$K:t', '99999999999000'],
        ['PEXPIRETIME', '$K:t'],
        ['EXPIRE', '$K:t', '9223372036854775807'],
        ['EXPIRE', '$K:t', '-1'],
        ['EXISTS', '$K:t'],
        ['SET', '$K:u', 'v'],
        ['EXPIREAT', '$K:u', '1'],
        ['GET', '$K:u'],
        ['SCAN', 'abc'],
        ['SCAN', '0', 'COUNT', '0'],
        ['SCAN', '0', 'BOGUS'],
      ]),
    );
  });

  it('RESP3 replies after HELLO 3', async () => {
    const script: Script = P('r3', [
      ['SET', '$K:a', '1'],
      ['GET', '$K:a'],
      ['GET', '$K:none'],
      ['MGET', '$K:a', '$K:none'],
      ['CONFIG', 'GET', 'maxmemory'],
      ['SET', '$K:b', 'v', 'XX'],
      ['HELLO', '2'],
      ['GET', '$K:none'],
    ]);
    const run = async (port: number): Promise<string[]> => {
      const c = await RawClient.connect(port);
      try {
        await c.command('HELLO', '3');
        const out: string[] = [];
        for (const cmd of script) {
          const r = (await c.command(...cmd)).toString('latin1');
          // HELLO's own reply differs (server version, id); compare its shape only.
          out.push(cmd[0] === 'HELLO' ? r.slice(0, 2) : r);
        }
        return out;
      } finally {
        c.close();
      }
    };
    const [a, b] = await Promise.all([run(redis.port), run(dynis.port)]);
    expect(b).toEqual(a);
  });

  it('protocol errors: same reply, then the connection closes', async () => {
    const cases = [
      '*abc\r\n',
      '*3\r\n$3\r\nSET\r\n$-5\r\n',
      '*1\r\n:5\r\n',
      '*2\r\n$3\r\nGET\r\n$99999999999\r\n',
      '*3000000000\r\n',
      '"unbalanced\r\n',
      "SET 'a\r\n",
      'SET "a"b\r\n',
    ];
    for (const raw of cases) {
      const results: string[] = [];
      for (const port of [redis.port, dynis.port]) {
        const c = await RawClient.connect(port);
        c.write(raw);
        results.push((await c.untilClosed()).toString('latin1'));
      }
      expect({ raw, reply: results[1] }).toEqual({ raw, reply: results[0] });
    }
  });

  it('authentication: NOAUTH, WRONGPASS, and the unauthenticated request limits', async () => {
    const [r, d] = await Promise.all([
      startRedis(['--databases', '1', '--requirepass', 'sesame']),
      startDynis(['--requirepass', 'sesame']),
    ]);
    try {
      const script: Script = [
        ['GET', 'a'],
        ['AUTH', 'wrong'],
        ['AUTH', 'default', 'wrong'],
        ['HELLO', '3', 'AUTH', 'default', 'wrong'],
        ['PING'],
        ['AUTH', 'sesame'],
        ['PING'],
        ['AUTH', 'default', 'sesame'],
        ['SET', 'auth:k', 'v'],
      ];
      const [a, b] = await Promise.all([runScript(r.port, script), runScript(d.port, script)]);
      expect(b).toEqual(a);
      for (const raw of ['*11\r\n', `*2\r\n$3\r\nGET\r\n$16385\r\n`]) {
        const results: string[] = [];
        for (const port of [r.port, d.port]) {
          const c = await RawClient.connect(port);
          c.write(raw);
          results.push((await c.untilClosed()).toString('latin1'));
        }
        expect({ raw, reply: results[1] }).toEqual({ raw, reply: results[0] });
      }
    } finally {
      await Promise.all([r.stop(), d.stop()]);
    }
  });

  it('inline commands', async () => {
    const results: string[] = [];
    for (const port of [redis.port, dynis.port]) {
      const c = await RawClient.connect(port);
      c.write('PING\r\nSET inline:k "a b\\x41"\r\nGET inline:k\r\n\r\nECHO \'x\\\'y\'\r\n');
      const replies: string[] = [];
      for (let i = 0; i < 4; i++) replies.push((await c.reply()).toString('latin1'));
      results.push(replies.join(''));
      c.close();
    }
    expect(results[1]).toEqual(results[0]);
  });
});
