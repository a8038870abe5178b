// What one simulation run is given: the cluster, the policy (named, with its preset from the core),
// the price table, the seed and the measurement window. Plain data, shared by the engine, the
// recorder and the experiments.

import type { Millis } from '../core/types.ts';
import type { PriceTable } from '../core/classes.ts';
import type { PolicyKind } from '../core/presets.ts';
import type { SelectionRule, ShardWithin } from '../core/shard/multi-queue.ts';
import type { WithinClass } from '../core/machine/run-queue.ts';
import type { SwapOrder } from '../core/machine/swapper.ts';
import type { LatencyModel } from './bus.ts';
import type { ShardChoice } from '../core/intake.ts';

export type { PolicyKind } from '../core/presets.ts';

export interface PolicySpec {
  /** Label in reports (e.g. "fare", "fare-strict"). */
  readonly name: string;
  readonly kind: PolicyKind;
  /** Shard selection rule (fare, fifo); hermod always uses `fifo`. */
  readonly selection?: SelectionRule;
  /** Overrides the cluster's idle-list setting for this policy. */
  readonly idleList?: boolean;
  /** Order within a class on Fare's machines (default: the preset's, `las`; `fcfs` is the paper's; with memory admission `fcfs`). */
  readonly within?: WithinClass;
  /** Fare's placement: from the idle list only onto a machine with a free core (default true; false: the paper's rule). */
  readonly idleFreeCore?: boolean;
  /** Order within a class in Fare's shard queues (default `fcfs`; `sef`: by each function's expected CPU time, learnt by the gateway). */
  readonly shardWithin?: ShardWithin;
}

export interface ClusterConfig {
  readonly machines: number;
  readonly cores: number;
  /** Memory per machine (MB); Infinity: unlimited (no memory model). */
  readonly memoryMB: number;
  readonly shards: number;
  readonly k: number;
  readonly idleList: boolean;
  /** Dispatcher thresholds as fractions of machine memory. */
  readonly joinFree: number;
  readonly leaveFree: number;
  readonly updateDelta: number;
  /** Swap out down to this fraction of memory. */
  readonly swapTarget: number;
  /**
   * Each machine's swap device, in seconds per GiB written (page-out) and read back (swap-in); 0:
   * instantaneous (the paper's model). Defaults: this machine's kernel measured by `npm run
   * bench:swap` (a plain process under load, page-out 0.60 s/GiB; read ahead and every page touched, 2.9 s/GiB).
   */
  readonly swapOutSPerGiB: number;
  readonly swapInSPerGiB: number;
  /** Swap space per machine (MB); default: as much as its memory. Infinity: unbounded. */
  readonly swapMB?: number;
  /**
   * Which jobs are swapped out first (core `SwapConfig.order`): `class` (Fare's, the default) or
   * `lru` (a model of the kernel's reclaim, blind to classes: the `swap-paging` experiment).
   */
  readonly swapOrder?: SwapOrder;
  /**
   * Memory admission on every machine (core `MachineConfig.admission`): resident memory never
   * exceeds a machine's RAM by the scheduler's doing — a job that does not fit waits, memory is
   * swapped out first. Default off: the paper's model (a placed job's initial memory is resident at
   * once, running jobs grow past RAM).
   */
  readonly memoryAdmission?: boolean;
  readonly maxOutstandingPolls: number;
  /**
   * Round trip of a shard's poll to a machine (ms), half each way. 0 with a zero `latency` is the
   * paper's assumption 2 (communication takes no time); above 0 the answer reaches the shard that
   * much later, with the machine's load as it was half-way, and jobs queue in the shard's
   * multi-queue while polls are in flight.
   */
  readonly pollLatencyMs: number;
  /** How long a shard or dispatcher waits for a poll's answers before deciding without them (default: forever). */
  readonly pollTimeoutMs?: number;
  /** One-way time of every message between the parts (default: zero). */
  readonly latency?: LatencyModel;
  /**
   * Which shard a job enters by (core `ShardPicker`): `round-robin` (the default: one gateway spreading
   * its jobs evenly, the paper's setting) or `by-function` (function id modulo the shards; with
   * uniformly drawn functions, each shard a Poisson share of a Poisson stream, as JIQ's analysis has it).
   */
  readonly intake?: ShardChoice;
  /**
   * Functions' concurrency limits (Lambda's reserved concurrency), by function number: a function's
   * shard keeps at most that many of its jobs at once, from arrival until they complete, and refuses
   * the others (counted per class as `refused`; they never run). Not under `edf` (it has no shards).
   */
  readonly concurrencyLimits?: Readonly<Record<number, number>>;
}

/** The key of function `fn`'s concurrency limit in the simulator's arrivals (`ArriveMsg.cap`). */
export const simFunctionKey = (fn: number): string => `f${fn}`;

export interface RunConfig {
  readonly cluster: ClusterConfig;
  readonly policy: PolicySpec;
  readonly prices: PriceTable;
  readonly seed: number;
  /** Jobs arriving in [measureFrom, measureTo) are measured. */
  readonly measureFrom: Millis;
  readonly measureTo: Millis;
  /** Simulation stops here (jobs still in the system count as not completed). */
  readonly horizon: Millis;
  /** Utilization / memory samples over [measureFrom, measureTo). */
  readonly samples: number;
  readonly onProgress?: (arrived: number) => void;
  /** Every decision of the shards and machines, as a line of text (the conformance suite's log). */
  readonly onDecision?: (line: string) => void;
}
