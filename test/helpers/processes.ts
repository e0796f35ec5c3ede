/**
 * Real processes for tests: a dynis node started from the built CLI (dist/), and a real
 * redis-server, each on a free loopback port with a throwaway data directory. Every process
 * is killed and every directory removed in stop(), also when a test fails.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, existsSync } from 'node:fs';
import { createServer, connect } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

export const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
export const CLI = path.join(ROOT, 'bin/dynis.js');

export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.unref();
    srv.on('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const addr = srv.address();
      const port = typeof addr === 'object' && addr ? addr.port : 0;
      srv.close(() => resolve(port));
    });
  });
}

/** `n` distinct ports that are free now (a caller that binds them later must not reuse them elsewhere). */
export async function freePorts(n: number): Promise<number[]> {
  const ports = new Set<number>();
  while (ports.size < n) ports.add(await freePort());
  return [...ports];
}

export async function waitForPort(port: number, timeoutMs = 15_000, host = '127.0.0.1'): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const ok = await new Promise<boolean>((resolve) => {
      const s = connect({ port, host }, () => {
        s.destroy();
        resolve(true);
      });
      s.on('error', () => resolve(false));
    });
    if (ok) return;
    if (Date.now() > deadline) throw new Error(`port ${port} did not open within ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

export function tempDir(prefix: string): string {
  return mkdtempSync(path.join(tmpdir(), `dynis-${prefix}-`));
}

export interface RunningProcess {
  readonly port: number;
  readonly dir: string;
  readonly child: ChildProcess;
  output(): string;
  /** Stop: SIGTERM, then SIGKILL after a grace period. Removes the data dir unless keepDir. */
  stop(options?: { keepDir?: boolean }): Promise<void>;
  kill9(): Promise<void>;
}

function track(child: ChildProcess, port: number, dir: string, ownsDir: boolean): RunningProcess {
  let out = '';
  child.stdout?.on('data', (d: Buffer) => (out += d.toString()));
  child.stderr?.on('data', (d: Buffer) => (out += d.toString()));
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const alive = (): boolean => child.exitCode === null && child.signalCode === null;
  return {
    port,
    dir,
    child,
    output: () => out,
    async stop(options = {}) {
      if (alive()) {
        child.kill('SIGTERM');
        const timer = setTimeout(() => alive() && child.kill('SIGKILL'), 5000);
        await exited;
        clearTimeout(timer);
      }
      if (ownsDir && !options.keepDir) rmSync(dir, { recursive: true, force: true });
    },
    async kill9() {
      if (alive()) {
        child.kill('SIGKILL');
        await exited;
      }
    },
  };
}

export async function startDynis(
  args: string[] = [],
  options: { dir?: string; port?: number } = {},
): Promise<RunningProcess> {
  if (!existsSync(path.join(ROOT, 'dist/src/cli.js'))) throw new Error('dist/ is missing: run npm run build first');
  const port = options.port ?? (await freePort());
  const ownsDir = options.dir === undefined;
  const dir = options.dir ?? tempDir('node');
  const child = spawn(process.execPath, [CLI, 'start', '--port', String(port), '--dir', dir, ...args], {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const proc = track(child, port, dir, ownsDir);
  try {
    await waitForPort(port);
  } catch (err) {
    await proc.stop();
    throw new Error(`${(err as Error).message}\n${proc.output()}`);
  }
  return proc;
}

export function haveRedisServer(): boolean {
  return spawnSync('redis-server', ['--version']).status === 0;
}

export async function startRedis(args: string[] = []): Promise<RunningProcess> {
  const port = await freePort();
  const dir = tempDir('redis');
  const child = spawn(
    'redis-server',
    ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', '--dir', dir, ...args],
    { stdio: ['ignore', 'pipe', 'pipe'] },
  );
  const proc = track(child, port, dir, true);
  await waitForPort(port);
  return proc;
}
