/**
 * The live progress line on a terminal: repetition, system, phase, elapsed time, ops/s.
 * Silent when the CI environment variable is set or stdout is not a TTY.
 */
import { onCleanup } from './processes.js';

export class Progress {
  readonly enabled: boolean;
  private readonly started = Date.now();
  private phaseStarted = Date.now();
  private rep = '';
  private system = '';
  private phase = '';
  private expectedSeconds = 0;
  private ops: number | undefined;
  private timer: NodeJS.Timeout | undefined;
  private lastCount: { value: number; at: number } | undefined;

  /** onPhaseEnd receives every finished phase with its wall-clock duration. */
  constructor(
    intervalMs: number,
    private readonly onPhaseEnd?: (p: { rep: string; system: string; phase: string; seconds: number }) => void,
  ) {
    this.enabled = process.env.CI === undefined && process.stdout.isTTY === true;
    if (this.enabled) {
      this.timer = setInterval(() => this.render(), intervalMs);
      this.timer.unref();
      onCleanup(() => this.clear());
    }
  }

  setRep(rep: string): void {
    this.endPhase();
    this.rep = rep;
  }

  setSystem(system: string): void {
    this.endPhase();
    this.system = system;
  }

  /** A new phase; expectedSeconds (if known) shows how long it should take. */
  setPhase(phase: string, expectedSeconds = 0): void {
    this.endPhase();
    this.phase = phase;
    this.expectedSeconds = expectedSeconds;
    this.phaseStarted = Date.now();
    this.ops = undefined;
    this.lastCount = undefined;
    this.render();
  }

  /** A cumulative operation count; ops/s is derived from successive counts. */
  count(value: number): void {
    const at = Date.now();
    if (this.lastCount && at > this.lastCount.at && value >= this.lastCount.value) {
      const rate = ((value - this.lastCount.value) * 1000) / (at - this.lastCount.at);
      this.ops = this.ops === undefined ? rate : 0.5 * this.ops + 0.5 * rate;
    }
    this.lastCount = { value, at };
  }

  /** A line that stays (above the progress line). */
  note(line: string): void {
    if (!this.enabled) return;
    this.clear();
    process.stdout.write(`${line}\n`);
    this.render();
  }

  get currentPhase(): string {
    return this.phase;
  }

  private endPhase(): void {
    if (this.phase !== '') this.onPhaseEnd?.({ rep: this.rep, system: this.system, phase: this.phase, seconds: (Date.now() - this.phaseStarted) / 1000 });
    this.phase = '';
  }

  private render(): void {
    if (!this.enabled) return;
    const total = fmtDuration((Date.now() - this.started) / 1000);
    const phaseS = (Date.now() - this.phaseStarted) / 1000;
    const expected = this.expectedSeconds > 0 ? `/${this.expectedSeconds.toFixed(1)}s` : 's';
    const ops = this.ops === undefined ? '' : ` · ${Math.round(this.ops).toLocaleString('en-US')} ops/s`;
    let line = `[${total}] ${this.rep} · ${this.system} · ${this.phase} · ${phaseS.toFixed(1)}${expected}${ops}`;
    const width = process.stdout.columns ?? 120;
    if (line.length > width - 1) line = `${line.slice(0, width - 2)}…`;
    process.stdout.write(`\r\x1b[K${line}`);
  }

  clear(): void {
    if (this.enabled) process.stdout.write('\r\x1b[K');
  }

  stop(): void {
    this.endPhase();
    if (this.timer) clearInterval(this.timer);
    this.clear();
  }
}

export function fmtDuration(seconds: number): string {
  const m = Math.floor(seconds / 60);
  const s = Math.floor(seconds % 60);
  return `${m}m${String(s).padStart(2, '0')}s`;
}
