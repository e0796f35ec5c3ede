/**
 * SVG charts written by hand (no chart library): throughput relative to redis-server, latency
 * percentile curves of the fixed-rate runs, and the failure timeline. Plain SVG 1.1 with a
 * white background, so they read the same on light and dark pages.
 */
import { TARGETS } from './config.js';
import { fmtMs, fmtOps } from './report.js';
import { driverRows, failureSeconds, median, rbRows, systemLabel, type RawResults } from './results.js';
import type { SystemId } from './systems.js';

export interface Chart {
  readonly name: string;
  readonly title: string;
  readonly svg: string;
}

const COLORS: Record<SystemId, string> = {
  redis: '#c0392b',
  'redis-aof': '#d68910',
  'dynis-1': '#2471a3',
  'dynis-3': '#229954',
  'dynis-5': '#7d3c98',
};
const SHORT: Record<SystemId, string> = { redis: 'redis', 'redis-aof': 'redis AOF', 'dynis-1': 'dynis 1', 'dynis-3': 'dynis 3', 'dynis-5': 'dynis 5' };
const FONT = 'font-family="Helvetica, Arial, sans-serif"';

function esc(s: string): string {
  return s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');
}

function n(x: number): string {
  return Number.isFinite(x) ? (Math.round(x * 10) / 10).toString() : '0';
}

function text(x: number, y: number, s: string, attrs = ''): string {
  return `<text x="${n(x)}" y="${n(y)}" ${attrs}>${esc(s)}</text>`;
}

function svgDoc(width: number, height: number, title: string, body: string[]): string {
  return [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" ${FONT} font-size="12">`,
    `<title>${esc(title)}</title>`,
    `<rect width="${width}" height="${height}" fill="#ffffff"/>`,
    ...body,
    '</svg>',
    '',
  ].join('\n');
}

function legend(raw: RawResults, x: number, y: number): string[] {
  const out: string[] = [];
  let cx = x;
  for (const s of raw.systems) {
    out.push(`<rect x="${n(cx)}" y="${n(y - 10)}" width="12" height="12" fill="${COLORS[s.id]}"/>`);
    out.push(text(cx + 16, y, s.label, 'fill="#222"'));
    cx += 24 + s.label.length * 7;
  }
  return out;
}

/** Horizontal bars of ops/s relative to redis-server, one group per redis-benchmark test. */
function throughputChart(raw: RawResults): Chart | undefined {
  const rows = rbRows(raw);
  if (rows.length === 0) return undefined;
  const groups: Array<{ label: string; rows: typeof rows }> = [];
  for (const r of rows) {
    const label = `${r.workload} ${r.test}`;
    const g = groups.find((x) => x.label === label);
    if (g) g.rows.push(r);
    else groups.push({ label, rows: [r] });
  }
  const width = 900;
  const left = 110;
  const right = 190;
  const top = 58;
  const barH = 13;
  const gap = 3;
  const groupGap = 14;
  const plotW = width - left - right;
  const xMax = Math.max(1.2, ...rows.map((r) => (Number.isFinite(r.ratio.max) ? r.ratio.max : 0))) * 1.05;
  const x = (v: number): number => left + (Math.max(0, v) / xMax) * plotW;
  const height = top + groups.reduce((h, g) => h + g.rows.length * (barH + gap) + groupGap, 0) + 30;
  const body: string[] = [];
  const title = 'Throughput relative to redis-server (redis-benchmark -c 50)';
  body.push(text(12, 20, title, 'font-size="15" font-weight="bold" fill="#111"'));
  body.push(...legend(raw, 12, 42));
  body.push(text(width - 12, 42, 'bar: median · whisker: min–max · label: ratio, ops/s', 'text-anchor="end" fill="#555"'));
  // Grid
  const step = xMax > 3 ? 0.5 : 0.25;
  for (let v = 0; v <= xMax; v += step) {
    body.push(`<line x1="${n(x(v))}" y1="${top - 6}" x2="${n(x(v))}" y2="${height - 24}" stroke="${Math.abs(v - 1) < 1e-9 ? '#888' : '#e5e5e5'}" stroke-width="1"/>`);
    body.push(text(x(v), height - 10, `${v.toFixed(2)}×`, 'text-anchor="middle" fill="#555"'));
  }
  let y = top;
  for (const g of groups) {
    const gh = g.rows.length * (barH + gap);
    body.push(text(left - 8, y + gh / 2 + 4, g.label, 'text-anchor="end" fill="#111"'));
    for (const r of g.rows) {
      const v = r.ratio.median;
      body.push(`<rect x="${left}" y="${n(y)}" width="${n(x(v) - left)}" height="${barH}" fill="${COLORS[r.system]}"/>`);
      if (r.ratio.n > 1) {
        const cy = y + barH / 2;
        body.push(`<line x1="${n(x(r.ratio.min))}" y1="${n(cy)}" x2="${n(x(r.ratio.max))}" y2="${n(cy)}" stroke="#222" stroke-width="1"/>`);
        for (const e of [r.ratio.min, r.ratio.max]) body.push(`<line x1="${n(x(e))}" y1="${n(cy - 3)}" x2="${n(x(e))}" y2="${n(cy + 3)}" stroke="#222" stroke-width="1"/>`);
      }
      const target = TARGETS.find((t) => t.source === 'rb' && t.metric === 'ops' && t.system === r.system && t.workload === r.workload && t.test === r.test);
      if (target) {
        body.push(`<line x1="${n(x(target.bound))}" y1="${n(y - 1)}" x2="${n(x(target.bound))}" y2="${n(y + barH + 1)}" stroke="#111" stroke-width="2" stroke-dasharray="2,2"/>`);
      }
      const labelX = Math.max(x(Number.isFinite(r.ratio.max) ? r.ratio.max : v), x(target?.bound ?? 0)) + 6;
      body.push(text(labelX, y + barH - 2, `${v.toFixed(2)}× · ${fmtOps(r.rps.median)}/s`, 'fill="#222" font-size="11"'));
      y += barH + gap;
    }
    y += groupGap;
  }
  body.push(text(left, height - 24 + 0, '', ''));
  if (TARGETS.some((t) => raw.systems.some((s) => s.id === t.system))) {
    body.push(text(width - 12, height - 10, 'dotted tick: target', 'text-anchor="end" fill="#555" font-size="11"'));
  }
  return { name: 'throughput', title, svg: svgDoc(width, height, title, body) };
}

/** x position of a percentile on a "nines" scale: 0 → 0, 90 → 1, 99 → 2, 99.9 → 3; max one step past the last. */
function nines(p: number, maxAt: number): number {
  if (p >= 100) return maxAt;
  return -Math.log10(1 - p / 100);
}

function logTicks(lo: number, hi: number): number[] {
  const out: number[] = [];
  for (let e = Math.floor(Math.log10(lo)); e <= Math.ceil(Math.log10(hi)); e++) out.push(10 ** e);
  return out;
}

function tickLabel(v: number): string {
  return v >= 1 ? v.toFixed(0) : v.toString();
}

/** Latency percentile curves of the fixed-rate runs: a row per workload, a panel per load. */
function latencyChart(raw: RawResults): Chart | undefined {
  const rows = driverRows(raw).filter((r) => r.load !== 'max' && r.curve.length > 0);
  if (rows.length === 0) return undefined;
  const workloads = [...new Set(rows.map((r) => r.workload))];
  const loads = [...new Set(rows.map((r) => r.load as number))].sort((a, b) => a - b);
  const padL = 52;
  const colGap = 24;
  const width = 900;
  const panelW = Math.floor((width - padL - 10) / loads.length - colGap);
  const panelH = 190;
  const padT = 40;
  const rowH = padT + panelH + 36 + 13 * Math.max(1, raw.systems.length);
  const top = 52;
  const height = top + workloads.length * rowH;
  const values = rows.flatMap((r) => r.curve.map(([, v]) => v)).filter((v) => v > 0 && Number.isFinite(v));
  const lo = Math.max(0.01, Math.min(...values));
  const hi = Math.max(...values);
  const ticks = logTicks(lo, hi);
  const yLo = Math.log10(ticks[0] as number);
  const yHi = Math.log10(ticks[ticks.length - 1] as number);
  const lastP = Math.max(...rows.flatMap((r) => r.curve.map(([p]) => p)).filter((p) => p < 100));
  const maxAt = nines(lastP, 0) + 0.6;
  const body: string[] = [];
  const title = 'Latency percentiles at fixed rates (open loop, measured from the intended send time)';
  body.push(text(12, 20, title, 'font-size="15" font-weight="bold" fill="#111"'));
  body.push(...legend(raw, 12, 42));
  body.push(text(width - 12, 42, 'ms, log scale · lag: the driver\'s own lateness · †n: driver fell behind in n runs', 'text-anchor="end" fill="#555"'));
  workloads.forEach((w, wi) => {
    loads.forEach((load, li) => {
      const wrows = rows.filter((r) => r.workload === w && r.load === load);
      if (wrows.length === 0) return;
      const ox = padL + li * (panelW + colGap);
      const oy = top + wi * rowH + padT;
      const px = (p: number): number => ox + (nines(p, maxAt) / maxAt) * panelW;
      const py = (v: number): number => oy + panelH - ((Math.log10(Math.max(v, ticks[0] as number)) - yLo) / (yHi - yLo)) * panelH;
      body.push(text(ox, oy - 10, `${w} · ${Math.round(load * 100)}% of max`, 'font-weight="bold" fill="#111"'));
      body.push(`<rect x="${ox}" y="${oy}" width="${panelW}" height="${panelH}" fill="none" stroke="#ccc"/>`);
      const firstInRow = loads.findIndex((l) => rows.some((r) => r.workload === w && r.load === l)) === li;
      for (const t of ticks) {
        body.push(`<line x1="${ox}" y1="${n(py(t))}" x2="${ox + panelW}" y2="${n(py(t))}" stroke="#eee"/>`);
        if (firstInRow) body.push(text(ox - 6, py(t) + 4, tickLabel(t), 'text-anchor="end" fill="#555" font-size="11"'));
      }
      for (const [p, lbl] of [[50, 'p50'], [90, 'p90'], [99, 'p99'], [99.9, 'p99.9'], [99.99, 'p99.99'], [100, 'max']] as Array<[number, string]>) {
        if (p < 100 && p > lastP) continue;
        body.push(`<line x1="${n(px(p))}" y1="${oy}" x2="${n(px(p))}" y2="${oy + panelH}" stroke="#eee"/>`);
        body.push(text(px(p), oy + panelH + 14, lbl, 'text-anchor="middle" fill="#555" font-size="10"'));
      }
      for (const r of wrows) {
        const pts = r.curve.filter(([, v]) => Number.isFinite(v) && v > 0).map(([p, v]) => `${n(px(p))},${n(py(v))}`);
        body.push(`<polyline points="${pts.join(' ')}" fill="none" stroke="${COLORS[r.system]}" stroke-width="2"/>`);
      }
      wrows.forEach((r, i) => {
        const name = loads.length > 1 ? SHORT[r.system] : systemLabel(raw, r.system);
        const note = `${name}: ${fmtOps(r.achievedRate.median)}/s · p99 ${fmtMs(r.p99Ms.median)} · lag p99 ${fmtMs(r.lagP99Ms.median)} ms${r.driverBound > 0 ? ` †${r.driverBound}` : ''}`;
        body.push(text(ox, oy + panelH + 30 + i * 13, note, `fill="${COLORS[r.system]}" font-size="${loads.length > 2 ? 10 : 11}"`));
      });
    });
  });
  return { name: 'latency', title, svg: svgDoc(width, height, title, body) };
}

/** The cluster's failure run: successful ops and errors per second, p99 per second, events. */
function failureChart(raw: RawResults): Chart | undefined {
  if (raw.failures.length === 0) return undefined;
  const secs = failureSeconds(raw);
  const width = 900;
  const left = 70;
  const right = 20;
  const top = 60;
  const h1 = 200;
  const h2 = 150;
  const gap = 40;
  const height = top + h1 + gap + h2 + 40;
  const plotW = width - left - right;
  const T = Math.max(1, secs.length);
  const x = (s: number): number => left + (s / T) * plotW;
  const opsMax = Math.max(1, ...raw.failures.flatMap((f) => f.perSecond.map((s) => Math.max(s.ok, s.errors)))) * 1.1;
  const y1 = (v: number): number => top + h1 - (v / opsMax) * h1;
  const p99s = raw.failures.flatMap((f) => f.perSecond.filter((s) => s.ok > 0).map((s) => s.p99Ms)).filter((v) => v > 0);
  const ticks = logTicks(Math.max(0.01, Math.min(...p99s, 1)), Math.max(...p99s, 1));
  const yLo = Math.log10(ticks[0] as number);
  const yHi = Math.log10(ticks[ticks.length - 1] as number);
  const top2 = top + h1 + gap;
  const y2 = (v: number): number => top2 + h2 - ((Math.log10(Math.max(v, ticks[0] as number)) - yLo) / (yHi - yLo || 1)) * h2;
  const body: string[] = [];
  const f = raw.plan.failure;
  const title = `One of 3 nodes killed and restarted: GET/SET ${Math.round(f.readFraction * 100)}/${Math.round((1 - f.readFraction) * 100)} at ${Math.round(f.load * 100)}% of its maximum (${raw.failures.map((x) => fmtOps(x.rate)).join(', ')} ops/s)`;
  body.push(text(12, 20, title, 'font-size="15" font-weight="bold" fill="#111"'));
  body.push(`<line x1="12" y1="38" x2="32" y2="38" stroke="${COLORS['dynis-3']}" stroke-width="2.5"/>`);
  body.push(text(36, 42, 'successful ops/s (median; thin: each repetition)', 'fill="#222"'));
  body.push(`<rect x="350" y="32" width="12" height="12" fill="#c0392b" opacity="0.7"/>`);
  body.push(text(366, 42, raw.failures.length > 1 ? 'errors/s (bars: median; thin: each repetition)' : 'errors/s', 'fill="#222"'));
  body.push(text(width - 12, 42, 'by second of intended send time', 'text-anchor="end" fill="#555"'));
  // Axes and grid
  for (let i = 0; i <= 4; i++) {
    const v = (opsMax / 1.1) * (i / 4);
    body.push(`<line x1="${left}" y1="${n(y1(v))}" x2="${width - right}" y2="${n(y1(v))}" stroke="#eee"/>`);
    body.push(text(left - 6, y1(v) + 4, fmtOps(v), 'text-anchor="end" fill="#555" font-size="11"'));
  }
  for (const t of ticks) {
    body.push(`<line x1="${left}" y1="${n(y2(t))}" x2="${width - right}" y2="${n(y2(t))}" stroke="#eee"/>`);
    body.push(text(left - 6, y2(t) + 4, tickLabel(t), 'text-anchor="end" fill="#555" font-size="11"'));
  }
  body.push(text(left, top2 - 8, 'p99 latency per second, ms (log scale)', 'fill="#222" font-weight="bold"'));
  const every = T > 30 ? 5 : T > 12 ? 2 : 1;
  for (let s = 0; s <= T; s += every) body.push(text(x(s), top2 + h2 + 16, `${s}s`, 'text-anchor="middle" fill="#555" font-size="11"'));
  body.push(`<rect x="${left}" y="${top}" width="${plotW}" height="${h1}" fill="none" stroke="#ccc"/>`);
  body.push(`<rect x="${left}" y="${top2}" width="${plotW}" height="${h2}" fill="none" stroke="#ccc"/>`);
  // Events
  const events: Array<[number, string, string]> = [
    [median(raw.failures.map((x) => x.killAtS)), 'node 3 killed', '#c0392b'],
    [median(raw.failures.map((x) => x.restartAtS)), 'node 3 restarted', '#2471a3'],
  ];
  const ups = raw.failures.map((x) => x.peersUpAtS).filter((v): v is number => v !== undefined);
  if (ups.length > 0) events.push([median(ups), 'peers up', '#555']);
  events.forEach(([t, lbl, color], i) => {
    body.push(`<line x1="${n(x(t))}" y1="${top}" x2="${n(x(t))}" y2="${top2 + h2}" stroke="${color}" stroke-dasharray="4,3"/>`);
    const nearEnd = x(t) > width - right - 80;
    body.push(text(x(t) + (nearEnd ? -3 : 3), top + 12 + i * 13, lbl, `fill="${color}" font-size="11"${nearEnd ? ' text-anchor="end"' : ''}`));
  });
  // Errors (bars), ok (lines)
  const bw = Math.max(2, plotW / T - 4);
  for (const s of secs) {
    if (s.errors.median > 0) body.push(`<rect x="${n(x(s.second) + 2)}" y="${n(y1(s.errors.median))}" width="${n(bw)}" height="${n(top + h1 - y1(s.errors.median))}" fill="#c0392b" opacity="0.7"/>`);
  }
  const mid = (s: number): number => x(s + 0.5);
  if (raw.failures.length > 1) {
    for (const fr of raw.failures) {
      body.push(`<polyline points="${fr.perSecond.map((s) => `${n(mid(s.second))},${n(y1(s.errors))}`).join(' ')}" fill="none" stroke="#c0392b" stroke-width="1" opacity="0.5"/>`);
      body.push(`<polyline points="${fr.perSecond.map((s) => `${n(mid(s.second))},${n(y1(s.ok))}`).join(' ')}" fill="none" stroke="${COLORS['dynis-3']}" stroke-width="1" opacity="0.35"/>`);
      const pts = fr.perSecond.filter((s) => s.ok > 0).map((s) => `${n(mid(s.second))},${n(y2(s.p99Ms))}`);
      body.push(`<polyline points="${pts.join(' ')}" fill="none" stroke="${COLORS['dynis-3']}" stroke-width="1" opacity="0.35"/>`);
    }
  }
  body.push(`<polyline points="${secs.map((s) => `${n(mid(s.second))},${n(y1(s.ok.median))}`).join(' ')}" fill="none" stroke="${COLORS['dynis-3']}" stroke-width="2.5"/>`);
  const p99pts = secs.filter((s) => Number.isFinite(s.p99Ms.median)).map((s) => `${n(mid(s.second))},${n(y2(s.p99Ms.median))}`);
  body.push(`<polyline points="${p99pts.join(' ')}" fill="none" stroke="${COLORS['dynis-3']}" stroke-width="2.5"/>`);
  for (const s of secs) {
    if (Number.isFinite(s.p99Ms.median)) body.push(`<circle cx="${n(mid(s.second))}" cy="${n(y2(s.p99Ms.median))}" r="2.5" fill="${COLORS['dynis-3']}"><title>${esc(`${s.second}s: p99 ${fmtMs(s.p99Ms.median)} ms`)}</title></circle>`);
  }
  return { name: 'failure', title, svg: svgDoc(width, height, title, body) };
}

export function renderCharts(raw: RawResults): Chart[] {
  return [throughputChart(raw), latencyChart(raw), failureChart(raw)].filter((c): c is Chart => c !== undefined);
}
