// `npm run bench:live [-- --quick]`: the live system on this machine, each figure next to its target
// (issue 18) and, where one exists, next to the floor this machine itself sets (live-floor.ts: a bare
// node:http server, and a relay in front of it, measured in the same run). Through the AWS Lambda
// Invoke API on loopback, against `fare up` in a child process:
// - warm invocation of an empty function: p50, p99, p99.9 over 10,000 sequential calls (targets 0.3,
//   1 ms);
// - invocations per second, closed loop, at concurrency 1, 8 and 64 (target ≥ 5,000/s), with `wrk`
//   when installed (else the Node.js client, itself a ceiling);
// - the same (warm calls, calls per second at 1, 8, 32 and 64, the top class under low-class load)
//   with `fare up --worker-thread` (the worker on a thread of its own: src/live/worker/on-thread.ts);
// - the top class's p99 at 100 calls/s alone and while a low-class function is called as fast as the
//   machine allows, 3 alternating rounds of both, ratio of the medians (target: unaffected, ≤ 1.1;
//   the floor: the relay's own calls under such a flood);
// - cold start p50/p99 per runtime with stem cells and without (targets ≤ 15 and ≤ 25 ms), from two
//   `fare up`s side by side (fare-bench.ts);
// - the isolation figure of `fare demo` (high-class p99 under a flood of low-class image resizes ÷
//   alone): under fare, the median of 3 runs (target ≤ 1.1); fare with every core; hermod;
// - the auth flood (auth-flood.ts, target ≥ 0.8).
// Prints a table; writes bench/results/live-<time>.json and live-latest.json.

import { mkdirSync, writeFileSync } from 'node:fs';
import { availableParallelism, cpus } from 'node:os';
import { join } from 'node:path';
import { percentile, type Target } from '../src/cli/loadgen.ts';
import { runPolicy } from '../src/cli/demo.ts';
import { ADMIN } from '../support/fare-process.ts';
import { authFlood, formatAuthFlood, type AuthFloodResult } from './auth-flood.ts';
import { coldStartComparison, deployFunction, fareWithEmpty, type ColdStartRow } from './fare-bench.ts';
import { closedLoop, hasWrk, sequential, startFloorServer, underFlood, type SequentialResult, type ThroughputResult, type UnderFloodResult } from './live-floor.ts';

const quick = process.argv.includes('--quick');
const calls = quick ? 2000 : 10_000;
/**
 * Calls before the warm figures are measured: Fare's tail keeps falling for its first ≈ 3,000 calls
 * (p99 over the next 6,000: 5.4 ms after 500 calls, 3.1 ms after 5,000 — 2026-12-06), and "warm"
 * means the steady state a long-running `fare up` is in.
 */
const WARMUP_CALLS = quick ? 500 : 3000;
const loopSeconds = quick ? 3 : 5;
const say = (line: string): void => void process.stderr.write(`${line}\n`);

// ---- the floor: what a bare node:http server, and a relay in front of it, do on this machine ----
say(`floor: a bare node:http server and a relay in front of it (client: ${hasWrk() ? 'wrk' : 'Node.js, as wrk is not installed'})…`);
const echo = await startFloorServer();
const relay = await startFloorServer(echo.port);
const floor: { echo: SequentialResult; relay: SequentialResult; echoLoop: ThroughputResult; relayLoop: ThroughputResult; relayUnderFlood: UnderFloodResult } = await (async () => {
  try {
    const e: Target = { url: echo.url, key: 'none' }, r: Target = { url: relay.url, key: 'none' };
    return {
      echo: await sequential(e, 'x', 1000, calls),
      relay: await sequential(r, 'x', 1000, calls),
      echoLoop: await closedLoop(e, 'x', 8, loopSeconds),
      relayLoop: await closedLoop(r, 'x', 8, loopSeconds),
      // The relay's own calls at 100/s while a closed loop floods it: the same measure as the top class's below.
      relayUnderFlood: await underFlood(r, 'x', 'x', 100, loopSeconds),
    };
  } finally {
    await relay.stop();
    await echo.stop();
  }
})();

// ---- fare up: warm path, calls per second, the top class under a low-class load, auth flood ----
say('fare up: warm calls, calls per second, the top class under low-class load, the auth flood…');
const bench = await fareWithEmpty({ warmup: WARMUP_CALLS });
const t = bench.t;
let warm: SequentialResult, loops: ThroughputResult[], topClass: UnderFloodResult, auth: AuthFloodResult;
try {
  await deployFunction(t.url, 'empty-low', 'nodejs', 'index.handler', { 'index.mjs': 'export const handler = async () => null;\n' }, 'low');
  warm = await sequential(t, 'empty', 0, calls);
  loops = [];
  for (const c of [1, 8, 64]) loops.push(await closedLoop(t, 'empty', c, loopSeconds));
  // The top class at a steady 100 calls/s, alone, then while the low class is called closed-loop at
  // concurrency 8: what the lower class's rate does to the top one's tail.
  await closedLoop(t, 'empty-low', 8, 1); // the low class's instance warm
  topClass = await underFlood(t, 'empty', 'empty-low', 100, loopSeconds);
  const conc = 4 * availableParallelism();
  auth = await authFlood(t, 'empty', { concurrency: conc, floodConcurrency: conc, phaseMs: quick ? 3000 : 6000, reps: quick ? 1 : 3, knownKeyId: ADMIN.id });
} finally {
  await bench.stop();
}

// ---- the same with the worker on a thread of its own (fare up --worker-thread) ----
say('fare up --worker-thread: warm calls, calls per second, the top class under low-class load…');
const threaded = await fareWithEmpty({ warmup: WARMUP_CALLS, args: ['--worker-thread'] });
let tWarm: SequentialResult, tLoops: ThroughputResult[], tTop: UnderFloodResult;
try {
  const tt = threaded.t;
  await deployFunction(tt.url, 'empty-low', 'nodejs', 'index.handler', { 'index.mjs': 'export const handler = async () => null;\n' }, 'low');
  tWarm = await sequential(tt, 'empty', 0, calls);
  tLoops = [];
  for (const c of [1, 8, 32, 64]) tLoops.push(await closedLoop(tt, 'empty', c, loopSeconds));
  await closedLoop(tt, 'empty-low', 8, 1);
  tTop = await underFlood(tt, 'empty', 'empty-low', 100, loopSeconds);
} finally {
  await threaded.stop();
}

// ---- cold starts, with stem cells and without ----
say('cold starts, with stem cells and without…');
const cold: ColdStartRow[] = await coldStartComparison(quick ? 3 : 10, 1500);

// ---- isolation: fare as `fare up` starts (a core kept for Fare itself) 3 times, fare giving
// functions every core, and hermod: the high class's p99 under the flood ÷ alone, and what the flood got done.
const iso: Record<string, { aloneP99Ms: number; floodedP99Ms: number; ratio: number; floodCompleted: number; upArgs: readonly string[] }[]> = {};
const variants = [
  ['fare', 'fare', [], 3],
  ['fareAllCores', 'fare', ['--cores', String(availableParallelism())], 1],
  ['hermod', 'hermod', [], 1],
] as const;
for (const [name, policy, args, runs] of variants) {
  for (let i = 0; i < runs; i++) {
    say(`isolation: ${name}, run ${i + 1} of ${runs}…`);
    const r = await runPolicy(policy, quick ? 4 : 10, 50, 16 * availableParallelism(), args);
    const alone = percentile(r.alone[0]?.latencies ?? [], 0.99);
    const flooded = percentile(r.flooded[0]?.latencies ?? [], 0.99);
    (iso[name] ??= []).push({ aloneP99Ms: alone, floodedP99Ms: flooded, ratio: flooded / alone, floodCompleted: r.floodCompleted, upArgs: args });
  }
}
/** The run with the median ratio (the middle one of 3). */
const median = (runs: readonly { ratio: number }[]): number => {
  const s = runs.map((r) => r.ratio).sort((a, b) => a - b);
  return s[(s.length - 1) >> 1] as number;
};

// ---- the table ----
const f = (x: number, d = 2): string => (Number.isFinite(x) ? x.toFixed(d) : '–');
const n0 = (x: number): string => (Number.isFinite(x) ? Math.round(x).toLocaleString('en-US') : '–');
const rows: [string, string, string, string][] = [];
const row = (what: string, measured: string, target: string, floorText = ''): void => void rows.push([what, measured, target, floorText]);
row('warm call, empty function: p50 (ms)', f(warm.p50Ms), '≤ 0.3', `${f(floor.echo.p50Ms)} bare, ${f(floor.relay.p50Ms)} relay`);
row('  p99 (ms)', f(warm.p99Ms), '≤ 1', `${f(floor.echo.p99Ms)} bare, ${f(floor.relay.p99Ms)} relay`);
row('  p99.9 (ms)', f(warm.p999Ms), '', `${f(floor.echo.p999Ms)} bare, ${f(floor.relay.p999Ms)} relay`);
for (const l of loops) {
  const fl = l.concurrency === 8 ? `${n0(floor.echoLoop.perSec)} bare, ${n0(floor.relayLoop.perSec)} relay` : '';
  row(`calls/s at concurrency ${l.concurrency} (p50 ${f(l.p50Ms)}, p99 ${f(l.p99Ms)} ms${l.failed > 0 ? `, ${l.failed} failed` : ''})`, n0(l.perSec), '≥ 5,000', fl);
}
const tc = topClass, fu = floor.relayUnderFlood;
row(`top class p99 at 100/s with low class at ${n0(tc.floodPerSec)}/s ÷ alone (medians of 3: ${f(tc.floodedP99Ms)} / ${f(tc.aloneP99Ms)} ms)`, f(tc.ratio), '≤ 1.1', `${f(fu.ratio)} relay (${f(fu.floodedP99Ms)} / ${f(fu.aloneP99Ms)} ms, flood ${n0(fu.floodPerSec)}/s)`);
row('--worker-thread: warm call p50 / p99 / p99.9 (ms)', `${f(tWarm.p50Ms)} / ${f(tWarm.p99Ms)} / ${f(tWarm.p999Ms)}`, '≤ 0.3 / ≤ 1');
for (const l of tLoops) row(`--worker-thread: calls/s at concurrency ${l.concurrency} (p50 ${f(l.p50Ms)}, p99 ${f(l.p99Ms)} ms${l.failed > 0 ? `, ${l.failed} failed` : ''})`, n0(l.perSec), '≥ 5,000');
row(`--worker-thread: top class p99 at 100/s with low class at ${n0(tTop.floodPerSec)}/s ÷ alone (${f(tTop.floodedP99Ms)} / ${f(tTop.aloneP99Ms)} ms)`, f(tTop.ratio), '≤ 1.1');
for (const c of cold) row(`cold start ${c.runtime}, ${c.side}: p50 / p99 (ms)`, `${f(c.p50, 1)} / ${f(c.p99, 1)}`, c.side === 'stem cells' ? '≤ 15 / ≤ 25' : '');
const isoLine = (name: string): string => (iso[name] ?? []).map((r) => `${f(r.floodedP99Ms)}/${f(r.aloneP99Ms)}`).join(', ');
row(`isolation, fare (median of 3; p99 ms flooded/alone: ${isoLine('fare')})`, f(median(iso.fare ?? [])), '≤ 1.1');
row(`isolation, fare with every core (${isoLine('fareAllCores')})`, f(median(iso.fareAllCores ?? [])), '');
row(`isolation, hermod (${isoLine('hermod')})`, f(median(iso.hermod ?? [])), '');
row('image resizes done during the flood: fare, every core, hermod', [iso.fare?.[1] ?? iso.fare?.[0], iso.fareAllCores?.[0], iso.hermod?.[0]].map((r) => String(r?.floodCompleted ?? '–')).join(', '), '');
const w = [Math.max(...rows.map((r) => r[0].length)), 12, 12];
const clientNote = hasWrk() ? 'closed loops by wrk' : 'closed loops by the Node.js client (install wrk for a client that leaves the cores to Fare)';
process.stdout.write(`
live benchmark (${quick ? 'quick' : 'full'}), loopback, ${availableParallelism()} cores, ${clientNote}
floor: "bare" = a node:http server answering null; "relay" = a node:http server forwarding each call to it (live-floor.ts)
${'figure'.padEnd(w[0] as number)}  ${'measured'.padStart(12)}  ${'target'.padStart(12)}  floor on this machine
${rows.map((r) => `${r[0].padEnd(w[0] as number)}  ${r[1].padStart(12)}  ${r[2].padStart(12)}  ${r[3]}`).join('\n')}
${formatAuthFlood(auth)}`);

const results = {
  floor, warm, throughput: loops, topClass, coldStart: cold,
  workerThread: { warm: tWarm, throughput: tLoops, topClass: tTop },
  isolation: { ...iso, fareMedianRatio: median(iso.fare ?? []) },
  authFlood: auth,
  client: hasWrk() ? 'wrk' : 'node',
};
const doc = { kind: 'live', date: new Date().toISOString(), quick, node: process.version, cpu: cpus()[0]?.model ?? '?', cores: availableParallelism(), results };
const dir = join(import.meta.dirname, 'results');
mkdirSync(dir, { recursive: true });
const stamp = doc.date.replace(/[:.]/g, '-');
writeFileSync(join(dir, `live-${stamp}.json`), `${JSON.stringify(doc, null, 2)}\n`);
writeFileSync(join(dir, 'live-latest.json'), `${JSON.stringify(doc, null, 2)}\n`);
process.stdout.write(`wrote bench/results/live-${stamp}.json\n`);
