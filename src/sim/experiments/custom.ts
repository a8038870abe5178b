// `fare sim run CONFIG`: runs any experiment and writes the latency report for every policy, plus the
// memory report for each policy that ran with limited memory, and a summary.

import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { runExperiment, type ExperimentRun, type ExperimentSpec, type Progress } from '../experiment.ts';
import { latencyRows, mdTable, unstableLines, writeLatencyReport } from './latency-report.ts';
import { writeMemoryReport } from './fig5.ts';

import { formatNumber } from '../report/number-format.ts';

export function runCustom(spec: ExperimentSpec, dir: string, progress?: Progress): string[] {
  const runs = runExperiment(spec, progress);
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
    mdTable(['policy', 'load', 'class', 'jobs', 'completed', 'p50 ms', 'p99 ms', 'p99.9 ms', 'p99 wait ms', 'p99 slowdown', 'p99.9 slowdown', 'util'],
      rows.map((r) => [f(r.policy), f(r.load), f(r.class), f(r.jobs), f(r.completed), f(r.p50_ms), f(r.p99_ms), f(r.p999_ms), f(r.p99_wait_ms), f(r.p99_slowdown), f(r.p999_slowdown), f(r.util_mean)])),
    '',
    'Wait: response − runtime, the time a job was not served (queued, preempted, waiting for its memory; under processor sharing, also slowed by sharing). Slowdown: response ÷ runtime, every runtime at least the workload\'s floor (1 ms for the traces).',
    '',
    ...unstableLines(runs),
    ...classShareLines(spec, runs),
  ];
  writeFileSync(join(dir, 'summary.md'), lines.join('\n'));
  files.push('summary.md');
  return files;
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
