// The scheduling policies Fare can run, each written once as the settings of the core's parts: how a
// shard picks the next job, whether it uses idle lists, how a machine shares its cores, whether it
// swaps by class. The simulator and the live system both take their policy from here.

import type { SelectionRule, ShardWithin } from './shard/multi-queue.ts';
import type { ShardConfig, ShardPlacement } from './shard/shard.ts';
import type { MachinePolicy, WithinClass } from './machine/run-queue.ts';

/**
 * `fare`: the paper's design; `hermod`: class-blind FIFO shards and processor sharing; `fifo`: classes
 * ignored, FCFS on machines; `edf`: the centralized oracle; `np-priority`: Fare without preemption;
 * `random`: random placement, FCFS machines; `hermod-pack`: Hermod as published, packing at low load;
 * `jiq`: Join-Idle-Queue (JIQ-Random), FCFS machines; `sparrow`: Sparrow's batch sampling with d = 2
 * reservations and late binding, FCFS machines (the last six: simulator only).
 */
export type PolicyKind = 'fare' | 'hermod' | 'fifo' | 'edf' | 'np-priority' | 'random' | 'hermod-pack' | 'jiq' | 'sparrow';

export interface PolicyPreset {
  /** The shards' selection rule. */
  readonly selection: SelectionRule;
  /** The machines' run queue. */
  readonly machine: MachinePolicy;
  /** Order within a class on the machines (`priority` only; see run-queue.ts). */
  readonly within: WithinClass;
  /** Order within a class in the shards' queues (`fare` only; default `fcfs`; see multi-queue.ts). */
  readonly shardWithin?: ShardWithin;
  /** Shards place from idle lists (when the cluster has them). */
  readonly idleList: boolean;
  /** Machines swap out the lowest classes under memory pressure (when memory is managed). */
  readonly swapping: boolean;
  /** Classes matter on the machine: instances get kernel priorities by class. */
  readonly classAware: boolean;
  /** Machines a shard polls per job, when the policy fixes it (else the cluster's k). */
  readonly k?: number;
  /** Shards pack: the fullest polled machine with a free core, else the least loaded (Hermod as published). */
  readonly packing?: boolean;
  /** Where shards place a job their idle list does not take (default `poll`: power-of-k; see ShardPlacement). */
  readonly placement?: ShardPlacement;
  /**
   * JIQ's idle lists: a machine joins one shard's, drawn at random, when it is idle (a free core),
   * and a placement from it takes the machine off (ShardConfig.idleQueue, DispatcherConfig.joinWhen).
   */
  readonly joinIdle?: boolean;
  /**
   * Shards place from the idle list only on a machine with a free core (ShardConfig.idleNeedsCore);
   * false is the paper's rule: any listed machine, for as long as it has free memory.
   */
  readonly idleFreeCore?: boolean;
}

/**
 * Fare's order within a class on a live machine (`fare up`, a cluster's `fare worker`) when none is
 * asked for: LAS, as in the simulator, with one function's calls kept in order (below). Until
 * 2026-12-06 it was the paper's FCFS: measured on this repository's 2-core machine (`fare demo`'s
 * flood: 32 concurrent low-class image resizes under 50 page views a second), LAS live had raised the
 * top class's p99 18–73-fold and cut the flood's completed resizes by half or more, because every call
 * LAS preempted within its class kept its instance and a flood of one function started instance after
 * instance. With LIVE_KEEP_FUNCTION_ORDER the same flood gives a ratio of 0.77–1.11 under LAS against
 * FCFS's 1.07–1.12, and 576–600 resizes against 536–561 in 8 s. `--within-class fcfs` for the paper's.
 */
export const LIVE_WITHIN_DEFAULT: WithinClass = 'las';

/**
 * Live machines keep the order of one function's calls under `las` and `sef`
 * (MachineConfig.keepFunctionOrder): each call that has started holds an instance, so a call that
 * overtook one of its own function would start another. Without it, `fare demo`'s flood under LAS
 * (one low-class function, 32 calls at once) cold-started instance after instance: the high class's
 * p99 rose 18.8-fold and the flood completed 247 resizes in 8 s against FCFS's 536.
 */
export const LIVE_KEEP_FUNCTION_ORDER = true;

/**
 * The settings of `kind`. `selection` overrides the shard rule (fare and fifo: e.g. `strict`), `within` Fare's order within a class;
 * `idleList` is the cluster's setting, which a policy may not use. `edf` has no shards or machines
 * of this kind (one centralized EDF queue): it is refused here.
 */
export function policyPreset(kind: Exclude<PolicyKind, 'edf'>, opts: { readonly selection?: SelectionRule | undefined; readonly idleList?: boolean | undefined; readonly within?: WithinClass | undefined; readonly shardWithin?: ShardWithin | undefined; readonly idleFreeCore?: boolean | undefined } = {}): PolicyPreset {
  // Fare's placement takes a listed machine only while it has a free core: the paper's (any listed
  // machine while it has memory) let a short list take far more jobs than its machines had cores
  // (README, "The paper's open questions": the shards experiment and Fig. 5).
  const idleFreeCore = opts.idleFreeCore ?? true;
  switch (kind) {
    case 'fare':
      // Least attained service within a class: a class's short calls do not wait behind its long ones
      // (the README's results, issue 15); `fcfs` is the paper's.
      return { selection: opts.selection ?? 'price-wait', machine: 'priority', within: opts.within ?? 'las', ...(opts.shardWithin !== undefined ? { shardWithin: opts.shardWithin } : {}), idleList: opts.idleList ?? true, swapping: true, classAware: true, idleFreeCore };
    case 'fifo':
      return { selection: opts.selection ?? 'price-wait', machine: 'fcfs', within: 'fcfs', idleList: opts.idleList ?? true, swapping: true, classAware: false, idleFreeCore };
    case 'hermod':
      // Hermod: a class-blind global FIFO, processor sharing, no idle list, no swapping.
      return { selection: 'fifo', machine: 'ps', within: 'fcfs', idleList: false, swapping: false, classAware: false };
    case 'hermod-pack':
      // Hermod as published: packing while machines have free cores (low load), least loaded once none has (high load).
      return { selection: 'fifo', machine: 'ps', within: 'fcfs', idleList: false, swapping: false, classAware: false, packing: true };
    case 'np-priority':
      // A baseline: Fare's shards and placement, machines that order by class but never preempt.
      return { selection: opts.selection ?? 'price-wait', machine: 'priority-np', within: 'fcfs', idleList: opts.idleList ?? true, swapping: true, classAware: true, idleFreeCore };
    case 'random':
      // A baseline: each job to one machine drawn at random (power-of-k with k = 1, no idle list), FCFS there, classes ignored.
      return { selection: 'fifo', machine: 'fcfs', within: 'fcfs', idleList: false, swapping: false, classAware: false, k: 1 };
    case 'jiq':
      // Join-Idle-Queue (Lu et al. 2011, JIQ-Random): the idle lists are its I-queues whatever the
      // cluster's setting; a shard with none places on one machine drawn at random; FCFS, classes ignored.
      return { selection: 'fifo', machine: 'fcfs', within: 'fcfs', idleList: true, swapping: false, classAware: false, k: 1, placement: 'random', joinIdle: true };
    case 'sparrow':
      // Sparrow (Ousterhout et al. 2013): reservations on d = 2 machines drawn at random, the job to
      // the first with a free core to claim it (late binding); FCFS reservations, classes ignored; no idle list.
      return { selection: 'fifo', machine: 'fcfs', within: 'fcfs', idleList: false, swapping: false, classAware: false, k: 2, placement: 'reserve' };
    default: {
      const never: never = kind;
      throw new RangeError(`unknown policy ${String(never)}`);
    }
  }
}

/** What a preset sets on a shard; the rest of a ShardConfig (id, prices, machines, polls, timeouts) is the driver's. */
export type ShardSettings = Pick<ShardConfig, 'selection' | 'k' | 'useIdleList'> & Partial<Pick<ShardConfig, 'within' | 'packBelow' | 'placement' | 'idleQueue' | 'idleNeedsCore'>>;

/**
 * The shard settings of `preset`, for machines of `cores` cores (needed by packing only) polled `k`
 * at a time (unless the preset fixes k): every driver builds its shards from this, so a policy's placement is stated once.
 */
export function shardSettings(preset: PolicyPreset, o: { readonly cores?: number | undefined; readonly k: number }): ShardSettings {
  if (preset.packing === true && o.cores === undefined) throw new RangeError('a packing policy (hermod-pack) needs the machines\' cores');
  return {
    selection: preset.selection, k: preset.k ?? o.k, useIdleList: preset.idleList,
    ...(preset.packing === true && o.cores !== undefined ? { packBelow: o.cores } : {}),
    ...(preset.placement !== undefined ? { placement: preset.placement } : {}),
    ...(preset.joinIdle === true ? { idleQueue: true } : {}),
    ...(preset.idleFreeCore === true ? { idleNeedsCore: true } : {}),
    ...(preset.shardWithin !== undefined && preset.shardWithin !== 'fcfs' ? { within: preset.shardWithin } : {}),
  };
}
