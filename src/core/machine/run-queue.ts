// The machine scheduler's run queue: which jobs hold the machine's cores.
//  - `priority` (Fare): preemptive priority by class, FCFS within a class (or by a key, below), like SCHED_FIFO: an arrival
//    preempts the latest-arrived job of the lowest running class if that class is lower than its own,
//    and the preempted job returns to the head of its class's list. Starving low classes is intended.
//  - `priority-np` (a baseline): non-preemptive priority: a free core takes the first waiting job in
//    class order, FCFS within a class, and a running job is never stopped.
//  - `fcfs` (the `fifo` ablation): one FCFS list, no preemption, classes ignored.
//  - `ps` (Hermod): every job is dispatched at once; the cores are shared (processor sharing).
// Within a class, under `priority` (`WithinClass`; Fare's preset takes `las`): FCFS, the paper's; or by a key, each class's
// waiting list kept in the key's order and an arrival that finds no free core and no lower class to
// preempt preempting the running job of its own class with the largest key, if that is larger than
// its own — `las`, least attained service (the key is the CPU time a job has had, counted up to a cap
// and stopped for another only past a quantum: see LAS_QUANTUM_MS; a new call goes ahead of the long
// ones of its class), or `sef`, shortest expected first (the key is the job's
// expected remaining time, from its function's history on this machine). Both decide only at events
// (arrivals, completions), never on a timer. Or `ps`, processor sharing within the class as a kernel
// does it: round robin with a quantum (PS_QUANTUM_MS) — a running job that has had a quantum in its
// current run gives its core to the first waiting job of its class and goes to the back of the list;
// the only order that decides on a timer (the machine's `nextDeadline()`). Exact processor sharing
// (Hermod's `ps` policy) is its limit as the quantum goes to 0. With `keepFunctionOrder` (live), calls of one function
// keep their order under a key: a call preempts no call of its own function, and waits behind those
// of its function that have run (each holds an instance; overtaking it would start another); under
// `ps` a call that has not started rotates in only when no call of its function has started.

import { Queue } from '../util/queue.ts';
import type { Job } from '../types.ts';

export type MachinePolicy = 'priority' | 'priority-np' | 'fcfs' | 'ps';

/** Order within a class under `priority` (see above). */
export type WithinClass = 'fcfs' | 'las' | 'sef' | 'ps';

/**
 * LAS as a three-level feedback queue. A call that has had under `LAS_QUANTUM_MS` of CPU is not
 * stopped for another of its class: calls of one short function keep their order (pure LAS would
 * share the machine among them and finish them all late, as live a burst of equal calls showed).
 * Past `LAS_CAP_MS` a call counts as long, and long calls go in arrival order: a call is overtaken
 * by newer short ones, never by newer long ones. Chosen from the runs in the README (issue 15):
 * a 100 ms quantum and a 1 s cap kept the top class's p99 slowdown at 1.04 where pure LAS gave 1.00
 * (FCFS 2.27, Hermod 1.13); a 100 ms cap let it grow to 1.21.
 */
export const LAS_QUANTUM_MS = 100;
export const LAS_CAP_MS = 1000;
export const WITHIN_CLASS: readonly WithinClass[] = ['fcfs', 'las', 'sef', 'ps'];

/**
 * Under `ps`: the time slice a job runs before it gives its core to the next waiting job of its class
 * (ms). The order of Linux's own slices (CFS: 3–24 ms), long enough that a live worker's stop and
 * resume of an instance, once per slice that passes, stays a small part of it.
 */
export const PS_QUANTUM_MS = 20;

/** Does this machine scheduler slice on a timer (round robin within a class: `ps` under `priority`)? */
export function slicesOnTimer(policy: MachinePolicy, within: WithinClass | undefined): boolean {
  return policy === 'priority' && within === 'ps';
}

/** A job's place on a machine. */
export interface Slot {
  readonly job: Job;
  /** Order of arrival on this machine. */
  readonly seq: number;
  running: boolean;
  /** Has run at least once. */
  started: boolean;
  /** Resident memory while not running, as last reported (MB). */
  memMB: number;
  swapped: boolean;
  /** Memory of it swapped out (MB): all of `memMB`, or under `pages` swapping a part. 0 when not swapped. */
  outMB: number;
  /** Waiting for something outside the machine (a synchronous call to another function): not runnable. */
  blocked: boolean;
  /** It was running when it blocked (so it runs on in the meantime and must be stopped if it cannot get a core back). */
  blockedRunning: boolean;
  /**
   * Its memory is counted in the machine's resident memory: from its arrival, or — with memory
   * admission — from its first start (a job that has not started holds no memory yet).
   */
  counted: boolean;
  /** Within a class by a key: CPU time it had before its current run (ms). */
  attained: number;
  /** Within a class by a key: when its current run started. */
  since: number;
  /** When it last stopped running, or arrived if it has not run (ms): the order of `lru` swapping. */
  lastRan: number;
}

export class RunQueue {
  /** Running slots with (id, class, arrival order) beside each, interleaved in one dense array (stride
   *  4: slot, id, cls, seq): the scans of the running set (victim choice, completion lookup) read one
   *  array, and a machine step touches one array object, not two. */
  private readonly run: (Slot | number)[] = [];
  /** Waiting jobs per class (one list under `fcfs`), and how many wait in each. */
  readonly waiting: Queue<Slot>[];
  private readonly counts: number[];
  private nWaiting = 0;
  /** Blocked slots (few: callers waiting for their callees), made on the first block. */
  private blockedSlots: Slot[] | null = null;
  private nBlocked = 0;
  /**
   * Memory admission (set by the machine when it has it): may `slot` start now, as far as memory
   * goes, with `reservedMB` kept for the first jobs of higher classes that wait for memory? A job
   * that may not waits in its list; a lower class may start only in what is left beside the
   * reservations (it never takes the memory a higher one waits for).
   */
  fits: ((slot: Slot, reservedMB: number) => boolean) | undefined = undefined;
  /** With admission: the memory `slot` needs to start (MB). */
  need: (slot: Slot) => number = () => 0;
  /** The time of the machine's current step (kept by the machine for the within-class keys). */
  now = 0;
  /** Under `sef`: the expected CPU time of the job's whole run (ms). */
  expected: (slot: Slot) => number = () => 0;
  /** Under `las`: attained service counts up to this (ms); jobs that have had more are in arrival order. */
  lasCapMs = LAS_CAP_MS;
  /** Under `las`: a running job is stopped for one of its class only once it has had this much more (ms). */
  lasQuantumMs = LAS_QUANTUM_MS;
  /** Under a key: calls of one function keep their order (see the head; MachineConfig.keepFunctionOrder). */
  keepFunctionOrder = false;
  /** Under `ps`: the time slice (ms). */
  psQuantumMs = PS_QUANTUM_MS;
  /** Classes are ordered within by a key (`las` or `sef` under `priority`). */
  private readonly keyed: boolean;
  /** Round robin within a class (`ps` under `priority`). */
  readonly sliced: boolean;

  constructor(readonly cores: number, readonly policy: MachinePolicy, classes: number, readonly within: WithinClass = 'fcfs') {
    this.keyed = policy === 'priority' && (within === 'las' || within === 'sef');
    this.sliced = slicesOnTimer(policy, within);
    const lists = policy === 'fcfs' ? 1 : classes;
    this.waiting = Array.from({ length: lists }, () => new Queue<Slot>());
    this.counts = new Array<number>(lists).fill(0);
  }

  get waitingCount(): number {
    return this.nWaiting;
  }

  /** Jobs on the machine (running, waiting or blocked). */
  get jobs(): number {
    return (this.run.length >> 2) + this.nWaiting + this.nBlocked;
  }

  /** Jobs holding a core. */
  get runningCount(): number {
    return this.run.length >> 2;
  }

  /** The running slots (a copy, for inspection). */
  get running(): Slot[] {
    const out: Slot[] = [];
    for (let i = 0; i < this.run.length; i += 4) out.push(this.run[i] as Slot);
    return out;
  }

  /** The running slot at position `i` (see `runningIndex`). */
  slotAt(i: number): Slot {
    return this.run[i << 2] as Slot;
  }


  /**
   * A job arrives. Returns the slot to start (the arrival or nobody) and the slot to preempt, if any.
   * The caller emits the decisions; the run queue has already moved the slots.
   */
  arrive(slot: Slot, out: { start: Slot | undefined; preempt: Slot | undefined }): void {
    this.place(slot, out, false);
  }

  /** Starts `slot`, preempting a lower class if needed, or queues it (at the head of its class if `front`). */
  private place(slot: Slot, out: { start: Slot | undefined; preempt: Slot | undefined }, front: boolean): void {
    out.start = undefined;
    out.preempt = undefined;
    const fits = this.fits === undefined || this.fits(slot, this.reservedAbove(slot.job.cls));
    if (this.policy === 'ps' || this.run.length >> 2 < this.cores) {
      if (!fits) {
        this.enqueue(slot, front);
        return;
      }
      this.startSlot(slot);
      out.start = slot;
      return;
    }
    if (this.policy === 'priority') {
      let victim = this.victim();
      // Within the class by a key: the running job of its own class with the largest key, if larger.
      if (this.keyed && victim >= 0 && (this.run[(victim << 2) + 2] as number) === slot.job.cls) victim = this.keyVictim(slot);
      // (An unblocked job without the memory to start only waits: it may have to be stopped itself.)
      const vc = victim >= 0 ? (this.run[(victim << 2) + 2] as number) : -1;
      // (Its own class is preempted only for a job that can start: memory is no reason to stop it.)
      if (victim >= 0 && (vc > slot.job.cls || (this.keyed && vc === slot.job.cls && fits)) && (fits || !front)) {
        const v = this.run[victim << 2] as Slot;
        this.removeRunning(victim);
        v.running = false;
        this.stopped(v);
        this.enqueue(v, true);
        out.preempt = v;
        // Without the memory to start, the job still stops the lower class: stopped, that one's
        // memory can go to swap to make the room. Its core stays free until then.
        if (!fits) {
          this.enqueue(slot, front);
          return;
        }
        this.startSlot(slot);
        out.start = slot;
        return;
      }
    }
    this.enqueue(slot, front);
  }

  /** A running job completed. Returns the next slot to start, if any. */
  complete(slot: Slot): Slot | undefined {
    const i = this.runningIndex(slot.job.id);
    return i < 0 ? undefined : this.completeAt(i);
  }

  /** The running job at position `i` (see `runningIndex`) completed. Returns the next slot to start, if any. */
  completeAt(i: number): Slot | undefined {
    // The finished job's slot is dropped as it is (not touched: it is cold by now).
    this.removeRunning(i);
    return this.startNext();
  }

  /**
   * The running job at position `i` blocks (waits for a callee): it gives up its core, which goes to
   * the next waiting job, returned if there is one. It stays on the machine, not runnable, until `unblock`.
   */
  blockAt(i: number): Slot | undefined {
    const slot = this.run[i << 2] as Slot;
    slot.running = false;
    this.stopped(slot);
    this.removeRunning(i);
    slot.blocked = true;
    slot.blockedRunning = true;
    (this.blockedSlots ??= []).push(slot);
    this.nBlocked++;
    return this.startNext();
  }

  /** A waiting job blocks (it had made its call before it was preempted): it leaves its waiting list. Returns whether it was there. */
  blockWaiting(slot: Slot): boolean {
    if (!this.removeWaiting(slot)) return false;
    slot.blocked = true;
    slot.blockedRunning = false;
    (this.blockedSlots ??= []).push(slot);
    this.nBlocked++;
    return true;
  }

  /**
   * A blocked job is runnable again, like an arrival that has run before: it takes a free core, or
   * preempts a lower class, or else waits at the head of its class's list. `out.start` is the slot
   * if it runs; `out.preempt` is the slot that must stop running: the victim, or the job itself when
   * it was running while blocked and gets no core back.
   */
  unblock(slot: Slot, out: { start: Slot | undefined; preempt: Slot | undefined }): void {
    this.dropBlocked(slot);
    slot.blocked = false;
    const wasRunning = slot.blockedRunning;
    slot.blockedRunning = false;
    this.place(slot, out, true);
    if (!out.start && wasRunning) out.preempt = slot;
  }

  /** A blocked job finished (its instance died or timed out while it waited). Returns whether it was blocked here. */
  completeBlocked(slot: Slot): boolean {
    if (!this.dropBlocked(slot)) return false;
    slot.blocked = false;
    return true;
  }

  /** The blocked slot of a job, or undefined. */
  findBlocked(job: number): Slot | undefined {
    if (this.blockedSlots) for (const s of this.blockedSlots) if (s.job.id === job) return s;
    return undefined;
  }

  private dropBlocked(slot: Slot): boolean {
    const b = this.blockedSlots ? this.blockedSlots.indexOf(slot) : -1;
    if (b < 0) return false;
    (this.blockedSlots as Slot[]).splice(b, 1);
    this.nBlocked--;
    return true;
  }

  /**
   * A core is free: starts the first waiting job in class order, if any waits (and, with memory
   * admission, fits); returns it. The machine calls it again when memory is freed.
   */
  startNext(): Slot | undefined {
    if (this.policy === 'ps' || this.nWaiting === 0 || this.run.length >> 2 >= this.cores) return undefined;
    const counts = this.counts;
    // With admission, a class's first job that does not fit keeps the memory it needs reserved: a
    // lower class's job may start in what is left (the cores do not idle while memory comes back).
    let reserved = 0;
    for (let c = 0; c < counts.length; c++) {
      if ((counts[c] as number) === 0) continue;
      const q = this.waiting[c] as Queue<Slot>;
      if (this.fits !== undefined && !this.fits(q.at(0) as Slot, reserved)) {
        reserved += this.need(q.at(0) as Slot);
        continue;
      }
      const next = q.shift() as Slot;
      counts[c] = (counts[c] as number) - 1;
      this.nWaiting--;
      this.startSlot(next);
      return next;
    }
    return undefined;
  }

  /**
   * A job finished while it was not running: in a live system a completion can race a preemption
   * (the process answered before it was frozen). Removes it from its waiting list.
   */
  completeWaiting(slot: Slot): boolean {
    return this.removeWaiting(slot);
  }

  private removeWaiting(slot: Slot): boolean {
    const c = this.policy === 'fcfs' ? 0 : slot.job.cls;
    if (!(this.waiting[c] as Queue<Slot>).remove(slot)) return false;
    this.counts[c] = (this.counts[c] as number) - 1;
    this.nWaiting--;
    return true;
  }

  /** The running slot of a job, or undefined. O(running). */
  findRunning(job: number): Slot | undefined {
    const i = this.runningIndex(job);
    return i < 0 ? undefined : (this.run[i << 2] as Slot);
  }

  /** Position of a job in the running set, or -1. O(running). */
  runningIndex(job: number): number {
    const run = this.run;
    for (let i = 1; i < run.length; i += 4) if (run[i] === job) return i >> 2;
    return -1;
  }

  /** O(waiting), front first (where a preempted job goes): for the rare lookups of waiting jobs. */
  findWaiting(job: number): Slot | undefined {
    for (const q of this.waiting) {
      for (let i = 0; i < q.length; i++) {
        const s = q.at(i) as Slot;
        if (s.job.id === job) return s;
      }
    }
    return undefined;
  }

  /**
   * Stops the running job that the machine can best do without — lowest class, latest arrival — to
   * free memory (its memory can then go to swap); it waits at the head of its class. Returns it, or
   * undefined when none runs, or only one and not `evenLone` (a lone job is stopped only when memory
   * on its way out will make room for it: else it would wait for nothing).
   */
  preemptForMemory(evenLone: boolean): Slot | undefined {
    const n = this.run.length >> 2;
    if (n === 0 || (n === 1 && !evenLone)) return undefined;
    const i = this.victim();
    const v = this.run[i << 2] as Slot;
    this.removeRunning(i);
    v.running = false;
    this.stopped(v);
    this.enqueue(v, true);
    return v;
  }

  /** CPU time `slot` has had so far (ms): before its current run, and in it if it runs. */
  attainedOf(slot: Slot): number {
    return slot.running ? slot.attained + (this.now - slot.since) : slot.attained;
  }

  /** Its key within its class: CPU time had (`las`) or expected to come (`sef`). */
  private key(slot: Slot): number {
    const a = this.attainedOf(slot);
    return this.within === 'las' ? Math.min(a, this.lasCapMs) : Math.max(0, this.expected(slot) - a);
  }

  /** A running slot stops: what it ran is added to its attained time. */
  private stopped(slot: Slot): void {
    if (this.keyed) slot.attained += this.now - slot.since;
    slot.lastRan = this.now;
  }

  /** Index of the running job of `slot`'s class with the largest key, if larger than `slot`'s; else -1. */
  private keyVictim(slot: Slot): number {
    const run = this.run;
    const cls = slot.job.cls;
    const own = this.key(slot);
    const margin = this.within === 'las' ? this.lasQuantumMs : 0;
    let best = -1;
    let bk = own;
    let bs = -1;
    const fn = this.keepFunctionOrder ? slot.job.fn : -1;
    for (let i = 0; i < run.length; i += 4) {
      if ((run[i + 2] as number) !== cls || (fn >= 0 && (run[i] as Slot).job.fn === fn)) continue;
      const k = this.key(run[i] as Slot);
      const q = run[i + 3] as number;
      // The largest key, larger than its own; among equal keys the latest arrival.
      if ((k > bk || (best >= 0 && k === bk && q > bs)) && k >= own + margin) {
        best = i >> 2;
        bk = k;
        bs = q;
      }
    }
    return best;
  }

  /** Memory the first waiting jobs of the classes above `cls` need (MB): kept for them when a job of `cls` starts. */
  private reservedAbove(cls: number): number {
    if (this.fits === undefined || this.policy === 'fcfs') return 0;
    let r = 0;
    for (let c = 0; c < cls; c++) if ((this.counts[c] as number) > 0) r += this.need((this.waiting[c] as Queue<Slot>).at(0) as Slot);
    return r;
  }

  /** Lowest class among running jobs (-1 when none run). */
  lowestRunningClass(): number {
    let c = -1;
    for (let i = 2; i < this.run.length; i += 4) if ((this.run[i] as number) > c) c = this.run[i] as number;
    return c;
  }

  private enqueue(slot: Slot, front: boolean): void {
    const c = this.policy === 'fcfs' ? 0 : slot.job.cls;
    const q = this.waiting[c] as Queue<Slot>;
    if (this.keyed) {
      // In key order; among equal keys, a job that ran before (`front`) first, else in arrival order.
      // In (key, arrival) order.
      const k = this.key(slot);
      let i = q.length;
      if (this.keepFunctionOrder) i = this.inFunctionOrder(q, slot, k);
      else {
        for (; i > 0; i--) {
          const o = q.at(i - 1) as Slot;
          const ko = this.key(o);
          if (ko < k || (ko === k && o.seq < slot.seq)) break;
        }
      }
      q.insert(i, slot);
    } else if (front) q.unshift(slot);
    else q.push(slot);
    this.counts[c] = (this.counts[c] as number) + 1;
    this.nWaiting++;
  }

  /**
   * Where `slot` (key `k`) goes in its class's list `q` when its function's calls keep their order:
   * in (key, arrival) order among the places that keep it — behind the last call of its function
   * that has run if it has not, before the first of its function that has not run if it has. (The
   * list is then not wholly in key order, so it is scanned from the front.)
   */
  private inFunctionOrder(q: Queue<Slot>, slot: Slot, k: number): number {
    const fn = slot.job.fn;
    let lo = 0;
    let hi = q.length;
    if (slot.started) {
      for (let j = 0; j < hi; j++) {
        const o = q.at(j) as Slot;
        if (o.job.fn === fn && !o.started) hi = j;
      }
    } else {
      for (let j = hi - 1; j >= 0; j--) {
        const o = q.at(j) as Slot;
        if (o.job.fn === fn && o.started) {
          lo = j + 1;
          break;
        }
      }
    }
    for (let j = lo; j < hi; j++) {
      const o = q.at(j) as Slot;
      const ko = this.key(o);
      if (ko > k || (ko === k && o.seq > slot.seq)) return j;
    }
    return hi;
  }

  private startSlot(slot: Slot): void {
    slot.running = true;
    slot.started = true;
    if (this.keyed || this.sliced) slot.since = this.now;
    this.run.push(slot, slot.job.id, slot.job.cls, slot.seq);
  }

  /** Removes running entry i by moving the last one into its place. */
  private removeRunning(i: number): void {
    const run = this.run;
    const at = i << 2;
    const last = run.length - 4;
    if (at !== last) {
      run[at] = run[last] as Slot;
      run[at + 1] = run[last + 1] as number;
      run[at + 2] = run[last + 2] as number;
      run[at + 3] = run[last + 3] as number;
    }
    run.pop();
    run.pop();
    run.pop();
    run.pop();
  }

  /**
   * Under `ps`: when the next running job's slice ends while a job of its class waits that may take
   * its core (Infinity when none). The machine's deadline; `rotate` at that time moves it.
   */
  nextSlice(): number {
    if (!this.sliced || this.nWaiting === 0) return Infinity;
    const run = this.run;
    let t = Infinity;
    for (let i = 0; i < run.length; i += 4) {
      const c = run[i + 2] as number;
      if ((this.counts[c] as number) === 0) continue;
      const end = (run[i] as Slot).since + this.psQuantumMs;
      if (end < t && this.sliceTaker(c) >= 0) t = end;
    }
    return t;
  }

  /**
   * Under `ps`, at `now`: every running job whose slice has ended and whose class has a job that may
   * take its core stops and goes to the back of its class's list; that job starts. The pairs, the
   * longest running first, are handed to `moved(stopped, started)`. One whose slice ended with no job
   * to take its core (all taken in this turn) starts a new slice.
   */
  rotate(moved: (stopped: Slot, started: Slot) => void): void {
    if (!this.sliced || this.nWaiting === 0) return;
    const run = this.run;
    const due: Slot[] = [];
    for (let i = 0; i < run.length; i += 4) {
      const s = run[i] as Slot;
      if ((this.counts[run[i + 2] as number] as number) > 0 && s.since + this.psQuantumMs <= this.now) due.push(s);
    }
    // The longest running first; a job stopped here does not take another's core in the same turn.
    due.sort((a, b) => a.since - b.since || a.seq - b.seq);
    for (const s of due) {
      const c = s.job.cls;
      const at = this.sliceTaker(c);
      const q = this.waiting[c] as Queue<Slot>;
      const next = at < 0 ? undefined : (q.at(at) as Slot);
      if (next === undefined || due.includes(next)) {
        // Nobody left to take its core: it starts a new slice.
        s.since = this.now;
        continue;
      }
      if (at === 0) q.shift();
      else q.remove(next);
      this.removeRunning(this.runningIndex(s.job.id));
      s.running = false;
      this.stopped(s);
      // To the back; keeping function order, ahead of the calls of its function that have not started.
      let pos = q.length;
      if (this.keepFunctionOrder) {
        for (let j = 0; j < q.length; j++) {
          const o = q.at(j) as Slot;
          if (o.job.fn === s.job.fn && !o.started) {
            pos = j;
            break;
          }
        }
      }
      q.insert(pos, s);
      this.startSlot(next);
      moved(s, next);
    }
  }

  /**
   * Under `ps`: the position in class `c`'s list of the job that takes the next slice, or -1. The
   * first, except that with `keepFunctionOrder` a job that has not started passes over while a job of
   * its function has (it would need an instance of its own).
   */
  private sliceTaker(c: number): number {
    const q = this.waiting[c] as Queue<Slot>;
    if (!this.keepFunctionOrder) return q.length > 0 ? 0 : -1;
    for (let i = 0; i < q.length; i++) {
      const o = q.at(i) as Slot;
      if (o.started || !this.functionStarted(o.job.fn)) return i;
    }
    return -1;
  }

  /** A job of function `fn` that has started is on the machine (running, waiting or blocked). */
  private functionStarted(fn: number): boolean {
    const run = this.run;
    for (let i = 0; i < run.length; i += 4) if ((run[i] as Slot).job.fn === fn) return true;
    for (const q of this.waiting) {
      for (let i = 0; i < q.length; i++) {
        const o = q.at(i) as Slot;
        if (o.started && o.job.fn === fn) return true;
      }
    }
    if (this.blockedSlots) for (const o of this.blockedSlots) if (o.job.fn === fn) return true;
    return false;
  }

  /** Index of the running job to preempt: lowest class, then latest arrival on the machine. */
  private victim(): number {
    const run = this.run;
    let best = -1;
    let bc = -1;
    let bs = -1;
    for (let i = 0; i < run.length; i += 4) {
      const c = run[i + 2] as number;
      const q = run[i + 3] as number;
      if (c > bc || (c === bc && q > bs)) {
        best = i >> 2;
        bc = c;
        bs = q;
      }
    }
    return best;
  }
}
