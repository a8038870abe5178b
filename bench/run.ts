// `npm run bench`: simulator speed and memory. Each case runs in a child process (peak RSS is per
// process). Prints a table and writes bench/results/sim-<timestamp>.json and sim-latest.json.
// Then the cluster bench (cluster.ts). Targets (issue 2): Fare ≥ 1 M simulated jobs/s at paper scale; 10,000 machines × 8 cores,
// 50 M jobs in ≤ 5 min and ≤ 4 GB. `npm run bench -- --quick` runs smaller cases.

import { execFileSync } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import os from 'node:os';

const quick = process.argv.includes('--quick');
const only = process.argv.find((a) => a.startsWith('--only='))?.slice(7);
const reps = quick ? 1 : 5;

interface Case { name: string; args: string[]; reps: number }
const paperJobs = quick ? '300000' : '3000000';
const bigJobs = quick ? '2000000' : '50000000';
const midJobs = quick ? '1000000' : '5000000';
const cases: Case[] = [
  { name: 'paper/fare', args: ['fare', '100', paperJobs, '0.9'], reps },
  { name: 'paper/fare+idle-list+32GB', args: ['fare', '100', paperJobs, '0.9', 'true', '32'], reps },
  { name: 'paper/fifo', args: ['fifo', '100', paperJobs, '0.9'], reps },
  { name: 'paper/hermod', args: ['hermod', '100', paperJobs, '0.9'], reps },
  { name: 'paper/edf', args: ['edf', '100', paperJobs, '0.9'], reps },
  { name: '10k-machines/fare', args: ['fare', '10000', bigJobs, '0.9'], reps: 1 },
  { name: '10k-machines/fifo', args: ['fifo', '10000', midJobs, '0.9'], reps: 1 },
  { name: '10k-machines/hermod', args: ['hermod', '10000', midJobs, '0.9'], reps: 1 },
  { name: '10k-machines/edf', args: ['edf', '10000', midJobs, '0.9'], reps: 1 },
].filter((c) => !only || c.name.includes(only));

interface Sample { wallMs: number; jobsPerSec: number; maxRssMB: number; events: number; jobs: number }
const median = (xs: number[]): number => {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? (s[m] as number) : ((s[m - 1] as number) + (s[m] as number)) / 2;
};

const results: Record<string, unknown>[] = [];
for (const c of cases) {
  const samples: Sample[] = [];
  for (let i = 0; i < c.reps; i++) {
    const out = execFileSync(process.execPath, ['--max-old-space-size=8192', '--import', 'tsx', join(import.meta.dirname, 'sim-one.ts'), ...c.args], { encoding: 'utf8', maxBuffer: 1 << 20 });
    samples.push(JSON.parse(out.trim().split('\n').pop() as string) as Sample);
    process.stderr.write(`  ${c.name} run ${i + 1}/${c.reps}: ${(samples[i] as Sample).jobsPerSec.toFixed(0)} jobs/s\n`);
  }
  results.push({
    case: c.name,
    policy: c.args[0],
    machines: Number(c.args[1]),
    jobs: Number(c.args[2]),
    load: Number(c.args[3]),
    runs: samples.length,
    medianJobsPerSec: median(samples.map((s) => s.jobsPerSec)),
    // Every run, in order: this machine's speed drifts, and the spread says by how much.
    jobsPerSecRuns: samples.map((s) => Math.round(s.jobsPerSec)),
    medianWallS: median(samples.map((s) => s.wallMs)) / 1000,
    maxRssMB: Math.max(...samples.map((s) => s.maxRssMB)),
    eventsPerJob: (samples[0] as Sample).events / (samples[0] as Sample).jobs,
  });
}

const pad = (s: string, n: number): string => s.padStart(n);
const k = (x: number): string => `${Math.round(x / 1000).toLocaleString('en-US')}k`;
process.stdout.write(`\n${'case'.padEnd(28)}${pad('jobs', 12)}${pad('jobs/s (median)', 17)}${pad('runs min-max', 16)}${pad('wall s', 9)}${pad('peak RSS MB', 13)}\n`);
for (const r of results) {
  const runs = r.jobsPerSecRuns as number[];
  const spread = runs.length > 1 ? `${k(Math.min(...runs))}-${k(Math.max(...runs))}` : '';
  process.stdout.write(`${String(r.case).padEnd(28)}${pad(String(r.jobs), 12)}${pad(Math.round(r.medianJobsPerSec as number).toLocaleString('en-US'), 17)}${pad(spread, 16)}${pad((r.medianWallS as number).toFixed(1), 9)}${pad((r.maxRssMB as number).toFixed(0), 13)}\n`);
}
if (results.length > 0) {
  const doc = { kind: 'sim', date: new Date().toISOString(), quick, node: process.version, cpu: os.cpus()[0]?.model ?? '?', cores: os.cpus().length, results };
  const dir = join(import.meta.dirname, 'results');
  mkdirSync(dir, { recursive: true });
  const stamp = doc.date.replace(/[:.]/g, '-');
  writeFileSync(join(dir, `sim-${stamp}.json`), `${JSON.stringify(doc, null, 2)}\n`);
  writeFileSync(join(dir, 'sim-latest.json'), `${JSON.stringify(doc, null, 2)}\n`);
  process.stdout.write(`\nwrote bench/results/sim-${stamp}.json\n`);
}

// The cluster's control plane (issue 13) is part of `npm run bench` too: bench/cluster.ts, its own table and JSON.
if (!only || 'cluster'.includes(only)) {
  process.stdout.write('\nthe cluster (bench/cluster.ts):\n');
  execFileSync(process.execPath, ['--import', 'tsx', join(import.meta.dirname, 'cluster.ts'), ...(quick ? ['--quick'] : [])], { stdio: 'inherit' });
}
