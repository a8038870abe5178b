import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { DEFAULT_PRICE_TABLE } from '../../core/classes.ts';
import { makeJobSource, newBatch } from '../workload/index.ts';
import { Rng } from '../../core/rng.ts';
import { readRecording } from '../workload/recorded.ts';
import { runReplay } from './replay.ts';

const dirs: string[] = [];
afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

function recording(lines: readonly object[], header: object = {}): string {
  const d = mkdtempSync(join(tmpdir(), 'fare-replay-'));
  dirs.push(d);
  const file = join(d, 'trace.jsonl');
  const head = { format: 'fare-trace', version: 1, recordedAt: '2026-12-05T20:00:00.000Z', policy: 'fare', within: 'las', cores: 1, machines: 1, prices: { classes: [{ name: 'high', price: 2 }, { name: 'low', price: 0.5 }] }, ...header };
  writeFileSync(file, [head, ...lines].map((l) => JSON.stringify(l)).join('\n') + '\n');
  return file;
}

const job = (t: number, cls: string, cpuMs: number, latencyMs: number) => ({ t, fn: `acme/${cls}`, class: cls, cpuMs, memMB: 64, latencyMs, type: 'sync', status: 'ok' });

describe('recordings', () => {
  it('are read sorted by arrival, each job keeping its recorded class, CPU time and memory', () => {
    // Written as invocations end: out of arrival order.
    const file = recording([job(50, 'low', 20, 20), job(0, 'high', 10, 10), job(30, 'high', 5, 5)]);
    const src = makeJobSource({ kind: 'recorded', file }, { classes: [{ name: 'high', price: 2 }, { name: 'low', price: 0.5 }], memoryPrice: 0 }, 1, new Rng(1, 'w'));
    const b = newBatch(8);
    expect(src.fill(b, 8)).toBe(3);
    expect([...b.arrival.slice(0, 3)]).toEqual([0, 30, 50]);
    expect([...b.runtime.slice(0, 3)]).toEqual([10, 5, 20]);
    expect([...b.cls.slice(0, 3)]).toEqual([0, 0, 1]);
    expect(src.info).toMatchObject({ kind: 'recorded', functions: 2 });
    // Renamed into another table (what if): the default one, where low is the fourth class.
    const renamed = makeJobSource({ kind: 'recorded', file, classes: { high: 'high', low: 'low' } }, DEFAULT_PRICE_TABLE, 1, new Rng(1, 'w'));
    renamed.fill(b, 8);
    expect([...b.cls.slice(0, 3)]).toEqual([0, 0, DEFAULT_PRICE_TABLE.classes.findIndex((c) => c.name === 'low')]);
  });

  it('replay a burst whose offered load on its own cores is above 10 (a short recording of long calls)', () => {
    // Twelve 150 ms calls within 11 ms on one core: load 164 over the recording's span.
    const file = recording(Array.from({ length: 12 }, (_, i) => job(i, 'high', 150, 150 * (i + 1))));
    const r = runReplay({ file, seed: 1, out: join(file, '..', 'out'), policies: [] });
    expect(r.comparison.map((c) => [c.class, c.invocations])).toEqual([['high', 12]]);
    expect(r.comparison[0]?.simP99).toBeGreaterThan(1000);
  });

  it('refuse what is not a recording, naming the line and what to do', () => {
    expect(() => readRecording(recording([], { format: 'other' }))).toThrow(/:1: is not a Fare recording's header/);
    expect(() => readRecording(recording([{ ...job(0, 'high', 1, 1), cpuMs: -1 }]))).toThrow(/:2: cpuMs is -1: a number ≥ 0/);
    expect(() => readRecording(recording([]))).toThrow(/has a header but no invocations/);
    const file = recording([job(0, 'middle', 1, 1)]);
    expect(() => runReplay({ file, seed: 1, out: join(file, '..', 'out') })).toThrow(/class "middle" is not in the price table \(high, low\): map it with --classes middle=NAME/);
    expect(() => readRecording(recording([job(0, 'high', 1, 1)], { machines: undefined, cores: undefined }))).toThrow(/:1: says neither how many machines and cores served the traffic nor do its records say where each ran/);
    expect(() => readRecording(recording([{ ...job(0, 'high', 1, 1), machine: -1 }]))).toThrow(/:2: machine is -1: a whole number ≥ 0, or leave it out/);
  });

  it("run each job for the time it held a core when recorded (runMs), and take a cluster gateway's shape from where its records ran", () => {
    const file = recording([{ ...job(0, 'high', 1, 9), runMs: 8, machine: 0, cores: 2 }, { ...job(5, 'low', 3, 4), machine: 3, cores: 2 }], { machines: undefined, cores: undefined, shards: 2 });
    const trace = readRecording(file);
    expect(trace.header).toMatchObject({ machines: 4, cores: 2, shards: 2 });
    const src = makeJobSource({ kind: 'recorded', file }, { classes: [{ name: 'high', price: 2 }, { name: 'low', price: 0.5 }], memoryPrice: 0 }, 8, new Rng(1, 'w'));
    const b = newBatch(4);
    src.fill(b, 4);
    expect([...b.runtime.slice(0, 2)]).toEqual([8, 3]);
  });
});

describe('fare sim replay', () => {
  it('puts the recorded policy’s simulated latency per class next to the live one, then the what-ifs', () => {
    // Jobs that never overlap on one core: the simulator must find each one's latency = its CPU time.
    const lines = [];
    for (let i = 0; i < 200; i++) lines.push(job(i * 100, i % 2 === 0 ? 'high' : 'low', 10 + (i % 5), 10 + (i % 5)));
    const file = recording(lines);
    const out = join(file, '..', 'out');
    const r = runReplay({ file, seed: 1, out, policies: ['hermod'] });
    expect(r.comparison.map((c) => c.class)).toEqual(['high', 'low']);
    for (const c of r.comparison) {
      expect(c.invocations).toBe(100);
      expect(Math.abs((c.simP50 ?? 0) / c.liveP50 - 1)).toBeLessThan(0.05);
      expect(Math.abs((c.simP99 ?? 0) / c.liveP99 - 1)).toBeLessThan(0.05);
    }
    const summary = readFileSync(join(out, 'summary.md'), 'utf8');
    expect(summary).toMatch(/## The recorded policy: live and simulated/);
    expect(summary).toMatch(/\| +high \| +100 \|/);
    expect(summary).toMatch(/hermod/);
    // Each ratio is its own column (p50's is not p99's).
    expect(summary).toMatch(/\| +p50 sim ÷ live \|.*\| +p99 sim ÷ live \|/);
    expect(readFileSync(join(out, 'replay-live-vs-sim.csv'), 'utf8').split('\n')[0]).toBe('class,invocations,live_p50_ms,sim_p50_ms,live_p99_ms,sim_p99_ms');
  });

  it('shows the top class protected from a low-class flood under fare, and not under fifo', () => {
    // A flood of 50 ms low jobs at 90 % of one core, a 5 ms high job every 200 ms.
    const lines = [];
    for (let t = 0; t < 20_000; t += 55) lines.push(job(t, 'low', 50, 0));
    for (let t = 7; t < 20_000; t += 200) lines.push(job(t, 'high', 5, 5));
    const file = recording(lines);
    const r = runReplay({ file, seed: 1, out: join(file, '..', 'out'), policies: ['fifo'] });
    const rows = readFileSync(join(file, '..', 'out', 'replay-what-if.csv'), 'utf8').trim().split('\n').slice(1).map((l) => l.split(','));
    const p99 = (policy: string, cls: string): number => Number(rows.find((x) => x[0] === policy && x[1] === cls)?.[4]);
    expect(p99('fare (recorded)', 'high')).toBeLessThan(10);
    expect(p99('fifo', 'high')).toBeGreaterThan(40);
    expect(r.comparison.find((c) => c.class === 'high')?.simP99).toBeLessThan(10);
  });
});
