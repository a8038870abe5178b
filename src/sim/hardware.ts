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

import type { JobTable } from './job-table.ts';


/** Fields of a machine's row in `Hardware`. */
/** Service clock: CPU-ms each running job has received since time 0. */
const SERVICE = 0;
const LAST_T = 1;
const RATE = 2;
/** Jobs running. */
const NRUN = 3;
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

  /** Field `i` of the machine rows (offset of the machine's row + the field). */
  private at(i: number): number {
    return this.r[i] as number;
  }

  used(m: number): number {
    return this.at(m * this.stride + USED);
  }

  busy(m: number): number {
    return this.at(m * this.stride + BUSY);
  }

  overcommit(m: number): number {
    return this.at(m * this.stride + OVER);
  }

  /** Brings machine m's clocks to `now`. */
  advanceTo(m: number, now: number): void {
    const r = this.r, b = m * this.stride;
    const dt = now - this.at(b + LAST_T);
    if (dt <= 0) return;
    const n = this.at(b + NRUN);
    const rate = this.at(b + RATE);
    r[b + SERVICE] = this.at(b + SERVICE) + dt * rate;
    r[b + BUSY] = this.at(b + BUSY) + dt * (n < this.cores ? n : this.cores);
    const used = this.at(b + USED);
    const slope = this.at(b + SLOPE);
    if (this.trackMemory && slope > 0) {
      const before = used - this.capacityMB;
      const u = used + slope * rate * dt;
      r[b + USED] = u;
      const after = u - this.capacityMB;
      if (after > 0) r[b + OVER] = this.at(b + OVER) + (before >= 0 ? ((before + after) / 2) * dt : ((after * after) / (after - before) / 2) * dt);
    } else if (used > this.capacityMB) {
      r[b + OVER] = this.at(b + OVER) + (used - this.capacityMB) * dt;
    }
    r[b + LAST_T] = now;
  }

  advanceAll(now: number): void {
    for (let m = 0; m < this.machines; m++) this.advanceTo(m, now);
  }

  /** Job row k placed on machine m: its initial memory becomes resident. */
  place(m: number, k: number): void {
    if (this.trackMemory) this.addUsed(m, this.t.memInit(k));
  }

  dispatch(m: number, k: number): void {
    const t = this.t, r = this.r, b = m * this.stride;
    t.setRunning(k, true);
    const s = this.at(b + SERVICE);
    t.setRunStart(k, s);
    this.push(m, k, s + (t.runtime(k) - t.done(k)));
    if (this.trackMemory) r[b + SLOPE] = this.at(b + SLOPE) + this.slopeOf(k);
    this.setRate(b);
  }

  /** Preemption: the job keeps its progress and its memory. */
  stop(m: number, k: number): void {
    const t = this.t, b = m * this.stride;
    const done = t.done(k) + (this.at(b + SERVICE) - t.runStart(k));
    const runtime = t.runtime(k);
    t.setDone(k, done > runtime ? runtime : done);
    t.setRunning(k, false);
    this.removeAt(m, t.pos(k));
    if (this.trackMemory) this.dropSlope(b, k);
    t.setMemNow(k, this.memoryOf(m, k));
    this.setRate(b);
  }

  /** Removes machine m's job due first (the caller checked it is due) and returns its table row. */
  completeNext(m: number): number {
    const r = this.r, b = m * this.stride;
    const first = this.at(b + FIRST);
    const k = this.linear ? this.at(b + SET + this.cores + first) : (this.heapK[m] as number[])[0] as number;
    const t = this.t;
    this.removeAt(m, first);
    t.setDone(k, t.runtime(k));
    t.setRunning(k, false);
    if (this.trackMemory) {
      this.dropSlope(b, k);
      r[b + USED] = this.at(b + USED) - t.memTotal(k);
    }
    this.setRate(b);
    return k;
  }

  swapOut(m: number, k: number): void {
    if (this.trackMemory) this.addUsed(m, -this.t.memNow(k));
  }

  swapIn(m: number, k: number): void {
    if (this.trackMemory) this.addUsed(m, this.t.memNow(k));
  }

  /** Resident memory of job row k, on machine m, now (MB). */
  private memoryOf(m: number, k: number): number {
    const t = this.t;
    const runtime = t.runtime(k);
    const done = t.isRunning(k) ? t.done(k) + (this.at(m * this.stride + SERVICE) - t.runStart(k)) : t.done(k);
    const f = done >= runtime ? 1 : done / runtime;
    const init = t.memInit(k);
    return init + (t.memTotal(k) - init) * f;
  }

  /** When machine m's next running job completes (Infinity if none). */
  nextCompletion(m: number): number {
    const b = m * this.stride;
    if (this.at(b + NRUN) === 0) return Infinity;
    const fin = this.linear ? (this.at(b + SET + this.at(b + FIRST))) : ((this.heapFin[m] as number[])[0] as number);
    const left = fin - this.at(b + SERVICE);
    return this.at(b + LAST_T) + (left > 0 ? left / this.at(b + RATE) : 0);
  }

  /** When machine m's resident memory reaches `level` MB by growth alone (Infinity if never). */
  crossing(m: number, level: number): number {
    const b = m * this.stride;
    const slope = this.at(b + SLOPE);
    if (!this.trackMemory || slope <= 0 || level === Infinity) return Infinity;
    const gap = level - this.at(b + USED);
    if (gap <= 1e-6) return Infinity;
    return this.at(b + LAST_T) + gap / (slope * this.at(b + RATE));
  }

  private addUsed(m: number, mb: number): void {
    const b = m * this.stride;
    this.r[b + USED] = this.at(b + USED) + mb;
  }

  /** Memory growth per ms of service of job row k. */
  private slopeOf(k: number): number {
    const t = this.t;
    return (t.memTotal(k) - t.memInit(k)) / t.runtime(k);
  }

  private dropSlope(b: number, k: number): void {
    const r = this.r;
    r[b + SLOPE] = this.at(b + NRUN) === 0 ? 0 : this.at(b + SLOPE) - this.slopeOf(k);
  }

  private setRate(b: number): void {
    const n = this.at(b + NRUN);
    this.r[b + RATE] = n <= this.cores ? 1 : this.cores / n;
  }

  // ---- the running set: finish keys and table rows side by side (ties, rare, are broken by job id);
  // each job knows its position (JobTable.pos) so a preempted job can be removed ----

  private push(m: number, k: number, finish: number): void {
    const r = this.r, b = m * this.stride;
    const i = this.at(b + NRUN);
    r[b + NRUN] = i + 1;
    this.t.setPos(k, i);
    if (this.linear) {
      r[b + SET + i] = finish;
      r[b + SET + this.cores + i] = k;
      if (i > 0 && this.before(finish, k, this.at(b + SET + this.at(b + FIRST)), this.at(b + SET + this.cores + this.at(b + FIRST)))) r[b + FIRST] = i;
    } else {
      (this.heapFin[m] as number[]).push(finish);
      (this.heapK[m] as number[]).push(k);
      this.up(m, i);
    }
  }

  private removeAt(m: number, i: number): void {
    const r = this.r, b = m * this.stride, t = this.t;
    const last = this.at(b + NRUN) - 1;
    r[b + NRUN] = last;
    if (this.linear) {
      const fin = b + SET, ks = b + SET + this.cores;
      t.setPos(this.at(ks + i), -1);
      if (i !== last) {
        r[fin + i] = this.at(fin + last);
        const moved = this.at(ks + last);
        r[ks + i] = moved;
        t.setPos(moved, i);
      }
      // The job due first left, or moved from the end into i: find it again.
      const first = this.at(b + FIRST);
      if (i === first || first === last) this.scanFirst(b, last);
    } else {
      const hf = this.heapFin[m] as number[], hk = this.heapK[m] as number[];
      t.setPos(hk[i] as number, -1);
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
    return fa < fb || (fa === fb && this.t.id(ka) < this.t.id(kb));
  }

  /** Finds the job due first among the n jobs of the row at b. */
  private scanFirst(b: number, n: number): void {
    const r = this.r, fin = b + SET, ks = b + SET + this.cores;
    let m = 0;
    for (let i = 1; i < n; i++) {
      if (this.before(this.at(fin + i), this.at(ks + i), this.at(fin + m), this.at(ks + m))) m = i;
    }
    r[b + FIRST] = m;
  }

  private put(hf: number[], hk: number[], i: number, f: number, k: number): void {
    hf[i] = f;
    hk[i] = k;
    this.t.setPos(k, i);
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
