// The paper's open questions as named experiments (`fare sim experiment NAME`). Each sweeps one design
// choice, runs the same jobs under every variant, and writes NAME.csv (one row per variant, load and
// class), charts and summary.md, whose sentences are computed from the numbers:
// - `class-order`: the shard's next job by price × time waited (the paper's rule) or by strict class
//   order, when the shards are the bottleneck: the top class's tail and the low class's starvation.
// - `swap-paging`: Fare's class-based swapping against a model of the kernel's reclaim (least
//   recently run first, blind to classes) on the same swap device, whole jobs at a time and at page
//   level (only the memory needed, part of a job; only that part read back). Left out of the page
//   model: cold pages of running jobs, and faults spread over the run (the part is read back first).
// - `swap-bound`: a bound on each machine's swapped memory, as a multiple of the largest job's memory:
//   which bound keeps the top class whole.
// - `shards`: idle list on or off, and 1 to 100 shards, at 10,000 machines.

import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { DEFAULT_PRICE_TABLE } from '../../core/classes.ts';
import { DEFAULT_CLUSTER, runExperiment, type ExperimentRun, type ExperimentSpec, type Progress } from '../experiment.ts';
import type { ClusterConfig, PolicySpec } from '../config.ts';
import { chartFiles, latencyRows, mdTable, type LatencyRow } from './latency-report.ts';
import { toCsv } from '../report/csv.ts';
import { barChart, lineChart, writeChart, type LineSeries } from '../report/charts.ts';
import { formatGrouped, formatNumber } from '../report/number-format.ts';
import type { FigOptions } from './fig4.ts';

/** One variant of a sweep: its label (the CSV's `variant`), the swept value and what it runs. */
interface Variant {
  readonly label: string;
  readonly x: number;
  readonly cluster: ClusterConfig;
  readonly policy: PolicySpec;
  /** Overrides of the experiment's workload (e.g. the largest job's memory). */
  readonly workload?: Readonly<Record<string, unknown>>;
  /** A group of variants (e.g. the largest job's memory): a chart panel each. */
  readonly group?: string;
}

/** A latency row with its variant, the swept value and the run's counters. */
export type SweepRow = LatencyRow & {
  readonly variant: string; readonly group: string; readonly x: number;
  readonly swapped_out_gb: number; readonly swapped_in_gb: number; readonly idle_list_placements: number;
};

const SWEEP_COLUMNS = ['variant', 'group', 'x', 'load', 'class', 'jobs', 'completed', 'completed_frac', 'p50_ms', 'p99_ms', 'p999_ms',
  'p50_wait_ms', 'p99_wait_ms', 'p999_wait_ms', 'p99_slowdown', 'p999_slowdown', 'util_mean', 'backlog_growth_per_s', 'stable',
  'swapped_out_gb', 'swapped_in_gb', 'idle_list_placements'] as const;

/** Runs every variant over the loads with the same jobs (the workload's seed does not depend on the variant). */
function sweep(base: Omit<ExperimentSpec, 'cluster' | 'policies'>, variants: readonly Variant[], progress?: Progress): SweepRow[] {
  const rows: SweepRow[] = [];
  for (const v of variants) {
    const spec: ExperimentSpec = { ...base, workload: { ...base.workload, ...v.workload }, cluster: v.cluster, policies: [{ ...v.policy, name: v.label }] };
    const runs = runExperiment(spec, progress);
    for (const run of runs) rows.push(...runRows(run, v));
  }
  return rows;
}

function runRows(run: ExperimentRun, v: Variant): SweepRow[] {
  const r = run.result;
  const placed = r.placements['idle-list'] + r.placements['power-of-k'] + r.placements.reservation;
  return latencyRows([run]).map((row, c) => ({
    ...row, variant: v.label, group: v.group ?? '', x: v.x,
    swapped_out_gb: Number(((r.swapOutByClass[c] ?? 0) / 1024).toPrecision(6)),
    swapped_in_gb: Number(((r.swapInByClass[c] ?? 0) / 1024).toPrecision(6)),
    idle_list_placements: placed > 0 ? Number((r.placements['idle-list'] / placed).toPrecision(6)) : 0,
  }));
}

const f = (x: number | string, d = 3): string => (typeof x === 'number' ? (Number.isFinite(x) ? formatNumber(x, d) : '–') : x === '' ? '–' : x);
const num = (x: string | number | undefined): number => (typeof x === 'number' ? x : NaN);
/** A wait in ms; zero waits are recorded at the histogram's floor (well under a microsecond) and print as 0. */
const w = (x: string | number | undefined): string => (typeof x === 'number' && x < 0.001 ? '0' : f(x ?? ''));
/** A wait to plot on a log axis: no wait at all is drawn at 0.01 ms (the charts say so). */
const WAIT_FLOOR_MS = 0.01;
const plotWait = (x: string | number | undefined): number | null => (typeof x === 'number' ? Math.max(WAIT_FLOOR_MS, x) : null);
const pick = (rows: readonly SweepRow[], variant: string, load: number, cls: string): SweepRow | undefined =>
  rows.find((r) => r.variant === variant && r.load === load && r.class === cls);

function writeRows(dir: string, name: string, rows: readonly SweepRow[]): string {
  writeFileSync(join(dir, `${name}.csv`), toCsv(SWEEP_COLUMNS, rows));
  return `${name}.csv`;
}

const names = (files: readonly string[]): string[] => files.map((p) => p.split('/').pop() as string);

// ---- 1. class order at the shard -----------------------------------------------------------------

/**
 * The paper's rule (price × time waited) against strict class order and a class-blind FIFO. With the
 * paper's zero latency a shard never holds a queue and its rule cannot matter, so the shards are made
 * the bottleneck: a poll takes 0.45 ms there and back and a shard has one in flight (about 8,900
 * placements per second for the four, against 10,000 jobs per second at load 1).
 */
function classOrder(opts: FigOptions): string[] {
  const cluster: ClusterConfig = { ...DEFAULT_CLUSTER, idleList: false, maxOutstandingPolls: 1, pollLatencyMs: 0.45 };
  const loads = opts.quick ? [0.5, 0.8, 0.9] : [0.5, 0.6, 0.7, 0.75, 0.8, 0.85, 0.9, 0.95];
  const variants: Variant[] = [
    { label: 'price × waited', x: 0, cluster, policy: { name: '', kind: 'fare', selection: 'price-wait' } },
    { label: 'strict', x: 1, cluster, policy: { name: '', kind: 'fare', selection: 'strict' } },
    { label: 'class-blind FIFO', x: 2, cluster, policy: { name: '', kind: 'fare', selection: 'fifo' } },
  ];
  const base = { name: 'class-order', seed: opts.seed, prices: DEFAULT_PRICE_TABLE, workload: { kind: 'synthetic', jobs: opts.quick ? 60_000 : 300_000, arrivals: 'poisson' }, loads, warmup: 0.1, measureTo: 0.8, drain: 0, samples: 10 };
  const rows = sweep(base, variants, opts.progress);
  const classes = DEFAULT_PRICE_TABLE.classes.map((c) => c.name);
  const top = classes[0] as string, low = classes[classes.length - 1] as string;
  const files = [writeRows(opts.out, 'class-order', rows)];
  const series = (cls: string, metric: 'p99_slowdown' | 'p99_wait_ms' | 'completed_frac'): LineSeries[] => variants.map((v) => ({
    name: v.label, points: loads.map((l) => [l, metric === 'p99_wait_ms' ? plotWait(pick(rows, v.label, l, cls)?.[metric]) : num(pick(rows, v.label, l, cls)?.[metric]) || null] as const),
  }));
  files.push(...chartFiles(writeChart(opts.out, 'class-order-top', lineChart({
    title: `The shard's class order: the top class (${top}) when the shards are the bottleneck`,
    subtitle: '100 machines × 8 cores, 4 shards, one poll in flight each, 0.45 ms per poll; p99 over the measured jobs',
    xName: 'offered load (fraction of all cores)', yName: 'p99 slowdown (response ÷ runtime)', yLog: true,
    panels: [{ series: series(top, 'p99_slowdown') }],
  }))));
  files.push(...chartFiles(writeChart(opts.out, 'class-order-low', lineChart({
    title: `The shard's class order: the lowest class (${low})`,
    subtitle: 'p99 time not served (queued at the shard or the machine, preempted), of the jobs that completed; no wait at all is drawn at 0.01 ms',
    xName: 'offered load (fraction of all cores)', yName: 'p99 wait', yTicks: 'ms', yLog: true,
    panels: [{ series: series(low, 'p99_wait_ms') }],
  }))));
  const lines = [
    '# Weighted or strict class order at the shard', '',
    'The paper\'s shard takes its next job by price × time waited, "fair-ish", while everything else in the design is strictly by class (§3.2). ' +
    'This compares that rule with strict class order and with a class-blind FIFO. With the paper\'s zero latency a shard never holds a queue and ' +
    'its rule cannot matter, so here the shards are the bottleneck: each has one poll in flight and a poll takes 0.45 ms there and back, about ' +
    '8,900 placements per second for the four shards against 10,000 jobs per second at load 1. ' +
    `100 machines × 8 cores, k = 3, no idle list, the paper's synthetic workload (Poisson arrivals), seed ${opts.seed}.`, '',
    mdTable(['load', 'backlog growth jobs/s', ...variants.flatMap((v) => [`${v.label}: ${top} p99 slowdown`, `${v.label}: ${low} p99 wait ms`, `${v.label}: ${low} completed`])],
      loads.map((l) => [f(l), f(pick(rows, 'price × waited', l, top)?.backlog_growth_per_s ?? ''), ...variants.flatMap((v) => {
        const t = pick(rows, v.label, l, top), b = pick(rows, v.label, l, low);
        return [f(t?.p99_slowdown ?? ''), w(b?.p99_wait_ms), b ? `${f(num(b.completed_frac) * 100, 4)} %` : '–'];
      })])), '',
  ];
  // Where the shards cannot keep up, the backlog grows (by more than 1 % of the arrival rate: 100 jobs/s at load 1).
  const over = loads.filter((l) => num(pick(rows, 'price × waited', l, top)?.backlog_growth_per_s) > 100 * l);
  lines.push(over.length === 0
    ? 'At every load the shards kept up: the backlog did not grow.'
    : `From load ${f(over[0] as number)} the four shards cannot place jobs as fast as they arrive (the backlog column: jobs in the system, growth per second), ` +
      'so a queue builds at the shards and their rule decides who waits in it.', '');
  const hi = loads[loads.length - 1] as number;
  const pw = pick(rows, 'price × waited', hi, top), st = pick(rows, 'strict', hi, top);
  const pwLow = pick(rows, 'price × waited', hi, low), stLow = pick(rows, 'strict', hi, low);
  const worstStrict = Math.max(...loads.map((l) => num(pick(rows, 'strict', l, top)?.p99_slowdown)).filter(Number.isFinite));
  const worstPw = Math.max(...loads.map((l) => num(pick(rows, 'price × waited', l, top)?.p99_slowdown)).filter(Number.isFinite));
  lines.push(`At load ${f(hi)} the top class's p99 slowdown is ${f(pw?.p99_slowdown ?? '')} under price × waited and ${f(st?.p99_slowdown ?? '')} under strict order ` +
    `(the worst over the loads: ${f(worstPw)} and ${f(worstStrict)}). ` +
    `The lowest class's p99 wait is ${w(pwLow?.p99_wait_ms)} ms under price × waited and ${w(stLow?.p99_wait_ms)} ms under strict order, ` +
    `and it completes ${f(num(pwLow?.completed_frac) * 100, 4)} % and ${f(num(stLow?.completed_frac) * 100, 4)} % of its jobs before the run ends: ` +
    `strict order makes its p99 wait ${f(num(stLow?.p99_wait_ms) / num(pwLow?.p99_wait_ms))} × as long` +
    (num(stLow?.completed_frac) < num(pwLow?.completed_frac) - 0.005
      ? ', and leaves more of its jobs unfinished: it starves the low class, as the paper feared.'
      : ', but finishes about as many of its jobs (within half a percentage point): the low class waits longer, it is not starved.'), '');
  lines.push(`Files: class-order.csv, class-order-top.{svg,png}, class-order-low.{svg,png}.`, '');
  writeFileSync(join(opts.out, 'summary.md'), lines.join('\n'));
  return [...names(files), 'summary.md'];
}

// ---- 2. a bound on swapped memory ----------------------------------------------------------------

/**
 * Each machine's swap space as a multiple of the largest job's memory (0, ½, 1, 2, 4, unbounded), for
 * jobs of up to 5 and up to 10 GB on 32 GB machines. Memory admission is on, so a job that does not fit
 * waits (the bound shows as waiting, not as memory past RAM), and swapping is instantaneous (the paper's
 * model), so the bound is all that differs. The top class is whole where its p99 wait is what it is
 * with unbounded swap (within 1 ms) and it completes as many jobs.
 */
function swapBound(opts: FigOptions): string[] {
  const maxGBs = [5, 10];
  const mults = [0, 0.5, 1, 2, 4, Infinity];
  const loads = opts.quick ? [0.9] : [0.7, 0.8, 0.9];
  const variants: Variant[] = maxGBs.flatMap((gb) => mults.map((m) => ({
    label: `${gb} GB jobs, swap ${m === Infinity ? 'unbounded' : `${m}×`}`, group: `jobs up to ${gb} GB`, x: m,
    cluster: { ...DEFAULT_CLUSTER, memoryMB: 32 * 1024, idleList: true, memoryAdmission: true, swapOutSPerGiB: 0, swapInSPerGiB: 0, swapMB: m * gb * 1024 },
    policy: { name: '', kind: 'fare' },
    workload: { memory: { kind: 'uniform', minMB: 100, maxMB: gb * 1024 } },
  })));
  const base = { name: 'swap-bound', seed: opts.seed, prices: DEFAULT_PRICE_TABLE, workload: { kind: 'synthetic', jobs: opts.quick ? 80_000 : 300_000 }, loads, warmup: 0.1, measureTo: 0.8, drain: 0, samples: 10 };
  const rows = sweep(base, variants, opts.progress);
  const classes = DEFAULT_PRICE_TABLE.classes.map((c) => c.name);
  const top = classes[0] as string;
  const files = [writeRows(opts.out, 'swap-bound', rows)];
  const finite = mults.filter((m) => m !== Infinity);
  files.push(...chartFiles(writeChart(opts.out, 'swap-bound-top', lineChart({
    title: `A bound on swapped memory per machine: the top class (${top})`,
    subtitle: '100 machines × 8 cores, 32 GB each, memory admission, instantaneous swapping; no wait at all is drawn at 0.01 ms',
    xName: 'swap space per machine ÷ the largest job\'s memory', yName: 'p99 wait', yTicks: 'ms', yLog: true,
    panels: maxGBs.map((gb) => ({
      title: `jobs up to ${gb} GB`,
      series: loads.map((l): LineSeries => ({
        name: `load ${f(l)}`,
        points: finite.map((m) => [m, plotWait(rows.find((r) => r.group === `jobs up to ${gb} GB` && r.x === m && r.load === l && r.class === top)?.p99_wait_ms)] as const),
      })),
    })),
  }))));
  const lines = [
    '# A bound on swapped memory per machine', '',
    'The paper asks what bound on each machine\'s swapped memory, given the largest job\'s memory, keeps the top class whole. ' +
    'Here: 100 machines × 8 cores with 32 GB each, the paper\'s workload with each job\'s memory uniform between 100 MB and 5 or 10 GB, ' +
    'Fare with its idle list, **memory admission** (a job that does not fit waits, so a bound shows as waiting, not as memory past RAM) and ' +
    'instantaneous swapping (the paper\'s model: the bound is all that differs). The top class counts as whole where its p99 wait is within ' +
    `1 ms of its wait with unbounded swap and it completes as many of its jobs (within 0.1 %). Seed ${opts.seed}.`, '',
  ];
  for (const gb of maxGBs) {
    const g = `jobs up to ${gb} GB`;
    lines.push(`## ${g}`, '');
    lines.push(mdTable(['swap ÷ largest job', 'swap GB', ...loads.flatMap((l) => [`load ${f(l)}: ${top} p99 wait ms`, `load ${f(l)}: ${top} completed`, `load ${f(l)}: all classes completed`])],
      mults.map((m) => [m === Infinity ? 'unbounded' : f(m), m === Infinity ? '–' : f(m * gb), ...loads.flatMap((l) => {
        const rs = rows.filter((r) => r.group === g && r.x === m && r.load === l);
        const t = rs.find((r) => r.class === top);
        const jobs = rs.reduce((s, r) => s + num(r.jobs), 0), done = rs.reduce((s, r) => s + num(r.completed), 0);
        return [w(t?.p99_wait_ms), t ? `${f(num(t.completed_frac) * 100, 4)} %` : '–', jobs > 0 ? `${f((done / jobs) * 100, 4)} %` : '–'];
      })])), '');
    const verdicts = loads.map((l) => {
      const at = (m: number): SweepRow | undefined => rows.find((r) => r.group === g && r.x === m && r.load === l && r.class === top);
      const ref = at(Infinity);
      const whole = finite.find((m) => {
        const r = at(m);
        return r !== undefined && num(r.completed_frac) >= num(ref?.completed_frac) - 0.001 && num(r.p99_wait_ms) <= num(ref?.p99_wait_ms) + 1;
      });
      return `load ${f(l)}: ${whole === undefined ? `no finite bound tried (up to ${f(finite[finite.length - 1] as number)}×) keeps the top class whole` : `${f(whole)}× the largest job (${f(whole * gb)} GB) keeps the top class whole`}`;
    });
    lines.push(`Smallest bound that keeps the top class whole — ${verdicts.join('; ')}.`, '');
  }
  lines.push('Files: swap-bound.csv (every class, with the GB each class had swapped out), swap-bound-top.{svg,png} (unbounded swap is in the tables only).', '');
  writeFileSync(join(opts.out, 'summary.md'), lines.join('\n'));
  return [...names(files), 'summary.md'];
}

// ---- 3. idle list and shard count ----------------------------------------------------------------

/**
 * 10,000 machines (1,000 with --quick) × 8 cores, 1 to 100 shards, idle list on (Fare's rule: a listed
 * machine only while it has a free core), on by the paper's rule (while it has free memory), and off. Messages take
 * 0.05 ms each way, so a poll costs a round trip and a shard's 64 polls in flight bound how fast it
 * places without its idle list. Memory 32 GB per machine, swapping instantaneous (the paper's model).
 */
function shards(opts: FigOptions): string[] {
  const machines = opts.quick ? 1000 : 10_000;
  const counts = [1, 2, 5, 10, 20, 50, 100];
  const loads = opts.quick ? [0.9] : [0.5, 0.9];
  const groups = ['idle list on', 'idle list, paper\'s rule', 'idle list off'];
  const variants: Variant[] = groups.flatMap((g) => counts.map((n) => ({
    label: `${n} shard${n === 1 ? '' : 's'}, ${g}`, group: g, x: n,
    cluster: { ...DEFAULT_CLUSTER, machines, shards: n, memoryMB: 32 * 1024, idleList: g !== 'idle list off', swapOutSPerGiB: 0, swapInSPerGiB: 0, swapMB: Infinity, latency: { kind: 'fixed', ms: 0.05 } },
    policy: { name: '', kind: 'fare', ...(g === groups[1] ? { idleFreeCore: false } : {}) },
  })));
  const base = { name: 'shards', seed: opts.seed, prices: DEFAULT_PRICE_TABLE, workload: { kind: 'synthetic', jobs: opts.quick ? 100_000 : 1_000_000 }, loads, warmup: 0.1, measureTo: 0.8, drain: 0, samples: 10 };
  const rows = sweep(base, variants, opts.progress);
  const classes = DEFAULT_PRICE_TABLE.classes.map((c) => c.name);
  const top = classes[0] as string, low = classes[classes.length - 1] as string;
  const files = [writeRows(opts.out, 'shards', rows)];
  files.push(...chartFiles(writeChart(opts.out, 'shards-wait', lineChart({
    title: `Shards and the idle list at ${formatGrouped(machines)} machines: p99 wait of the lowest class (${low})`,
    subtitle: '8 cores and 32 GB each, 0.05 ms per message, 64 polls in flight per shard; no wait at all is drawn at 0.01 ms',
    xName: 'shards (log scale)', yName: 'p99 wait', yTicks: 'ms', yLog: true, xLog: true,
    panels: loads.map((l) => ({
      title: `load ${f(l)}`,
      series: groups.map((g): LineSeries => ({ name: g, points: counts.map((n) => [n, plotWait(rows.find((r) => r.group === g && r.x === n && r.load === l && r.class === low)?.p99_wait_ms)] as const) })),
    })),
  }))));
  files.push(...chartFiles(writeChart(opts.out, 'shards-idle-hits', barChart({
    title: `Shards and the idle list at ${formatGrouped(machines)} machines: placements from an idle list`,
    subtitle: 'the rest by power-of-k polling',
    xName: 'shards', yName: 'share of placements', yMin: 0, yMax: 1,
    panels: loads.map((l) => ({
      title: `load ${f(l)}`,
      categories: counts.map(String),
      series: groups.slice(0, 2).map((g) => ({ name: g, values: counts.map((n) => num(rows.find((r) => r.group === g && r.x === n && r.load === l)?.idle_list_placements)) })),
    })),
  }))));
  const lines = [
    `# The idle list and the number of shards at ${formatNumber(machines)} machines`, '',
    `${formatNumber(machines)} machines × 8 cores with 32 GB each, the paper's workload, Fare, 1 to 100 shards with the idle list on and off. ` +
    'On: Fare\'s rule, a shard places from its idle list only on a machine with a free core (as far as it knows: the jobs the machine ' +
    'last reported plus those placed since); by the paper\'s rule, on any listed machine while it has the free memory to stay listed. ' +
    'The simulator gives a shard no processing time, so what a shard costs here is its messages: each takes 0.05 ms one way, a poll a round ' +
    `trip, and a shard has at most 64 polls in flight. Swapping is instantaneous (the paper's model). Seed ${opts.seed}.`, '',
  ];
  for (const l of loads) {
    lines.push(`## Load ${f(l)}`, '');
    lines.push(mdTable(['shards', ...groups.flatMap((g) => [`${g}: ${top} p99 wait ms`, `${g}: ${low} p99 wait ms`, `${g}: util`, `${g}: from idle list`])],
      counts.map((n) => [String(n), ...groups.flatMap((g) => {
        const t = rows.find((r) => r.group === g && r.x === n && r.load === l && r.class === top);
        const b = rows.find((r) => r.group === g && r.x === n && r.load === l && r.class === low);
        return [w(t?.p99_wait_ms), w(b?.p99_wait_ms), f(t?.util_mean ?? ''), t ? `${f(num(t.idle_list_placements) * 100, 3)} %` : '–'];
      })])), '');
    const lowWait = (g: string, n: number): number => num(rows.find((r) => r.group === g && r.x === n && r.load === l && r.class === low)?.p99_wait_ms);
    const best = (g: string): number => counts.reduce((b, n) => (lowWait(g, n) < lowWait(g, b) ? n : b), counts[0] as number);
    const within = (g: string): number[] => counts.filter((n) => lowWait(g, n) <= 10);
    const say = (g: string): string => {
      const ok = within(g);
      return `${g}, ${w(lowWait(g, best(g)))} ms at best (${best(g)} shard${best(g) === 1 ? '' : 's'}); within 10 ms with ${ok.length === 0 ? 'none of the counts tried' : `${ok.join(', ')} shards`}`;
    };
    lines.push(`The lowest class's p99 wait: ${groups.map(say).join('; ')}.`, '');
  }
  lines.push('Files: shards.csv, shards-wait.{svg,png}, shards-idle-hits.{svg,png}.', '');
  writeFileSync(join(opts.out, 'summary.md'), lines.join('\n'));
  return [...names(files), 'summary.md'];
}

// ---- 4. swapping against the kernel's paging ------------------------------------------------------

/**
 * Fig. 5's cluster (100 × 8 cores, 32 GB each, the swap device this machine's kernel measured:
 * 0.6 s/GiB out, 2.9 s/GiB back, swap space as large as RAM), Fare, the same jobs under two orders of
 * the same swap decisions: Fare's (the lowest class first, its latest arrival first) and the kernel's
 * as modelled here (the job that ran least recently first, whatever its class). The kernel works in
 * pages, not jobs; this model keeps whole jobs, so what it compares is who is swapped, not how.
 */
function swapPaging(opts: FigOptions): string[] {
  const loads = opts.quick ? [0.9, 1.1] : [0.8, 0.9, 1.0, 1.1];
  const orders = [
    { label: 'by class (Fare)', order: 'class' as const },
    { label: 'least recently run (kernel-like)', order: 'lru' as const },
    { label: 'least recently run, page level (kernel-like)', order: 'pages' as const },
  ];
  const variants: Variant[] = orders.map((o, i) => ({
    label: o.label, group: o.order, x: i,
    cluster: { ...DEFAULT_CLUSTER, memoryMB: 32 * 1024, idleList: true, swapOrder: o.order },
    policy: { name: '', kind: 'fare' },
  }));
  const base = { name: 'swap-paging', seed: opts.seed, prices: DEFAULT_PRICE_TABLE, workload: { kind: 'synthetic', jobs: opts.quick ? 150_000 : 1_000_000 }, loads, warmup: 0.1, measureTo: 0.8, drain: 0, samples: 10 };
  const rows = sweep(base, variants, opts.progress);
  const classes = DEFAULT_PRICE_TABLE.classes.map((c) => c.name);
  const files = [writeRows(opts.out, 'swap-paging', rows)];
  const at = (v: string, l: number, c: string): SweepRow | undefined => pick(rows, v, l, c);
  files.push(...chartFiles(writeChart(opts.out, 'swap-paging-slowdown', lineChart({
    title: 'Swapping by class against the kernel\'s order: p99 slowdown per class',
    subtitle: '100 machines × 8 cores, 32 GB each, swap device 0.6 s/GiB out and 2.9 s/GiB back',
    xName: 'offered load', yName: 'p99 slowdown', yLog: true, columns: 2,
    panels: classes.map((c) => ({
      title: c,
      series: orders.map((o): LineSeries => ({ name: o.label, points: loads.map((l) => { const x = num(at(o.label, l, c)?.p99_slowdown); return [l, Number.isFinite(x) ? x : null] as const; }) })),
    })),
  }))));
  const moved = (v: string, l: number): number => rows.filter((r) => r.variant === v && r.load === l).reduce((s, r) => s + r.swapped_out_gb + r.swapped_in_gb, 0);
  const lines = [
    '# Swapping by class against the kernel\'s paging', '',
    'The paper asks whether swapping whole jobs by class beats leaving memory to the kernel\'s paging. Here: Fig. 5\'s cluster (100 machines × 8 cores, ' +
    '32 GB each, the paper\'s workload, Fare with its idle list), each machine\'s swap device as this machine\'s kernel measured it (0.6 s per GiB written, ' +
    '2.9 s per GiB read back; `npm run bench:swap`), swap space as large as RAM. The same swap decisions — when, and how much — are ordered two ways: ' +
    '**Fare\'s** (the lowest class first, its latest arrival first, whole jobs) and **the kernel\'s** as modelled here (the job that ran least recently first, ' +
    'whatever its class: reclaim takes the coldest memory, and the kernel knows no classes), twice: whole jobs, and **at page level** — only the memory ' +
    'needed goes, the last job taken from keeping the rest of its memory resident, and only the part that went is read back before the job runs again. ' +
    'The page model leaves out two things the kernel does: it also takes cold pages of running jobs (here a running job\'s memory is all its working ' +
    `set), and it reads pages back as they are touched, spread over the run (here the part is read back first, at the device's rate). Seed ${opts.seed}.`, '',
  ];
  for (const l of loads) {
    lines.push(`## Load ${f(l)}`, '');
    lines.push(mdTable(['class', ...orders.flatMap((o) => [`${o.label}: p99 ms`, `${o.label}: p99 wait ms`, `${o.label}: p99 slowdown`, `${o.label}: GB out / in`])],
      classes.map((c) => [c, ...orders.flatMap((o) => {
        const r = at(o.label, l, c);
        return [f(r?.p99_ms ?? ''), w(r?.p99_wait_ms), f(r?.p99_slowdown ?? ''), r ? `${f(r.swapped_out_gb)} / ${f(r.swapped_in_gb)}` : '–'];
      })])), '');
    const top = classes[0] as string;
    const [fa, ke, pg] = orders.map((o) => num(at(o.label, l, top)?.p99_slowdown));
    const low = classes[classes.length - 1] as string;
    const [fl, kl, pl] = orders.map((o) => num(at(o.label, l, low)?.p99_slowdown));
    lines.push(`The top class's p99 slowdown: ${f(fa as number)} with Fare's order, ${f(ke as number)} with the kernel's by whole jobs, ${f(pg as number)} at page level; ` +
      `the lowest class's: ${f(fl as number)}, ${f(kl as number)}, ${f(pl as number)}. Memory moved (out and back in, all classes): ` +
      `${f(moved(orders[0]!.label, l))} GB, ${f(moved(orders[1]!.label, l))} GB and ${f(moved(orders[2]!.label, l))} GB.`, '');
  }
  lines.push('Files: swap-paging.csv (every class, GB swapped out and read back), swap-paging-slowdown.{svg,png}.', '');
  writeFileSync(join(opts.out, 'summary.md'), lines.join('\n'));
  return [...names(files), 'summary.md'];
}

/** The named experiments, in the order of the paper's open questions. */
export const QUESTIONS: readonly { readonly name: string; readonly about: string; readonly run: (opts: FigOptions) => string[] }[] = [
  { name: 'class-order', about: 'the shard\'s next job by price × time waited, strictly by class, or class-blind: top-class tail, low-class starvation', run: classOrder },
  { name: 'swap-paging', about: 'swapping whole jobs by class against the kernel\'s order (least recently run first, blind to classes), by whole jobs and at page level: latency per class and bytes moved', run: swapPaging },
  { name: 'swap-bound', about: 'a bound on swapped memory per machine, as a multiple of the largest job\'s memory: which keeps the top class whole', run: swapBound },
  { name: 'shards', about: 'idle list on (Fare\'s rule or the paper\'s) and off, 1 to 100 shards, at 10,000 machines', run: shards },
];

/** Runs the named experiment into `opts.out`; returns the files written. */
export function runQuestion(name: string, opts: FigOptions): string[] {
  const q = QUESTIONS.find((x) => x.name === name);
  if (q === undefined) throw new RangeError(`unknown experiment "${name}": the experiments are ${QUESTIONS.map((x) => x.name).join(', ')}`);
  mkdirSync(opts.out, { recursive: true });
  return q.run(opts);
}
