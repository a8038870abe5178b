// `npm run bench:live`: the live system on this machine. Starts `fare up` in a child process and
// measures, through the AWS Lambda Invoke API on loopback: warm invocation overhead of an empty
// function (p50, p99 over ≥ 10,000 sequential calls), invocations per second (closed loop), cold start
// per runtime, the isolation figure of `fare demo` (high-class p99 under a low-class flood ÷ alone)
// under fare and hermod, and the auth flood (good Bearer invocations per second while another client
// floods wrong secrets ÷ alone: auth-flood.ts). Prints a table; writes bench/results/live-<time>.json
// and live-latest.json.

import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir, availableParallelism, cpus } from 'node:os';
import { join } from 'node:path';
import { invokeOnce, percentile, type Target } from '../src/cli/loadgen.ts';
import { runPolicy } from '../src/cli/demo.ts';
import { ADMIN, ADMIN_KEY, startFare, stopFare } from '../support/fare-process.ts';
import { authFlood, formatAuthFlood, type AuthFloodResult } from './auth-flood.ts';
import { deployFunction } from './fare-bench.ts';

const quick = process.argv.includes('--quick');
const calls = quick ? 2000 : 10_000;
/** Calls before the warm figures are measured (see below). */
const WARMUP_CALLS = quick ? 500 : 3000;

const dataDir = mkdtempSync(join(tmpdir(), 'fare-bench-'));
const fare = await startFare(dataDir, ['--no-examples']);
const t: Target = { url: fare.url, key: ADMIN_KEY };
const results: Record<string, unknown> = {};
try {
  await deployFunction(fare.url, 'empty', 'nodejs', 'index.handler', { 'index.mjs': 'export const handler = async () => null;\n' });
  // Warm up the instance and the JIT: Fare's tail keeps falling for its first ≈ 3,000 calls (p99 over
  // the next 6,000: 5.4 ms after 500 calls, 3.1 ms after 5,000 — 2026-12-06), and "warm" means the
  // steady state a long-running `fare up` is in.
  for (let i = 0; i < WARMUP_CALLS; i++) await invokeOnce(t, 'empty', '{}');
  const lat: number[] = [];
  for (let i = 0; i < calls; i++) lat.push((await invokeOnce(t, 'empty', '{}')).ms);
  results.warmOverhead = { calls, p50Ms: percentile(lat, 0.5), p99Ms: percentile(lat, 0.99), meanMs: lat.reduce((a, b) => a + b, 0) / lat.length };

  const conc = 4 * availableParallelism();
  const seconds = quick ? 3 : 10;
  let done = 0;
  const stopAt = performance.now() + seconds * 1000;
  await Promise.all(Array.from({ length: conc }, async () => {
    while (performance.now() < stopAt) if ((await invokeOnce(t, 'empty', '{}')).ok) done++;
  }));
  results.throughput = { concurrency: conc, seconds, invocationsPerSec: done / seconds };

  results.authFlood = await authFlood(t, 'empty', { concurrency: conc, floodConcurrency: conc, phaseMs: quick ? 3000 : 6000, reps: quick ? 1 : 3, knownKeyId: ADMIN.id });

  const cold: Record<string, number[]> = { nodejs: [], python: [] };
  const reps = quick ? 3 : 7;
  for (let i = 0; i < reps; i++) {
    await deployFunction(fare.url, `cold-node-${i}`, 'nodejs', 'index.handler', { 'index.mjs': 'export const handler = async () => 1;\n' });
    await deployFunction(fare.url, `cold-py-${i}`, 'python', 'handler.handler', { 'handler.py': 'def handler(event, context):\n    return 1\n' });
    const n = await invokeOnce(t, `cold-node-${i}`, '{}');
    const warm = await invokeOnce(t, `cold-node-${i}`, '{}');
    cold.nodejs?.push(n.ms - warm.ms);
    const p = await invokeOnce(t, `cold-py-${i}`, '{}');
    const warmP = await invokeOnce(t, `cold-py-${i}`, '{}');
    cold.python?.push(p.ms - warmP.ms);
  }
  results.coldStartMs = { nodejs: percentile(cold.nodejs ?? [], 0.5), python: percentile(cold.python ?? [], 0.5), reps, note: 'first call minus a warm call of the same function, median' };
} finally {
  await stopFare(fare);
  rmSync(dataDir, { recursive: true, force: true });
}

// fare as `fare up` starts by default (a core kept for Fare itself), fare giving functions every core,
// and hermod: the isolation figure and what the flood got done meanwhile.
const iso: Record<string, unknown> = {};
const variants = [
  ['fare', 'fare', []],
  ['fareAllCores', 'fare', ['--cores', String(availableParallelism())]],
  ['hermod', 'hermod', []],
] as const;
for (const [name, policy, args] of variants) {
  const r = await runPolicy(policy, quick ? 4 : 10, 50, 16 * availableParallelism(), args);
  const alone = percentile(r.alone[0]?.latencies ?? [], 0.99);
  const flooded = percentile(r.flooded[0]?.latencies ?? [], 0.99);
  iso[name] = { aloneP99Ms: alone, floodedP99Ms: flooded, ratio: flooded / alone, floodCompleted: r.floodCompleted, upArgs: args };
}
results.isolation = iso;

const f = (x: unknown): string => (typeof x === 'number' ? x.toFixed(2) : String(x));
const w = results.warmOverhead as { p50Ms: number; p99Ms: number };
const th = results.throughput as { invocationsPerSec: number; concurrency: number };
const c = results.coldStartMs as { nodejs: number; python: number };
const isoF = iso.fare as { ratio: number; aloneP99Ms: number; floodedP99Ms: number };
const isoH = iso.hermod as { ratio: number; aloneP99Ms: number; floodedP99Ms: number; floodCompleted: number };
const isoA = iso.fareAllCores as { ratio: number; aloneP99Ms: number; floodedP99Ms: number; floodCompleted: number };
process.stdout.write(`
live benchmark (${quick ? 'quick' : 'full'}), loopback, ${availableParallelism()} cores
warm invoke overhead, empty function  p50 ${f(w.p50Ms)} ms   p99 ${f(w.p99Ms)} ms   (${calls} sequential calls; targets p50 ≤ 1, p99 ≤ 5)
invocations per second                ${f(th.invocationsPerSec)}   (concurrency ${th.concurrency})
cold start (median)                   nodejs ${f(c.nodejs)} ms   python ${f(c.python)} ms
isolation: high p99 flooded ÷ alone   fare ${f(isoF.ratio)} (${f(isoF.floodedP99Ms)} / ${f(isoF.aloneP99Ms)} ms)   hermod ${f(isoH.ratio)} (${f(isoH.floodedP99Ms)} / ${f(isoH.aloneP99Ms)} ms)   (target ≤ 1.5 under fare)
  fare with every core for functions  ${f(isoA.ratio)} (${f(isoA.floodedP99Ms)} / ${f(isoA.aloneP99Ms)} ms)
  image resizes done during the flood  fare ${(iso.fare as { floodCompleted: number }).floodCompleted}, fare every core ${isoA.floodCompleted}, hermod ${isoH.floodCompleted}
${formatAuthFlood(results.authFlood as AuthFloodResult)}`);
const doc = { kind: 'live', date: new Date().toISOString(), quick, node: process.version, cpu: cpus()[0]?.model ?? '?', cores: availableParallelism(), results };
const dir = join(import.meta.dirname, 'results');
mkdirSync(dir, { recursive: true });
const stamp = doc.date.replace(/[:.]/g, '-');
writeFileSync(join(dir, `live-${stamp}.json`), `${JSON.stringify(doc, null, 2)}\n`);
writeFileSync(join(dir, 'live-latest.json'), `${JSON.stringify(doc, null, 2)}\n`);
process.stdout.write(`wrote bench/results/live-${stamp}.json\n`);
