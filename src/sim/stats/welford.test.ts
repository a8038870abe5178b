import { describe, expect, it } from 'vitest';
import { Rng } from '../../core/rng.ts';
import { Welford } from './welford.ts';

describe('Welford', () => {
  it('matches the two-pass mean and variance', () => {
    const xs = [2, 4, 4, 4, 5, 5, 7, 9];
    const w = new Welford();
    for (const x of xs) w.add(x);
    expect(w.count).toBe(8);
    expect(w.mean).toBe(5);
    expect(w.populationVariance).toBeCloseTo(4, 12);
    expect(w.variance).toBeCloseTo(32 / 7, 12);
    expect(w.min).toBe(2);
    expect(w.max).toBe(9);
  });

  it('stays accurate with a large offset (where sum of squares fails)', () => {
    const w = new Welford();
    for (const x of [1e9 + 4, 1e9 + 7, 1e9 + 13, 1e9 + 16]) w.add(x);
    expect(w.variance).toBeCloseTo(30, 9);
  });

  it('merges exactly', () => {
    const rng = new Rng(1);
    const a = new Welford();
    const b = new Welford();
    const all = new Welford();
    for (let i = 0; i < 10_000; i++) {
      const x = rng.normal(3, 2);
      (i < 2500 ? a : b).add(x);
      all.add(x);
    }
    a.merge(b);
    expect(a.count).toBe(all.count);
    expect(a.mean).toBeCloseTo(all.mean, 12);
    expect(a.variance).toBeCloseTo(all.variance, 10);
    expect(a.cv).toBeCloseTo(2 / 3, 1);
    expect(new Welford().merge(a).mean).toBe(a.mean);
  });

  it('is NaN without enough samples', () => {
    const w = new Welford();
    expect(w.mean).toBeNaN();
    w.add(1);
    expect(w.variance).toBeNaN();
    expect(w.populationVariance).toBe(0);
  });
});
