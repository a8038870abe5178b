// `fare sim replay FILE`: live traffic recorded by `fare up --record FILE`, run in the simulator on
// the same core. First the recorded policy on the recorded machine — its per-class latencies next to
// what was measured live, so the simulator's evidence can be checked against the system users ran —
// then the same traffic under other policies or another price table ("what if").

import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { makePriceTable, type PriceTable } from '../../core/classes.ts';
import { WorkloadError } from '../workload/trace-csv.ts';
import { parseExperiment, runExperiment, type ExperimentRun, type Progress } from '../experiment.ts';
import { quantileSorted } from '../report/box-stats.ts';
import { toCsv } from '../report/csv.ts';
import { formatNumber } from '../report/number-format.ts';
import { readRecording, recordedLoad, type RecordedTrace } from '../workload/recorded.ts';
import { latencyRows, mdTable } from './latency-report.ts';

export interface ReplayOptions {
  readonly file: string;
  /** Other policies to run on the same traffic (experiment policy names: hermod, fifo, edf, …). */
  readonly policies?: readonly string[];
  /** Another price table for the what-if runs (classes by name; `rename` maps recorded names). */
  readonly prices?: PriceTable;
  readonly rename?: Readonly<Record<string, string>>;
  readonly seed: number;
  readonly out: string;
  readonly progress?: Progress;
}

/** The comparison's goal: the simulator within this of the live p50 and p99, per class. */
export const REPLAY_TOLERANCE = 0.15;
const MIN_RUNTIME_MS = 0.01;

export interface ReplayComparison {
  readonly class: string;
  readonly invocations: number;
  readonly liveP50: number;
  readonly simP50: number | undefined;
  readonly liveP99: number;
  readonly simP99: number | undefined;
}

/** The recorded policy as an experiment policy. */
function recordedPolicy(trace: RecordedTrace): unknown {
  const p = trace.header.policy;
  return p === 'fare' ? { kind: 'fare', name: 'fare (recorded)', ...(trace.header.within !== undefined ? { within: trace.header.within } : {}) } : { kind: p, name: `${p} (recorded)` };
}

function spec(trace: RecordedTrace, file: string, policies: readonly unknown[], prices: PriceTable, rename: Readonly<Record<string, string>>, seed: number) {
  const h = trace.header;
  return parseExperiment({
    name: 'replay',
    seed,
    prices: { classes: prices.classes.map((c) => ({ name: c.name, price: c.price })) },
    // What `fare up` is: one shard, the machine joins its idle list; no network between the parts.
    // Memory is not modelled: the live machine's memory was not the bottleneck of a recording's
    // latencies unless it swapped, and the simulator's memory model (jobs growing to their size) is
    // not how live instances hold memory.
    // A cluster's: its shards, power-of-k with k = 2 (`fare shard`'s default) when the idle list is empty.
    cluster: { machines: h.machines, cores: h.cores, shards: h.shards ?? 1, k: Math.min(h.machines, (h.shards ?? 1) > 1 || h.machines > 1 ? 2 : 1), idleList: true },
    policies,
    // At the recorded speed: the load the recording offered on its own cores (time scale 1).
    workload: { kind: 'recorded', file, minRuntimeMs: MIN_RUNTIME_MS, classes: rename },
    loads: [recordedLoad(trace, h.cores * h.machines, MIN_RUNTIME_MS)],
    warmup: 0,
    measureTo: 1,
    drain: 100,
    samples: 40,
  });
}

/** Per class of the recording: live p50/p99 latency next to the simulated ones of the recorded policy's run. */
export function compare(trace: RecordedTrace, run: ExperimentRun): ReplayComparison[] {
  const byClass = new Map<string, number[]>();
  for (const r of trace.records) byClass.set(r.class, [...(byClass.get(r.class) ?? []), r.latencyMs]);
  const sim = new Map(latencyRows([run]).map((r) => [String(r.class), r]));
  const order = trace.header.prices.classes.map((c) => c.name).filter((n) => byClass.has(n));
  return order.map((name) => {
    const live = (byClass.get(name) ?? []).sort((a, b) => a - b);
    const s = sim.get(name);
    const num = (v: unknown): number | undefined => (typeof v === 'number' ? v : undefined);
    return { class: name, invocations: live.length, liveP50: quantileSorted(live, 0.5), simP50: num(s?.p50_ms), liveP99: quantileSorted(live, 0.99), simP99: num(s?.p99_ms) };
  });
}

export function runReplay(o: ReplayOptions): { files: string[]; comparison: ReplayComparison[] } {
  const trace = readRecording(o.file);
  const h = trace.header;
  const made = makePriceTable(h.prices.classes.map((c) => ({ name: c.name, price: c.price })), h.prices.memoryPrice ?? 0);
  if (!made.ok) throw new WorkloadError('FARE_E_TRACE_HEADER', `${o.file}:1: its price table is not valid: ${made.error}`);
  const recordedPrices = made.value;
  mkdirSync(o.out, { recursive: true });
  const same = runExperiment(spec(trace, o.file, [recordedPolicy(trace)], recordedPrices, {}, o.seed), o.progress);
  const base = same[0];
  if (base === undefined) throw new Error('the replay ran nothing');
  const comparison = compare(trace, base);
  const others = o.policies ?? ['hermod', 'fifo'];
  const whatIfPrices = o.prices ?? recordedPrices;
  const whatIf = runExperiment(spec(trace, o.file, [recordedPolicy(trace), ...others], whatIfPrices, o.rename ?? {}, o.seed), o.progress);

  const f = (x: number | undefined): string => (x === undefined ? '–' : formatNumber(x, 3));
  const ratio = (sim: number | undefined, live: number): string => (sim === undefined || live <= 0 ? '–' : `${formatNumber(sim / live, 3)}`);
  const within = (sim: number | undefined, live: number): boolean => sim !== undefined && live > 0 && Math.abs(sim / live - 1) <= REPLAY_TOLERANCE;
  const spanS = (trace.records[trace.records.length - 1]?.t ?? 0) / 1000 - (trace.records[0]?.t ?? 0) / 1000;
  const lines = [
    `# Replay of ${o.file}`,
    '',
    `Recorded ${h.recordedAt}: ${trace.records.length} invocations over ${formatNumber(spanS, 3)} s on ${h.machines} machine${h.machines > 1 ? 's' : ''} × ${h.cores} cores, policy ${h.policy}${h.within !== undefined ? ` (${h.within} within a class)` : ''}; offered load ${formatNumber(recordedLoad(trace, h.cores * h.machines, MIN_RUNTIME_MS), 3)} of the cores. Simulated with seed ${o.seed}.`,
    '',
    '## The recorded policy: live and simulated',
    '',
    mdTable(['class', 'invocations', 'live p50 ms', 'sim p50 ms', 'p50 sim ÷ live', 'live p99 ms', 'sim p99 ms', 'p99 sim ÷ live', `within ${REPLAY_TOLERANCE * 100} %`],
      comparison.map((c) => [c.class, String(c.invocations), f(c.liveP50), f(c.simP50), ratio(c.simP50, c.liveP50), f(c.liveP99), f(c.simP99), ratio(c.simP99, c.liveP99), within(c.simP50, c.liveP50) && within(c.simP99, c.liveP99) ? 'yes' : 'no'])),
    '',
    trace.records.every((r) => r.runMs !== undefined)
      ? 'Each job runs in the simulator for the time it held a core live (its receipt: start to answer, less preemptions and waits for its own calls), so a cold start and time off the CPU while holding a core are in both. What the simulator does not see: the gateway\'s, the shard\'s and the transport\'s own work (HTTP, authentication, messages) before a job reaches its machine and after it answers — in the live latency only.'
      : 'What the simulator does not see: this recording has no receipts (made before Fare kept them), so a job runs for its recorded CPU time, and time a function spends off the CPU while holding a core (waiting for I/O, sleeping), its cold start, and the gateway\'s and the runtime\'s own work are in the live latency only. The ratio says how much of the live latency the scheduling model explains.',
    '',
    `## What if: the same traffic under ${others.join(', ')}${o.prices !== undefined ? ', with the given price table' : ''}`,
    '',
    mdTable(['policy', 'class', 'jobs', 'p50 ms', 'p99 ms', 'p99 wait ms', 'p99 slowdown'],
      latencyRows(whatIf).filter((r) => r.jobs !== 0).map((r) => [String(r.policy), String(r.class), String(r.jobs), f(typeof r.p50_ms === 'number' ? r.p50_ms : undefined), f(typeof r.p99_ms === 'number' ? r.p99_ms : undefined), f(typeof r.p99_wait_ms === 'number' ? r.p99_wait_ms : undefined), f(typeof r.p99_slowdown === 'number' ? r.p99_slowdown : undefined)])),
    '',
  ];
  writeFileSync(join(o.out, 'summary.md'), lines.join('\n'));
  writeFileSync(join(o.out, 'replay-live-vs-sim.csv'), toCsv(['class', 'invocations', 'live_p50_ms', 'sim_p50_ms', 'live_p99_ms', 'sim_p99_ms'], comparison.map((c) => ({ class: c.class, invocations: c.invocations, live_p50_ms: c.liveP50, sim_p50_ms: c.simP50 ?? '', live_p99_ms: c.liveP99, sim_p99_ms: c.simP99 ?? '' }))));
  writeFileSync(join(o.out, 'replay-what-if.csv'), toCsv(['policy', 'class', 'jobs', 'p50_ms', 'p99_ms', 'p99_wait_ms', 'p99_slowdown'], latencyRows(whatIf).map((r) => ({ policy: r.policy, class: r.class, jobs: r.jobs, p50_ms: r.p50_ms, p99_ms: r.p99_ms, p99_wait_ms: r.p99_wait_ms, p99_slowdown: r.p99_slowdown }))));
  return { files: ['summary.md', 'replay-live-vs-sim.csv', 'replay-what-if.csv'], comparison };
}
