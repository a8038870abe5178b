import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { DEFAULT_PRICE_TABLE } from '../../core/classes.ts';
import { Rng } from '../../core/rng.ts';
import { Azure2019Source, readAzure2019 } from './azure2019.ts';
import type { Azure2019WorkloadConfig } from './config.ts';
import { fitLognormalSigma } from './distributions.ts';
import { makeJobSource } from './make-job-source.ts';
import { validateWorkload } from './validate-workload.ts';
import { drain, isSorted, mean } from './test-helpers.ts';
import { WorkloadError } from './trace-csv.ts';
import { tempDir } from '../../../test/support/temp-dir.ts';

/** traces/azure2019 in this repository, from src/sim/workload/. */
const DIR = fileURLToPath(new URL('../../../traces/azure2019/', import.meta.url));

function source(cfg: Partial<Azure2019WorkloadConfig> = {}, seed = 1, cores = 800): Azure2019Source {
  const s = makeJobSource({ kind: 'azure2019', dir: DIR, ...cfg }, DEFAULT_PRICE_TABLE, cores, new Rng(seed));
  if (!(s instanceof Azure2019Source)) throw new Error('expected an Azure2019Source');
  return s;
}

/** Per-minute totals straight from the CSV, for checking the replay. */
function minuteTotals(): number[] {
  const lines = readFileSync(join(DIR, '100_inv.csv'), 'utf8').trim().split('\n').slice(1);
  const totals = new Array<number>(1440).fill(0);
  for (const line of lines) {
    const f = line.split(',').slice(3).map(Number);
    f.forEach((c, m) => (totals[m] = (totals[m] ?? 0) + c));
  }
  return totals;
}

describe('readAzure2019 on the real sample', () => {
  it('keeps all 100 functions and every invocation of the day', () => {
    const s = source();
    expect(s.info.functions).toBe(100);
    expect(s.droppedFunctions).toBe(0);
    expect(s.total).toBe(minuteTotals().reduce((a, b) => a + b, 0));
    expect(s.info.spanMs).toBe(1440 * 60_000);
  });

  it('replays every minute\'s count inside that minute, in arrival order', () => {
    const totals = minuteTotals();
    const d = drain(source({ fromMinute: 100, toMinute: 160 }), 500, [500, 3, 77]);
    expect(isSorted(d.arrival)).toBe(true);
    const perMinute = new Array<number>(60).fill(0);
    for (const t of d.arrival) perMinute[Math.floor(t / 60_000)] = (perMinute[Math.floor(t / 60_000)] ?? 0) + 1;
    expect(perMinute).toEqual(totals.slice(100, 160));
    expect(d.id).toEqual(d.id.map((_, i) => i));
  });

  it('is deterministic per seed and spreads invocations differently for another seed', () => {
    const a = drain(source({ toMinute: 30 }, 5));
    expect(drain(source({ toMinute: 30 }, 5))).toEqual(a);
    expect(drain(source({ toMinute: 30 }, 6)).arrival).not.toEqual(a.arrival);
  });

  it('keeps a function\'s class whatever minute range is replayed', () => {
    expect(Array.from(source({ fromMinute: 0, toMinute: 10 }).fnClass)).toEqual(Array.from(source({ fromMinute: 700, toMinute: 900 }).fnClass));
  });

  it('meanRuntimeMs is the invocation-weighted mean of the functions\' averages; the stream matches it', () => {
    // Deterministic fit: each job runs exactly its function's Average (raised to 1 ms).
    const s = source({ runtimeFit: 'deterministic' });
    const d = drain(s, 4096);
    expect(mean(d.runtime)).toBeCloseTo(s.meanRuntimeMs, 6);
    const run = readFileSync(join(DIR, '100_run.csv'), 'utf8').trim().split('\n').slice(1);
    const avg = new Map(run.map((l) => { const f = l.split(','); return [f[2], Math.max(1, Number(f[3]))] as const; }));
    const inv = readFileSync(join(DIR, '100_inv.csv'), 'utf8').trim().split('\n').slice(1);
    let work = 0;
    let n = 0;
    for (const l of inv) {
      const f = l.split(',');
      const c = f.slice(3).map(Number).reduce((a, b) => a + b, 0);
      work += c * (avg.get(f[0]) ?? NaN);
      n += c;
    }
    expect(s.meanRuntimeMs).toBeCloseTo(work / n, 6);
  });

  it('lognormal and exponential fits keep each function\'s mean', () => {
    for (const runtimeFit of ['lognormal', 'exponential'] as const) {
      const s = source({ runtimeFit, fromMinute: 0, toMinute: 600 });
      const d = drain(s, 4096);
      // Per function with many jobs, the sample mean is near the trace Average.
      const trace = readAzure2019({ resolved: true, kind: 'azure2019', files: { invocations: join(DIR, '100_inv.csv'), durations: join(DIR, '100_run.csv'), memory: join(DIR, '100_mem.csv') }, fromMinute: 0, toMinute: 600, speed: { kind: 'timeScale', timeScale: 1 }, runtimeFit, minRuntimeMs: 1, minMemoryMB: 100, classWeights: [1], classes: { by: 'function', shares: [1], fixed: {} } });
      const busiest = Array.from(trace.invocations).indexOf(Math.max(...trace.invocations));
      const rts = d.runtime.filter((_, i) => d.fn[i] === busiest);
      expect(rts.length).toBeGreaterThan(10_000);
      expect(Math.abs(mean(rts) / (trace.meanMs[busiest] ?? 0) - 1)).toBeLessThan(0.05);
    }
  });

  it('draws each runtime within its function\'s recorded [Minimum, Maximum] (raised to minRuntimeMs): no hours from a function whose maximum is seconds', () => {
    for (const runtimeFit of ['lognormal', 'exponential'] as const) {
      const s = source({ runtimeFit, fromMinute: 0, toMinute: 300 });
      const d = drain(s, 4096);
      const run = new Map(readFileSync(join(DIR, '100_run.csv'), 'utf8').trim().split('\n').slice(1).map((l) => {
        const f = l.split(',');
        return [f[2], { avg: Math.max(1, Number(f[3])), min: Number(f[5]), max: Number(f[6]) }] as const;
      }));
      const hashes = readFileSync(join(DIR, '100_inv.csv'), 'utf8').trim().split('\n').slice(1).map((l) => l.split(',')[0]);
      let checked = 0;
      d.runtime.forEach((rt, i) => {
        const r = run.get(hashes[d.fn[i] ?? 0] ?? '');
        if (r === undefined) return;
        const lo = Math.min(r.avg, Math.max(1, r.min)), hi = Math.max(r.avg, r.max);
        expect(rt).toBeGreaterThanOrEqual(lo * (1 - 1e-12));
        expect(rt).toBeLessThanOrEqual(hi * (1 + 1e-12));
        checked++;
      });
      expect(checked).toBe(d.runtime.length);
    }
  });

  it('draws memory between the function\'s 1st and 100th percentiles, at least minMemoryMB', () => {
    const d = drain(source({ toMinute: 120 }), 4096);
    const mem = readFileSync(join(DIR, '100_mem.csv'), 'utf8').trim().split('\n').slice(1).map((l) => l.split(','));
    const hashes = readFileSync(join(DIR, '100_inv.csv'), 'utf8').trim().split('\n').slice(1).map((l) => l.split(',')[0]);
    const range = new Map(mem.map((f) => [f[1], [Math.max(100, Number(f[4])), Math.max(100, Number(f[11]))]] as const));
    d.memMB.forEach((m, i) => {
      const [lo, hi] = range.get(hashes[d.fn[i] ?? 0]) ?? [NaN, NaN];
      if (!(m >= (lo ?? NaN) - 1e-3 && m <= (hi ?? NaN) + 1e-3)) throw new Error(`job ${String(i)} memory ${String(m)} outside [${String(lo)}, ${String(hi)}]`);
    });
  });

  it('timeScale compresses arrivals; load picks the time scale that gives that offered load', () => {
    const slow = source({ toMinute: 10 });
    const fast = source({ toMinute: 10, timeScale: 0.25 });
    expect(fast.info.offeredLoad).toBeCloseTo(slow.info.offeredLoad * 4, 9);
    expect(drain(fast).arrival).toEqual(drain(slow).arrival.map((t) => t * 0.25));
    const loaded = source({ toMinute: 10, load: 0.7 }, 1, 64);
    expect(loaded.info.offeredLoad).toBeCloseTo(0.7, 9);
    expect(loaded.info.spanMs).toBeCloseTo(10 * 60_000 * loaded.timeScale, 6);
  });
});

describe('fitLognormalSigma', () => {
  it('recovers sigma from exact lognormal quantiles when the mean is right', () => {
    const z = [-2.3263478740408408, -0.6744897501960817, 0, 0.6744897501960817, 2.3263478740408408];
    for (const sigma of [0, 0.3, 1.2, 2.5]) {
      const median = 50;
      const m = median * Math.exp((sigma * sigma) / 2);
      const pts = z.map((zi) => ({ z: zi, value: median * Math.exp(sigma * zi) }));
      expect(fitLognormalSigma(m, pts)).toBeCloseTo(sigma, 4);
    }
  });

  it('gives 0 when every percentile equals the mean and ignores zeros', () => {
    expect(fitLognormalSigma(224, [{ z: -1, value: 224 }, { z: 0, value: 224 }, { z: 1, value: 224 }])).toBeCloseTo(0, 6);
    expect(fitLognormalSigma(10, [{ z: 0, value: 0 }])).toBe(0);
  });
});

describe('clear errors', () => {
  const tmp = tempDir('fare-azure2019-');
  const header = `HashFunction,HashOwner,HashApp,${Array.from({ length: 1440 }, (_, i) => `minute_${String(i + 1)}`).join(',')}`;
  const write = (name: string, text: string): string => {
    writeFileSync(join(tmp, name), text);
    return name;
  };
  write('run.csv', readFileSync(join(DIR, '100_run.csv'), 'utf8'));
  write('mem.csv', readFileSync(join(DIR, '100_mem.csv'), 'utf8'));
  const build = (inv: string): unknown => makeJobSource({ kind: 'azure2019', dir: tmp, files: { invocations: inv, durations: 'run.csv', memory: 'mem.csv' } }, DEFAULT_PRICE_TABLE, 8, new Rng(1));

  it('names a missing file and where relative paths resolve', () => {
    expect(() => build('nope.csv')).toThrow(/FARE_E_TRACE_MISSING: Azure 2019 invocations file .*nope.csv does not exist: check workload.dir/);
  });

  it('names missing header columns', () => {
    write('bad-header.csv', 'HashFunction,HashOwner,minute_1\nx,y,1\n');
    expect(() => build('bad-header.csv')).toThrow(/bad-header.csv:1: the Azure 2019 invocations file header lacks column HashApp/);
    write('short-header.csv', 'HashFunction,HashOwner,HashApp,minute_1,minute_3\n');
    expect(() => build('short-header.csv')).toThrow(/column 5 is "minute_3", expected minute_2/);
  });

  it('points at the bad row by line number', () => {
    const zeros = new Array<number>(1440).fill(0);
    const good = `a,a,a,${zeros.join(',')}`;
    const bad = `b,b,b,${[...zeros.slice(0, 5), 'x', ...zeros.slice(6)].join(',')}`;
    write('bad-row.csv', `${header}\n${good}\n${bad}\n`);
    expect(() => build('bad-row.csv')).toThrow(/bad-row.csv:3: row has minute_6 = "x": expected a number ≥ 0/);
    write('short-row.csv', `${header}\n${good}\na,a,a,1,2\n`);
    expect(() => build('short-row.csv')).toThrow(/short-row.csv:3: row has 5 fields but the header has 1443/);
    write('frac-row.csv', `${header}\nc,c,c,${[1.5, ...zeros.slice(1)].join(',')}\n`);
    expect(() => build('frac-row.csv')).toThrow(/frac-row.csv:2: row has minute_1 = 1.5: expected a whole number/);
  });

  it('reads the dataset as published (HashOwner,HashApp,HashFunction,Trigger,1..1440) like the sample\'s form', () => {
    const lines = readFileSync(join(DIR, '100_inv.csv'), 'utf8').trim().split('\n').slice(1);
    const published = [`HashOwner,HashApp,HashFunction,Trigger,${Array.from({ length: 1440 }, (_, i) => String(i + 1)).join(',')}`,
      ...lines.map((l) => {
        const [fn, owner, app, ...minutes] = l.split(',');
        return [owner, app, fn, 'http', ...minutes].join(',');
      })].join('\n');
    write('published.csv', `${published}\n`);
    write('sample.csv', readFileSync(join(DIR, '100_inv.csv'), 'utf8'));
    const jobs = (inv: string): unknown => {
      const s = makeJobSource({ kind: 'azure2019', dir: tmp, files: { invocations: inv, durations: 'run.csv', memory: 'mem.csv' }, toMinute: 120 }, DEFAULT_PRICE_TABLE, 8, new Rng(3));
      const d = drain(s, 4096);
      return [Array.from(d.arrival), Array.from(d.fn), Array.from(d.runtime)];
    };
    expect(jobs('published.csv')).toEqual(jobs('sample.csv'));
    write('neither.csv', 'HashOwner,HashApp,HashFunction,Trigger,a,b\n');
    expect(() => build('neither.csv')).toThrow(/lacks column minute_1 \(or 1\)/);
  });

  it('replays several days in order: day d\'s minute m is minute 1440·d + m', () => {
    const one = makeJobSource({ kind: 'azure2019', dir: DIR, fromMinute: 600, toMinute: 660 }, DEFAULT_PRICE_TABLE, 8, new Rng(5), new Rng(5, 'classes'));
    const second = makeJobSource({ kind: 'azure2019', dir: DIR, files: { invocations: ['100_inv.csv', '100_inv.csv'] }, fromMinute: 1440 + 600, toMinute: 1440 + 660 }, DEFAULT_PRICE_TABLE, 8, new Rng(5), new Rng(5, 'classes'));
    // The same counts, the same functions, the same classes (the whole trace doubles every function's count).
    expect(second.total).toBe(one.total);
    expect(Array.from((second as Azure2019Source).fnClass)).toEqual(Array.from((one as Azure2019Source).fnClass));
    const both = makeJobSource({ kind: 'azure2019', dir: DIR, files: { invocations: ['100_inv.csv', '100_inv.csv'] } }, DEFAULT_PRICE_TABLE, 8, new Rng(5));
    expect(both.total).toBe(2 * source().total);
    const r = validateWorkload({ kind: 'azure2019', dir: DIR, files: { invocations: ['a.csv', 'b.csv'] }, toMinute: 2881 }, DEFAULT_PRICE_TABLE);
    expect(r.ok ? 'ok' : r.error).toBe('workload.toMinute is 2881: the trace covers minutes 0 to 2880; give at most 2880');
    const empty = validateWorkload({ kind: 'azure2019', dir: DIR, files: { invocations: [] } }, DEFAULT_PRICE_TABLE);
    expect(empty.ok ? 'ok' : empty.error).toMatch(/workload\.files\.invocations is \[\]: give a file name, or the days' files in order/);
  });

  it('refuses a sample whose functions have no statistics', () => {
    write('orphans.csv', `${header}\nzz,zz,zz,${new Array<number>(1440).fill(1).join(',')}\n`);
    expect(() => build('orphans.csv')).toThrow(WorkloadError);
    expect(() => build('orphans.csv')).toThrow(/FARE_E_TRACE_EMPTY: no function of .* has a row in both/);
  });
});
