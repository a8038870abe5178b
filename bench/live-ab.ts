// `npm run bench:live:ab -- REF_A REF_B`: warm invocation latency and cold start of the live system at
// two revisions, in one run. Each revision (a git ref, or WORKTREE for the files as they are) is
// checked out under node_modules/.cache/fare-live-ab/ (sharing this checkout's node_modules) and
// started as its own `fare up`; rounds alternate between the two (each round in the other order than
// the last), so both see the same drift of this machine (±30 % within minutes). A round: `--calls`
// sequential warm invocations of an empty Node.js function (p50, p99), then one cold start per
// runtime (Node.js, Python: the first call of a new function minus a warm call of it). Prints the
// median of the rounds for each revision and the median of the rounds' ratios B/A; writes
// bench/results/live-ab-<time>.json. Beside latency, `fare up`'s own CPU time per warm call (from
// /proc): on a busy machine latency mostly measures the machine, CPU time mostly the code.
//
// Options: --rounds 7 --calls 2000.

import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { invokeOnce, percentile, type Target } from '../src/cli/loadgen.ts';
import { type BenchFare, coldStarts, cpuTicks, fareWithEmpty, TICK_US } from './fare-bench.ts';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const { values, positionals } = parseArgs({ allowPositionals: true, options: { rounds: { type: 'string', default: '7' }, calls: { type: 'string', default: '2000' } } });
if (positionals.length !== 2) {
  process.stderr.write('usage: npm run bench:live:ab -- REF_A REF_B [--rounds 7] [--calls 2000]\n  REF: a git commit, branch or tag, or WORKTREE for the files as they are now\n');
  process.exit(2);
}
const rounds = Number(values.rounds);
const calls = Number(values.calls);
if (!Number.isInteger(rounds) || rounds < 1 || !Number.isInteger(calls) || calls < 100) {
  process.stderr.write('--rounds must be a whole number ≥ 1 and --calls one ≥ 100\n');
  process.exit(2);
}

/** A checkout of `ref` with this checkout's node_modules (and its sandbox helper built, if it has one). */
function checkout(ref: string): { label: string; dir: string } {
  const git = (...args: string[]): string => execFileSync('git', args, { cwd: root, encoding: 'utf8' }).trim();
  if (ref === 'WORKTREE') return { label: `WORKTREE (${git('rev-parse', '--short', 'HEAD')}${git('status', '--porcelain', '--untracked-files=no') === '' ? '' : '+changes'})`, dir: root };
  const commit = git('rev-parse', '--verify', `${ref}^{commit}`);
  const dir = join(root, 'node_modules', '.cache', 'fare-live-ab', commit.slice(0, 12));
  if (!existsSync(join(dir, 'bin', 'fare.js'))) {
    rmSync(dir, { recursive: true, force: true });
    mkdirSync(dir, { recursive: true });
    execFileSync('sh', ['-c', `git -C "${root}" archive ${commit} | tar -x -C "${dir}"`]);
    symlinkSync(join(root, 'node_modules'), join(dir, 'node_modules'));
    if (existsSync(join(dir, 'native', 'build.js'))) execFileSync(process.execPath, [join(dir, 'native', 'build.js')], { stdio: 'inherit' });
  }
  return { label: `${ref} (${commit.slice(0, 7)})`, dir };
}

interface Side {
  readonly label: string;
  readonly bench: BenchFare;
  readonly t: Target;
  readonly p50: number[];
  readonly p99: number[];
  /** `fare up`'s own CPU time (user + system) per warm call, µs: less at the mercy of the machine's load than latency. */
  readonly cpu: number[];
  readonly coldNode: number[];
  readonly coldPython: number[];
  deployed: number;
}

async function start(c: { label: string; dir: string }): Promise<Side> {
  const bench = await fareWithEmpty({ bin: join(c.dir, 'bin', 'fare.js'), warmup: 3000 }); // the steady state: see bench/live.ts's warm-up
  return { label: c.label, bench, t: bench.t, p50: [], p99: [], cpu: [], coldNode: [], coldPython: [], deployed: 0 };
}

async function round(s: Side): Promise<void> {
  const lat: number[] = [];
  const pid = s.bench.fare.child.pid as number;
  const cpu0 = cpuTicks(pid);
  for (let i = 0; i < calls; i++) lat.push((await invokeOnce(s.t, 'empty', '{}')).ms);
  const cpu1 = cpuTicks(pid);
  s.cpu.push(((cpu1[0] - cpu0[0] + cpu1[1] - cpu0[1]) * TICK_US) / calls);
  s.p50.push(percentile(lat, 0.5));
  s.p99.push(percentile(lat, 0.99));
  const k = s.deployed++;
  const c = await coldStarts(s.t, k);
  s.coldNode.push(c.nodejs);
  s.coldPython.push(c.python);
}

const med = (xs: number[]): number => percentile(xs, 0.5);
const a = await start(checkout(positionals[0] ?? ''));
const b = await start(checkout(positionals[1] ?? ''));
try {
  for (let r = 0; r < rounds; r++) {
    for (const s of r % 2 === 0 ? [a, b] : [b, a]) await round(s);
    process.stdout.write(`round ${r + 1}/${rounds}: p50 ${a.p50.at(-1)?.toFixed(3)} vs ${b.p50.at(-1)?.toFixed(3)} ms, cold node ${a.coldNode.at(-1)?.toFixed(1)} vs ${b.coldNode.at(-1)?.toFixed(1)} ms\n`);
  }
} finally {
  await a.bench.stop();
  await b.bench.stop();
}

// The ratio is the median of the rounds' own ratios: both sides of a round share the machine's
// drift of that moment, while the medians of each side (shown beside it) may come from rounds
// minutes apart.
const roundRatio = (x: readonly number[], y: readonly number[]): number => med(y.map((v, i) => v / (x[i] as number)));
const rows = [
  ['warm p50 (ms)', med(a.p50), med(b.p50), roundRatio(a.p50, b.p50)],
  ['warm p99 (ms)', med(a.p99), med(b.p99), roundRatio(a.p99, b.p99)],
  ['fare up CPU per warm call (µs)', med(a.cpu), med(b.cpu), roundRatio(a.cpu, b.cpu)],
  ['cold start nodejs (ms)', med(a.coldNode), med(b.coldNode), roundRatio(a.coldNode, b.coldNode)],
  ['cold start python (ms)', med(a.coldPython), med(b.coldPython), roundRatio(a.coldPython, b.coldPython)],
] as const;
const line = (c: readonly (string | number)[]): string => `| ${c.map((x) => (typeof x === 'number' ? x.toFixed(3) : x)).join(' | ')} |`;
process.stdout.write(`\n${line(['median of rounds', `A: ${a.label}`, `B: ${b.label}`, 'B/A (median of the rounds\' ratios)'])}\n|---|---:|---:|---:|\n`);
for (const [what, x, y, r] of rows) process.stdout.write(`${line([what, x, y, r])}\n`);
const out = {
  kind: 'live-ab', date: new Date().toISOString(), rounds, calls, node: process.version,
  a: { label: a.label, p50: a.p50, p99: a.p99, cpuUs: a.cpu, coldNode: a.coldNode, coldPython: a.coldPython },
  b: { label: b.label, p50: b.p50, p99: b.p99, cpuUs: b.cpu, coldNode: b.coldNode, coldPython: b.coldPython },
  medians: Object.fromEntries(rows.map(([w, x, y, r]) => [w, { a: x, b: y, ratio: r, ratioOfMedians: y / x }])),
};
const resultsDir = join(root, 'bench', 'results');
mkdirSync(resultsDir, { recursive: true });
writeFileSync(join(resultsDir, `live-ab-${out.date.replace(/[:.]/g, '-')}.json`), `${JSON.stringify(out, null, 2)}\n`);
