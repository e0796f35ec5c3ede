/**
 * Logging: pino, one child logger per component (node, peer, membership, hints,
 * anti-entropy, transfer, server), at the level of --loglevel. Two formats (--log-format):
 * `json`, pino's own lines (time, level, component, msg) for log collectors, and `text`, one
 * readable line per record: `2026-11-23T21:07:10.123Z warn  [peer] msg`. Nothing is logged
 * per request at info: requests are counted (INFO, metrics), not logged; warnings that can
 * repeat per request (failed AUTH, TLS handshakes, sibling warnings) are rate-limited where
 * they are raised.
 */
import { pino, type Logger } from 'pino';

export type LogLevel = 'debug' | 'info' | 'warn' | 'error';
export type LogFormat = 'json' | 'text';
/** What components are given: a function of a level and a message. */
export type LogFn = (level: 'info' | 'warn', line: string) => void;

const LABELS: Record<number, string> = { 10: 'trace', 20: 'debug', 30: 'info', 40: 'warn', 50: 'error', 60: 'fatal' };

/** pino's JSON line as one readable line (the text format). */
export function textLine(json: string): string {
  try {
    const r = JSON.parse(json) as { time?: number; level?: number; component?: string; msg?: string; [k: string]: unknown };
    const time = new Date(r.time ?? Date.now()).toISOString();
    const level = (LABELS[r.level ?? 30] ?? 'info').padEnd(5);
    return `${time} ${level} ${r.component !== undefined ? `[${r.component}] ` : ''}${r.msg ?? ''}`;
  } catch {
    return json.trimEnd();
  }
}

/** A root logger writing whole lines to `sink` (stdout by default). */
export function createLogger(level: LogLevel, format: LogFormat, sink: (line: string) => void): Logger {
  return pino(
    { level, base: undefined, timestamp: pino.stdTimeFunctions.epochTime },
    { write: (chunk: string) => sink(format === 'text' ? textLine(chunk) : chunk.trimEnd()) },
  );
}

/** The LogFn of one component. */
export function componentLog(root: Logger, component: string): LogFn {
  const child = root.child({ component });
  return (level, line) => child[level](line);
}
