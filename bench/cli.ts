// `npm run bench:cli`: how long the `fare` command takes to start and finish, as a user runs it —
// `fare --help`, `fare --version`, `fare sim --help`, `fare init` (a local command that writes files)
// and `fare ls` against a port where nothing listens (a client command that fails at once). Each is
// run N times (-- --runs N, default 20) as a new process, through bin/fare.js as it is (the compiled
// dist/, after its freshness check) and through the TypeScript sources with tsx (what a checkout whose
// sources changed since the build runs, and what every call ran before dist/), runs interleaved so the
// machine's drift falls on both alike. Beside them: `node` running nothing (the floor) and the
// freshness check alone. Prints a table (median, p90); writes bench/results/cli-<time>.json and
// cli-latest.json. Builds dist/ first when it is stale.

import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { availableParallelism, cpus, tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { percentile } from '../src/cli/loadgen.ts';

const root = join(import.meta.dirname, '..');
const quick = process.argv.includes('--quick');
const runsArg = process.argv.indexOf('--runs');
const runs = runsArg > 0 ? Number(process.argv[runsArg + 1]) : quick ? 5 : 20;
if (!Number.isInteger(runs) || runs < 1) throw new Error('--runs N: a whole number ≥ 1');

const staleness = (): string | null => {
  const r = spawnSync(process.execPath, ['--input-type=module', '-e', `const { staleness } = await import(${JSON.stringify(pathToFileURL(join(root, 'bin', 'build-state.js')).href)}); process.stdout.write(JSON.stringify(staleness(${JSON.stringify(root)})));`], { encoding: 'utf8' });
  return JSON.parse(r.stdout) as string | null;
};
const staleBefore = staleness();
if (staleBefore !== null) {
  process.stdout.write(`dist/ is stale (${staleBefore}): building it first\n`);
  const b = spawnSync(process.execPath, [join(root, 'bin', 'build.js')], { stdio: 'inherit' });
  if (b.status !== 0) throw new Error('npm run build failed');
}

/** A port where nothing listens: one the kernel gave us, closed again. */
const closedPort = await new Promise<number>((done) => {
  const s = createServer().listen(0, '127.0.0.1', () => {
    const a = s.address();
    s.close(() => done(typeof a === 'object' && a !== null ? a.port : 1));
  });
});
const work = mkdtempSync(join(tmpdir(), 'fare-bench-cli-'));
const env = { ...process.env, FARE_ENDPOINT: `http://127.0.0.1:${closedPort}`, FARE_KEY: 'BENCHKEY:secret' };

interface Case {
  readonly name: string;
  readonly args: () => string[];
  /** The exit status it must end with. */
  readonly exit: number;
}
let inits = 0;
const CASES: readonly Case[] = [
  { name: 'fare --help', args: () => ['--help'], exit: 0 },
  { name: 'fare --version', args: () => ['--version'], exit: 0 },
  { name: 'fare sim --help', args: () => ['sim', '--help'], exit: 0 },
  { name: 'fare init DIR', args: () => ['init', join(work, `fn-${inits++}`)], exit: 0 },
  { name: 'fare ls (Fare not running)', args: () => ['ls'], exit: 2 },
];

const tsxRunner = `const { register } = await import('tsx/esm/api'); register(); await (await import(${JSON.stringify(pathToFileURL(join(root, 'src', 'cli', 'main.ts')).href)})).run(process.argv.slice(1));`;
const MODES: Readonly<Record<string, (args: string[]) => string[]>> = {
  compiled: (args) => [join(root, 'bin', 'fare.js'), ...args],
  tsx: (args) => ['--input-type=module', '-e', tsxRunner, '--', ...args],
};

function timed(argv: readonly string[], expect: number | null, what: string): number {
  const t0 = performance.now();
  const r = spawnSync(process.execPath, argv, { cwd: root, env, encoding: 'utf8' });
  const ms = performance.now() - t0;
  if (expect !== null && r.status !== expect) throw new Error(`${what} exited ${String(r.status)}, not ${expect}:\n${r.stderr}`);
  if (what.includes('compiled') && r.stderr.includes('through tsx')) throw new Error(`${what} ran the sources, not dist/: ${r.stderr}`);
  return ms;
}

const times = new Map<string, number[]>();
const add = (key: string, ms: number): void => {
  times.set(key, [...(times.get(key) ?? []), ms]);
};
const checkScript = `const t0 = performance.now(); const { staleness } = await import(${JSON.stringify(pathToFileURL(join(root, 'bin', 'build-state.js')).href)}); const t1 = performance.now(); staleness(${JSON.stringify(root)}); process.stdout.write(String(performance.now() - t1));`;
const checkMs: number[] = [];
try {
  for (let i = 0; i < runs; i++) {
    add('node (nothing)', timed(['-e', '0'], 0, 'node'));
    for (const c of CASES) {
      for (const [mode, argv] of Object.entries(MODES)) add(`${c.name}\t${mode}`, timed(argv(c.args()), c.exit, `${c.name} (${mode})`));
    }
    checkMs.push(Number(spawnSync(process.execPath, ['--input-type=module', '-e', checkScript], { encoding: 'utf8' }).stdout));
  }
} finally {
  rmSync(work, { recursive: true, force: true });
}

const stat = (xs: readonly number[]): { medianMs: number; p90Ms: number; minMs: number; maxMs: number } => ({
  medianMs: percentile(xs, 0.5), p90Ms: percentile(xs, 0.9), minMs: Math.min(...xs), maxMs: Math.max(...xs),
});
const floor = stat(times.get('node (nothing)') ?? []);
const results = CASES.map((c) => ({
  command: c.name,
  compiled: stat(times.get(`${c.name}\tcompiled`) ?? []),
  tsx: stat(times.get(`${c.name}\ttsx`) ?? []),
}));
const check = stat(checkMs);
const staleAfter = staleness();

const f = (x: number): string => x.toFixed(0).padStart(5);
const rows = results.map((r) => `${r.command.padEnd(28)}${f(r.compiled.medianMs)} ${f(r.compiled.p90Ms)}   ${f(r.tsx.medianMs)} ${f(r.tsx.p90Ms)}`);
process.stdout.write(`
fare start-up, ${runs} runs each, ms (wall time of the whole process), ${availableParallelism()} cores, node ${process.version}${process.env.NODE_EXTRA_CA_CERTS ? ', NODE_EXTRA_CA_CERTS set (node reads those certificates at every start)' : ''}
                            compiled (dist/)   sources (tsx)
command                     median   p90      median   p90
${rows.join('\n')}
${'node running nothing'.padEnd(28)}${f(floor.medianMs)} ${f(floor.p90Ms)}
freshness check of dist/ (in the compiled runs): median ${check.medianMs.toFixed(2)} ms, p90 ${check.p90Ms.toFixed(2)} ms
target: ≤ 150 ms median for --help, --version and local commands${staleAfter !== null ? `\nnote: src/ changed during the run (${staleAfter})` : ''}
`);
const doc = {
  kind: 'cli', date: new Date().toISOString(), quick, runs, node: process.version, cpu: cpus()[0]?.model ?? '?', cores: availableParallelism(),
  nodeExtraCaCerts: process.env.NODE_EXTRA_CA_CERTS !== undefined, builtFirst: staleBefore !== null, staleAfter,
  results: { nodeNothing: floor, freshnessCheck: check, commands: results },
};
const dir = join(import.meta.dirname, 'results');
mkdirSync(dir, { recursive: true });
const stamp = doc.date.replace(/[:.]/g, '-');
writeFileSync(join(dir, `cli-${stamp}.json`), `${JSON.stringify(doc, null, 2)}\n`);
writeFileSync(join(dir, 'cli-latest.json'), `${JSON.stringify(doc, null, 2)}\n`);
process.stdout.write(`wrote bench/results/cli-${stamp}.json\n`);
