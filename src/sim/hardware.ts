// A simulated machine's hardware: cores shared by the jobs its scheduler has dispatched (processor
// sharing: n jobs on c cores each progress at rate min(1, c/n)), and memory that grows with each
// job's progress from its initial size to its total. Swap time is not simulated (paper, §4.1).

import type { Job } from '../core/types.ts';

/**
 * What the simulator knows of a job: the core's view (it *is* the Job the core is given) and `k`, its
 * row in the JobTable, which holds the truth the core never sees (runtime, memory) and the simulator's
 * bookkeeping.
 */
export interface SimJob extends Job {
  readonly k: number;
}

const RUNNING = 1;
const MEASURED = 2;

/** Fields of a JobTable row (offsets into its 8 numbers). */
export const RUNTIME = 0;
export const MEM_INIT = 1;
export const MEM_TOTAL = 2;
/** Service received before the current run (ms of CPU). */
export const DONE = 3;
/** Service clock of the machine when the current run began. */
export const RUN_START = 4;
/** Resident memory while not running (MB). */
export const MEM_NOW = 5;
/** Position in its machine's running set (-1: none). */
export const HI = 6;
/** RUNNING | MEASURED. */
export const FLAGS = 7;
const STRIDE = 8;

/**
 * The simulator's per-job numbers, one row of 8 per job in the system, in one Float64Array: a job's
 * numbers share a cache line. On an object they would each be a separate boxed number (V8 keeps
 * fractional fields as heap numbers), several more cache lines per job touched at a completion, which
 * at 10,000 machines is most of the cost. Rows of completed jobs are reused, so the table is as large
 * as the most jobs ever in the system at once.
 */
export class JobTable {
  d = new Float64Array(1024 * STRIDE);
  private readonly free: number[] = [];
  private used = 0;

  /** A row for a new job; returns its offset (`SimJob.k`). */
  add(runtime: number, memInit: number, memTotal: number, measured: boolean): number {
    let k = this.free.pop();
    if (k === undefined) {
      if ((this.used + 1) * STRIDE > this.d.length) this.grow();
      k = this.used++ * STRIDE;
    }
    const d = this.d;
    d[k + RUNTIME] = runtime;
    d[k + MEM_INIT] = memInit;
    d[k + MEM_TOTAL] = memTotal;
    d[k + DONE] = 0;
    d[k + RUN_START] = 0;
    d[k + MEM_NOW] = memInit;
    d[k + HI] = -1;
    d[k + FLAGS] = measured ? MEASURED : 0;
    return k;
  }

  /** The job left the system: its row may be reused. */
  release(k: number): void {
    this.free.push(k);
  }

  isRunning(k: number): boolean {
    return ((this.d[k + FLAGS] as number) & RUNNING) !== 0;
  }

  isMeasured(k: number): boolean {
    return ((this.d[k + FLAGS] as number) & MEASURED) !== 0;
  }

  setRunning(k: number, on: boolean): void {
    const f = this.d[k + FLAGS] as number;
    this.d[k + FLAGS] = on ? f | RUNNING : f & ~RUNNING;
  }


  private grow(): void {
    const b = new Float64Array(this.d.length * 2);
    b.set(this.d);
    this.d = b;
  }
}

export class Hardware {
  /** Service clock: CPU-ms each running job has received since time 0. */
  private s = 0;
  private lastT = 0;
  private rate = 1;
  /** Running jobs: a binary min-heap on their finish keys (ties: job id), or unsorted when `linear`. */
  private readonly heap: SimJob[] = [];
  /** Σ over running jobs of memory growth per ms of service. */
  private slopeSum = 0;
  /** Resident memory (MB). */
  used = 0;
  /** ∫ busy cores dt (core-ms). */
  busy = 0;
  /** ∫ max(0, used − capacity) dt (MB-ms). */
  overcommit = 0;

  /**
   * `linear`: at most a few jobs run at once (a machine scheduler that dispatches no more than its
   * cores): the running set is an unsorted array with the index of the job due first, cheaper than a
   * heap at that size. Otherwise (processor sharing, EDF's one big machine) a binary heap.
   */
  constructor(
    private readonly t: JobTable,
    readonly cores: number,
    readonly capacityMB: number,
    readonly trackMemory: boolean,
    private readonly linear = false,
  ) {}

  /** Position of the job due first: the heap's root, or the scanned minimum of the unsorted array. */
  private first = 0;

  get running(): number {
    return this.heap.length;
  }

  /** Brings the clocks to `now`. */
  advanceTo(now: number): void {
    const dt = now - this.lastT;
    if (dt <= 0) return;
    const n = this.heap.length;
    this.s += dt * this.rate;
    this.busy += dt * (n < this.cores ? n : this.cores);
    if (this.trackMemory && this.slopeSum > 0) {
      const before = this.used - this.capacityMB;
      this.used += this.slopeSum * this.rate * dt;
      const after = this.used - this.capacityMB;
      if (after > 0) this.overcommit += before >= 0 ? ((before + after) / 2) * dt : ((after * after) / (after - before) / 2) * dt;
    } else if (this.used > this.capacityMB) {
      this.overcommit += (this.used - this.capacityMB) * dt;
    }
    this.lastT = now;
  }

  /** A job placed on the machine: its initial memory becomes resident. */
  place(j: SimJob): void {
    if (this.trackMemory) this.used += this.t.d[j.k + MEM_INIT] as number;
  }

  dispatch(j: SimJob): void {
    const t = this.t, k = j.k, d = t.d;
    t.setRunning(k, true);
    d[k + RUN_START] = this.s;
    const finish = this.s + ((d[k + RUNTIME] as number) - (d[k + DONE] as number));
    this.push(j, finish);
    if (this.trackMemory) this.slopeSum += this.slopeOf(k);
    this.setRate();
  }

  /** Preemption: the job keeps its progress and its memory. */
  stop(j: SimJob): void {
    const t = this.t, k = j.k, d = t.d;
    const done = (d[k + DONE] as number) + (this.s - (d[k + RUN_START] as number));
    d[k + DONE] = done > (d[k + RUNTIME] as number) ? (d[k + RUNTIME] as number) : done;
    t.setRunning(k, false);
    this.removeAt(d[k + HI] as number);
    if (this.trackMemory) {
      this.slopeSum -= this.slopeOf(k);
      if (this.heap.length === 0) this.slopeSum = 0;
    }
    d[k + MEM_NOW] = this.memoryOf(j);
    this.setRate();
  }

  /** Removes the job due first (the caller checked it is due) and returns it. */
  completeNext(): SimJob {
    const j = this.heap[this.first] as SimJob;
    const t = this.t, k = j.k, d = t.d;
    this.removeAt(this.first);
    d[k + DONE] = d[k + RUNTIME] as number;
    t.setRunning(k, false);
    if (this.trackMemory) {
      this.slopeSum -= this.slopeOf(k);
      if (this.heap.length === 0) this.slopeSum = 0;
      this.used -= d[k + MEM_TOTAL] as number;
    }
    this.setRate();
    return j;
  }

  swapOut(j: SimJob): void {
    if (this.trackMemory) this.used -= this.t.d[j.k + MEM_NOW] as number;
  }

  swapIn(j: SimJob): void {
    if (this.trackMemory) this.used += this.t.d[j.k + MEM_NOW] as number;
  }

  /** Resident memory of a job now (MB). */
  memoryOf(j: SimJob): number {
    const t = this.t, k = j.k, d = t.d;
    const runtime = d[k + RUNTIME] as number;
    const done = t.isRunning(k) ? (d[k + DONE] as number) + (this.s - (d[k + RUN_START] as number)) : (d[k + DONE] as number);
    const f = done >= runtime ? 1 : done / runtime;
    const init = d[k + MEM_INIT] as number;
    return init + ((d[k + MEM_TOTAL] as number) - init) * f;
  }

  /** Memory growth per ms of service of job row k. */
  private slopeOf(k: number): number {
    const d = this.t.d;
    return ((d[k + MEM_TOTAL] as number) - (d[k + MEM_INIT] as number)) / (d[k + RUNTIME] as number);
  }

  /** When the next running job completes (Infinity if none). */
  nextCompletion(): number {
    if (this.heap.length === 0) return Infinity;
    const left = (this.fin[this.first] as number) - this.s;
    return this.lastT + (left > 0 ? left / this.rate : 0);
  }

  /** When resident memory reaches `level` MB by growth alone (Infinity if never). */
  crossing(level: number): number {
    if (!this.trackMemory || this.slopeSum <= 0 || level === Infinity) return Infinity;
    const gap = level - this.used;
    if (gap <= 1e-6) return Infinity;
    return this.lastT + gap / (this.slopeSum * this.rate);
  }

  private setRate(): void {
    const n = this.heap.length;
    this.rate = n <= this.cores ? 1 : this.cores / n;
  }

  // ---- the running heap: jobs and their finish keys in parallel arrays, so sifting compares dense
  // numbers (ties, rare, are broken by job id); each job knows its position (`hi`) so a preempted job
  // can be removed ----

  private readonly fin: number[] = [];

  private push(j: SimJob, finish: number): void {
    const i = this.heap.length;
    this.heap.push(j);
    this.fin.push(finish);
    this.t.d[j.k + HI] = i;
    if (!this.linear) this.up(i);
    else if (i > 0 && this.before(i, this.first)) this.first = i;
  }

  private removeAt(i: number): void {
    const h = this.heap;
    this.t.d[(h[i] as SimJob).k + HI] = -1;
    const last = h.length - 1;
    if (i !== last) this.put(i, h[last] as SimJob, this.fin[last] as number);
    h.pop();
    this.fin.pop();
    if (this.linear) {
      // The job due first left, or moved from the end into i: find it again.
      if (i === this.first || this.first === last) this.scanFirst();
    } else if (i !== last) {
      this.up(i);
      this.down(i);
    }
  }

  /** Is the job at a due before the one at b (finish key, then id)? */
  private before(a: number, b: number): boolean {
    const fa = this.fin[a] as number, fb = this.fin[b] as number;
    return fa < fb || (fa === fb && (this.heap[a] as SimJob).id < (this.heap[b] as SimJob).id);
  }

  private scanFirst(): void {
    let m = 0;
    for (let k = 1; k < this.heap.length; k++) if (this.before(k, m)) m = k;
    this.first = m;
  }

  private put(i: number, j: SimJob, f: number): void {
    this.heap[i] = j;
    this.fin[i] = f;
    this.t.d[j.k + HI] = i;
  }

  private up(i: number): void {
    const fin = this.fin, h = this.heap;
    const j = h[i] as SimJob, f = fin[i] as number;
    while (i > 0) {
      const p = (i - 1) >> 1;
      const pf = fin[p] as number;
      if (!(f < pf || (f === pf && j.id < (h[p] as SimJob).id))) break;
      this.put(i, h[p] as SimJob, pf);
      i = p;
    }
    this.put(i, j, f);
  }

  private down(i: number): void {
    const fin = this.fin, h = this.heap;
    const n = h.length;
    const j = h[i] as SimJob, f = fin[i] as number;
    for (;;) {
      const l = 2 * i + 1;
      if (l >= n) break;
      const r = l + 1;
      let c = l;
      if (r < n) {
        const rf = fin[r] as number, lf = fin[l] as number;
        if (rf < lf || (rf === lf && (h[r] as SimJob).id < (h[l] as SimJob).id)) c = r;
      }
      const cf = fin[c] as number;
      if (!(cf < f || (cf === f && (h[c] as SimJob).id < j.id))) break;
      this.put(i, h[c] as SimJob, cf);
      i = c;
    }
    this.put(i, j, f);
  }
}
