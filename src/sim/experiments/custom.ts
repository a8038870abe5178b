// `fare sim run CONFIG`: runs any experiment and writes the latency report for every policy, plus the
// memory report for each policy that ran with limited memory, and a summary.

import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { runExperiment, type ExperimentRun, type ExperimentSpec, type Progress } from '../experiment.ts';
import { LATENCY_COLUMNS, latencyRows, mdTable, unstableLines, writeLatencyReport } from './latency-report.ts';
import { toCsv } from '../report/csv.ts';
import { writeMemoryReport } from './fig5.ts';

import { formatNumber } from '../report/number-format.ts';

export function runCustom(spec: ExperimentSpec, dir: string, progress?: Progress): string[] {
  const runs = runExperiment(spec, progress);
  // More seeds: the same experiment again with seed + 1, …; the report below is the first seed's,
  // and every seed's rows, with intervals over the seeds, are added.
  const extra: ExperimentRun[][] = [];
  for (let i = 1; i < (spec.seeds ?? 1); i++) extra.push(runExperiment({ ...spec, seed: spec.seed + i }, progress));
  const files = writeLatencyReport(dir, spec.name, runs, spec.name);
  if (Number.isFinite(spec.cluster.memoryMB)) {
    for (const p of spec.policies) {
      if (p.kind === 'edf') continue;
      files.push(...writeMemoryReport(dir, `${spec.name}-${p.name}-machines`, spec, runs.filter((r) => r.result.policy === p.name), `${spec.name} (${p.name})`));
    }
  }
  const rows = latencyRows(runs);
  const f = (x: string | number): string => (typeof x === 'number' ? formatNumber(x, 3) : x === '' ? '–' : x);
  const lines = [
    `# ${spec.name}`, '',
    `${spec.cluster.machines} machines × ${spec.cluster.cores} cores, ${Number.isFinite(spec.cluster.memoryMB) ? `${formatNumber(spec.cluster.memoryMB / 1024, 4)} GB` : 'unlimited memory'}, ` +
      `${spec.cluster.shards} shards, k = ${spec.cluster.k}, idle list ${spec.cluster.idleList ? 'on' : 'off'}; seed ${spec.seed}.`, '',
    // A column of refused jobs where functions have concurrency limits.
    ...(spec.cluster.concurrencyLimits !== undefined
      ? [mdTable(['policy', 'load', 'class', 'jobs', 'completed', 'refused', 'p50 ms', 'p99 ms', 'p99.9 ms', 'p99 wait ms', 'p99 slowdown', 'p99.9 slowdown', 'util'],
        rows.map((r) => [f(r.policy), f(r.load), f(r.class), f(r.jobs), f(r.completed), f(r.refused), f(r.p50_ms), f(r.p99_ms), f(r.p999_ms), f(r.p99_wait_ms), f(r.p99_slowdown), f(r.p999_slowdown), f(r.util_mean)]))]
      : [mdTable(['policy', 'load', 'class', 'jobs', 'completed', 'p50 ms', 'p99 ms', 'p99.9 ms', 'p99 wait ms', 'p99 slowdown', 'p99.9 slowdown', 'util'],
        rows.map((r) => [f(r.policy), f(r.load), f(r.class), f(r.jobs), f(r.completed), f(r.p50_ms), f(r.p99_ms), f(r.p999_ms), f(r.p99_wait_ms), f(r.p99_slowdown), f(r.p999_slowdown), f(r.util_mean)]))]),
    '',
    'Wait: response − runtime, the time a job was not served (queued, preempted, waiting for its memory; under processor sharing, also slowed by sharing). Slowdown: response ÷ runtime, every runtime at least the workload\'s floor (1 ms for the traces).',
    '',
    ...unstableLines(runs),
    ...classShareLines(spec, runs),
  ];
  if (extra.length > 0) {
    const all = [runs, ...extra];
    const seedRows = all.flatMap((rs, i) => latencyRows(rs).map((r) => ({ seed: spec.seed + i, ...r })));
    writeFileSync(join(dir, `${spec.name}-seeds.csv`), toCsv(['seed', ...LATENCY_COLUMNS], seedRows));
    files.push(`${spec.name}-seeds.csv`);
    lines.push(...seedLines(spec, all));
  }
  writeFileSync(join(dir, 'summary.md'), lines.join('\n'));
  files.push('summary.md');
  return files;
}

/** Student's t quantile t(0.975, df) for df = 1…30; above, the normal's 1.96 is within 2 %. */
const T975 = [12.706, 4.303, 3.182, 2.776, 2.571, 2.447, 2.365, 2.306, 2.262, 2.228, 2.201, 2.179, 2.16, 2.145, 2.131, 2.12, 2.11, 2.101, 2.093, 2.086, 2.08, 2.074, 2.069, 2.064, 2.06, 2.056, 2.052, 2.048, 2.045, 2.042];

/** Mean and half-width of the 95 % confidence interval of the mean of `xs` (t interval; NaN half-width for one value). */
export function meanCi95(xs: readonly number[]): { mean: number; half: number } {
  const n = xs.length;
  const mean = xs.reduce((a, b) => a + b, 0) / n;
  if (n < 2) return { mean, half: NaN };
  const sd = Math.sqrt(xs.reduce((a, b) => a + (b - mean) ** 2, 0) / (n - 1));
  return { mean, half: (T975[n - 2] ?? 1.96) * (sd / Math.sqrt(n)) };
}

/** The summary's table over seeds: per policy, load and class, p99 latency, p99 wait and p99 slowdown as mean ± 95 % interval. */
function seedLines(spec: ExperimentSpec, all: readonly (readonly ExperimentRun[])[]): string[] {
  const f = (x: number): string => formatNumber(x, 3);
  const ci = (xs: number[]): string => {
    if (xs.length === 0) return '–';
    const { mean, half } = meanCi95(xs);
    return Number.isFinite(half) ? `${f(mean)} ± ${f(half)}` : f(mean);
  };
  const perSeed = all.map((rs) => latencyRows(rs));
  const first = perSeed[0] ?? [];
  const rows = first.map((r) => {
    const same = perSeed.map((rows) => rows.find((x) => x.policy === r.policy && x.load === r.load && x.class === r.class));
    const vals = (k: 'p99_ms' | 'p99_wait_ms' | 'p99_slowdown'): number[] => same.map((x) => x?.[k]).filter((v): v is number => typeof v === 'number');
    return [String(r.policy), f(r.load as number), String(r.class), ci(vals('p99_ms')), ci(vals('p99_wait_ms')), ci(vals('p99_slowdown')), String(vals('p99_slowdown').length)];
  });
  return [
    `Over ${all.length} seeds (${spec.seed} to ${spec.seed + all.length - 1}; every seed draws its own jobs and class assignment): mean ± half-width of the 95 % confidence interval (Student's t) of each figure's per-seed value. Every seed's rows: ${spec.name}-seeds.csv.`, '',
    mdTable(['policy', 'load', 'class', 'p99 ms', 'p99 wait ms', 'p99 slowdown', 'seeds with completions'], rows), '',
  ];
}

/** What each class's share of the work was, per load (the workload's own figures), and how a trace's classes were assigned. */
function classShareLines(spec: ExperimentSpec, runs: readonly ExperimentRun[]): string[] {
  const names = spec.prices.classes.map((c) => c.name);
  const pct = (x: number | undefined): string => (x === undefined ? '–' : `${formatNumber(x * 100, 3)}%`);
  const seen = new Set<number>();
  const rows: string[][] = [];
  for (const r of runs) {
    if (seen.has(r.load)) continue;
    seen.add(r.load);
    names.forEach((name, c) => rows.push([formatNumber(r.load, 3), name, pct(r.source.classShares[c]), pct(r.source.cpuShares?.[c]), pct(r.source.assignment?.targets[c])]));
  }
  const a = runs[0]?.source.assignment;
  return [
    'Classes: each class\'s share of the invocations and of the CPU work replayed, and its target.' +
      (a ? ` Classes were assigned by ${a.by}, to meet the targets over the whole trace (missed by at most ${pct(a.worst)}), from the seed alone: the same at every load.` : ''), '',
    mdTable(['load', 'class', 'share of invocations', 'share of CPU work', 'target'], rows), '',
  ];
}
