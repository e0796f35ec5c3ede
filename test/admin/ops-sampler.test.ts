/**
 * The ops/s sampler of /status.json: rates from deltas over the elapsed time, a bounded ring
 * of samples (oldest first), and a counter reset (CONFIG RESETSTAT) counted from zero.
 */
import { describe, expect, it } from 'vitest';
import { OpsSampler } from '../../src/admin/status.js';
import { limits } from '../../src/limits.js';

describe('OpsSampler', () => {
  it('keeps the last samples as rates, oldest first', () => {
    let total = 0;
    let now = 0;
    const s = new OpsSampler(() => total, { intervalMs: 1000, samples: 3, clock: () => now });
    expect(s.latest()).toBeNull();
    expect(s.samples()).toEqual([]);
    for (const [delta, ms] of [[100, 1000], [300, 1000], [50, 500], [10, 2000]] as const) {
      total += delta;
      now += ms;
      s.sample();
    }
    // 100/1s dropped (3 kept): 300/1s, 50/0.5s, 10/2s.
    expect(s.samples()).toEqual([300, 100, 5]);
    expect(s.latest()).toBe(5);
  });

  it('counts from zero after the counter went down', () => {
    let total = 1000;
    let now = 0;
    const s = new OpsSampler(() => total, { intervalMs: 1000, samples: 10, clock: () => now });
    total = 0 + 40; // reset, then 40 commands
    now += 1000;
    s.sample();
    expect(s.samples()).toEqual([40]);
  });

  it('is bounded by limits.adminOpsSamples by default', () => {
    let now = 0;
    const s = new OpsSampler(() => now, { intervalMs: limits.adminOpsSampleIntervalMs, samples: limits.adminOpsSamples, clock: () => now });
    for (let i = 0; i < limits.adminOpsSamples * 3; i++) {
      now += 1000;
      s.sample();
    }
    expect(s.samples()).toHaveLength(limits.adminOpsSamples);
  });
});
