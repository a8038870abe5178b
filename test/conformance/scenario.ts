// A conformance scenario: a small cluster, a policy and a script of timed arrivals (class, function,
// work, memory), written once and run through both drivers. Job i (from 1) is the i-th arrival.

import type { PolicyKind } from '../../src/core/presets.ts';

export interface ScenarioJob {
  /** Arrival time (ms). */
  readonly at: number;
  readonly cls: number;
  readonly fn: number;
  /** Work in core-ms (never told to the scheduler). */
  readonly runtime: number;
  /** Resident memory (MB, at most 100: constant through the job's life in both drivers). */
  readonly memMB: number;
}

export interface Scenario {
  readonly name: string;
  readonly seed: number;
  readonly policy: Exclude<PolicyKind, 'edf'>;
  readonly machines: number;
  readonly cores: number;
  readonly shards: number;
  readonly k: number;
  /** Memory per machine (MB); Infinity: unmanaged. */
  readonly memoryMB: number;
  readonly idleList: boolean;
  readonly maxOutstandingPolls: number;
  readonly jobs: readonly ScenarioJob[];
}

export const CLUSTER_FRACTIONS = { joinFree: 0.5, leaveFree: 0.25, updateDelta: 0.1, swapTarget: 0.95 } as const;

/** Jobs sorted by arrival, ties by their order in the script. */
export function arrivals(s: Scenario): ScenarioJob[] {
  return s.jobs.map((j, i) => ({ j, i })).sort((a, b) => a.j.at - b.j.at || a.i - b.i).map((x) => x.j);
}
