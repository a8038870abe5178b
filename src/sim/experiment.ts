// An experiment: a cluster, a price table, a workload swept over offered loads, and the policies to
// compare. Every policy at a load gets the identical job stream (same seed, same jobs). This module
// validates experiment configs (the edge where JSON enters) and runs them; fig4/fig5 are presets.

import { Rng } from '../core/rng.ts';
import { DEFAULT_PRICE_TABLE, makePriceTable, type PriceTable, type Result } from '../core/classes.ts';
import { Simulation } from './engine.ts';
import type { ClusterConfig, PolicyKind, PolicySpec } from './config.ts';
import { PS_QUANTUM_MS, WITHIN_CLASS, type WithinClass } from '../core/machine/run-queue.ts';
import { SHARD_WITHIN, type ShardWithin } from '../core/shard/multi-queue.ts';
import { SWAP_ORDERS, type SwapOrder } from '../core/machine/swapper.ts';
import type { LatencyModel } from './bus.ts';
import type { RunResult } from './recorder.ts';
import { makeJobSource, validateWorkload, type JobSource } from './workload/index.ts';

export interface ExperimentSpec {
  readonly name: string;
  readonly seed: number;
  readonly prices: PriceTable;
  readonly cluster: ClusterConfig;
  readonly policies: readonly PolicySpec[];
  /** Raw workload config; `load` is set from `loads` for each sweep point. */
  readonly workload: Readonly<Record<string, unknown>>;
  readonly loads: readonly number[];
  /** Jobs arriving in [warmup, measureTo) × the arrival span are measured (the rest warm up / drain). */
  readonly warmup: number;
  readonly measureTo: number;
  /** Simulated time after the last arrival, as a fraction of the arrival span (0: stop at the last arrival). */
  readonly drain: number;
  /** Utilization and memory samples per run. */
  readonly samples: number;
  /** `fare sim run`: how many seeds (seed, seed + 1, …) the experiment is run with; default 1. */
  readonly seeds?: number;
}

export interface ExperimentRun {
  readonly load: number;
  readonly result: RunResult;
  readonly source: JobSource['info'];
  readonly meanRuntimeMs: number;
}

export const DEFAULT_CLUSTER: ClusterConfig = {
  machines: 100,
  cores: 8,
  memoryMB: Infinity,
  shards: 4,
  k: 3,
  idleList: true,
  joinFree: 0.5,
  leaveFree: 0.25,
  updateDelta: 0.1,
  swapTarget: 0.95,
  swapOutSPerGiB: 0.6,
  swapInSPerGiB: 2.9,
  memoryAdmission: false,
  maxOutstandingPolls: 64,
  pollLatencyMs: 0,
};

const POLICY_KINDS: readonly PolicyKind[] = ['fare', 'hermod', 'fifo', 'edf', 'np-priority', 'random', 'hermod-pack', 'jiq', 'sparrow'];

export interface Progress {
  /** Called once before the first run with the number of runs and of jobs over all runs. */
  begin(runs: number, jobs: number): void;
  /** Called before each run with its label and number of jobs. */
  start(label: string, jobs: number): void;
  /** Jobs arrived so far in the current run. */
  tick(arrived: number): void;
  end(): void;
}

/** Runs every (load, policy) pair in order; deterministic for a given spec. */
export function runExperiment(spec: ExperimentSpec, progress?: Progress): ExperimentRun[] {
  const runs: ExperimentRun[] = [];
  const cores = spec.cluster.machines * spec.cluster.cores;
  const workloads = spec.loads.map((load) => validated({ ...spec.workload, load }, spec.prices));
  if (progress) {
    let jobs = 0;
    spec.loads.forEach((load, i) => { jobs += makeJobSource(workloads[i] as Parameters<typeof makeJobSource>[0], spec.prices, cores, new Rng(spec.seed, `workload/load=${load}`), new Rng(spec.seed, 'workload/classes')).total; });
    progress.begin(spec.loads.length * spec.policies.length, jobs * spec.policies.length);
  }
  for (const [li, load] of spec.loads.entries()) {
    const wl = workloads[li] as Parameters<typeof makeJobSource>[0];
    for (const policy of spec.policies) {
      const source = makeJobSource(wl, spec.prices, cores, new Rng(spec.seed, `workload/load=${load}`), new Rng(spec.seed, 'workload/classes'));
      const span = source.info.spanMs;
      progress?.start(`${policy.name} @ load ${load}`, source.total);
      const sim = new Simulation({
        cluster: spec.cluster,
        policy,
        prices: spec.prices,
        seed: spec.seed,
        measureFrom: span * spec.warmup,
        measureTo: span * spec.measureTo,
        horizon: span * (1 + spec.drain),
        samples: spec.samples,
        ...(progress ? { onProgress: (n: number) => progress.tick(n) } : {}),
      }, source);
      const result = sim.run();
      progress?.end();
      runs.push({ load, result, source: source.info, meanRuntimeMs: source.meanRuntimeMs });
    }
  }
  return runs;
}

function validated(raw: unknown, prices: PriceTable): ReturnType<typeof validateWorkload> extends Result<infer T> ? T : never {
  const r = validateWorkload(raw, prices);
  if (!r.ok) throw new ConfigError(r.error);
  return r.value;
}

/** A config error at the edge: the message says what was wrong and what to do. */
export class ConfigError extends Error {
  readonly code = 'FARE_E_CONFIG';
  constructor(message: string) {
    super(message);
    this.name = 'ConfigError';
  }
}

// ---- validation of experiment config files -----------------------------------------------------

type Obj = Record<string, unknown>;
const isObj = (x: unknown): x is Obj => typeof x === 'object' && x !== null && !Array.isArray(x);

function num(o: Obj, key: string, where: string, dflt: number, check: (n: number) => boolean, want: string): number {
  const v = o[key];
  if (v === undefined) return dflt;
  if (typeof v !== 'number' || !Number.isFinite(v) || !check(v)) {
    throw new ConfigError(`${where}.${key} is ${JSON.stringify(v)}: it must be ${want}`);
  }
  return v;
}

function known(o: Obj, where: string, keys: readonly string[]): void {
  for (const k of Object.keys(o)) {
    if (!keys.includes(k)) throw new ConfigError(`${where} has an unknown field "${k}": the fields are ${keys.join(', ')}`);
  }
}

/** Parses a cluster section; `memoryGB: null` or absent means unlimited memory. */
export function parseCluster(raw: unknown, base: ClusterConfig = DEFAULT_CLUSTER): ClusterConfig {
  if (raw === undefined) return base;
  if (!isObj(raw)) throw new ConfigError(`cluster is ${JSON.stringify(raw)}: give an object such as {"machines": 100, "cores": 8}`);
  const w = 'cluster';
  known(raw, w, ['machines', 'cores', 'memoryGB', 'shards', 'k', 'idleList', 'joinFree', 'leaveFree', 'updateDelta', 'swapTarget', 'swapOutSPerGiB', 'swapInSPerGiB', 'swapGB', 'swapOrder', 'memoryAdmission', 'maxOutstandingPolls', 'pollLatencyMs', 'pollTimeoutMs', 'latency', 'intake', 'concurrencyLimits']);
  const int = (n: number): boolean => Number.isInteger(n) && n >= 1;
  const frac = (n: number): boolean => n >= 0 && n <= 1;
  const machines = num(raw, 'machines', w, base.machines, int, 'a whole number ≥ 1');
  const shards = num(raw, 'shards', w, base.shards, int, 'a whole number ≥ 1');
  const mem = raw.memoryGB;
  let memoryMB = base.memoryMB;
  if (mem === null) memoryMB = Infinity;
  else if (mem !== undefined) memoryMB = num(raw, 'memoryGB', w, 0, (n) => n > 0, 'a positive number of GB, or null for unlimited') * 1024;
  const swapGB = raw.swapGB;
  let swapMB = base.swapMB;
  if (swapGB === null) swapMB = Infinity;
  else if (swapGB !== undefined) swapMB = num(raw, 'swapGB', w, 0, (n) => n >= 0, 'a number of GB ≥ 0, or null for unbounded swap space') * 1024;
  const idle = raw.idleList;
  if (idle !== undefined && typeof idle !== 'boolean') throw new ConfigError(`cluster.idleList is ${JSON.stringify(idle)}: it must be true or false`);
  const intake = raw.intake;
  if (intake !== undefined && intake !== 'round-robin' && intake !== 'by-function') {
    throw new ConfigError(`cluster.intake is ${JSON.stringify(intake)}: it must be "round-robin" (jobs spread over the shards in turn, the default) or "by-function" (each function's jobs to one shard)`);
  }
  const order = raw.swapOrder;
  if (order !== undefined && !SWAP_ORDERS.includes(order as SwapOrder)) {
    throw new ConfigError(`cluster.swapOrder is ${JSON.stringify(order)}: it must be "class" (the lowest class first, Fare's), "lru" (the job that ran least recently first, blind to classes, as the kernel's reclaim) or "pages" (the same at page level: only the memory needed, part of a job)`);
  }
  const admission = raw.memoryAdmission;
  if (admission !== undefined && typeof admission !== 'boolean') throw new ConfigError(`cluster.memoryAdmission is ${JSON.stringify(admission)}: it must be true (a job waits until its memory fits) or false (the paper's model)`);
  const c: ClusterConfig = {
    machines,
    cores: num(raw, 'cores', w, base.cores, int, 'a whole number ≥ 1'),
    memoryMB,
    shards,
    k: num(raw, 'k', w, base.k, (n) => int(n) && n <= machines, `a whole number from 1 to the number of machines (${machines})`),
    idleList: idle ?? base.idleList,
    joinFree: num(raw, 'joinFree', w, base.joinFree, frac, 'a fraction of memory from 0 to 1'),
    leaveFree: num(raw, 'leaveFree', w, base.leaveFree, frac, 'a fraction of memory from 0 to 1'),
    updateDelta: num(raw, 'updateDelta', w, base.updateDelta, frac, 'a fraction of memory from 0 to 1'),
    swapTarget: num(raw, 'swapTarget', w, base.swapTarget, (n) => n > 0 && n <= 1, 'a fraction of memory in (0, 1]'),
    swapOutSPerGiB: num(raw, 'swapOutSPerGiB', w, base.swapOutSPerGiB, (n) => n >= 0 && n <= 3600, 'seconds per GiB written to swap, from 0 (instantaneous) to 3600'),
    swapInSPerGiB: num(raw, 'swapInSPerGiB', w, base.swapInSPerGiB, (n) => n >= 0 && n <= 3600, 'seconds per GiB read back from swap, from 0 (instantaneous) to 3600'),
    ...(swapMB !== undefined ? { swapMB } : {}),
    ...((order ?? base.swapOrder) !== undefined ? { swapOrder: (order ?? base.swapOrder) as SwapOrder } : {}),
    ...(admission ?? base.memoryAdmission) !== undefined ? { memoryAdmission: admission ?? base.memoryAdmission } : {},
    maxOutstandingPolls: num(raw, 'maxOutstandingPolls', w, base.maxOutstandingPolls, int, 'a whole number ≥ 1'),
    pollLatencyMs: num(raw, 'pollLatencyMs', w, base.pollLatencyMs, (n) => n >= 0 && n <= 60_000, 'a round-trip time in ms from 0 to 60000'),
    ...(raw.pollTimeoutMs !== undefined ? { pollTimeoutMs: num(raw, 'pollTimeoutMs', w, 0, (n) => n > 0 && n <= 3_600_000, 'a time in ms above 0 and at most 3600000') } : base.pollTimeoutMs !== undefined ? { pollTimeoutMs: base.pollTimeoutMs } : {}),
    ...(raw.latency !== undefined ? { latency: parseLatency(raw.latency) } : base.latency !== undefined ? { latency: base.latency } : {}),
    ...((intake ?? base.intake) !== undefined ? { intake: intake ?? base.intake } : {}),
    ...(raw.concurrencyLimits !== undefined ? { concurrencyLimits: parseLimits(raw.concurrencyLimits) } : base.concurrencyLimits !== undefined ? { concurrencyLimits: base.concurrencyLimits } : {}),
  };
  if (c.leaveFree > c.joinFree) throw new ConfigError(`cluster.leaveFree (${c.leaveFree}) is above cluster.joinFree (${c.joinFree}): a machine must leave the idle list at less free memory than it joins with`);
  return c;
}

/** `cluster.concurrencyLimits`: {"<function number>": limit, …}, each limit a whole number ≥ 0. */
function parseLimits(raw: unknown): Readonly<Record<number, number>> {
  const bad = (why: string): never => {
    throw new ConfigError(`cluster.concurrencyLimits is ${JSON.stringify(raw)}: ${why}. Give an object of function numbers to limits, e.g. {"0": 10, "3": 0} (at most 10 calls of function 0 at once; function 3 refused)`);
  };
  if (!isObj(raw)) return bad('it is not an object');
  const out: Record<number, number> = {};
  for (const [k, v] of Object.entries(raw)) {
    if (!/^(0|[1-9]\d*)$/.test(k)) bad(`${JSON.stringify(k)} is not a function number (a whole number ≥ 0)`);
    if (typeof v !== 'number' || !Number.isInteger(v) || v < 0) bad(`the limit of function ${k} must be a whole number ≥ 0, got ${JSON.stringify(v)}`);
    out[Number(k)] = v as number;
  }
  return out;
}

/** `cluster.latency`: one-way time of every message — a number of ms, or {kind: fixed|uniform|exponential, …}. */
function parseLatency(raw: unknown): LatencyModel {
  const bad = (why: string): never => {
    throw new ConfigError(`cluster.latency is ${JSON.stringify(raw)}: ${why}. Give a number of ms (e.g. 0.1), {"kind": "uniform", "minMs": 0.05, "maxMs": 0.2} or {"kind": "exponential", "meanMs": 0.1}`);
  };
  const ms = (n: unknown): number => (typeof n === 'number' && Number.isFinite(n) && n >= 0 && n <= 60_000 ? n : bad('times must be numbers of ms from 0 to 60000'));
  if (typeof raw === 'number') return raw === 0 ? { kind: 'zero' } : { kind: 'fixed', ms: ms(raw) };
  if (!isObj(raw)) return bad('it is neither a number nor an object');
  switch (raw.kind) {
    case 'zero': return { kind: 'zero' };
    case 'fixed': return { kind: 'fixed', ms: ms(raw.ms) };
    case 'uniform': {
      const lo = ms(raw.minMs), hi = ms(raw.maxMs);
      return hi >= lo ? { kind: 'uniform', minMs: lo, maxMs: hi } : bad('maxMs is below minMs');
    }
    case 'exponential': return { kind: 'exponential', meanMs: ms(raw.meanMs) };
    default: return bad('kind must be zero, fixed, uniform or exponential');
  }
}

export function parsePolicy(raw: unknown, i: number): PolicySpec {
  const where = `policies[${i}]`;
  if (typeof raw === 'string') raw = { kind: raw };
  if (!isObj(raw)) throw new ConfigError(`${where} is ${JSON.stringify(raw)}: give a policy name (${POLICY_KINDS.join(', ')}) or an object {"kind": ..., "name": ...}`);
  known(raw, where, ['kind', 'name', 'selection', 'idleList', 'within', 'shardWithin', 'idleFreeCore']);
  const kind = raw.kind;
  if (typeof kind !== 'string' || !POLICY_KINDS.includes(kind as PolicyKind)) {
    throw new ConfigError(`${where}.kind is ${JSON.stringify(kind)}: it must be one of ${POLICY_KINDS.join(', ')}`);
  }
  const sel = raw.selection;
  if (sel !== undefined && sel !== 'price-wait' && sel !== 'strict' && sel !== 'fifo') {
    throw new ConfigError(`${where}.selection is ${JSON.stringify(sel)}: it must be "price-wait" (the paper's rule), "strict" or "fifo"`);
  }
  const name = raw.name ?? kind;
  if (typeof name !== 'string' || name.length === 0) throw new ConfigError(`${where}.name must be a non-empty string`);
  const idle = raw.idleList;
  if (idle !== undefined && typeof idle !== 'boolean') throw new ConfigError(`${where}.idleList must be true or false`);
  const freeCore = raw.idleFreeCore;
  if (freeCore !== undefined && (typeof freeCore !== 'boolean' || !['fare', 'fifo', 'np-priority'].includes(kind))) {
    throw new ConfigError(`${where}.idleFreeCore is ${JSON.stringify(freeCore)}: it must be true (the default: a shard places from its idle list only on a machine with a free core) or false (the paper's rule: any listed machine while it has free memory), for kinds "fare", "fifo" and "np-priority"`);
  }
  const within = raw.within;
  if (within !== undefined && (kind !== 'fare' || !WITHIN_CLASS.includes(within as WithinClass))) {
    throw new ConfigError(`${where}.within is ${JSON.stringify(within)}: it is Fare's order within a class, one of ${WITHIN_CLASS.map((w) => `"${w}"`).join(', ')} (fcfs: the paper's; las: least attained service; sef: shortest expected first; ps: processor sharing, round robin in ${PS_QUANTUM_MS} ms slices), for kind "fare" only`);
  }
  const shardWithin = raw.shardWithin;
  if (shardWithin !== undefined && (kind !== 'fare' || !SHARD_WITHIN.includes(shardWithin as ShardWithin))) {
    throw new ConfigError(`${where}.shardWithin is ${JSON.stringify(shardWithin)}: it is the order within a class in Fare's shard queues, one of ${SHARD_WITHIN.map((w) => `"${w}"`).join(', ')} (fcfs: the paper's; sef: shortest expected first, by each function's CPU time as the gateway has seen it), for kind "fare" only`);
  }
  return {
    name, kind: kind as PolicyKind, ...(sel ? { selection: sel } : {}), ...(idle !== undefined ? { idleList: idle } : {}), ...(within !== undefined ? { within: within as WithinClass } : {}),
    ...(shardWithin !== undefined ? { shardWithin: shardWithin as ShardWithin } : {}), ...(freeCore !== undefined ? { idleFreeCore: freeCore } : {}),
  };
}

function parsePrices(raw: unknown): PriceTable {
  if (raw === undefined) return DEFAULT_PRICE_TABLE;
  if (!isObj(raw) || !Array.isArray(raw.classes)) {
    throw new ConfigError('prices must be {"classes": [{"name": "high", "price": 2}, ...], "memoryPrice": 0.25}');
  }
  const r = makePriceTable(raw.classes as { name: string; price: number }[], (raw.memoryPrice as number | undefined) ?? DEFAULT_PRICE_TABLE.memoryPrice);
  if (!r.ok) throw new ConfigError(`prices: ${r.error}`);
  return r.value;
}

/** Validates a parsed experiment config file (see the README for the format). */
export function parseExperiment(raw: unknown): ExperimentSpec {
  if (!isObj(raw)) throw new ConfigError('the experiment config must be a JSON object: see "Experiment configs" in README.md');
  known(raw, 'config', ['name', 'seed', 'seeds', 'prices', 'cluster', 'policies', 'workload', 'loads', 'warmup', 'measureTo', 'drain', 'samples']);
  const name = raw.name ?? 'experiment';
  if (typeof name !== 'string' || !/^[\w.-]{1,64}$/.test(name)) throw new ConfigError(`name ${JSON.stringify(name)} must be 1–64 letters, digits, '.', '_' or '-' (it names output files)`);
  const prices = parsePrices(raw.prices);
  const cluster = parseCluster(raw.cluster);
  const pol = raw.policies ?? ['fare', 'hermod', 'edf'];
  if (!Array.isArray(pol) || pol.length === 0) throw new ConfigError('policies must be a non-empty list, e.g. ["fare", "hermod", "edf"]');
  const policies = pol.map((p, i) => parsePolicy(p, i));
  const names = new Set(policies.map((p) => p.name));
  if (names.size !== policies.length) throw new ConfigError('two policies have the same name: give each a distinct "name"');
  const keyed = policies.find((p) => p.within !== undefined && p.within !== 'fcfs');
  if (keyed !== undefined && cluster.memoryAdmission === true) {
    throw new ConfigError(`policy "${keyed.name}" orders its classes by ${String(keyed.within)}, and cluster.memoryAdmission is on: memory admission works with FCFS within a class only; drop one of them`);
  }
  const loads = raw.loads ?? [0.5, 0.7, 0.9, 1.0, 1.1, 1.2];
  // Under 10 catches a load typed as a percentage; a recording replayed at its own speed offers what
  // it offered, which a burst over a short recording can put above that (fare sim replay).
  const recorded = (raw.workload as { kind?: unknown } | undefined)?.kind === 'recorded';
  if (!Array.isArray(loads) || loads.length === 0 || !loads.every((l) => typeof l === 'number' && l > 0 && (l < 10 || (recorded && Number.isFinite(l))))) {
    throw new ConfigError(`loads is ${JSON.stringify(loads)}: give a list of offered utilizations, e.g. [0.5, 0.9, 1.2]`);
  }
  const workload = raw.workload ?? { kind: 'synthetic', jobs: 200_000 };
  if (!isObj(workload)) throw new ConfigError('workload must be an object, e.g. {"kind": "synthetic", "jobs": 200000}');
  const warmup = num(raw, 'warmup', 'config', 0.1, (n) => n >= 0 && n < 1, 'a fraction of the arrival span in [0, 1)');
  const measureTo = num(raw, 'measureTo', 'config', 0.8, (n) => n > warmup && n <= 1, `a fraction of the arrival span in (warmup = ${warmup}, 1]`);
  // Validate once up front so a bad workload fails before any simulation runs.
  validated({ ...workload, load: loads[0] as number }, prices);
  return {
    name,
    seed: num(raw, 'seed', 'config', 1, Number.isSafeInteger, 'a whole number'),
    prices,
    cluster,
    policies,
    workload,
    loads: loads as number[],
    warmup,
    measureTo,
    drain: num(raw, 'drain', 'config', 0, (n) => n >= 0 && n <= 100, 'a fraction ≥ 0 of the arrival span'),
    samples: num(raw, 'samples', 'config', 40, (n) => Number.isInteger(n) && n >= 1 && n <= 10_000, 'a whole number from 1 to 10000'),
    seeds: num(raw, 'seeds', 'config', 1, (n) => Number.isInteger(n) && n >= 1 && n <= 1000, 'a whole number of seeds from 1 to 1000 (seed, seed + 1, …)'),
  };
}
