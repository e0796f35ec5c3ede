/**
 * The CLI as a user runs it: `dynis cluster --nodes 3` (what `npm start` runs) starts three
 * member processes (each with its own admin port) that serve any key through any node; the admin commands (`dynis members`,
 * `dynis join --yes`, `dynis status`) add a fourth node; Ctrl-C (SIGINT) stops them all.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { rmSync } from 'node:fs';
import { createServer } from 'node:net';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { Redis } from 'ioredis';
import { CLI, tempDir, waitForPort } from '../helpers/processes.js';

const dir = tempDir('cli-cluster');
const children: ChildProcess[] = [];

afterAll(() => {
  for (const c of children) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
  rmSync(dir, { recursive: true, force: true });
});

function portFree(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = createServer();
    s.once('error', () => resolve(false));
    s.listen(port, '127.0.0.1', () => s.close(() => resolve(true)));
  });
}

/** A base port with base..base+3, their peer ports (+10000) and admin ports (+20000) all free. */
async function freeRun(): Promise<number> {
  for (let attempt = 0; attempt < 200; attempt++) {
    const base = 20_000 + Math.floor(Math.random() * 20_000);
    let ok = true;
    for (let i = 0; i < 4 && ok; i++) ok = (await portFree(base + i)) && (await portFree(base + i + 10_000)) && (await portFree(base + i + 20_000));
    if (ok) return base;
  }
  throw new Error('no free run of ports');
}

function admin(...args: string[]): string {
  const out = spawnSync(process.execPath, [CLI, ...args], { encoding: 'utf8', timeout: 20_000 });
  if (out.status !== 0) throw new Error(`dynis ${args.join(' ')} failed: ${out.stderr}${out.stdout}`);
  return out.stdout;
}

describe('dynis cluster and the admin commands', () => {
  it('starts three members, serves keys through any of them, adds a fourth with dynis join, and stops on SIGINT', async () => {
    const base = await freeRun();
    const cluster = spawn(process.execPath, [CLI, 'cluster', '--nodes', '3', '--port', String(base), '--dir', dir, '--fsync', 'no', '--admin-port', String(base + 20_000)], {
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    children.push(cluster);
    let log = '';
    cluster.stdout.on('data', (d: Buffer) => (log += d.toString()));
    cluster.stderr.on('data', (d: Buffer) => (log += d.toString()));
    for (let i = 0; i < 3; i++) await waitForPort(base + i);
    const clients = [0, 1, 2].map((i) => new Redis({ port: base + i }));
    try {
      // Wait until every member sees its two peers.
      for (const c of clients) {
        for (let t = 0; Number(/peers_up:(\d+)/.exec(await c.info('ring'))?.[1]) !== 2; t++) {
          if (t > 200) throw new Error(`peers never came up:\n${log}`);
          await new Promise((r) => setTimeout(r, 50));
        }
      }
      // Each member got its own admin port: base + 20000 + i.
      const status = (await (await fetch(`http://127.0.0.1:${base + 20_001}/status.json`)).json()) as { members: unknown[] };
      expect(status.members).toHaveLength(3);
      expect(await clients[0]!.set('cli:key', 'v')).toBe('OK');
      expect(await clients[2]!.get('cli:key')).toBe('v');
      expect(admin('members', '--port', String(base)).trim().split('\n')).toHaveLength(3);

      // A fourth node, started as the README shows, then joined with the CLI.
      const fourth = spawn(process.execPath, [CLI, 'node', '--port', String(base + 3), '--dir', path.join(dir, 'node-4'), '--seeds', `127.0.0.1:${base + 10_000}`, '--fsync', 'no'], {
        stdio: 'ignore',
      });
      children.push(fourth);
      await waitForPort(base + 3);
      for (let t = 0; admin('members', '--port', String(base + 3)).trim().split('\n').length !== 4; t++) {
        if (t > 100) throw new Error('the new node never learned the cluster');
        await new Promise((r) => setTimeout(r, 100));
      }
      const joined = admin('join', '--port', String(base + 3), '--yes');
      expect(joined).toMatch(/joining: owns 0 -> 64 partitions/);
      expect(joined).toMatch(/committing:/);
      for (let t = 0; !/transition none/.test(admin('status', '--port', String(base))) || !admin('members', '--port', String(base)).includes(`127.0.0.1:${base + 10_003} up`); t++) {
        if (t > 150) throw new Error(`the join never finished:\n${admin('status', '--port', String(base))}`);
        await new Promise((r) => setTimeout(r, 200));
      }
      const owned = admin('members', '--port', String(base)).trim().split('\n').map((l) => Number(/owned=(\d+)/.exec(l)?.[1]));
      expect(owned).toEqual([64, 64, 64, 64]);
      // The cluster at a glance: one row per member, asked directly.
      const table = admin('status', '--port', String(base)).split('\n');
      const header = table.findIndex((l) => /^member\s+status/.test(l));
      expect(table[header]).toMatch(/^member\s+status\s+zone\s+owned\s+replicated\s+ops\/s\s+hints\s+transfer\s+ae-rounds\s+ae-repaired\s+peers-up$/);
      const rows = table.slice(header + 1).filter((l) => l.trim() !== '');
      expect(rows).toHaveLength(4);
      for (const row of rows) expect(row).toMatch(/^127\.0\.0\.1:\d+\s+up\s+default\s+64\s+192\s+\d+\s+0\s+0\s+\d+\s+\d+\s+3\/3$/);
      expect(admin('leave', '--help')).toMatch(/^usage: dynis leave \[id\] \[--yes\]/);
      const fourthClient = new Redis({ port: base + 3 });
      expect(await fourthClient.get('cli:key')).toBe('v');
      fourthClient.disconnect();
      fourth.kill('SIGTERM');
    } finally {
      for (const c of clients) c.disconnect();
    }
    // Ctrl-C stops every member gracefully, and the cluster command exits.
    const exited = new Promise<number | null>((resolve) => cluster.once('exit', (code) => resolve(code)));
    cluster.kill('SIGINT');
    expect(await exited).toBe(0);
    expect(log).toMatch(/SIGINT received, stopping 3 members/);
    for (let i = 0; i < 3; i++) expect(await portFree(base + i)).toBe(true);
  }, 90_000);
});
