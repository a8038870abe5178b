import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { DEFAULT_PRICE_TABLE } from '../../core/classes.ts';
import { Rng } from '../../core/rng.ts';
import { Azure2021Source, readAzure2021 } from './azure2021.ts';
import type { Azure2021WorkloadConfig } from './config.ts';
import { makeJobSource } from './make-job-source.ts';
import { drain, isSorted, max, mean, min } from './test-helpers.ts';
import { tempDir } from '../../../test/support/temp-dir.ts';

/** traces/azure2021/invocations-first-998.csv in this repository, from src/sim/workload/. */
const FILE = fileURLToPath(new URL('../../../traces/azure2021/invocations-first-998.csv', import.meta.url));

function source(cfg: Partial<Azure2021WorkloadConfig> = {}, seed = 1, cores = 800): Azure2021Source {
  const s = makeJobSource({ kind: 'azure2021', file: FILE, ...cfg }, DEFAULT_PRICE_TABLE, cores, new Rng(seed));
  if (!(s instanceof Azure2021Source)) throw new Error('expected an Azure2021Source');
  return s;
}

/** start (s) and duration (s) of each row, from the CSV directly. */
function rows(): { start: number; duration: number }[] {
  return readFileSync(FILE, 'utf8').trim().split('\n').slice(1).map((l) => {
    const f = l.split(',');
    const end = Number(f[2]);
    const duration = Number(f[3]);
    return { start: end - duration, duration };
  });
}

describe('readAzure2021 on the real file', () => {
  it('reads all 998 invocations, sorted by start = end − duration, from the first start', () => {
    const t = readAzure2021(FILE);
    const r = rows();
    expect(t.start.length).toBe(998);
    expect(isSorted(Array.from(t.start))).toBe(true);
    const first = Math.min(...r.map((x) => x.start));
    expect(t.originSec).toBe(first);
    expect(t.start[0]).toBe(0);
    expect(t.start[997]).toBeCloseTo((Math.max(...r.map((x) => x.start)) - first) * 1000, 6);
    expect(t.functions.length).toBe(new Set(readFileSync(FILE, 'utf8').trim().split('\n').slice(1).map((l) => l.split(',').slice(0, 2).join('/'))).size);
  });

  it('replays the trace\'s own arrivals and runtimes (raised to minRuntimeMs)', () => {
    const s = source();
    const d = drain(s, 100, [100, 1, 33]);
    expect(d.arrival.length).toBe(998);
    expect(isSorted(d.arrival)).toBe(true);
    const sorted = rows().sort((a, b) => a.start - b.start);
    expect(d.runtime.slice().sort((a, b) => a - b)).toEqual(sorted.map((x) => Math.max(1, x.duration * 1000)).sort((a, b) => a - b));
    expect(s.meanRuntimeMs).toBeCloseTo(mean(d.runtime), 9);
    expect(s.info.offeredLoad).toBeCloseTo((998 * s.meanRuntimeMs) / (s.info.spanMs * 800), 9);
  });

  it('draws memory from the Burr fit in [100, 10240] MB by default, deterministically', () => {
    const a = drain(source({}, 3));
    expect(min(a.memMB)).toBeGreaterThanOrEqual(100);
    expect(max(a.memMB)).toBeLessThanOrEqual(10240);
    expect(drain(source({}, 3))).toEqual(a);
    expect(drain(source({}, 4)).memMB).not.toEqual(a.memMB);
    expect(drain(source({}, 4)).arrival).toEqual(a.arrival);
  });

  it('replays a slice of minutes, rebased to 0, and scales time for a target load', () => {
    const all = readAzure2021(FILE);
    const inRange = Array.from(all.start).filter((t) => t >= 10 * 60_000 && t < 20 * 60_000);
    const s = source({ fromMinute: 10, toMinute: 20 });
    const d = drain(s);
    expect(d.arrival).toEqual(inRange.map((t) => t - 10 * 60_000));
    const loaded = source({ fromMinute: 10, toMinute: 20, load: 0.5 }, 1, 4);
    expect(loaded.info.offeredLoad).toBeCloseTo(0.5, 9);
    expect(drain(loaded).arrival).toEqual(d.arrival.map((t) => t * loaded.timeScale));
  });

  it('refuses an empty slice with a hint', () => {
    expect(() => source({ fromMinute: 5000, toMinute: 5001 })).toThrow(/FARE_E_TRACE_EMPTY: minutes \[5000, 5001\) .* hold no invocations \(the file covers minutes 0 to 107/);
  });
});

describe('clear errors', () => {
  const tmp = tempDir('fare-azure2021-');
  const at = (name: string, text: string): string => {
    const p = join(tmp, name);
    writeFileSync(p, text);
    return p;
  };
  const build = (file: string): unknown => makeJobSource({ kind: 'azure2021', file }, DEFAULT_PRICE_TABLE, 8, new Rng(1));

  it('missing file, bad header, bad rows', () => {
    expect(() => build(join(tmp, 'missing.csv'))).toThrow(/FARE_E_TRACE_MISSING: Azure 2021 invocations file .*missing.csv does not exist: check workload.file/);
    expect(() => build(at('h.csv', 'app,func,end,duration\n'))).toThrow(/FARE_E_TRACE_HEADER: .*h.csv:1: the Azure 2021 invocations file header lacks column end_timestamp/);
    expect(() => build(at('e.csv', ''))).toThrow(/FARE_E_TRACE_EMPTY/);
    expect(() => build(at('n.csv', 'app,func,end_timestamp,duration\n'))).toThrow(/has a header but no invocations/);
    expect(() => build(at('r.csv', 'app,func,end_timestamp,duration\na,f,1.5,0.1\na,f,2.5,-0.1\n'))).toThrow(/r.csv:3: row has duration = "-0.1": expected a number ≥ 0/);
    expect(() => build(at('s.csv', 'app,func,end_timestamp,duration\r\na,f,1.5,0.1\r\n\r\na,f,zz,0.1\r\n'))).toThrow(/s.csv:4: row has end_timestamp = "zz": expected a number/);
  });
});
