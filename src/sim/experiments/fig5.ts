// Figure 5 of the paper: Fare with its idle list on machines with 32 GB: memory utilization per machine
// over time, and how much memory class-based swapping moves, per class and per machine.
// Writes fig5.csv (one row per load and machine), fig5-memory.csv (the time series), fig5-swaps.csv
// (every swap-out and swap-in), the charts and summary.md.

import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { DEFAULT_PRICE_TABLE } from '../../core/classes.ts';
import { DEFAULT_CLUSTER, runExperiment, type ExperimentRun, type ExperimentSpec } from '../experiment.ts';
import { toCsv, type CsvRow } from '../report/csv.ts';
import { bandChart, barChart, boxPlot, boxStats, quantileSorted, writeChart } from '../report/charts.ts';
import { formatNumber } from '../report/number-format.ts';

import { chartFiles, mdTable } from './latency-report.ts';
import type { FigOptions } from './fig4.ts';

export function fig5Spec(quick: boolean, seed: number): ExperimentSpec {
  return {
    name: 'fig5',
    seed,
    prices: DEFAULT_PRICE_TABLE,
    cluster: { ...DEFAULT_CLUSTER, memoryMB: 32 * 1024, idleList: true },
    policies: [{ name: 'fare', kind: 'fare' }],
    workload: { kind: 'synthetic', jobs: quick ? 150_000 : 1_000_000 },
    loads: quick ? [0.9, 1.1] : [0.8, 0.9, 1.0, 1.1],
    warmup: 0.1,
    measureTo: 0.8,
    drain: 0,
    samples: quick ? 60 : 120,
  };
}

const f = (x: number, d = 3): string => formatNumber(x, d);

interface MachineMem {
  readonly machine: number;
  readonly utils: number[];
  readonly swapOutByClass: number[];
  readonly swapInByClass: number[];
  swapOuts: number;
  swapIns: number;
}

function perMachine(run: ExperimentRun, nClasses: number): MachineMem[] {
  const r = run.result;
  const ms: MachineMem[] = [];
  for (let m = 0; m < r.machines; m++) {
    ms.push({ machine: m, utils: r.memoryUsed.map((s) => (s[m] as number) / r.memoryMB), swapOutByClass: new Array<number>(nClasses).fill(0), swapInByClass: new Array<number>(nClasses).fill(0), swapOuts: 0, swapIns: 0 });
  }
  const s = r.swaps;
  for (let i = 0; i < s.time.length; i++) {
    const m = ms[s.machine[i] as number] as MachineMem;
    const c = s.cls[i] as number;
    if (s.dir[i] === 'out') {
      m.swapOutByClass[c] = (m.swapOutByClass[c] as number) + (s.mb[i] as number);
      m.swapOuts++;
    } else {
      m.swapInByClass[c] = (m.swapInByClass[c] as number) + (s.mb[i] as number);
      m.swapIns++;
    }
  }
  return ms;
}

const mean = (xs: readonly number[]): number => (xs.length ? xs.reduce((a, b) => a + b, 0) / xs.length : NaN);
const sum = (xs: readonly number[]): number => xs.reduce((a, b) => a + b, 0);

export function runFig5(opts: FigOptions): { files: string[]; runs: ExperimentRun[] } {
  const spec = fig5Spec(opts.quick, opts.seed);
  const runs = runExperiment(spec, opts.progress);
  const files = writeMemoryReport(opts.out, 'fig5', spec, runs, 'Figure 5');
  writeFileSync(join(opts.out, 'summary.md'), fig5Summary(spec, runs, memoryByMachine(runs, spec)));
  files.push('summary.md');
  return { files, runs };
}

export function memoryByMachine(runs: readonly ExperimentRun[], spec: ExperimentSpec): Map<number, MachineMem[]> {
  const per = new Map<number, MachineMem[]>();
  for (const run of runs) per.set(run.load, perMachine(run, spec.prices.classes.length));
  return per;
}

/** Writes `<base>.csv`, `<base>-memory.csv`, `<base>-swaps.csv` and the memory charts of runs with limited memory. */
export function writeMemoryReport(dir: string, base: string, spec: ExperimentSpec, runs: readonly ExperimentRun[], title: string): string[] {
  mkdirSync(dir, { recursive: true });
  const classes = spec.prices.classes.map((c) => c.name);
  const files: string[] = [];

  // fig5.csv: one row per (load, machine).
  const cols = ['load', 'machine', 'mem_util_mean', 'mem_util_p10', 'mem_util_p50', 'mem_util_p90', 'mem_util_max', 'swap_out_mb', 'swap_in_mb', 'swap_outs', 'swap_ins',
    ...classes.map((c) => `swap_out_mb_${c}`), 'overcommit_mb_s'];
  const rows: CsvRow[] = [];
  const memRows: CsvRow[] = [];
  const swapRows: CsvRow[] = [];
  const per = new Map<number, MachineMem[]>();
  for (const run of runs) {
    const ms = perMachine(run, classes.length);
    per.set(run.load, ms);
    for (const m of ms) {
      const sorted = [...m.utils].sort((a, b) => a - b);
      const row: Record<string, string | number> = {
        load: run.load, machine: m.machine,
        mem_util_mean: f(mean(m.utils), 4), mem_util_p10: f(quantileSorted(sorted, 0.1), 4), mem_util_p50: f(quantileSorted(sorted, 0.5), 4),
        mem_util_p90: f(quantileSorted(sorted, 0.9), 4), mem_util_max: f(sorted[sorted.length - 1] ?? NaN, 4),
        swap_out_mb: Math.round(sum(m.swapOutByClass)), swap_in_mb: Math.round(sum(m.swapInByClass)), swap_outs: m.swapOuts, swap_ins: m.swapIns,
        overcommit_mb_s: Math.round(run.result.overcommitMBs[m.machine] as number),
      };
      classes.forEach((c, i) => { row[`swap_out_mb_${c}`] = Math.round(m.swapOutByClass[i] as number); });
      rows.push(row);
    }
    run.result.sampleTimes.forEach((t, si) => {
      const used = run.result.memoryUsed[si] as Float64Array;
      for (let m = 0; m < used.length; m++) memRows.push({ load: run.load, time_s: f(t / 1000, 6), machine: m, used_mb: Math.round(used[m] as number) });
    });
    const s = run.result.swaps;
    for (let i = 0; i < s.time.length; i++) {
      swapRows.push({ load: run.load, time_ms: f(s.time[i] as number, 9), machine: s.machine[i] as number, job: s.job[i] as number, class: classes[s.cls[i] as number] as string, dir: s.dir[i] as string, mb: f(s.mb[i] as number, 6) });
    }
  }
  writeFileSync(join(dir, `${base}.csv`), toCsv(cols, rows));
  writeFileSync(join(dir, `${base}-memory.csv`), toCsv(['load', 'time_s', 'machine', 'used_mb'], memRows));
  writeFileSync(join(dir, `${base}-swaps.csv`), toCsv(['load', 'time_ms', 'machine', 'job', 'class', 'dir', 'mb'], swapRows));
  files.push(`${base}.csv`, `${base}-memory.csv`, `${base}-swaps.csv`);

  // Charts.
  const over = bandChart({
    title: `${title}: memory utilization across machines over time (${f(spec.cluster.memoryMB / 1024)} GB per machine)`,
    xName: 'time (s)',
    yName: 'resident memory ÷ capacity',
    yMin: 0,
    midLabel: 'median machine',
    bandLabel: 'p10–p90 of machines',
    panels: runs.map((run) => {
      const x = run.result.sampleTimes.map((t) => t / 1000);
      const at = (qq: number) => run.result.memoryUsed.map((s) => quantileSorted([...s].sort((a, b) => a - b), qq) / run.result.memoryMB);
      return { title: `load ${f(run.load)}`, series: [{ name: 'memory', x, lower: at(0.1), mid: at(0.5), upper: at(0.9) }] };
    }),
  });
  files.push(...chartFiles(writeChart(dir, `${base}-memory-over-time`, over)));
  const last = runs[runs.length - 1];
  if (last) {
    const ms = per.get(last.load) as MachineMem[];
    const box = boxPlot({
      title: `${title}: memory utilization per machine over time (${last.result.policy}, load ${f(last.load)})`,
      xName: 'machine',
      yName: 'resident memory ÷ capacity',
      yMin: 0,
      rotateXLabels: true,
      panels: [{ categories: ms.map((m) => String(m.machine)), series: [{ name: 'fare', boxes: ms.map((m) => boxStats(m.utils)) }] }],
    });
    files.push(...chartFiles(writeChart(dir, `${base}-memory-per-machine`, box)));
    const byMachine = barChart({
      title: `${title}: memory swapped out per machine, by class (${last.result.policy}, load ${f(last.load)})`,
      xName: 'machine',
      yName: 'swapped out (MB)',
      stacked: true,
      rotateXLabels: true,
      panels: [{ categories: ms.map((m) => String(m.machine)), series: classes.map((c, i) => ({ name: c, values: ms.map((m) => m.swapOutByClass[i] as number) })) }],
    });
    files.push(...chartFiles(writeChart(dir, `${base}-swap-per-machine`, byMachine)));
  }
  const byClass = barChart({
    title: `${title}: memory swapped out per class`,
    xName: 'price class',
    yName: 'swapped out (MB, all machines)',
    panels: [{ categories: classes, series: runs.map((run) => ({ name: `load ${f(run.load)}`, values: classes.map((_, i) => run.result.swapOutByClass[i] as number) })) }],
  });
  files.push(...chartFiles(writeChart(dir, `${base}-swap-per-class`, byClass)));

  return files.map((x) => x.split('/').pop() as string);
}

export function fig5Summary(spec: ExperimentSpec, runs: readonly ExperimentRun[], per: ReadonlyMap<number, MachineMem[]>): string {
  const classes = spec.prices.classes.map((c) => c.name);
  const c = spec.cluster;
  const lines: string[] = ['# Figure 5: class-based swapping under limited memory', ''];
  lines.push(`Setup: Fare with its idle list, ${c.machines} machines × ${c.cores} cores with ${f(c.memoryMB / 1024)} GB each, ${c.shards} shards, k = ${c.k}; ` +
    `machines join an idle list above ${c.joinFree * 100}% free memory, leave below ${c.leaveFree * 100}%, update on ±${c.updateDelta * 100}%; swapping brings resident memory back to ${c.swapTarget * 100}% of capacity. ` +
    `Job memory grows from 100 MB to its total (uniform 100 MB–10 GB) over its runtime. Swap time is not simulated (paper, §4.1). Seed ${spec.seed}.`, '');
  const table: string[][] = [];
  for (const run of runs) {
    const ms = per.get(run.load) ?? [];
    const means = ms.map((m) => mean(m.utils)).sort((a, b) => a - b);
    const swapped = ms.map((m) => sum(m.swapOutByClass));
    const total = sum(swapped);
    const cv = total > 0 ? Math.sqrt(mean(swapped.map((x) => (x - mean(swapped)) ** 2))) / mean(swapped) : 0;
    const byClass = classes.map((_, i) => run.result.swapOutByClass[i] as number);
    const shareLow = total > 0 ? (byClass[byClass.length - 1] as number) / total : 0;
    const shareTop = total > 0 ? (byClass[0] as number) / total : 0;
    const swapping = swapped.filter((x) => x > 0).length;
    const oc = sum([...run.result.overcommitMBs]);
    table.push([f(run.load), `${f(quantileSorted(means, 0.5) * 100)}%`, `${f(quantileSorted(means, 0.1) * 100)}–${f(quantileSorted(means, 0.9) * 100)}%`,
      f(total / 1024), `${f(shareLow * 100)}%`, `${f(shareTop * 100)}%`, `${swapping}/${ms.length}`, total > 0 ? f(cv) : '–', f(oc / 1024)]);
  }
  lines.push(mdTable(['load', 'median machine memory util', 'p10–p90 across machines', 'swapped out (GB)', `share ${classes[classes.length - 1]}`, `share ${classes[0]}`, 'machines that swapped', 'CV of swap per machine', 'over capacity (GB·s)'], table));
  lines.push('');
  const lastRun = runs[runs.length - 1];
  if (lastRun) {
    const byClass = classes.map((_, i) => lastRun.result.swapOutByClass[i] as number);
    const total = sum(byClass);
    const parts = classes.map((name, i) => `${name} ${f(total > 0 ? ((byClass[i] as number) / total) * 100 : 0)}%`).join(', ');
    const means = (per.get(lastRun.load) ?? []).map((m) => mean(m.utils)).sort((x, y) => x - y);
    const spread = quantileSorted(means, 0.9) - quantileSorted(means, 0.1);
    lines.push(`What the figures show: at load ${f(lastRun.load)} the machines' mean memory utilizations lie within ${f(spread * 100)} points of each other (p10–p90): ` +
      (spread < 0.1 ? 'a tight spread, as the paper hopes (the idle list sends work to machines with free memory). ' : 'not a tight spread. ') +
      `Swapping starts only when a machine's resident memory exceeds its capacity (by construction of the dispatcher). ` +
      `At load ${f(lastRun.load)}, ${f(total / 1024)} GB were swapped out, by class: ${parts}. ` +
      (total === 0 ? 'No machine needed to swap at this load.' :
        (byClass[0] as number) === 0 ? `No ${classes[0]}-class memory was ever swapped: only lower classes pay for memory pressure, as the paper reports.`
          : `Some ${classes[0]}-class memory was swapped (${f(total > 0 ? ((byClass[0] as number) / total) * 100 : 0)}%): this happens only when swapping out every waiting lower-class job on a machine was not enough.`), '');
    lines.push('Where the paper\'s assumption (memory large against cores × job memory) fails, all jobs that hold memory may be running, so nothing can be swapped: ' +
      'the "over capacity" column measures that residue (resident memory above capacity, integrated over time), which a real machine would have to page.', '');
  }
  lines.push('Files: fig5.csv (one row per load and machine), fig5-memory.csv (memory per machine over time), fig5-swaps.csv (every swap: time, machine, job, class, MB), ' +
    'fig5-memory-over-time, fig5-memory-per-machine, fig5-swap-per-class, fig5-swap-per-machine (.svg and .png).', '');
  return lines.join('\n');
}
