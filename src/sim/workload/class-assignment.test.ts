import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { DEFAULT_PRICE_TABLE, makePriceTable } from '../../core/classes.ts';
import { Rng } from '../../core/rng.ts';
import { Azure2019Source, readAzure2019 } from './azure2019.ts';
import { Azure2021Source } from './azure2021.ts';
import { assignClasses, TOLERANCE } from './class-assignment.ts';
import type { Azure2019WorkloadConfig } from './config.ts';
import { makeJobSource } from './make-job-source.ts';
import { validateWorkload } from './validate-workload.ts';

const DIR = fileURLToPath(new URL('../../../traces/azure2019/', import.meta.url));
const FILE2021 = fileURLToPath(new URL('../../../traces/azure2021/invocations-first-998.csv', import.meta.url));
const THREE = (() => {
  const r = makePriceTable([{ name: 'top', price: 2 }, { name: 'middle', price: 1 }, { name: 'low', price: 0.5 }], 0.25);
  if (!r.ok) throw new Error(r.error);
  return r.value;
})();

function azure(cfg: Partial<Azure2019WorkloadConfig>, load: number, seed = 1): Azure2019Source {
  const s = makeJobSource({ kind: 'azure2019', dir: DIR, load, ...cfg }, THREE, 800, new Rng(seed, `workload/load=${load}`), new Rng(seed, 'workload/classes'));
  if (!(s instanceof Azure2019Source)) throw new Error('expected an Azure2019Source');
  return s;
}

describe('assignClasses', () => {
  it('meets 10/30/60 % of the real sample\'s invocations within 1 % by whole functions, for every seed, and varies with the seed', () => {
    const trace = readAzure2019({ resolved: true, kind: 'azure2019', files: { invocations: `${DIR}100_inv.csv`, durations: `${DIR}100_run.csv`, memory: `${DIR}100_mem.csv` }, fromMinute: 0, toMinute: 1440, speed: { kind: 'timeScale', timeScale: 1 }, runtimeFit: 'lognormal', minRuntimeMs: 1, minMemoryMB: 100, classWeights: [1], classes: { by: 'function', shares: [1], fixed: {} } });
    const seen = new Set<string>();
    for (let seed = 1; seed <= 20; seed++) {
      const a = assignClasses(trace.dayInvocations, [0.1, 0.3, 0.6], new Rng(seed, 'classes'));
      expect(a.worst).toBeLessThanOrEqual(TOLERANCE);
      const total = trace.dayInvocations.reduce((x, y) => x + y, 0);
      const got = [0, 0, 0];
      trace.dayInvocations.forEach((n, f) => (got[a.classOf[f] ?? 0] = (got[a.classOf[f] ?? 0] ?? 0) + n));
      got.forEach((n, c) => expect(Math.abs(n / total - ([0.1, 0.3, 0.6][c] ?? 0))).toBeLessThanOrEqual(TOLERANCE));
      seen.add(Array.from(a.classOf).join(''));
    }
    expect(seen.size).toBeGreaterThan(10);
  });

  it('keeps units given a class, and counts them against its share', () => {
    const a = assignClasses([50, 30, 10, 5, 5], [0.5, 0.5], new Rng(1), new Map([[0, 1]]));
    expect(a.classOf[0]).toBe(1);
    expect(a.shares).toEqual([0.5, 0.5]);
    expect(a.classOf[1]).toBe(0);
  });

  it('does what whole units allow when a share cannot be met, and says how far it missed', () => {
    const a = assignClasses([90, 10], [0.5, 0.5], new Rng(1));
    expect(a.worst).toBeCloseTo(0.4, 10);
  });
});

describe('classes of a trace replay', () => {
  it('are the same at every load of a sweep (drawn from the seed alone), and differ for another seed', () => {
    const cfg = { classWeights: [0.1, 0.3, 0.6] };
    const a = azure(cfg, 0.5), b = azure(cfg, 0.9), c = azure(cfg, 0.5, 2);
    expect(Array.from(a.fnClass)).toEqual(Array.from(b.fnClass));
    expect(Array.from(a.fnClass)).not.toEqual(Array.from(c.fnClass));
  });

  it('report the shares of invocations and of CPU work, and how the classes were assigned', () => {
    const s = azure({ classWeights: [0.1, 0.3, 0.6] }, 0.7);
    expect(s.info.assignment).toMatchObject({ by: 'function', targets: [0.1, 0.3, 0.6] });
    expect(s.info.assignment?.worst).toBeLessThanOrEqual(TOLERANCE);
    expect(s.info.cpuShares?.reduce((x, y) => x + y, 0)).toBeCloseTo(1, 10);
    expect(s.info.classShares.reduce((x, y) => x + y, 0)).toBeCloseTo(1, 10);
  });

  it('can be by owner, or fixed by name for some functions', () => {
    const byOwner = azure({ classes: { by: 'owner', shares: [0.1, 0.3, 0.6] } }, 0.7);
    expect(byOwner.info.assignment?.by).toBe('owner');
    const first = readAzure2019({ resolved: true, kind: 'azure2019', files: { invocations: `${DIR}100_inv.csv`, durations: `${DIR}100_run.csv`, memory: `${DIR}100_mem.csv` }, fromMinute: 0, toMinute: 1440, speed: { kind: 'timeScale', timeScale: 1 }, runtimeFit: 'lognormal', minRuntimeMs: 1, minMemoryMB: 100, classWeights: [1], classes: { by: 'function', shares: [1], fixed: {} } }).functions[3] as string;
    const fixed = azure({ classes: { fixed: { [first]: 'top' } } }, 0.7);
    expect(fixed.fnClass[3]).toBe(0);
    expect(() => azure({ classes: { fixed: { nosuchfunction: 'top' } } }, 0.7)).toThrow(/FARE_E_WORKLOAD_CONFIG: workload.classes.fixed names "nosuchfunction", which is no function of the trace/);
  });

  it('work for the Azure 2021 trace too, by function or by app', () => {
    for (const by of ['function', 'app'] as const) {
      const s = makeJobSource({ kind: 'azure2021', file: FILE2021, classes: { by } }, DEFAULT_PRICE_TABLE, 8, new Rng(1), new Rng(1, 'workload/classes'));
      expect(s).toBeInstanceOf(Azure2021Source);
      expect(s.info.assignment?.by).toBe(by);
    }
  });

  it('refuses a bad rule with a message that says what to do', () => {
    const bad = (classes: unknown): string => {
      const r = validateWorkload({ kind: 'azure2019', dir: DIR, classes }, THREE);
      return r.ok ? 'ok' : r.error;
    };
    expect(bad({ by: 'tenant' })).toBe('workload.classes.by is "tenant": choose one of "function", "app", "owner"');
    expect(bad({ fixed: { abc: 'gold' } })).toMatch(/workload\.classes\.fixed\["abc"\] is "gold": give one of the price table's classes \(top, middle, low\)/);
    expect(bad({ shares: [1, 2] })).toMatch(/workload\.classes\.shares has 2 weights but the price table has 3 classes/);
    expect(bad({ color: 'red' })).toMatch(/color/);
    const r = validateWorkload({ kind: 'azure2021', file: FILE2021, classes: { by: 'owner' } }, THREE);
    expect(r.ok ? 'ok' : r.error).toBe('workload.classes.by is "owner": choose one of "function", "app"');
  });
});
