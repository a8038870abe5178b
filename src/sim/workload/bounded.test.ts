import { describe, expect, it } from 'vitest';
import { Rng } from '../../core/rng.ts';
import { boundedExponential, boundedLognormal, normalCdf, normalQuantile } from './bounded.ts';

describe('the standard normal', () => {
  it('Φ matches published values, near 0 and far in both tails', () => {
    expect(normalCdf(0)).toBe(0.5);
    expect(normalCdf(1)).toBeCloseTo(0.8413447460685429, 14);
    expect(normalCdf(-1.96)).toBeCloseTo(0.024997895148220435, 14);
    expect(normalCdf(-3)).toBeCloseTo(0.0013498980316300946, 15);
    expect(normalCdf(-8) / 6.22096057427178e-16).toBeCloseTo(1, 10);
    expect((1 - normalCdf(5)) / 2.866515718791939e-7).toBeCloseTo(1, 6);
    expect(normalCdf(-40)).toBeGreaterThanOrEqual(0);
  });

  it('Φ⁻¹ inverts Φ to about 1e-12 across (0, 1)', () => {
    for (const p of [1e-300, 1e-12, 1e-6, 0.001, 0.02425, 0.1, 0.5, 0.7, 0.97575, 0.999, 1 - 1e-9]) {
      expect(Math.abs(normalCdf(normalQuantile(p)) - p) / p).toBeLessThan(1e-9);
    }
    expect(normalQuantile(0.975)).toBeCloseTo(1.959963984540054, 12);
    expect(normalQuantile(0)).toBe(-Infinity);
    expect(normalQuantile(1)).toBe(Infinity);
  });
});

describe('runtimes bounded to a function\'s [minimum, maximum] with its mean', () => {
  const sample = (d: { draw(u: number): number }, n = 200_000, seed = 1): number[] => {
    const rng = new Rng(seed);
    return Array.from({ length: n }, () => d.draw(rng.next()));
  };
  const mean = (xs: number[]): number => xs.reduce((a, b) => a + b, 0) / xs.length;
  const min = (xs: number[]): number => xs.reduce((a, b) => (b < a ? b : a), Infinity);
  const max = (xs: number[]): number => xs.reduce((a, b) => (b > a ? b : a), -Infinity);

  it.each([
    [100, 2.36, 1, 5000], // the Azure fit's spread, capped at 5 s
    [224, 0.5, 200, 260],
    [3000, 1.5, 2, 3100], // mean near the top: most mass up there
    [5, 3, 1, 100_000], // heavy spread, a long cap
  ])('lognormal mean %d ms, σ %d, in [%d, %d]: every draw inside, the mean kept', (m, s, lo, hi) => {
    const d = boundedLognormal(m, s, lo, hi);
    const xs = sample(d);
    expect(min(xs)).toBeGreaterThanOrEqual(lo);
    expect(max(xs)).toBeLessThanOrEqual(hi);
    expect(Math.abs(mean(xs) / m - 1)).toBeLessThan(0.03);
    expect(d.draw(0)).toBeCloseTo(lo, 6);
    expect(d.draw(1)).toBeCloseTo(hi, 6);
  });

  it.each([
    [10, 1, 100], // below the middle: decaying
    [80, 1, 100], // above the middle: growing
    [50.5, 1, 100], // the middle: uniform
  ])('exponential-shaped mean %d in [%d, %d]: every draw inside, the mean kept', (m, lo, hi) => {
    const xs = sample(boundedExponential(m, lo, hi));
    expect(min(xs)).toBeGreaterThanOrEqual(lo);
    expect(max(xs)).toBeLessThanOrEqual(hi);
    expect(Math.abs(mean(xs) / m - 1)).toBeLessThan(0.01);
  });

  it('is the mean itself when the bounds leave no room, and refuses a mean outside them', () => {
    expect(boundedLognormal(5, 1, 5, 5).draw(0.3)).toBe(5);
    expect(boundedLognormal(5, 0, 1, 9).draw(0.3)).toBe(5);
    expect(() => boundedLognormal(10, 1, 1, 5)).toThrow(/need 0 < lo ≤ mean ≤ hi/);
    expect(() => boundedExponential(0.5, 1, 5)).toThrow(/need 0 ≤ lo ≤ mean ≤ hi/);
  });
});
