import { describe, expect, it } from 'vitest';
import { DEFAULT_PRICE_TABLE, makePriceTable } from '../../core/classes.ts';
import { validateWorkload } from './validate-workload.ts';

function error(input: unknown): string {
  const r = validateWorkload(input, DEFAULT_PRICE_TABLE);
  if (r.ok) throw new Error(`expected an error for ${JSON.stringify(input)}`);
  return r.error;
}

describe('validateWorkload', () => {
  it('fills in the paper\'s defaults', () => {
    const r = validateWorkload({ kind: 'synthetic', jobs: 1000, load: 0.8 }, DEFAULT_PRICE_TABLE);
    expect(r).toEqual({
      ok: true,
      value: {
        resolved: true,
        kind: 'synthetic',
        length: { kind: 'jobs', jobs: 1000 },
        rate: { kind: 'load', load: 0.8 },
        arrivals: 'constant',
        functions: 1000,
        popularity: { kind: 'uniform' },
        runtime: { family: 'pareto', alpha: 2.1, xm: { kind: 'normal', mean: 40, sd: 15, min: 1 } },
        memory: { kind: 'uniform', minMB: 100, maxMB: 10240 },
        classWeights: [0.35, 0.15, 0.15, 0.35].map((w) => expect.closeTo(w, 12) as number),
      },
    });
  });

  it('is JSON round-trippable', () => {
    const cfg = { kind: 'synthetic', durationMs: 5000, ratePerSecond: 100, arrivals: 'poisson', runtime: { family: 'lognormal', mean: { mean: 30, sd: 5 }, cv: 2 } };
    const a = validateWorkload(cfg, DEFAULT_PRICE_TABLE);
    const b = validateWorkload(JSON.parse(JSON.stringify(cfg)), DEFAULT_PRICE_TABLE);
    expect(a.ok).toBe(true);
    expect(b).toEqual(a);
  });

  it('says what is wrong and what to do', () => {
    expect(error(null)).toMatch(/workload is null: give an object with a "kind"/);
    expect(error({ kind: 'synth' })).toMatch(/workload.kind is "synth": choose one of "synthetic", "azure2019", "azure2021"/);
    expect(error({ kind: 'synthetic', load: 0.8 })).toMatch(/neither jobs nor durationMs: give one of them/);
    expect(error({ kind: 'synthetic', jobs: 10, durationMs: 5, load: 0.8 })).toMatch(/both jobs and durationMs: give only one/);
    expect(error({ kind: 'synthetic', jobs: 10 })).toMatch(/neither load nor ratePerSecond/);
    expect(error({ kind: 'synthetic', jobs: 1.5, load: 0.8 })).toMatch(/workload.jobs is 1.5: give a whole number of jobs/);
    expect(error({ kind: 'synthetic', jobs: 10, load: -1 })).toMatch(/workload.load is -1: give the offered utilization/);
    expect(error({ kind: 'synthetic', jobs: 10, load: 0.8, lod: 1 })).toMatch(/unknown key "lod": known keys are kind, jobs/);
    expect(error({ kind: 'synthetic', jobs: 10, load: 0.8, runtime: { family: 'pareto', alpha: 1 } })).toMatch(/alpha is 1: give the tail index alpha > 1/);
    expect(error({ kind: 'synthetic', jobs: 10, load: 0.8, runtime: { family: 'lognormal', mu: 1 } })).toMatch(/mu without sigma/);
    expect(error({ kind: 'synthetic', jobs: 10, load: 0.8, runtime: { family: 'lognormal', sigma: 1, cv: 1 } })).toMatch(/both sigma and cv/);
    expect(error({ kind: 'synthetic', jobs: 10, load: 0.8, runtime: { family: 'pareto', xm: { mean: -50, sd: 1 } } })).toMatch(/xm.mean is -50/);
    expect(error({ kind: 'synthetic', jobs: 10, load: 0.8, runtime: { family: 'pareto', xm: { mean: 1, sd: 1, min: 10 } } })).toMatch(/almost no draw would be kept/);
    expect(error({ kind: 'synthetic', jobs: 10, load: 0.8, memory: { kind: 'uniform', minMB: 500, maxMB: 100 } })).toMatch(/maxMB 100 below minMB 500/);
    expect(error({ kind: 'synthetic', jobs: 10, load: 0.8, classWeights: [1, 2] })).toMatch(/has 2 weights but the price table has 4 classes \(high, middle, standard, low\)/);
    expect(error({ kind: 'synthetic', jobs: 10, load: 0.8, classWeights: [0, 0, 0, 0] })).toMatch(/all zero/);
    expect(error({ kind: 'synthetic', jobs: 10, load: 0.8, popularity: { kind: 'zipf', exponent: 'big' } })).toMatch(/popularity.exponent is "big"/);
    expect(error({ kind: 'azure2019' })).toMatch(/workload.dir is missing: give the directory/);
    expect(error({ kind: 'azure2019', dir: 'x', toMinute: 2000 })).toMatch(/give at most 1440/);
    expect(error({ kind: 'azure2019', dir: 'x', fromMinute: 10, toMinute: 10 })).toMatch(/which is empty/);
    expect(error({ kind: 'azure2021', file: 'x', load: 1, timeScale: 2 })).toMatch(/both timeScale and load/);
  });

  it('normalises class weights and defaults them for any number of classes', () => {
    const r = validateWorkload({ kind: 'synthetic', jobs: 1, load: 1, classWeights: [2, 0, 0, 2] }, DEFAULT_PRICE_TABLE);
    expect(r.ok && r.value.classWeights).toEqual([0.5, 0, 0, 0.5]);
    const two = makePriceTable([{ name: 'gold', price: 2 }, { name: 'bronze', price: 1 }], 0);
    if (!two.ok) throw new Error(two.error);
    const r2 = validateWorkload({ kind: 'synthetic', jobs: 1, load: 1 }, two.value);
    expect(r2.ok && r2.value.classWeights).toEqual([0.5, 0.5]);
  });

  it('resolves trace file names inside dir and keeps absolute names', () => {
    const r = validateWorkload({ kind: 'azure2019', dir: 'traces/', files: { memory: '/abs/mem.csv' } }, DEFAULT_PRICE_TABLE);
    expect(r.ok && r.value.kind === 'azure2019' && r.value.files).toEqual({ invocations: 'traces/100_inv.csv', durations: 'traces/100_run.csv', memory: '/abs/mem.csv' });
  });

  it('turns the azure2019 runtime preset into a lognormal in ms', () => {
    const r = validateWorkload({ kind: 'synthetic', jobs: 1, load: 1, runtime: { family: 'azure2019' } }, DEFAULT_PRICE_TABLE);
    expect(r.ok && r.value.kind === 'synthetic' && r.value.runtime).toEqual({ family: 'lognormal', sigma: 2.36, scale: { kind: 'fixed', value: 1000 * Math.exp(-0.38) }, scaleIs: 'median' });
  });
});
