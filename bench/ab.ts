// `npm run bench:ab -- REF_A REF_B`: is the simulator faster at one revision than at another? Each
// revision (a git ref, or `WORKTREE` for the files as they are) is compiled into
// node_modules/.cache/fare-ab/, both are loaded into this one process, and runs of the same case
// alternate between them, each pair in the other order than the last. This VM's speed drifts by a
// third within minutes, so two processes run one after the other can differ by 1.3x with the same
// code; pairs a second apart in one process share most of the drift. Single pairs still range widely:
// read the median ratio B/A of jobs per CPU-second over 30 pairs. The same code compiled twice (HEAD
// against an unchanged WORKTREE) gave 0.96: differences under 5% are noise. Writes
// bench/results/ab-<time>.json.
//
// Options: --pairs 30 --jobs 400000 --machines 100 --policy fare --load 0.9 --seed 1 [--within fcfs]
// [--idle-list] [--memory-gb 32] (issue 14's case, `paper/fare+idle-list+32GB` of `npm run bench`: the
// shards' idle lists, and machines of that much memory with swapping; default: neither).
// At 10,000 machines a run leaves hundreds of MB of garbage that the next run's GC may collect:
// use separate processes (`sim-one.ts`) for that size.
//
// `--processes`: each run in a fresh process instead (A and B alternating, each pair in the other
// order than the last; a process warms up with two runs of the case, then measures a third). Two
// builds in one process share its JIT's state, and one can be favoured for the whole process:
// identical code measured 0.93 and 1.01 in two one-process runs of 20 pairs. Fresh processes cost
// a start-up each (about a second) but carry no such bias; `--predictable` (with it) runs them with
// V8's --predictable (no concurrent compilation or GC: slower, but a run's speed varies by ±1 %
// instead of ±5 %).

import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');

const { values, positionals } = parseArgs({
  allowPositionals: true,
  options: {
    pairs: { type: 'string', default: '30' },
    jobs: { type: 'string', default: '400000' },
    machines: { type: 'string', default: '100' },
    policy: { type: 'string', default: 'fare' },
    load: { type: 'string', default: '0.9' },
    seed: { type: 'string', default: '1' },
    within: { type: 'string' },
    'idle-list': { type: 'boolean', default: false },
    'memory-gb': { type: 'string' },
    processes: { type: 'boolean', default: false },
    predictable: { type: 'boolean', default: false },
    // Internal: one measured run of the case at a compiled revision, in this process (see --processes).
    one: { type: 'string' },
  },
});
if (values.one === undefined && positionals.length !== 2) {
  process.stderr.write('usage: npm run bench:ab -- REF_A REF_B [--pairs 30] [--jobs 400000] [--machines 100] [--policy fare] [--load 0.9] [--within fcfs] [--idle-list] [--memory-gb 32] [--processes [--predictable]]\n  REF: a git commit, branch or tag, or WORKTREE for the files as they are now\n');
  process.exit(2);
}
if (values.predictable && !values.processes) {
  process.stderr.write('--predictable applies to --processes only: add --processes\n');
  process.exit(2);
}
const number = (name: string, text: string, min: number): number => {
  const n = Number(text);
  if (!Number.isFinite(n) || n < min) {
    process.stderr.write(`--${name} must be a number ≥ ${min}, got ${JSON.stringify(text)}\n`);
    process.exit(2);
  }
  return n;
};
const pairs = Math.round(number('pairs', values.pairs, 1));
const jobs = Math.round(number('jobs', values.jobs, 1000));
const machines = Math.round(number('machines', values.machines, 1));
const load = number('load', values.load, 0.01);
const seed = Math.round(number('seed', values.seed, 0));
const policy = values.policy;
const idleList = values['idle-list'];
const memoryMB = values['memory-gb'] === undefined ? Infinity : number('memory-gb', values['memory-gb'], 0.001) * 1024;
// Fare's order within a class (fcfs, las, …): the same at both revisions, so that a revision whose
// default differs is compared on the same policy. A revision from before the choice existed ignores it
// (it ran FCFS within a class).
const within = values.within;
if (!['fare', 'fifo', 'hermod', 'edf'].includes(policy)) {
  process.stderr.write(`--policy must be fare, fifo, hermod or edf, got ${JSON.stringify(policy)}\n`);
  process.exit(2);
}

/** Compiles `ref`'s src/ into node_modules/.cache/fare-ab/<commit>/ (kept for next time); returns the output folder. */
function build(ref: string): { label: string; dir: string } {
  const git = (...args: string[]): string => execFileSync('git', args, { cwd: root, encoding: 'utf8' }).trim();
  const worktree = ref === 'WORKTREE';
  let sha = '';
  if (!worktree) {
    try {
      sha = git('rev-parse', '--verify', `${ref}^{commit}`);
    } catch {
      process.stderr.write(`${ref} is not a commit in this repository: give a commit, branch or tag, or WORKTREE\n`);
      process.exit(2);
    }
  }
  // Under the checkout's node_modules: the compiled files find its packages, and no type check, lint
  // or test run of the checkout looks there.
  // A WORKTREE build is this checkout's own: git worktrees may share one node_modules (a symlink),
  // and one checkout's build must not replace another's while it compiles or loads.
  const base = join(root, 'node_modules', '.cache', 'fare-ab', worktree ? `worktree-${createHash('sha256').update(root).digest('hex').slice(0, 12)}` : sha);
  const out = join(base, 'dist');
  if (!worktree && existsSync(join(out, 'sim', 'engine.js'))) return { label: `${ref} (${sha.slice(0, 7)})`, dir: out };
  rmSync(base, { recursive: true, force: true });
  const tree = worktree ? root : join(base, 'tree');
  if (!worktree) {
    mkdirSync(tree, { recursive: true });
    execFileSync('sh', ['-c', `git archive ${sha} src tsconfig.json tsconfig.build.json | tar -x -C "${tree}"`], { cwd: root, stdio: 'inherit' });
  }
  process.stderr.write(`compiling ${ref}…\n`);
  execFileSync(join(root, 'node_modules', '.bin', 'tsc'), ['-p', join(tree, 'tsconfig.build.json'), '--outDir', out], { cwd: tree, stdio: 'inherit' });
  return { label: worktree ? 'WORKTREE' : `${ref} (${sha.slice(0, 7)})`, dir: out };
}

type Run = (jobs: number) => number;

/** Runs of the case each build makes before one is measured (compilation, inline caches, the heap's working size). */
const WARM_UP_RUNS = 2;

/** One simulator run of the case at a compiled revision: jobs per CPU-second. */
async function loadBuild(dir: string): Promise<Run> {
  const at = (p: string): string => pathToFileURL(join(dir, p)).href;
  const { Rng } = (await import(at('core/rng.js'))) as typeof import('../src/core/rng.ts');
  const { DEFAULT_PRICE_TABLE } = (await import(at('core/classes.js'))) as typeof import('../src/core/classes.ts');
  const { Simulation } = (await import(at('sim/engine.js'))) as typeof import('../src/sim/engine.ts');
  const { DEFAULT_CLUSTER } = (await import(at('sim/experiment.js'))) as typeof import('../src/sim/experiment.ts');
  const wl = (await import(at('sim/workload/index.js'))) as typeof import('../src/sim/workload/index.ts');
  return (n: number): number => {
    const cluster = { ...DEFAULT_CLUSTER, machines, shards: Math.max(4, Math.round(machines / 250)), idleList, memoryMB };
    const w = wl.validateWorkload({ kind: 'synthetic', jobs: n, load }, DEFAULT_PRICE_TABLE);
    if (!w.ok) throw new Error(w.error);
    const source = wl.makeJobSource(w.value, DEFAULT_PRICE_TABLE, cluster.machines * cluster.cores, new Rng(seed, `workload/load=${load}`));
    const span = source.info.spanMs;
    const sim = new Simulation({
      cluster, policy: { name: policy, kind: policy as 'fare', ...(within !== undefined ? { within: within as 'fcfs' } : {}) }, prices: DEFAULT_PRICE_TABLE, seed,
      measureFrom: span * 0.1, measureTo: span, horizon: span * 1.25, samples: 20,
    }, source);
    const c0 = process.cpuUsage();
    sim.run();
    const c = process.cpuUsage(c0);
    return n / ((c.user + c.system) / 1e6);
  };
}

if (values.one !== undefined) {
  // A child of `--processes`: warm up, then one measured run; prints jobs per CPU-second.
  const run = await loadBuild(values.one);
  // Warmed up as the one-process mode is: a shorter warm-up left the JIT's work inside the measured
  // run, and at 400,000 jobs that was a tenth of it.
  for (let i = 0; i < WARM_UP_RUNS; i++) run(jobs);
  process.stdout.write(`${run(jobs)}\n`);
  process.exit(0);
}

/** One run of the case at the build in `dir`, in a fresh process (`--processes`). */
function runInProcess(dir: string): number {
  const args = [...process.execArgv, ...(values.predictable ? ['--predictable'] : []), fileURLToPath(import.meta.url), '--one', dir,
    '--jobs', String(jobs), '--machines', String(machines), '--policy', policy, '--load', String(load), '--seed', String(seed),
    ...(within !== undefined ? ['--within', within] : []), ...(idleList ? ['--idle-list'] : []), ...(values['memory-gb'] !== undefined ? ['--memory-gb', values['memory-gb']] : [])];
  const out = execFileSync(process.execPath, args, { cwd: root, encoding: 'utf8' }).trim();
  const n = Number(out);
  if (!(n > 0)) throw new Error(`a run at ${dir} printed ${JSON.stringify(out)}, not a speed`);
  return n;
}

const [refA, refB] = positionals as [string, string];
const A = build(refA), B = build(refB);
if (A.dir === B.dir) {
  process.stderr.write(`${refA} and ${refB} are the same commit: one build would be compared with itself. To see the noise, compare a commit with an unchanged WORKTREE.\n`);
  process.exit(2);
}
const processes = values.processes;
let runA: Run, runB: Run;
if (processes) {
  runA = () => runInProcess(A.dir);
  runB = () => runInProcess(B.dir);
} else {
  runA = await loadBuild(A.dir);
  runB = await loadBuild(B.dir);
  // Warm both up before anything is measured: compilation, inline caches, and the heap growing to its
  // working size (the first pairs of a cold process drift by 10-20%).
  for (let i = 0; i < WARM_UP_RUNS; i++) {
    runA(jobs);
    runB(jobs);
  }
}

const median = (xs: number[]): number => [...xs].sort((x, y) => x - y)[xs.length >> 1] as number;
const rows: { a: number; b: number; ratio: number }[] = [];
const mode = processes ? (values.predictable ? 'a fresh process per run, V8 --predictable' : 'a fresh process per run') : 'one process';
process.stdout.write(`A = ${A.label}, B = ${B.label}: ${policy}${within !== undefined ? ` (${within} within a class)` : ''}${idleList ? ', idle lists' : ''}${Number.isFinite(memoryMB) ? `, ${memoryMB / 1024} GB machines` : ''}, ${machines} machines, ${jobs} jobs per run, load ${load}; ${mode}\n`);
for (let i = 0; i < pairs; i++) {
  let a: number, b: number;
  if (i % 2 === 0) {
    a = runA(jobs);
    b = runB(jobs);
  } else {
    b = runB(jobs);
    a = runA(jobs);
  }
  rows.push({ a, b, ratio: b / a });
  process.stdout.write(`pair ${String(i + 1).padStart(3)}  A ${Math.round(a).toLocaleString('en-US').padStart(10)}  B ${Math.round(b).toLocaleString('en-US').padStart(10)}  B/A ${(b / a).toFixed(3)}\n`);
}
const summary = {
  a: A.label, b: B.label, mode, policy, ...(within !== undefined ? { within } : {}), idleList, ...(Number.isFinite(memoryMB) ? { memoryGB: memoryMB / 1024 } : {}), machines, jobs, load, seed, pairs,
  medianA: median(rows.map((r) => r.a)), medianB: median(rows.map((r) => r.b)), medianRatio: median(rows.map((r) => r.ratio)),
  rows,
};
process.stdout.write(`median jobs per CPU-second: A ${Math.round(summary.medianA).toLocaleString('en-US')}, B ${Math.round(summary.medianB).toLocaleString('en-US')}; median B/A ${summary.medianRatio.toFixed(3)}\n`);
const dir = join(root, 'bench', 'results');
mkdirSync(dir, { recursive: true });
const file = join(dir, `ab-${new Date().toISOString().replace(/[:.]/g, '-')}.json`);
writeFileSync(file, `${JSON.stringify(summary, null, 2)}\n`);
process.stdout.write(`wrote ${file}\n`);
