/**
 * The status page in a real browser: Debian's chromium, headless, driven by playwright-core,
 * against a member of a real three-node cluster. The ring must be drawn (Q wedges in three
 * owner colours, matching /status.json), the legend must list three members up, a screenshot
 * must be a real PNG, and a killed member must show as down within a few seconds. The page's
 * own Content-Security-Policy must not block anything it does (no console errors).
 *
 * Needs /usr/bin/chromium (`apt-get install chromium`; .ci/run installs it): without it this
 * test fails, it does not skip.
 */
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { chromium, type BrowserContext, type Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { StatusSnapshot } from '../../src/admin/status.js';
import { startCluster, type TestCluster } from '../helpers/cluster.js';
import { freePorts, waitForPort } from '../helpers/processes.js';
import { eventually, http } from './admin-http.js';

const CHROMIUM = '/usr/bin/chromium';
const Q = 64;

/** Width and height from a PNG's IHDR chunk (after the 8-byte signature and the chunk's length and type). */
function pngSize(png: Buffer): { width: number; height: number } {
  const signature = Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);
  if (!png.subarray(0, 8).equals(signature) || png.toString('latin1', 12, 16) !== 'IHDR') throw new Error('not a PNG');
  return { width: png.readUInt32BE(16), height: png.readUInt32BE(20) };
}

describe('the status page', () => {
  let cluster: TestCluster;
  let adminPorts: number[];
  let dir: string;
  let context: BrowserContext;
  let page: Page;
  const problems: string[] = [];

  beforeAll(async () => {
    if (!existsSync(CHROMIUM)) throw new Error(`${CHROMIUM} is missing: apt-get install -y chromium (.ci/run does)`);
    dir = mkdtempSync(path.join(tmpdir(), 'dynis-status-page-'));
    adminPorts = await freePorts(3);
    cluster = await startCluster({
      nodes: 3,
      args: ['--fsync', 'no', '--peer-timeout', '500', '--partitions', String(Q)],
      memberArgs: (i) => ['--admin-port', String(adminPorts[i])],
      avoidPorts: adminPorts,
    });
    for (const p of adminPorts) await waitForPort(p);
    context = await chromium.launchPersistentContext(path.join(dir, 'profile'), {
      executablePath: CHROMIUM,
      headless: true,
      args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
      viewport: { width: 1200, height: 800 },
    });
    page = await context.newPage();
    page.on('pageerror', (err) => problems.push(`page error: ${err.message}`));
    page.on('console', (msg) => {
      if (msg.type() === 'error') problems.push(`console: ${msg.text()}`);
    });
  }, 60_000);

  afterAll(async () => {
    await context?.close();
    await cluster?.stop();
    if (dir !== undefined) rmSync(dir, { recursive: true, force: true });
  });

  it('draws the ring coloured by owner and the members up', async () => {
    const url = `http://127.0.0.1:${adminPorts[0]}/`;
    // Wait until every member's client port has been gossiped, so the page shows them all.
    const status = await eventually(async () => {
      const s = JSON.parse((await http(`${url}status.json`)).body) as StatusSnapshot;
      return s.members.length === 3 && s.members.every((m) => m.port !== 0) ? s : undefined;
    }, 'three members with their client ports');
    await page.goto(url);
    await page.waitForFunction((q) => document.querySelectorAll('#ring path.partition').length === q, Q, { timeout: 10_000 });

    const wedges = await page.$$eval('#ring path.partition', (ps) =>
      ps.map((p) => ({ partition: Number(p.getAttribute('data-partition')), owner: p.getAttribute('data-owner'), fill: p.getAttribute('fill') })),
    );
    expect(wedges).toHaveLength(Q);
    expect(new Set(wedges.map((w) => w.fill)).size).toBe(3);
    // Each wedge is its partition, filled with its owner's colour: one colour per owner.
    const byOwner = new Map<string, Set<string | null>>();
    for (const w of wedges) {
      expect(w.owner).toBe(status.ring[w.partition]?.owner);
      byOwner.set(w.owner as string, (byOwner.get(w.owner as string) ?? new Set()).add(w.fill));
    }
    expect([...byOwner.keys()].sort()).toEqual(cluster.members.map((m) => m.id).sort());
    for (const fills of byOwner.values()) expect(fills.size).toBe(1);

    await page.waitForFunction(() => document.querySelectorAll('#legend li[data-health="up"]').length === 3, undefined, { timeout: 5000 });
    const legend = await page.$$eval('#legend li', (lis) =>
      lis.map((li) => ({ id: li.getAttribute('data-id'), health: li.getAttribute('data-health'), text: li.textContent ?? '' })),
    );
    expect(legend.map((l) => l.id)).toEqual(status.members.map((m) => m.id));
    for (const l of legend) {
      expect(l.health).toBe('up');
      const member = status.members.find((m) => m.id === l.id) as StatusSnapshot['members'][number];
      expect(l.text).toContain(`client port ${member.port}`);
      expect(l.text).toContain(`${member.partitionsOwned} partitions owned`);
    }
    expect(await page.textContent('#legend li[data-id="' + cluster.members[0]?.id + '"]')).toContain('(this node)');
    // ops/s: a number once the first one-second sample is in.
    await page.waitForFunction(() => /^\d[\d,]*$/.test(document.getElementById('ops')?.textContent ?? ''), undefined, { timeout: 5000 });

    const shot = path.join(dir, 'status-page.png');
    await page.screenshot({ path: shot, fullPage: true });
    const png = readFileSync(shot);
    expect(png.length).toBeGreaterThan(20 * 1024);
    const size = pngSize(png);
    expect(size.width).toBe(1200);
    expect(size.height).toBeGreaterThanOrEqual(800);
    expect(problems).toEqual([]);
  });

  it('shows a killed member as down within a few seconds', async () => {
    const dead = cluster.members[2]?.id as string;
    const started = Date.now();
    await cluster.kill9(2);
    await page.waitForSelector(`#legend li[data-id="${dead}"][data-health="down"]`, { timeout: 5000 });
    expect(Date.now() - started).toBeLessThan(5000);
    expect(await page.$$eval('#legend li[data-health="up"]', (lis) => lis.length)).toBe(2);
    expect(await page.textContent(`#legend li[data-id="${dead}"] .badge`)).toBe('down');
    // Its partitions are faded, the others not.
    const faded = await page.$$eval('#ring path.partition.down', (ps) => ps.map((p) => p.getAttribute('data-owner')));
    const status = JSON.parse((await http(`http://127.0.0.1:${adminPorts[0]}/status.json`)).body) as StatusSnapshot;
    expect(faded.length).toBe(status.members.find((m) => m.id === dead)?.partitionsOwned);
    expect(new Set(faded)).toEqual(new Set([dead]));
    await page.screenshot({ path: path.join(dir, 'status-page-down.png'), fullPage: true });
    expect(problems).toEqual([]);
  });
});
