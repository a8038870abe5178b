import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parseExperiment, runExperiment } from '../experiment.ts';
import { meanCi95, runCustom } from './custom.ts';
import { tempDir } from '../../../test/support/temp-dir.ts';

describe('fare sim run over several seeds', () => {
  it('a 95 % t interval: known values', () => {
    const ci = meanCi95([1, 2, 3, 4, 5]);
    expect(ci.mean).toBe(3);
    expect(ci.half).toBeCloseTo((2.776 * Math.sqrt(2.5)) / Math.sqrt(5), 10);
    expect(Number.isNaN(meanCi95([7]).half)).toBe(true);
  });

  it('runs each seed, writes every seed\'s rows, and gives each p99 as mean ± interval', () => {
    const dir = tempDir('fare-seeds-');
    const spec = parseExperiment({
      name: 'tiny', seed: 4, seeds: 3, cluster: { machines: 2, cores: 2, shards: 1, k: 1, idleList: false },
      policies: ['fare'], workload: { kind: 'synthetic', jobs: 3000 }, loads: [0.7],
    });
    const files = runCustom(spec, dir);
    expect(files).toContain('tiny-seeds.csv');
    const rows = readFileSync(join(dir, 'tiny-seeds.csv'), 'utf8').trim().split('\n');
    expect(rows[0]?.startsWith('seed,policy,load,class')).toBe(true);
    expect(new Set(rows.slice(1).map((r) => r.split(',')[0]))).toEqual(new Set(['4', '5', '6']));
    const summary = readFileSync(join(dir, 'summary.md'), 'utf8');
    expect(summary).toMatch(/Over 3 seeds \(4 to 6; every seed draws its own jobs and class assignment\)/);
    expect(summary).toMatch(/\| +fare \| +0\.7 \| +high \| +[\d.]+ ± [\d.]+ \|/);
  });

  it('refuses a bad number of seeds with a message that says what to do', () => {
    expect(() => parseExperiment({ seeds: 0 })).toThrow(/seeds .*a whole number of seeds from 1 to 1000/);
  });

  it('takes Fare\'s order within a class per policy, and refuses a wrong one, or one beside memory admission', () => {
    const spec = parseExperiment({ policies: ['fare', { kind: 'fare', name: 'fare-las', within: 'las' }, { kind: 'fare', name: 'fare-sef', within: 'sef' }, { kind: 'fare', name: 'fare-ps', within: 'ps' }] });
    expect(spec.policies.map((p) => p.within)).toEqual([undefined, 'las', 'sef', 'ps']);
    expect(() => parseExperiment({ policies: [{ kind: 'fare', within: 'rr' }] })).toThrow(/policies\[0\]\.within is "rr": .*one of "fcfs", "las", "sef", "ps"/);
    expect(() => parseExperiment({ policies: [{ kind: 'hermod', within: 'las' }] })).toThrow(/for kind "fare" only/);
    expect(() => parseExperiment({ cluster: { memoryAdmission: true }, policies: [{ kind: 'fare', name: 'x', within: 'las' }] })).toThrow(/policy "x" orders its classes by las, and cluster.memoryAdmission is on/);
  });

  it("takes the order within a class at Fare's shards per policy, and refuses a wrong one", () => {
    const spec = parseExperiment({ policies: ['fare', { kind: 'fare', name: 'fare-shard-sef', shardWithin: 'sef' }] });
    expect(spec.policies.map((p) => p.shardWithin)).toEqual([undefined, 'sef']);
    expect(() => parseExperiment({ policies: [{ kind: 'fare', shardWithin: 'las' }] })).toThrow(/policies\[0\]\.shardWithin is "las": .*one of "fcfs", "sef"/);
    expect(() => parseExperiment({ policies: [{ kind: 'hermod', shardWithin: 'sef' }] })).toThrow(/for kind "fare" only/);
  });

  it('takes the swap order from a config, and refuses an unknown one', () => {
    expect(parseExperiment({}).cluster.swapOrder).toBeUndefined();
    expect(parseExperiment({ cluster: { swapOrder: 'lru' } }).cluster.swapOrder).toBe('lru');
    expect(parseExperiment({ cluster: { swapOrder: 'pages' } }).cluster.swapOrder).toBe('pages');
    expect(() => parseExperiment({ cluster: { swapOrder: 'oldest' } })).toThrow(/cluster.swapOrder is "oldest": it must be "class" .*, "lru" .* or "pages"/);
  });

  it('takes the intake and the JIQ and Sparrow baselines from a config', () => {
    const spec = parseExperiment({ cluster: { intake: 'by-function' }, policies: ['jiq', 'sparrow'] });
    expect(spec.cluster.intake).toBe('by-function');
    expect(spec.policies.map((p) => p.kind)).toEqual(['jiq', 'sparrow']);
    expect(parseExperiment({}).cluster.intake).toBeUndefined();
  });

  it('takes the paper\'s idle-list rule per policy (idleFreeCore: false), and refuses it where it means nothing', () => {
    const spec = parseExperiment({ policies: ['fare', { kind: 'fare', name: 'fare-paper', idleFreeCore: false }] });
    expect(spec.policies.map((p) => p.idleFreeCore)).toEqual([undefined, false]);
    expect(() => parseExperiment({ policies: [{ kind: 'hermod', idleFreeCore: false }] })).toThrow(/policies\[0\]\.idleFreeCore is false: .*for kinds "fare", "fifo" and "np-priority"/);
    expect(() => parseExperiment({ policies: [{ kind: 'fare', idleFreeCore: 'no' }] })).toThrow(/idleFreeCore is "no": it must be true/);
  });

  it('LAS within a class: the short calls of a class stop waiting behind its long ones (p99 slowdown lower than FCFS\'s)', () => {
    // One machine of one core, heavy-tailed runtimes: under FCFS a short call waits for whatever long call of its class came first.
    const slowdown = (within: 'fcfs' | 'las'): number => {
      const [run] = runExperiment(parseExperiment({
        name: `one-${within}`, seed: 1, loads: [0.7], warmup: 0, measureTo: 1, drain: 10,
        cluster: { machines: 1, cores: 1, shards: 1, k: 1, idleList: false },
        policies: [{ kind: 'fare', within }],
        workload: { kind: 'synthetic', jobs: 5000, arrivals: 'poisson', functions: 10, runtime: { family: 'lognormal', sigma: 2, mean: 100 } },
      }));
      return run?.result.classes[0]?.slowdown.quantile(0.99) ?? NaN;
    };
    const las = slowdown('las'), fcfs = slowdown('fcfs');
    expect(las, `p99 slowdown of the top class: LAS ${las}, FCFS ${fcfs}`).toBeLessThan(fcfs / 2);
  });
  it("takes functions' concurrency limits from a config: the calls past them are refused (counted per class) and never run", () => {
    expect(() => parseExperiment({ cluster: { concurrencyLimits: { x: 1 } } })).toThrow(/cluster\.concurrencyLimits is .*"x" is not a function number/);
    expect(() => parseExperiment({ cluster: { concurrencyLimits: { 0: -1 } } })).toThrow(/the limit of function 0 must be a whole number ≥ 0, got -1/);
    expect(() => parseExperiment({ cluster: { concurrencyLimits: [1] } })).toThrow(/cluster\.concurrencyLimits is \[1\]/);
    const run = (limits: Record<string, number> | undefined) => runExperiment(parseExperiment({
      name: 'limits', seed: 1, loads: [0.7], warmup: 0, measureTo: 1, drain: 10,
      cluster: { machines: 2, cores: 2, shards: 1, k: 1, idleList: false, ...(limits !== undefined ? { concurrencyLimits: limits } : {}) },
      policies: ['fare'], workload: { kind: 'synthetic', jobs: 4000, functions: 4 },
    }))[0]?.result.classes ?? [];
    const open = run(undefined);
    const stopped = run({ 0: 0, 1: 1 });
    const sum = (cs: typeof open, f: (c: (typeof open)[number]) => number): number => cs.reduce((a, c) => a + f(c), 0);
    expect(sum(open, (c) => c.refused)).toBe(0);
    // Function 0 (a quarter of the calls) is refused whole, function 1 whenever one of its calls runs.
    const refused = sum(stopped, (c) => c.refused);
    expect(refused).toBeGreaterThan(4000 / 4);
    expect(sum(stopped, (c) => c.jobs)).toBe(sum(open, (c) => c.jobs));
    expect(sum(stopped, (c) => c.completed + c.refused)).toBe(sum(stopped, (c) => c.jobs));
  });
});
