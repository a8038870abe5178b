import { describe, expect, it } from 'vitest';
import { ClassSeries, percentile } from './series.ts';

const T0 = 1_700_000_000_000; // a whole second

describe('percentile', () => {
  it('is the nearest rank of sorted values, null for none', () => {
    expect(percentile([], 0.5)).toBeNull();
    expect(percentile([7], 0.99)).toBe(7);
    const hundred = Array.from({ length: 100 }, (_, i) => i + 1);
    expect(percentile(hundred, 0.5)).toBe(50);
    expect(percentile(hundred, 0.99)).toBe(99);
    expect(percentile(hundred, 1)).toBe(100);
  });
});

describe('ClassSeries', () => {
  it('counts jobs per class and second, with exact percentiles of each second', () => {
    const s = new ClassSeries({ classes: 2, seconds: 5 });
    for (let i = 1; i <= 100; i++) s.record(T0 + 100, 0, i / 1000); // 1..100 ms in one second
    s.record(T0 + 1500, 1, 0.25);
    s.record(T0 + 2999, 1, 0.75);
    const w = s.window(T0 + 2000);
    expect(w.fromMs).toBe(T0 - 2000);
    expect(w.classes[0]?.count).toEqual([0, 0, 100, 0, 0]);
    expect(w.classes[0]?.p50Ms[2]).toBeCloseTo(50, 3);
    expect(w.classes[0]?.p99Ms[2]).toBeCloseTo(99, 3);
    expect(w.classes[0]?.p50Ms[0]).toBeNull();
    expect(w.classes[1]?.count).toEqual([0, 0, 0, 1, 1]);
    expect(w.classes[1]?.p99Ms[4]).toBeCloseTo(750, 3);
    expect(s.answered()).toEqual([100, 2]);
  });

  it('forgets seconds older than its length, and reuses their slots', () => {
    const s = new ClassSeries({ classes: 1, seconds: 3 });
    s.record(T0, 0, 0.001);
    s.record(T0 + 3000, 0, 0.002); // the same slot, three seconds later
    const w = s.window(T0 + 3000);
    expect(w.classes[0]?.count).toEqual([0, 0, 1]);
    expect(w.classes[0]?.p50Ms[2]).toBeCloseTo(2, 3);
    expect(s.window(T0 + 10_000).classes[0]?.count).toEqual([0, 0, 0]);
    expect(s.answered()).toEqual([2]);
  });

  it('keeps a bounded sample per second and still counts every job', () => {
    const s = new ClassSeries({ classes: 1, seconds: 2, samples: 16, seed: 7 });
    for (let i = 0; i < 1000; i++) s.record(T0, 0, 0.01);
    const w = s.window(T0);
    expect(w.classes[0]?.count[1]).toBe(1000);
    expect(w.classes[0]?.p99Ms[1]).toBeCloseTo(10, 3);
  });

  it('sums the recent seconds: count, rate and percentiles of the merged sample', () => {
    const s = new ClassSeries({ classes: 2, seconds: 60 });
    for (let sec = 0; sec < 10; sec++) for (let i = 1; i <= 10; i++) s.record(T0 + sec * 1000, 0, (sec * 10 + i) / 1000);
    const [high, other] = s.recent(T0 + 9000, 10);
    expect(high).toEqual({ count: 100, perSecond: 10, p50Ms: expect.closeTo(50, 3) as number, p99Ms: expect.closeTo(99, 3) as number });
    expect(other).toEqual({ count: 0, perSecond: 0, p50Ms: null, p99Ms: null });
  });

  it('ignores classes it does not know and latencies that are not numbers', () => {
    const s = new ClassSeries({ classes: 1, seconds: 2 });
    s.record(T0, 3, 0.1);
    s.record(T0, -1, 0.1);
    s.record(T0, 0, NaN);
    expect(s.answered()).toEqual([0]);
  });

  it('gives the same closed second the same percentiles when read again', () => {
    const s = new ClassSeries({ classes: 1, seconds: 4 });
    s.record(T0, 0, 0.003);
    s.record(T0, 0, 0.001);
    const a = s.window(T0 + 1000).classes[0];
    const b = s.window(T0 + 1000).classes[0];
    expect(a).toEqual(b);
    expect(a?.p50Ms[2]).toBeCloseTo(1, 3);
  });
});
