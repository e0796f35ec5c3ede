/**
 * Helpers of the admin-port tests: HTTP requests (with Basic auth), a small parser of the
 * Prometheus text format, and waiting for a condition.
 */

export interface HttpReply {
  readonly status: number;
  readonly headers: Headers;
  readonly body: string;
}

export async function http(
  url: string,
  options: { method?: string; user?: string; password?: string; headers?: Record<string, string> } = {},
): Promise<HttpReply> {
  const headers: Record<string, string> = { ...options.headers };
  if (options.password !== undefined) {
    headers.authorization = `Basic ${Buffer.from(`${options.user ?? 'default'}:${options.password}`, 'utf8').toString('base64')}`;
  }
  const res = await fetch(url, { method: options.method ?? 'GET', headers, signal: AbortSignal.timeout(10_000) });
  return { status: res.status, headers: res.headers, body: await res.text() };
}

/** One sample of the exposition: name, labels, value. */
export interface PromSample {
  readonly name: string;
  readonly labels: Readonly<Record<string, string>>;
  readonly value: number;
}

export interface PromText {
  readonly samples: readonly PromSample[];
  /** Family name → its # TYPE and # HELP. */
  readonly types: ReadonlyMap<string, string>;
  readonly helps: ReadonlyMap<string, string>;
  /** The value of the sample with this name and exactly these labels (undefined if absent). */
  value(name: string, labels?: Record<string, string>): number | undefined;
  /** Every sample of this name, whatever its labels. */
  all(name: string): PromSample[];
}

function parseValue(v: string): number {
  if (v === '+Inf') return Infinity;
  if (v === '-Inf') return -Infinity;
  if (v === 'NaN' || v === 'Nan') return NaN;
  const n = Number(v);
  if (Number.isNaN(n)) throw new Error(`not a sample value: '${v}'`);
  return n;
}

/** Parse Prometheus text format 0.0.4 strictly enough to catch malformed lines. */
export function parseProm(text: string): PromText {
  const samples: PromSample[] = [];
  const types = new Map<string, string>();
  const helps = new Map<string, string>();
  for (const line of text.split('\n')) {
    if (line === '') continue;
    let m = /^# (HELP|TYPE) ([a-zA-Z_:][a-zA-Z0-9_:]*) (.*)$/.exec(line);
    if (m !== null) {
      (m[1] === 'HELP' ? helps : types).set(m[2] as string, m[3] as string);
      continue;
    }
    m = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? (\S+)$/.exec(line);
    if (m === null) throw new Error(`malformed exposition line: ${line}`);
    const labels: Record<string, string> = {};
    const body = m[2] ?? '';
    const re = /([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"(?:,|$)/g;
    let consumed = 0;
    for (let l = re.exec(body); l !== null; l = re.exec(body)) {
      labels[l[1] as string] = (l[2] as string).replace(/\\n/g, '\n').replace(/\\"/g, '"').replace(/\\\\/g, '\\');
      consumed = re.lastIndex;
    }
    if (consumed !== body.length) throw new Error(`malformed labels: ${line}`);
    samples.push({ name: m[1] as string, labels, value: parseValue(m[3] as string) });
  }
  const same = (a: Readonly<Record<string, string>>, b: Record<string, string>): boolean =>
    Object.keys(a).length === Object.keys(b).length && Object.entries(b).every(([k, v]) => a[k] === v);
  return {
    samples,
    types,
    helps,
    value: (name, labels = {}) => samples.find((s) => s.name === name && same(s.labels, labels))?.value,
    all: (name) => samples.filter((s) => s.name === name),
  };
}

export async function eventually<T>(check: () => Promise<T | undefined | false>, what: string, timeoutMs = 8000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  for (;;) {
    try {
      const v = await check();
      if (v !== undefined && v !== false) return v;
    } catch (err) {
      last = err;
    }
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}${last ? ` (last error: ${String(last)})` : ''}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}
