// The simulator's per-job numbers: each job in the system is one row of a Float64Array (its identity,
// its simulated truth — runtime, memory — and the hardware's bookkeeping), never an object, so that
// at 10,000 machines a completion reads one or two cache lines. See hardware.ts for why.

import type { Job } from '../core/types.ts';

/**
 * What the simulator gives the core for a job: the core's view (it *is* the Job the core is given)
 * and `k`, its row in the JobTable, which holds the truth the core never sees (runtime, memory) and
 * the simulator's bookkeeping.
 */
export interface SimJob extends Job {
  readonly k: number;
}

const RUNNING = 1;
const MEASURED = 2;
/** FLAGS holds RUNNING | MEASURED | class << CLS_SHIFT. */
const CLS_SHIFT = 2;

/**
 * Whole numbers (id, position, function) are read back `| 0`: an integer, not a double, for the
 * indices and comparisons they go into. Ids stay below 2^31 (the simulator's largest case is 100 M jobs).
 *
 * Offsets of a JobTable row's fields. The first eight (one cache line when aligned) are all a
 * completion reads. Exported for engine.ts, which reads rows directly until it uses the accessors.
 */
export const RUNTIME = 0;
/** The largest job id (ids are read back as 32-bit integers). */
const MAX_ID = 0x7fffffff;
/** Service received before the current run (ms of CPU). */
const DONE = 1;
/** Service clock of the machine when the current run began. */
const RUN_START = 2;
export const ID = 3;
export const ARRIVAL = 4;
export const MEM_TOTAL = 5;
/** Position in its machine's running set (-1: none). */
const POS = 6;
const FLAGS = 7;
export const MEM_INIT = 8;
/** Resident memory while not running (MB). */
export const MEM_NOW = 9;
/** Its function, where the gateway learns durations by function (set by `setFn`, else stale). */
const FN = 10;
/** A row's offset shifted right by this is its row number. */
export const ROW_SHIFT = 4;
const STRIDE = 1 << ROW_SHIFT;

/**
 * The simulator's per-job numbers, one row per job in the system, in one Float64Array. Rows of
 * completed jobs are reused, so the table is as large as the most jobs ever in the system at once.
 * A job is known by its row's offset `k` (`SimJob.k`); its fields are read and written through the
 * small methods below, which V8 inlines: as fast as indexing the array by hand.
 */
export class JobTable {
  /** The rows. Read them through the accessors; public only for engine.ts's direct reads. */
  d = new Float64Array(1024 * STRIDE);
  private readonly free: number[] = [];
  private used = 0;

  /** A row for a new job; returns its offset (`SimJob.k`). */
  add(id: number, cls: number, arrival: number, runtime: number, memInit: number, memTotal: number, measured: boolean): number {
    // Ids are read back `| 0` (see above): past 2^31 - 1 they would wrap.
    if (id > MAX_ID) throw new RangeError(`job id ${id} is above ${MAX_ID}: the simulator takes at most 2^31 jobs in one run; split the workload into runs`);
    let k = this.free.pop();
    if (k === undefined) {
      if ((this.used + 1) * STRIDE > this.d.length) this.grow();
      k = this.used++ * STRIDE;
    }
    const d = this.d;
    d[k + RUNTIME] = runtime;
    d[k + DONE] = 0;
    d[k + RUN_START] = 0;
    d[k + ID] = id;
    d[k + ARRIVAL] = arrival;
    d[k + MEM_TOTAL] = memTotal;
    d[k + POS] = -1;
    d[k + FLAGS] = (measured ? MEASURED : 0) | (cls << CLS_SHIFT);
    d[k + MEM_INIT] = memInit;
    d[k + MEM_NOW] = memInit;
    return k;
  }

  /** Notes the job's function (read back by `fn`). */
  setFn(k: number, fn: number): void {
    this.d[k + FN] = fn;
  }

  /** The job's function, as `setFn` noted it. */
  fn(k: number): number {
    return (this.d[k + FN] as number) | 0;
  }

  /** The job left the system: its row may be reused. */
  release(k: number): void {
    this.free.push(k);
  }

  /** The row number of offset k: 0, 1, 2, … (for arrays kept beside the table). */
  row(k: number): number {
    return k >> ROW_SHIFT;
  }

  // ---- what the job is (set by `add`) ----

  id(k: number): number {
    return (this.d[k + ID] as number) | 0;
  }

  cls(k: number): number {
    return (this.d[k + FLAGS] as number) >> CLS_SHIFT;
  }

  /** Arrival time (ms). */
  arrival(k: number): number {
    return this.d[k + ARRIVAL] as number;
  }

  /** CPU time it needs (ms): the truth the core never sees. */
  runtime(k: number): number {
    return this.d[k + RUNTIME] as number;
  }

  /** Memory when placed (MB). */
  memInit(k: number): number {
    return this.d[k + MEM_INIT] as number;
  }

  /** Memory when done (MB); in between it grows with progress. */
  memTotal(k: number): number {
    return this.d[k + MEM_TOTAL] as number;
  }

  /** Whether it arrived within the measurement window. */
  isMeasured(k: number): boolean {
    return ((this.d[k + FLAGS] as number) & MEASURED) !== 0;
  }

  // ---- where it is (kept by `Hardware`) ----

  isRunning(k: number): boolean {
    return ((this.d[k + FLAGS] as number) & RUNNING) !== 0;
  }

  setRunning(k: number, on: boolean): void {
    const f = this.d[k + FLAGS] as number;
    this.d[k + FLAGS] = on ? f | RUNNING : f & ~RUNNING;
  }

  /** Resident memory while not running (MB): `memInit` until it is first stopped. */
  memNow(k: number): number {
    return this.d[k + MEM_NOW] as number;
  }

  setMemNow(k: number, mb: number): void {
    this.d[k + MEM_NOW] = mb;
  }

  /** Service received before the current run (ms of CPU). */
  done(k: number): number {
    return this.d[k + DONE] as number;
  }

  setDone(k: number, ms: number): void {
    this.d[k + DONE] = ms;
  }

  /** Its machine's service clock when the current run began. */
  runStart(k: number): number {
    return this.d[k + RUN_START] as number;
  }

  setRunStart(k: number, s: number): void {
    this.d[k + RUN_START] = s;
  }

  /** Its position in its machine's running set (-1: not in one). */
  pos(k: number): number {
    return (this.d[k + POS] as number) | 0;
  }

  setPos(k: number, i: number): void {
    this.d[k + POS] = i;
  }

  private grow(): void {
    const b = new Float64Array(this.d.length * 2);
    b.set(this.d);
    this.d = b;
  }
}
