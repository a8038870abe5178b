import { describe, expect, it } from 'vitest';
import { Rng } from '../../core/rng.ts';
import { AliasTable, bimodalClassWeights, burrQuantile, lnGamma, paretoMean, poisson, truncatedNormal, zipfWeights } from './distributions.ts';

function meanVar(xs: number[]): { mean: number; variance: number } {
  const mean = xs.reduce((s, x) => s + x, 0) / xs.length;
  const variance = xs.reduce((s, x) => s + (x - mean) ** 2, 0) / (xs.length - 1);
  return { mean, variance };
}

describe('poisson', () => {
  it.each([0.5, 4, 9.9, 10, 37, 1000, 1e7])('has mean and variance equal to %d', (mean) => {
    const rng = new Rng(7, `poisson-${String(mean)}`);
    const xs = Array.from({ length: 40_000 }, () => poisson(rng, mean));
    const s = meanVar(xs);
    const se = Math.sqrt(mean / xs.length);
    expect(Math.abs(s.mean - mean)).toBeLessThan(5 * se);
    expect(s.variance / mean).toBeGreaterThan(0.95);
    expect(s.variance / mean).toBeLessThan(1.05);
    expect(xs.every((x) => Number.isInteger(x) && x >= 0)).toBe(true);
  });

  it('gives 0 for mean 0 and refuses a negative mean', () => {
    expect(poisson(new Rng(1), 0)).toBe(0);
    expect(() => poisson(new Rng(1), -1)).toThrow(RangeError);
  });

  it('matches the probability of small counts at a large mean (PTRS acceptance is exact)', () => {
    const rng = new Rng(3);
    const mean = 12;
    const n = 200_000;
    const hits = new Array<number>(40).fill(0);
    for (let i = 0; i < n; i++) {
      const k = poisson(rng, mean);
      if (k < 40) hits[k] = (hits[k] ?? 0) + 1;
    }
    for (const k of [6, 10, 12, 15, 20]) {
      const p = Math.exp(-mean + k * Math.log(mean) - lnGamma(k + 1));
      expect(Math.abs((hits[k] ?? 0) / n - p)).toBeLessThan(5 * Math.sqrt(p / n));
    }
  });
});

describe('lnGamma', () => {
  it('matches factorials and Γ(1/2)', () => {
    expect(lnGamma(1)).toBeCloseTo(0, 12);
    expect(lnGamma(11)).toBeCloseTo(Math.log(3628800), 10);
    expect(lnGamma(0.5)).toBeCloseTo(Math.log(Math.sqrt(Math.PI)), 12);
    expect(lnGamma(171)).toBeCloseTo(706.5730622457874, 8);
  });
});

describe('AliasTable', () => {
  it('picks indexes with the frequencies of the weights', () => {
    const w = [5, 0, 1, 3, 1];
    const t = new AliasTable(w);
    const rng = new Rng(11);
    const n = 500_000;
    const hits = new Array<number>(w.length).fill(0);
    for (let i = 0; i < n; i++) {
      const k = t.pick(rng.next());
      hits[k] = (hits[k] ?? 0) + 1;
    }
    w.forEach((wi, i) => {
      const p = wi / 10;
      expect(Math.abs((hits[i] ?? 0) / n - p)).toBeLessThan(5 * Math.sqrt((p * (1 - p)) / n) + 1e-9);
    });
    expect(hits[1]).toBe(0);
  });

  it('refuses weights that are all zero, negative or not finite', () => {
    expect(() => new AliasTable([0, 0])).toThrow(RangeError);
    expect(() => new AliasTable([1, -1])).toThrow(RangeError);
    expect(() => new AliasTable([1, NaN])).toThrow(RangeError);
    expect(() => new AliasTable([])).toThrow(RangeError);
  });
});

describe('class and popularity weights', () => {
  it('gives the paper\'s 0.35/0.15/0.15/0.35 for four classes and a U shape for others', () => {
    const w4 = bimodalClassWeights(4);
    [0.35, 0.15, 0.15, 0.35].forEach((p, i) => expect(w4[i]).toBeCloseTo(p, 12));
    expect(bimodalClassWeights(1)).toEqual([1]);
    expect(bimodalClassWeights(2)).toEqual([0.5, 0.5]);
    const w7 = bimodalClassWeights(7);
    expect(w7.reduce((s, x) => s + x, 0)).toBeCloseTo(1, 12);
    expect(w7[0]).toBeGreaterThan(w7[1] ?? 1);
    expect(w7[3]).toBeLessThan(w7[2] ?? 0);
    expect(w7[6]).toBeCloseTo(w7[0] ?? 0, 12);
  });

  it('zipf weights fall as 1/rank^s', () => {
    const w = zipfWeights(4, 1);
    expect(Array.from(w)).toEqual([1, 1 / 2, 1 / 3, 1 / 4]);
  });
});

describe('closed forms', () => {
  it('pareto mean is alpha·x_m/(alpha−1), infinite at alpha ≤ 1', () => {
    expect(paretoMean(40, 2.1)).toBeCloseTo((2.1 * 40) / 1.1, 12);
    expect(paretoMean(40, 1)).toBe(Infinity);
  });

  it('burrQuantile inverts the Burr XII CDF', () => {
    const c = 11.652, k = 0.221, lambda = 107.083;
    for (const u of [0.001, 0.1, 0.5, 0.9, 0.999]) {
      const x = burrQuantile(u, c, k, lambda);
      expect(1 - Math.pow(1 + Math.pow(x / lambda, c), -k)).toBeCloseTo(u, 10);
    }
  });

  it('truncatedNormal never returns a value below the minimum', () => {
    const rng = new Rng(5);
    for (let i = 0; i < 10_000; i++) expect(truncatedNormal(rng, 2, 5, 1)).toBeGreaterThanOrEqual(1);
    expect(() => truncatedNormal(rng, -100, 1, 1)).toThrow(RangeError);
  });
});
