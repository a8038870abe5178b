// `node --import tsx bench/capped.ts [--rounds 8] [--calls 2000]`: what a function's concurrency limit
// (reserved concurrency) costs a warm call. One `fare up`, two empty Node.js functions, one of them
// limited (far above what sequential calls use, so none is refused); rounds of `--calls` sequential
// calls alternate between them, each pair in the other order than the last. Prints the medians of
// warm p50 / p99 and of `fare up`'s CPU per call, with the median of the rounds' ratios
// limited ÷ plain. Then a backlog: `--events` (40) Event invocations of a function that sleeps
// `--sleep-ms` (300) with a limit of 2, accepted at once: the time until all have run, against the
// best the limit allows (events × sleep ÷ 2). Writes bench/results/capped-<time>.json and
// capped-latest.json.

import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { invokeOnce, percentile } from '../src/cli/loadgen.ts';
import { ADMIN_KEY, api, startFare, stopFare } from '../support/fare-process.ts';
import { cpuTicks, deployFunction, TICK_US } from './fare-bench.ts';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const { values } = parseArgs({ options: { rounds: { type: 'string', default: '8' }, calls: { type: 'string', default: '2000' }, events: { type: 'string', default: '40' }, 'sleep-ms': { type: 'string', default: '300' } } });
const rounds = Number(values.rounds), calls = Number(values.calls), events = Number(values.events), sleepMs = Number(values['sleep-ms']);
if (!Number.isInteger(events) || events < 2 || !Number.isInteger(sleepMs) || sleepMs < 1) {
  process.stderr.write('--events must be a whole number ≥ 2 and --sleep-ms one ≥ 1\n');
  process.exit(2);
}
if (!Number.isInteger(rounds) || rounds < 1 || !Number.isInteger(calls) || calls < 100) {
  process.stderr.write('--rounds must be a whole number ≥ 1 and --calls one ≥ 100\n');
  process.exit(2);
}

const dir = mkdtempSync(join(tmpdir(), 'fare-bench-capped-'));
const fare = await startFare(dir, ['--no-examples'], { ...process.env, FARE_ADMIN_KEY: ADMIN_KEY });
type Side = 'plain' | 'limited';
const sides: Side[] = ['plain', 'limited'];
const res: Record<Side, { p50: number[]; p99: number[]; cpuUs: number[] }> = { plain: { p50: [], p99: [], cpuUs: [] }, limited: { p50: [], p99: [], cpuUs: [] } };
let drainS = NaN;
try {
  const t = { url: fare.url, key: ADMIN_KEY };
  for (const name of sides) await deployFunction(fare.url, name, 'nodejs', 'index.handler', { 'index.mjs': 'export const handler = async () => null;\n' });
  const set = await api(fare.url, 'PUT', '/v1/functions/limited/concurrency', { reserved: 100 });
  if (set.status !== 200) throw new Error(`setting the limit: ${JSON.stringify(set.json)}`);
  // Warm: both instances started, the JIT warm.
  for (let i = 0; i < 1000; i++) for (const name of sides) await invokeOnce(t, name, '{}');
  const pid = fare.child.pid as number;
  for (let r = 0; r < rounds; r++) {
    for (const name of r % 2 === 0 ? sides : [...sides].reverse()) {
      const c0 = cpuTicks(pid);
      const lat: number[] = [];
      for (let i = 0; i < calls; i++) {
        const o = await invokeOnce(t, name, '{}');
        if (o.status !== 200) throw new Error(`${name}: status ${o.status}`);
        lat.push(o.ms);
      }
      const c1 = cpuTicks(pid);
      const s = res[name];
      s.p50.push(percentile(lat, 0.5));
      s.p99.push(percentile(lat, 0.99));
      s.cpuUs.push(((c1[0] + c1[1] - c0[0] - c0[1]) * TICK_US) / calls);
    }
    process.stdout.write(`round ${r + 1}/${rounds}: p50 ${res.plain.p50.at(-1)?.toFixed(3)} vs ${res.limited.p50.at(-1)?.toFixed(3)} ms\n`);
  }
  // The backlog: Events accepted at once, run at most 2 at a time.
  await deployFunction(fare.url, 'napper', 'nodejs', 'index.handler', { 'index.mjs': `export const handler = async () => { await new Promise((r) => setTimeout(r, ${sleepMs})); return 1; };\n` });
  await api(fare.url, 'PUT', '/v1/functions/napper/concurrency', { reserved: 2 });
  const ids: string[] = [];
  const t0 = performance.now();
  for (let i = 0; i < events; i++) {
    const r = await fetch(`${fare.url}/2015-03-31/functions/napper/invocations`, { method: 'POST', headers: { Authorization: `Bearer ${ADMIN_KEY}`, 'X-Amz-Invocation-Type': 'Event' }, body: '{}' });
    if (r.status !== 202) throw new Error(`Event: status ${r.status}`);
    ids.push(r.headers.get('x-amzn-requestid') ?? '');
  }
  for (;;) {
    const st = await Promise.all(ids.map(async (id) => ((await api(fare.url, 'GET', `/v1/invocations/${id}`)).json as { status: string }).status));
    if (st.every((x) => x === 'succeeded' || x === 'failed')) break;
    if (performance.now() - t0 > 600_000) throw new Error(`the backlog did not drain in 10 minutes: ${st.filter((x) => x !== 'succeeded').length} left`);
    await new Promise((done) => setTimeout(done, 100));
  }
  drainS = (performance.now() - t0) / 1000;
} finally {
  await stopFare(fare);
  rmSync(dir, { recursive: true, force: true });
}
const med = (x: readonly number[]): number => percentile([...x], 0.5);
const ratio = (k: 'p50' | 'p99' | 'cpuUs'): number => med(res.limited[k].map((v, i) => v / (res.plain[k][i] as number)));
const rows = (['p50', 'p99', 'cpuUs'] as const).map((k) => ({ figure: k === 'cpuUs' ? 'fare up CPU per call (µs)' : `warm ${k} (ms)`, plain: med(res.plain[k]), limited: med(res.limited[k]), ratio: ratio(k) }));
process.stdout.write(`\n| median of rounds | plain | limited | limited / plain (median of the rounds' ratios) |\n|---|---:|---:|---:|\n`);
for (const r of rows) {
  const d = r.figure.includes('µs') ? 0 : 3;
  process.stdout.write(`| ${r.figure} | ${r.plain.toFixed(d)} | ${r.limited.toFixed(d)} | ${r.ratio.toFixed(3)} |\n`);
}
const bestS = (events * sleepMs) / 2 / 1000;
process.stdout.write(`\n${events} Events of ${sleepMs} ms at a limit of 2: all run in ${drainS.toFixed(1)} s (the limit allows ${bestS.toFixed(1)} s at best)\n`);
const out = { kind: 'capped', date: new Date().toISOString(), rounds, calls, node: process.version, rows, perRound: res, backlog: { events, sleepMs, limit: 2, drainS, bestS } };
const dirOut = join(root, 'bench', 'results');
mkdirSync(dirOut, { recursive: true });
const text = `${JSON.stringify(out, null, 2)}\n`;
const file = `capped-${out.date.replace(/[:.]/g, '-')}.json`;
writeFileSync(join(dirOut, file), text);
writeFileSync(join(dirOut, 'capped-latest.json'), text);
process.stdout.write(`wrote bench/results/${file} and capped-latest.json\n`);
