/**
 * The status page (GET / on the admin port): one self-contained HTML document with inline
 * CSS and JavaScript, no build step and no external resource. Every refreshMs it fetches
 * /status.json and draws:
 *  - the ring as a circle of Q wedges (SVG), each filled with the colour of its owner (the
 *    head of the partition's preference list); a wedge whose owner is down is faded; hovering
 *    one shows its preference list;
 *  - a legend of the members: colour, id, health (up, down, joining, leaving, new, left),
 *    zone, client port, partitions owned;
 *  - this node's commands per second, with a sparkline of the last minute.
 * The page is kept in this .ts module (tsc compiles only .ts files, so a separate .html
 * would need a copy step). Its script avoids template literals so that it can live inside one.
 * The Content-Security-Policy allows exactly this script and this style, by hash.
 */
import { createHash } from 'node:crypto';

const STYLE = `
:root { --bg: #f6f6f4; --fg: #1d1d1f; --muted: #6b6b70; --card: #fff; --line: #e2e2de; }
* { box-sizing: border-box; }
body { margin: 0; font: 14px/1.45 system-ui, -apple-system, "Segoe UI", Roboto, "Helvetica Neue", sans-serif; background: var(--bg); color: var(--fg); }
header { display: flex; align-items: baseline; gap: 12px; padding: 14px 24px; background: var(--card); border-bottom: 1px solid var(--line); }
h1 { font-size: 18px; margin: 0; }
h1 small { font-weight: 400; color: var(--muted); }
h2 { font-size: 13px; margin: 0 0 8px; text-transform: uppercase; letter-spacing: .06em; color: var(--muted); }
#conn { margin-left: auto; font-size: 12px; padding: 2px 10px; border-radius: 10px; background: #e8f5e9; color: #1b5e20; }
#conn.bad { background: #ffebee; color: #b71c1c; }
main { display: flex; flex-wrap: wrap; gap: 20px; padding: 20px 24px; align-items: flex-start; }
.card { background: var(--card); border: 1px solid var(--line); border-radius: 8px; padding: 16px; }
#ringbox { flex: 1 1 420px; max-width: 620px; }
#ring { display: block; width: 100%; height: auto; }
#ring path.partition { stroke: #fff; stroke-width: .6; }
#ring.dense path.partition { stroke: none; }
#ring path.partition.down { opacity: .22; }
#ring text { text-anchor: middle; fill: var(--fg); }
#ring .c1 { font-size: 22px; font-weight: 600; }
#ring .c2, #ring .c3 { font-size: 12px; fill: var(--muted); }
#ring .c4 { font-size: 12px; font-weight: 600; fill: #c62828; }
aside { flex: 1 1 320px; max-width: 520px; display: flex; flex-direction: column; gap: 20px; }
.big { font-size: 34px; font-weight: 600; font-variant-numeric: tabular-nums; }
.unit { color: var(--muted); }
#spark { display: block; width: 100%; height: 48px; margin-top: 6px; }
#spark polyline { fill: none; stroke: #4e79a7; stroke-width: 1.5; }
dl { display: grid; grid-template-columns: max-content 1fr; gap: 4px 14px; margin: 0; }
dt { color: var(--muted); }
dd { margin: 0; font-variant-numeric: tabular-nums; overflow-wrap: anywhere; }
#legend { list-style: none; margin: 0; padding: 0; }
#legend li { display: grid; grid-template-columns: 14px 1fr auto; gap: 2px 10px; align-items: center; padding: 8px 0; border-top: 1px solid var(--line); }
#legend li:first-child { border-top: none; }
.swatch { width: 14px; height: 14px; border-radius: 3px; }
.name { font-weight: 600; overflow-wrap: anywhere; }
.me { font-weight: 400; color: var(--muted); }
.badge { font-size: 11px; font-weight: 600; padding: 1px 9px; border-radius: 10px; color: #fff; text-transform: uppercase; letter-spacing: .05em; }
.badge.up { background: #2e7d32; } .badge.down { background: #c62828; } .badge.joining { background: #ef6c00; }
.badge.leaving { background: #1565c0; } .badge.new, .badge.left { background: #757575; }
.detail { grid-column: 2 / 4; color: var(--muted); font-size: 12px; }
body.stale #ring, body.stale .big { opacity: .45; filter: grayscale(1); }
`;

const SCRIPT = `
(function () {
  'use strict';
  var REFRESH_MS = Number(document.body.getAttribute('data-refresh-ms')) || 1000;
  var SVG_NS = 'http://www.w3.org/2000/svg';
  var PALETTE = ['#4e79a7', '#f28e2b', '#59a14f', '#e15759', '#b07aa1', '#76b7b2', '#edc948', '#ff9da7', '#9c755f', '#bab0ac'];
  var R_OUT = 200, R_IN = 138;
  var ring = document.getElementById('ring');
  var wedges = document.getElementById('wedges');
  var drawnKey = '';

  function text(id, value) { document.getElementById(id).textContent = value; }
  function make(tag, cls, content) {
    var e = document.createElement(tag);
    if (cls) e.className = cls;
    if (content !== undefined) e.textContent = content;
    return e;
  }
  function colourOf(i) {
    return i < PALETTE.length ? PALETTE[i] : 'hsl(' + Math.round((i * 137.508) % 360) + ', 55%, 55%)';
  }
  function point(r, a) { return (r * Math.cos(a)).toFixed(2) + ' ' + (r * Math.sin(a)).toFixed(2); }
  /** The wedge of partition i of q: two half arcs outside, two inside (works for q = 1 too). */
  function wedge(i, q) {
    var a0 = 2 * Math.PI * i / q - Math.PI / 2, a1 = 2 * Math.PI * (i + 1) / q - Math.PI / 2, am = (a0 + a1) / 2;
    return 'M' + point(R_OUT, a0) +
      'A' + R_OUT + ' ' + R_OUT + ' 0 0 1 ' + point(R_OUT, am) + 'A' + R_OUT + ' ' + R_OUT + ' 0 0 1 ' + point(R_OUT, a1) +
      'L' + point(R_IN, a1) +
      'A' + R_IN + ' ' + R_IN + ' 0 0 0 ' + point(R_IN, am) + 'A' + R_IN + ' ' + R_IN + ' 0 0 0 ' + point(R_IN, a0) + 'Z';
  }

  function drawRing(s, colours, health) {
    var q = s.ring.length;
    var key = s.ring.map(function (p) { return p.preferenceList.join(','); }).join(';') + '|' + Object.keys(colours).map(function (id) { return id + '=' + colours[id]; }).join(',');
    if (key !== drawnKey) {
      while (wedges.firstChild) wedges.removeChild(wedges.firstChild);
      ring.classList.toggle('dense', q > 512);
      s.ring.forEach(function (p) {
        var path = document.createElementNS(SVG_NS, 'path');
        path.setAttribute('class', 'partition');
        path.setAttribute('d', wedge(p.partition, q));
        path.setAttribute('fill', colours[p.owner] || '#cccccc');
        path.setAttribute('data-partition', String(p.partition));
        path.setAttribute('data-owner', p.owner);
        var title = document.createElementNS(SVG_NS, 'title');
        title.textContent = 'partition ' + p.partition + ': ' + p.preferenceList.join(', ');
        path.appendChild(title);
        wedges.appendChild(path);
      });
      drawnKey = key;
    }
    var paths = wedges.childNodes;
    for (var i = 0; i < paths.length; i++) {
      paths[i].classList.toggle('down', health[paths[i].getAttribute('data-owner')] === 'down');
    }
    ring.setAttribute('data-partitions', String(q));
    text('c1', q === 0 ? 'no ring yet' : q + ' partitions');
    text('c2', 'N=' + s.n + '  R=' + s.r + '  W=' + s.w);
    text('c3', s.scheme);
    var down = s.members.filter(function (m) { return m.health === 'down'; }).length;
    text('c4', down === 0 ? '' : down + ' of ' + s.members.length + ' members down');
  }

  function drawLegend(s, colours) {
    var legend = document.getElementById('legend');
    var items = s.members.map(function (m) {
      var li = make('li');
      li.setAttribute('data-id', m.id);
      li.setAttribute('data-health', m.health);
      var sw = make('span', 'swatch');
      sw.style.background = colours[m.id];
      var name = make('span', 'name', m.id);
      if (m.self) name.appendChild(make('span', 'me', ' (this node)'));
      var details = ['zone ' + m.zone, m.port ? 'client port ' + m.port : 'client port unknown', m.partitionsOwned + ' partitions owned'];
      if (m.health === 'down') details.push('unreachable from this node');
      li.appendChild(sw);
      li.appendChild(name);
      li.appendChild(make('span', 'badge ' + m.health, m.health));
      li.appendChild(make('span', 'detail', details.join(' \\u00b7 ')));
      return li;
    });
    legend.replaceChildren.apply(legend, items);
  }

  function drawOps(s) {
    var ops = s.ops.perSecond;
    text('ops', ops === null ? '\\u2013' : Math.round(ops).toLocaleString('en-US'));
    var samples = s.ops.samples, max = 1;
    samples.forEach(function (v) { if (v > max) max = v; });
    var points = samples.map(function (v, i) {
      var x = samples.length < 2 ? 0 : (i / (samples.length - 1)) * 240;
      return x.toFixed(1) + ',' + (46 - (v / max) * 44).toFixed(1);
    });
    document.getElementById('sparkline').setAttribute('points', points.join(' '));
    text('opsmax', 'peak ' + Math.round(max).toLocaleString('en-US') + ' ops/s over the last ' + samples.length + ' s');
  }

  function drawFacts(s) {
    text('cluster', '\\u00b7 cluster ' + s.clusterName);
    text('f-self', s.self);
    text('f-node', s.nodeId);
    text('f-nrw', s.n + ' / ' + s.r + ' / ' + s.w);
    text('f-q', s.partitions + ' (' + s.scheme + ')');
    text('f-transition', s.transition === null ? 'none' : 'to ' + s.transition);
    text('f-hints', String(s.hintsPending));
    text('f-version', s.version + ', up ' + s.uptimeSeconds + ' s');
    document.title = 'dynis \\u00b7 ' + s.self;
  }

  function render(s) {
    var colours = {}, health = {};
    s.members.forEach(function (m, i) { colours[m.id] = colourOf(i); health[m.id] = m.health; });
    drawRing(s, colours, health);
    drawLegend(s, colours);
    drawOps(s);
    drawFacts(s);
    document.body.classList.remove('stale');
    var conn = document.getElementById('conn');
    conn.className = '';
    conn.textContent = 'live \\u00b7 updated ' + new Date(s.timeMs).toLocaleTimeString();
    ring.setAttribute('data-ready', '1');
  }

  function fail(err) {
    document.body.classList.add('stale');
    var conn = document.getElementById('conn');
    conn.className = 'bad';
    conn.textContent = 'cannot reach this node: ' + (err && err.message ? err.message : String(err));
  }

  function tick() {
    var ctl = new AbortController();
    var timer = setTimeout(function () { ctl.abort(); }, Math.max(REFRESH_MS * 3, 2000));
    fetch('status.json', { cache: 'no-store', credentials: 'same-origin', signal: ctl.signal })
      .then(function (r) { if (!r.ok) throw new Error('HTTP ' + r.status); return r.json(); })
      .then(render, fail)
      .then(function () { clearTimeout(timer); setTimeout(tick, REFRESH_MS); });
  }
  tick();
})();
`;

const BODY = `
<header>
  <h1>dynis <small id="cluster"></small></h1>
  <span id="conn">connecting\u2026</span>
</header>
<main>
  <section id="ringbox" class="card">
    <h2>Ring: partitions by owner</h2>
    <svg id="ring" viewBox="-210 -210 420 420" role="img" aria-label="the ring of partitions, coloured by owner">
      <g id="wedges"></g>
      <text id="c1" class="c1" y="-4"></text>
      <text id="c2" class="c2" y="18"></text>
      <text id="c3" class="c3" y="36"></text>
      <text id="c4" class="c4" y="60"></text>
    </svg>
  </section>
  <aside>
    <section class="card">
      <h2>Commands on this node</h2>
      <div><span id="ops" class="big">\u2013</span> <span class="unit">ops/s</span></div>
      <svg id="spark" viewBox="0 0 240 48" preserveAspectRatio="none" aria-hidden="true"><polyline id="sparkline" points=""></polyline></svg>
      <div id="opsmax" class="unit"></div>
    </section>
    <section class="card">
      <h2>Members</h2>
      <ul id="legend"></ul>
    </section>
    <section class="card">
      <h2>This node</h2>
      <dl>
        <dt>member</dt><dd id="f-self"></dd>
        <dt>node id</dt><dd id="f-node"></dd>
        <dt>N / R / W</dt><dd id="f-nrw"></dd>
        <dt>partitions</dt><dd id="f-q"></dd>
        <dt>transition</dt><dd id="f-transition"></dd>
        <dt>hints pending</dt><dd id="f-hints"></dd>
        <dt>version</dt><dd id="f-version"></dd>
      </dl>
    </section>
  </aside>
</main>
`;

const sha256 = (text: string): string => `'sha256-${createHash('sha256').update(text, 'utf8').digest('base64')}'`;

export interface StatusPage {
  readonly html: string;
  /** The Content-Security-Policy that allows this page's own script and style, nothing else. */
  readonly csp: string;
}

/** The page, refreshing every refreshMs. */
export function statusPage(refreshMs: number): StatusPage {
  const html =
    '<!doctype html>\n<html lang="en">\n<head>\n<meta charset="utf-8">\n' +
    '<meta name="viewport" content="width=device-width, initial-scale=1">\n<title>dynis</title>\n<link rel="icon" href="data:,">\n' +
    `<style>${STYLE}</style>\n</head>\n<body data-refresh-ms="${Math.trunc(refreshMs)}">${BODY}<script>${SCRIPT}</script>\n</body>\n</html>\n`;
  const csp = [
    "default-src 'none'",
    `script-src ${sha256(SCRIPT)}`,
    `style-src ${sha256(STYLE)}`,
    "connect-src 'self'",
    'img-src data:',
    "base-uri 'none'",
    "form-action 'none'",
    "frame-ancestors 'none'",
  ].join('; ');
  return { html, csp };
}
