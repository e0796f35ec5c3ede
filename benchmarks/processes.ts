/**
 * Everything the runner starts goes through here, so that every process and every temporary
 * directory is cleaned up: at the end of its use, on error, on Ctrl-C (SIGINT), SIGTERM, SIGHUP
 * and, as a last resort, synchronously when the runner exits.
 */
import { spawn, type ChildProcess, type SpawnOptions } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { connect, createServer } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { TIMING } from './config.js';

const children = new Set<ChildProcess>();
const dirs = new Set<string>();
const cleanups = new Set<() => void>();

/** Spawn a tracked child process. */
export function spawnTracked(command: string, args: string[], options: SpawnOptions = {}): ChildProcess {
  const child = spawn(command, args, { stdio: 'ignore', ...options });
  children.add(child);
  child.once('exit', () => children.delete(child));
  child.once('error', () => children.delete(child));
  return child;
}

/** Register a process created elsewhere (e.g. by fork) for cleanup. */
export function track(child: ChildProcess): void {
  children.add(child);
  child.once('exit', () => children.delete(child));
}

export function alive(child: ChildProcess): boolean {
  return child.exitCode === null && child.signalCode === null && child.pid !== undefined;
}

export function exited(child: ChildProcess): Promise<void> {
  if (!alive(child)) return Promise.resolve();
  return new Promise((resolve) => child.once('exit', () => resolve()));
}

/** Stop a child: `signal` first, SIGKILL after timeoutMs. Resolves when it has exited. */
export async function stopChild(child: ChildProcess, signal: NodeJS.Signals, timeoutMs: number): Promise<void> {
  if (!alive(child)) return;
  const done = exited(child);
  child.kill(signal);
  if (signal === 'SIGKILL') return done;
  const timer = setTimeout(() => alive(child) && child.kill('SIGKILL'), timeoutMs);
  await done;
  clearTimeout(timer);
}

/** A new tracked temporary directory. */
export function tempDir(prefix: string): string {
  const dir = mkdtempSync(path.join(tmpdir(), `dynis-bench-${prefix}-`));
  dirs.add(dir);
  return dir;
}

export function removeDir(dir: string): void {
  rmSync(dir, { recursive: true, force: true });
  dirs.delete(dir);
}

/** Extra synchronous cleanup (e.g. restoring the terminal); returns its unregister function. */
export function onCleanup(fn: () => void): () => void {
  cleanups.add(fn);
  return () => cleanups.delete(fn);
}

let cleanedUp = false;

/** Kill every tracked process and remove every tracked directory, synchronously. */
export function cleanupAll(): void {
  if (cleanedUp) return;
  cleanedUp = true;
  for (const fn of cleanups) {
    try {
      fn();
    } catch {
      // keep cleaning up
    }
  }
  for (const child of children) {
    try {
      if (alive(child)) child.kill('SIGKILL');
    } catch {
      // already gone
    }
  }
  for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
  dirs.clear();
}

/** Install the handlers that clean up on signals and at exit. */
export function installCleanupHandlers(): void {
  process.on('exit', cleanupAll);
  for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) {
    process.on(signal, () => {
      cleanupAll();
      process.stderr.write(`\nbench: ${signal}, stopped; every process and data directory it started is removed\n`);
      process.exit(signal === 'SIGINT' ? 130 : 143);
    });
  }
}

// --- Ports ----------------------------------------------------------------------------------

const handedOut = new Set<number>();

function canListen(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const srv = createServer();
    srv.once('error', () => resolve(false));
    srv.listen(port, '127.0.0.1', () => srv.close(() => resolve(true)));
  });
}

/** A free port in [lo, hi), never handed out before in this run. */
export async function freePort(range: readonly [number, number]): Promise<number> {
  const [lo, hi] = range;
  for (let attempt = 0; attempt < 1000; attempt++) {
    const port = lo + Math.floor(Math.random() * (hi - lo));
    if (handedOut.has(port)) continue;
    if (await canListen(port)) {
      handedOut.add(port);
      return port;
    }
  }
  throw new Error(`no free port in ${lo}..${hi}`);
}

export async function waitForPort(port: number, timeoutMs: number, child?: ChildProcess): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (child && !alive(child)) throw new Error(`process for port ${port} exited (${child.signalCode ?? `code ${child.exitCode}`}) before listening`);
    const ok = await new Promise<boolean>((resolve) => {
      const s = connect({ port, host: '127.0.0.1' }, () => {
        s.destroy();
        resolve(true);
      });
      s.on('error', () => resolve(false));
    });
    if (ok) return;
    await sleep(TIMING.portPollMs);
  }
  throw new Error(`port ${port} did not open within ${timeoutMs} ms`);
}

export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

// --- What the OS says about a process -------------------------------------------------------

const CLOCK_TICKS = 100; // sysconf(_SC_CLK_TCK) on Linux

/** CPU seconds (user + system, all threads) of a live process, from /proc/<pid>/stat. */
export function cpuSeconds(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return (Number(fields[11]) + Number(fields[12])) / CLOCK_TICKS;
}

/** Peak resident set size (VmHWM) of a live process in MiB, from /proc/<pid>/status. */
export function peakRssMiB(pid: number): number {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  const m = /VmHWM:\s+(\d+) kB/.exec(status);
  return m ? Number(m[1]) / 1024 : 0;
}

// --- Everything else on the machine -----------------------------------------------------------

/** Busy CPU seconds of the whole machine (all cores; user, nice, system, irq, softirq, steal), from /proc/stat. */
export function machineBusySeconds(): number {
  const line = readFileSync('/proc/stat', 'utf8').split('\n')[0] as string;
  const [, user, nice, system, , , irq, softirq, steal] = line.trim().split(/\s+/).map(Number);
  return ((user ?? 0) + (nice ?? 0) + (system ?? 0) + (irq ?? 0) + (softirq ?? 0) + (steal ?? 0)) / CLOCK_TICKS;
}

/** CPU seconds of this runner and everything it started: itself, its reaped children, its live children. */
export function ourCpuSeconds(): number {
  const stat = readFileSync('/proc/self/stat', 'utf8');
  const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  let total = (Number(f[11]) + Number(f[12]) + Number(f[13]) + Number(f[14])) / CLOCK_TICKS;
  for (const child of children) {
    if (child.pid !== undefined && alive(child)) {
      try {
        total += cpuSeconds(child.pid);
      } catch {
        // exited (and is counted as a reaped child once waited for)
      }
    }
  }
  return total;
}

/** CPU seconds of a process's threads: the main thread, RocksDB's own threads (rocksdb:*), and all others (libuv pool, V8 helpers). */
export function threadCpuSeconds(pid: number): { main: number; rocksdb: number; other: number } {
  const out = { main: 0, rocksdb: 0, other: 0 };
  for (const tid of readdirSync(`/proc/${pid}/task`)) {
    try {
      const stat = readFileSync(`/proc/${pid}/task/${tid}/stat`, 'utf8');
      const comm = stat.slice(stat.indexOf('(') + 1, stat.lastIndexOf(')'));
      const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      const s = (Number(f[11]) + Number(f[12])) / CLOCK_TICKS;
      if (tid === String(pid)) out.main += s;
      else if (comm.startsWith('rocksdb')) out.rocksdb += s;
      else out.other += s;
    } catch {
      // the thread ended
    }
  }
  return out;
}
