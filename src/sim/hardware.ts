// The simulated machines' hardware: each machine's cores are shared by the jobs its scheduler has
// dispatched (processor sharing: n jobs on c cores each progress at rate min(1, c/n)), and its memory
// grows with each job's progress from its initial size to its total. Each machine has one swap
// device, first come first served, that writes (page-out) and reads (page-in) at given rates: a job
// swapped out stays resident until its pages are written (freed 256 MB at a time, as written), and a
// job swapped in starts only when its pages are read back (after what was queued on the device before
// it). With memory admission a placed job's memory is taken when it first runs, not when it is placed. The paper did not simulate
// swap time (§4.1); infinite rates give its model back.
//
// Layout, for the 10,000-machine case where nothing stays in cache: every number lives in a
// Float64Array row, never on an object (V8 keeps an object's fractional fields as separate heap
// numbers, each another cache line). A job's numbers are one row of the JobTable; a machine's clocks,
// memory and (when at most a few jobs run at once) its running set are one row of `Hardware`, so a
// completion reads two or three neighbouring lines instead of a dozen scattered objects.
// A whole number read back from a row (a count, a position, a job's table row) is taken `| 0`: as a
// double it would make every index computed from it a double, checked and converted at each access.

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
/** ∫ max(0, resident − capacity) dt (MB-ms). */
const OVER = 8;
/** Memory swapped out but not yet written (MB): still resident. */
const PEND_OUT = 9;
/** When the swap device is next free (ms). */
const DEV_FREE = 10;
/** Where a row's running set starts: finish keys, then the jobs' table rows. */
const SET = 11;

/** The swap device's speed (MB per ms; Infinity: instantaneous). */
export interface SwapDevice {
  readonly outMBperMs: number;
  readonly inMBperMs: number;
}

const INSTANT: SwapDevice = { outMBperMs: Infinity, inMBperMs: Infinity };

/** A page-out frees memory in chunks of this size (MB) as the device writes them, not all at its end. */
const PAGE_OUT_CHUNK_MB = 256;

export class Hardware {
  /** One row per machine: the fields above, then (in `linear` mode) the running set. */
  private readonly r: Float64Array;
  private readonly stride: number;
  /** Outside `linear` mode: each machine's running set as a binary min-heap of finish keys and table rows. */
  private readonly heapFin: number[][] = [];
  private readonly heapK: number[][] = [];
  /** Per machine: page-outs being written, as (done at, MB) pairs, in order. */
  private readonly outs: number[][] = [];
  /** Per machine: jobs waiting for their page-in to run, as (done at, table row) pairs, in order. */
  private readonly ins: number[][] = [];
  /** Page-outs / dispatches done so far in each machine's lists (their heads). */
  private readonly outHead: Int32Array;
  private readonly inHead: Int32Array;

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
    private readonly device: SwapDevice = INSTANT,
    /** Memory admission (the machines' `admission`): a job's memory is taken when it first runs, not when it is placed. */
    private readonly admission = false,
  ) {
    this.outHead = new Int32Array(machines);
    this.inHead = new Int32Array(machines);
    // Rows a whole number of cache lines long (8 numbers), so a machine's fields share lines.
    this.stride = ((linear ? SET + 2 * cores : SET) + 7) & ~7;
    this.r = new Float64Array(machines * this.stride);
    for (let m = 0; m < machines; m++) {
      this.r[m * this.stride + RATE] = 1;
      this.outs.push([]);
      this.ins.push([]);
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

  /** Memory the machine's jobs hold and that is not swapped out (MB): what its dispatcher reads. */
  used(m: number): number {
    return this.at(m * this.stride + USED);
  }

  /** Memory the machine would need resident now (MB): `used` plus page-outs not yet written; above capacity, the kernel pages. */
  demand(m: number): number {
    const b = m * this.stride;
    return this.at(b + USED) + this.at(b + PEND_OUT);
  }

  busy(m: number): number {
    return this.at(m * this.stride + BUSY);
  }

  overcommit(m: number): number {
    return this.at(m * this.stride + OVER);
  }

  /**
   * Brings machine m's clocks to `now`. Short, and its rows indexed directly rather than through
   * `at` (each call is more bytecode): past V8's size limit for inlining, this, called on every
   * step, would be a call with its time boxed (an allocation each).
   */
  advanceTo(m: number, now: number): void {
    const r = this.r, b = m * this.stride;
    const dt = now - (r[b + LAST_T] as number);
    if (dt <= 0) return;
    const n = r[b + NRUN] as number;
    const rate = r[b + RATE] as number;
    r[b + SERVICE] = (r[b + SERVICE] as number) + dt * rate;
    r[b + BUSY] = (r[b + BUSY] as number) + dt * (n < this.cores ? n : this.cores);
    if (this.trackMemory || (r[b + USED] as number) + (r[b + PEND_OUT] as number) > this.capacityMB) this.advanceMemory(b, dt, rate);
    r[b + LAST_T] = now;
  }

  /** `advanceTo`'s memory: growth over `dt`, and the overcommit it adds. */
  private advanceMemory(b: number, dt: number, rate: number): void {
    const r = this.r;
    const used = this.at(b + USED) + this.at(b + PEND_OUT);
    const slope = this.at(b + SLOPE);
    if (this.trackMemory && slope > 0) {
      const before = used - this.capacityMB;
      const u = used + slope * rate * dt;
      r[b + USED] = this.at(b + USED) + slope * rate * dt;
      const after = u - this.capacityMB;
      if (after > 0) r[b + OVER] = this.at(b + OVER) + (before >= 0 ? ((before + after) / 2) * dt : ((after * after) / (after - before) / 2) * dt);
    } else if (used > this.capacityMB) {
      r[b + OVER] = this.at(b + OVER) + (used - this.capacityMB) * dt;
    }
  }

  advanceAll(now: number): void {
    for (let m = 0; m < this.machines; m++) this.advanceTo(m, now);
  }

  /** Job row k placed on machine m: its initial memory becomes resident (with admission: when it first runs). */
  place(m: number, k: number): void {
    if (!this.trackMemory) return;
    if (this.admission) this.t.setRunStart(k, -1);
    else this.addUsed(m, this.t.memInit(k));
  }

  dispatch(m: number, k: number): void {
    const t = this.t, r = this.r, b = m * this.stride;
    if (this.admission && this.trackMemory && t.runStart(k) < 0) this.addUsed(m, t.memInit(k));
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
    const first = this.at(b + FIRST) | 0;
    const k = this.linear ? (this.at(b + SET + this.cores + first) | 0) : (this.heapK[m] as number[])[0] as number;
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

  /**
   * Job row k's memory (or `part` MB of it: page-level swapping) goes out to swap (the machine is
   * advanced to `now`): it leaves `used` at once and stays resident until the device has written it.
   * Returns when that is.
   */
  swapOut(m: number, k: number, now: number, part?: number): number {
    if (!this.trackMemory) return now;
    const mb = part ?? this.t.memNow(k);
    this.addUsed(m, -mb);
    if (this.device.outMBperMs === Infinity || mb <= 0) return now;
    const b = m * this.stride;
    const start = Math.max(now, this.at(b + DEV_FREE));
    const done = start + mb / this.device.outMBperMs;
    this.r[b + DEV_FREE] = done;
    this.r[b + PEND_OUT] = this.at(b + PEND_OUT) + mb;
    // Written, and so freed, a chunk at a time, as the kernel frees pages as they are written.
    const outs = this.outs[m] as number[];
    for (let off = 0; off < mb; off += PAGE_OUT_CHUNK_MB) {
      const size = Math.min(PAGE_OUT_CHUNK_MB, mb - off);
      outs.push(off + size >= mb ? done : start + (off + size) / this.device.outMBperMs, size);
    }
    return done;
  }

  /** Job row k's memory (or the `part` MB of it that went) comes back from swap: held again at once; returns when the device has read it (the job may run then). */
  swapIn(m: number, k: number, now: number, part?: number): number {
    if (!this.trackMemory) return now;
    const mb = part ?? this.t.memNow(k);
    this.addUsed(m, mb);
    if (this.device.inMBperMs === Infinity || mb <= 0) return now;
    const b = m * this.stride;
    const done = Math.max(now, this.at(b + DEV_FREE)) + mb / this.device.inMBperMs;
    this.r[b + DEV_FREE] = done;
    return done;
  }

  /** Job row k, scheduled to run, starts at `at` (its page-in is done then). */
  dispatchAt(m: number, k: number, at: number): void {
    (this.ins[m] as number[]).push(at, k);
  }

  /** A job waiting for its page-in was stopped before it ran: it no longer starts. True if it was waiting. */
  cancelDispatch(m: number, k: number): boolean {
    const q = this.ins[m] as number[];
    for (let i = this.inHead[m] as number; i < q.length; i += 2) {
      if (q[i + 1] === k) {
        q.splice(i, 2);
        return true;
      }
    }
    return false;
  }

  /** The next page-out written or page-in read on machine m (Infinity: none). */
  nextSwapEvent(m: number): number {
    const o = this.outs[m] as number[], i = this.ins[m] as number[];
    const a = (this.outHead[m] as number) < o.length ? (o[this.outHead[m] as number] as number) : Infinity;
    const c = (this.inHead[m] as number) < i.length ? (i[this.inHead[m] as number] as number) : Infinity;
    return a < c ? a : c;
  }

  /**
   * Carries out machine m's swap events due by `now`, in order: page-outs leave RAM, page-ins done
   * start their jobs. Returns the MB the page-outs done wrote.
   */
  settleSwaps(m: number, now: number): number {
    const o = this.outs[m] as number[], q = this.ins[m] as number[];
    let written = 0;
    for (;;) {
      const oh = this.outHead[m] as number, ih = this.inHead[m] as number;
      const to = oh < o.length ? (o[oh] as number) : Infinity;
      const ti = ih < q.length ? (q[ih] as number) : Infinity;
      const t = to <= ti ? to : ti;
      if (t > now) break;
      this.advanceTo(m, t);
      if (to <= ti) {
        const b = m * this.stride;
        this.r[b + PEND_OUT] = Math.max(0, this.at(b + PEND_OUT) - (o[oh + 1] as number));
        written += o[oh + 1] as number;
        this.outHead[m] = oh + 2;
      } else {
        this.inHead[m] = ih + 2;
        this.dispatch(m, q[ih + 1] as number);
      }
    }
    // Done entries are dropped once they are most of a list (amortized: a backlog can be long).
    if ((this.outHead[m] as number) > 64 && (this.outHead[m] as number) * 2 > o.length) {
      o.splice(0, this.outHead[m]);
      this.outHead[m] = 0;
    }
    if ((this.inHead[m] as number) > 64 && (this.inHead[m] as number) * 2 > q.length) {
      q.splice(0, this.inHead[m]);
      this.inHead[m] = 0;
    }
    this.advanceTo(m, now);
    return written;
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
    if ((this.at(b + NRUN) | 0) === 0) return Infinity;
    const fin = this.linear ? (this.at(b + SET + (this.at(b + FIRST) | 0))) : ((this.heapFin[m] as number[])[0] as number);
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
    r[b + SLOPE] = (this.at(b + NRUN) | 0) === 0 ? 0 : this.at(b + SLOPE) - this.slopeOf(k);
  }

  private setRate(b: number): void {
    const n = this.at(b + NRUN) | 0;
    this.r[b + RATE] = n <= this.cores ? 1 : this.cores / n;
  }

  // ---- the running set: finish keys and table rows side by side (ties, rare, are broken by job id);
  // each job knows its position (JobTable.pos) so a preempted job can be removed ----

  private push(m: number, k: number, finish: number): void {
    const r = this.r, b = m * this.stride;
    const i = this.at(b + NRUN) | 0;
    r[b + NRUN] = i + 1;
    this.t.setPos(k, i);
    if (this.linear) {
      r[b + SET + i] = finish;
      r[b + SET + this.cores + i] = k;
      if (i > 0 && this.before(finish, k, this.at(b + SET + (this.at(b + FIRST) | 0)), this.at(b + SET + this.cores + (this.at(b + FIRST) | 0)))) r[b + FIRST] = i;
    } else {
      (this.heapFin[m] as number[]).push(finish);
      (this.heapK[m] as number[]).push(k);
      this.up(m, i);
    }
  }

  private removeAt(m: number, i: number): void {
    const r = this.r, b = m * this.stride, t = this.t;
    const last = (this.at(b + NRUN) | 0) - 1;
    r[b + NRUN] = last;
    if (this.linear) {
      const fin = b + SET, ks = b + SET + this.cores;
      t.setPos(this.at(ks + i) | 0, -1);
      if (i !== last) {
        r[fin + i] = this.at(fin + last);
        const moved = this.at(ks + last) | 0;
        r[ks + i] = moved;
        t.setPos(moved, i);
      }
      // The job due first left, or moved from the end into i: find it again.
      const first = this.at(b + FIRST) | 0;
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
    // Finish keys only (adjacent in the row); a job's id is read on an exact tie alone.
    let m = 0;
    let mf = this.at(fin);
    for (let i = 1; i < n; i++) {
      const f = this.at(fin + i);
      if (f < mf || (f === mf && this.t.id(this.at(ks + i) | 0) < this.t.id(this.at(ks + m) | 0))) {
        m = i;
        mf = f;
      }
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
