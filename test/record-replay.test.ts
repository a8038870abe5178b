// End-to-end: `fare up --record FILE` records real invocations of two classes (the examples: page-view
// is high, image-resize low), and `fare sim replay FILE` runs them on the same core: the recorded
// policy's per-class latencies next to the live ones, then other policies on the same traffic.

import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { readRecording } from '../src/sim/workload/recorded.ts';
import { ADMIN_KEY, api, startFare, stopFare, type FareProcess } from '../support/fare-process.ts';

const dirs: string[] = [];
const fares: FareProcess[] = [];
afterAll(async () => {
  for (const f of fares) await stopFare(f);
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

describe('recording live traffic and replaying it in the simulator', () => {
  it('records every execution with its class, CPU, memory and latency, and the replay compares them per class', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'fare-record-'));
    dirs.push(dir);
    const file = join(dir, 'traffic.jsonl');
    const fare = await startFare(join(dir, 'fare'), ['--record', file]);
    fares.push(fare);
    expect(fare.output()).toMatch(/Recording traffic to: +\S+traffic\.jsonl/);
    // Low-class work in flight while high-class calls come in.
    const low = Array.from({ length: 6 }, (_, i) => api(fare.url, 'POST', '/2015-03-31/functions/image-resize/invocations', { width: 64 + i }));
    for (let i = 0; i < 8; i++) expect((await api(fare.url, 'POST', '/2015-03-31/functions/page-view/invocations', { user: `u${i}` })).status).toBe(200);
    for (const r of await Promise.all(low)) expect(r.status).toBe(200);
    // An async invocation is recorded when its attempt ends.
    const event = await fetch(`${fare.url}/2015-03-31/functions/page-view/invocations`, { method: 'POST', headers: { Authorization: `Bearer ${ADMIN_KEY}`, 'X-Amz-Invocation-Type': 'Event' }, body: '{"user":"async"}' });
    expect(event.status).toBe(202);
    // Each execution's line is written when its measurement ends — for a sync call, shortly after its
    // answer (its instance parked, or serving its next call): wait for all 15, the Event's among them.
    const lines = (): string[] => readFileSync(file, 'utf8').split('\n').filter((l) => l.includes('"fn"'));
    const deadline = Date.now() + 20_000;
    while (Date.now() < deadline && !(lines().length >= 15 && lines().some((l) => l.includes('"type":"async"')))) await new Promise((r) => setTimeout(r, 100));
    await stopFare(fare);

    const trace = readRecording(file);
    expect(trace.header).toMatchObject({ format: 'fare-trace', version: 1, policy: 'fare', machines: 1 });
    expect(trace.header.prices.classes.map((c) => c.name)).toContain('high');
    const byClass = (c: string) => trace.records.filter((r) => r.class === c);
    expect(byClass('high').length).toBe(9);
    expect(byClass('low').length).toBe(6);
    expect(trace.records.filter((r) => r.type === 'async').length).toBe(1);
    for (const r of trace.records) {
      expect(r.fn).toMatch(/^admin\/(page-view|image-resize)$/);
      expect(r.latencyMs).toBeGreaterThan(0);
      expect(r.cpuMs).toBeGreaterThan(0);
      // The time it held a core, from its receipt (what the replay runs it for): within its latency.
      expect(r.runMs).toBeGreaterThan(0);
      expect(r.runMs).toBeLessThanOrEqual(r.latencyMs);
      expect(r.memMB).toBeGreaterThan(0);
      expect(r.latencyMs).toBeGreaterThanOrEqual(r.waitMs ?? 0);
    }

    const out = join(dir, 'replay');
    const r = spawnSync(process.execPath, [join(import.meta.dirname, '..', 'bin', 'fare.js'), 'sim', 'replay', file, '--out', out, '--quiet'], { encoding: 'utf8', timeout: 120_000 });
    expect(r.status, r.stderr).toBe(0);
    const summary = readFileSync(join(out, 'summary.md'), 'utf8');
    expect(summary).toMatch(/## The recorded policy: live and simulated/);
    const rows = readFileSync(join(out, 'replay-live-vs-sim.csv'), 'utf8').trim().split('\n').slice(1).map((l) => l.split(','));
    expect(rows.map((x) => x[0]).sort()).toEqual(['high', 'low']);
    for (const row of rows) expect(Number(row[3])).toBeGreaterThan(0);
    expect(readFileSync(join(out, 'replay-what-if.csv'), 'utf8')).toMatch(/hermod/);
  }, 180_000);

  it('records a call answered just before fare up is stopped', async () => {
    // Its line follows the end of its measurement (its instance parks ~10 ms after the answer):
    // stopping ends that, and the recording is closed only then.
    const dir = mkdtempSync(join(tmpdir(), 'fare-record-'));
    dirs.push(dir);
    const file = join(dir, 'traffic.jsonl');
    const fare = await startFare(join(dir, 'fare'), ['--record', file]);
    for (let i = 0; i < 3; i++) expect((await api(fare.url, 'POST', '/2015-03-31/functions/page-view/invocations', { user: `u${i}` })).status).toBe(200);
    await stopFare(fare);
    expect(readRecording(file).records.length).toBe(3);
  }, 60_000);
});
