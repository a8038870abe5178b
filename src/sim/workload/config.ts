// Workload configuration: the plain JSON-able object an experiment names its workload with, and the
// resolved form (every default filled in) that validate-workload.ts turns it into. The generators and
// trace readers take the resolved form and trust it.

/** A per-function scale: a fixed number, or a Normal(mean, sd) draw per function, redrawn below `min`. */
export type ScaleSpec = number | { mean: number; sd: number; min?: number };

/**
 * Runtime family, the same for every function; the per-function scale is x_m for Pareto, the mean for
 * exponential and lognormal (or a fixed median via `mu`), the value for deterministic. All in ms.
 */
export type RuntimeSpec =
  | { family: 'pareto'; alpha?: number; xm?: ScaleSpec }
  | { family: 'exponential'; mean?: ScaleSpec }
  | { family: 'lognormal'; mean?: ScaleSpec; sigma?: number; cv?: number; mu?: number }
  | { family: 'deterministic'; value?: ScaleSpec }
  /** The published fit of the whole Azure 2019 trace: lognormal μ = −0.38, σ = 2.36 in seconds. */
  | { family: 'azure2019' };

/** Total memory a job reaches, MB, drawn per job. */
export type MemorySpec =
  | { kind: 'uniform'; minMB?: number; maxMB?: number }
  | { kind: 'fixed'; mb: number }
  /** Burr XII; the defaults are the Azure 2019 fit (c = 11.652, k = 0.221, λ = 107.083 MB), clamped to [minMB, maxMB]. */
  | { kind: 'burr'; c?: number; k?: number; lambdaMB?: number; minMB?: number; maxMB?: number };

/** Which function a job invokes. */
export type PopularitySpec = { kind: 'uniform' } | { kind: 'zipf'; exponent?: number };

/** The paper's generator (§4.1) and its variants. */
export interface SyntheticWorkloadConfig {
  kind: 'synthetic';
  /** Number of jobs; give this or `durationMs`. */
  jobs?: number;
  /** Arrivals in [0, durationMs); give this or `jobs`. */
  durationMs?: number;
  /** Offered utilization of all cores (rate = load × cores / meanRuntime); give this or `ratePerSecond`. */
  load?: number;
  ratePerSecond?: number;
  /** Open-loop arrivals: constant spacing (the paper) or a Poisson process. Default constant. */
  arrivals?: 'constant' | 'poisson';
  /** Number of functions, default 1000. */
  functions?: number;
  popularity?: PopularitySpec;
  runtime?: RuntimeSpec;
  memory?: MemorySpec;
  /** Chance of each class per function, index 0 = highest; default the bimodal 0.35/0.15/0.15/0.35 shape. */
  classWeights?: number[];
  /**
   * Arrival rate of each class (jobs per second, highest first): each class arrives at exactly its
   * rate, its jobs spread over its functions by popularity. With `load` (as every load of a sweep
   * sets), the rates keep their ratios and are scaled to that load; without, they are the rates.
   */
  classRates?: number[];
}

/** Replay of the Azure Functions 2019 trace (per-minute counts per function + per-function statistics). */
export interface Azure2019WorkloadConfig {
  kind: 'azure2019';
  /** Directory holding the three files; relative paths resolve against the working directory. */
  dir: string;
  /**
   * File names inside `dir`; default 100_inv.csv, 100_run.csv, 100_mem.csv. `invocations` may list
   * several days' files, in order: day d's minute m is the replay's minute 1440·d + m.
   */
  files?: { invocations?: string | string[]; durations?: string; memory?: string };
  /** Minutes [fromMinute, toMinute) to replay, 0-based; default 0 and 1440 × the number of days. */
  fromMinute?: number;
  toMinute?: number;
  /** Arrival times are multiplied by this (0.5 replays twice as fast). Give this or `load`; default 1. */
  timeScale?: number;
  /** Pick the time scale that makes the offered utilization of all cores equal to this. */
  load?: number;
  /** How a job's runtime is drawn from its function's statistics; default lognormal (see README). */
  runtimeFit?: 'lognormal' | 'exponential' | 'deterministic';
  /** Runtimes below this are raised to it (the trace records 0 ms averages); default 1. */
  minRuntimeMs?: number;
  /** Memory below this is raised to it (a job starts at 100 MB in the paper's model); default 100. */
  minMemoryMB?: number;
  /** Target shares of the invocations per class, highest first (see `classes`); default the usual weights. */
  classWeights?: number[];
  /** How functions get their classes (see `TraceClasses`). */
  classes?: TraceClasses;
}

/**
 * Class assignment for a trace (`class-assignment.ts`): whole units — functions, apps or (Azure 2019)
 * owners — get classes so that each class's share of all the trace's invocations is within 1 % of its
 * target where whole units allow; seeded by the experiment's seed alone, so one assignment holds for
 * every load of a sweep.
 */
export interface TraceClasses {
  /** Default "function". */
  by?: 'function' | 'app' | 'owner';
  /** Target shares of the invocations per class, highest first; default `classWeights`. */
  shares?: number[];
  /** Units given a class by name (their key: HashFunction, HashApp or HashOwner; Azure 2021: "app/func" or app). */
  fixed?: Record<string, string>;
}

/** Replay of the Azure Functions 2021 invocation trace (one row per invocation). */
export interface Azure2021WorkloadConfig {
  kind: 'azure2021';
  file: string;
  /** Minutes [fromMinute, toMinute) after the first invocation; default the whole file. */
  fromMinute?: number;
  toMinute?: number;
  timeScale?: number;
  load?: number;
  minRuntimeMs?: number;
  /** The trace has no memory column: memory is drawn per job; default the Azure 2019 Burr XII fit. */
  memory?: MemorySpec;
  classWeights?: number[];
  /** How functions get their classes (`by`: "function" or "app"). */
  classes?: TraceClasses;
}

/** Replay of Fare's own recording (`fare up --record FILE`, see recorded.ts). */
export interface RecordedWorkloadConfig {
  kind: 'recorded';
  file: string;
  /** Arrival times are multiplied by this; give this or `load`; default 1 (the recorded speed). */
  timeScale?: number;
  load?: number;
  /** CPU times below this are raised to it (a job needs some CPU); default 0.01 ms. */
  minRuntimeMs?: number;
  /** Recorded class name → a class of the replay's price table (what-if: other classes or prices). */
  classes?: Record<string, string>;
}

export type WorkloadConfig = SyntheticWorkloadConfig | Azure2019WorkloadConfig | Azure2021WorkloadConfig | RecordedWorkloadConfig;

// ---- resolved forms ----------------------------------------------------------------------------

export type ResolvedScale = { kind: 'fixed'; value: number } | { kind: 'normal'; mean: number; sd: number; min: number };

export type ResolvedRuntime =
  | { family: 'pareto'; alpha: number; xm: ResolvedScale }
  | { family: 'exponential'; mean: ResolvedScale }
  /** `scale` is the per-function mean, or (`scaleIs: 'median'`) e^mu. */
  | { family: 'lognormal'; sigma: number; scale: ResolvedScale; scaleIs: 'mean' | 'median' }
  | { family: 'deterministic'; value: ResolvedScale };

export type ResolvedMemory =
  | { kind: 'uniform'; minMB: number; maxMB: number }
  | { kind: 'fixed'; mb: number }
  | { kind: 'burr'; c: number; k: number; lambdaMB: number; minMB: number; maxMB: number };

export type ResolvedSpeed = { kind: 'timeScale'; timeScale: number } | { kind: 'load'; load: number };

export interface ResolvedSynthetic {
  /** Marks a validated config: makeJobSource takes it as is. */
  resolved: true;
  kind: 'synthetic';
  length: { kind: 'jobs'; jobs: number } | { kind: 'duration'; durationMs: number };
  rate: { kind: 'load'; load: number } | { kind: 'rate'; perMs: number };
  arrivals: 'constant' | 'poisson';
  functions: number;
  popularity: { kind: 'uniform' } | { kind: 'zipf'; exponent: number };
  runtime: ResolvedRuntime;
  memory: ResolvedMemory;
  classWeights: number[];
  /** Per class: its arrival rate (jobs per ms), or its share of the rate with `rate.kind` 'load'. */
  classRates?: number[];
}

export interface ResolvedAzure2019 {
  /** Marks a validated config: makeJobSource takes it as is. */
  resolved: true;
  kind: 'azure2019';
  /** `invocations`: one day's file, or several days' in order. */
  files: { invocations: string | string[]; durations: string; memory: string };
  fromMinute: number;
  toMinute: number;
  speed: ResolvedSpeed;
  runtimeFit: 'lognormal' | 'exponential' | 'deterministic';
  minRuntimeMs: number;
  minMemoryMB: number;
  classWeights: number[];
  classes: ResolvedTraceClasses;
}

export interface ResolvedTraceClasses {
  by: 'function' | 'app' | 'owner';
  /** Summing to 1, one per class. */
  shares: number[];
  /** Unit key → class index. */
  fixed: Record<string, number>;
}

export interface ResolvedAzure2021 {
  /** Marks a validated config: makeJobSource takes it as is. */
  resolved: true;
  kind: 'azure2021';
  file: string;
  fromMinute: number;
  /** Infinity: to the end of the file. */
  toMinute: number;
  speed: ResolvedSpeed;
  minRuntimeMs: number;
  memory: ResolvedMemory;
  classWeights: number[];
  classes: ResolvedTraceClasses;
}

export interface ResolvedRecorded {
  /** Marks a validated config: makeJobSource takes it as is. */
  resolved: true;
  kind: 'recorded';
  file: string;
  speed: ResolvedSpeed;
  minRuntimeMs: number;
  rename: Record<string, string>;
  /** One per class of the price table (unused: the recording names each job's class). */
  classWeights: number[];
}

export type ResolvedWorkload = ResolvedSynthetic | ResolvedAzure2019 | ResolvedAzure2021 | ResolvedRecorded;

// ---- defaults ----------------------------------------------------------------------------------

/** The paper's x_m draw: Normal(40 ms, 15 ms), redrawn below 1 ms. */
export const DEFAULT_SCALE: ResolvedScale = { kind: 'normal', mean: 40, sd: 15, min: 1 };
export const DEFAULT_PARETO_ALPHA = 2.1;
export const DEFAULT_FUNCTIONS = 1000;
/** 100 MB to 10 GB (10 × 1024 MB). */
export const DEFAULT_MEMORY: ResolvedMemory = { kind: 'uniform', minMB: 100, maxMB: 10240 };
