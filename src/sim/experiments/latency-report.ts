// Latency report of an experiment (the shape of the paper's Figure 4): one CSV row per
// (policy, load, class), tail latency per class across loads, compute utilization across loads.

import { join } from 'node:path';
import type { ExperimentRun } from '../experiment.ts';
import { toCsv } from '../report/csv.ts';
import { boxPlot, boxStats, lineChart, writeChart, type LineSeries, type WrittenChart } from '../report/charts.ts';
import { formatNumber } from '../report/number-format.ts';
import { writeFileSync } from 'node:fs';
import { markdownTable } from '../report/markdown.ts';

export const LATENCY_COLUMNS = [
  'policy', 'load', 'class', 'price', 'jobs', 'completed', 'completed_frac',
  'p50_ms', 'p90_ms', 'p99_ms', 'p999_ms', 'mean_ms',
  'mean_slowdown', 'p50_slowdown', 'p99_slowdown', 'util_mean',
  'p999_slowdown', 'mean_wait_ms', 'p50_wait_ms', 'p99_wait_ms', 'p999_wait_ms',
  'backlog_growth_per_s', 'stable', 'refused',
] as const;

export type LatencyRow = Record<(typeof LATENCY_COLUMNS)[number], string | number>;

const q = (n: number): number => (Number.isFinite(n) ? Number(n.toPrecision(6)) : n);

/**
 * A run is stable when its offered load is under 1. At load ≥ 1 the queue grows for as long as the run
 * lasts: its latencies say how long the run was, not how the policy serves; its backlog's growth rate
 * is the number to read.
 */
export function stable(run: ExperimentRun): boolean {
  return run.load < 1;
}

/** Mean utilization over machines and windows of one run. */
export function utilMean(run: ExperimentRun): number {
  let s = 0;
  let n = 0;
  for (const w of run.result.utilization) for (const u of w) { s += u; n++; }
  return n ? s / n : 0;
}

export function latencyRows(runs: readonly ExperimentRun[]): LatencyRow[] {
  const rows: LatencyRow[] = [];
  for (const run of runs) {
    const util = utilMean(run);
    for (const c of run.result.classes) {
      const has = c.completed > 0;
      rows.push({
        policy: run.result.policy,
        load: run.load,
        class: c.name,
        price: c.price,
        jobs: c.jobs,
        completed: c.completed,
        completed_frac: c.jobs ? q(c.completed / c.jobs) : 0,
        p50_ms: has ? q(c.response.quantile(0.5)) : '',
        p90_ms: has ? q(c.response.quantile(0.9)) : '',
        p99_ms: has ? q(c.response.quantile(0.99)) : '',
        p999_ms: has ? q(c.response.quantile(0.999)) : '',
        mean_ms: has ? q(c.response.mean) : '',
        mean_slowdown: has ? q(c.slowdown.mean) : '',
        p50_slowdown: has ? q(c.slowdown.quantile(0.5)) : '',
        p99_slowdown: has ? q(c.slowdown.quantile(0.99)) : '',
        util_mean: q(util),
        p999_slowdown: has ? q(c.slowdown.quantile(0.999)) : '',
        mean_wait_ms: has ? q(c.wait.mean) : '',
        p50_wait_ms: has ? q(c.wait.quantile(0.5)) : '',
        p99_wait_ms: has ? q(c.wait.quantile(0.99)) : '',
        p999_wait_ms: has ? q(c.wait.quantile(0.999)) : '',
        backlog_growth_per_s: q(run.result.backlog.growthPerS),
        stable: stable(run) ? 'yes' : 'no',
        // Refused for their function's concurrency limit (cluster.concurrencyLimits): never run.
        refused: c.refused,
      });
    }
  }
  return rows;
}

/** The two files a chart was written to. */
export function chartFiles(w: WrittenChart): string[] {
  return [w.svgPath, w.pngPath];
}

function policies(runs: readonly ExperimentRun[]): string[] {
  return [...new Set(runs.map((r) => r.result.policy))];
}

/** Writes `<base>.csv` and the latency and utilization charts; returns the file names written. */
export function writeLatencyReport(dir: string, base: string, runs: readonly ExperimentRun[], title: string): string[] {
  const rows = latencyRows(runs);
  const files: string[] = [];
  writeFileSync(join(dir, `${base}.csv`), toCsv(LATENCY_COLUMNS, rows));
  files.push(`${base}.csv`);
  const pols = policies(runs);
  const classes = runs[0]?.result.classes.map((c) => c.name) ?? [];
  const panelsFor = (metric: 'p99_ms' | 'p99_slowdown') =>
    pols.map((p) => ({
      title: p,
      series: classes.map((cls): LineSeries => ({
        name: cls,
        points: rows.filter((r) => r.policy === p && r.class === cls).map((r) => [r.load as number, r[metric] === '' ? null : (r[metric] as number)] as const),
      })),
    }));
  const latency = lineChart({
    title: `${title}: p99 response time per class`,
    subtitle: 'jobs that completed; a missing point means no job of that class completed',
    xName: 'offered load (fraction of all cores)',
    yName: 'p99 response time',
    yTicks: 'ms',
    yLog: true,
    panels: panelsFor('p99_ms'),
  });
  files.push(...chartFiles(writeChart(dir, `${base}-p99-latency`, latency)));
  const slowdown = lineChart({
    title: `${title}: p99 slowdown per class (response time ÷ runtime)`,
    xName: 'offered load (fraction of all cores)',
    yName: 'p99 slowdown',
    yLog: true,
    panels: panelsFor('p99_slowdown'),
  });
  files.push(...chartFiles(writeChart(dir, `${base}-p99-slowdown`, slowdown)));
  const loads = [...new Set(runs.map((r) => r.load))];
  const util = boxPlot({
    title: `${title}: compute utilization`,
    subtitle: `distribution over machines and time windows${pols.includes('edf') ? ' (EDF: one machine of all the cores, over time)' : ''}`,
    xName: 'offered load',
    yName: 'busy cores ÷ cores',
    yMin: 0,
    yMax: 1,
    panels: [{
      categories: loads.map((l) => formatNumber(l)),
      series: pols.map((p) => ({
        name: p,
        boxes: loads.map((l) => {
          const run = runs.find((r) => r.load === l && r.result.policy === p);
          return run ? boxStats(run.result.utilization.flatMap((w) => [...w])) : null;
        }),
      })),
    }],
  });
  files.push(...chartFiles(writeChart(dir, `${base}-utilization`, util)));
  return files.map((f) => f.split('/').pop() as string);
}

/** A markdown table from a header and rows of already formatted cells. */
export function mdTable(headers: readonly string[], rows: readonly (readonly string[])[]): string {
  return markdownTable(headers, rows.map((r) => Object.fromEntries(headers.map((h, i) => [h, r[i] ?? '']))), { align: Object.fromEntries(headers.map((h) => [h, 'right' as const])) });
}

/**
 * The lines a summary gives runs at load ≥ 1: marked unstable, with how fast each policy's backlog
 * grew (jobs per second over the measured window), since their latencies depend on the run's length.
 */
export function unstableLines(runs: readonly ExperimentRun[]): string[] {
  const over = runs.filter((r) => !stable(r));
  if (over.length === 0) return [];
  const loads = [...new Set(over.map((r) => r.load))].sort((a, b) => a - b);
  const pols = [...new Set(over.map((r) => r.result.policy))];
  const f = (x: number): string => formatNumber(x, 3);
  return [
    `Unstable: at load ${loads.map(f).join(', ')} more work arrives than all the cores can do, so queues grow for as long as the run lasts; ` +
      'their latency and slowdown figures depend on how long the run was, not only on the policy. What to read instead is how fast the backlog grew ' +
      '(jobs in the system, per second of simulated time, over the measured window):', '',
    mdTable(['load', ...pols.map((p) => `${p} backlog growth (jobs/s)`)],
      loads.map((l) => [f(l), ...pols.map((p) => {
        const r = over.find((x) => x.load === l && x.result.policy === p);
        return r ? f(r.result.backlog.growthPerS) : '–';
      })])), '',
  ];
}
