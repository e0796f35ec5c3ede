/**
 * redis-cli (one-shot and interactive, driven by scripted input on a pseudo-terminal) and
 * redis-benchmark against a real dynis process.
 */
import { spawnSync } from 'node:child_process';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startDynis, type RunningProcess } from '../helpers/processes.js';

let node: RunningProcess;

beforeAll(async () => {
  node = await startDynis();
});
afterAll(async () => {
  await node?.stop();
});

function cli(...args: string[]): string {
  const res = spawnSync('redis-cli', ['-p', String(node.port), ...args], { encoding: 'utf8', timeout: 20_000 });
  if (res.status !== 0) throw new Error(`redis-cli ${args.join(' ')} failed: ${res.stderr}`);
  return res.stdout;
}

describe('redis-cli', () => {
  it('one-shot commands', () => {
    expect(cli('PING')).toBe('PONG\n');
    expect(cli('SET', 'cli:k', 'hello world')).toBe('OK\n');
    expect(cli('GET', 'cli:k')).toBe('hello world\n');
    expect(cli('MGET', 'cli:k', 'cli:none')).toBe('hello world\n\n');
    expect(cli('EXPIRE', 'cli:k', '100')).toBe('1\n');
    expect(cli('DEL', 'cli:k')).toBe('1\n');
    expect(cli('--no-raw', 'GET', 'cli:k')).toBe('(nil)\n');
    expect(cli('--no-raw', 'NOSUCHCMD')).toContain("(error) ERR unknown command 'NOSUCHCMD'");
    expect(cli('INFO', 'server')).toContain('redis_version:');
    expect(cli('DBSIZE')).toMatch(/^\d+\n$/);
  });

  it('interactive session on a pseudo-terminal', () => {
    // `script` gives redis-cli a real tty, so it runs its interactive REPL (prompt, help, hints).
    const input = ['SET cli:i 42', 'INCR cli:i', 'GET cli:i', 'HELP SET', 'SELECT 0', 'VGET cli:i', 'QUIT', ''].join('\n');
    // TERM=dumb makes linenoise print plain prompts instead of querying the cursor position.
    const res = spawnSync('script', ['-qec', `redis-cli -p ${node.port}`, '/dev/null'], {
      input,
      encoding: 'utf8',
      timeout: 20_000,
      env: { ...process.env, TERM: 'dumb' },
    });
    const out = res.stdout.replace(/\r/g, '');
    expect(out).toContain(`127.0.0.1:${node.port}>`);
    expect(out).toContain('(integer) 43');
    expect(out).toContain('"43"');
    expect(out).toMatch(/SET\S* \S*key value/);
    expect(res.status).toBe(0);
  });

  it('reads commands from a pipe (scripted input)', () => {
    const res = spawnSync('redis-cli', ['-p', String(node.port)], {
      input: 'SET cli:p a\nAPPEND cli:p bc\nGET cli:p\nSTRLEN cli:p\n',
      encoding: 'utf8',
    });
    expect(res.stdout).toBe('OK\n3\nabc\n3\n');
  });
});

describe('redis-benchmark', () => {
  for (const pipeline of ['1', '16']) {
    it(`-t set,get,ping_inline,mset,incr with -P ${pipeline} completes without errors`, () => {
      const res = spawnSync(
        'redis-benchmark',
        ['-p', String(node.port), '-t', 'set,get,ping_inline,mset,incr', '-n', '5000', '-c', '20', '-r', '1000', '-P', pipeline, '--csv'],
        { encoding: 'utf8', timeout: 120_000 },
      );
      expect(res.status).toBe(0);
      expect(res.stdout + res.stderr).not.toMatch(/ERR|error|Error/);
      const tests = res.stdout
        .split('\n')
        .filter((l) => l.startsWith('"') && !l.startsWith('"test"'))
        .map((l) => l.split(',')[0]);
      expect(tests).toEqual(['"PING_INLINE"', '"SET"', '"GET"', '"INCR"', '"MSET (10 keys)"']);
      for (const line of res.stdout.split('\n').filter((l) => l.startsWith('"') && !l.startsWith('"test"'))) {
        expect(Number(line.split('","')[1])).toBeGreaterThan(0);
      }
    });
  }
});
