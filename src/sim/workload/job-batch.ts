// The shape every workload hands to the simulator: a JobSource streams jobs in arrival order into a
// reusable struct-of-arrays JobBatch, so 50 million jobs pass through a few kilobytes and no job is
// ever an object.

/** Jobs as parallel typed arrays; `count` entries from index 0 are valid after `fill`. */
export interface JobBatch {
  count: number;
  /** Sequence number in arrival order, from 0 (Float64 so it never wraps). */
  id: Float64Array;
  /** Arrival time, ms from the start of the workload; non-decreasing across batches. */
  arrival: Float64Array;
  /** CPU time the job needs, ms (> 0). */
  runtime: Float64Array;
  /** Price class index (0 = highest price). */
  cls: Uint8Array;
  /** Function the job invokes: dense index 0..functions-1. */
  fn: Int32Array;
  /** Total memory the job reaches, MB. */
  memMB: Float32Array;
}

/** What a workload says about itself, for reports and sanity checks. */
export interface WorkloadInfo {
  readonly kind: 'synthetic' | 'azure2019' | 'azure2021' | 'recorded';
  /** Number of distinct functions (fn is in 0..functions-1). */
  readonly functions: number;
  /** Mean arrival rate, jobs per ms. */
  readonly ratePerMs: number;
  /** Offered utilization: ratePerMs × meanRuntimeMs / cores. */
  readonly offeredLoad: number;
  /** Span of arrival times, ms (expected span for open-ended Poisson streams). */
  readonly spanMs: number;
  /** Expected share of jobs per class (sums to 1), from the per-function classes and popularity. */
  readonly classShares: readonly number[];
  /** Share of the CPU work per class (sums to 1), where the source knows it. */
  readonly cpuShares?: readonly number[];
  /** Traces: how classes were assigned — by which unit, the targets, and the largest miss over the whole trace. */
  readonly assignment?: { readonly by: string; readonly targets: readonly number[]; readonly worst: number };
}

/** A deterministic, finite stream of jobs in arrival order. */
export interface JobSource {
  /** Exact mean runtime of the distribution the jobs are drawn from (ms). */
  readonly meanRuntimeMs: number;
  /** Number of jobs the stream yields in all. */
  readonly total: number;
  readonly info: WorkloadInfo;
  /** Writes up to `max` (and at most the batch's capacity) next jobs from index 0; returns how many (0 = exhausted). */
  fill(batch: JobBatch, max: number): number;
}

export function newBatch(capacity: number): JobBatch {
  if (!Number.isInteger(capacity) || capacity < 1) throw new RangeError(`batch capacity ${String(capacity)} must be a positive integer`);
  return {
    count: 0,
    id: new Float64Array(capacity),
    arrival: new Float64Array(capacity),
    runtime: new Float64Array(capacity),
    cls: new Uint8Array(capacity),
    fn: new Int32Array(capacity),
    memMB: new Float32Array(capacity),
  };
}

/** Number of jobs the next fill may write: bounded by `max`, the batch and what is left. */
export function fillCount(batch: JobBatch, max: number, left: number): number {
  return Math.max(0, Math.min(Math.floor(max), batch.id.length, left));
}
