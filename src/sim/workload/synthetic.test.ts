import { describe, expect, it } from 'vitest';
import { DEFAULT_PRICE_TABLE } from '../../core/classes.ts';
import { Rng } from '../../core/rng.ts';
import type { SyntheticWorkloadConfig } from './config.ts';
import { newBatch, type JobSource } from './job-batch.ts';
import { makeJobSource } from './make-job-source.ts';
import { SyntheticSource } from './synthetic.ts';
import { cv, drain, isSorted, max, mean, min } from './test-helpers.ts';

const CORES = 800;

function source(cfg: Omit<SyntheticWorkloadConfig, 'kind'>, seed: number | string = 1): JobSource {
  return makeJobSource({ kind: 'synthetic', ...cfg }, DEFAULT_PRICE_TABLE, CORES, new Rng(seed));
}

function synthetic(cfg: Omit<SyntheticWorkloadConfig, 'kind'>, seed: number | string = 1): SyntheticSource {
  const s = source(cfg, seed);
  if (!(s instanceof SyntheticSource)) throw new Error('expected a SyntheticSource');
  return s;
}

describe('determinism', () => {
  it('gives identical arrays for the same seed, and whatever the batch sizes', () => {
    const cfg = { jobs: 20_000, load: 0.9, arrivals: 'poisson' as const };
    const a = drain(source(cfg, 42), 1000);
    const b = drain(source(cfg, 42), 1000, [1, 7, 1000, 333, 2]);
    expect(b).toEqual(a);
    expect(a.id).toEqual(Array.from({ length: 20_000 }, (_, i) => i));
  });

  it('gives different jobs for a different seed', () => {
    const cfg = { jobs: 1000, load: 0.9 };
    const a = drain(source(cfg, 1));
    const b = drain(source(cfg, 2));
    expect(b.runtime).not.toEqual(a.runtime);
    expect(b.fn).not.toEqual(a.fn);
    expect(b.memMB).not.toEqual(a.memMB);
  });

  it('keeps runtimes, functions and memory when only the class weights change', () => {
    const a = drain(source({ jobs: 5000, load: 0.8 }));
    const b = drain(source({ jobs: 5000, load: 0.8, classWeights: [1, 1, 1, 1] }));
    expect(b.runtime).toEqual(a.runtime);
    expect(b.fn).toEqual(a.fn);
    expect(b.memMB).toEqual(a.memMB);
    expect(b.arrival).toEqual(a.arrival);
    expect(b.cls).not.toEqual(a.cls);
  });

  it('keeps runtimes and functions when the arrival process changes', () => {
    const a = drain(source({ jobs: 5000, load: 0.8 }));
    const b = drain(source({ jobs: 5000, load: 0.5, arrivals: 'poisson' }));
    expect(b.runtime).toEqual(a.runtime);
    expect(b.fn).toEqual(a.fn);
    expect(b.arrival).not.toEqual(a.arrival);
  });
});

describe('runtimes', () => {
  it('the paper default: Pareto alpha 2.1 with x_m ~ Normal(40, 15) ≥ 1 per function, mean matches meanRuntimeMs', () => {
    const s = synthetic({ jobs: 1_000_000, load: 0.8, functions: 200 });
    for (const xm of s.fnScale) expect(xm).toBeGreaterThanOrEqual(1);
    expect(mean(Array.from(s.fnScale))).toBeGreaterThan(36);
    expect(mean(Array.from(s.fnScale))).toBeLessThan(44);
    const expected = mean(Array.from(s.fnScale, (xm) => (2.1 * xm) / 1.1));
    expect(s.meanRuntimeMs).toBeCloseTo(expected, 9);
    const d = drain(s, 4096);
    expect(Math.abs(mean(d.runtime) / s.meanRuntimeMs - 1)).toBeLessThan(0.03);
    // Every job is at least its function's x_m.
    d.runtime.forEach((r, i) => {
      if (r < (s.fnScale[d.fn[i] ?? 0] ?? 0)) throw new Error(`job ${String(i)} ran ${String(r)} below x_m`);
    });
  });

  it.each([
    ['exponential', { family: 'exponential' as const }],
    ['lognormal (mean, cv)', { family: 'lognormal' as const, mean: { mean: 50, sd: 20 }, cv: 1.5 }],
    ['lognormal (mu, sigma)', { family: 'lognormal' as const, mu: Math.log(30), sigma: 0.8 }],
    ['deterministic', { family: 'deterministic' as const, value: 25 }],
    ['pareto with a fixed x_m', { family: 'pareto' as const, alpha: 3, xm: 10 }],
  ])('%s: the stream mean is within 3%% of meanRuntimeMs', (_, runtime) => {
    const s = source({ jobs: 300_000, load: 0.8, runtime });
    const d = drain(s, 4096);
    expect(Math.abs(mean(d.runtime) / s.meanRuntimeMs - 1)).toBeLessThan(0.03);
    expect(min(d.runtime)).toBeGreaterThan(0);
  });

  it('exact mixture means for fixed scales', () => {
    expect(source({ jobs: 1, load: 1, runtime: { family: 'pareto', alpha: 3, xm: 10 } }).meanRuntimeMs).toBeCloseTo(15, 12);
    expect(source({ jobs: 1, load: 1, runtime: { family: 'lognormal', mu: Math.log(30), sigma: 0.8 } }).meanRuntimeMs).toBeCloseTo(30 * Math.exp(0.32), 10);
    expect(source({ jobs: 1, load: 1, runtime: { family: 'lognormal', mean: 30, cv: 2 } }).meanRuntimeMs).toBeCloseTo(30, 10);
    expect(source({ jobs: 1, load: 1, runtime: { family: 'exponential', mean: 12 } }).meanRuntimeMs).toBeCloseTo(12, 12);
  });

  it('the Azure 2019 preset is lognormal with median e^−0.38 s and mean e^(−0.38 + 2.36²/2) s', () => {
    const s = source({ jobs: 200_000, load: 0.8, runtime: { family: 'azure2019' } });
    expect(s.meanRuntimeMs).toBeCloseTo(1000 * Math.exp(-0.38 + (2.36 * 2.36) / 2), 6);
    const sorted = drain(s, 4096).runtime.sort((a, b) => a - b);
    const median = sorted[sorted.length / 2] ?? 0;
    expect(Math.abs(Math.log(median / (1000 * Math.exp(-0.38))))).toBeLessThan(0.03);
    // ln runtime has sd 2.36: the 84th percentile is e^σ times the median.
    const p84 = sorted[Math.round(sorted.length * 0.8413)] ?? 0;
    expect(Math.log(p84 / median)).toBeCloseTo(2.36, 1);
  });

  it('zipf popularity weights the mixture mean by function shares', () => {
    const s = synthetic({ jobs: 200_000, load: 0.8, functions: 50, popularity: { kind: 'zipf', exponent: 1.2 } });
    let m = 0;
    s.fnShare.forEach((p, f) => (m += p * (s.fnMean[f] ?? 0)));
    expect(s.meanRuntimeMs).toBeCloseTo(m, 9);
    const d = drain(s, 4096);
    const share0 = d.fn.filter((f) => f === 0).length / d.fn.length;
    expect(share0).toBeCloseTo(s.fnShare[0] ?? 0, 2);
    expect(Math.abs(mean(d.runtime) / s.meanRuntimeMs - 1)).toBeLessThan(0.03);
  });
});

describe('offered load and arrivals', () => {
  it('rate = load × cores / meanRuntime, and constant arrivals are evenly spaced from 0', () => {
    const s = source({ jobs: 10_000, load: 0.7 });
    const rate = (0.7 * CORES) / s.meanRuntimeMs;
    expect(s.info.ratePerMs).toBeCloseTo(rate, 12);
    expect(s.info.offeredLoad).toBeCloseTo(0.7, 12);
    const d = drain(s, 999);
    d.arrival.forEach((t, i) => expect(t).toBeCloseTo(i / rate, 6));
  });

  it('ratePerSecond sets the rate directly', () => {
    const s = source({ jobs: 10, ratePerSecond: 5000 });
    expect(s.info.ratePerMs).toBe(5);
    expect(drain(s).arrival[3]).toBeCloseTo(0.6, 12);
  });

  it('Poisson arrivals have the mean interarrival 1/rate and cv ≈ 1', () => {
    const s = source({ jobs: 200_000, load: 0.8, arrivals: 'poisson' });
    const d = drain(s, 4096);
    expect(isSorted(d.arrival)).toBe(true);
    const gaps = d.arrival.map((t, i) => t - (i > 0 ? (d.arrival[i - 1] ?? 0) : 0));
    expect(Math.abs(mean(gaps) * s.info.ratePerMs - 1)).toBeLessThan(0.01);
    expect(Math.abs(cv(gaps) - 1)).toBeLessThan(0.02);
  });

  it('durationMs with constant arrivals gives ⌈T·rate⌉ jobs in [0, T)', () => {
    const s = source({ durationMs: 10_000, ratePerSecond: 1234.5 });
    expect(s.total).toBe(Math.ceil(10_000 * 1.2345));
    const d = drain(s);
    expect(d.arrival.length).toBe(s.total);
    expect(max(d.arrival)).toBeLessThan(10_000);
  });

  it('durationMs with Poisson arrivals: Poisson count, sorted, uniform over [0, T), Poisson gaps', () => {
    const T = 60_000;
    const counts: number[] = [];
    for (let seed = 0; seed < 30; seed++) counts.push(source({ durationMs: T, ratePerSecond: 100, arrivals: 'poisson' }, seed).total);
    expect(Math.abs(mean(counts) - 6000)).toBeLessThan(5 * Math.sqrt(6000 / 30));
    const s = source({ durationMs: T, ratePerSecond: 2000, arrivals: 'poisson' }, 9);
    const d = drain(s, 777);
    expect(d.arrival.length).toBe(s.total);
    expect(isSorted(d.arrival)).toBe(true);
    expect(d.arrival[0]).toBeGreaterThanOrEqual(0);
    expect(d.arrival[d.arrival.length - 1]).toBeLessThan(T);
    // Uniform: each tenth of the window holds a tenth of the jobs.
    for (let k = 0; k < 10; k++) {
      const inSlice = d.arrival.filter((t) => t >= (k * T) / 10 && t < ((k + 1) * T) / 10).length;
      expect(Math.abs(inSlice / d.arrival.length - 0.1)).toBeLessThan(0.01);
    }
    const gaps = d.arrival.slice(1).map((t, i) => t - (d.arrival[i] ?? 0));
    expect(Math.abs(cv(gaps) - 1)).toBeLessThan(0.03);
  });
});

describe('classes and memory', () => {
  it('job classes follow the per-function weights (0.35/0.15/0.15/0.35 by default)', () => {
    const s = synthetic({ jobs: 200_000, load: 0.8, functions: 20_000 });
    const d = drain(s, 4096);
    const freq = [0, 1, 2, 3].map((c) => d.cls.filter((x) => x === c).length / d.cls.length);
    [0.35, 0.15, 0.15, 0.35].forEach((p, c) => expect(Math.abs((freq[c] ?? 0) - p)).toBeLessThan(0.015));
    // A function's jobs all have its class.
    d.fn.forEach((f, i) => {
      if (d.cls[i] !== s.fnClass[f]) throw new Error(`job ${String(i)} of function ${String(f)} has class ${String(d.cls[i])}`);
    });
    s.info.classShares.forEach((p, c) => expect(Math.abs(p - (freq[c] ?? 0))).toBeLessThan(0.01));
  });

  it('custom weights, including a zero weight, are respected', () => {
    const d = drain(source({ jobs: 50_000, load: 0.8, functions: 5000, classWeights: [0, 1, 3, 0] }), 4096);
    const freq = [0, 1, 2, 3].map((c) => d.cls.filter((x) => x === c).length / d.cls.length);
    expect(freq[0]).toBe(0);
    expect(freq[3]).toBe(0);
    expect(Math.abs((freq[2] ?? 0) - 0.75)).toBeLessThan(0.03);
  });

  it('memory is uniform in [100 MB, 10 GB] by default and honours the configured range', () => {
    const d = drain(source({ jobs: 100_000, load: 0.8 }), 4096);
    expect(min(d.memMB)).toBeGreaterThanOrEqual(100);
    expect(max(d.memMB)).toBeLessThanOrEqual(10240);
    expect(Math.abs(mean(d.memMB) / ((100 + 10240) / 2) - 1)).toBeLessThan(0.01);
    const e = drain(source({ jobs: 10_000, load: 0.8, memory: { kind: 'uniform', minMB: 256, maxMB: 512 } }));
    expect(min(e.memMB)).toBeGreaterThanOrEqual(256);
    expect(max(e.memMB)).toBeLessThanOrEqual(512);
  });

  it('Burr memory (Azure 2019 fit) is clamped to its range and has the fit\'s median', () => {
    const d = drain(source({ jobs: 100_000, load: 0.8, memory: { kind: 'burr' } }), 4096);
    expect(min(d.memMB)).toBeGreaterThanOrEqual(100);
    expect(max(d.memMB)).toBeLessThanOrEqual(10240);
    const sorted = d.memMB.sort((a, b) => a - b);
    const median = 107.083 * Math.pow(Math.pow(2, 1 / 0.221) - 1, 1 / 11.652);
    expect((sorted[50_000] ?? 0) / median).toBeCloseTo(1, 1);
  });
});

describe('batches', () => {
  it('fill stops at the total, respects max and the batch capacity, then returns 0', () => {
    const s = source({ jobs: 10, load: 0.5 });
    const b = newBatch(4);
    expect(s.fill(b, 100)).toBe(4);
    expect(s.fill(b, 3)).toBe(3);
    expect(s.fill(b, 4)).toBe(3);
    expect(b.id[2]).toBe(9);
    expect(s.fill(b, 4)).toBe(0);
    expect(b.count).toBe(0);
  });
});

describe('exact per-class arrival rates (classRates)', () => {
  it('each class arrives at its rate: the shares of jobs follow the rates, and the load scales them keeping their ratios', () => {
    const cfg: SyntheticWorkloadConfig = { kind: 'synthetic', jobs: 200_000, arrivals: 'poisson', classRates: [10, 30, 0, 60] };
    const exact = makeJobSource(cfg, DEFAULT_PRICE_TABLE, 8, new Rng(1));
    expect(exact.info.ratePerMs * 1000).toBeCloseTo(100, 9);
    const d = drain(exact, 4096);
    const n = [0, 0, 0, 0];
    for (const c of d.cls) n[c] = (n[c] ?? 0) + 1;
    expect(n[2]).toBe(0);
    [0.1, 0.3, 0, 0.6].forEach((p, c) => expect(Math.abs((n[c] ?? 0) / d.cls.length - p)).toBeLessThan(0.005));
    // The span matches 100 jobs/s.
    expect(Math.abs((d.arrival[d.arrival.length - 1] ?? 0) / 1000 / (200_000 / 100) - 1)).toBeLessThan(0.01);
    const scaled = makeJobSource({ ...cfg, load: 0.5 }, DEFAULT_PRICE_TABLE, 8, new Rng(1));
    scaled.info.classShares.forEach((x, c) => expect(x).toBeCloseTo([0.1, 0.3, 0, 0.6][c] ?? NaN, 12));
    expect(scaled.info.offeredLoad).toBeCloseTo(0.5, 9);
  });

  it('refuses rates it cannot meet, with a message that says what to do', () => {
    expect(() => makeJobSource({ kind: 'synthetic', jobs: 10, classRates: [1, 2] }, DEFAULT_PRICE_TABLE, 8, new Rng(1))).toThrow(/classRates is \[1,2\]: give one arrival rate \(jobs per second\) per class, highest first/);
    expect(() => makeJobSource({ kind: 'synthetic', jobs: 10, classRates: [1, 1, 1, 1], ratePerSecond: 5 }, DEFAULT_PRICE_TABLE, 8, new Rng(1))).toThrow(/both classRates and ratePerSecond/);
    expect(() => makeJobSource({ kind: 'synthetic', jobs: 10, functions: 1, classRates: [1, 1, 1, 1] }, DEFAULT_PRICE_TABLE, 8, new Rng(1))).toThrow(/none of the 1 functions has that class/);
  });
});
