// A conformance scenario: a small cluster, a policy and a script of timed arrivals (class, function,
// work, memory), written once and run through both drivers. Job i (from 1) is the i-th arrival.

import type { WithinClass } from '../../src/core/machine/run-queue.ts';
import type { PolicyKind } from '../../src/core/presets.ts';
import { DEFAULT_PRICE_TABLE, inheritContext } from '../../src/core/classes.ts';
import { admit } from '../../src/core/budget.ts';

export interface ScenarioJob {
  /** Arrival time (ms). */
  readonly at: number;
  readonly cls: number;
  readonly fn: number;
  /** Work in core-ms (never told to the scheduler). */
  readonly runtime: number;
  /** Resident memory (MB, at most 100: constant through the job's life in both drivers). */
  readonly memMB: number;
  /**
   * A synchronous call made by job `calledBy` (its place in the script, from 1) of the same tenant:
   * the gateway runs it at the class the core's `inheritContext` gives.
   */
  readonly calledBy?: number;
  /** A tenant (with `degrade`) has spent this fraction of its monthly budget a tenth into the month: the gateway asks the core's `admit`. */
  readonly spentOfBudget?: number;
}

export interface Scenario {
  readonly name: string;
  readonly seed: number;
  readonly policy: Exclude<PolicyKind, 'edf'>;
  /** Fare's order within a class (default fcfs). */
  readonly within?: WithinClass;
  readonly machines: number;
  readonly cores: number;
  readonly shards: number;
  readonly k: number;
  /** Memory per machine (MB); Infinity: unmanaged. */
  readonly memoryMB: number;
  readonly idleList: boolean;
  readonly maxOutstandingPolls: number;
  /** Functions' concurrency limits, by function number (Lambda's reserved concurrency). */
  readonly limits?: Readonly<Record<number, number>>;
  readonly jobs: readonly ScenarioJob[];
}

export const CLUSTER_FRACTIONS = { joinFree: 0.5, leaveFree: 0.25, updateDelta: 0.1, swapTarget: 0.95 } as const;

/**
 * Jobs sorted by arrival (ties by their order in the script), each at the class the gateway gives it
 * by the core's rules: inherited along a call chain, lowered to the cheapest by a budget's `degrade`.
 */
export function arrivals(s: Scenario): ScenarioJob[] {
  const classes: number[] = [];
  const effective = s.jobs.map((j, i): ScenarioJob => {
    let cls = j.cls;
    if (j.calledBy !== undefined) {
      const caller = classes[j.calledBy - 1];
      if (caller === undefined) throw new Error(`job ${i + 1} is called by job ${j.calledBy}, which is not before it in the script`);
      cls = inheritContext({ tenant: 't', cls: caller, deadline: Infinity }, { owner: 't', cls, deadline: Infinity }, true).cls;
    }
    if (j.spentOfBudget !== undefined) {
      const budget = 1000;
      const month = 30 * 86_400_000;
      const cheapest = DEFAULT_PRICE_TABLE.classes.length - 1;
      const v = admit({ now: month / 10, monthStart: 0, monthEnd: month, budget, action: 'degrade', spent: j.spentOfBudget * budget, reserved: 0, estimate: 1, cheapestEstimate: 0.25 });
      if (v.kind === 'degrade') cls = cheapest;
      else if (v.kind === 'throttle') throw new Error(`job ${i + 1} would be throttled, not run: pick spentOfBudget below 1`);
    }
    classes.push(cls);
    return { ...j, cls };
  });
  return effective.map((j, i) => ({ j, i })).sort((a, b) => a.j.at - b.j.at || a.i - b.i).map((x) => x.j);
}
