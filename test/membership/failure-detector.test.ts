import { describe, expect, it } from 'vitest';
import { FailureDetector } from '../../src/membership/failure-detector.js';

const options = { threshold: 8, minStdDeviationMs: 100, acceptablePauseMs: 1000, firstIntervalMs: 500 };

describe('failure detector (phi accrual)', () => {
  it('does not suspect a peer it has never heard of, nor one that keeps its rhythm', () => {
    const fd = new FailureDetector(options);
    expect(fd.isSuspect('a', 0)).toBe(false);
    for (let t = 0; t <= 10_000; t += 500) fd.heartbeat('a', t);
    expect(fd.phi('a', 10_000)).toBeLessThan(0.1);
    expect(fd.isSuspect('a', 10_400)).toBe(false);
  });

  it('lets phi grow with silence, tolerates the acceptable pause, and suspects after it', () => {
    const fd = new FailureDetector(options);
    for (let t = 0; t <= 10_000; t += 500) fd.heartbeat('a', t);
    const phis = [500, 1000, 1500, 2000, 2500, 3000, 4000].map((silence) => fd.phi('a', 10_000 + silence));
    for (let i = 1; i < phis.length; i++) expect(phis[i]).toBeGreaterThanOrEqual(phis[i - 1] as number);
    expect(fd.isSuspect('a', 10_000 + 1400)).toBe(false); // within interval + acceptable pause
    expect(fd.isSuspect('a', 10_000 + 3000)).toBe(true);
    fd.heartbeat('a', 13_100);
    expect(fd.isSuspect('a', 13_200)).toBe(false);
  });

  it('adapts to a jittery peer: a wider spread needs a longer silence', () => {
    const steady = new FailureDetector(options);
    const jittery = new FailureDetector(options);
    let t = 0;
    for (let i = 0; i < 200; i++) {
      steady.heartbeat('a', i * 500);
      t += i % 2 === 0 ? 100 : 900;
      jittery.heartbeat('a', t);
    }
    expect(jittery.phi('a', t + 2000)).toBeLessThan(steady.phi('a', 199 * 500 + 2000));
  });

  it('fast path: a timed-out request makes the peer suspect until its next heartbeat', () => {
    const fd = new FailureDetector(options);
    fd.heartbeat('a', 0);
    fd.heartbeat('a', 500);
    fd.suspect('a', 600);
    expect(fd.isSuspect('a', 600)).toBe(true);
    fd.heartbeat('a', 700);
    expect(fd.isSuspect('a', 700)).toBe(false);
    fd.suspect('b', 0); // never heard of: suspect at once
    expect(fd.isSuspect('b', 0)).toBe(true);
  });

  it('does not learn an outage as a heartbeat interval', () => {
    const fd = new FailureDetector({ ...options, maxIntervalMs: 2000 });
    for (let t = 0; t <= 5000; t += 500) fd.heartbeat('a', t);
    fd.heartbeat('a', 60_000); // back after a minute
    for (let t = 60_500; t <= 62_000; t += 500) fd.heartbeat('a', t);
    expect(fd.isSuspect('a', 62_000 + 3000)).toBe(true);
  });

  it('keeps a bounded window of intervals', () => {
    const fd = new FailureDetector({ ...options, windowSize: 4 });
    for (let t = 0; t < 100 * 10_000; t += 10_000) fd.heartbeat('a', t); // slow rhythm first
    for (let i = 1; i <= 4; i++) fd.heartbeat('a', 990_000 + i * 100); // then a fast one fills the window
    expect(fd.isSuspect('a', 990_400 + 4000)).toBe(true);
  });
});
