// A simulated machine's hardware: cores shared by the jobs its scheduler has dispatched (processor
// sharing: n jobs on c cores each progress at rate min(1, c/n)), and memory that grows with each
// job's progress from its initial size to its total. Swap time is not simulated (paper, §4.1).

import type { Job } from '../core/types.ts';

/**
 * What the simulator knows of a job: the core's view (it *is* the Job the core is given) plus the
 * truth the core never sees (runtime, memory) and the simulator's bookkeeping.
 */
export interface SimJob extends Job {
  readonly runtime: number;
  readonly memInit: number;
  readonly memTotal: number;
  /** Machine index it was placed on (-1 before placement). */
  machine: number;
  /** Service received before the current run (ms of CPU). */
  done: number;
  /** Service clock of the machine when the current run began. */
  runStartS: number;
  running: boolean;
  swapped: boolean;
  /** Resident memory while not running (MB). */
  memNow: number;
  measured: boolean;
  /** Service clock value at which the job completes while running. */
  finishS: number;
  /** Position in its machine's running heap, or -1. */
  hi: number;
}

export class Hardware {
  /** Service clock: CPU-ms each running job has received since time 0. */
  private s = 0;
  private lastT = 0;
  private rate = 1;
  /** Running jobs, a binary min-heap on finishS (ties: job id). */
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
  constructor(readonly cores: number, readonly capacityMB: number, readonly trackMemory: boolean, private readonly linear = false) {}

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
    if (this.trackMemory) this.used += j.memInit;
  }

  dispatch(j: SimJob): void {
    j.running = true;
    j.runStartS = this.s;
    j.finishS = this.s + (j.runtime - j.done);
    this.push(j);
    if (this.trackMemory) this.slopeSum += (j.memTotal - j.memInit) / j.runtime;
    this.setRate();
  }

  /** Preemption: the job keeps its progress and its memory. */
  stop(j: SimJob): void {
    j.done += this.s - j.runStartS;
    if (j.done > j.runtime) j.done = j.runtime;
    j.running = false;
    this.removeAt(j.hi);
    if (this.trackMemory) {
      this.slopeSum -= (j.memTotal - j.memInit) / j.runtime;
      if (this.heap.length === 0) this.slopeSum = 0;
    }
    j.memNow = this.memoryOf(j);
    this.setRate();
  }

  /** Removes the job due first (the caller checked it is due) and returns it. */
  completeNext(): SimJob {
    const j = this.heap[this.first] as SimJob;
    this.removeAt(this.first);
    j.done = j.runtime;
    j.running = false;
    if (this.trackMemory) {
      this.slopeSum -= (j.memTotal - j.memInit) / j.runtime;
      if (this.heap.length === 0) this.slopeSum = 0;
      this.used -= j.memTotal;
    }
    this.setRate();
    return j;
  }

  swapOut(j: SimJob): void {
    j.swapped = true;
    if (this.trackMemory) this.used -= j.memNow;
  }

  swapIn(j: SimJob): void {
    j.swapped = false;
    if (this.trackMemory) this.used += j.memNow;
  }

  /** Resident memory of a job now (MB). */
  memoryOf(j: SimJob): number {
    const done = j.running ? j.done + (this.s - j.runStartS) : j.done;
    const f = done >= j.runtime ? 1 : done / j.runtime;
    return j.memInit + (j.memTotal - j.memInit) * f;
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

  private push(j: SimJob): void {
    const i = this.heap.length;
    this.heap.push(j);
    this.fin.push(j.finishS);
    j.hi = i;
    if (!this.linear) this.up(i);
    else if (i > 0 && this.before(i, this.first)) this.first = i;
  }

  private removeAt(i: number): void {
    const h = this.heap;
    (h[i] as SimJob).hi = -1;
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
    j.hi = i;
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
