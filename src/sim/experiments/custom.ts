// `fare sim run CONFIG`: runs any experiment and writes the latency report for every policy, plus the
// memory report for each policy that ran with limited memory, and a summary.

import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { runExperiment, type ExperimentSpec, type Progress } from '../experiment.ts';
import { latencyRows, mdTable, writeLatencyReport } from './latency-report.ts';
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
    mdTable(['policy', 'load', 'class', 'jobs', 'completed', 'p50 ms', 'p99 ms', 'p99 slowdown', 'util'],
      rows.map((r) => [f(r.policy), f(r.load), f(r.class), f(r.jobs), f(r.completed), f(r.p50_ms), f(r.p99_ms), f(r.p99_slowdown), f(r.util_mean)])),
    '',
  ];
  writeFileSync(join(dir, 'summary.md'), lines.join('\n'));
  files.push('summary.md');
  return files;
}
