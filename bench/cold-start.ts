// `node --import tsx bench/cold-start.ts [--rounds 20] [--gap-ms 1500]`: cold starts of this checkout
// with stem cells and without (`fare up --no-stem-cells`), in one run. Two `fare up`s side by side;
// each round deploys a new empty Node.js and Python function on each and calls each twice (cold start
// = the first call minus the second, as bench/live.ts and live-ab.ts measure it), alternating which
// side goes first. Between rounds it waits `--gap-ms`, the time a machine with sparse cold starts
// gives its stem cells to refill. Prints p50 and p99 (nearest rank) per runtime and side; writes
// bench/results/cold-start-<time>.json.

import { mkdirSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { coldStartComparison } from './fare-bench.ts';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const { values } = parseArgs({ options: { rounds: { type: 'string', default: '20' }, 'gap-ms': { type: 'string', default: '1500' } } });
const rounds = Number(values.rounds);
const gapMs = Number(values['gap-ms']);

const rows = await coldStartComparison(rounds, gapMs, (line) => process.stdout.write(`${line}\n`));
process.stdout.write(`\n| side | runtime | p50 (ms) | p99 (ms) |\n|---|---|---:|---:|\n`);
for (const r of rows) process.stdout.write(`| ${r.side} | ${r.runtime} | ${r.p50.toFixed(1)} | ${r.p99.toFixed(1)} |\n`);
const out = { kind: 'cold-start', date: new Date().toISOString(), rounds, gapMs, node: process.version, rows };
mkdirSync(join(root, 'bench', 'results'), { recursive: true });
writeFileSync(join(root, 'bench', 'results', `cold-start-${out.date.replace(/[:.]/g, '-')}.json`), `${JSON.stringify(out, null, 2)}\n`);
