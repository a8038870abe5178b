// A shard that orders a class by expected CPU time (`shardWithin: sef`), in the simulator: the
// gateway learns each function's CPU time from the completions it hears of and stamps arrivals with it.

import { describe, expect, it } from 'vitest';
import { DEFAULT_PRICE_TABLE } from '../core/classes.ts';
import { Simulation } from './engine.ts';
import { DEFAULT_CLUSTER } from './experiment.ts';
import type { ShardWithin } from '../core/shard/multi-queue.ts';
import type { JobBatch, JobSource } from './workload/index.ts';

/** A fixed list of class-0 jobs: [arrival ms, runtime ms, function]. */
function listSource(jobs: readonly (readonly [number, number, number])[]): JobSource {
  let next = 0;
  return {
    meanRuntimeMs: jobs.reduce((s, j) => s + j[1], 0) / jobs.length,
    total: jobs.length,
    info: { kind: 'synthetic', functions: 2, ratePerMs: 0, offeredLoad: 0, spanMs: jobs.at(-1)?.[0] ?? 0, classShares: [1] },
    fill(b: JobBatch, max: number): number {
      let n = 0;
      for (; next < jobs.length && n < max && n < b.id.length; next++, n++) {
        const [arrival, runtime, fn] = jobs[next] as readonly [number, number, number];
        b.id[n] = next;
        b.arrival[n] = arrival;
        b.runtime[n] = runtime;
        b.cls[n] = 0;
        b.fn[n] = fn;
        b.memMB[n] = 100;
      }
      b.count = n;
      return n;
    },
  };
}

/** The order in which the shard placed the jobs (their ids). */
function placements(shardWithin: ShardWithin): number[] {
  const lines: string[] = [];
  new Simulation({
    // One shard with one poll in flight, each taking 2 ms: jobs that arrive together wait at the shard.
    cluster: { ...DEFAULT_CLUSTER, machines: 2, cores: 4, shards: 1, k: 2, idleList: false, memoryMB: Infinity, maxOutstandingPolls: 1, pollLatencyMs: 2 },
    policy: { name: 'fare', kind: 'fare', shardWithin }, prices: DEFAULT_PRICE_TABLE, seed: 1, measureFrom: 0, measureTo: 1e9, horizon: 1e9, samples: 0,
    onDecision: (line) => lines.push(line),
  }, listSource([
    // The gateway first sees function 1 take 50 ms and function 2 take 1 ms…
    [0, 50, 1], [0.1, 1, 2],
    // …then five calls come at once: the first is polled for at once, the others wait at the shard.
    [100, 50, 1], [100.1, 50, 1], [100.2, 50, 1], [100.3, 1, 2], [100.4, 50, 1],
  ])).run();
  return lines.filter((l) => / place /.test(l)).map((l) => Number(/job=(\d+)/.exec(l)?.[1]));
}

describe('shard order within a class: shortest expected first', () => {
  it('fcfs (the default): the shard places a class in arrival order', () => {
    expect(placements('fcfs')).toEqual([0, 1, 2, 3, 4, 5, 6]);
  });

  it('sef: a call of a function the gateway has seen to be short goes ahead of the long ones that wait', () => {
    expect(placements('sef')).toEqual([0, 1, 2, 5, 3, 4, 6]);
  });
});
