// `node --import tsx bench/cold-start.ts [--rounds 20] [--gap-ms 1500]`: cold starts of this checkout
// with stem cells and without (`fare up --no-stem-cells`), in one run. Two `fare up`s side by side;
// each round deploys a new empty Node.js and Python function on each and calls each twice (cold start
// = the first call minus the second, as bench/live.ts and live-ab.ts measure it), alternating which
// side goes first. Between rounds it waits `--gap-ms`, the time a machine with sparse cold starts
// gives its stem cells to refill. Prints p50 and p99 (nearest rank) per runtime and side; writes
// bench/results/cold-start-<time>.json.

import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { invokeOnce, percentile, type Target } from '../src/cli/loadgen.ts';
import { ADMIN_KEY, startFare, stopFare, type FareProcess } from '../support/fare-process.ts';
import { coldStarts, deployFunction } from './fare-bench.ts';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const { values } = parseArgs({ options: { rounds: { type: 'string', default: '20' }, 'gap-ms': { type: 'string', default: '1500' } } });
const rounds = Number(values.rounds);
const gapMs = Number(values['gap-ms']);

interface Side {
  readonly label: string;
  readonly fare: FareProcess;
  readonly dataDir: string;
  readonly t: Target;
  readonly node: number[];
  readonly python: number[];
}

async function start(label: string, args: readonly string[]): Promise<Side> {
  const dataDir = mkdtempSync(join(tmpdir(), 'fare-cold-'));
  const fare = await startFare(dataDir, ['--no-examples', ...args]);
  const t: Target = { url: fare.url, key: ADMIN_KEY };
  // Warm Fare's own path first (its JIT, the first deploy), as fareWithEmpty does.
  await deployFunction(fare.url, 'empty', 'nodejs', 'index.handler', { 'index.mjs': 'export const handler = async () => null;\n' });
  for (let i = 0; i < 200; i++) await invokeOnce(t, 'empty', '{}');
  return { label, fare, dataDir, t, node: [], python: [] };
}

async function round(s: Side, k: number): Promise<void> {
  const c = await coldStarts(s.t, k);
  s.node.push(c.nodejs);
  s.python.push(c.python);
}

const stem = await start('stem cells', []);
const plain = await start('--no-stem-cells', ['--no-stem-cells']);
try {
  for (let r = 0; r < rounds; r++) {
    for (const s of r % 2 === 0 ? [stem, plain] : [plain, stem]) await round(s, r);
    process.stdout.write(`round ${r + 1}/${rounds}: node ${stem.node.at(-1)?.toFixed(1)} vs ${plain.node.at(-1)?.toFixed(1)} ms, python ${stem.python.at(-1)?.toFixed(1)} vs ${plain.python.at(-1)?.toFixed(1)} ms\n`);
    await new Promise((r) => setTimeout(r, gapMs));
  }
} finally {
  for (const s of [stem, plain]) {
    await stopFare(s.fare);
    rmSync(s.dataDir, { recursive: true, force: true });
  }
}

const rows = [stem, plain].flatMap((s) => (['node', 'python'] as const).map((rt) => ({ side: s.label, runtime: rt, p50: percentile(s[rt], 0.5), p99: percentile(s[rt], 0.99), samples: s[rt] })));
process.stdout.write(`\n| side | runtime | p50 (ms) | p99 (ms) |\n|---|---|---:|---:|\n`);
for (const r of rows) process.stdout.write(`| ${r.side} | ${r.runtime} | ${r.p50.toFixed(1)} | ${r.p99.toFixed(1)} |\n`);
const out = { kind: 'cold-start', date: new Date().toISOString(), rounds, gapMs, node: process.version, rows };
mkdirSync(join(root, 'bench', 'results'), { recursive: true });
writeFileSync(join(root, 'bench', 'results', `cold-start-${out.date.replace(/[:.]/g, '-')}.json`), `${JSON.stringify(out, null, 2)}\n`);
