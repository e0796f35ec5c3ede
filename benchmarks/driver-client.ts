/**
 * The runner's side of the load driver: forks dist/benchmarks/driver.js and runs phases in it.
 */
import { fork, type ChildProcess } from 'node:child_process';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { TIMING } from './config.js';
import type { FromDriver, PhaseResult, PhaseSpec, ToDriver } from './driver.js';
import { alive, stopChild, track } from './processes.js';

const DRIVER = path.join(path.dirname(fileURLToPath(import.meta.url)), 'driver.js');

export interface PhaseCallbacks {
  /** Cumulative successful operations (including warm-up), every TIMING.driverProgressMs. */
  onProgress?(ok: number, errors: number): void;
  /** The recorded window begins. */
  onRecording?(): void;
}

export class DriverClient {
  private nextId = 1;
  private readonly pending = new Map<number, { resolve(r: PhaseResult): void; reject(e: Error): void; cb: PhaseCallbacks }>();

  private constructor(private readonly child: ChildProcess) {
    child.on('message', (msg: FromDriver) => {
      if (msg.type === 'ready') return;
      const p = this.pending.get(msg.id);
      if (!p) return;
      if (msg.type === 'progress') p.cb.onProgress?.(msg.ok, msg.errors);
      else if (msg.type === 'recording') p.cb.onRecording?.();
      else {
        this.pending.delete(msg.id);
        if (msg.type === 'result') p.resolve(msg.result);
        else p.reject(new Error(`driver: ${msg.message}`));
      }
    });
    child.on('exit', (code, signal) => {
      for (const p of this.pending.values()) p.reject(new Error(`driver exited (${signal ?? `code ${code}`})`));
      this.pending.clear();
    });
  }

  static async start(): Promise<DriverClient> {
    const child = fork(DRIVER, [], { stdio: ['ignore', 'inherit', 'inherit', 'ipc'], execArgv: [] });
    track(child);
    await new Promise<void>((resolve, reject) => {
      child.once('message', () => resolve());
      child.once('exit', (code) => reject(new Error(`driver exited at start (code ${code})`)));
      child.once('error', reject);
    });
    return new DriverClient(child);
  }

  get pid(): number | undefined {
    return this.child.pid;
  }

  run(phase: PhaseSpec, cb: PhaseCallbacks = {}): Promise<PhaseResult> {
    const id = this.nextId++;
    return new Promise((resolve, reject) => {
      this.pending.set(id, { resolve, reject, cb });
      const msg: ToDriver = { id, phase };
      this.child.send(msg);
    });
  }

  async close(): Promise<void> {
    if (!alive(this.child)) return;
    const msg: ToDriver = { id: 0, close: true };
    this.child.send(msg);
    await stopChild(this.child, 'SIGTERM', TIMING.driverStopMs);
  }
}
