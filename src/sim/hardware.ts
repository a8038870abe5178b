// The simulated machines' hardware: each machine's cores are shared by the jobs its scheduler has
// dispatched (processor sharing: n jobs on c cores each progress at rate min(1, c/n)), and its memory
// grows with each job's progress from its initial size to its total. Swap time is not simulated
// (paper, §4.1).
//
// Layout, for the 10,000-machine case where nothing stays in cache: every number lives in a
// Float64Array row, never on an object (V8 keeps an object's fractional fields as separate heap
// numbers, each another cache line). A job's numbers are one row of the JobTable; a machine's clocks,
// memory and (when at most a few jobs run at once) its running set are one row of `Hardware`, so a
// completion reads two or three neighbouring lines instead of a dozen scattered objects.

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

/** Fields of a JobTable row. The first eight (one cache line when aligned) are all a completion reads. */
export const RUNTIME = 0;
/** Service received before the current run (ms of CPU). */
const DONE = 1;
/** Service clock of the machine when the current run began. */
const RUN_START = 2;
export const ID = 3;
export const ARRIVAL = 4;
export const MEM_TOTAL = 5;
/** Position in its machine's running set (-1: none). */
const HI = 6;
const FLAGS = 7;
export const MEM_INIT = 8;
/** Resident memory while not running (MB). */
export const MEM_NOW = 9;
/** A row's offset shifted right by this is its row number. */
export const ROW_SHIFT = 4;
const STRIDE = 1 << ROW_SHIFT;

/**
 * The simulator's per-job numbers, one row per job in the system, in one Float64Array. Rows of
 * completed jobs are reused, so the table is as large as the most jobs ever in the system at once.
 */
export class JobTable {
  d = new Float64Array(1024 * STRIDE);
  private readonly free: number[] = [];
  private used = 0;

  /** A row for a new job; returns its offset (`SimJob.k`). */
  add(id: number, cls: number, arrival: number, runtime: number, memInit: number, memTotal: number, measured: boolean): number {
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
    d[k + HI] = -1;
    d[k + FLAGS] = (measured ? MEASURED : 0) | (cls << CLS_SHIFT);
    d[k + MEM_INIT] = memInit;
    d[k + MEM_NOW] = memInit;
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

  cls(k: number): number {
    return (this.d[k + FLAGS] as number) >> CLS_SHIFT;
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

/** Fields of a machine's row in `Hardware`. */
/** Service clock: CPU-ms each running job has received since time 0. */
const S = 0;
const LAST_T = 1;
const RATE = 2;
/** Jobs running. */
const N = 3;
/** Position of the job due first (rows: the scanned minimum; heaps: 0). */
const FIRST = 4;
/** ∫ busy cores dt (core-ms). */
const BUSY = 5;
/** Resident memory (MB). */
const USED = 6;
/** Σ over running jobs of memory growth per ms of service. */
const SLOPE = 7;
/** ∫ max(0, used − capacity) dt (MB-ms). */
const OVER = 8;
/** Where a row's running set starts: finish keys, then the jobs' table rows. */
const SET = 9;

export class Hardware {
  /** One row per machine: the fields above, then (in `linear` mode) the running set. */
  private readonly r: Float64Array;
  private readonly stride: number;
  /** Outside `linear` mode: each machine's running set as a binary min-heap of finish keys and table rows. */
  private readonly heapFin: number[][] = [];
  private readonly heapK: number[][] = [];

  /**
   * `linear`: at most `cores` jobs run at once (a machine scheduler that dispatches no more than its
   * cores, and few of them): the running set sits unsorted in the machine's row with the position of
   * the job due first, cheaper than a heap at that size. Otherwise (processor sharing, EDF's one big
   * machine) a binary heap per machine.
   */
  constructor(
    private readonly t: JobTable,
    readonly machines: number,
    readonly cores: number,
    readonly capacityMB: number,
    readonly trackMemory: boolean,
    private readonly linear = false,
  ) {
    // Rows a whole number of cache lines long (8 numbers), so a machine's fields share lines.
    this.stride = ((linear ? SET + 2 * cores : SET) + 7) & ~7;
    this.r = new Float64Array(machines * this.stride);
    for (let m = 0; m < machines; m++) {
      this.r[m * this.stride + RATE] = 1;
      if (!linear) {
        this.heapFin.push([]);
        this.heapK.push([]);
      }
    }
  }

  used(m: number): number {
    return this.r[m * this.stride + USED] as number;
  }

  busy(m: number): number {
    return this.r[m * this.stride + BUSY] as number;
  }

  overcommit(m: number): number {
    return this.r[m * this.stride + OVER] as number;
  }

  /** Brings machine m's clocks to `now`. */
  advanceTo(m: number, now: number): void {
    const r = this.r, b = m * this.stride;
    const dt = now - (r[b + LAST_T] as number);
    if (dt <= 0) return;
    const n = r[b + N] as number;
    const rate = r[b + RATE] as number;
    r[b + S] = (r[b + S] as number) + dt * rate;
    r[b + BUSY] = (r[b + BUSY] as number) + dt * (n < this.cores ? n : this.cores);
    const used = r[b + USED] as number;
    const slope = r[b + SLOPE] as number;
    if (this.trackMemory && slope > 0) {
      const before = used - this.capacityMB;
      const u = used + slope * rate * dt;
      r[b + USED] = u;
      const after = u - this.capacityMB;
      if (after > 0) r[b + OVER] = (r[b + OVER] as number) + (before >= 0 ? ((before + after) / 2) * dt : ((after * after) / (after - before) / 2) * dt);
    } else if (used > this.capacityMB) {
      r[b + OVER] = (r[b + OVER] as number) + (used - this.capacityMB) * dt;
    }
    r[b + LAST_T] = now;
  }

  advanceAll(now: number): void {
    for (let m = 0; m < this.machines; m++) this.advanceTo(m, now);
  }

  /** Job row k placed on machine m: its initial memory becomes resident. */
  place(m: number, k: number): void {
    if (this.trackMemory) this.addUsed(m, this.t.d[k + MEM_INIT] as number);
  }

  dispatch(m: number, k: number): void {
    const t = this.t, d = t.d, r = this.r, b = m * this.stride;
    t.setRunning(k, true);
    const s = r[b + S] as number;
    d[k + RUN_START] = s;
    this.push(m, k, s + ((d[k + RUNTIME] as number) - (d[k + DONE] as number)));
    if (this.trackMemory) r[b + SLOPE] = (r[b + SLOPE] as number) + this.slopeOf(k);
    this.setRate(b);
  }

  /** Preemption: the job keeps its progress and its memory. */
  stop(m: number, k: number): void {
    const t = this.t, d = t.d, r = this.r, b = m * this.stride;
    const done = (d[k + DONE] as number) + ((r[b + S] as number) - (d[k + RUN_START] as number));
    d[k + DONE] = done > (d[k + RUNTIME] as number) ? (d[k + RUNTIME] as number) : done;
    t.setRunning(k, false);
    this.removeAt(m, d[k + HI] as number);
    if (this.trackMemory) this.dropSlope(b, k);
    d[k + MEM_NOW] = this.memoryOf(m, k);
    this.setRate(b);
  }

  /** Removes machine m's job due first (the caller checked it is due) and returns its table row. */
  completeNext(m: number): number {
    const r = this.r, b = m * this.stride;
    const first = r[b + FIRST] as number;
    const k = this.linear ? (r[b + SET + this.cores + first] as number) : (this.heapK[m] as number[])[0] as number;
    const t = this.t, d = t.d;
    this.removeAt(m, first);
    d[k + DONE] = d[k + RUNTIME] as number;
    t.setRunning(k, false);
    if (this.trackMemory) {
      this.dropSlope(b, k);
      r[b + USED] = (r[b + USED] as number) - (d[k + MEM_TOTAL] as number);
    }
    this.setRate(b);
    return k;
  }

  swapOut(m: number, k: number): void {
    if (this.trackMemory) this.addUsed(m, -(this.t.d[k + MEM_NOW] as number));
  }

  swapIn(m: number, k: number): void {
    if (this.trackMemory) this.addUsed(m, this.t.d[k + MEM_NOW] as number);
  }

  /** Resident memory of job row k, on machine m, now (MB). */
  private memoryOf(m: number, k: number): number {
    const t = this.t, d = t.d;
    const runtime = d[k + RUNTIME] as number;
    const done = t.isRunning(k) ? (d[k + DONE] as number) + ((this.r[m * this.stride + S] as number) - (d[k + RUN_START] as number)) : (d[k + DONE] as number);
    const f = done >= runtime ? 1 : done / runtime;
    const init = d[k + MEM_INIT] as number;
    return init + ((d[k + MEM_TOTAL] as number) - init) * f;
  }

  /** When machine m's next running job completes (Infinity if none). */
  nextCompletion(m: number): number {
    const r = this.r, b = m * this.stride;
    if ((r[b + N] as number) === 0) return Infinity;
    const fin = this.linear ? (r[b + SET + (r[b + FIRST] as number)] as number) : ((this.heapFin[m] as number[])[0] as number);
    const left = fin - (r[b + S] as number);
    return (r[b + LAST_T] as number) + (left > 0 ? left / (r[b + RATE] as number) : 0);
  }

  /** When machine m's resident memory reaches `level` MB by growth alone (Infinity if never). */
  crossing(m: number, level: number): number {
    const r = this.r, b = m * this.stride;
    const slope = r[b + SLOPE] as number;
    if (!this.trackMemory || slope <= 0 || level === Infinity) return Infinity;
    const gap = level - (r[b + USED] as number);
    if (gap <= 1e-6) return Infinity;
    return (r[b + LAST_T] as number) + gap / (slope * (r[b + RATE] as number));
  }

  private addUsed(m: number, mb: number): void {
    const b = m * this.stride;
    this.r[b + USED] = (this.r[b + USED] as number) + mb;
  }

  /** Memory growth per ms of service of job row k. */
  private slopeOf(k: number): number {
    const d = this.t.d;
    return ((d[k + MEM_TOTAL] as number) - (d[k + MEM_INIT] as number)) / (d[k + RUNTIME] as number);
  }

  private dropSlope(b: number, k: number): void {
    const r = this.r;
    r[b + SLOPE] = (r[b + N] as number) === 0 ? 0 : (r[b + SLOPE] as number) - this.slopeOf(k);
  }

  private setRate(b: number): void {
    const n = this.r[b + N] as number;
    this.r[b + RATE] = n <= this.cores ? 1 : this.cores / n;
  }

  // ---- the running set: finish keys and table rows side by side (ties, rare, are broken by job id);
  // each job knows its position (HI) so a preempted job can be removed ----

  private push(m: number, k: number, finish: number): void {
    const r = this.r, b = m * this.stride;
    const i = r[b + N] as number;
    r[b + N] = i + 1;
    this.t.d[k + HI] = i;
    if (this.linear) {
      r[b + SET + i] = finish;
      r[b + SET + this.cores + i] = k;
      if (i > 0 && this.before(finish, k, r[b + SET + (r[b + FIRST] as number)] as number, r[b + SET + this.cores + (r[b + FIRST] as number)] as number)) r[b + FIRST] = i;
    } else {
      (this.heapFin[m] as number[]).push(finish);
      (this.heapK[m] as number[]).push(k);
      this.up(m, i);
    }
  }

  private removeAt(m: number, i: number): void {
    const r = this.r, b = m * this.stride, d = this.t.d;
    const last = (r[b + N] as number) - 1;
    r[b + N] = last;
    if (this.linear) {
      const fin = b + SET, ks = b + SET + this.cores;
      d[(r[ks + i] as number) + HI] = -1;
      if (i !== last) {
        r[fin + i] = r[fin + last] as number;
        const moved = r[ks + last] as number;
        r[ks + i] = moved;
        d[moved + HI] = i;
      }
      // The job due first left, or moved from the end into i: find it again.
      const first = r[b + FIRST] as number;
      if (i === first || first === last) this.scanFirst(b, last);
    } else {
      const hf = this.heapFin[m] as number[], hk = this.heapK[m] as number[];
      d[(hk[i] as number) + HI] = -1;
      const f = hf.pop() as number, k = hk.pop() as number;
      if (i !== last) {
        this.put(hf, hk, i, f, k);
        this.up(m, i);
        this.down(m, i);
      }
    }
  }

  /** Is (finish fa, row ka) due before (fb, kb)? Finish key, then job id. */
  private before(fa: number, ka: number, fb: number, kb: number): boolean {
    return fa < fb || (fa === fb && (this.t.d[ka + ID] as number) < (this.t.d[kb + ID] as number));
  }

  /** Finds the job due first among the n jobs of the row at b. */
  private scanFirst(b: number, n: number): void {
    const r = this.r, fin = b + SET, ks = b + SET + this.cores;
    let m = 0;
    for (let i = 1; i < n; i++) {
      if (this.before(r[fin + i] as number, r[ks + i] as number, r[fin + m] as number, r[ks + m] as number)) m = i;
    }
    r[b + FIRST] = m;
  }

  private put(hf: number[], hk: number[], i: number, f: number, k: number): void {
    hf[i] = f;
    hk[i] = k;
    this.t.d[k + HI] = i;
  }

  private up(m: number, i: number): void {
    const hf = this.heapFin[m] as number[], hk = this.heapK[m] as number[];
    const f = hf[i] as number, k = hk[i] as number;
    while (i > 0) {
      const p = (i - 1) >> 1;
      if (!this.before(f, k, hf[p] as number, hk[p] as number)) break;
      this.put(hf, hk, i, hf[p] as number, hk[p] as number);
      i = p;
    }
    this.put(hf, hk, i, f, k);
  }

  private down(m: number, i: number): void {
    const hf = this.heapFin[m] as number[], hk = this.heapK[m] as number[];
    const n = hf.length;
    const f = hf[i] as number, k = hk[i] as number;
    for (;;) {
      const l = 2 * i + 1;
      if (l >= n) break;
      const rr = l + 1;
      const c = rr < n && this.before(hf[rr] as number, hk[rr] as number, hf[l] as number, hk[l] as number) ? rr : l;
      if (!this.before(hf[c] as number, hk[c] as number, f, k)) break;
      this.put(hf, hk, i, hf[c] as number, hk[c] as number);
      i = c;
    }
    this.put(hf, hk, i, f, k);
  }
}
