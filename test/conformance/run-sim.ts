// A scenario through the simulator: its cluster, a zero-latency Bus, the scenario's arrivals as the
// job stream; returns the decision log.

import { DEFAULT_PRICE_TABLE } from '../../src/core/classes.ts';
import { Simulation } from '../../src/sim/engine.ts';
import type { JobBatch, JobSource } from '../../src/sim/workload/index.ts';
import { arrivals, CLUSTER_FRACTIONS, type Scenario } from './scenario.ts';

export function runSim(s: Scenario): string[] {
  const lines: string[] = [];
  const jobs = arrivals(s);
  let next = 0;
  const source: JobSource = {
    meanRuntimeMs: 1,
    total: jobs.length,
    info: { kind: 'synthetic', functions: 1, ratePerMs: 1, offeredLoad: 1, spanMs: 1, classShares: [1] },
    fill(batch: JobBatch, max: number): number {
      let n = 0;
      while (next < jobs.length && n < Math.min(max, batch.id.length)) {
        const j = jobs[next] as (typeof jobs)[number];
        batch.id[n] = next + 1;
        batch.arrival[n] = j.at;
        batch.runtime[n] = j.runtime;
        batch.cls[n] = j.cls;
        batch.fn[n] = j.fn;
        batch.memMB[n] = j.memMB;
        n++;
        next++;
      }
      batch.count = n;
      return n;
    },
  };
  new Simulation({
    cluster: {
      machines: s.machines, cores: s.cores, memoryMB: s.memoryMB, shards: s.shards, k: s.k, idleList: s.idleList,
      ...CLUSTER_FRACTIONS, maxOutstandingPolls: s.maxOutstandingPolls, pollLatencyMs: 0,
      // Swapping as the live run's model executor does it: at once, into unbounded swap space.
      swapOutSPerGiB: 0, swapInSPerGiB: 0, swapMB: Infinity,
      ...(s.limits !== undefined ? { concurrencyLimits: s.limits } : {}),
    },
    policy: { name: s.policy, kind: s.policy, ...(s.within !== undefined ? { within: s.within } : {}) },
    prices: DEFAULT_PRICE_TABLE,
    seed: s.seed,
    measureFrom: 0,
    measureTo: Infinity,
    horizon: Infinity,
    samples: 0,
    onDecision: (line) => lines.push(line),
  }, source).run();
  return lines;
}
