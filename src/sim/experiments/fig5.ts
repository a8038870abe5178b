// Figure 5 of the paper: Fare with its idle list on machines with 32 GB: memory utilization per machine
// over time, and how much memory class-based swapping moves, per class and per machine — with swapping
// that takes time (one swap device per machine, this machine's kernel's speeds) and bounded swap space,
// beside the paper's own model (instantaneous, unbounded) run on the same jobs, so the summary can say
// what the paper's model hid. Writes fig5.csv (one row per load and machine), fig5-memory.csv (the time
// series), fig5-swaps.csv (every swap-out and swap-in), the charts and summary.md.

import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { DEFAULT_PRICE_TABLE } from '../../core/classes.ts';
import { DEFAULT_CLUSTER, runExperiment, type ExperimentRun, type ExperimentSpec } from '../experiment.ts';
import { toCsv, type CsvRow } from '../report/csv.ts';
import { bandChart, barChart, boxPlot, boxStats, lineChart, quantileSorted, writeChart } from '../report/charts.ts';
import { formatGrouped, formatNumber } from '../report/number-format.ts';

import { chartFiles, mdTable } from './latency-report.ts';
import type { FigOptions } from './fig4.ts';

export function fig5Spec(quick: boolean, seed: number, admission = false): ExperimentSpec {
  return {
    name: 'fig5',
    seed,
    prices: DEFAULT_PRICE_TABLE,
    cluster: { ...DEFAULT_CLUSTER, memoryMB: 32 * 1024, idleList: true, memoryAdmission: admission },
    policies: [{ name: 'fare', kind: 'fare' }],
    workload: { kind: 'synthetic', jobs: quick ? 150_000 : 1_000_000 },
    loads: quick ? [0.9, 1.1] : [0.8, 0.9, 1.0, 1.1],
    warmup: 0.1,
    measureTo: 0.8,
    drain: 0,
    samples: quick ? 60 : 120,
  };
}

/** The same experiment in the paper's model: swapping instantaneous, swap space unbounded. */
export function fig5PaperSpec(quick: boolean, seed: number): ExperimentSpec {
  const spec = fig5Spec(quick, seed);
  return { ...spec, name: 'fig5-paper', cluster: { ...spec.cluster, swapOutSPerGiB: 0, swapInSPerGiB: 0, swapMB: Infinity, memoryAdmission: false } };
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

export function runFig5(opts: FigOptions & { readonly admission?: boolean }): { files: string[]; runs: ExperimentRun[] } {
  const spec = fig5Spec(opts.quick, opts.seed, opts.admission === true);
  const runs = runExperiment(spec, opts.progress);
  const paper = runExperiment(fig5PaperSpec(opts.quick, opts.seed), opts.progress);
  const files = writeMemoryReport(opts.out, 'fig5', spec, runs, 'Figure 5');
  writeFileSync(join(opts.out, 'summary.md'), fig5Summary(spec, runs, memoryByMachine(runs, spec), paper));
  files.push('summary.md');
  return { files, runs };
}

/** Swap device time as a share of the measured window, per machine (1: the device never rested). */
export function deviceBusy(run: ExperimentRun, spec: ExperimentSpec): number[] {
  const r = run.result, c = spec.cluster;
  const t1 = r.sampleTimes.at(-1) ?? 0;
  const t0 = r.sampleTimes.length > 1 ? t1 - ((t1 - (r.sampleTimes[0] as number)) * r.sampleTimes.length) / (r.sampleTimes.length - 1) : 0;
  const busy = new Array<number>(r.machines).fill(0);
  const s = r.swaps;
  for (let i = 0; i < s.time.length; i++) {
    const t = s.time[i] as number;
    if (t < t0 || t > t1) continue;
    const sPerMB = (s.dir[i] === 'out' ? c.swapOutSPerGiB : c.swapInSPerGiB) / 1024;
    busy[s.machine[i] as number] = (busy[s.machine[i] as number] as number) + (s.mb[i] as number) * sPerMB * 1000;
  }
  return busy.map((b) => (t1 > t0 ? b / (t1 - t0) : 0));
}

/**
 * What each machine's swap device moved per sample window (MB/s): each swap's MB spread over the time
 * the device worked on it (it ends `deviceMs` after the decision and lasts MB ÷ the device's rate).
 */
export function deviceTraffic(run: ExperimentRun, spec: ExperimentSpec): Float64Array[] {
  const r = run.result, c = spec.cluster;
  const T = r.sampleTimes;
  const out = T.map(() => new Float64Array(r.machines));
  if (T.length === 0) return out;
  const step = T.length > 1 ? (T[1] as number) - (T[0] as number) : (T[0] as number);
  const t0 = (T[0] as number) - step;
  const s = r.swaps;
  for (let i = 0; i < s.time.length; i++) {
    const mb = s.mb[i] as number;
    const sPerGiB = s.dir[i] === 'out' ? c.swapOutSPerGiB : c.swapInSPerGiB;
    const end = (s.time[i] as number) + (s.deviceMs[i] as number);
    const dur = (mb / 1024) * sPerGiB * 1000;
    const start = end - dur;
    if (end <= t0 || start >= (T.at(-1) as number)) continue;
    const m = s.machine[i] as number;
    const first = Math.max(0, Math.floor((start - t0) / step));
    for (let w = first; w < T.length; w++) {
      const lo = t0 + w * step, hi = lo + step;
      if (lo >= end) break;
      const part = dur > 0 ? (Math.min(hi, end) - Math.max(lo, start)) / dur : end > lo && end <= hi ? 1 : 0;
      if (part > 0) (out[w] as Float64Array)[m] = ((out[w] as Float64Array)[m] as number) + (mb * part) / (step / 1000);
    }
  }
  return out;
}

/** How long swapped-out memory stayed out (ms), per swap-in, and the MB it brought back. */
function timesOut(run: ExperimentRun): { ms: number; mb: number }[] {
  const s = run.result.swaps;
  const outAt = new Map<number, number>();
  const back: { ms: number; mb: number }[] = [];
  for (let i = 0; i < s.time.length; i++) {
    const job = s.job[i] as number;
    if (s.dir[i] === 'out') outAt.set(job, s.time[i] as number);
    else {
      const t = outAt.get(job);
      outAt.delete(job);
      if (t !== undefined) back.push({ ms: (s.time[i] as number) - t, mb: s.mb[i] as number });
    }
  }
  return back;
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
      const held = run.result.memoryDemand[si] as Float64Array;
      for (let m = 0; m < used.length; m++) memRows.push({ load: run.load, time_s: f(t / 1000, 6), machine: m, used_mb: Math.round(used[m] as number), held_mb: Math.round(held[m] as number) });
    });
    const s = run.result.swaps;
    for (let i = 0; i < s.time.length; i++) {
      swapRows.push({ load: run.load, time_ms: f(s.time[i] as number, 9), machine: s.machine[i] as number, job: s.job[i] as number, class: classes[s.cls[i] as number] as string, dir: s.dir[i] as string, mb: f(s.mb[i] as number, 6), device_ms: f(s.deviceMs[i] as number, 6) });
    }
  }
  writeFileSync(join(dir, `${base}.csv`), toCsv(cols, rows));
  writeFileSync(join(dir, `${base}-memory.csv`), toCsv(['load', 'time_s', 'machine', 'used_mb', 'held_mb'], memRows));
  writeFileSync(join(dir, `${base}-swaps.csv`), toCsv(['load', 'time_ms', 'machine', 'job', 'class', 'dir', 'mb', 'device_ms'], swapRows));
  files.push(`${base}.csv`, `${base}-memory.csv`, `${base}-swaps.csv`);

  // Charts. Memory in GB (TB past 10,000 GB), capacities as labelled reference lines, not series.
  const gb = (mb: number): number => mb / 1024;
  const ramGB = gb(spec.cluster.memoryMB);
  const swapMB = spec.cluster.swapMB ?? spec.cluster.memoryMB; // swap space as large as RAM unless set
  const swapGB = Number.isFinite(swapMB) ? gb(swapMB) : undefined;
  const q = (s: Float64Array, qq: number): number => quantileSorted([...s].sort((a, b) => a - b), qq);
  let maxHeldGB = 0;
  for (const run of runs) for (const s of run.result.memoryDemand) for (const v of s) maxHeldGB = Math.max(maxHeldGB, gb(v));
  // What the jobs hold can exceed RAM many times over (overload): then a log axis, so resident memory stays readable.
  const overLog = maxHeldGB > 10 * ramGB;
  const over = bandChart({
    title: `${title}: memory per machine over time, resident and held by jobs`,
    subtitle: `line: the median machine; band: p10–p90 of machines. Held beyond the ${f(ramGB)} GB of RAM is memory the kernel would have to page.`,
    xName: 'time (s)',
    xTicks: 'plain',
    yName: 'GB per machine',
    yTicks: 'plain',
    ...(overLog ? { yLog: true } : { yMin: 0 }),
    references: [{ value: ramGB, label: `RAM: ${f(ramGB)} GB` }],
    midLabel: 'median machine',
    bandLabel: 'p10–p90 of machines',
    panels: runs.map((run) => {
      const x = run.result.sampleTimes.map((t) => t / 1000);
      const at = (qq: number) => run.result.memoryUsed.map((s) => gb(q(s, qq)));
      const held = (qq: number) => run.result.memoryDemand.map((s) => gb(q(s, qq)));
      return {
        title: `load ${f(run.load)}`,
        series: [
          { name: 'resident', x, lower: at(0.1), mid: at(0.5), upper: at(0.9) },
          // Dashed: below RAM what the jobs hold is resident, and the two lines coincide.
          { name: 'held by jobs', x, lower: held(0.1), mid: held(0.5), upper: held(0.9), lineType: 'dashed' as const },
        ],
      };
    }),
  });
  files.push(...chartFiles(writeChart(dir, `${base}-memory-over-time`, over)));
  // Resident and swapped memory over time, all machines, swapped per class.
  const machines = spec.cluster.machines;
  const allRAM = ramGB * machines;
  const allSwap = swapGB === undefined ? undefined : swapGB * machines;
  // Resident memory (top row) and swapped memory (bottom row) in panels of their own: past load 1 both sit at
  // 3,200 GB, RAM and swap space both full, and in one panel their lines would hide each other.
  const swappedChart = lineChart({
    title: `${title}: resident memory and memory swapped out per class, all machines`,
    subtitle: 'top row: resident memory; bottom row: memory swapped out, per class',
    xName: 'time (s)',
    xTicks: 'plain',
    yName: 'GB, all machines',
    yTicks: 'plain',
    yMin: 0,
    columns: runs.length,
    references: allSwap === allRAM
      ? [{ value: allRAM, label: `RAM, and swap space: ${formatGrouped(allRAM)} GB` }]
      : [{ value: allRAM, label: `RAM: ${formatGrouped(allRAM)} GB` }, ...(allSwap === undefined ? [] : [{ value: allSwap, label: `swap space: ${formatGrouped(allSwap)} GB` }])],
    panels: [
      ...runs.map((run) => {
        const r = run.result;
        const x = r.sampleTimes.map((t) => t / 1000);
        const total = (a: Float64Array): number => a.reduce((p, q) => p + q, 0);
        return { title: `load ${f(run.load)}: resident`, series: [{ name: 'resident', points: x.map((t, i) => [t, gb(total(r.memoryUsed[i] as Float64Array))] as const) }] };
      }),
      ...runs.map((run) => {
        const r = run.result;
        const x = r.sampleTimes.map((t) => t / 1000);
        return {
          title: `load ${f(run.load)}: swapped out`,
          // (Sums of swaps out and in leave rounding dust where nothing is swapped: shown as 0.)
          series: classes.map((cn, c) => ({ name: `swapped: ${cn}`, points: x.map((t, i) => { const v = (r.swappedByClass[i] as Float64Array)[c] as number; return [t, v < 1e-3 ? 0 : gb(v)] as const; }) })),
        };
      }),
    ],
  });
  files.push(...chartFiles(writeChart(dir, `${base}-swapped-over-time`, swappedChart)));
  // Swap traffic: what the devices moved (at most what one can move), against what was asked of them.
  const c0 = spec.cluster;
  const writeGBs = 1 / c0.swapOutSPerGiB, readGBs = 1 / c0.swapInSPerGiB;
  const traffic = lineChart({
    title: `${title}: swap traffic per machine, out and in`,
    subtitle: 'dashed: what one swap device can move (written out, read back)',
    xName: 'time (s)',
    xTicks: 'plain',
    yName: 'GB/s',
    yLog: true,
    yTicks: 'plain',
    references: Number.isFinite(writeGBs) && Number.isFinite(readGBs)
      ? [{ value: writeGBs, label: `device writes ${f(writeGBs, 2)} GB/s` }, { value: readGBs, label: `reads ${f(readGBs, 2)} GB/s` }]
      : [],
    panels: runs.map((run) => {
      const r = run.result;
      const x = r.sampleTimes.map((t) => t / 1000);
      const moved = deviceTraffic(run, spec);
      return {
        // An empty log panel says nothing by itself: a load at which no machine swapped says so.
        title: `load ${f(run.load)}${r.swaps.time.length === 0 ? ': nothing swapped' : ''}`,
        series: [
          { name: 'moved: mean machine', points: x.map((t, i) => [t, gb(mean([...(moved[i] as Float64Array)]))] as const) },
          { name: 'moved: busiest machine', points: x.map((t, i) => [t, gb(Math.max(...(moved[i] as Float64Array)))] as const) },
          { name: 'asked of the busiest machine', points: x.map((t, i) => [t, gb(Math.max(...(r.swapRate[i] as Float64Array)))] as const) },
        ],
      };
    }),
  });
  files.push(...chartFiles(writeChart(dir, `${base}-swap-traffic`, traffic)));
  const box = boxPlot({
    title: `${title}: resident memory per machine over time (${runs[0]?.result.policy ?? ''})`,
    subtitle: 'box: quartiles of the machine\'s samples, line: median, whiskers: least and most',
    xName: 'machine',
    yName: 'resident memory (GB)',
    yTicks: 'plain',
    yMin: 0,
    columns: 2,
    references: [{ value: ramGB, label: `RAM: ${f(ramGB)} GB` }],
    panels: runs.map((run) => {
      const ms = per.get(run.load) as MachineMem[];
      return { title: `load ${f(run.load)}`, categories: ms.map((m) => String(m.machine)), series: [{ name: run.result.policy, boxes: ms.map((m) => boxStats(m.utils.map((u) => u * ramGB))) }] };
    }),
  });
  files.push(...chartFiles(writeChart(dir, `${base}-memory-per-machine`, box)));
  const last = runs[runs.length - 1];
  if (last) {
    const ms = per.get(last.load) as MachineMem[];
    const byMachine = barChart({
      title: `${title}: memory swapped out per machine, by class (${last.result.policy}, load ${f(last.load)})`,
      xName: 'machine',
      yName: 'swapped out over the run (GB)',
      yTicks: 'plain',
      stacked: true,
      panels: [{ categories: ms.map((m) => String(m.machine)), series: classes.map((c, i) => ({ name: c, values: ms.map((m) => gb(m.swapOutByClass[i] as number)) })) }],
    });
    files.push(...chartFiles(writeChart(dir, `${base}-swap-per-machine`, byMachine)));
  }
  const classMax = Math.max(0, ...runs.flatMap((run) => classes.map((_, i) => gb(run.result.swapOutByClass[i] as number))));
  const [unit, perGB] = classMax >= 10_000 ? ['TB', 1 / 1024] : ['GB', 1];
  const byClass = barChart({
    title: `${title}: memory swapped out per class`,
    xName: 'price class',
    yName: `swapped out over the run (${unit}, all machines)`,
    yTicks: 'plain',
    panels: [{ categories: classes, series: runs.map((run) => ({ name: `load ${f(run.load)}`, values: classes.map((_, i) => gb(run.result.swapOutByClass[i] as number) * perGB) })) }],
  });
  files.push(...chartFiles(writeChart(dir, `${base}-swap-per-class`, byClass)));

  return files.map((x) => x.split('/').pop() as string);
}

/** A machine sample this close to capacity (MB) is at capacity, not over it (float rounding). */
const OVER_RAM_TOLERANCE_MB = 1;

export function fig5Summary(spec: ExperimentSpec, runs: readonly ExperimentRun[], per: ReadonlyMap<number, MachineMem[]>, paper: readonly ExperimentRun[] = []): string {
  const classes = spec.prices.classes.map((c) => c.name);
  const low = classes.length - 1;
  const c = spec.cluster;
  const timed = c.swapOutSPerGiB > 0 || c.swapInSPerGiB > 0;
  const space = c.swapMB ?? c.memoryMB;
  const lines: string[] = ['# Figure 5: class-based swapping under limited memory', ''];
  lines.push(`Setup: Fare with its idle list, ${c.machines} machines × ${c.cores} cores with ${f(c.memoryMB / 1024)} GB each, ${c.shards} shards, k = ${c.k}; ` +
    `machines join an idle list above ${c.joinFree * 100}% free memory, leave below ${c.leaveFree * 100}%, update on ±${c.updateDelta * 100}%; swapping brings resident memory back to ${c.swapTarget * 100}% of capacity. ` +
    `Job memory grows from 100 MB to its total (uniform 100 MB–10 GB) over its runtime. ` +
    (timed
      ? `Swapping takes time: each machine has one swap device, first come first served, writing ${f(c.swapOutSPerGiB)} s/GiB and reading back ${f(c.swapInSPerGiB)} s/GiB (this machine's kernel, \`npm run bench:swap\`), with ${Number.isFinite(space) ? `${f(space / 1024)} GB` : 'unbounded'} of swap space; ` +
        'memory being written out stays resident until written, and a swapped job runs only once its memory is read back. '
      : 'Swap time is not simulated (paper, §4.1). ') +
    (c.memoryAdmission === true
      ? 'Memory admission: a job takes memory when it first runs and starts only when it fits (with what is being written out counted as taken), else it waits with the jobs behind it; the lowest classes\' memory goes to swap to make the room, and when running jobs fill memory the lowest-class one stops (a lone one only while memory is on its way out). '
      : 'No memory admission (the paper\'s model): a placed job\'s initial memory is resident at once and running jobs grow past RAM. ') +
    `Seed ${spec.seed}.`, '');
  const table: string[][] = [];
  const verdicts: string[] = [];
  for (const run of runs) {
    const r = run.result;
    const ms = per.get(run.load) ?? [];
    const means = ms.map((m) => mean(m.utils)).sort((a, b) => a - b);
    const swapped = ms.map((m) => sum(m.swapOutByClass));
    const total = sum(swapped);
    const cv = total > 0 ? Math.sqrt(mean(swapped.map((x) => (x - mean(swapped)) ** 2))) / mean(swapped) : 0;
    const byClass = classes.map((_, i) => r.swapOutByClass[i] as number);
    const shareLow = total > 0 ? (byClass[low] as number) / total : 0;
    const shareTop = total > 0 ? (byClass[0] as number) / total : 0;
    const swapping = swapped.filter((x) => x > 0).length;
    // Under 1 MB·s over all machines is rounding (memory held exactly at capacity), not memory.
    const oc0 = sum([...r.overcommitMBs]);
    const oc = oc0 < 1 ? 0 : oc0;
    let overSamples = 0, samples = 0, maxHeld = 0;
    for (const d of r.memoryDemand) {
      for (const x of d) {
        samples++;
        if (x > r.memoryMB + OVER_RAM_TOLERANCE_MB) overSamples++;
        if (x > maxHeld) maxHeld = x;
      }
    }
    const busy = timed ? deviceBusy(run, spec).sort((a, b) => a - b) : [];
    const delay = r.swapInDelay[low];
    table.push([f(run.load), `${f(quantileSorted(means, 0.5) * 100)}%`, `${f(quantileSorted(means, 0.1) * 100)}–${f(quantileSorted(means, 0.9) * 100)}%`,
      `${f((maxHeld / r.memoryMB) * 100)}%`, `${f((overSamples / Math.max(1, samples)) * 100)}%`, f(oc / 1024),
      f(total / 1024), `${f(shareLow * 100)}%`, `${f(shareTop * 100)}%`, `${swapping}/${ms.length}`, total > 0 ? f(cv) : '–',
      timed ? `${f(quantileSorted(busy, 0.5) * 100)}% / ${f((busy.at(-1) ?? 0) * 100)}%` : '–',
      delay && delay.count > 0 ? `${f(delay.quantile(0.5) / 1000)} / ${f(delay.quantile(0.99) / 1000)}` : '–']);
    const back = timesOut(run);
    const quick = back.filter((b) => b.ms <= 1000);
    verdicts.push(`- Load ${f(run.load)}: ` +
      (total === 0 ? 'no machine needed to swap. ' : `${f(total / 1024)} GB swapped out, ${f(shareLow * 100)}% of it the ${classes[low]} class's and ${f(shareTop * 100)}% the ${classes[0]} class's; ` +
        `${f(back.length ? (sum(quick.map((b) => b.mb)) / sum(back.map((b) => b.mb))) * 100 : 0)}% of the memory swapped back in had been out for at most 1 s (churn: written and read again almost at once). `) +
      (timed && busy.length ? ((busy.at(-1) ?? 0) >= 0.95
        ? `Swapping does not keep up: the swaps decided on the busiest machine needed ${f((busy.at(-1) ?? 0) * 100)}% of its swap device's time (median machine ${f(quantileSorted(busy, 0.5) * 100)}%), so a backlog grows, and a ${classes[low]}-class job waited ${delay && delay.count ? f(delay.quantile(0.5) / 1000) : '–'} s (median; p99 ${delay && delay.count ? f(delay.quantile(0.99) / 1000) : '–'} s) for its memory to come back. `
        : `The swap devices kept up (the busiest needed ${f((busy.at(-1) ?? 0) * 100)}% of its time, the median ${f(quantileSorted(busy, 0.5) * 100)}%). `) : '') +
      (overSamples > 0 ? `Resident memory was held at capacity, but the jobs held more than the machine's RAM in ${f((overSamples / Math.max(1, samples)) * 100)}% of machine samples (up to ${f((maxHeld / r.memoryMB) * 100)}%): the excess, ${f(oc / 1024)} GB·s, is memory of running jobs (or being written out) that the kernel would have to page.`
        : 'The jobs never held more than the machine\'s RAM.'));
  }
  lines.push(mdTable(['load', 'median machine resident memory', 'p10–p90 across machines', 'most held by one machine\'s jobs (÷ RAM)', 'machine samples over RAM', 'over RAM (GB·s, paged)',
    'swapped out (GB)', `share ${classes[low]}`, `share ${classes[0]}`, 'machines that swapped', 'CV of swap per machine', 'swap device work ÷ time (median / busiest machine; above 100%: a growing backlog)', `${classes[low]} swap-in wait (s, p50 / p99)`], table));
  lines.push('');
  lines.push('What held and what did not:', '', ...verdicts, '');
  const first = runs[0];
  if (first && timed) {
    // Mean final size of a job: 100 MB to its total, uniform 100 MB–10 GB.
    const meanMB = (100 + 10 * 1024) / 2;
    lines.push(`Why: a job runs ${f(first.meanRuntimeMs / 1000)} s on average, but writing out a job's memory at its mean final size (${f(meanMB / 1024)} GB) takes ${f((meanMB / 1024) * c.swapOutSPerGiB)} s and reading it back ${f((meanMB / 1024) * c.swapInSPerGiB)} s. ` +
      `The workload itself is not physical: a job that grows to ${f(meanMB / 1024)} GB in ${f(first.meanRuntimeMs / 1000)} s allocates ${f(meanMB / 1024 / (first.meanRuntimeMs / 1000))} GB/s, more than one core can write to memory. ` +
      'Swapping only pays when the swapped job waits much longer than that; in this workload much of the swapped memory is needed again within a second (the churn above), so the device is flooded with memory that comes straight back.', '');
  }
  const lastRun = runs[runs.length - 1];
  if (lastRun) {
    const means = (per.get(lastRun.load) ?? []).map((m) => mean(m.utils)).sort((x, y) => x - y);
    const spread = quantileSorted(means, 0.9) - quantileSorted(means, 0.1);
    const full = quantileSorted(means, 0.1) >= 0.99;
    lines.push(`Spread: at load ${f(lastRun.load)} the machines' mean resident memory lies within ${f(spread * 100)} points of each other (p10–p90): ` +
      (full ? 'every machine\'s memory is full, so the spread says nothing of placement.'
        : spread < 0.1 ? 'a tight spread, as the paper hopes (the idle list sends work to machines with free memory).' : 'not a tight spread.'), '');
  }
  if (paper.length > 0) {
    const rows: string[][] = [];
    for (const run of runs) {
      const p = paper.find((x) => x.load === run.load);
      if (!p) continue;
      for (let ci = 0; ci < classes.length; ci++) {
        const a = run.result.classes[ci], b = p.result.classes[ci];
        if (!a || !b) continue;
        // A class with no job completed has no quantile.
        const fq = (x: number): string => (Number.isFinite(x) ? f(x) : '–');
        rows.push([f(run.load), classes[ci] as string, fq(b.response.quantile(0.99) / 1000), fq(a.response.quantile(0.99) / 1000), fq(b.slowdown.quantile(0.99)), fq(a.slowdown.quantile(0.99)),
          `${f((b.completed / Math.max(1, b.jobs)) * 100)}% / ${f((a.completed / Math.max(1, a.jobs)) * 100)}%`]);
      }
    }
    lines.push('Against the paper\'s model (the same jobs, swapping instantaneous and swap space unbounded):', '');
    lines.push(mdTable(['load', 'class', 'p99 latency, paper (s)', 'p99 latency, timed (s)', 'p99 slowdown, paper', 'p99 slowdown, timed', 'completed, paper / timed'], rows));
    lines.push('');
    const paperOc = sum(paper.map((p) => sum([...p.result.overcommitMBs])));
    lines.push(`In the paper's model, swapping costs nothing, so memory comes back "within" no time at all and a machine never has to wait for it; ` +
      `its over-RAM residue was ${f(paperOc / 1024)} GB·s over all loads (running jobs only).`, '');
  }
  lines.push(c.memoryAdmission === true
    ? 'Where the paper\'s assumption (memory large against cores × job memory) fails — here 8 cores × up to 10 GB against 32 GB — all jobs that hold memory may be running, so nothing can be swapped: ' +
      'with memory admission the machine stops its running jobs instead, and the "over RAM" column keeps only what a lone job adds when nothing is on its way out to make room for it — the swap space is full, or no other job holds memory (it runs on: stopping it would wait for nothing).'
    : 'Where the paper\'s assumption (memory large against cores × job memory) fails — here 8 cores × up to 10 GB against 32 GB — all jobs that hold memory may be running, so nothing can be swapped: ' +
      'the "over RAM" column measures that residue, which a real machine would have to page (not modelled as a slowdown of those jobs).', '');
  lines.push('Files: fig5.csv (one row per load and machine), fig5-memory.csv (memory per machine over time), fig5-swaps.csv (every swap: time, machine, job, class, MB, device time), ' +
    'fig5-memory-over-time, fig5-swapped-over-time, fig5-swap-traffic, fig5-memory-per-machine, fig5-swap-per-class, fig5-swap-per-machine (.svg and .png).', '');
  return lines.join('\n');
}
